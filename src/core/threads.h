/*
 * threads.h - starting a detached thread for work that owns its own
 * lifetime (a /bench job, routes_bench.c), and the condition variables
 * that every timed wait uses (the benchmark's finish, the request deadline,
 * the hangup watch, the log flusher; deadlines come from clock.h).
 */
#ifndef TINYSERVER_THREADS_H
#define TINYSERVER_THREADS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Starts fn(arg) on a detached thread. stack_size 0 keeps the libc's
 * default. Returns false if the thread could not be created; fn then never
 * runs and the caller still owns arg. */
bool threads_start_detached(void *(*fn)(void *), void *arg, size_t stack_size);

/* Initialises `cond` to time out on CLOCK_MONOTONIC, so that setting the
 * wall clock can neither stretch nor cut a wait, and the mutex `lock` that
 * goes with it. Returns false, with neither initialised, on failure. */
bool threads_monotonic_cond_init(pthread_cond_t *cond, pthread_mutex_t *lock);

#endif
