/*
 * http_response.c - the one place an error answer is written (see http.h)
 * and the one place any answer becomes a libmicrohttpd response (see
 * http_internal.h).
 */
#include "http_internal.h"

#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sent when even the error body could not be allocated. */
static const char http_oom_body[] = "{\"error\":\"out of memory\"}\n";

void http_response_error(struct http_response *response, unsigned status, const char *message,
                         const char *parameter)
{
    response->status = status;
    response->body = json_error(message, parameter);
    response->retry_after_s = 0;
}

/* Queues `answer` (taking its body) on the connection. */
enum MHD_Result http_queue_answer(struct request_state *state, struct http_response *answer,
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
    if (headers_ok && (state->close_after || atomic_load(&state->server->stopping))) {
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
