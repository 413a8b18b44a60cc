/*
 * http.h - the HTTP layer: a libmicrohttpd daemon, table-driven routing,
 * JSON error responses, deferred (off-worker) responses and the access log.
 *
 * The application supplies a route table and handlers; it never sees
 * libmicrohttpd. A handler runs on an HTTP worker thread and must be quick.
 * Slow work (a benchmark) is deferred: the handler calls
 * http_request_defer(), hands the token to its own thread and returns; the
 * connection is suspended, so the worker keeps serving other connections,
 * and is resumed by http_deferred_complete().
 *
 * The layer itself answers 501 (a method it does not know), 404 (no such
 * path), 405 with Allow (a known method not in the route's set), 413 (a
 * request body where none is taken), 414 (a request target longer than
 * max_url_length) and 400 (an invalid Host, malformed or too many query
 * parameters), all as JSON. A connection over the per-address limit is
 * closed as it is accepted, unanswered: answering would need the slot the
 * limit protects. Requests libmicrohttpd cannot parse
 * or store get its own answers (400, 414, 431, 501, 505), also JSON in the
 * patched library (patches/libmicrohttpd/), and are counted as refusals.
 *
 * Limits, all set per server: connections in total and per client
 * address, memory per connection (which bounds the request line and
 * headers), the request target's length, an idle timeout and a request
 * deadline: a connection's next request line and headers must be complete
 * within request_timeout_s of the connection opening or of its previous
 * response, however slowly the bytes trickle in.
 */
#ifndef TINYSERVER_HTTP_H
#define TINYSERVER_HTTP_H

#include "log.h"
#include "metrics.h"
#include "http_status.h"
#include "params.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* More parameters than this is an error: no endpoint takes that many. */
#define HTTP_MAX_QUERY_PARAMS 16

enum http_method {
    HTTP_GET = 1u << 0,
    HTTP_HEAD = 1u << 1,
    HTTP_POST = 1u << 2,
    HTTP_PUT = 1u << 3,
    HTTP_DELETE = 1u << 4,
    HTTP_PATCH = 1u << 5,
    HTTP_OPTIONS = 1u << 6,
    /* Known (RFC 9110 section 9), so a route that does not allow them
     * answers 405, but no route does. */
    HTTP_CONNECT = 1u << 7,
    HTTP_TRACE = 1u << 8,
};

/* What a handler is given. Valid only during the handler call. */
struct http_request {
    const char *method;
    const char *path;
    const struct param_pair *query;
    size_t query_count;
    const char *peer; /* the client's address as text, "-" when unknown */
    /* The client as per-address limits count it (net_addr_format_client:
     * an IPv6 address as its prefix, "2001:db8::/64"); "-" when unknown. */
    const char *client;
    void *internal; /* the layer's per-request state; used by defer */
};

/* The values of every request header called `name` (case-insensitive), in
 * the order sent: up to `max` of them go to values[], valid during the
 * handler call. Returns how many there are, which may exceed max. */
size_t http_request_header(const struct http_request *request, const char *name,
                           const char **values, size_t max);

/* What a handler answers. `body` is a malloc'd JSON text whose ownership
 * passes to the layer; NULL means "out of memory" and gets a fixed body,
 * with status 500 unless the status was already 5xx (a failed /bench run
 * stays 503). */
struct http_response {
    unsigned status; /* one of enum http_status */
    char *body;      /* taken: freed once sent */
    /* Instead of body: text that outlives the server (never copied, never
     * freed), static_body_len bytes long. */
    const char *static_body;
    size_t static_body_len;
    unsigned retry_after_s;       /* adds Retry-After when non-zero */
    const char *content_type;     /* NULL means application/json */
    const char *www_authenticate; /* adds WWW-Authenticate when not NULL; static text */
    /* Adds Content-Security-Policy when not NULL; static text. */
    const char *content_security_policy;
    const char *content_encoding; /* adds Content-Encoding when not NULL; static text */
    const char *vary;             /* adds Vary when not NULL; static text */
};

typedef void (*http_handler_fn)(void *app, const struct http_request *request,
                                struct http_response *response);

/* At most this many status codes per route, plus a 0 terminator. */
#define HTTP_MAX_ROUTE_STATUSES 8

struct http_route {
    const char *path;
    unsigned methods;        /* set of enum http_method; HEAD should accompany GET unless
                              * answering costs what the body does (see /bench) */
    http_handler_fn handler; /* NULL when fixed_body answers */
    const char *description; /* listed by GET / */
    /* What the handler can answer, 0-terminated. The layer adds
     * http_layer_statuses to every route; GET / and docs/openapi.yaml list
     * the union, and a test holds the two to each other. */
    unsigned short statuses[HTTP_MAX_ROUTE_STATUSES];
    /* When not NULL, the route always answers 200 with this JSON text. The
     * layer builds that response once, at start-up, and queues the same
     * one on every request: no handler, allocation or formatting. */
    const char *fixed_body;
};

