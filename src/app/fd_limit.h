/*
 * fd_limit.h - making sure the process may open as many descriptors as its
 * configured limits can use.
 *
 * Every connection holds a descriptor, and every TLS connection two more:
 * the client's TCP socket and the relay's end of the socketpair (the HTTP
 * end is one of --max-connections). Beside them the process keeps a few of
 * its own: the standard streams, the listeners, the TLS pipe, and an epoll
 * and an event descriptor per HTTP worker thread and per TLS relay loop. The usual soft limit of
 * 1,024 is below what the defaults can use, so the server raises it at
 * startup, never past the hard limit; when the hard limit is too low it
 * warns once (as nginx does for worker_connections) and serves anyway:
 * connections beyond the limit then wait, and the TLS listener backs off.
 */
#ifndef TINYSERVER_FD_LIMIT_H
#define TINYSERVER_FD_LIMIT_H

#include <stdbool.h>

/* Descriptors the process keeps besides its connections, plus per HTTP
 * worker thread. Generous: a short count costs an EMFILE, a long one
 * nothing. */
#define FD_LIMIT_RESERVE            16u
#define FD_LIMIT_PER_HTTP_THREAD    2u
#define FD_LIMIT_PER_TLS_CONNECTION 2u
#define FD_LIMIT_PER_TLS_THREAD     2u /* a relay loop's epoll and eventfd */

struct fd_limit_needs {
    unsigned max_connections;
    unsigned max_tls_connections; /* 0 when TLS is off */
    unsigned http_threads;
    unsigned tls_threads; /* relay loops; 0 when TLS is off */
};

/* How many descriptors those limits can use at once. */
unsigned long fd_limit_needed(const struct fd_limit_needs *needs);

struct fd_limit_result {
    unsigned long soft_before;
    unsigned long soft; /* after any raise */
    unsigned long hard;
    bool enough; /* soft >= needed */
};

/* Raises the soft RLIMIT_NOFILE to `needed` when it is lower, up to the
 * hard limit; never lowers it. Returns false (errno set) when the limit
 * cannot be read or set. */
bool fd_limit_ensure(unsigned long needed, struct fd_limit_result *result);

#endif
