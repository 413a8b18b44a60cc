/*
 * http.c - the request lifecycle on libmicrohttpd; see http.h for the
 * contract. Routing (http_routing.c), the answers a request's head alone
 * decides (http_admission.c), putting answers on the wire
 * (http_response.c), the handler's view of its request (http_request.c),
 * the request deadline (http_deadline.c), the watch on deferred requests'
 * clients (http_hangup.c) and the reading of libmicrohttpd's messages
 * (http_mhd_messages.c) are modules of their own; this file wires them to
 * the daemon's callbacks.
 *
 * A connection over the per-address limit never gets this far: the accept
 * policy (on_accept) refuses it before libmicrohttpd sets it up.
 *
 * A request as libmicrohttpd drives it:
 *   1st call of on_request: allocate per-request state, return MHD_YES.
 *      Queueing a response here would make libmicrohttpd close the
 *      connection (it cannot know yet whether a body follows), which
 *      measured 4x fewer requests/s here; so the answer always waits.
 *      Some requests are answered right here instead: an invalid Host
 *      (400), a target over max_url_length (414), and a Content-Length
 *      body (404, 405, 501 or 413), since no endpoint takes one.
 *   a call with a piece of a chunked body: 413 (the patched library lets
 *      it be queued then). A chunked body that turns out empty (a lone
 *      "0" chunk) never makes this call, and the request is served.
 *   final call (no upload data): route, run the handler, queue its answer,
 *      or suspend the connection for a deferred handler.
 *   while suspended: libmicrohttpd no longer watches the socket, so the
 *      hangup watch (http_hangup.h) does, to tell a deferred handler that its
 *      client left (http_deferred_client_gone); such a request is logged
 *      as 499 client_closed.
 *   after resume: the final call runs again and queues the stored answer.
 *   on_completed: write the access log line, count it, free the state.
 * A request libmicrohttpd refuses itself (a malformed request, headers over
 * the connection's memory) never reaches on_request; on_completed still
 * runs for it (the patched library makes sure, see patches/libmicrohttpd/)
 * and counts it with the status the library reports.
 *
 * Shutdown: once it begins, every response says "Connection: close" and
 * the deadline registry ends idle connections at once. The server is idle
 * when no request is in flight and no connection is left, so the daemon
 * never stops under a request it has taken in, nor with a suspended
 * connection (which makes libmicrohttpd abort the process).
 */
#include "http_internal.h"

#include "http_hangup.h"
#include "array.h"
#include "clock.h"
#include "http_deadline.h"
#include "http_host.h"
#include "http_mhd_messages.h"
#include "http_peer_limit.h"
#include "http_routing.h"
#include "log_throttle.h"
#include "net_addr.h"
#include "threads.h"

#include <microhttpd.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HTTP_IDLE_POLL_MS 10u

struct query_collector {
    struct param_pair pairs[HTTP_MAX_QUERY_PARAMS];
    size_t count;
    bool too_many;
    bool nul_in_key;
};

static enum MHD_Result collect_query_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                           size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    struct query_collector *query = cls;
    if (strlen(key) != key_size) {
        query->nul_in_key = true;
        return MHD_NO;
    }
    if (query->count == HTTP_MAX_QUERY_PARAMS) {
        query->too_many = true;
        return MHD_NO;
    }
    query->pairs[query->count++] =
        (struct param_pair){.key = key, .value = value, .value_len = value_size};
    return MHD_YES;
}

/* The final call: decide the answer, or hand the request to a deferred
 * handler. */
static enum MHD_Result dispatch(struct request_state *state, const char *url, const char *method)
{
    struct http_server *server = state->server;
    struct http_response answer = {0};
    enum MHD_Result queued = MHD_NO;
    const struct http_route *route = http_route_or_answer(state, url, method, &queued);
    if (route == NULL) {
        return queued;
    }
    struct query_collector query = {0};
    MHD_get_connection_values_n(state->connection, MHD_GET_ARGUMENT_KIND, collect_query_param,
                                &query);
    if (query.too_many || query.nul_in_key) {
        http_response_error(&answer, HTTP_STATUS_BAD_REQUEST,
                            query.too_many ? "too many query parameters"
                                           : "query parameter name contains a NUL byte",
                            NULL);
        return http_queue_answer(state, &answer, NULL);
    }
    if (route->fixed_body != NULL) {
        return http_queue_fixed(state, route);
    }
    struct http_request request = {
        .method = method,
        .path = url,
        .query = query.pairs,
        .query_count = query.count,
        .peer = state->peer,
        .client = state->client,
        .internal = state,
    };
    route->handler(server->app, &request, &answer);
    if (atomic_load(&state->phase) != PHASE_NEW) {
        return MHD_YES; /* deferred: http_deferred_complete() will answer */
    }
    return http_queue_answer(state, &answer, NULL);
}

