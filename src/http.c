/*
 * http.c - libmicrohttpd integration; see http.h for the contract.
 *
 * Request lifecycle as libmicrohttpd drives it:
 *   1st call of on_request: allocate per-request state, return MHD_YES.
 *      Queueing a response here would make libmicrohttpd close the
 *      connection (it cannot know yet whether a body follows), which
 *      measured 4x fewer requests/s here; so the answer always waits.
 *      A request that announces a body is answered right here instead
 *      (404, 405 or 413), since no endpoint takes one.
 *   final call (no upload data): route, run the handler, queue its answer,
 *      or suspend the connection for a deferred handler.
 *   after resume: the final call runs again and queues the stored answer.
 *   on_completed: write the access log line, free the state.
 */
#include "http.h"

#include "json.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Paths longer than this are logged truncated; routing sees the full path. */
#define HTTP_LOG_PATH_MAX 256
#define HTTP_PEER_MAX     INET6_ADDRSTRLEN
#define HTTP_IDLE_POLL_MS 10u

/* Sent when even the error body could not be allocated. */
static const char http_oom_body[] = "{\"error\":\"out of memory\"}\n";

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes;
    size_t route_count;
    void *app;
    const struct logger *log;
    struct metrics *metrics;
    atomic_uint inflight;
    atomic_bool stopping;
    /* While starting, libmicrohttpd's messages are kept to explain a
     * failure (such as "address in use") in the startup error. */
    bool starting;
    char start_error[512];
};

enum request_phase {
    PHASE_NEW = 0,   /* waiting for the final call */
    PHASE_SUSPENDED, /* a deferred handler owns the request */
    PHASE_READY,     /* a deferred answer is stored in `answer` */
    PHASE_ANSWERED,  /* a response has been queued */
};

/* Per-request state; the deferred token is this struct. */
struct request_state {
    struct http_server *server;
    struct MHD_Connection *connection;
    _Atomic enum request_phase phase;
    struct http_response answer;
    unsigned status; /* for the access log and metrics */
    int route_index; /* in the route table; -1 until matched */
    uint64_t start_ns;
    char method[16];
    char path[HTTP_LOG_PATH_MAX];
    char peer[HTTP_PEER_MAX];
};

struct query_collector {
    struct param_pair pairs[HTTP_MAX_QUERY_PARAMS];
    size_t count;
    bool too_many;
    bool nul_in_key;
};

static uint64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

const unsigned short http_layer_statuses[] = {400, 405, 413, 500, 0};

static const struct {
    const char *name;
    enum http_method bit;
} http_methods[] = {
    {"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH}, {"OPTIONS", HTTP_OPTIONS},
};

#define HTTP_METHOD_COUNT (sizeof(http_methods) / sizeof(http_methods[0]))

static unsigned method_bit(const char *method)
{
    for (size_t i = 0; i < HTTP_METHOD_COUNT; i++) {
        if (strcmp(method, http_methods[i].name) == 0) {
            return http_methods[i].bit;
        }
    }
    return 0; /* CONNECT, TRACE and unknown methods match no route */
}

void http_methods_format(unsigned methods, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < HTTP_METHOD_COUNT; i++) {
        if ((methods & http_methods[i].bit) == 0) {
            continue;
        }
        int n =
            snprintf(buf + used, size - used, "%s%s", used == 0 ? "" : ", ", http_methods[i].name);
        if (n < 0 || (size_t)n >= size - used) {
            return;
        }
        used += (size_t)n;
    }
}

static void set_error_response(struct http_response *response, unsigned status, const char *message)
{
    response->status = status;
    response->body = json_error(message, NULL);
    response->retry_after_s = 0;
}

