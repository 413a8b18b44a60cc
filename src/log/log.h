/*
 * log.h - line-oriented logging to a file descriptor (stdout by default).
 *
 * Lines are plain text or, with LOG_FORMAT_JSON, one JSON object each.
 * Each line is formatted in a stack buffer and written whole: unbuffered,
 * with one write(2) call per line, so lines from concurrent threads never
 * interleave (writes to a pipe of at most PIPE_BUF bytes are atomic). Bytes
 * that come from clients, such as the request path, are escaped so a
 * client cannot forge log lines.
 *
 * Access lines to a log file may be buffered instead (log_open with a
 * buffer size): each thread keeps its own lines and writes them out in
 * batches of whole lines, when the next line would not fit or the oldest
 * has waited flush_ms (log_sink.h). Every other message is written at once,
 * after the buffered access lines, so the file stays in order around it.
 * stdout is never buffered: whoever reads it (a terminal, a container
 * engine) expects each line as it happens.
 *
 * The logger is a plain value owned by the caller (main) and passed to the
 * modules that log; there is no global logger. A value filled in by hand,
 * with only fd, min_level and format, logs unbuffered to fd.
 */
#ifndef TINYSERVER_LOG_H
#define TINYSERVER_LOG_H

#include "log_sink.h"

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
    struct log_sink *sink; /* NULL: one write(2) per line */
    bool owns_fd;          /* log_close() closes fd: log_open() opened it */
};

/* Where lines go, as configured. */
struct log_destination {
    const char *path;   /* "" for stdout; else appended to, created 0640 */
    size_t buffer_size; /* for access lines, per thread; 0: one write per line */
    unsigned flush_ms;  /* a buffered line waits at most this long (>= 1) */
};

/* The buffer a destination gets: none on stdout or when 0 was asked for,
 * at most PIPE_BUF when the file is not a regular file (a pipe, a FIFO, a
 * terminal), so that each write stays atomic towards other writers. */
size_t log_effective_buffer(const struct log_destination *dest, bool regular_file);

/* Fills *log: opens dest->path (O_APPEND, O_CLOEXEC) or takes stdout, and
 * starts buffering if the destination gets a buffer. Returns false with a
 * message in err (the caller exits with status 2 for a path it cannot
 * open). */
bool log_open(struct logger *log, enum log_level min_level, enum log_format format,
              const struct log_destination *dest, char *err, size_t err_size);

/* Writes out every buffered line, stops buffering and closes the file
 * log_open opened. No thread may log through *log afterwards. */
void log_close(struct logger *log);

/* One finished HTTP request, as the access log records it. */
struct log_access_entry {
    const char *peer;   /* client address as text */
    const char *method; /* client-controlled: escaped when written */
    const char *path;   /* client-controlled: escaped when written */
    unsigned status;    /* 0 when no response was sent */
    uint64_t duration_us;
    bool client_closed; /* the client left before the answer was out */
};

/* Written at once, after any buffered access lines. The formatted message
 * is escaped for the line's format (\xHH in text, \u00XX in JSON), so
 * callers pass raw text, from clients or not. */
void log_message(const struct logger *log, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Access lines are logged at LOG_INFO, and are the lines a buffered
 * logger keeps back. */
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
