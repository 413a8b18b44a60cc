/*
 * threads.c - see threads.h.
 */
#include "threads.h"

#include <pthread.h>

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
