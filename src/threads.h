/*
 * threads.h - starting the detached threads tinyserver uses for work that
 * owns its own lifetime (a benchmark job, a TLS relay), and the monotonic
 * clock its timed waits use.
 */
#ifndef TINYSERVER_THREADS_H
#define TINYSERVER_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Starts fn(arg) on a detached thread. stack_size 0 keeps the libc's
 * default. Returns false if the thread could not be created; fn then never
 * runs and the caller still owns arg. */
bool threads_start_detached(void *(*fn)(void *), void *arg, size_t stack_size);

/* Initialises `cond` to time out on CLOCK_MONOTONIC, so that setting the
 * wall clock can neither stretch nor cut a wait, and the mutex `lock` that
 * goes with it. Returns false, with neither initialised, on failure. */
bool threads_monotonic_cond_init(pthread_cond_t *cond, pthread_mutex_t *lock);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t threads_monotonic_ns(void);

/* The CLOCK_MONOTONIC time `ns` after `from` (NULL: after now), as the
 * deadline of pthread_cond_timedwait() on a threads_monotonic_cond_init()
 * condition. */
struct timespec threads_monotonic_after(const struct timespec *from, uint64_t ns);

#endif