static const struct sockaddr *peer_address(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info != NULL ? info->client_addr : NULL;
}

/* Copies the NUL-terminated `src` into `dst` of `size` bytes, cut short
 * if it does not fit. */
static void copy_truncated(char *dst, size_t size, const char *src)
{
    size_t len = 0;
    /* a plain loop: these are short, and a call to strnlen() costs more */
    while (len + 1 < size && src[len] != '\0') {
        dst[len] = src[len];
        len++;
    }
    dst[len] = '\0';
}

static struct request_state *new_request_state(struct http_server *server,
                                               struct MHD_Connection *connection,
                                               struct http_conn *conn, const char *url,
                                               const char *method)
{
    /* A connection without a record is being shut down unserved; its
     * request still gets a state of its own, to be answered and logged. */
    struct request_state *state = conn != NULL ? &conn->request : malloc(sizeof(*state));
    if (state == NULL) {
        return NULL;
    }
    *state = (struct request_state){
        .server = server,
        .connection = connection,
        .route_index = -1,
        .start_ns = clock_monotonic_ns(),
        .peer = conn != NULL ? conn->peer : "unknown",
        .client = conn != NULL ? conn->client : "unknown",
        .heap_allocated = conn == NULL,
    };
    atomic_init(&state->phase, PHASE_NEW);
    atomic_init(&state->client_gone, false);
    copy_truncated(state->method, sizeof(state->method), method);
    copy_truncated(state->path, sizeof(state->path), url);
    atomic_fetch_add(&server->inflight, 1);
    return state;
}

/* The connection's record, or NULL if it could not be allocated (such a
 * connection is shut down as soon as it opens). */
static struct http_conn *conn_record(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    struct http_server *server = cls;
    struct request_state *state = *req_cls;
    if (state == NULL) {
        /* The headers are complete: the request deadline no longer runs. */
        struct http_conn *conn = conn_record(connection);
        if (conn != NULL) {
            http_deadline_pause(&conn->deadline);
        }
        state = new_request_state(server, connection, conn, url, method);
        if (state == NULL) {
            return MHD_NO;
        }
        *req_cls = state;
        return http_judge_head(state, conn, url, method);
    }
    enum request_phase phase = atomic_load(&state->phase);
    if (*upload_data_size != 0) {
        /* A piece of a chunked body (the only kind judge_head lets in):
         * not empty after all. */
        *upload_data_size = 0;
        return phase == PHASE_NEW ? http_refuse_body(state, http_origin_path(url), method)
                                  : MHD_YES;
    }
    switch (phase) {
    case PHASE_NEW:
        return dispatch(state, http_origin_path(url), method);
    case PHASE_READY:
        return http_queue_answer(state, &state->answer, NULL);
    case PHASE_SUSPENDED:
    case PHASE_ANSWERED:
        return MHD_YES;
    }
    return MHD_NO;
}

/* True when the client left before the answer was out: the hangup watch
 * saw it during a deferred request, or libmicrohttpd saw it otherwise. */
static bool client_closed(struct request_state *state, enum MHD_RequestTerminationCode code)
{
    return atomic_load(&state->client_gone) || code == MHD_REQUEST_TERMINATED_CLIENT_ABORT ||
           code == MHD_REQUEST_TERMINATED_READ_ERROR;
}

/* The status of the answer libmicrohttpd queued itself (a refusal: a
 * malformed request or chunk, headers over the memory), or 0 if it could
 * not even do that and just closed. */
static unsigned library_status(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_HTTP_STATUS);
    return info != NULL ? info->http_status : 0;
}

