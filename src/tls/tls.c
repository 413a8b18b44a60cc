/*
 * tls.c - the BearSSL terminator; see tls.h for the data path.
 *
 * One listener thread accepts, makes the socketpair, hands one end to the
 * HTTP daemon and the relay (tls_relay.h) to the least loaded of a fixed
 * set of relay loops (tls_loop.h), each an epoll thread driving many
 * relays. The connection cap bounds the memory, not the threads.
 */
#define _GNU_SOURCE
#include "tls.h"

#include "alloc_trim.h"
#include "clock.h"
#include "log_throttle.h"
#include "net_addr.h"
#include "tls_loop.h"
#include "tls_relay.h"
#include "tls_session_cache.h"

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
#include <unistd.h>

#define TLS_LISTEN_BACKLOG  1024
#define TLS_DESTROY_POLL_MS 10
/* accept4() failing for want of descriptors or memory fails again at once
 * while the connection waits in the backlog: pause, doubling up to the
 * maximum, instead of spinning. */
#define TLS_ACCEPT_BACKOFF_MIN_MS 10
#define TLS_ACCEPT_BACKOFF_MAX_MS 1000

struct tls_server {
    int listen_fd;
    int wake_pipe[2]; /* written to stop the listener's poll() */
    pthread_t listener;
    bool listener_started;
    struct tls_server_options options;
    tls_handoff_fn handoff;
    void *handoff_ctx;
    struct logger log;                 /* a copy, so relays never reach into the caller's frame */
    struct tls_session_cache sessions; /* unused when options.session_cache_entries is 0 */
    struct tls_relay_shared relay_shared;
    struct tls_loop *loops;
    unsigned loop_count; /* started (or tried): each needs tls_loop_stop() */
    atomic_uint active;
    /* Touched by the listener thread only. */
    struct log_throttle refusals;      /* at the TLS connection cap */
    struct log_throttle peer_refusals; /* over the per-address limit */
    struct log_throttle drops;         /* socketpair or engine failures */
    struct log_throttle accept_errors; /* EMFILE and the like */
};

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
    log_throttle_message(&server->log, &server->refusals, LOG_INFO,
                         "refused a TLS connection from %s: %u TLS connections open, the limit",
                         address, server->options.max_connections);
    if (server->options.metrics != NULL) {
        metrics_record_connection_refusal(server->options.metrics, METRICS_REFUSED_TLS_LIMIT);
    }
}

/* The per-address gate, asked before the connection takes anything shared:
 * false after refusing it (closed unanswered, logged throttled, counted). */
static bool admit_peer(struct tls_server *server, int tcp_fd, const struct sockaddr_storage *peer)
{
    const struct tls_peer_gate *peers = &server->options.peers;
    if (peers->admit == NULL || peers->admit(peers->ctx, (const struct sockaddr *)peer)) {
        return true;
    }
    char client[NET_ADDR_CLIENT_MAX];
    close(tcp_fd);
    net_addr_format_client((const struct sockaddr *)peer, server->options.ipv6_prefix_length,
                           client, sizeof(client));
    log_throttle_message(&server->log, &server->peer_refusals, LOG_INFO,
                         "refused a TLS connection from %s: over the limit of %u per address",
                         client, server->options.max_connections_per_ip);
    if (server->options.metrics != NULL) {
        metrics_record_connection_refusal(server->options.metrics, METRICS_REFUSED_PER_ADDRESS);
    }
    return false;
}

/* Undoes admit_peer() for a connection that ends before it has a relay. */
static void release_peer(struct tls_server *server, const struct sockaddr_storage *peer)
{
    const struct tls_peer_gate *peers = &server->options.peers;
    if (peers->release != NULL) {
        peers->release(peers->ctx, (const struct sockaddr *)peer);
    }
}

/* The loop with the fewest relays: a loop busy with handshakes gets
 * fewer new ones. */
static struct tls_loop *least_loaded(struct tls_server *server)
{
    struct tls_loop *best = &server->loops[0];
    unsigned best_load = tls_loop_load(best);
    for (unsigned i = 1; i < server->loop_count && best_load > 0; i++) {
        unsigned load = tls_loop_load(&server->loops[i]);
        if (load < best_load) {
            best = &server->loops[i];
            best_load = load;
        }
    }
    return best;
}

