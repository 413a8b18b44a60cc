/*
 * log.c - formatting log lines and choosing where they go; see log.h for
 * the contract. Buffering is log_sink.c's, the writing log_write.c's.
 */
#include "log.h"

#include "decimal.h"
#include "log_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Long enough for any message we format; longer ones are truncated rather
 * than split, because a split line could be mistaken for two events. */
#define LOG_LINE_MAX   2048
#define LOG_FIELD_MAX  512 /* the path in an access line, NUL included */
#define LOG_METHOD_MAX 32

const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
const char *const log_format_names[] = {"text", "json", NULL};

/* A log file is created readable by its owner and group only: access
 * lines carry client addresses and paths. */
#define LOG_FILE_MODE 0640

size_t log_effective_buffer(const struct log_destination *dest, bool regular_file)
{
    if (dest->path[0] == '\0') {
        return 0;
    }
    if (!regular_file && dest->buffer_size > PIPE_BUF) {
        return PIPE_BUF;
    }
    return dest->buffer_size;
}

bool log_open(struct logger *log, enum log_level min_level, enum log_format format,
              const struct log_destination *dest, char *err, size_t err_size)
{
    *log = (struct logger){.fd = STDOUT_FILENO, .min_level = min_level, .format = format};
    bool regular_file = false;
    if (dest->path[0] != '\0') {
        log->fd = open(dest->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, LOG_FILE_MODE);
        if (log->fd < 0) {
            snprintf(err, err_size, "cannot open \"%s\": %s", dest->path, strerror(errno));
            return false;
        }
        log->owns_fd = true;
        struct stat st;
        regular_file = fstat(log->fd, &st) == 0 && S_ISREG(st.st_mode);
    }
    size_t buffer_size = log_effective_buffer(dest, regular_file);
    if (buffer_size != 0) {
        log->sink = log_sink_start(log->fd, buffer_size, dest->flush_ms, err, err_size);
        if (log->sink == NULL) {
            log_close(log);
            return false;
        }
    }
    return true;
}

void log_close(struct logger *log)
{
    log_sink_stop(log->sink);
    log->sink = NULL;
    if (log->owns_fd) {
        close(log->fd);
        log->owns_fd = false;
    }
    log->fd = STDOUT_FILENO;
}

/* Sends one finished line on its way: an access line into the calling
 * thread's buffer when there is one, anything else out at once. */
static void emit(const struct logger *log, const char *line, size_t len, bool access)
{
    if (log->sink == NULL) {
        log_write_all(log->fd, line, len);
    } else if (access) {
        log_sink_put(log->sink, line, len);
    } else {
        log_sink_put_now(log->sink, line, len);
    }
}

/* A line being built. `used` stays within LOG_LINE_MAX - 2, so that
 * finish_line() always has room for the '\n' and the NUL: text that does
 * not fit is cut, and the line is never split. */
struct line {
    char text[LOG_LINE_MAX];
    size_t used;
};

static void put_bytes(struct line *line, const char *bytes, size_t len)
{
    size_t room = LOG_LINE_MAX - 2 - line->used;
    if (len > room) {
        len = room;
    }
    memcpy(line->text + line->used, bytes, len);
    line->used += len;
}

static void put_text(struct line *line, const char *text)
{
    put_bytes(line, text, strlen(text));
}

/* `value` in decimal, zero-padded to at least min_digits. */
static void put_decimal(struct line *line, unsigned long long value, unsigned min_digits)
{
    char digits[DECIMAL_MAX];
    put_bytes(line, digits, decimal_format(digits, value, min_digits));
}

/* `value`'s last `count` decimal digits at `at`, zero-padded. */
static void write_digits(char *at, unsigned value, unsigned count)
{
    while (count > 0) {
        at[--count] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* "2026-01-01T00:00:00.000Z" (UTC), or "-" without a clock. Written
 * digit by digit into fixed places: strftime and printf cost ten times as
 * much, on every access line. */
static void put_timestamp(struct line *line)
{
    struct timespec now;
    struct tm utc;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &utc) == NULL) {
        put_text(line, "-");
        return;
    }
    char stamp[] = "YYYY-MM-DDTHH:MM:SS.mmmZ";
    write_digits(stamp, (unsigned)utc.tm_year + 1900u, 4);
    write_digits(stamp + 5, (unsigned)utc.tm_mon + 1u, 2);
    write_digits(stamp + 8, (unsigned)utc.tm_mday, 2);
    write_digits(stamp + 11, (unsigned)utc.tm_hour, 2);
    write_digits(stamp + 14, (unsigned)utc.tm_min, 2);
    write_digits(stamp + 17, (unsigned)utc.tm_sec, 2);
    write_digits(stamp + 20, (unsigned)(now.tv_nsec / 1000000L), 3);
    put_bytes(line, stamp, sizeof(stamp) - 1);
}

/* Ends the line with '\n' (and a NUL); returns its length. */
static size_t finish_line(struct line *line)
{
    line->text[line->used++] = '\n';
    line->text[line->used] = '\0';
    return line->used;
}

/* How one unsafe byte is written: "\x0a" in text lines, "\u000a" in JSON
 * strings. `prefix` precedes the two hex digits. */
