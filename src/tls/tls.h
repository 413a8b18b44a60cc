/*
 * tls.h - HTTPS for tinyserver: a BearSSL terminator in front of the one
 * HTTP daemon.
 *
 * Data path (libmicrohttpd speaks TLS only through GnuTLS, which is large
 * and hard to link statically against musl):
 *
 *   client --TCP/TLS--> [listener: accept] --> relay loop (epoll, BearSSL)
 *                                                 |  plaintext
 *                                          AF_UNIX socketpair
 *                                                 |
 *                        handoff(fd, client address) --> HTTP daemon
 *
 * Each relay (tls_relay.h) owns the TCP socket and one end of a socketpair;
 * the other end is handed, with the client's real address, to the HTTP
 * layer (which passes it to MHD_add_connection). Every endpoint, limit,
 * timeout and log line is therefore identical over TLS, and the HTTP layer
 * never sees ciphertext. A fixed set of relay loops (tls_loop.h, one thread
 * each, --tls-threads) drives all relays: the thread count does not grow
 * with connections. A relay ends when either side closes; the HTTP side's
 * idle timeout thus also ends idle TLS connections. Once the HTTP side has
 * closed, a relay gets TLS_CLOSE_FLUSH_MS (tls_relay.h) to deliver what it
 * still holds and close_notify, then ends whether the client read it or
 * not; after the handshake, records that wait for a client that takes none
 * end the relay after the idle timeout. An error or hang-up on the client's
 * socket ends it at once.
 *
 * Protocol profile: TLS 1.2 only, ECDHE key exchange with AEAD suites
 * (AES-GCM, ChaCha20-Poly1305), RSA 2048+ or EC P-256 server keys; ALPN
 * "http/1.1" for clients that ask; session resumption by session ID from
 * one cache shared by all connections (tls_session_cache.h).
 * Robustness: a handshake deadline, a cap on concurrent TLS connections,
 * MSG_NOSIGNAL on every send, and each relay cleans up only its own
 * sockets and memory whatever the client does.
 */
#ifndef TINYSERVER_TLS_H
#define TINYSERVER_TLS_H

#include "log.h"
#include "metrics.h"
#include "tls_keys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Takes ownership of plain_fd (even on failure) and serves HTTP on it as if
 * it were a TCP connection from `peer`. Returns false if refused. */
typedef bool (*tls_handoff_fn)(void *ctx, int plain_fd, const struct sockaddr *peer,
                               socklen_t peer_len);

/* A per-address count of TLS connections (main wires the HTTP layer's
 * table, http_peer_limit.h, with --max-connections-per-ip): admit is asked
 * as a connection is accepted, before it takes a TLS slot, a socketpair
 * or a handshake, and false refuses it there (closed unanswered, logged
 * throttled, counted); release undoes an admit when that connection ends.
 * Called from the listener and the relay threads. */
struct tls_peer_gate {
    bool (*admit)(void *ctx, const struct sockaddr *peer);
    void (*release)(void *ctx, const struct sockaddr *peer);
    void *ctx;
};

struct tls_server_options {
    const char *bind;
    unsigned port;
    unsigned handshake_timeout_s;
    unsigned idle_timeout_s; /* the HTTP side's: bounds a client that takes nothing */
    unsigned max_connections;
    struct metrics *metrics;         /* refusals at max_connections are counted here; may be NULL */
    unsigned session_cache_entries;  /* 0: no session resumption */
    unsigned threads;                /* relay loops; at least 1 */
    struct tls_peer_gate peers;      /* admit NULL: no per-address limit */
    unsigned max_connections_per_ip; /* for the log line of a refusal */
    unsigned ipv6_prefix_length;     /* how a refused client is named (net_addr.h) */
};

/* Counters since start, for /metrics. */
struct tls_server_stats {
    unsigned open_connections;
    uint64_t handshakes_full;
    uint64_t handshakes_resumed; /* a cached session reused (tls_session_cache.h) */
    unsigned threads;            /* relay loops */
};

struct tls_server;

/* Binds the TLS port and starts accepting. The credentials and the handoff
 * context must outlive the server (tls_server_destroy() returns only once
 * every relay has ended); the logger is copied. Returns NULL with a message
 * in err when the port cannot be bound. */
struct tls_server *tls_server_start(const struct tls_server_options *options,
                                    const struct tls_credentials *creds, tls_handoff_fn handoff,
                                    void *handoff_ctx, const struct logger *log, char *err,
                                    size_t err_size);

/* Stops accepting new TLS connections; open ones keep being relayed. */
void tls_server_stop_accepting(struct tls_server *server);

/* Stops accepting, gives open relays up to flush_ms to end by themselves
 * (they do once the HTTP daemon has closed its side and they have delivered
 * what they hold), ends the rest, waits until every relay is over, then
 * frees the server. After it returns no relay touches the credentials or
 * the handoff context. */
void tls_server_destroy(struct tls_server *server, unsigned flush_ms);

/* Relays currently open (for tests and metrics). */
unsigned tls_server_active(const struct tls_server *server);

/* A snapshot of the counters; each is read atomically, not all at once. */
void tls_server_stats(const struct tls_server *server, struct tls_server_stats *stats);

#endif
