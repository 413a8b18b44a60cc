/*
 * tls_relay.h - one TLS connection: a non-blocking BearSSL server engine
 * between the client's TCP socket and the socketpair end whose other end the
 * HTTP daemon serves.
 *
 * A relay never blocks and never waits: its owner (a relay loop, tls_loop.h)
 * tells it which of its two sockets became ready, the relay moves what it
 * can, and then says which readiness it waits for next (tls_relay_interest)
 * and by when it must end if nothing happens (tls_relay_deadline). All
 * state lives in the relay, so one thread can drive thousands. Every time
 * passed in or returned (now_ms, deadlines) is clock_monotonic_ms().
 *
 * Lifetime rules (the same as the thread-per-connection relay had):
 *   - the handshake must finish within the handshake timeout;
 *   - once the HTTP side has hung up or closed, the relay gets
 *     TLS_CLOSE_FLUSH_MS to deliver what it holds and close_notify;
 *   - once close_notify is out, it lingers: it shuts down its sending
 *     side and reads and discards what the client still sends, until the
 *     client closes or TLS_LINGER_MS pass. Closing with unread bytes would
 *     make the kernel reset the connection, and a reset can destroy an
 *     answer the client has not read yet (an early 413 to an upload);
 *   - after the handshake, records that wait for a client that takes none
 *     end the relay after the idle timeout;
 *   - an error or hang-up on the client's socket ends it at once.
 *
 * Memory: one allocation per connection, TLS_RELAY_BYTES. The engine's
 * input side must hold a full 16 KiB record (the client chooses the record
 * size), but the output side may be smaller: BearSSL then sends shorter
 * records, which every TLS peer accepts. Responses here are small, so the
 * output holds TLS_ENGINE_OUTPUT_RECORD bytes of plaintext per record.
 */
#ifndef TINYSERVER_TLS_RELAY_H
#define TINYSERVER_TLS_RELAY_H

#include "deadline_heap.h"
#include "list.h"
#include "tls.h"
#include "tls_engine.h"
#include "tls_keys.h"
#include "tls_session_cache.h"

#include <bearssl.h>

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define TLS_CLOSE_FLUSH_MS    2000
#define TLS_LINGER_MS         2000
#define TLS_RELAY_IOBUF_BYTES TLS_ENGINE_IOBUF_BYTES

/* Shared by every relay of a server; outlives them all. */
struct tls_relay_shared {
    const struct tls_credentials *creds;
    struct tls_session_cache *sessions; /* NULL: no resumption */
    int64_t handshake_timeout_ms;
    int64_t idle_timeout_ms;           /* the HTTP side's: bounds a client that takes nothing */
    const struct tls_peer_gate *peers; /* released as each relay ends; admit NULL: none */
    atomic_uint_fast64_t handshakes_full;
    atomic_uint_fast64_t handshakes_resumed;
};

enum tls_relay_end {
    TLS_RELAY_RUNNING = 0,
    TLS_RELAY_CLIENT_CLOSED,
    TLS_RELAY_HTTP_CLOSED,
    TLS_RELAY_TLS_ERROR,
    TLS_RELAY_IO_ERROR,
    TLS_RELAY_HANDSHAKE_TIMEOUT,
    TLS_RELAY_FLUSH_TIMEOUT,
    TLS_RELAY_CLIENT_STALLED,
    TLS_RELAY_SERVER_STOPPING,
};

/* For the log line of an ended connection. */
const char *tls_relay_end_name(enum tls_relay_end end);

/* One of the relay's two sockets, as its loop registers it with epoll. */
struct tls_relay_socket {
    struct tls_relay *relay;
    int fd;
    uint32_t ready;      /* EPOLLIN/EPOLLOUT seen and not yet used up */
    uint32_t registered; /* events epoll watches for; meaningful if watched */
    bool watched;        /* in the loop's epoll set */
};

/* Where a connection stands between two events. */
struct tls_relay_progress {
    int64_t handshake_deadline;
    int64_t flush_deadline;     /* -1 until the HTTP side hangs up or closes */
    int64_t send_blocked_since; /* -1 unless records wait for the client */
    bool handshake_done;
    bool http_hungup;  /* the HTTP side hung up; bytes may still be queued */
    bool http_closed;  /* read its end: close_notify is queued */
    bool http_refuses; /* writing to it failed: it closed while the client still sent */
    bool lingering;    /* close_notify is out and the sending side shut down */
    int64_t linger_deadline;
};

struct tls_relay {
    struct tls_relay_shared *shared;
    struct tls_relay_socket tcp;
    struct tls_relay_socket plain;
    struct tls_relay_progress progress;
    enum tls_relay_end end;
    struct deadline_node deadline; /* owned by the loop's heap */
    struct list_link link;         /* on the loop's list of relays it serves */
    struct tls_relay *next_handed; /* in the hand-over queue, or a batch's ended ones */
    struct tls_session_handle session;
    /* The client, as admitted by the per-address gate (IPv4 or IPv6). */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
    br_ssl_server_context ssl;
    unsigned char iobuf[TLS_RELAY_IOBUF_BYTES];
};

#define TLS_RELAY_BYTES sizeof(struct tls_relay)

/* Allocates a relay for an accepted client socket (from `peer`, admitted
 * by the gate) and the relay's end of the socketpair, both made
 * non-blocking here, and sets up its engine for a handshake starting at
 * now_ms. On failure returns NULL and leaves the descriptors open and the
 * peer admitted (the caller still owns them). */
struct tls_relay *tls_relay_create(struct tls_relay_shared *shared, int tcp_fd, int plain_fd,
                                   const struct sockaddr *peer, int64_t now_ms);

/* Closes both descriptors, releases the client from the per-address gate,
 * wipes the engine (session keys, master secret, DRBG state, the last
 * records) and frees the relay. */
void tls_relay_destroy(struct tls_relay *relay);

/* `events` (epoll's) happened on one of relay's sockets: moves every byte
 * that can move now. Returns TLS_RELAY_RUNNING, or why the relay is over
 * (also kept in relay->end). */
enum tls_relay_end tls_relay_on_events(struct tls_relay *relay, struct tls_relay_socket *socket,
                                       uint32_t events, int64_t now_ms);

/* The epoll events each socket should be watched for now; *watch_plain
 * false means the plain socket must not be in the epoll set at all (epoll
 * reports a hang-up even for no events, which would wake the loop in a
 * loop). */
void tls_relay_interest(const struct tls_relay *relay, uint32_t *tcp_events, bool *watch_plain,
                        uint32_t *plain_events);

/* When the relay must end if nothing else happens (-1: no deadline), and
 * why it then ends. */
int64_t tls_relay_deadline(const struct tls_relay *relay, enum tls_relay_end *why);

#endif
