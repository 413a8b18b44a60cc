/*
 * log.h - line-oriented logging to a file descriptor (stdout by default).
 *
 * Lines are plain text or, with LOG_FORMAT_JSON, one JSON object each.
 * Each line is formatted in a stack buffer and written with one write(2)
 * call, so lines from concurrent threads never interleave (writes to a pipe
 * of at most PIPE_BUF bytes are atomic). Bytes that come from clients, such
 * as the request path, are escaped so a client cannot forge log lines.
 *
 * The logger is a plain value owned by the caller (main) and passed to the
 * modules that log; there is no global logger.
 */
#ifndef TINYSERVER_LOG_H
#define TINYSERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR,
};

/* Names of the levels, indexed by enum log_level, NULL-terminated. The
 * configuration table uses this list to validate LOG_LEVEL. */
extern const char *const log_level_names[];

enum log_format {
    LOG_FORMAT_TEXT = 0, /* "2026-01-01T00:00:00.000Z info message" */
    LOG_FORMAT_JSON,     /* one JSON object per line */
};

/* Names of the formats, indexed by enum log_format, NULL-terminated. */
extern const char *const log_format_names[];

struct logger {
    int fd;
    enum log_level min_level;
    enum log_format format;
};

/* One finished HTTP request, as the access log records it. */
struct log_access_entry {
    const char *peer;   /* client address as text */
    const char *method; /* client-controlled: escaped when written */
    const char *path;   /* client-controlled: escaped when written */
    unsigned status;    /* 0 when no response was sent */
    uint64_t duration_us;
    bool client_closed; /* the client left before the answer was out */
};

/* The formatted message is escaped for the line's format (\xHH in text,
 * \u00XX in JSON), so callers pass raw text, from clients or not. */
void log_message(const struct logger *log, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Access lines are logged at LOG_INFO. */
void log_access(const struct logger *log, const struct log_access_entry *entry);

/* Copies src into dst as the inside of a JSON string: quotes, backslashes
 * and every byte outside printable ASCII become escapes (\u00XX), so the
 * result is valid JSON even for invalid UTF-8. Always NUL-terminates; marks
 * a truncation with "...". Returns dst. */
char *log_json_escape(char *dst, size_t dst_size, const char *src);

/* Copies src into dst, replacing bytes outside printable ASCII, the
 * backslash and the double quote with \xHH. Always NUL-terminates; marks a
 * truncation with "...". Returns dst. Exposed for the unit tests. */
char *log_escape(char *dst, size_t dst_size, const char *src);

#endif
