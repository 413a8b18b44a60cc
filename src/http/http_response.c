/*
 * http_response.c - the one place an error answer is written (see http.h)
 * and the one place any answer becomes a libmicrohttpd response (see
 * http_internal.h).
 */
#include "http_internal.h"

#include "cold.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sent when even the error body could not be allocated. */
static const char http_oom_body[] = "{\"error\":\"out of memory\"}\n";

static const char http_json_type[] = "application/json";

/* The headers every answer carries. */
static bool add_common_headers(struct MHD_Response *response, const char *content_type)
{
    return MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) ==
               MHD_YES &&
           MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
}

/* Whether this answer must say "Connection: close". */
static bool closes_connection(const struct request_state *state)
{
    return state->close_after || atomic_load(&state->server->stopping);
}

/* Queues `response` (which the caller still destroys) and records it. */
static enum MHD_Result queue_and_record(struct request_state *state, unsigned status,
                                        struct MHD_Response *response)
{
    enum MHD_Result queued = MHD_queue_response(state->connection, status, response);
    if (queued == MHD_YES) {
        state->status = status;
        atomic_store(&state->phase, PHASE_ANSWERED);
    }
    return queued;
}

/* The parameter name as the body may carry it (see http_response_error). */
static void printable_parameter(const char *parameter, char safe[HTTP_ERROR_PARAMETER_MAX + 1])
{
    size_t i = 0;
    for (; parameter[i] != '\0' && i < HTTP_ERROR_PARAMETER_MAX; i++) {
        unsigned char c = (unsigned char)parameter[i];
        safe[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    safe[i] = '\0';
}

/* Appends one byte to the text being written, if it fits. */
COLD static void put_byte(char *out, size_t size, size_t *len, char c)
{
    if (*len + 1 < size) {
        out[*len] = c;
    }
    (*len)++;
}

COLD static void put_text(char *out, size_t size, size_t *len, const char *text)
{
    for (; *text != '\0'; text++) {
        put_byte(out, size, len, *text);
    }
}

/* A JSON string (RFC 8259): quotes, backslashes and control bytes escaped,
 * the rest as it is. */
COLD static void put_string(char *out, size_t size, size_t *len, const char *text)
{
    static const char hex[] = "0123456789abcdef";
    put_byte(out, size, len, '"');
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\') {
            put_byte(out, size, len, '\\');
            put_byte(out, size, len, (char)*p);
        } else if (*p < 0x20) {
            put_text(out, size, len, "\\u00");
            put_byte(out, size, len, hex[*p >> 4]);
            put_byte(out, size, len, hex[*p & 0xf]);
        } else {
            put_byte(out, size, len, (char)*p);
        }
    }
    put_byte(out, size, len, '"');
}

/* Writes the error body into `out` (`size` bytes, NUL-terminated when size
 * is not 0) without allocating; returns its length, which is below size
 * when it fitted. */
COLD static size_t error_body_format(char *out, size_t size, const char *message,
                                     const char *parameter)
{
    size_t len = 0;
    put_text(out, size, &len, "{\"error\":");
    put_string(out, size, &len, message);
    if (parameter != NULL) {
        char safe[HTTP_ERROR_PARAMETER_MAX + 1];
        printable_parameter(parameter, safe);
        put_text(out, size, &len, ",\"parameter\":");
        put_string(out, size, &len, safe);
    }
    put_text(out, size, &len, "}\n");
    if (size > 0) {
        out[len < size ? len : size - 1] = '\0';
    }
    return len;
}

/* The error body, malloc'd, or NULL when out of memory. */
static char *error_body(const char *message, const char *parameter)
{
    size_t len = error_body_format(NULL, 0, message, parameter);
    char *text = malloc(len + 1);
    if (text != NULL) {
        error_body_format(text, len + 1, message, parameter);
    }
    return text;
}

void http_response_error(struct http_response *response, unsigned status, const char *message,
                         const char *parameter)
{
    response->status = status;
    response->body = error_body(message, parameter);
    response->retry_after_s = 0;
}

void http_response_error_in(struct http_response *response, unsigned status, char *buffer,
                            size_t size, const char *message, const char *parameter)
{
    response->status = status;
    response->retry_after_s = 0;
    response->body = buffer;
    if (buffer != NULL && error_body_format(buffer, size, message, parameter) >= size) {
        free(buffer);
        response->body = NULL;
    }
}

