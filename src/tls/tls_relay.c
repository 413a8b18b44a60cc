/*
 * tls_relay.c - one TLS connection's state machine; see tls_relay.h.
 */
#define _GNU_SOURCE
#include "tls_relay.h"

#include "array.h"
#include "clock.h"
#include "tls_engine.h"
#include "wipe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define TLS_SEED_BYTES 32
/* Moves per event before the relay yields to the others in its loop; the
 * sockets stay ready, so epoll reports them again at once. */
#define TLS_RELAY_MAX_ROUNDS 16

const char *tls_relay_end_name(enum tls_relay_end end)
{
    switch (end) {
    case TLS_RELAY_RUNNING:
        return "running";
    case TLS_RELAY_CLIENT_CLOSED:
        return "client closed";
    case TLS_RELAY_HTTP_CLOSED:
        return "http side closed";
    case TLS_RELAY_TLS_ERROR:
        return "tls error";
    case TLS_RELAY_IO_ERROR:
        return "socket error";
    case TLS_RELAY_HANDSHAKE_TIMEOUT:
        return "handshake timeout";
    case TLS_RELAY_FLUSH_TIMEOUT:
        return "http side closed; the client did not take the rest in time";
    case TLS_RELAY_CLIENT_STALLED:
        return "the client took nothing for the idle timeout";
    case TLS_RELAY_SERVER_STOPPING:
        return "server stopping";
    }
    return "unknown";
}

static bool set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

/* Seeds from the kernel ourselves: a FROM scratch image has no
 * /dev/urandom for BearSSL's own seeder to open. */
static bool relay_init_engine(struct tls_relay *relay)
{
    unsigned char seed[TLS_SEED_BYTES];
    if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
        return false;
    }
    bool ok = tls_engine_init(&relay->ssl, relay->shared->creds, relay->iobuf, sizeof(relay->iobuf),
                              seed, sizeof(seed));
    wipe(seed, sizeof(seed));
    if (ok && relay->shared->sessions != NULL) {
        /* Set after the reset: BearSSL reads it at the ClientHello. */
        tls_session_handle_attach(&relay->session, relay->shared->sessions, &relay->ssl);
    }
    return ok;
}

struct tls_relay *tls_relay_create(struct tls_relay_shared *shared, int tcp_fd, int plain_fd,
                                   const struct sockaddr *peer, int64_t now_ms)
{
    if (!set_nonblocking(tcp_fd) || !set_nonblocking(plain_fd)) {
        return NULL;
    }
    struct tls_relay *relay = malloc(sizeof(*relay));
    if (relay == NULL) {
        return NULL;
    }
    relay->shared = shared;
    memset(&relay->peer, 0, sizeof(relay->peer));
    if (peer->sa_family == AF_INET) {
        relay->peer.in = *(const struct sockaddr_in *)(const void *)peer;
    } else if (peer->sa_family == AF_INET6) {
        relay->peer.in6 = *(const struct sockaddr_in6 *)(const void *)peer;
    }
    /* A fresh socket can be written to: the first flight needs no event. */
    relay->tcp = (struct tls_relay_socket){.relay = relay, .fd = tcp_fd, .ready = EPOLLOUT};
    relay->plain = (struct tls_relay_socket){.relay = relay, .fd = plain_fd, .ready = EPOLLOUT};
    relay->progress = (struct tls_relay_progress){
        .handshake_deadline = now_ms + shared->handshake_timeout_ms,
        .flush_deadline = -1,
        .send_blocked_since = -1,
        .linger_deadline = -1,
    };
    relay->end = TLS_RELAY_RUNNING;
    deadline_node_init(&relay->deadline);
    relay->link = (struct list_link){NULL, NULL};
    relay->next_handed = NULL;
    if (!relay_init_engine(relay)) {
        wipe(relay, sizeof(*relay));
        free(relay);
        return NULL;
    }
    return relay;
}

void tls_relay_destroy(struct tls_relay *relay)
{
    close(relay->tcp.fd);
    close(relay->plain.fd);
    const struct tls_peer_gate *peers = relay->shared->peers;
    if (peers != NULL && peers->release != NULL) {
        peers->release(peers->ctx, &relay->peer.sa);
    }
    wipe(relay, sizeof(*relay));
    free(relay);
}

/* Moves bytes between a socket and one of the engine's four buffers.
 * Returns the count moved, 0 for EOF, -1 for an error, and -2 when the
 * socket has nothing for us right now (then the readiness is used up). */
static ssize_t move_bytes(struct tls_relay_socket *socket, unsigned char *buf, size_t len,
                          bool sending)
{
    ssize_t n = sending ? send(socket->fd, buf, len, MSG_NOSIGNAL) : recv(socket->fd, buf, len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        socket->ready &= sending ? ~(uint32_t)EPOLLOUT : ~(uint32_t)EPOLLIN;
        return -2;
    }
    return n;
}

static void relay_http_gone(struct tls_relay_progress *progress, int64_t now_ms)
{
    if (progress->flush_deadline < 0) {
        progress->flush_deadline = now_ms + TLS_CLOSE_FLUSH_MS;
    }
}

