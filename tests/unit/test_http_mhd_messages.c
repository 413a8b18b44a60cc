/* Unit tests for http_mhd_messages.c, the one reader of libmicrohttpd's
 * wording: every format string it recognises must be in the libmicrohttpd.a
 * this build links (so a rewording fails here), and each is read right. */
#define _GNU_SOURCE
#include "check.h"
#include "http_mhd_messages.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Defined by tests/meson.build: the archive the server links. */
#ifndef TINYSERVER_MHD_ARCHIVE
#error "TINYSERVER_MHD_ARCHIVE must name libmicrohttpd.a"
#endif

static char *read_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        return NULL;
    }
    char *data = NULL;
    size_t used = 0;
    size_t capacity = 0;
    for (;;) {
        if (used == capacity) {
            capacity = capacity == 0 ? 1u << 20 : capacity * 2;
            char *grown = realloc(data, capacity);
            if (grown == NULL) {
                free(data);
                fclose(file);
                return NULL;
            }
            data = grown;
        }
        size_t n = fread(data + used, 1, capacity - used, file);
        used += n;
        if (n == 0) {
            break;
        }
    }
    fclose(file);
    *size = used;
    return data;
}

static void test_formats_are_the_pinned_librarys(void)
{
    size_t size = 0;
    char *archive = read_file(TINYSERVER_MHD_ARCHIVE, &size);
    CHECK_MSG(archive != NULL, "cannot read %s", TINYSERVER_MHD_ARCHIVE);
    if (archive == NULL) {
        return;
    }
    CHECK(http_mhd_format_count == 4);
    for (size_t i = 0; i < http_mhd_format_count; i++) {
        const char *format = http_mhd_formats[i];
        /* as a C string in the archive: followed by its NUL */
        CHECK_MSG(memmem(archive, size, format, strlen(format) + 1) != NULL,
                  "libmicrohttpd no longer logs \"%s\"", format);
    }
    free(archive);
}

static void read_message(struct http_mhd_message *out, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    http_mhd_message_read(fmt, args, out);
    va_end(args);
}

/* The library's own format strings, by index in http_mhd_formats. */
enum { OPTION_FAILED, OPTION_FAILED_ON_SOCKET, PUSH_FAILED, REFUSAL };

static void test_reading(void)
{
    struct http_mhd_message message;
    read_message(&message, http_mhd_formats[OPTION_FAILED], "TCP_NODELAY", "ON", "EOPNOTSUPP");
    CHECK(message.kind == HTTP_MHD_MESSAGE_NOISE);
    read_message(&message, http_mhd_formats[OPTION_FAILED_ON_SOCKET], "TCP_CORK", "OFF", 7,
                 "EOPNOTSUPP");
    CHECK(message.kind == HTTP_MHD_MESSAGE_NOISE);
    read_message(&message, http_mhd_formats[PUSH_FAILED]);
    CHECK(message.kind == HTTP_MHD_MESSAGE_NOISE);

    read_message(&message, http_mhd_formats[REFUSAL], 400u,
                 "{\"error\":\"HTTP/1.1 request without \\\"Host:\\\"\"}");
    CHECK(message.kind == HTTP_MHD_MESSAGE_REFUSAL && message.status == 400);
    CHECK(strcmp(message.text, "HTTP/1.1 request without \"Host:\"") == 0);
    read_message(&message, http_mhd_formats[REFUSAL], 505u, "not JSON \\ at all");
    CHECK(message.kind == HTTP_MHD_MESSAGE_REFUSAL && message.status == 505);
    CHECK(strcmp(message.text, "not JSON \\ at all") == 0); /* kept whole */

    /* Anything else is rendered on one line. */
    read_message(&message, "Connection %d timed out: %s\r\nmore\n", 12, "idle");
    CHECK(message.kind == HTTP_MHD_MESSAGE_OTHER);
    CHECK(strcmp(message.text, "Connection 12 timed out: idle") == 0);
    /* A message worded like a refusal but not from its format is not one. */
    read_message(&message, "Error processing request (HTTP response code is %u", 431u);
    CHECK(message.kind == HTTP_MHD_MESSAGE_OTHER);
}

int main(void)
{
    test_formats_are_the_pinned_librarys();
    test_reading();
    return check_finish("http_mhd_messages");
}
