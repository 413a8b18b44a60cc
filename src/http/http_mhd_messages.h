/*
 * http_mhd_messages.h - the one place that reads libmicrohttpd's wording.
 *
 * libmicrohttpd reports some events only as log messages. Where the server
 * must act on one, it recognises the message by its format string, compared
 * verbatim with the pinned version's (deps.lock), and takes the arguments
 * from the va_list by type: nothing parses rendered text. The unit test
 * (tests/unit/test_http_mhd_messages.c) finds every format string below in
 * the built libmicrohttpd.a, so a version that rewords one fails the test
 * instead of silently changing what the server logs.
 *
 * What the server acts on:
 *  - Socket option noise. libmicrohttpd sets TCP_NODELAY and TCP_CORK on
 *    every connection; on the AF_UNIX sockets the TLS terminator hands over
 *    both fail, and it then warns that it could not push data out early. A
 *    socketpair has no Nagle delay to push past, so these say nothing about
 *    a problem and are dropped.
 *  - A request the library answers itself (400, 431, 505...), with the
 *    reason: the JSON body the patched library sends
 *    (patches/libmicrohttpd/). Its status is counted from the completion
 *    callback through MHD_CONNECTION_INFO_HTTP_STATUS, not from here; this
 *    message supplies the log line, which says why.
 */
#ifndef TINYSERVER_HTTP_MHD_MESSAGES_H
#define TINYSERVER_HTTP_MHD_MESSAGES_H

#include <stdarg.h>
#include <stddef.h>

#define HTTP_MHD_MESSAGE_MAX 512

enum http_mhd_message_kind {
    HTTP_MHD_MESSAGE_NOISE,   /* drop it */
    HTTP_MHD_MESSAGE_REFUSAL, /* a request answered by the library: status and reason */
    HTTP_MHD_MESSAGE_OTHER,   /* anything else: text is the message, one line */
};

struct http_mhd_message {
    enum http_mhd_message_kind kind;
    unsigned status;                 /* REFUSAL only */
    char text[HTTP_MHD_MESSAGE_MAX]; /* REFUSAL: the reason; OTHER: the message */
};

/* Reads one message of libmicrohttpd's external logger (format and
 * arguments as given to it). Consumes args. */
void http_mhd_message_read(const char *fmt, va_list args, struct http_mhd_message *out);

/* The pinned format strings this file recognises, for the unit test. */
extern const char *const http_mhd_formats[];
extern const size_t http_mhd_format_count;

#endif
