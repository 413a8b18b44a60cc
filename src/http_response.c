/*
 * http_response.c - the one place an error answer is written; see http.h.
 */
#include "http.h"

#include "json.h"

void http_response_error(struct http_response *response, unsigned status, const char *message,
                         const char *parameter)
{
    response->status = status;
    response->body = json_error(message, parameter);
    response->retry_after_s = 0;
}
