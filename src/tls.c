/*
 * tls.c - the BearSSL terminator; see tls.h for the data path.
 *
 * One listener thread accepts; each accepted connection gets a relay
 * thread that drives a BearSSL server engine with poll(). Threads keep the
 * relay a straight-line state machine; the connection cap bounds them.
 */
#define _GNU_SOURCE
#include "tls.h"

#include "array.h"
#include "clock.h"
#include "net_addr.h"
#include "threads.h"
#include "tls_session_cache.h"
#include "wipe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TLS_LISTEN_BACKLOG 128
/* BearSSL's handshake (RSA-2048 signing included) needs a few KB of stack;
 * 128 KiB leaves a wide margin and keeps hundreds of relays affordable. */
#define TLS_RELAY_STACK_SIZE (128u * 1024u)
/* Once the HTTP side has closed, how long a relay may take to deliver what
 * it still holds, then close_notify. A client that does not read loses the
 * rest: it must not keep the relay (and a slot of the TLS cap) forever. */
#define TLS_CLOSE_FLUSH_MS  2000
#define TLS_SEED_BYTES      32
#define TLS_DESTROY_POLL_MS 10
/* accept4() failing for want of descriptors or memory fails again at once
 * while the connection waits in the backlog: pause, doubling up to the
 * maximum, instead of spinning. */
#define TLS_ACCEPT_BACKOFF_MIN_MS 10
#define TLS_ACCEPT_BACKOFF_MAX_MS 1000
/* At most one line per interval for each kind of trouble a client can
 * cause at will; the next line says how many were left out. */
#define TLS_LOG_INTERVAL_MS 10000

/* Offered to clients that ask (ALPN); one that asks for something else
 * only is served without ALPN, as if it had not asked. */
static const char *const tls_alpn_protocols[] = {"http/1.1"};

/* ECDHE with AEAD only, per key type; server order is preference order. */
static const uint16_t tls_suites_rsa[] = {
    BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
};
static const uint16_t tls_suites_ec[] = {
    BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
};

/* Rate-limits one kind of log line. Touched by the listener thread only. */
struct log_throttle {
    int64_t next_ms;     /* when the next line may be written */
    unsigned suppressed; /* lines left out since the last one */
};

struct tls_server {
    int listen_fd;
    int wake_pipe[2];       /* written to stop the listener's poll() */
    int relay_stop_pipe[2]; /* written, never read: every relay's poll() wakes and ends */
    pthread_t listener;
    bool listener_started;
    struct tls_server_options options;
    const struct tls_credentials *creds;
    tls_handoff_fn handoff;
    void *handoff_ctx;
    struct logger log;                 /* a copy, so relays never reach into the caller's frame */
    struct tls_session_cache sessions; /* unused when options.session_cache_entries is 0 */
    atomic_uint active;
    atomic_uint_fast64_t handshakes_full;
    atomic_uint_fast64_t handshakes_resumed;
    struct log_throttle refusals;      /* at the TLS connection cap */
    struct log_throttle drops;         /* socketpair, engine or thread failures */
    struct log_throttle accept_errors; /* EMFILE and the like */
};