/* Queues `answer` (taking its body) on the connection. */
static enum MHD_Result queue_answer(struct request_state *state, struct http_response *answer,
                                    const char *allow)
{
    struct MHD_Response *response;
    unsigned status = answer->status;
    /* the out-of-memory fallback body is JSON whatever was planned */
    const char *content_type = answer->body != NULL && answer->content_type != NULL
                                   ? answer->content_type
                                   : "application/json";
    if (answer->body != NULL) {
        response = MHD_create_response_from_buffer_with_free_callback(strlen(answer->body),
                                                                      answer->body, free);
        if (response == NULL) {
            free(answer->body);
        }
    } else {
        status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        response = MHD_create_response_from_buffer(sizeof(http_oom_body) - 1, (void *)http_oom_body,
                                                   MHD_RESPMEM_PERSISTENT);
    }
    answer->body = NULL;
    if (response == NULL) {
        return MHD_NO; /* libmicrohttpd closes the connection */
    }
    bool headers_ok =
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_YES &&
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
    if (headers_ok && allow != NULL) {
        headers_ok = MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES;
    }
    if (headers_ok && answer->retry_after_s != 0) {
        char seconds[16];
        snprintf(seconds, sizeof(seconds), "%u", answer->retry_after_s);
        headers_ok =
            MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds) == MHD_YES;
    }
    if (headers_ok && atomic_load(&state->server->stopping)) {
        headers_ok =
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    }
    enum MHD_Result queued = MHD_NO;
    if (headers_ok) {
        queued = MHD_queue_response(state->connection, status, response);
    }
    MHD_destroy_response(response);
    if (queued == MHD_YES) {
        state->status = status;
        atomic_store(&state->phase, PHASE_ANSWERED);
    }
    return queued;
}

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

static const struct http_route *find_route(const struct http_server *server, const char *path)
{
    for (size_t i = 0; i < server->route_count; i++) {
        if (strcmp(server->routes[i].path, path) == 0) {
            return &server->routes[i];
        }
    }
    return NULL;
}

/* The final call: decide the answer, or hand the request to a deferred
 * handler. */
/* Answers 404 or 405 when the path or method does not match a route.
 * Returns NULL after queueing such an answer (its result in *queued). */
static const struct http_route *route_or_answer(struct request_state *state, const char *url,
                                                const char *method, enum MHD_Result *queued)
{
    struct http_response answer = {0};
    const struct http_route *route = find_route(state->server, url);
    if (route != NULL) {
        /* a 405 still counts against the route it was meant for */
        state->route_index = (int)(route - state->server->routes);
    }
    if (route == NULL) {
        set_error_response(&answer, MHD_HTTP_NOT_FOUND, "no such endpoint; GET / lists them");
        *queued = queue_answer(state, &answer, NULL);
        return NULL;
    }
    if ((route->methods & method_bit(method)) == 0) {
        char allow[64];
        char message[128];
        http_methods_format(route->methods, allow, sizeof(allow));
        snprintf(message, sizeof(message), "method not allowed; allowed: %s", allow);
        set_error_response(&answer, MHD_HTTP_METHOD_NOT_ALLOWED, message);
        *queued = queue_answer(state, &answer, allow);
        return NULL;
    }
    state->route_index = (int)(route - state->server->routes);
    return route;
}

/* True when the request announces a body. libmicrohttpd only reads a body
 * that Content-Length or chunked Transfer-Encoding announces. */
static bool announces_body(struct MHD_Connection *connection)
{
    const char *length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *encoding =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    return encoding != NULL || (length != NULL && strspn(length, "0") != strlen(length));
}

/* A request with a body: no endpoint takes one. The answer goes out on the
 * first call, the only moment libmicrohttpd accepts a response before the
 * body is read; it then closes the connection instead of reading the body,
 * which is what a client that sends unwanted data deserves. */
static enum MHD_Result refuse_body(struct request_state *state, const char *url, const char *method)
{
    enum MHD_Result queued = MHD_NO;
    if (route_or_answer(state, url, method, &queued) == NULL) {
        return queued;
    }
    struct http_response answer = {0};
    set_error_response(&answer, MHD_HTTP_CONTENT_TOO_LARGE, "this endpoint takes no request body");
    return queue_answer(state, &answer, NULL);
}