/* Counts a finished handshake as full or resumed, for /metrics. */
static void relay_count_handshake(struct tls_relay *relay)
{
    struct tls_relay_shared *shared = relay->shared;
    bool resumed = shared->sessions != NULL && tls_session_handle_resumed(&relay->session);
    atomic_fetch_add_explicit(resumed ? &shared->handshakes_resumed : &shared->handshakes_full, 1,
                              memory_order_relaxed);
}

/* Why a closed engine ended. */
static enum tls_relay_end closed_end(struct tls_relay *relay)
{
    if (relay->progress.http_closed) {
        return TLS_RELAY_HTTP_CLOSED;
    }
    return br_ssl_engine_last_error(&relay->ssl.eng) == BR_ERR_OK ? TLS_RELAY_CLIENT_CLOSED
                                                                  : TLS_RELAY_TLS_ERROR;
}

/* After close_notify: the sending side is shut down (the client reads
 * the end of the stream after everything sent), and what the client still
 * sends is read and dropped, so that closing never resets the connection
 * under an answer the client has not read. Over when the client closes
 * (or resets), or at the linger deadline (tls_relay_deadline). */
static enum tls_relay_end relay_linger(struct tls_relay *relay, int64_t now_ms, bool *moved)
{
    struct tls_relay_progress *progress = &relay->progress;
    if (!progress->lingering) {
        progress->lingering = true;
        progress->linger_deadline = now_ms + TLS_LINGER_MS;
        if (shutdown(relay->tcp.fd, SHUT_WR) != 0) {
            return TLS_RELAY_HTTP_CLOSED; /* the client is gone already */
        }
    }
    unsigned char discard[4096];
    while (relay->tcp.ready & EPOLLIN) {
        ssize_t n = move_bytes(&relay->tcp, discard, sizeof(discard), false);
        if (n == 0 || n == -1) {
            return TLS_RELAY_HTTP_CLOSED;
        }
        if (n > 0) {
            *moved = true;
        }
    }
    return TLS_RELAY_RUNNING;
}

/* One pass over the four directions, each where the engine and the socket
 * are both ready. Sets *moved when any byte moved. */
static enum tls_relay_end relay_pass(struct tls_relay *relay, int64_t now_ms, bool *moved)
{
    br_ssl_engine_context *engine = &relay->ssl.eng;
    struct tls_relay_progress *progress = &relay->progress;
    size_t len;
    unsigned char *buf;
    ssize_t n;
    *moved = false;

    unsigned state = br_ssl_engine_current_state(engine);
    if (progress->lingering || (progress->http_closed && !(state & BR_SSL_SENDREC))) {
        /* close_notify sent; the peer's is not waited for. */
        return relay_linger(relay, now_ms, moved);
    }
    if (state & BR_SSL_CLOSED) {
        return closed_end(relay);
    }
    if (!progress->handshake_done && (state & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))) {
        progress->handshake_done = true;
        relay_count_handshake(relay);
    }
    if ((state & BR_SSL_SENDREC) && (relay->tcp.ready & EPOLLOUT)) {
        buf = br_ssl_engine_sendrec_buf(engine, &len);
        n = move_bytes(&relay->tcp, buf, len, true);
        if (n == -1 || n == 0) {
            return TLS_RELAY_CLIENT_CLOSED;
        }
        if (n > 0) {
            br_ssl_engine_sendrec_ack(engine, (size_t)n);
            progress->send_blocked_since = -1; /* the client is taking bytes */
            *moved = true;
        }
    }
    state = br_ssl_engine_current_state(engine);
    if ((state & BR_SSL_RECVREC) && (relay->tcp.ready & EPOLLIN)) {
        buf = br_ssl_engine_recvrec_buf(engine, &len);
        n = move_bytes(&relay->tcp, buf, len, false);
        if (n == -1 || n == 0) {
            return TLS_RELAY_CLIENT_CLOSED;
        }
        if (n > 0) {
            br_ssl_engine_recvrec_ack(engine, (size_t)n);
            *moved = true;
        }
    }
    state = br_ssl_engine_current_state(engine);
    if ((state & BR_SSL_RECVAPP) && progress->http_refuses) {
        br_ssl_engine_recvapp_buf(engine, &len);
        br_ssl_engine_recvapp_ack(engine, len); /* nobody will read it */
        *moved = true;
    } else if ((state & BR_SSL_RECVAPP) && (relay->plain.ready & EPOLLOUT)) {
        buf = br_ssl_engine_recvapp_buf(engine, &len);
        n = move_bytes(&relay->plain, buf, len, true);
        if (n == -1 || n == 0) {
            /* The HTTP side closed while the client still sent (it
             * answered an oversized request early, say): the rest of the
             * request is dropped, and the answer it wrote before closing
             * is still read and delivered below. */
            progress->http_refuses = true;
            *moved = true;
        } else if (n > 0) {
            br_ssl_engine_recvapp_ack(engine, (size_t)n);
            *moved = true;
        }
    }
    state = br_ssl_engine_current_state(engine);
    if ((state & BR_SSL_SENDAPP) && !progress->http_closed && (relay->plain.ready & EPOLLIN)) {
        buf = br_ssl_engine_sendapp_buf(engine, &len);
        n = move_bytes(&relay->plain, buf, len, false);
        if (n > 0) {
            br_ssl_engine_sendapp_ack(engine, (size_t)n);
            /* Send the record now: an HTTP response must not wait for
             * BearSSL's buffer to fill up. */
            br_ssl_engine_flush(engine, 0);
            *moved = true;
        } else if (n == 0 || n == -1) {
            progress->http_closed = true;
            br_ssl_engine_close(engine);
            relay_http_gone(progress, now_ms);
            *moved = true;
        }
    }
    return TLS_RELAY_RUNNING;
}

