/*
 * http_admission.c - what the HTTP layer answers from a request's head
 * alone, before any handler runs; see http_internal.h.
 */
#include "http_internal.h"

#include "http_host.h"
#include "http_routing.h"

#include <string.h>
#include <strings.h>

/* Answers 404 or 405 when the path or method does not match a route.
 * Returns NULL after queueing such an answer (its result in *queued). */
const struct http_route *http_route_or_answer(struct request_state *state, const char *path,
                                              const char *method, enum MHD_Result *queued)
{
    const struct http_server *server = state->server;
    enum http_route_outcome outcome =
        http_route_match(server->routes, server->route_count, path, method, &state->route_index);
    if (outcome == HTTP_ROUTE_FOUND) {
        return &server->routes[state->route_index];
    }
    struct http_response answer = {0};
    char allow[HTTP_ALLOW_MAX];
    if (outcome == HTTP_ROUTE_SERVER_OPTIONS) {
        http_server_options(server->routes, server->route_count, &answer, allow);
    } else {
        http_route_refusal(outcome,
                           state->route_index >= 0 ? &server->routes[state->route_index] : NULL,
                           &answer, allow);
    }
    *queued = http_queue_answer(state, &answer, allow[0] != '\0' ? allow : NULL);
    return NULL;
}

/* The header fields the head is judged by, found in one pass over the
 * headers (a lookup per field would walk them once each). The library has
 * already refused a second Host, Content-Length with Transfer-Encoding,
 * and every transfer coding but chunked (400 or 501 at client discipline
 * level 1). */
struct head_fields {
    const char *host; /* NULL when absent */
    size_t host_len;
    bool chunked;        /* Transfer-Encoding: chunked; it may still be empty */
    bool length_nonzero; /* a Content-Length over 0 */
};

static bool field_is(const char *key, size_t key_len, const char *name, size_t name_len)
{
    return key_len == name_len && strncasecmp(key, name, name_len) == 0;
}

#define FIELD_IS(key, key_len, name) field_is(key, key_len, name, sizeof(name) - 1)

static enum MHD_Result collect_head_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                          size_t key_len, const char *value, size_t value_len)
{
    (void)kind;
    struct head_fields *fields = cls;
    if (FIELD_IS(key, key_len, MHD_HTTP_HEADER_HOST)) {
        fields->host = value;
        fields->host_len = value_len;
    } else if (FIELD_IS(key, key_len, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        fields->chunked = true;
    } else if (FIELD_IS(key, key_len, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        fields->length_nonzero = strspn(value, "0") != value_len;
    }
    return MHD_YES;
}

/* A request with a body: no endpoint takes one. The answer goes out before
 * the body is read (on the first call, or on the first piece of a chunked
 * body); libmicrohttpd then closes the connection instead of reading the
 * rest, which is what a client that sends unwanted data deserves. */
enum MHD_Result http_refuse_body(struct request_state *state, const char *url, const char *method)
{
    enum MHD_Result queued = MHD_NO;
    if (http_route_or_answer(state, url, method, &queued) == NULL) {
        return queued;
    }
    struct http_response answer = {0};
    http_response_error(&answer, HTTP_STATUS_CONTENT_TOO_LARGE,
                        "this endpoint takes no request body", NULL);
    return http_queue_answer(state, &answer, NULL);
}

/* A request target longer than max_url_length: 414. (Targets that do not
 * even fit in the connection's memory get libmicrohttpd's own 414.) */
static enum MHD_Result refuse_long_url(struct request_state *state)
{
    struct http_response answer = {0};
    http_response_error(&answer, HTTP_STATUS_URI_TOO_LONG, "request target too long", NULL);
    return http_queue_answer(state, &answer, NULL);
}

/* RFC 9112 section 3.2: 400 for an invalid Host. A missing one (in
 * HTTP/1.1) and several are the library's 400, at discipline level 1. */
static bool host_invalid(const struct head_fields *fields)
{
    return fields->host != NULL && !http_host_valid(fields->host, fields->host_len);
}

/* 400 for a malformed request: the client that sent it may frame the next
 * one badly too, so the connection closes. */
static enum MHD_Result refuse_malformed(struct request_state *state, const char *why)
{
    struct http_response answer = {0};
    http_response_error(&answer, HTTP_STATUS_BAD_REQUEST, why, NULL);
    state->close_after = true;
    return http_queue_answer(state, &answer, NULL);
}

/* The first call: answers what can be judged from the request line and
 * headers alone, or returns MHD_YES to wait for the final call. */
enum MHD_Result http_judge_head(struct request_state *state, const struct http_conn *conn,
                                const char *url, const char *method)
{
    if (conn != NULL && conn->over_limit) {
        return MHD_NO; /* refused as it started (on_connection): close */
    }
    if (conn != NULL && !conn->target_valid) {
        return refuse_malformed(state, "request target has a control, space or non-ASCII byte");
    }
    struct head_fields fields = {0};
    MHD_get_connection_values_n(state->connection, MHD_HEADER_KIND, collect_head_field, &fields);
    if (host_invalid(&fields)) {
        return refuse_malformed(state, "invalid Host header");
    }
    if (conn != NULL && conn->target_len > state->server->max_url_length) {
        return refuse_long_url(state);
    }
    if (fields.length_nonzero && !fields.chunked) {
        return http_refuse_body(state, http_origin_path(url), method);
    }
    return MHD_YES;
}
