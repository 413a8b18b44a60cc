/*
 * clock.c - see clock.h.
 */
#include "clock.h"

uint64_t clock_monotonic_ns(void)
{
    struct timespec now;
    /* Cannot fail on Linux: the clock exists and the pointer is valid. */
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * CLOCK_NS_PER_S + (uint64_t)now.tv_nsec;
}

int64_t clock_monotonic_ms(void)
{
    return (int64_t)(clock_monotonic_ns() / CLOCK_NS_PER_MS);
}

struct timespec clock_monotonic_after(const struct timespec *from, uint64_t after_ns)
{
    struct timespec at;
    if (from != NULL) {
        at = *from;
    } else {
        clock_gettime(CLOCK_MONOTONIC, &at);
    }
    uint64_t nsec = (uint64_t)at.tv_nsec + after_ns;
    at.tv_sec += (time_t)(nsec / CLOCK_NS_PER_S);
    at.tv_nsec = (long)(nsec % CLOCK_NS_PER_S);
    return at;
}

void clock_sleep_ms(unsigned ms)
{
    struct timespec pause = {.tv_sec = (time_t)(ms / 1000u),
                             .tv_nsec = (long)(ms % 1000u) * (long)CLOCK_NS_PER_MS};
    nanosleep(&pause, NULL);
}

bool clock_wait_until(bool (*done)(const void *ctx), const void *ctx, unsigned timeout_ms,
                      unsigned step_ms)
{
    for (unsigned waited = 0;; waited += step_ms) {
        if (done(ctx)) {
            return true;
        }
        if (waited >= timeout_ms) {
            return false;
        }
        clock_sleep_ms(step_ms);
    }
}
