/*
 * threads.h - starting the detached threads tinyserver uses for work that
 * owns its own lifetime (a benchmark job, a TLS relay).
 */
#ifndef TINYSERVER_THREADS_H
#define TINYSERVER_THREADS_H

#include <stdbool.h>
#include <stddef.h>

/* Starts fn(arg) on a detached thread. stack_size 0 keeps the libc's
 * default. Returns false if the thread could not be created; fn then never
 * runs and the caller still owns arg. */
bool threads_start_detached(void *(*fn)(void *), void *arg, size_t stack_size);

#endif
