/*
 * threads.c - see threads.h.
 */
#include "threads.h"

#include <pthread.h>
#include <time.h>

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