/* Counts a worker's trim, if it made one. */
static void note_trim(struct http_server *server, bool trimmed)
{
    if (trimmed && server->metrics != NULL) {
        metrics_record_allocator_trim(server->metrics, METRICS_TRIM_HTTP_WORKER);
    }
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct http_server *server = cls;
    struct request_state *state = *req_cls;
    /* The response is out (or the connection is closing): the clock for
     * the next request on this connection starts now. */
    struct http_conn *conn = conn_record(connection);
    if (conn != NULL) {
        http_deadline_restart(&conn->deadline);
        if (conn->request_counted) {
            conn->request_counted = false;
            note_trim(server, http_workers_request_ended(&server->workers));
        }
    }
    unsigned refused = 0;
    if (state == NULL || state->status == 0) {
        /* No answer of ours: the library's, if any, is a refusal, counted
         * as one (its log line comes from the library's message, which
         * says why: on_mhd_message). */
        refused = library_status(connection);
        if (refused != 0 && server->metrics != NULL) {
            metrics_record_refusal(server->metrics, refused);
        }
    }
    if (state == NULL) {
        return;
    }
    bool gone = client_closed(state, code);
    struct log_access_entry entry = {
        .peer = state->peer,
        .method = state->method,
        .path = state->path,
        /* A request the library refused after its first call here (a
         * malformed chunk, say) is logged with the library's status. */
        .status = gone ? HTTP_STATUS_CLIENT_CLOSED : (state->status != 0 ? state->status : refused),
        .duration_us = (clock_monotonic_ns() - state->start_ns) / 1000u,
        .client_closed = gone,
    };
    log_access(server->log, &entry);
    /* A refusal is counted as one above, not as a routed request. */
    bool refusal = !gone && state->status == 0;
    if (server->metrics != NULL && entry.status != 0 && !refusal) {
        metrics_record_request(server->metrics, state->route_index, entry.status,
                               entry.duration_us);
    }
    free(state->answer.body); /* set only if a deferred answer was never sent */
    if (state->heap_allocated) {
        free(state);
    }
    *req_cls = NULL;
    atomic_fetch_sub(&server->inflight, 1);
}

/* Called once the request line is in, before the headers: only the raw
 * target's length and validity are kept, for the 414 and 400 checks. The
 * return value becomes the request's *req_cls, which on_request fills in
 * itself. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *connection)
{
    struct http_server *server = cls;
    struct http_conn *conn = conn_record(connection);
    if (conn != NULL) {
        conn->target_len = strlen(uri);
        conn->target_valid = http_target_valid(uri);
        if (!conn->request_counted) {
            conn->request_counted = true;
            http_workers_request_began(&server->workers);
        }
    }
    return NULL;
}

/* A connection over the per-address limit is refused: closed at once,
 * unanswered, so that it costs no slot beyond this moment (a flood of new
 * connections from one address must not crowd out the others). Logged at
 * info level, at most one line per LOG_THROTTLE_INTERVAL_MS with the count
 * of the others (a flood would otherwise be a flood of lines), and
 * counted. Called by the accept policy and the connection callback, from
 * every worker and the TLS listener. */
static void note_over_limit(struct http_server *server, const struct sockaddr *peer)
{
    char client[NET_ADDR_CLIENT_MAX];
    net_addr_format_client(peer, server->ipv6_prefix_length, client, sizeof(client));
    pthread_mutex_lock(&server->refusal_lock);
    log_throttle_message(server->log, &server->refusals, LOG_INFO,
                         "refused a connection from %s: over the limit of %u per address", client,
                         server->max_connections_per_ip);
    pthread_mutex_unlock(&server->refusal_lock);
    if (server->metrics != NULL) {
        metrics_record_connection_refusal(server->metrics, METRICS_REFUSED_PER_ADDRESS);
    }
}

/* libmicrohttpd's accept policy: asked before a connection is set up, so a
 * refused one never takes a connection slot, a memory pool or a thread's
 * attention. Only a look: the connection is counted when it starts
 * (on_connection), since the library may still drop it between the two. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct http_server *server = cls;
    if (http_peer_limit_admits(&server->peer_limit, addr)) {
        return MHD_YES;
    }
    note_over_limit(server, addr);
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *server = cls;
    struct http_conn *conn = *socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info == NULL) {
            return; /* cannot happen: the descriptor is known by now */
        }
        /* Copied at once: libmicrohttpd answers every query in the same
         * union, which the address query below overwrites. */
        const int fd = info->connect_fd;
        conn = calloc(1, sizeof(*conn));
        if (conn == NULL) {
            /* Without a record no deadline could be enforced: refuse the
             * connection rather than serve it unprotected. */
            shutdown(fd, SHUT_RDWR);
            return;
        }
        net_addr_format(peer_address(connection), conn->peer, sizeof(conn->peer));
        net_addr_format_client(peer_address(connection), server->ipv6_prefix_length, conn->client,
                               sizeof(conn->client));
        http_deadline_add(&server->deadline, &conn->deadline, fd);
        http_workers_opened(&server->workers);
        *socket_context = conn;
        if (!http_peer_limit_acquire(&server->peer_limit, peer_address(connection))) {
            /* Admitted by on_accept, but others from the address started
             * meanwhile on other threads: refused now, before it is read. */
            conn->over_limit = true;
            note_over_limit(server, peer_address(connection));
            shutdown(fd, SHUT_RDWR);
        }
        return;
    }
    if (conn == NULL) {
        return;
    }
    if (!conn->over_limit) {
        http_peer_limit_release(&server->peer_limit, peer_address(connection));
    }
    http_deadline_remove(&server->deadline, &conn->deadline);
    free(conn);
    *socket_context = NULL;
    note_trim(server, http_workers_closed(&server->workers));
}

