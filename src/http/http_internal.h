/*
 * http_internal.h - the state the HTTP layer's own files share: http.c (the
 * request lifecycle), http_admission.c (answers from a request's head),
 * http_response.c (answers put on the wire) and http_request.c (what a
 * handler may ask of its request). Only those files include it; the rest
 * of the program sees http.h.
 */
#ifndef TINYSERVER_HTTP_INTERNAL_H
#define TINYSERVER_HTTP_INTERNAL_H

#include "http_hangup.h"
#include "http.h"
#include "http_deadline.h"
#include "http_mhd_messages.h"
#include "http_peer_limit.h"
#include "http_workers.h"
#include "log_throttle.h"
#include "net_addr.h"

#include <microhttpd.h>

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Paths longer than this are logged truncated; routing sees the full path. */
#define HTTP_LOG_PATH_MAX 256
#define HTTP_PEER_MAX     INET6_ADDRSTRLEN

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
    struct http_hangup_entry hangup;
    int route_index;  /* in the route table; -1 until matched */
    bool close_after; /* the answer says "Connection: close" */
    uint64_t start_ns;
    char method[16];
    char path[HTTP_LOG_PATH_MAX];
    const char *peer;   /* the connection's (struct http_conn), which outlives it */
    const char *client; /* likewise */
    /* Allocated on its own, for a connection without a record; otherwise
     * it is the record's, and nothing is freed when the request ends. */
    bool heap_allocated;
};

/* One open connection. Created by the STARTED notification, freed by the
 * CLOSED one. */
struct http_conn {
    struct http_deadline_entry deadline;
    /* Raw request-target length of the current request, from the URI log
     * callback. Only the connection's own worker thread touches it. */
    size_t target_len;
    bool target_valid; /* see http_target_valid() */
    /* The current request is counted in http_workers_request_began(). */
    bool request_counted;
    /* Over the per-address limit, refused as it started: not counted in
     * the limit (nothing to release). */
    bool over_limit;
    /* The client's address as text, formatted once per connection rather
     * than per request, for the access log and the handlers. */
    char peer[HTTP_PEER_MAX];
    char client[NET_ADDR_CLIENT_MAX]; /* the peer as the per-address limits count it */
    /* The request being served: HTTP/1.1 serves one at a time on a
     * connection, so its state lives here rather than in an allocation. */
    struct request_state request;
};

struct http_server {
    struct MHD_Daemon *daemon;
    const struct http_route *routes;
    size_t route_count;
    void *app;
    const struct logger *log;
    struct metrics *metrics;
    atomic_uint inflight;
    /* Deferred requests from http_request_defer() until their completer
     * has returned from MHD_resume_connection(): the daemon must outlive
     * that call, not only the request (which can end inside it). */
    atomic_uint deferred_open;
    atomic_bool stopping;
    size_t max_url_length;
    unsigned max_connections_per_ip;
    unsigned ipv6_prefix_length;
    struct http_peer_limit peer_limit;
    /* The per-address refusals' log line, throttled (log_throttle.h)
     * under the lock, since every worker and the TLS listener refuse. */
    pthread_mutex_t refusal_lock;
    struct log_throttle refusals;
    struct http_deadline deadline;
    /* Watches the sockets of deferred requests for clients leaving. */
    struct http_hangup_watch *hangups;
    /* Each worker thread's open connections, to trim its heap after a
     * burst (http_workers.h). */
    struct http_workers workers;
    /* The prebuilt response of each route with a fixed body, indexed like
     * routes (NULL for the others); see http_fixed_responses_build(). */
    struct MHD_Response **fixed_responses;
    /* While starting, libmicrohttpd's messages are kept to explain a
     * failure (such as "address in use") in the startup error. */
    bool starting;
    char start_error[HTTP_MHD_MESSAGE_MAX];
};

/* Queues `answer` on the request's connection, taking its body (a body
 * that could not be allocated becomes the fixed out-of-memory JSON), with
 * an Allow header when `allow` is not NULL; records the status for the log
 * and metrics. MHD_NO when nothing could be queued: libmicrohttpd then
 * closes the connection. */
enum MHD_Result http_queue_answer(struct request_state *state, struct http_response *answer,
                                  const char *allow);

/* Builds the responses of the routes with a fixed body (server->routes),
 * into server->fixed_responses. False when out of memory. */
bool http_fixed_responses_build(struct http_server *server);

/* Frees what http_fixed_responses_build() made; NULL-safe. */
void http_fixed_responses_free(struct http_server *server);

/* Queues the fixed answer of `route` (its fixed_body is set): the prebuilt
 * response itself, or, when this answer must close the connection, a copy
 * that says so. Records the status as http_queue_answer() does. */
enum MHD_Result http_queue_fixed(struct request_state *state, const struct http_route *route);

/* The route for `path` and `method`, or NULL after queueing the 404 or 405
 * (with Allow) that routing decides; the queueing result is in *queued. */
const struct http_route *http_route_or_answer(struct request_state *state, const char *path,
                                              const char *method, enum MHD_Result *queued);

/* A request that carries a body: routing's 404 or 405 if it has one, else
 * 413, queued before the body is read. */
enum MHD_Result http_refuse_body(struct request_state *state, const char *url, const char *method);

/* The first call of a request: queues the answer to what its head alone
 * decides (a malformed target or Host, a target over max_url_length, a
 * Content-Length body), or returns MHD_YES to
 * wait for the final call. `conn` is NULL when its record could not be
 * allocated. */
enum MHD_Result http_judge_head(struct request_state *state, const struct http_conn *conn,
                                const char *url, const char *method);

#endif
