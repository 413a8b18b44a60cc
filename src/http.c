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
 *   while suspended: libmicrohttpd no longer watches the socket, so the
 *      hangup watch (hangup.h) does, to tell a deferred handler that its
 *      client left (http_deferred_client_gone); such a request is logged
 *      as 499 client_closed.
 *   after resume: the final call runs again and queues the stored answer.
 *   on_completed: write the access log line, free the state.
 *
 * The request deadline (--request-timeout). libmicrohttpd's own timeout
 * counts inactivity, so a client that sends one header byte every few
 * seconds keeps a connection forever. libmicrohttpd has no option for a
 * total deadline, so the layer keeps one per connection:
 *   - a record per connection (struct http_conn), created and destroyed by
 *     libmicrohttpd's connection notifications, on a list under conns_lock;
 *   - its clock, waiting_since_ns, starts when the connection opens and
 *     again when a response has been sent (on_completed), and stops when
 *     the headers are complete (the first call of on_request);
 *   - a sweeper thread wakes a few times per timeout and shuts down (never
 *     closes) the socket of every connection whose clock has run past the
 *     deadline. libmicrohttpd then reads end-of-file and closes the
 *     connection itself, on its own thread, as if the client had gone.
 * The sweeper takes the socket from a record under conns_lock, and
 * libmicrohttpd notifies the close (which removes the record under the
 * same lock) before it closes the socket, so the sweeper can never shut
 * down a descriptor number that has meanwhile been reused.
 *
 * Shutdown uses the same records. Once it begins, every response says
 * "Connection: close", and the sweeper ends, within a fraction of a
 * second, every connection that is waiting for a request (an idle
 * kept-alive one, say) instead of after the full deadline. The server is
 * idle when no request is in flight and no connection is left, so the
 * daemon never stops under a request it has taken in, nor with a
 * suspended connection (which makes libmicrohttpd abort the process).
 */
#include "http.h"

#include "hangup.h"
#include "array.h"
#include "clock.h"
#include "http_deadline.h"
#include "net_addr.h"
#include "threads.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Paths longer than this are logged truncated; routing sees the full path. */
#define HTTP_LOG_PATH_MAX 256
#define HTTP_PEER_MAX     INET6_ADDRSTRLEN
#define HTTP_IDLE_POLL_MS 10u
/* The sweeper checks deadlines this many times per request timeout, but
 * at least once a second: a deadline is enforced up to a quarter late. */
#define HTTP_SWEEPS_PER_TIMEOUT 4u
#define HTTP_SWEEP_MAX_MS       1000u
/* During shutdown: how long a connection may wait for a request (time for
 * bytes already sent to be parsed), and how often that is checked. */
#define HTTP_SHUTDOWN_IDLE_MS  100u
#define HTTP_SHUTDOWN_SWEEP_MS 20u

/* Logged, as nginx does, for a request whose client left before the
 * answer was sent. */
#define HTTP_STATUS_CLIENT_CLOSED 499u

/* Sent when even the error body could not be allocated. */
static const char http_oom_body[] = "{\"error\":\"out of memory\"}\n";

/* One open connection, for the request deadline (see the top of the file).
 * Created by the STARTED notification, freed by the CLOSED one. */
struct http_conn {
    struct http_conn *prev; /* on http_server.conns, under conns_lock */
    struct http_conn *next;
    int fd;
    /* When the clock of the request being awaited started; 0 while no
     * request line and headers are awaited (being answered, suspended). */
    _Atomic uint64_t waiting_since_ns;
    /* Raw request-target length of the current request, from the URI log
     * callback. Only the connection's own worker thread touches it. */
    size_t target_len;
};

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes;
    size_t route_count;
    void *app;
    const struct logger *log;
    struct metrics *metrics;
    atomic_uint inflight;
    atomic_bool stopping;
    size_t max_url_length;
    uint64_t request_timeout_ns;
    /* The connection records and the sweeper that enforces the deadline. */
    pthread_mutex_t conns_lock;
    pthread_cond_t sweeper_wake; /* signalled to stop it, or to sweep at once */
    struct http_conn *conns;
    atomic_uint open_conns; /* how many records conns holds */
    /* Watches the sockets of deferred requests for clients leaving. */
    struct hangup_watch *hangups;
    bool sweeper_stop; /* under conns_lock */
    bool sweeper_started;
    pthread_t sweeper;
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
    /* Set by the hangup watch while the request is deferred. */
    atomic_bool client_gone;
    struct hangup_entry hangup;
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