/* libmicrohttpd's own diagnostics. During startup they explain failures;
 * afterwards they are per-connection details (timeouts, resets) that a
 * client can trigger at will, so they are logged at debug level to keep an
 * attack from flooding the log. A request the library answers itself is
 * the exception: like an access line, one info line with the reason. */
static void on_mhd_message(void *cls, const char *fmt, va_list args)
{
    struct http_server *server = cls;
    struct http_mhd_message message;
    http_mhd_message_read(fmt, args, &message);
    switch (message.kind) {
    case HTTP_MHD_MESSAGE_NOISE:
        return;
    case HTTP_MHD_MESSAGE_REFUSAL:
        log_message(server->log, LOG_INFO, "libmicrohttpd refused a request: %u %s", message.status,
                    message.text);
        return;
    case HTTP_MHD_MESSAGE_OTHER:
        if (server->starting) {
            /* Logged by the caller, through the logger, which escapes it. */
            snprintf(server->start_error, sizeof(server->start_error), "%s", message.text);
            return;
        }
        log_message(server->log, LOG_DEBUG, "libmicrohttpd: %s", message.text);
        return;
    }
}

/* Stops and frees whatever of `server` was set up: its deadline registry and
 * per-address limit at least, the rest when not NULL. */
static void discard_server(struct http_server *server)
{
    if (server->daemon != NULL) {
        MHD_stop_daemon(server->daemon);
    }
    http_deadline_destroy(&server->deadline);
    if (server->hangups != NULL) {
        http_hangup_watch_stop(server->hangups);
    }
    http_peer_limit_destroy(&server->peer_limit);
    pthread_mutex_destroy(&server->refusal_lock);
    http_workers_destroy(&server->workers);
    http_fixed_responses_free(server);
    free(server);
}