/* Everything one connection needs, in one allocation. */
struct tls_relay {
    struct tls_server *server;
    int tcp_fd;
    int plain_fd;
    br_ssl_server_context ssl;
    struct tls_session_handle session;
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static int64_t now_ms(void)
{
    return (int64_t)(clock_monotonic_ns() / CLOCK_NS_PER_MS);
}

bool tls_engine_init(br_ssl_server_context *ssl, const struct tls_credentials *creds,
                     unsigned char *iobuf, size_t iobuf_size, const void *seed, size_t seed_len)
{
    br_ssl_engine_context *engine = &ssl->eng;
    if (creds->key_type == BR_KEYTYPE_RSA) {
        br_ssl_server_init_full_rsa(ssl, creds->chain, creds->chain_len, &creds->rsa);
        br_ssl_engine_set_suites(engine, tls_suites_rsa, ARRAY_SIZE(tls_suites_rsa));
    } else {
        /* The issuer key type only matters for static-ECDH suites, which
         * are not enabled. */
        br_ssl_server_init_full_ec(ssl, creds->chain, creds->chain_len, BR_KEYTYPE_EC, &creds->ec);
        br_ssl_engine_set_suites(engine, tls_suites_ec, ARRAY_SIZE(tls_suites_ec));
    }
    br_ssl_engine_set_versions(engine, BR_TLS12, BR_TLS12);
    br_ssl_engine_add_flags(engine, BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
    /* BearSSL keeps the pointer and never writes through it. */
    br_ssl_engine_set_protocol_names(engine, (const char **)tls_alpn_protocols,
                                     sizeof(tls_alpn_protocols) / sizeof(tls_alpn_protocols[0]));
    br_ssl_engine_set_buffer(engine, iobuf, iobuf_size, 1);
    br_ssl_engine_inject_entropy(engine, seed, seed_len);
    return br_ssl_server_reset(ssl) != 0;
}

/* Sets up the engine for one connection. BearSSL never allocates: the
 * context and buffer live in the relay, the key and chain in the creds. */
static bool relay_init_engine(struct tls_relay *relay)
{
    /* Seed from the kernel ourselves: a FROM scratch image has no
     * /dev/urandom for BearSSL's own seeder to open. */
    unsigned char seed[TLS_SEED_BYTES];
    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        return false;
    }
    struct tls_server *server = relay->server;
    bool ok = tls_engine_init(&relay->ssl, server->creds, relay->iobuf, sizeof(relay->iobuf), seed,
                              sizeof(seed));
    wipe(seed, sizeof(seed));
    if (ok && server->options.session_cache_entries != 0) {
        /* The cache is set after init: a reset reads it at the ClientHello. */
        tls_session_handle_attach(&relay->session, &server->sessions, &relay->ssl);
    }
    return ok;
}

/* Closes the relay's sockets and frees it. The engine context holds the
 * session keys, the master secret and the DRBG state, and the buffer the
 * last records: wiped first. */
static void relay_release(struct tls_relay *relay)
{
    close(relay->tcp_fd);
    close(relay->plain_fd);
    wipe(relay, sizeof(*relay));
    free(relay);
}

/* Moves bytes between a socket and one of the engine's four buffers.
 * Non-blocking: returns the count moved, 0 for EOF, -1 for an error, and
 * -2 when the socket has nothing for us right now. */
static ssize_t move_bytes(int fd, unsigned char *buf, size_t len, bool sending)
{
    ssize_t n = sending ? send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                        : recv(fd, buf, len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return -2;
    }
    return n;
}

enum relay_end {
    RELAY_CLIENT_CLOSED,
    RELAY_HTTP_CLOSED,
    RELAY_TLS_ERROR,
    RELAY_IO_ERROR,
    RELAY_HANDSHAKE_TIMEOUT,
    RELAY_FLUSH_TIMEOUT,
    RELAY_CLIENT_STALLED,
    RELAY_SERVER_STOPPING,
};

static const char *relay_end_name(enum relay_end end)
{
    switch (end) {
    case RELAY_CLIENT_CLOSED:
        return "client closed";
    case RELAY_HTTP_CLOSED:
        return "http side closed";
    case RELAY_TLS_ERROR:
        return "tls error";
    case RELAY_IO_ERROR:
        return "socket error";
    case RELAY_HANDSHAKE_TIMEOUT:
        return "handshake timeout";
    case RELAY_FLUSH_TIMEOUT:
        return "http side closed; the client did not take the rest in time";
    case RELAY_CLIENT_STALLED:
        return "the client took nothing for the idle timeout";
    case RELAY_SERVER_STOPPING:
        return "server stopping";
    }
    return "unknown";
}

/* Where a relay stands; relay_pump() moves it along. */
struct relay_state {
    int64_t handshake_deadline;
    int64_t flush_deadline;     /* -1 until the HTTP side hangs up or closes */
    int64_t send_blocked_since; /* -1 unless records wait for the client */
    bool handshake_done;
    bool http_hungup; /* the HTTP side hung up; bytes may still be queued */
    bool http_closed; /* read its end: close_notify is queued */
};

/* The one deadline in force, and what reaching it means: the handshake
 * deadline, then, once the HTTP side has gone, the flush deadline, else the
 * idle timeout while records wait for a client that takes none. */
static int64_t relay_deadline(const struct relay_state *st, int64_t idle_ms, enum relay_end *end)
{
    if (!st->handshake_done) {
        *end = RELAY_HANDSHAKE_TIMEOUT;
        return st->handshake_deadline;
    }
    if (st->flush_deadline >= 0) {
        *end = RELAY_FLUSH_TIMEOUT;
        return st->flush_deadline;
    }
    if (st->send_blocked_since >= 0) {
        *end = RELAY_CLIENT_STALLED;
        return st->send_blocked_since + idle_ms;
    }
    return -1;
}

static void relay_http_gone(struct relay_state *st)
{
    if (st->flush_deadline < 0) {
        st->flush_deadline = now_ms() + TLS_CLOSE_FLUSH_MS;
    }
}

/* Counts a finished handshake as full or resumed, for /metrics. */
static void relay_count_handshake(struct tls_relay *relay)
{
    struct tls_server *server = relay->server;
    bool resumed =
        server->options.session_cache_entries != 0 && tls_session_handle_resumed(&relay->session);
    atomic_fetch_add_explicit(resumed ? &server->handshakes_resumed : &server->handshakes_full, 1,
                              memory_order_relaxed);
}

/* The relay loop: BearSSL's state says which way bytes can flow; poll()
 * waits for the matching socket (and the server's stop pipe); each ready
 * direction is moved once. */
static enum relay_end relay_pump(struct tls_relay *relay)
{
    br_ssl_engine_context *engine = &relay->ssl.eng;
    struct tls_server *server = relay->server;
    const int64_t idle_ms = (int64_t)server->options.idle_timeout_s * 1000;
    struct relay_state st = {
        .handshake_deadline = now_ms() + (int64_t)server->options.handshake_timeout_s * 1000,
        .flush_deadline = -1,
        .send_blocked_since = -1,
    };
    for (;;) {
        unsigned state = br_ssl_engine_current_state(engine);
        if (state & BR_SSL_CLOSED) {
            if (st.http_closed) {
                return RELAY_HTTP_CLOSED;
            }
            return br_ssl_engine_last_error(engine) == BR_ERR_OK ? RELAY_CLIENT_CLOSED
                                                                 : RELAY_TLS_ERROR;
        }
        if (!st.handshake_done && (state & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
            st.handshake_done = true;
            relay_count_handshake(relay);
        }
        if (st.http_closed && !(state & BR_SSL_SENDREC)) {
            return RELAY_HTTP_CLOSED; /* close_notify sent; no need to wait for the peer's */
        }
        int64_t now = now_ms();
        if (!(state & BR_SSL_SENDREC)) {
            st.send_blocked_since = -1;
        } else if (st.send_blocked_since < 0) {
            st.send_blocked_since = now;
        }
        enum relay_end on_deadline = RELAY_HANDSHAKE_TIMEOUT;
        int64_t deadline = relay_deadline(&st, idle_ms, &on_deadline);
        int timeout = -1;
        if (deadline >= 0) {
            if (deadline <= now) {
                return on_deadline;
            }
            timeout = (int)(deadline - now);
        }
        /* poll() reports a hang-up even for a socket polled for no event.
         * Once the HTTP side hung up, its socket is only watched while
         * BearSSL can take its remaining bytes; otherwise the reported
         * hang-up would wake us in a loop. */
        bool watch_plain = !st.http_closed && (!st.http_hungup || (state & BR_SSL_SENDAPP));
        struct pollfd fds[3] = {
            {.fd = relay->tcp_fd},
            {.fd = watch_plain ? relay->plain_fd : -1},
            {.fd = server->relay_stop_pipe[0], .events = POLLIN},
        };
        fds[0].events = (short)(((state & BR_SSL_SENDREC) ? POLLOUT : 0) |
                                ((state & BR_SSL_RECVREC) ? POLLIN : 0));
        fds[1].events = (short)(((state & BR_SSL_RECVAPP) ? POLLOUT : 0) |
                                ((state & BR_SSL_SENDAPP) ? POLLIN : 0));
        int ready = poll(fds, 3, timeout);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            return RELAY_IO_ERROR;
        }
        if (ready == 0) {
            continue; /* the deadline check above ends the relay */
        }
        if (fds[2].revents != 0) {
            return RELAY_SERVER_STOPPING;
        }
        /* An error or hang-up on the client's socket ends the relay
         * whatever the engine is waiting for: nothing can reach the client
         * any more, and poll() would report it again at once, forever. (A
         * client's FIN alone is POLLIN, read below as the end of input.) */
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            return RELAY_CLIENT_CLOSED;
        }
        size_t len;
        unsigned char *buf;
        ssize_t n;
        if ((fds[0].revents & POLLOUT) && (state & BR_SSL_SENDREC)) {
            buf = br_ssl_engine_sendrec_buf(engine, &len);
            n = move_bytes(relay->tcp_fd, buf, len, true);
            if (n == -1 || n == 0) {
                return RELAY_CLIENT_CLOSED;
            }
            if (n > 0) {
                br_ssl_engine_sendrec_ack(engine, (size_t)n);
                st.send_blocked_since = -1; /* the client is taking bytes */
            }
        }
        if ((fds[0].revents & POLLIN) && (state & BR_SSL_RECVREC)) {
            buf = br_ssl_engine_recvrec_buf(engine, &len);
            n = move_bytes(relay->tcp_fd, buf, len, false);
            if (n == -1 || n == 0) {
                return RELAY_CLIENT_CLOSED;
            }
            if (n > 0) {
                br_ssl_engine_recvrec_ack(engine, (size_t)n);
            }
        }
        if ((fds[1].revents & (POLLOUT | POLLERR | POLLHUP)) && (state & BR_SSL_RECVAPP)) {
            buf = br_ssl_engine_recvapp_buf(engine, &len);
            n = move_bytes(relay->plain_fd, buf, len, true);
            if (n == -1 || n == 0) {
                return RELAY_HTTP_CLOSED;
            }
            if (n > 0) {
                br_ssl_engine_recvapp_ack(engine, (size_t)n);
            }
        }
        if ((fds[1].revents & (POLLERR | POLLHUP)) && !(state & BR_SSL_SENDAPP)) {
            /* The HTTP side went away (idle timeout, shutdown) while
             * BearSSL cannot take data: during the handshake there is
             * nothing left to serve; after it, what the HTTP side wrote
             * last still gets the flush time. */
            if (!st.handshake_done) {
                return RELAY_HTTP_CLOSED;
            }
            st.http_hungup = true;
            relay_http_gone(&st);
        }
        if ((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) && (state & BR_SSL_SENDAPP)) {
            buf = br_ssl_engine_sendapp_buf(engine, &len);
            n = move_bytes(relay->plain_fd, buf, len, false);
            if (n > 0) {
                br_ssl_engine_sendapp_ack(engine, (size_t)n);
                /* Send the record now: an HTTP response must not wait for
                 * BearSSL's buffer to fill up. */
                br_ssl_engine_flush(engine, 0);
            } else if (n == 0 || n == -1) {
                st.http_closed = true;
                br_ssl_engine_close(engine);
                relay_http_gone(&st);
            }
        }
    }
}