const unsigned short http_layer_statuses[] = {400, 405, 413, 414, 500, 0};

static const struct {
    const char *name;
    enum http_method bit;
} http_methods[] = {
    {"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},   {"POST", HTTP_POST},       {"PUT", HTTP_PUT},
    {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH}, {"OPTIONS", HTTP_OPTIONS},
};

#define HTTP_METHOD_COUNT ARRAY_SIZE(http_methods)

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
        /* No memory for the body. A planned server-side failure (a /bench
         * run that failed, 503) keeps its status: it is what went wrong,
         * and out of memory is usually why. Anything else becomes 500. */
        if (status < MHD_HTTP_INTERNAL_SERVER_ERROR) {
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        }
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
    if (headers_ok && answer->www_authenticate != NULL) {
        headers_ok = MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                             answer->www_authenticate) == MHD_YES;
    }
    if (headers_ok && answer->content_security_policy != NULL) {
        headers_ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
                                             answer->content_security_policy) == MHD_YES;
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

/* The path to route on. RFC 9112 section 3.2.2: a server must accept a
 * request target in absolute form ("GET http://host/healthz"), which is
 * what clients send to proxies; it names the same resource as its path.
 * libmicrohttpd hands such targets over unchanged (minus the query). The
 * authority is not checked: this server answers for any host name. */
static const char *origin_path(const char *url)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
        size_t len = strlen(schemes[i]);
        if (strncasecmp(url, schemes[i], len) == 0) {
            const char *path = strchr(url + len, '/');
            return path != NULL ? path : "/";
        }
    }
    return url;
}

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
        http_response_error(&answer, MHD_HTTP_NOT_FOUND, "no such endpoint; GET / lists them",
                            NULL);
        *queued = queue_answer(state, &answer, NULL);
        return NULL;
    }
    if ((route->methods & method_bit(method)) == 0) {
        char allow[64];
        char message[128];
        http_methods_format(route->methods, allow, sizeof(allow));
        snprintf(message, sizeof(message), "method not allowed; allowed: %s", allow);
        http_response_error(&answer, MHD_HTTP_METHOD_NOT_ALLOWED, message, NULL);
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
    http_response_error(&answer, MHD_HTTP_CONTENT_TOO_LARGE, "this endpoint takes no request body",
                        NULL);
    return queue_answer(state, &answer, NULL);
}

