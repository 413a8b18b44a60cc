/*
 * threads.c - see threads.h.
 */
#include "threads.h"

#include <pthread.h>

#define NS_PER_S 1000000000u

bool threads_start_detached(void *(*fn)(void *), void *arg, size_t stack_size)
{
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) != 0) {
        return false;
    }
    bool started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                   (stack_size == 0 || pthread_attr_setstacksize(&attr, stack_size) == 0) &&
                   pthread_create(&thread, &attr, fn, arg) == 0;
    pthread_attr_destroy(&attr);
    return started;
}

bool threads_monotonic_cond_init(pthread_cond_t *cond, pthread_mutex_t *lock)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        return false;
    }
    bool ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
              pthread_cond_init(cond, &attr) == 0;
    pthread_condattr_destroy(&attr);
    if (!ok) {
        return false;
    }
    if (pthread_mutex_init(lock, NULL) != 0) {
        pthread_cond_destroy(cond);
        return false;
    }
    return true;
}

uint64_t threads_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * NS_PER_S + (uint64_t)now.tv_nsec;
}

struct timespec threads_monotonic_after(const struct timespec *from, uint64_t ns)
{
    struct timespec at;
    if (from != NULL) {
        at = *from;
    } else {
        clock_gettime(CLOCK_MONOTONIC, &at);
    }
    uint64_t total = (uint64_t)at.tv_nsec + ns;
    at.tv_sec += (time_t)(total / NS_PER_S);
    at.tv_nsec = (long)(total % NS_PER_S);
    return at;
}