static void *relay_main(void *arg)
{
    struct tls_relay *relay = arg;
    struct tls_server *server = relay->server;
    enum relay_end end = relay_pump(relay);
    log_message(&server->log, LOG_DEBUG, "tls connection ended: %s (BearSSL error %d)",
                relay_end_name(end), br_ssl_engine_last_error(&relay->ssl.eng));
    relay_release(relay);
    /* Last: once the count is 0, tls_server_destroy() frees the server. */
    atomic_fetch_sub(&server->active, 1);
    return NULL;
}

/* Logs one line of a kind, unless one of that kind went out less than
 * TLS_LOG_INTERVAL_MS ago; then only counts it. */
static void log_throttled(struct tls_server *server, struct log_throttle *throttle,
                          enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void log_throttled(struct tls_server *server, struct log_throttle *throttle,
                          enum log_level level, const char *fmt, ...)
{
    int64_t now = now_ms();
    if (now < throttle->next_ms) {
        throttle->suppressed++;
        return;
    }
    char message[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    if (throttle->suppressed > 0) {
        log_message(&server->log, level, "%s (and %u more like it since the last such line)",
                    message, throttle->suppressed);
    } else {
        log_message(&server->log, level, "%s", message);
    }
    throttle->suppressed = 0;
    throttle->next_ms = now + TLS_LOG_INTERVAL_MS;
}

/* At --max-tls-connections the connection is closed unanswered: an HTTP
 * answer would need the TLS handshake whose cost the limit exists to
 * bound. Logged at info level with the address (throttled, as a flood of
 * them could be), and counted. */
static void refuse_over_limit(struct tls_server *server, int tcp_fd,
                              const struct sockaddr_storage *peer)
{
    char address[INET6_ADDRSTRLEN];
    close(tcp_fd);
    net_addr_format((const struct sockaddr *)peer, address, sizeof(address));
    log_throttled(server, &server->refusals, LOG_INFO,
                  "refused a TLS connection from %s: %u TLS connections open, the limit", address,
                  server->options.max_connections);
    if (server->options.metrics != NULL) {
        metrics_record_connection_refusal(server->options.metrics, METRICS_REFUSED_TLS_LIMIT);
    }
}

/* One accepted TCP connection: make the socketpair, hand one end to HTTP
 * and start relaying the other. Closes everything on any failure. */
static void serve_connection(struct tls_server *server, int tcp_fd,
                             const struct sockaddr_storage *peer, socklen_t peer_len)
{
    if (atomic_fetch_add(&server->active, 1) >= server->options.max_connections) {
        atomic_fetch_sub(&server->active, 1);
        refuse_over_limit(server, tcp_fd, peer);
        return;
    }
    struct tls_relay *relay = malloc(sizeof(*relay));
    int pair[2];
    if (relay == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        log_throttled(server, &server->drops, LOG_WARN, "tls connection dropped: %s",
                      relay == NULL ? "out of memory" : strerror(errno));
        free(relay);
        close(tcp_fd);
        atomic_fetch_sub(&server->active, 1);
        return;
    }
    relay->server = server;
    relay->tcp_fd = tcp_fd;
    relay->plain_fd = pair[0];
    if (!relay_init_engine(relay)) {
        log_throttled(server, &server->drops, LOG_WARN,
                      "tls connection dropped: engine setup failed");
        close(pair[1]);
    } else if (!server->handoff(server->handoff_ctx, pair[1], (const struct sockaddr *)peer,
                                peer_len)) {
        /* The HTTP layer refused (e.g. the per-address limit) and closed
         * its end; nothing was relayed yet. */
        log_message(&server->log, LOG_DEBUG, "tls connection refused by the http layer");
    } else if (threads_start_detached(relay_main, relay, TLS_RELAY_STACK_SIZE)) {
        return;
    } else {
        log_throttled(server, &server->drops, LOG_WARN,
                      "tls connection dropped: cannot start a thread");
    }
    relay_release(relay);
    atomic_fetch_sub(&server->active, 1);
}

/* accept4() errors that mean "no resources right now": retrying at once
 * fails the same way while the connection waits in the backlog. */
static bool accept_out_of_resources(int error)
{
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

static void *listener_main(void *arg)
{
    struct tls_server *server = arg;
    int backoff_ms = 0; /* 0: accepting; else the pause before the next try */
    for (;;) {
        struct pollfd fds[2] = {{.fd = server->listen_fd, .events = backoff_ms ? 0 : POLLIN},
                                {.fd = server->wake_pipe[0], .events = POLLIN}};
        if (poll(fds, 2, backoff_ms ? backoff_ms : -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_message(&server->log, LOG_ERROR, "tls listener: poll: %s", strerror(errno));
            return NULL;
        }
        if (fds[1].revents != 0) {
            return NULL; /* asked to stop */
        }
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(server->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) {
                backoff_ms = 0;
                continue;
            }
            /* Keep the listener alive, but wait before the next try, ever
             * longer while it keeps failing, and say so now and then. */
            int error = errno;
            backoff_ms = backoff_ms == 0 ? TLS_ACCEPT_BACKOFF_MIN_MS
                                         : (backoff_ms * 2 > TLS_ACCEPT_BACKOFF_MAX_MS
                                                ? TLS_ACCEPT_BACKOFF_MAX_MS
                                                : backoff_ms * 2);
            log_throttled(server, &server->accept_errors, LOG_WARN,
                          "tls accept: %s; retrying with a pause of up to %d ms%s", strerror(error),
                          TLS_ACCEPT_BACKOFF_MAX_MS,
                          accept_out_of_resources(error)
                              ? " (raise the open files limit, or lower --max-connections "
                                "and --max-tls-connections)"
                              : "");
            continue;
        }
        backoff_ms = 0;
        /* BearSSL writes a handshake flight in several records; without
         * TCP_NODELAY the kernel holds the last one back until the client's
         * delayed ACK, adding about 40 ms to every new connection. Failure
         * only costs latency, so it is not fatal. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        serve_connection(server, fd, &peer, peer_len);
    }
}

static int open_listener(const char *bind_address, unsigned port, char *err, size_t err_size)
{
    struct net_addr addr;
    if (!net_addr_parse(bind_address, port, &addr)) {
        snprintf(err, err_size, "bind: \"%s\" is not an IP address", bind_address);
        return -1;
    }
    int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, net_addr_sockaddr(&addr), addr.len) != 0 || listen(fd, TLS_LISTEN_BACKLOG) != 0) {
        snprintf(err, err_size, "cannot serve TLS on %s port %u: %s", bind_address, port,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
}

static void close_pipe(int fds[2])
{
    for (int i = 0; i < 2; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

/* Frees what tls_server_start() allocated, the session cache wiped. */
static void server_free(struct tls_server *server)
{
    if (server->options.session_cache_entries != 0) {
        tls_session_cache_destroy(&server->sessions);
    }
    free(server);
}

struct tls_server *tls_server_start(const struct tls_server_options *options,
                                    const struct tls_credentials *creds, tls_handoff_fn handoff,
                                    void *handoff_ctx, const struct logger *log, char *err,
                                    size_t err_size)
{
    struct tls_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    server->options = *options;
    server->creds = creds;
    server->handoff = handoff;
    server->handoff_ctx = handoff_ctx;
    server->log = *log;
    atomic_init(&server->active, 0);
    atomic_init(&server->handshakes_full, 0);
    atomic_init(&server->handshakes_resumed, 0);
    if (options->session_cache_entries != 0 &&
        !tls_session_cache_init(&server->sessions, options->session_cache_entries)) {
        snprintf(err, err_size, "cannot allocate a TLS session cache of %u entries",
                 options->session_cache_entries);
        free(server);
        return NULL;
    }
    server->wake_pipe[0] = server->wake_pipe[1] = -1;
    server->relay_stop_pipe[0] = server->relay_stop_pipe[1] = -1;
    server->listen_fd = open_listener(options->bind, options->port, err, err_size);
    if (server->listen_fd < 0) {
        server_free(server);
        return NULL;
    }
    if (pipe2(server->wake_pipe, O_CLOEXEC) != 0 ||
        pipe2(server->relay_stop_pipe, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
    } else if (pthread_create(&server->listener, NULL, listener_main, server) != 0) {
        snprintf(err, err_size, "cannot start the TLS listener thread");
    } else {
        server->listener_started = true;
        return server;
    }
    close(server->listen_fd);
    close_pipe(server->wake_pipe);
    close_pipe(server->relay_stop_pipe);
    server_free(server);
    return NULL;
}

void tls_server_stop_accepting(struct tls_server *server)
{
    if (!server->listener_started) {
        return;
    }
    ssize_t written;
    do {
        written = write(server->wake_pipe[1], "x", 1);
    } while (written < 0 && errno == EINTR);
    pthread_join(server->listener, NULL);
    server->listener_started = false;
    close(server->listen_fd);
    server->listen_fd = -1;
}

/* Waits until no relay is left, or timeout_ms has passed (when not
 * forever). Returns whether none is left. */
static bool no_relay_open(const void *server)
{
    return tls_server_active(server) == 0;
}

static bool wait_for_relays(const struct tls_server *server, unsigned timeout_ms, bool forever)
{
    /* "Forever" is UINT_MAX ms, some 49 days: longer than any relay lives
     * once told to stop. */
    return clock_wait_until(no_relay_open, server, forever ? UINT_MAX : timeout_ms,
                            TLS_DESTROY_POLL_MS);
}

void tls_server_destroy(struct tls_server *server, unsigned flush_ms)
{
    tls_server_stop_accepting(server);
    if (!wait_for_relays(server, flush_ms, false)) {
        log_message(&server->log, LOG_INFO, "ending %u tls connections still delivering",
                    atomic_load(&server->active));
        ssize_t written;
        do {
            written = write(server->relay_stop_pipe[1], "x", 1);
        } while (written < 0 && errno == EINTR);
        /* Each relay sees the pipe in its next poll() and ends: the wait
         * is short, and nothing a relay uses is freed before it is over. */
        wait_for_relays(server, 0, true);
    }
    close_pipe(server->wake_pipe);
    close_pipe(server->relay_stop_pipe);
    server_free(server);
}

unsigned tls_server_active(const struct tls_server *server)
{
    return atomic_load(&server->active);
}

void tls_server_stats(const struct tls_server *server, struct tls_server_stats *stats)
{
    stats->open_connections = atomic_load(&server->active);
    stats->handshakes_full = atomic_load_explicit(&server->handshakes_full, memory_order_relaxed);
    stats->handshakes_resumed =
        atomic_load_explicit(&server->handshakes_resumed, memory_order_relaxed);
}
