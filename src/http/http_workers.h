/*
 * http_workers.h - each libmicrohttpd worker thread's count of its open
 * connections, so that the thread gives its memory back once a burst of
 * them has gone (alloc_trim.h).
 *
 * libmicrohttpd runs a connection's STARTED and CLOSED notifications, and
 * its requests' callbacks, on the worker thread that serves it, which is
 * also the thread whose heap holds the connection's memory. Two counts
 * are kept, each with its own trim: open connections (a burst that
 * closes), and requests being received or served (a burst of requests on
 * connections that then stay open: each request's pool went back to the
 * allocator, free but resident until a trim). The record of the calling thread is
 * found through a pthread key the registry owns, and made on the thread's
 * first connection; the registry frees them all when it is destroyed,
 * after the daemon (and its threads) stopped.
 */
#ifndef TINYSERVER_HTTP_WORKERS_H
#define TINYSERVER_HTTP_WORKERS_H

#include <pthread.h>
#include <stdbool.h>

struct http_worker;

struct http_workers {
    pthread_key_t key;    /* the calling thread's struct http_worker */
    pthread_mutex_t lock; /* guards `all`; taken once per thread */
    struct http_worker *all;
    bool key_made;
};

/* false if the key or lock cannot be made (nothing to destroy then). */
bool http_workers_init(struct http_workers *workers);

/* Once no worker thread runs any more. */
void http_workers_destroy(struct http_workers *workers);

/* On the worker thread: a connection opened there. Without memory for the
 * thread's record the thread simply never trims. */
void http_workers_opened(struct http_workers *workers);

/* On the worker thread: one of its connections closed; trims the thread's
 * heap when alloc_trim_due() says so. Returns whether it did. */
bool http_workers_closed(struct http_workers *workers);

/* On the worker thread: a request's line is in (its connection holds its
 * pool memory until the request ends). */
void http_workers_request_began(struct http_workers *workers);

/* On the worker thread: a request counted by http_workers_request_began()
 * ended; trims the thread's heap when alloc_trim_due() says so. Returns
 * whether it did. */
bool http_workers_request_ended(struct http_workers *workers);

#endif