/* Queues `answer` (taking its body) on the connection. */
enum MHD_Result http_queue_answer(struct request_state *state, struct http_response *answer,
                                  const char *allow)
{
    struct MHD_Response *response;
    unsigned status = answer->status;
    bool has_body = answer->body != NULL || answer->static_body != NULL;
    /* the out-of-memory fallback body is JSON whatever was planned */
    const char *content_type =
        has_body && answer->content_type != NULL ? answer->content_type : http_json_type;
    if (answer->static_body != NULL) {
        response =
            MHD_create_response_from_buffer_static(answer->static_body_len, answer->static_body);
    } else if (answer->body != NULL) {
        response = MHD_create_response_from_buffer_with_free_callback(strlen(answer->body),
                                                                      answer->body, free);
        if (response == NULL) {
            free(answer->body);
        }
    } else {
        /* No memory for the body. A planned server-side failure (a /bench
         * run that failed, 503) keeps its status: it is what went wrong,
         * and out of memory is usually why. Anything else becomes 500. */
        if (status < HTTP_STATUS_INTERNAL_SERVER_ERROR) {
            status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
        }
        response = MHD_create_response_from_buffer(sizeof(http_oom_body) - 1, (void *)http_oom_body,
                                                   MHD_RESPMEM_PERSISTENT);
    }
    answer->body = NULL;
    if (response == NULL) {
        return MHD_NO; /* libmicrohttpd closes the connection */
    }
    bool headers_ok = add_common_headers(response, content_type);
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
    if (headers_ok && answer->content_encoding != NULL) {
        headers_ok = MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING,
                                             answer->content_encoding) == MHD_YES;
    }
    if (headers_ok && answer->vary != NULL) {
        headers_ok = MHD_add_response_header(response, MHD_HTTP_HEADER_VARY, answer->vary) == MHD_YES;
    }
    if (headers_ok && answer->retry_after_s != 0) {
        char seconds[16];
        snprintf(seconds, sizeof(seconds), "%u", answer->retry_after_s);
        headers_ok =
            MHD_add_response_header(response, MHD_HTTP_HEADER_RETRY_AFTER, seconds) == MHD_YES;
    }
    if (headers_ok && closes_connection(state)) {
        headers_ok =
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close") == MHD_YES;
    }
    enum MHD_Result queued = headers_ok ? queue_and_record(state, status, response) : MHD_NO;
    MHD_destroy_response(response);
    return queued;
}

bool http_fixed_responses_build(struct http_server *server)
{
    server->fixed_responses = calloc(server->route_count, sizeof(*server->fixed_responses));
    if (server->fixed_responses == NULL) {
        return false;
    }
    for (size_t i = 0; i < server->route_count; i++) {
        const char *body = server->routes[i].fixed_body;
        if (body == NULL) {
            continue;
        }
        struct MHD_Response *response = MHD_create_response_from_buffer_static(strlen(body), body);
        if (response == NULL) {
            http_fixed_responses_free(server);
            return false;
        }
        server->fixed_responses[i] = response;
        if (!add_common_headers(response, http_json_type)) {
            http_fixed_responses_free(server);
            return false;
        }
    }
    return true;
}

void http_fixed_responses_free(struct http_server *server)
{
    if (server->fixed_responses == NULL) {
        return;
    }
    for (size_t i = 0; i < server->route_count; i++) {
        if (server->fixed_responses[i] != NULL) {
            MHD_destroy_response(server->fixed_responses[i]);
        }
    }
    free(server->fixed_responses);
    server->fixed_responses = NULL;
}

enum MHD_Result http_queue_fixed(struct request_state *state, const struct http_route *route)
{
    if (!closes_connection(state)) {
        /* libmicrohttpd counts the references of a queued response, so the
         * one prebuilt response serves every connection and thread. */
        struct MHD_Response *shared = state->server->fixed_responses[state->route_index];
        return queue_and_record(state, HTTP_STATUS_OK, shared);
    }
    struct http_response answer = {
        .status = HTTP_STATUS_OK,
        .body = strdup(route->fixed_body),
    };
    return http_queue_answer(state, &answer, NULL);
}
