/*
 * tls.c - the BearSSL terminator; see tls.h for the data path.
 *
 * One listener thread accepts; each accepted connection gets a relay
 * thread that drives a BearSSL server engine with poll(). Threads keep the
 * relay a straight-line state machine; the connection cap bounds them.
 */
#define _GNU_SOURCE
#include "tls.h"

#include "threads.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
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
/* After the HTTP side closes, how long we try to deliver close_notify. */
#define TLS_CLOSE_FLUSH_MS  1000
#define TLS_SEED_BYTES      32
#define TLS_DESTROY_POLL_MS 10

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

struct tls_server {
    int listen_fd;
    int wake_pipe[2]; /* written to stop the listener's poll() */
    pthread_t listener;
    bool listener_started;
    struct tls_server_options options;
    const struct tls_credentials *creds;
    tls_handoff_fn handoff;
    void *handoff_ctx;
    const struct logger *log;
    atomic_uint active;
};

/* Everything one connection needs, in one allocation. */
struct tls_relay {
    struct tls_server *server;
    int tcp_fd;
    int plain_fd;
    br_ssl_server_context ssl;
    unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

static int64_t now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

bool tls_engine_init(br_ssl_server_context *ssl, const struct tls_credentials *creds,
                     unsigned char *iobuf, size_t iobuf_size, const void *seed, size_t seed_len)
{
    br_ssl_engine_context *engine = &ssl->eng;
    if (creds->key_type == BR_KEYTYPE_RSA) {
        br_ssl_server_init_full_rsa(ssl, creds->chain, creds->chain_len, &creds->rsa);
        br_ssl_engine_set_suites(engine, tls_suites_rsa,
                                 sizeof(tls_suites_rsa) / sizeof(tls_suites_rsa[0]));
    } else {
        /* The issuer key type only matters for static-ECDH suites, which
         * are not enabled. */
        br_ssl_server_init_full_ec(ssl, creds->chain, creds->chain_len, BR_KEYTYPE_EC, &creds->ec);
        br_ssl_engine_set_suites(engine, tls_suites_ec,
                                 sizeof(tls_suites_ec) / sizeof(tls_suites_ec[0]));
    }
    br_ssl_engine_set_versions(engine, BR_TLS12, BR_TLS12);
    br_ssl_engine_add_flags(engine, BR_OPT_ENFORCE_SERVER_PREFERENCES | BR_OPT_NO_RENEGOTIATION);
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
    bool ok = tls_engine_init(&relay->ssl, relay->server->creds, relay->iobuf, sizeof(relay->iobuf),
                              seed, sizeof(seed));
    memset(seed, 0, sizeof(seed));
    return ok;
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
    }
    return "unknown";
}

/* The relay loop: BearSSL's state says which way bytes can flow; poll()
 * waits for the matching socket; each ready direction is moved once. */
static enum relay_end relay_pump(struct tls_relay *relay)
{
    br_ssl_engine_context *engine = &relay->ssl.eng;
    int64_t deadline = now_ms() + (int64_t)relay->server->options.handshake_timeout_s * 1000;
    bool handshake_done = false;
    bool http_closed = false;
    bool http_hangup = false;
    for (;;) {
        unsigned state = br_ssl_engine_current_state(engine);
        if (state & BR_SSL_CLOSED) {
            if (http_closed) {
                return RELAY_HTTP_CLOSED;
            }
            return br_ssl_engine_last_error(engine) == BR_ERR_OK ? RELAY_CLIENT_CLOSED
                                                                 : RELAY_TLS_ERROR;
        }
        if (!handshake_done && (state & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
            handshake_done = true;
            deadline = -1;
        }
        if (http_closed && !(state & BR_SSL_SENDREC)) {
            return RELAY_HTTP_CLOSED; /* close_notify sent; no need to wait for the peer's */
        }
        /* poll() reports a hang-up even for a socket polled for no event.
         * Once the HTTP side hung up, its socket is only watched while
         * BearSSL can take its remaining bytes; otherwise the reported
         * hang-up would wake us in a loop. */
        bool watch_plain = !http_hangup || (state & BR_SSL_SENDAPP);
        struct pollfd fds[2] = {{.fd = relay->tcp_fd}, {.fd = watch_plain ? relay->plain_fd : -1}};
        fds[0].events = (short)(((state & BR_SSL_SENDREC) ? POLLOUT : 0) |
                                ((state & BR_SSL_RECVREC) ? POLLIN : 0));
        fds[1].events = (short)(((state & BR_SSL_RECVAPP) ? POLLOUT : 0) |
                                ((state & BR_SSL_SENDAPP) && !http_closed ? POLLIN : 0));
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                return http_closed ? RELAY_HTTP_CLOSED : RELAY_HANDSHAKE_TIMEOUT;
            }
            timeout = (int)left;
        }
        int ready = poll(fds, 2, timeout);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            return RELAY_IO_ERROR;
        }
        if (ready == 0) {
            continue; /* the deadline check above ends the relay */
        }
        size_t len;
        unsigned char *buf;
        ssize_t n;
        if ((fds[0].revents & (POLLOUT | POLLERR | POLLHUP)) && (state & BR_SSL_SENDREC)) {
            buf = br_ssl_engine_sendrec_buf(engine, &len);
            n = move_bytes(relay->tcp_fd, buf, len, true);
            if (n == -1 || n == 0) {
                return RELAY_CLIENT_CLOSED;
            }
            if (n > 0) {
                br_ssl_engine_sendrec_ack(engine, (size_t)n);
            }
        }
        if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) && (state & BR_SSL_RECVREC)) {
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
             * nothing left to serve. */
            if (!handshake_done) {
                return RELAY_HTTP_CLOSED;
            }
            http_hangup = true;
        }
        if ((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) && (state & BR_SSL_SENDAPP) &&
            !http_closed) {
            buf = br_ssl_engine_sendapp_buf(engine, &len);
            n = move_bytes(relay->plain_fd, buf, len, false);
            if (n > 0) {
                br_ssl_engine_sendapp_ack(engine, (size_t)n);
                /* Send the record now: an HTTP response must not wait for
                 * BearSSL's buffer to fill up. */
                br_ssl_engine_flush(engine, 0);
            } else if (n == 0 || n == -1) {
                http_closed = true;
                br_ssl_engine_close(engine);
                deadline = now_ms() + TLS_CLOSE_FLUSH_MS;
            }
        }
    }
}

