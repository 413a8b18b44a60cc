/*
 * http_status.h - the one list of HTTP status codes.
 *
 * HTTP_SERVER_STATUSES lists every status the server's own answers use:
 * the route table, the HTTP layer and the handlers name them from here, and
 * the request metrics have one slot per entry (plus "other"). To answer
 * with a new status, add it here; tests/unit/test_http_routing.c fails when
 * a route lists a status this list lacks.
 *
 * HTTP_LIBRARY_STATUSES lists what libmicrohttpd answers with itself,
 * before any route (a redirect for whitespace in the target, malformed
 * requests, bodies and headers over its limits, unsupported codings and
 * versions); the refusal metrics have one slot per entry (plus "other").
 */
#ifndef TINYSERVER_HTTP_STATUS_H
#define TINYSERVER_HTTP_STATUS_H

/* X(name, code), ascending by code. 499 is nginx's code for a client that
 * left before its answer: logged and counted, never sent. */
#define HTTP_SERVER_STATUSES(X)                                                                    \
    X(HTTP_STATUS_OK, 200)                                                                         \
    X(HTTP_STATUS_BAD_REQUEST, 400)                                                                \
    X(HTTP_STATUS_UNAUTHORIZED, 401)                                                               \
    X(HTTP_STATUS_NOT_FOUND, 404)                                                                  \
    X(HTTP_STATUS_METHOD_NOT_ALLOWED, 405)                                                         \
    X(HTTP_STATUS_CONTENT_TOO_LARGE, 413)                                                          \
    X(HTTP_STATUS_URI_TOO_LONG, 414)                                                               \
    X(HTTP_STATUS_TOO_MANY_REQUESTS, 429)                                                          \
    X(HTTP_STATUS_CLIENT_CLOSED, 499)                                                              \
    X(HTTP_STATUS_INTERNAL_SERVER_ERROR, 500)                                                      \
    X(HTTP_STATUS_NOT_IMPLEMENTED, 501)                                                            \
    X(HTTP_STATUS_SERVICE_UNAVAILABLE, 503)

/* X(code), ascending. */
#define HTTP_LIBRARY_STATUSES(X) X(301) X(400) X(413) X(414) X(431) X(500) X(501) X(505)

#define HTTP_STATUS_ENUM_ROW(name, code) name = code,
enum http_status { HTTP_SERVER_STATUSES(HTTP_STATUS_ENUM_ROW) };
#undef HTTP_STATUS_ENUM_ROW

/* Counting rows: each expands to "+ 1". */
#define HTTP_STATUS_COUNT_ROW2(name, code) +1
#define HTTP_STATUS_COUNT_ROW1(code)       +1
#define HTTP_SERVER_STATUS_COUNT           (0 HTTP_SERVER_STATUSES(HTTP_STATUS_COUNT_ROW2))
#define HTTP_LIBRARY_STATUS_COUNT          (0 HTTP_LIBRARY_STATUSES(HTTP_STATUS_COUNT_ROW1))

#endif
