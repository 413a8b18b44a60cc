/*
 * http_routing.h - which route a request goes to, and the answer when none
 * fits. Pure functions of the route table, the target and the method: no
 * libmicrohttpd, no I/O, so tests/unit/test_http_routing.c covers them.
 */
#ifndef TINYSERVER_HTTP_ROUTING_H
#define TINYSERVER_HTTP_ROUTING_H

#include "http.h"

#include <stddef.h>

/* Longest Allow header value http_methods_format() writes for any set. */
#define HTTP_ALLOW_MAX 64

enum http_route_outcome {
    HTTP_ROUTE_FOUND,      /* the path matches and so does the method */
    HTTP_ROUTE_NO_PATH,    /* 404 */
    HTTP_ROUTE_BAD_METHOD, /* 405 with Allow */
    /* 501: RFC 9110 section 9.1; checked before the path, since no
     * resource implements a method the server does not know */
    HTTP_ROUTE_UNKNOWN_METHOD,
    /* OPTIONS * (RFC 9110 section 9.3.7): about the server as a whole;
     * 200 with Allow (http_server_options) */
    HTTP_ROUTE_SERVER_OPTIONS,
    /* "*" with any other method: 400 (RFC 9112 section 3.2.4 keeps the
     * asterisk form for OPTIONS) */
    HTTP_ROUTE_ASTERISK_MISUSED,
};

/* The path to route on. RFC 9112 section 3.2.2: a server must accept a
 * request target in absolute form ("GET http://host/healthz"), which is
 * what clients send to proxies; it names the same resource as its path.
 * The authority is not checked: this server answers for any host name.
 * Returns a pointer into target. */
const char *http_origin_path(const char *target);

/* True when every byte of the raw request target is a visible US-ASCII
 * character, as RFC 9112 section 3.2's grammar requires (whitespace, other
 * controls and bytes over 0x7e are not; percent-encoded ones are fine).
 * A target that is not is an invalid request line: 400. */
bool http_target_valid(const char *target);

/* The enum http_method bit of a method name, or 0 for a method this
 * server does not know. Methods are case-sensitive (RFC 9110 section 9.1):
 * "get" is unknown. */
unsigned http_method_bit(const char *method);

/* Matches `path` (already an origin path) and `method` against the table.
 * *route_index is the index of the route whose path matched, also when the
 * method did not (a 405 counts against the route it was meant for), and -1
 * when no path matched or the method is unknown. */
enum http_route_outcome http_route_match(const struct http_route *routes, size_t count,
                                         const char *path, const char *method, int *route_index);

/* Fills `answer` with the answer to OPTIONS *: 200, {"allow": the
 * methods}, and `allow` (HTTP_ALLOW_MAX bytes) with every method some
 * route takes, for the Allow header. */
void http_server_options(const struct http_route *routes, size_t count,
                         struct http_response *answer, char *allow);

/* Fills `answer` with the JSON error for an outcome other than FOUND and
 * SERVER_OPTIONS, and
 * `allow` (HTTP_ALLOW_MAX bytes) with the Allow header a 405 carries, or
 * "" when none. `route` is the matched route for BAD_METHOD, else unused. */
void http_route_refusal(enum http_route_outcome outcome, const struct http_route *route,
                        struct http_response *answer, char *allow);

#endif