/* Answers the HTTP layer itself can give on any route (400 invalid
 * target, Host or query, 405, 413, 414, 500 out of memory), 0-terminated. 404 is for paths no route
 * matches and 501 for methods the server does not know, whatever the path. */
extern const unsigned short http_layer_statuses[];

struct http_server_options {
    const char *bind;
    unsigned port;
    unsigned threads;
    unsigned max_connections;
    unsigned max_connections_per_ip;
    unsigned ipv6_prefix_length;      /* IPv6 clients count per prefix of this many bits */
    unsigned connection_timeout_s;    /* inactivity */
    unsigned request_timeout_s;       /* the request deadline described above */
    unsigned connection_memory_limit; /* bytes; libmicrohttpd's per-connection pool */
    unsigned max_url_length;          /* bytes of request target; longer gets 414 */
    struct metrics *metrics;          /* every answered request is recorded here */
};

struct http_server;
struct http_deferred;

/* Starts listening and serving. Routes and app must outlive the server.
 * Returns NULL and a message in err when the daemon cannot start (for
 * example, the port is in use). */
struct http_server *http_server_start(const struct http_server_options *options,
                                      const struct http_route *routes, size_t route_count,
                                      void *app, const struct logger *log, char *err,
                                      size_t err_size);

/* Stops accepting connections; requests already received are served, and
 * their responses carry "Connection: close". */
void http_server_begin_shutdown(struct http_server *server);

/* Waits until no request is in flight (deferred ones included) and no
 * connection is left, or the timeout passes; connections waiting for a
 * request are closed within a fraction of a second once shutdown began.
 * Returns true when idle. */
bool http_server_wait_idle(struct http_server *server, unsigned timeout_ms);

/* Closes every connection and frees the server. Call when idle, or after
 * deferred work has been cancelled: connections still in flight are
 * closed. Returns false, and stops and frees nothing, while a deferred
 * request has not been completed (http_deferred_complete() has not
 * returned): libmicrohttpd aborts the process when its daemon stops with a
 * suspended connection, and the completer would use the freed daemon. */
bool http_server_stop(struct http_server *server);

/* Serves HTTP on an already-connected socket as if it had been accepted
 * from `peer` (used by the TLS terminator for the plaintext end of its
 * socketpair). Takes ownership of fd, even on failure. Returns false when
 * the daemon refuses it, e.g. over a connection limit. */
bool http_server_add_connection(struct http_server *server, int fd, const struct sockaddr *peer,
                                socklen_t peer_len);

/* Suspends the request's connection and returns a token for
 * http_deferred_complete(). The handler must then return without setting a
 * response, and someone must complete the token exactly once (the handler
 * itself may, if starting its work fails). Once the server is shutting
 * down (http_server_begin_shutdown) it returns NULL and suspends nothing:
 * the handler then answers itself, as for any other request. */
struct http_deferred *http_request_defer(const struct http_request *request);

/* A flag that becomes true if the client closes the connection while the
 * request is deferred (libmicrohttpd does not watch suspended connections;
 * the layer does, every HTTP_HANGUP_POLL_MS, see http_hangup.h). Valid until
 * http_deferred_complete(). Such a request is logged with status 499 and
 * "client_closed", whatever answer is then given, as nginx logs it. */
const atomic_bool *http_deferred_client_gone(const struct http_deferred *deferred);

/* Delivers the response of a deferred request from any thread and resumes
 * the connection. Takes ownership of response->body. Call exactly once. */
void http_deferred_complete(struct http_deferred *deferred, struct http_response *response);

/* Live figures for /metrics: connections the daemon has open and requests
 * in flight. */
void http_server_stats(struct http_server *server, unsigned *open_connections,
                       unsigned *inflight_requests);

/* Makes `response` a JSON error answer: {"error": message} plus
 * {"parameter": parameter} when parameter is not NULL, on one line ending
 * in '\n'. Bytes of the parameter name outside printable ASCII become '?'
 * (the name comes from the client and must not make the body invalid
 * JSON), and the name is cut at HTTP_ERROR_PARAMETER_MAX bytes. Every
 * error body the server writes itself comes from here. Out of memory, the
 * body is left NULL and the layer sends its fixed out-of-memory body. */
#define HTTP_ERROR_PARAMETER_MAX 64
void http_response_error(struct http_response *response, unsigned status, const char *message,
                         const char *parameter);

/* Room for any error body whose message is at most 300 bytes, however
 * escaped, with a parameter name. */
#define HTTP_ERROR_BODY_MAX 2048

/* The same, written into `buffer` (`size` bytes from malloc, taken in every
 * case) instead of a new allocation: for an answer made where memory may
 * have run out, such as a benchmark that failed for lack of it. A body that
 * does not fit gets the out-of-memory body. */
void http_response_error_in(struct http_response *response, unsigned status, char *buffer,
                            size_t size, const char *message, const char *parameter);

/* Writes the Allow header value for a method set, e.g. "GET, HEAD". */
void http_methods_format(unsigned methods, char *buf, size_t size);

#endif