struct http_server *http_server_start(const struct http_server_options *options,
                                      const struct http_route *routes, size_t route_count,
                                      void *app, const struct logger *log, char *err,
                                      size_t err_size)
{
    struct net_addr address;
    if (!net_addr_parse(options->bind, options->port, &address)) {
        snprintf(err, err_size, "bind: \"%s\" is not an IPv4 or IPv6 address", options->bind);
        return NULL;
    }
    struct http_server *server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    server->routes = routes;
    server->route_count = route_count;
    server->app = app;
    server->log = log;
    server->metrics = options->metrics;
    server->max_url_length = options->max_url_length;
    server->max_connections_per_ip = options->max_connections_per_ip;
    server->ipv6_prefix_length = options->ipv6_prefix_length;
    atomic_init(&server->inflight, 0);
    atomic_init(&server->deferred_open, 0);
    atomic_init(&server->stopping, false);
    if (pthread_mutex_init(&server->refusal_lock, NULL) != 0) {
        snprintf(err, err_size, "cannot initialise the refusal log's lock");
        goto fail_server;
    }
    if (!http_peer_limit_init(&server->peer_limit, options->max_connections_per_ip,
                              options->max_connections, options->ipv6_prefix_length)) {
        snprintf(err, err_size, "cannot set up the per-address connection limit");
        goto fail_lock;
    }
    if (!http_deadline_init(&server->deadline,
                            (uint64_t)options->request_timeout_s * CLOCK_NS_PER_S, log)) {
        snprintf(err, err_size, "cannot initialise the request deadline's lock");
        goto fail_peer_limit;
    }
    if (!http_workers_init(&server->workers)) {
        snprintf(err, err_size, "cannot set up the worker threads' records");
        goto fail_discard; /* http_workers_destroy() knows it was not made */
    }
    if (!http_fixed_responses_build(server)) {
        snprintf(err, err_size, "out of memory");
        goto fail_discard;
    }
    /* Everything a connection can reach exists before the daemon starts:
     * MHD_start_daemon() listens and serves before it returns, so a request
     * can be deferred (and watched for its client leaving) at once. */
    if (!http_deadline_start(&server->deadline)) {
        snprintf(err, err_size, "cannot start the request deadline thread");
        goto fail_discard;
    }
    server->hangups = http_hangup_watch_start();
    if (server->hangups == NULL) {
        snprintf(err, err_size, "cannot start the thread that watches for clients leaving");
        goto fail_discard;
    }
    server->starting = true;

    /* epoll with one listening-and-serving thread per pool slot; ITC (part
     * of suspend/resume) lets other threads wake the workers, which both
     * resuming deferred requests and quiescing need. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (address.storage.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    /* A pool of one is not a pool: libmicrohttpd wants the option absent. */
    unsigned pool = options->threads > 1 ? options->threads : 0;
    /* Level 1, the strictest that still skips one empty line before a
     * request (RFC 9112 section 2.2): whitespace inside the request line or
     * target is 400 (not a redirect to the escaped target), as are a
     * bare LF line end, obs-fold, Transfer-Encoding in HTTP/1.0, and
     * Content-Length together with Transfer-Encoding or given twice. The
     * per-address limit is counted here (http_peer_limit, on_accept), not
     * by the library's option, to key IPv6 clients by their prefix and to
     * log and count the refusals. */
    const int client_discipline = 1;
    server->daemon = MHD_start_daemon(
        flags, (uint16_t)options->port, on_accept, server, on_request, server, MHD_OPTION_SOCK_ADDR,
        net_addr_sockaddr(&address), MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_CONNECTION_LIMIT,
        options->max_connections, MHD_OPTION_CLIENT_DISCIPLINE_LVL, client_discipline,
        MHD_OPTION_CONNECTION_TIMEOUT, options->connection_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)options->connection_memory_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, server, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, server, MHD_OPTION_URI_LOG_CALLBACK, on_request_line, server,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, server, MHD_OPTION_END);
    server->starting = false;
    if (server->daemon == NULL) {
        snprintf(err, err_size, "cannot serve on %s port %u: %s", options->bind, options->port,
                 server->start_error[0] != '\0' ? server->start_error
                                                : "libmicrohttpd refused to start");
        goto fail_discard;
    }
    return server;

    /* Unwinding, latest first. Once the deadline registry is set up,
     * discard_server() knows what else was (the rest is NULL until set). */
fail_discard:
    discard_server(server);
    return NULL;
fail_peer_limit:
    http_peer_limit_destroy(&server->peer_limit);
fail_lock:
    pthread_mutex_destroy(&server->refusal_lock);
fail_server:
    free(server);
    return NULL;
}

bool http_server_add_connection(struct http_server *server, int fd, const struct sockaddr *peer,
                                socklen_t peer_len)
{
    return MHD_add_connection(server->daemon, fd, peer, peer_len) == MHD_YES;
}

void http_server_stats(struct http_server *server, unsigned *open_connections,
                       unsigned *inflight_requests)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    *open_connections = info != NULL ? info->num_connections : 0;
    *inflight_requests = atomic_load(&server->inflight);
}

void http_server_begin_shutdown(struct http_server *server)
{
    atomic_store(&server->stopping, true);
    MHD_socket listener = MHD_quiesce_daemon(server->daemon);
    if (listener != MHD_INVALID_SOCKET) {
        close(listener);
    }
    /* Idle connections go now, not at their deadline. */
    http_deadline_begin_shutdown(&server->deadline);
}

static bool server_idle(const void *arg)
{
    const struct http_server *server = arg;
    /* In this order: a deferred request's completer counts itself in
     * deferred_open before its request can leave inflight, so seeing
     * inflight at 0 first means deferred_open is read late enough. */
    return atomic_load(&server->inflight) == 0 && atomic_load(&server->deferred_open) == 0 &&
           http_deadline_count(&server->deadline) == 0;
}

bool http_server_wait_idle(struct http_server *server, unsigned timeout_ms)
{
    return clock_wait_until(server_idle, server, timeout_ms, HTTP_IDLE_POLL_MS);
}

bool http_server_stop(struct http_server *server)
{
    if (atomic_load(&server->deferred_open) != 0) {
        return false;
    }
    discard_server(server);
    return true;
}