static enum MHD_Result dispatch(struct request_state *state, const char *url, const char *method)
{
    struct http_server *server = state->server;
    struct http_response answer = {0};
    enum MHD_Result queued = MHD_NO;
    const struct http_route *route = route_or_answer(state, url, method, &queued);
    if (route == NULL) {
        return queued;
    }
    struct query_collector query = {0};
    MHD_get_connection_values_n(state->connection, MHD_GET_ARGUMENT_KIND, collect_query_param,
                                &query);
    if (query.too_many || query.nul_in_key) {
        set_error_response(&answer, MHD_HTTP_BAD_REQUEST,
                           query.too_many ? "too many query parameters"
                                          : "query parameter name contains a NUL byte");
        return queue_answer(state, &answer, NULL);
    }
    struct http_request request = {
        .method = method,
        .path = url,
        .query = query.pairs,
        .query_count = query.count,
        .internal = state,
    };
    route->handler(server->app, &request, &answer);
    if (atomic_load(&state->phase) != PHASE_NEW) {
        return MHD_YES; /* deferred: http_deferred_complete() will answer */
    }
    return queue_answer(state, &answer, NULL);
}

static void format_peer(struct MHD_Connection *connection, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, size, "-");
    if (info == NULL || info->client_addr == NULL) {
        return;
    }
    const struct sockaddr *addr = info->client_addr;
    if (addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)addr)->sin_addr, buf,
                  (socklen_t)size);
    } else if (addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)addr)->sin6_addr, buf,
                  (socklen_t)size);
    }
}

static struct request_state *new_request_state(struct http_server *server,
                                               struct MHD_Connection *connection, const char *url,
                                               const char *method)
{
    struct request_state *state = calloc(1, sizeof(*state));
    if (state == NULL) {
        return NULL;
    }
    state->server = server;
    state->connection = connection;
    atomic_init(&state->phase, PHASE_NEW);
    state->route_index = -1;
    state->start_ns = monotonic_ns();
    snprintf(state->method, sizeof(state->method), "%s", method);
    snprintf(state->path, sizeof(state->path), "%s", url);
    format_peer(connection, state->peer, sizeof(state->peer));
    atomic_fetch_add(&server->inflight, 1);
    return state;
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
        state = new_request_state(server, connection, url, method);
        if (state == NULL) {
            return MHD_NO;
        }
        *req_cls = state;
        if (announces_body(connection)) {
            return refuse_body(state, url, method);
        }
        return MHD_YES;
    }
    enum request_phase phase = atomic_load(&state->phase);
    if (*upload_data_size != 0) {
        /* Unreachable while announces_body() holds; discard defensively. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    switch (phase) {
    case PHASE_NEW:
        return dispatch(state, url, method);
    case PHASE_READY:
        return queue_answer(state, &state->answer, NULL);
    case PHASE_SUSPENDED:
    case PHASE_ANSWERED:
        return MHD_YES;
    }
    return MHD_NO;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    (void)connection;
    (void)code;
    struct http_server *server = cls;
    struct request_state *state = *req_cls;
    if (state == NULL) {
        return;
    }
    struct log_access_entry entry = {
        .peer = state->peer,
        .method = state->method,
        .path = state->path,
        .status = state->status,
        .duration_us = (monotonic_ns() - state->start_ns) / 1000u,
    };
    log_access(server->log, &entry);
    if (server->metrics != NULL && state->status != 0) {
        metrics_record_request(server->metrics, state->route_index, state->status,
                               entry.duration_us);
    }
    free(state->answer.body); /* set only if a deferred answer was never sent */
    free(state);
    *req_cls = NULL;
    atomic_fetch_sub(&server->inflight, 1);
}

/* libmicrohttpd sets TCP_NODELAY and TCP_CORK on every connection; on the
 * AF_UNIX sockets the TLS terminator hands over (labelled with the client's
 * TCP address) both fail, and it then warns that it could not push data
 * out early. A socketpair has no Nagle delay to push past, so all of these
 * say nothing about a problem and are dropped rather than logged. */
static bool is_socket_option_noise(const char *message)
{
    bool option_failed =
        strncmp(message, "Setting ", 8) == 0 &&
        (strstr(message, "TCP_NODELAY") != NULL || strstr(message, "TCP_CORK") != NULL ||
         strstr(message, "TCP_NOPUSH") != NULL);
    return option_failed || strncmp(message, "Failed to push the data from buffers", 36) == 0;
}