/* The final call: decide the answer, or hand the request to a deferred
 * handler. */
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
        http_response_error(&answer, MHD_HTTP_BAD_REQUEST,
                            query.too_many ? "too many query parameters"
                                           : "query parameter name contains a NUL byte",
                            NULL);
        return queue_answer(state, &answer, NULL);
    }
    struct http_request request = {
        .method = method,
        .path = url,
        .query = query.pairs,
        .query_count = query.count,
        .peer = state->peer,
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
    net_addr_format(info != NULL ? info->client_addr : NULL, buf, size);
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
    atomic_init(&state->client_gone, false);
    state->route_index = -1;
    state->start_ns = clock_monotonic_ns();
    snprintf(state->method, sizeof(state->method), "%s", method);
    snprintf(state->path, sizeof(state->path), "%s", url);
    format_peer(connection, state->peer, sizeof(state->peer));
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

/* A request target longer than max_url_length: 414, before anything else
 * is judged. (Targets that do not even fit in the connection's memory get
 * libmicrohttpd's own 414 instead.) */
static enum MHD_Result refuse_long_url(struct request_state *state)
{
    struct http_response answer = {0};
    http_response_error(&answer, MHD_HTTP_URI_TOO_LONG, "request target too long", NULL);
    return queue_answer(state, &answer, NULL);
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
            atomic_store(&conn->waiting_since_ns, 0);
        }
        state = new_request_state(server, connection, url, method);
        if (state == NULL) {
            return MHD_NO;
        }
        *req_cls = state;
        if (conn != NULL && conn->target_len > server->max_url_length) {
            return refuse_long_url(state);
        }
        if (announces_body(connection)) {
            return refuse_body(state, origin_path(url), method);
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
        return dispatch(state, origin_path(url), method);
    case PHASE_READY:
        return queue_answer(state, &state->answer, NULL);
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

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode code)
{
    struct http_server *server = cls;
    struct request_state *state = *req_cls;
    /* The response is out (or the connection is closing): the clock for
     * the next request on this connection starts now. */
    struct http_conn *conn = conn_record(connection);
    if (conn != NULL) {
        atomic_store(&conn->waiting_since_ns, clock_monotonic_ns());
    }
    if (state == NULL) {
        return; /* libmicrohttpd refused the request before on_request */
    }
    bool gone = client_closed(state, code);
    struct log_access_entry entry = {
        .peer = state->peer,
        .method = state->method,
        .path = state->path,
        .status = gone ? HTTP_STATUS_CLIENT_CLOSED : state->status,
        .duration_us = (clock_monotonic_ns() - state->start_ns) / 1000u,
        .client_closed = gone,
    };
    log_access(server->log, &entry);
    if (server->metrics != NULL && entry.status != 0) {
        metrics_record_request(server->metrics, state->route_index, entry.status,
                               entry.duration_us);
    }
    free(state->answer.body); /* set only if a deferred answer was never sent */
    free(state);
    *req_cls = NULL;
    atomic_fetch_sub(&server->inflight, 1);
}

/* Called once the request line is in, before the headers: only the raw
 * target's length is kept, for the 414 check. The return value becomes
 * the request's *req_cls, which on_request fills in itself. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    struct http_conn *conn = conn_record(connection);
    if (conn != NULL) {
        conn->target_len = strlen(uri);
    }
    return NULL;
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
        conn = calloc(1, sizeof(*conn));
        if (conn == NULL) {
            /* Without a record no deadline could be enforced: refuse the
             * connection rather than serve it unprotected. */
            shutdown(info->connect_fd, SHUT_RDWR);
            return;
        }
        conn->fd = info->connect_fd;
        atomic_init(&conn->waiting_since_ns, clock_monotonic_ns());
        pthread_mutex_lock(&server->conns_lock);
        conn->next = server->conns;
        if (server->conns != NULL) {
            server->conns->prev = conn;
        }
        server->conns = conn;
        atomic_fetch_add(&server->open_conns, 1);
        pthread_mutex_unlock(&server->conns_lock);
        *socket_context = conn;
        return;
    }
    if (conn == NULL) {
        return;
    }
    pthread_mutex_lock(&server->conns_lock);
    if (conn->prev != NULL) {
        conn->prev->next = conn->next;
    } else {
        server->conns = conn->next;
    }
    if (conn->next != NULL) {
        conn->next->prev = conn->prev;
    }
    atomic_fetch_sub(&server->open_conns, 1);
    pthread_mutex_unlock(&server->conns_lock);
    free(conn);
    *socket_context = NULL;
}

/* Shuts down every connection that has waited timeout_ns or longer for a
 * request. Runs under conns_lock; returns how many it ended. */
static unsigned sweep_expired(struct http_server *server, uint64_t now_ns, uint64_t timeout_ns)
{
    unsigned ended = 0;
    for (struct http_conn *conn = server->conns; conn != NULL; conn = conn->next) {
        uint64_t since = atomic_load(&conn->waiting_since_ns);
        if (!http_deadline_passed(since, now_ns, timeout_ns)) {
            continue;
        }
        /* Only once: the clock may have restarted or stopped meanwhile. */
        if (atomic_compare_exchange_strong(&conn->waiting_since_ns, &since, 0)) {
            shutdown(conn->fd, SHUT_RDWR);
            ended++;
        }
    }
    return ended;
}

static void *sweeper_main(void *arg)
{
    struct http_server *server = arg;
    uint64_t period_ns = server->request_timeout_ns / HTTP_SWEEPS_PER_TIMEOUT;
    if (period_ns > HTTP_SWEEP_MAX_MS * 1000000ull) {
        period_ns = HTTP_SWEEP_MAX_MS * 1000000ull;
    }
    pthread_mutex_lock(&server->conns_lock);
    while (!server->sweeper_stop) {
        bool stopping = atomic_load(&server->stopping);
        uint64_t sleep_ns = stopping ? HTTP_SHUTDOWN_SWEEP_MS * 1000000ull : period_ns;
        struct timespec wake = clock_monotonic_after(NULL, sleep_ns);
        pthread_cond_timedwait(&server->sweeper_wake, &server->conns_lock, &wake);
        if (server->sweeper_stop) {
            break;
        }
        stopping = atomic_load(&server->stopping);
        uint64_t timeout_ns =
            stopping ? HTTP_SHUTDOWN_IDLE_MS * 1000000ull : server->request_timeout_ns;
        unsigned ended = sweep_expired(server, clock_monotonic_ns(), timeout_ns);
        if (ended != 0) {
            /* Not under the lock, which connections opening wait for.
             * Debug level: clients can trigger this at will. */
            pthread_mutex_unlock(&server->conns_lock);
            log_message(server->log, LOG_DEBUG,
                        "closed %u connection(s) that sent no complete request within %llums%s",
                        ended, (unsigned long long)(timeout_ns / 1000000u),
                        stopping ? " (shutting down)" : "");
            pthread_mutex_lock(&server->conns_lock);
        }
    }
    pthread_mutex_unlock(&server->conns_lock);
    return NULL;
}

