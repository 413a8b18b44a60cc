/*
 * http_hangup.h - notices when the client of a suspended request goes away.
 *
 * libmicrohttpd stops watching a connection's socket while the connection
 * is suspended (MHD_suspend_connection takes it out of the epoll set), so
 * it cannot report that the client of a deferred request closed the
 * connection until the request is resumed, which for a benchmark is when
 * the run is over. This module watches those sockets itself: a thread
 * polls each registered socket for a hangup (POLLRDHUP: the peer closed or
 * shut down its sending side; POLLHUP; POLLERR) every HTTP_HANGUP_POLL_MS while
 * any is registered, and sleeps otherwise. Data the client sends
 * meanwhile (a pipelined request) is not a hangup and is left alone.
 *
 * The entries belong to the caller (nothing is allocated here). An entry
 * is examined only under the watch's lock, so once http_hangup_watch_remove()
 * returns, the watch never touches the entry or its socket again.
 */
#ifndef TINYSERVER_HTTP_HANGUP_H
#define TINYSERVER_HTTP_HANGUP_H

#include "list.h"

#include <stdatomic.h>
#include <stdbool.h>

/* How often registered sockets are polled: about the longest a benchmark
 * keeps running for a client that has gone. */
#define HTTP_HANGUP_POLL_MS 50u

struct http_hangup_entry {
    int fd;                /* the connection's socket; open until removed */
    atomic_bool *gone;     /* set to true once the client hung up */
    struct list_link link; /* on the watch's list, under its lock */
};

struct http_hangup_watch;

/* Starts the watch thread. NULL when a thread or lock cannot be made. */
struct http_hangup_watch *http_hangup_watch_start(void);

/* Stops the thread and frees the watch; no entry may be registered. */
void http_hangup_watch_stop(struct http_hangup_watch *watch);

/* Registers an entry. */
void http_hangup_watch_add(struct http_hangup_watch *watch, struct http_hangup_entry *entry);

/* Unregisters an entry that was added. */
void http_hangup_watch_remove(struct http_hangup_watch *watch, struct http_hangup_entry *entry);

#endif
