/*
 * http_mhd_messages.c - see http_mhd_messages.h.
 */
#include "http_mhd_messages.h"

#include "array.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* libmicrohttpd 1.0.10, verbatim: src/microhttpd/mhd_send.c ... */
#define FORMAT_OPTION_FAILED "Setting %s option to %s state failed: %s\n"
#define FORMAT_OPTION_FAILED_ON_SOCKET                                                             \
    "Setting %s option to %s state failed for TCP/IP socket %d: %s\n"
#define FORMAT_PUSH_FAILED                                                                         \
    "Failed to push the data from buffers to the network. Client may experience some delay "       \
    "(usually in range 200ms - 5 sec).\n"
/* ... and src/microhttpd/connection.c, transmit_error_response_len(). */
#define FORMAT_REFUSAL                                                                             \
    "Error processing request (HTTP response code is %u ('%s')). Closing connection.\n"

const char *const http_mhd_formats[] = {
    FORMAT_OPTION_FAILED,
    FORMAT_OPTION_FAILED_ON_SOCKET,
    FORMAT_PUSH_FAILED,
    FORMAT_REFUSAL,
};
const size_t http_mhd_format_count = ARRAY_SIZE(http_mhd_formats);

static bool is_noise(const char *fmt)
{
    return strcmp(fmt, FORMAT_OPTION_FAILED) == 0 ||
           strcmp(fmt, FORMAT_OPTION_FAILED_ON_SOCKET) == 0 || strcmp(fmt, FORMAT_PUSH_FAILED) == 0;
}

/* The "error" text of a JSON error body ({"error":"TEXT"}), with the only
 * escapes the patched messages use (\" and \\) undone; the logger escapes
 * it again for its format. The whole body if it is not one. */
static void error_text(const char *body, char *out, size_t size)
{
    static const char opening[] = "{\"error\":\"";
    static const char closing[] = "\"}";
    size_t len = strlen(body);
    if (strncmp(body, opening, sizeof(opening) - 1) != 0 || len < sizeof(opening) + 1 ||
        strcmp(body + len - (sizeof(closing) - 1), closing) != 0) {
        snprintf(out, size, "%s", body);
        return;
    }
    const char *end = body + len - (sizeof(closing) - 1);
    size_t used = 0;
    for (const char *p = body + sizeof(opening) - 1; p < end && used + 1 < size; p++) {
        if (*p == '\\' && p + 1 < end) {
            p++;
        }
        out[used++] = *p;
    }
    out[used] = '\0';
}

void http_mhd_message_read(const char *fmt, va_list args, struct http_mhd_message *out)
{
    out->status = 0;
    out->text[0] = '\0';
    if (is_noise(fmt)) {
        out->kind = HTTP_MHD_MESSAGE_NOISE;
        return;
    }
    if (strcmp(fmt, FORMAT_REFUSAL) == 0) {
        out->kind = HTTP_MHD_MESSAGE_REFUSAL;
        out->status = va_arg(args, unsigned);
        const char *body = va_arg(args, const char *);
        error_text(body != NULL ? body : "", out->text, sizeof(out->text));
        return;
    }
    out->kind = HTTP_MHD_MESSAGE_OTHER;
    vsnprintf(out->text, sizeof(out->text), fmt, args);
    out->text[strcspn(out->text, "\r\n")] = '\0';
}