static bool sweeper_init(struct http_server *server)
{
    return threads_monotonic_cond_init(&server->sweeper_wake, &server->conns_lock);
}

/* Stops the sweeper thread (if started) and frees its lock and condition.
 * Call after the daemon has stopped, when no record is left. */
static void sweeper_destroy(struct http_server *server)
{
    if (server->sweeper_started) {
        pthread_mutex_lock(&server->conns_lock);
        server->sweeper_stop = true;
        pthread_cond_signal(&server->sweeper_wake);
        pthread_mutex_unlock(&server->conns_lock);
        pthread_join(server->sweeper, NULL);
        server->sweeper_started = false;
    }
    pthread_mutex_destroy(&server->conns_lock);
    pthread_cond_destroy(&server->sweeper_wake);
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

/* The "error" text of the JSON body quoted in libmicrohttpd's message
 * ("... ('{"error":"TEXT"}')). ..."), with the JSON escapes the rewrite
 * uses (\" and \\) undone; the logger escapes it for its format. Empty if
 * the message quotes no body. */
static const char *refusal_reason(const char *message, char *out, size_t size)
{
    static const char opening[] = "{\"error\":\"";
    const char *start = strstr(message, opening);
    const char *end = start != NULL ? strstr(start, "\"}") : NULL;
    size_t len = 0;
    if (end != NULL) {
        for (const char *p = start + sizeof(opening) - 1; p < end && len + 1 < size; p++) {
            if (*p == '\\' && p + 1 < end) {
                p++;
            }
            out[len++] = *p;
        }
    }
    out[len] = '\0';
    return out;
}

/* libmicrohttpd's own diagnostics. During startup they explain failures;
 * afterwards they are per-connection details (timeouts, resets) that a
 * client can trigger at will, so they are logged at debug level to keep an
 * attack from flooding the log. */
static void on_mhd_message(void *cls, const char *fmt, va_list args)
{
    struct http_server *server = cls;
    char message[512];
    vsnprintf(message, sizeof(message), fmt, args);
    message[strcspn(message, "\r\n")] = '\0';
    if (is_socket_option_noise(message)) {
        return;
    }
    if (server->starting) {
        /* Logged by the caller, through the logger, which escapes it. */
        snprintf(server->start_error, sizeof(server->start_error), "%s", message);
        return;
    }
    /* A request libmicrohttpd answers itself (431, 400, 505...) never
     * reaches on_request; this message, which it logs as it queues the
     * answer (transmit_error_response_len() in its connection.c), is the
     * one place it shows. So it is counted, and logged at the access log's
     * level, with the reason from the JSON body (scripts/mhd_json_errors.py).
     * In the rare case that a response was already under way, the library
     * closes the connection instead, and the count is one too high.
     * test_observability.py holds the wording to the pinned version. */
    unsigned refused_status = 0;
    if (sscanf(message, "Error processing request (HTTP response code is %u", &refused_status) ==
        1) {
        if (server->metrics != NULL) {
            metrics_record_refusal(server->metrics, refused_status);
        }
        char reason[sizeof(message)];
        log_message(server->log, LOG_INFO, "libmicrohttpd refused a request: %u %s", refused_status,
                    refusal_reason(message, reason, sizeof(reason)));
        return;
    }
    log_message(server->log, LOG_DEBUG, "libmicrohttpd: %s", message);
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
    server->request_timeout_ns = (uint64_t)options->request_timeout_s * 1000000000u;
    atomic_init(&server->inflight, 0);
    atomic_init(&server->stopping, false);
    atomic_init(&server->open_conns, 0);
    if (!sweeper_init(server)) {
        snprintf(err, err_size, "cannot initialise the request deadline's lock");
        free(server);
        return NULL;
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
    server->daemon = MHD_start_daemon(
        flags, (uint16_t)options->port, NULL, NULL, on_request, server, MHD_OPTION_SOCK_ADDR,
        net_addr_sockaddr(&address), MHD_OPTION_THREAD_POOL_SIZE, pool, MHD_OPTION_CONNECTION_LIMIT,
        options->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        options->max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        options->connection_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)options->connection_memory_limit, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, server, MHD_OPTION_URI_LOG_CALLBACK,
        on_request_line, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_message, server,
        MHD_OPTION_END);
    server->starting = false;
    if (server->daemon == NULL) {
        snprintf(err, err_size, "cannot serve on %s port %u: %s", options->bind, options->port,
                 server->start_error[0] != '\0' ? server->start_error
                                                : "libmicrohttpd refused to start");
        sweeper_destroy(server);
        free(server);
        return NULL;
    }
    if (pthread_create(&server->sweeper, NULL, sweeper_main, server) != 0) {
        snprintf(err, err_size, "cannot start the request deadline thread");
        MHD_stop_daemon(server->daemon);
        sweeper_destroy(server);
        free(server);
        return NULL;
    }
    server->sweeper_started = true;
    server->hangups = hangup_watch_start();
    if (server->hangups == NULL) {
        snprintf(err, err_size, "cannot start the thread that watches for clients leaving");
        MHD_stop_daemon(server->daemon);
        sweeper_destroy(server);
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
    /* Idle connections go now, not at their deadline. */
    pthread_mutex_lock(&server->conns_lock);
    pthread_cond_signal(&server->sweeper_wake);
    pthread_mutex_unlock(&server->conns_lock);
}

static bool server_idle(const void *arg)
{
    const struct http_server *server = arg;
    return atomic_load(&server->inflight) == 0 && atomic_load(&server->open_conns) == 0;
}

bool http_server_wait_idle(struct http_server *server, unsigned timeout_ms)
{
    return clock_wait_until(server_idle, server, timeout_ms, HTTP_IDLE_POLL_MS);
}

void http_server_stop(struct http_server *server)
{
    MHD_stop_daemon(server->daemon);
    sweeper_destroy(server);
    hangup_watch_stop(server->hangups);
    free(server);
}

struct header_collector {
    const char *name;
    const char **values;
    size_t max;
    size_t count;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct header_collector *headers = cls;
    if (strcasecmp(key, headers->name) == 0) {
        if (headers->count < headers->max) {
            headers->values[headers->count] = value != NULL ? value : "";
        }
        headers->count++;
    }
    return MHD_YES;
}

size_t http_request_header(const struct http_request *request, const char *name,
                           const char **values, size_t max)
{
    const struct request_state *state = request->internal;
    struct header_collector headers = {.name = name, .values = values, .max = max, .count = 0};
    MHD_get_connection_values(state->connection, MHD_HEADER_KIND, collect_header, &headers);
    return headers.count;
}

const atomic_bool *http_deferred_client_gone(const struct http_deferred *deferred)
{
    return &((const struct request_state *)(const void *)deferred)->client_gone;
}

struct http_deferred *http_request_defer(const struct http_request *request)
{
    struct request_state *state = request->internal;
    /* Nothing new is suspended once shutdown began: libmicrohttpd aborts
     * the process when its daemon stops with a suspended connection, and
     * http_server_wait_idle() may already have seen nothing in flight
     * (requests keep arriving on kept-alive connections; found by
     * tests/integration/test_faults.py). This request was counted in
     * flight before this load, and begin_shutdown stores `stopping` before
     * wait_idle loads the count, all sequentially consistent: either the
     * wait sees this request, or this load sees `stopping`. */
    if (atomic_load(&state->server->stopping)) {
        return NULL;
    }
    atomic_store(&state->phase, PHASE_SUSPENDED);
    MHD_suspend_connection(state->connection);
    /* The socket stays open while the connection is suspended: the watch
     * may look at it until http_deferred_complete() removes the entry. */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(state->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    state->hangup.fd = info != NULL ? info->connect_fd : -1;
    state->hangup.gone = &state->client_gone;
    if (state->hangup.fd >= 0) {
        hangup_watch_add(state->server->hangups, &state->hangup);
    }
    return (struct http_deferred *)state;
}

void http_deferred_complete(struct http_deferred *deferred, struct http_response *response)
{
    struct request_state *state = (struct request_state *)deferred;
    if (state->hangup.fd >= 0) {
        hangup_watch_remove(state->server->hangups, &state->hangup);
    }
    state->answer = *response;
    response->body = NULL;
    atomic_store(&state->phase, PHASE_READY);
    MHD_resume_connection(state->connection);
}