struct escape_style {
    const char *prefix;
    size_t prefix_len;
};

static const struct escape_style text_escape = {"\\x", 2};
static const struct escape_style json_escape = {"\\u00", 4};

/* Escapes src into dst (dst_size bytes, NUL included); returns the length
 * written. A truncation ends in "...", never in half an escape. */
static size_t escape_bytes(char *dst, size_t dst_size, const char *src,
                           const struct escape_style *style)
{
    static const char hex[] = "0123456789abcdef";
    static const char ellipsis[] = "...";
    size_t out = 0;
    if (dst_size < sizeof(ellipsis)) {
        /* No room even for the marker: an empty field, not an overrun. */
        if (dst_size != 0) {
            dst[0] = '\0';
        }
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
        bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '"';
        size_t need = plain ? 1 : style->prefix_len + 2;
        if (out + need + sizeof(ellipsis) > dst_size) {
            memcpy(dst + out, ellipsis, sizeof(ellipsis));
            return out + sizeof(ellipsis) - 1;
        }
        if (plain) {
            dst[out++] = (char)*p;
        } else {
            memcpy(dst + out, style->prefix, style->prefix_len);
            out += style->prefix_len;
            dst[out++] = hex[*p >> 4];
            dst[out++] = hex[*p & 0x0f];
        }
    }
    dst[out] = '\0';
    return out;
}

/* Appends src escaped, in at most field_size - 1 bytes. */
static void put_escaped(struct line *line, const char *src, size_t field_size,
                        const struct escape_style *style)
{
    size_t room = LOG_LINE_MAX - 1 - line->used;
    line->used +=
        escape_bytes(line->text + line->used, field_size < room ? field_size : room, src, style);
}

char *log_escape(char *dst, size_t dst_size, const char *src)
{
    escape_bytes(dst, dst_size, src, &text_escape);
    return dst;
}

char *log_json_escape(char *dst, size_t dst_size, const char *src)
{
    escape_bytes(dst, dst_size, src, &json_escape);
    return dst;
}

void log_message(const struct logger *log, enum log_level level, const char *fmt, ...)
{
    if (level < log->min_level) {
        return;
    }
    char message[LOG_LINE_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);

    struct line line;
    line.used = 0; /* not `= {0}`: that would clear the whole text */
    bool json = log->format == LOG_FORMAT_JSON;
    put_text(&line, json ? "{\"time\":\"" : "");
    put_timestamp(&line);
    put_text(&line, json ? "\",\"level\":\"" : " ");
    put_text(&line, log_level_names[level]);
    put_text(&line, json ? "\",\"message\":\"" : " ");
    /* Messages can carry text from outside (libmicrohttpd's diagnostics,
     * file names): escaped here, so no caller has to. The escaped text is
     * what gets truncated, with its marker, so the line always keeps its
     * closing quote and brace and stays valid JSON. */
    const char *suffix = json ? "\"}" : "";
    put_escaped(&line, message, LOG_LINE_MAX - 1 - strlen(suffix) - line.used,
                json ? &json_escape : &text_escape);
    put_text(&line, suffix);
    emit(log, line.text, finish_line(&line), false);
}

/* The duration as milliseconds with three decimals: "1.500". */
static void put_duration_ms(struct line *line, uint64_t duration_us)
{
    put_decimal(line, (unsigned long long)(duration_us / 1000), 1);
    put_text(line, ".");
    put_decimal(line, (unsigned long long)(duration_us % 1000), 3);
}

/* Text:  2026-01-01T00:00:00.000Z info access PEER "METHOD PATH" STATUS 1.500ms[ client_closed]
 * JSON:  {"time":...,"level":"info","event":"access","client":...,"method":...,"path":...,
 *         "status":N,"duration_ms":1.500[,"client_closed":true]}
 * Built piece by piece, without printf: this runs for every request. */
void log_access(const struct logger *log, const struct log_access_entry *entry)
{
    if (LOG_INFO < log->min_level) {
        return;
    }
    struct line line;
    line.used = 0; /* not `= {0}`: that would clear the whole text */
    bool json = log->format == LOG_FORMAT_JSON;
    const struct escape_style *style = json ? &json_escape : &text_escape;
    put_text(&line, json ? "{\"time\":\"" : "");
    put_timestamp(&line);
    put_text(&line,
             json ? "\",\"level\":\"info\",\"event\":\"access\",\"client\":\"" : " info access ");
    put_text(&line, entry->peer);
    put_text(&line, json ? "\",\"method\":\"" : " \"");
    put_escaped(&line, entry->method, LOG_METHOD_MAX, style);
    put_text(&line, json ? "\",\"path\":\"" : " ");
    put_escaped(&line, entry->path, LOG_FIELD_MAX, style);
    put_text(&line, json ? "\",\"status\":" : "\" ");
    put_decimal(&line, entry->status, 1);
    put_text(&line, json ? ",\"duration_ms\":" : " ");
    put_duration_ms(&line, entry->duration_us);
    if (json) {
        put_text(&line, entry->client_closed ? ",\"client_closed\":true}" : "}");
    } else {
        put_text(&line, entry->client_closed ? "ms client_closed" : "ms");
    }
    emit(log, line.text, finish_line(&line), true);
}