static void *relay_main(void *arg)
{
    struct tls_relay *relay = arg;
    struct tls_server *server = relay->server;
    enum relay_end end = relay_pump(relay);
    log_message(server->log, LOG_DEBUG, "tls connection ended: %s (BearSSL error %d)",
                relay_end_name(end), br_ssl_engine_last_error(&relay->ssl.eng));
    close(relay->tcp_fd);
    close(relay->plain_fd);
    /* The context holds session keys. */
    memset(&relay->ssl, 0, sizeof(relay->ssl));
    free(relay);
    atomic_fetch_sub(&server->active, 1);
    return NULL;
}

/* One accepted TCP connection: make the socketpair, hand one end to HTTP
 * and start relaying the other. Closes everything on any failure. */
static void serve_connection(struct tls_server *server, int tcp_fd,
                             const struct sockaddr_storage *peer, socklen_t peer_len)
{
    if (atomic_fetch_add(&server->active, 1) >= server->options.max_connections) {
        atomic_fetch_sub(&server->active, 1);
        log_message(server->log, LOG_DEBUG, "tls connection refused: %u connections open",
                    server->options.max_connections);
        close(tcp_fd);
        return;
    }
    struct tls_relay *relay = malloc(sizeof(*relay));
    int pair[2];
    if (relay == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        log_message(server->log, LOG_WARN, "tls connection dropped: %s",
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
        log_message(server->log, LOG_WARN, "tls connection dropped: engine setup failed");
        close(pair[1]);
    } else if (!server->handoff(server->handoff_ctx, pair[1], (const struct sockaddr *)peer,
                                peer_len)) {
        /* The HTTP layer refused (e.g. the per-address limit) and closed
         * its end; nothing was relayed yet. */
        log_message(server->log, LOG_DEBUG, "tls connection refused by the http layer");
    } else if (threads_start_detached(relay_main, relay, TLS_RELAY_STACK_SIZE)) {
        return;
    } else {
        log_message(server->log, LOG_WARN, "tls connection dropped: cannot start a thread");
    }
    close(tcp_fd);
    close(pair[0]);
    free(relay);
    atomic_fetch_sub(&server->active, 1);
}

static void *listener_main(void *arg)
{
    struct tls_server *server = arg;
    for (;;) {
        struct pollfd fds[2] = {{.fd = server->listen_fd, .events = POLLIN},
                                {.fd = server->wake_pipe[0], .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_message(server->log, LOG_ERROR, "tls listener: poll: %s", strerror(errno));
            return NULL;
        }
        if (fds[1].revents != 0) {
            return NULL; /* asked to stop */
        }
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(server->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
        if (fd < 0) {
            /* EMFILE and friends: note it and keep the listener alive. */
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                log_message(server->log, LOG_WARN, "tls accept: %s", strerror(errno));
                struct timespec pause = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
                nanosleep(&pause, NULL);
            }
            continue;
        }
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
    struct sockaddr_storage addr;
    socklen_t addr_len;
    memset(&addr, 0, sizeof(addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, bind_address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        addr_len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, bind_address, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        addr_len = sizeof(*v6);
    } else {
        snprintf(err, err_size, "bind: \"%s\" is not an IP address", bind_address);
        return -1;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, addr_len) != 0 || listen(fd, TLS_LISTEN_BACKLOG) != 0) {
        snprintf(err, err_size, "cannot serve TLS on %s port %u: %s", bind_address, port,
                 strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    return fd;
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
    server->log = log;
    atomic_init(&server->active, 0);
    server->wake_pipe[0] = server->wake_pipe[1] = -1;
    server->listen_fd = open_listener(options->bind, options->port, err, err_size);
    if (server->listen_fd < 0) {
        free(server);
        return NULL;
    }
    if (pipe2(server->wake_pipe, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
        close(server->listen_fd);
        free(server);
        return NULL;
    }
    if (pthread_create(&server->listener, NULL, listener_main, server) != 0) {
        snprintf(err, err_size, "cannot start the TLS listener thread");
        close(server->listen_fd);
        close(server->wake_pipe[0]);
        close(server->wake_pipe[1]);
        free(server);
        return NULL;
    }
    server->listener_started = true;
    return server;
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

void tls_server_destroy(struct tls_server *server, unsigned timeout_ms)
{
    tls_server_stop_accepting(server);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = TLS_DESTROY_POLL_MS * 1000000L};
    for (unsigned waited = 0; atomic_load(&server->active) != 0 && waited < timeout_ms;
         waited += TLS_DESTROY_POLL_MS) {
        nanosleep(&pause, NULL);
    }
    unsigned left = atomic_load(&server->active);
    if (left != 0) {
        /* Relays still reference the server; leak it rather than free
         * memory a thread may still touch. The process is exiting. */
        log_message(server->log, LOG_WARN, "%u tls connections still open at exit", left);
        return;
    }
    close(server->wake_pipe[0]);
    close(server->wake_pipe[1]);
    free(server);
}

unsigned tls_server_active(const struct tls_server *server)
{
    return atomic_load(&server->active);
}