/* Moves bytes until nothing more can move (or the round limit), then notes
 * whether records wait for the client. */
static enum tls_relay_end relay_pump(struct tls_relay *relay, int64_t now_ms)
{
    for (int round = 0; round < TLS_RELAY_MAX_ROUNDS; round++) {
        bool moved;
        enum tls_relay_end end = relay_pass(relay, now_ms, &moved);
        if (end != TLS_RELAY_RUNNING) {
            return end;
        }
        if (!moved) {
            break;
        }
    }
    struct tls_relay_progress *progress = &relay->progress;
    if (progress->lingering) {
        return TLS_RELAY_RUNNING; /* the engine's part is over */
    }
    unsigned state = br_ssl_engine_current_state(&relay->ssl.eng);
    if (state & BR_SSL_CLOSED) {
        return closed_end(relay);
    }
    if (!(state & BR_SSL_SENDREC)) {
        progress->send_blocked_since = -1;
    } else if (progress->send_blocked_since < 0) {
        progress->send_blocked_since = now_ms;
    }
    return TLS_RELAY_RUNNING;
}

enum tls_relay_end tls_relay_on_events(struct tls_relay *relay, struct tls_relay_socket *socket,
                                       uint32_t events, int64_t now_ms)
{
    if (socket == &relay->tcp && (events & (EPOLLERR | EPOLLHUP))) {
        /* Nothing can reach the client any more, whatever the engine waits
         * for. (A client's FIN alone is EPOLLIN, read as the end of input.) */
        relay->end = TLS_RELAY_CLIENT_CLOSED;
        return relay->end;
    }
    socket->ready |= events & (EPOLLIN | EPOLLOUT);
    if (socket == &relay->plain && (events & (EPOLLERR | EPOLLHUP))) {
        /* The HTTP side went away (idle timeout, shutdown). A read gives
         * what it wrote last, then EOF; a write fails: let the I/O say. */
        socket->ready |= EPOLLIN | EPOLLOUT;
        if (!(br_ssl_engine_current_state(&relay->ssl.eng) & BR_SSL_SENDAPP)) {
            /* BearSSL cannot take data: during the handshake there is
             * nothing left to serve; after it, what the HTTP side wrote
             * last still gets the flush time. */
            if (!relay->progress.handshake_done) {
                relay->end = TLS_RELAY_HTTP_CLOSED;
                return relay->end;
            }
            relay->progress.http_hungup = true;
            relay_http_gone(&relay->progress, now_ms);
        }
    }
    relay->end = relay_pump(relay, now_ms);
    return relay->end;
}

void tls_relay_interest(const struct tls_relay *relay, uint32_t *tcp_events, bool *watch_plain,
                        uint32_t *plain_events)
{
    /* The const engine is only read; BearSSL's accessor takes no const. */
    unsigned state = br_ssl_engine_current_state((br_ssl_engine_context *)&relay->ssl.eng);
    const struct tls_relay_progress *progress = &relay->progress;
    *tcp_events = progress->lingering ? EPOLLIN
                                      : ((state & BR_SSL_SENDREC) ? EPOLLOUT : 0u) |
                                            ((state & BR_SSL_RECVREC) ? EPOLLIN : 0u);
    /* Once the HTTP side hung up, its socket is only watched while BearSSL
     * can take its remaining bytes. */
    *watch_plain = !progress->http_closed && (!progress->http_hungup || (state & BR_SSL_SENDAPP));
    *plain_events = ((state & BR_SSL_RECVAPP) && !progress->http_refuses ? EPOLLOUT : 0u) |
                    ((state & BR_SSL_SENDAPP) && !progress->http_closed ? EPOLLIN : 0u);
}

int64_t tls_relay_deadline(const struct tls_relay *relay, enum tls_relay_end *why)
{
    const struct tls_relay_progress *progress = &relay->progress;
    if (progress->lingering) {
        *why = TLS_RELAY_HTTP_CLOSED; /* everything was delivered */
        return progress->linger_deadline;
    }
    if (!progress->handshake_done) {
        *why = TLS_RELAY_HANDSHAKE_TIMEOUT;
        return progress->handshake_deadline;
    }
    if (progress->flush_deadline >= 0) {
        *why = TLS_RELAY_FLUSH_TIMEOUT;
        return progress->flush_deadline;
    }
    if (progress->send_blocked_since >= 0) {
        *why = TLS_RELAY_CLIENT_STALLED;
        return progress->send_blocked_since + relay->shared->idle_timeout_ms;
    }
    return -1;
}
