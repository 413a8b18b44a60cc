/*
 * clock.h - the monotonic clock, and waiting for a condition by polling it.
 *
 * Everything that measures a duration or a deadline reads CLOCK_MONOTONIC
 * through here, so wall-clock steps (NTP, a container's clock) never shorten
 * or stretch a timeout.
 */
#ifndef TINYSERVER_CLOCK_H
#define TINYSERVER_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_MS 1000000ull
#define CLOCK_NS_PER_S  1000000000ull

/* Nanoseconds since an arbitrary fixed point (the boot), so never 0: callers
 * may use 0 to mean "no time recorded". */
uint64_t clock_monotonic_ns(void);

/* The same clock in whole milliseconds, signed, for event loops whose
 * deadlines are ms and use -1 for "none". */
int64_t clock_monotonic_ms(void);

/* The CLOCK_MONOTONIC time `after_ns` after `from` (NULL: after now), as
 * the deadline of pthread_cond_timedwait() on a condition whose clock is
 * CLOCK_MONOTONIC (threads_monotonic_cond_init). */
struct timespec clock_monotonic_after(const struct timespec *from, uint64_t after_ns);

/* Sleeps about `ms` milliseconds (a signal may cut it short). */
void clock_sleep_ms(unsigned ms);

/* Calls done(ctx) every step_ms until it returns true (then returns true)
 * or timeout_ms have passed (then returns false). done is called at least
 * once, so a timeout of 0 is a plain check. */
bool clock_wait_until(bool (*done)(const void *ctx), const void *ctx, unsigned timeout_ms,
                      unsigned step_ms);

#endif