/* libmicrohttpd's own diagnostics. During startup they explain failures;
 * afterwards they are per-connection details (timeouts, resets) that a
 * client can trigger at will, so they are logged at debug level to keep an
 * attack from flooding the log. */
static void on_mhd_message(void *cls, const char *fmt, va_list args)
{
    struct http_server *server = cls;
    char message[512];
    char escaped[512];
    vsnprintf(message, sizeof(message), fmt, args);
    message[strcspn(message, "\r\n")] = '\0';
    if (is_socket_option_noise(message)) {
        return;
    }
    log_escape(escaped, sizeof(escaped), message);
    if (server->starting) {
        snprintf(server->start_error, sizeof(server->start_error), "%s", escaped);
        return;
    }
    log_message(server->log, LOG_DEBUG, "libmicrohttpd: %s", escaped);
}

struct listen_address {
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } addr;
    bool is_ipv6;
};

static bool parse_listen_address(const char *bind, unsigned port, struct listen_address *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, bind, &out->addr.v4.sin_addr) == 1) {
        out->addr.v4.sin_family = AF_INET;
        out->addr.v4.sin_port = htons((uint16_t)port);
        return true;
    }
    if (inet_pton(AF_INET6, bind, &out->addr.v6.sin6_addr) == 1) {
        out->addr.v6.sin6_family = AF_INET6;
        out->addr.v6.sin6_port = htons((uint16_t)port);
        out->is_ipv6 = true;
        return true;
    }
    return false;
}

struct http_server *http_server_start(const struct http_server_options *options,
                                      const struct http_route *routes, size_t route_count,
                                      void *app, const struct logger *log, char *err,
                                      size_t err_size)
{
    struct listen_address address;
    if (!parse_listen_address(options->bind, options->port, &address)) {
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
    atomic_init(&server->inflight, 0);
    atomic_init(&server->stopping, false);
    server->starting = true;

    /* epoll with one listening-and-serving thread per pool slot; ITC (part
     * of suspend/resume) lets other threads wake the workers, which both
     * resuming deferred requests and quiescing need. */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (address.is_ipv6) {
        flags |= MHD_USE_IPv6;
    }
    /* A pool of one is not a pool: libmicrohttpd wants the option absent. */
    unsigned pool = options->threads > 1 ? options->threads : 0;
    server->daemon = MHD_start_daemon(
        flags, (uint16_t)options->port, NULL, NULL, on_request, server, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&address.addr, MHD_OPTION_THREAD_POOL_SIZE, pool,
        MHD_OPTION_CONNECTION_LIMIT, options->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        options->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        options->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, server, MHD_OPTION_END);
    server->starting = false;
    if (server->daemon == NULL) {
        snprintf(err, err_size, "cannot serve on %s port %u: %s", options->bind, options->port,
                 server->start_error[0] != '\0' ? server->start_error
                                                : "libmicrohttpd refused to start");
        free(server);
        return NULL;
    }
    return server;
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
}

bool http_server_wait_idle(struct http_server *server, unsigned timeout_ms)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = HTTP_IDLE_POLL_MS * 1000000L};
    for (unsigned waited = 0;; waited += HTTP_IDLE_POLL_MS) {
        if (atomic_load(&server->inflight) == 0) {
            return true;
        }
        if (waited >= timeout_ms) {
            return false;
        }
        nanosleep(&pause, NULL);
    }
}

void http_server_stop(struct http_server *server)
{
    MHD_stop_daemon(server->daemon);
    free(server);
}

struct http_deferred *http_request_defer(const struct http_request *request)
{
    struct request_state *state = request->internal;
    atomic_store(&state->phase, PHASE_SUSPENDED);
    MHD_suspend_connection(state->connection);
    return (struct http_deferred *)state;
}

void http_deferred_complete(struct http_deferred *deferred, struct http_response *response)
{
    struct request_state *state = (struct request_state *)deferred;
    state->answer = *response;
    response->body = NULL;
    atomic_store(&state->phase, PHASE_READY);
    MHD_resume_connection(state->connection);
}
