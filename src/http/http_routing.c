/*
 * http_routing.c - see http_routing.h.
 */
#include "http_routing.h"

#include "array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const unsigned short http_layer_statuses[] = {
    HTTP_STATUS_BAD_REQUEST,  HTTP_STATUS_METHOD_NOT_ALLOWED,    HTTP_STATUS_CONTENT_TOO_LARGE,
    HTTP_STATUS_URI_TOO_LONG, HTTP_STATUS_INTERNAL_SERVER_ERROR, 0,
};

static const struct {
    const char *name;
    enum http_method bit;
} http_methods[] = {
    {"GET", HTTP_GET},         {"HEAD", HTTP_HEAD},       {"POST", HTTP_POST},
    {"PUT", HTTP_PUT},         {"DELETE", HTTP_DELETE},   {"PATCH", HTTP_PATCH},
    {"OPTIONS", HTTP_OPTIONS}, {"CONNECT", HTTP_CONNECT}, {"TRACE", HTTP_TRACE},
};

unsigned http_method_bit(const char *method)
{
    for (size_t i = 0; i < ARRAY_SIZE(http_methods); i++) {
        if (strcmp(method, http_methods[i].name) == 0) {
            return http_methods[i].bit;
        }
    }
    return 0;
}

void http_methods_format(unsigned methods, char *buf, size_t size)
{
    size_t used = 0;
    if (size == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(http_methods); i++) {
        if ((methods & http_methods[i].bit) == 0) {
            continue;
        }
        int n =
            snprintf(buf + used, size - used, "%s%s", used == 0 ? "" : ", ", http_methods[i].name);
        if (n < 0 || (size_t)n >= size - used) {
            buf[used] = '\0'; /* whole names only */
            return;
        }
        used += (size_t)n;
    }
}

bool http_target_valid(const char *target)
{
    if (*target == '\0') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)target; *p != '\0'; p++) {
        if (*p <= ' ' || *p >= 0x7f) {
            return false;
        }
    }
    return true;
}

const char *http_origin_path(const char *target)
{
    static const char *const schemes[] = {"http://", "https://"};
    if (target[0] == '/') {
        return target; /* origin-form, what nearly every request sends */
    }
    for (size_t i = 0; i < ARRAY_SIZE(schemes); i++) {
        size_t len = strlen(schemes[i]);
        if (strncasecmp(target, schemes[i], len) == 0) {
            const char *path = strchr(target + len, '/');
            return path != NULL ? path : "/";
        }
    }
    return target;
}

enum http_route_outcome http_route_match(const struct http_route *routes, size_t count,
                                         const char *path, const char *method, int *route_index)
{
    *route_index = -1;
    unsigned method_bit = http_method_bit(method);
    if (method_bit == 0) {
        return HTTP_ROUTE_UNKNOWN_METHOD;
    }
    if (strcmp(path, "*") == 0) {
        return method_bit == HTTP_OPTIONS ? HTTP_ROUTE_SERVER_OPTIONS : HTTP_ROUTE_ASTERISK_MISUSED;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            *route_index = (int)i;
            return (routes[i].methods & method_bit) != 0 ? HTTP_ROUTE_FOUND : HTTP_ROUTE_BAD_METHOD;
        }
    }
    return HTTP_ROUTE_NO_PATH;
}

void http_server_options(const struct http_route *routes, size_t count,
                         struct http_response *answer, char *allow)
{
    unsigned methods = 0;
    for (size_t i = 0; i < count; i++) {
        methods |= routes[i].methods;
    }
    http_methods_format(methods, allow, HTTP_ALLOW_MAX);
    answer->status = HTTP_STATUS_OK;
    /* Method names need no JSON escaping. NULL (out of memory) gets the
     * layer's fixed body. */
    static const char format[] = "{\"allow\":\"%s\"}\n";
    size_t size = sizeof(format) + strlen(allow);
    answer->body = malloc(size);
    if (answer->body != NULL) {
        snprintf(answer->body, size, format, allow);
    }
}

void http_route_refusal(enum http_route_outcome outcome, const struct http_route *route,
                        struct http_response *answer, char *allow)
{
    allow[0] = '\0';
    if (outcome == HTTP_ROUTE_ASTERISK_MISUSED) {
        http_response_error(answer, HTTP_STATUS_BAD_REQUEST,
                            "the request target \"*\" is for OPTIONS only", NULL);
        return;
    }
    if (outcome == HTTP_ROUTE_BAD_METHOD) {
        char message[HTTP_ALLOW_MAX + 32];
        http_methods_format(route->methods, allow, HTTP_ALLOW_MAX);
        snprintf(message, sizeof(message), "method not allowed; allowed: %s", allow);
        http_response_error(answer, HTTP_STATUS_METHOD_NOT_ALLOWED, message, NULL);
        return;
    }
    if (outcome == HTTP_ROUTE_UNKNOWN_METHOD) {
        http_response_error(answer, HTTP_STATUS_NOT_IMPLEMENTED,
                            "request method not implemented by this server", NULL);
        return;
    }
    http_response_error(answer, HTTP_STATUS_NOT_FOUND, "no such endpoint; GET / lists them", NULL);
}