/* One accepted TCP connection, admitted by the per-address gate: make the
 * socketpair, set up the relay, hand one end to HTTP and the relay to a
 * loop. Closes everything and releases the peer on any failure. */
static void serve_connection(struct tls_server *server, int tcp_fd,
                             const struct sockaddr_storage *peer, socklen_t peer_len)
{
    if (atomic_fetch_add(&server->active, 1) >= server->options.max_connections) {
        atomic_fetch_sub(&server->active, 1);
        release_peer(server, peer);
        refuse_over_limit(server, tcp_fd, peer);
        return;
    }
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
        log_throttle_message(&server->log, &server->drops, LOG_WARN, "tls connection dropped: %s",
                             strerror(errno));
        close(tcp_fd);
        release_peer(server, peer);
        atomic_fetch_sub(&server->active, 1);
        return;
    }
    struct tls_relay *relay = tls_relay_create(&server->relay_shared, tcp_fd, pair[0],
                                               (const struct sockaddr *)peer, clock_monotonic_ms());
    if (relay == NULL) {
        log_throttle_message(&server->log, &server->drops, LOG_WARN,
                             "tls connection dropped: out of memory or engine setup failed");
        close(tcp_fd);
        close(pair[0]);
        close(pair[1]);
        release_peer(server, peer);
        atomic_fetch_sub(&server->active, 1);
        return;
    }
    if (!server->handoff(server->handoff_ctx, pair[1], (const struct sockaddr *)peer, peer_len)) {
        /* The HTTP layer refused (e.g. the per-address limit) and closed
         * its end; nothing was relayed yet. */
        log_message(&server->log, LOG_DEBUG, "tls connection refused by the http layer");
        tls_relay_destroy(relay); /* releases the peer */
        atomic_fetch_sub(&server->active, 1);
        return;
    }
    tls_loop_add(least_loaded(server), relay);
}

/* accept4() errors that mean "no resources right now": retrying at once
 * fails the same way while the connection waits in the backlog. */
