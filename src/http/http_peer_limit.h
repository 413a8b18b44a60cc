/*
 * http_peer_limit.h - open connections per client address
 * (--max-connections-per-ip).
 *
 * libmicrohttpd has a per-address limit of its own, but it keys on the
 * whole address and neither logs nor counts. tinyserver counts here
 * instead: IPv6 clients by their prefix (net_addr.h), and a connection over
 * the limit is refused as it is accepted, logged and counted (http.c).
 *
 * A table of (address, count) rows, packed, searched linearly under one
 * lock: it is touched once when a connection opens and once when it
 * closes, never per request, and holds at most one row per connection the
 * server allows at once. The caller owns the struct; the rows are
 * allocated once by http_peer_limit_init().
 */
#ifndef TINYSERVER_HTTP_PEER_LIMIT_H
#define TINYSERVER_HTTP_PEER_LIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct http_peer_row;

struct http_peer_limit {
    pthread_mutex_t lock;
    unsigned max_per_peer;    /* 0: no limit, nothing is counted */
    unsigned ipv6_prefix_len; /* IPv6 peers count by this prefix (net_addr.h) */
    size_t capacity;          /* rows; the server's total connection limit */
    size_t used;
    struct http_peer_row *rows;
};

/* Prepares a table for `capacity` distinct addresses (the server's total
 * connection limit) allowing max_per_peer connections each (0: no limit),
 * IPv6 addresses that share their first ipv6_prefix_len bits (1 to 128)
 * counting as one. Returns false when out of memory or the lock cannot be
 * made. */
bool http_peer_limit_init(struct http_peer_limit *limit, unsigned max_per_peer, size_t capacity,
                          unsigned ipv6_prefix_len);

void http_peer_limit_destroy(struct http_peer_limit *limit);

/* Counts a new connection from `peer`. Returns true when it is within the
 * limit (and counted: release it with http_peer_limit_release), false when
 * it is over (and not counted). Addresses other than IPv4 and IPv6, and
 * every address when there is no limit, are always within it and not
 * counted; release ignores them too. */
bool http_peer_limit_acquire(struct http_peer_limit *limit, const struct sockaddr *peer);

/* Whether a connection from `peer` would be within the limit now; counts
 * nothing (acquire decides for good). */
bool http_peer_limit_admits(struct http_peer_limit *limit, const struct sockaddr *peer);

/* Forgets one counted connection from `peer`. */
void http_peer_limit_release(struct http_peer_limit *limit, const struct sockaddr *peer);

#endif