static bool accept_out_of_resources(int error)
{
    return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

/* How long the listener may wait: the accept backoff if one runs; else
 * for ever, or ALLOC_TRIM_CHECK_MS while a trim may become due. */
static int listener_timeout_ms(int backoff_ms, const struct alloc_trim *trim)
{
    if (backoff_ms != 0) {
        return backoff_ms;
    }
    return alloc_trim_pending(trim) ? ALLOC_TRIM_CHECK_MS : -1;
}

static void *listener_main(void *arg)
{
    struct tls_server *server = arg;
    int backoff_ms = 0; /* 0: accepting; else the pause before the next try */
    /* This thread allocates every relay and, through
     * MHD_add_connection(), the library's record of its connection; the
     * loop and worker threads free them into this thread's heap, which only
     * this thread can give back (alloc_trim.h). */
    struct alloc_trim trim = {0};
    for (;;) {
        struct pollfd fds[2] = {{.fd = server->listen_fd, .events = backoff_ms ? 0 : POLLIN},
                                {.fd = server->wake_pipe[0], .events = POLLIN}};
        int ready = poll(fds, 2, listener_timeout_ms(backoff_ms, &trim));
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            log_message(&server->log, LOG_ERROR, "tls listener: poll: %s", strerror(errno));
            return NULL;
        }
        if (fds[1].revents != 0) {
            return NULL; /* asked to stop */
        }
        if (alloc_trim_due(&trim, atomic_load(&server->active))) {
            alloc_trim_thread();
            if (server->options.metrics != NULL) {
                metrics_record_allocator_trim(server->options.metrics, METRICS_TRIM_TLS_LISTENER);
            }
        }
        if (ready == 0 && backoff_ms == 0) {
            continue; /* woken only to look at the trim */
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
            log_throttle_message(&server->log, &server->accept_errors, LOG_WARN,
                                 "tls accept: %s; retrying with a pause of up to %d ms%s",
                                 strerror(error), TLS_ACCEPT_BACKOFF_MAX_MS,
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
        if (admit_peer(server, fd, &peer)) {
            serve_connection(server, fd, &peer, peer_len);
        }
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

/* Stops the loops (ending their relays) and frees what
 * tls_server_start() allocated, the session cache wiped. */
static void server_free(struct tls_server *server)
{
    for (unsigned i = 0; i < server->loop_count; i++) {
        tls_loop_stop(&server->loops[i]);
    }
    free(server->loops);
    if (server->options.session_cache_entries != 0) {
        tls_session_cache_destroy(&server->sessions);
    }
    free(server);
}

static bool start_loops(struct tls_server *server, char *err, size_t err_size)
{
    unsigned count = server->options.threads == 0 ? 1 : server->options.threads;
    server->loops = calloc(count, sizeof(*server->loops));
    if (server->loops == NULL) {
        snprintf(err, err_size, "out of memory");
        return false;
    }
    for (unsigned i = 0; i < count; i++) {
        server->loop_count = i + 1;
        /* Each loop's heap has room for every connection the cap admits,
         * since the least loaded loop may get them all. */
        if (!tls_loop_start(&server->loops[i], server->options.max_connections, &server->active,
                            &server->log, err, err_size)) {
            return false;
        }
    }
    return true;
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
    server->handoff = handoff;
    server->handoff_ctx = handoff_ctx;
    server->log = *log;
    atomic_init(&server->active, 0);
    server->relay_shared.creds = creds;
    server->relay_shared.peers = &server->options.peers;
    server->relay_shared.handshake_timeout_ms = (int64_t)options->handshake_timeout_s * 1000;
    server->relay_shared.idle_timeout_ms = (int64_t)options->idle_timeout_s * 1000;
    atomic_init(&server->relay_shared.handshakes_full, 0);
    atomic_init(&server->relay_shared.handshakes_resumed, 0);
    server->wake_pipe[0] = server->wake_pipe[1] = -1;
    server->listen_fd = -1;
    if (options->session_cache_entries != 0) {
        if (!tls_session_cache_init(&server->sessions, options->session_cache_entries)) {
            snprintf(err, err_size, "cannot allocate a TLS session cache of %u entries",
                     options->session_cache_entries);
            server->options.session_cache_entries = 0; /* nothing to destroy */
            server_free(server);
            return NULL;
        }
        server->relay_shared.sessions = &server->sessions;
    }
    server->listen_fd = open_listener(options->bind, options->port, err, err_size);
    if (server->listen_fd < 0) {
        server_free(server);
        return NULL;
    }
    if (!start_loops(server, err, err_size)) {
        /* err says why */
    } else if (pipe2(server->wake_pipe, O_CLOEXEC) != 0) {
        snprintf(err, err_size, "pipe: %s", strerror(errno));
    } else if (pthread_create(&server->listener, NULL, listener_main, server) != 0) {
        snprintf(err, err_size, "cannot start the TLS listener thread");
    } else {
        server->listener_started = true;
        return server;
    }
    close(server->listen_fd);
    close_pipe(server->wake_pipe);
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

/* Waits until no relay is left or timeout_ms has passed. Returns whether
 * none is left. */
static bool no_relay_open(const void *server)
{
    return tls_server_active(server) == 0;
}

static bool wait_for_relays(const struct tls_server *server, unsigned timeout_ms)
{
    return clock_wait_until(no_relay_open, server, timeout_ms, TLS_DESTROY_POLL_MS);
}

void tls_server_destroy(struct tls_server *server, unsigned flush_ms)
{
    tls_server_stop_accepting(server);
    if (!wait_for_relays(server, flush_ms)) {
        log_message(&server->log, LOG_INFO, "ending %u tls connections still delivering",
                    atomic_load(&server->active));
    }
    close_pipe(server->wake_pipe);
    /* Stopping a loop ends its relays and joins its thread: after this no
     * relay touches the credentials, the cache or the handoff context. */
    server_free(server);
}

unsigned tls_server_active(const struct tls_server *server)
{
    return atomic_load(&server->active);
}

void tls_server_stats(const struct tls_server *server, struct tls_server_stats *stats)
{
    stats->open_connections = atomic_load(&server->active);
    stats->handshakes_full =
        atomic_load_explicit(&server->relay_shared.handshakes_full, memory_order_relaxed);
    stats->handshakes_resumed =
        atomic_load_explicit(&server->relay_shared.handshakes_resumed, memory_order_relaxed);
    stats->threads = server->loop_count;
}
