/*
 * log.c - formatting and writing log lines; see log.h for the contract.
 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Long enough for any message we format; longer ones are truncated rather
 * than split, because a split line could be mistaken for two events. */
#define LOG_LINE_MAX  2048
#define LOG_FIELD_MAX 512

const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
const char *const log_format_names[] = {"text", "json", NULL};

static size_t format_timestamp(char *buf, size_t size)
{
    struct timespec now;
    struct tm utc;
    if (clock_gettime(CLOCK_REALTIME, &now) != 0 || gmtime_r(&now.tv_sec, &utc) == NULL) {
        return (size_t)snprintf(buf, size, "-");
    }
    size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &utc);
    int tail = snprintf(buf + n, size - n, ".%03ldZ", now.tv_nsec / 1000000L);
    return tail > 0 ? n + (size_t)tail : n;
}

/* Writes the whole line, retrying on EINTR and short writes. Logging must
 * never take the server down, so other errors are dropped on purpose. */
static void write_line(int fd, const char *line, size_t len)
{
    while (len > 0) {
        ssize_t written = write(fd, line, len);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        line += written;
        len -= (size_t)written;
    }
}

/* Clamps snprintf-style results so a truncated line still ends in '\n'. */
static size_t finish_line(char *line, size_t used)
{
    if (used > LOG_LINE_MAX - 2) {
        used = LOG_LINE_MAX - 2;
    }
    line[used++] = '\n';
    line[used] = '\0';
    return used;
}

/* Appends printf-style text at line+used, keeping `used` within bounds. */
static size_t append(char *line, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t append(char *line, size_t used, const char *fmt, ...)
{
    if (used >= LOG_LINE_MAX) {
        return used;
    }
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(line + used, LOG_LINE_MAX - used, fmt, args);
    va_end(args);
    return n > 0 ? used + (size_t)n : used;
}

/* How one unsafe byte is written: "\x0a" in text lines, "\u000a" in JSON
 * strings. `prefix` precedes the two hex digits. */
struct escape_style {
    const char *prefix;
    size_t prefix_len;
};

static const struct escape_style text_escape = {"\\x", 2};
static const struct escape_style json_escape = {"\\u00", 4};

static char *escape_bytes(char *dst, size_t dst_size, const char *src,
                          const struct escape_style *style);

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

    char line[LOG_LINE_MAX];
    char stamp[40];
    format_timestamp(stamp, sizeof(stamp));
    bool json = log->format == LOG_FORMAT_JSON;
    size_t used = json ? append(line, 0, "{\"time\":\"%s\",\"level\":\"%s\",\"message\":\"", stamp,
                                log_level_names[level])
                       : append(line, 0, "%s %s ", stamp, log_level_names[level]);
    /* Messages can carry text from outside (libmicrohttpd's diagnostics,
     * file names): escaped here, so no caller has to. The escaped text is
     * what gets truncated, with its marker, so the line always keeps its
     * closing quote and brace and stays valid JSON. */
    const char *suffix = json ? "\"}" : "";
    size_t room = LOG_LINE_MAX - 1 /* '\n' */ - strlen(suffix) - used;
    escape_bytes(line + used, room, message, json ? &json_escape : &text_escape);
    used += strlen(line + used);
    used = append(line, used, "%s", suffix);
    write_line(log->fd, line, finish_line(line, used));
}

static char *escape_bytes(char *dst, size_t dst_size, const char *src,
                          const struct escape_style *style)
{
    static const char hex[] = "0123456789abcdef";
    static const char ellipsis[] = "...";
    size_t out = 0;
    if (dst_size == 0) {
        return dst;
    }
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
        bool plain = *p >= 0x20 && *p < 0x7f && *p != '\\' && *p != '"';
        size_t need = plain ? 1 : style->prefix_len + 2;
        if (out + need + sizeof(ellipsis) > dst_size) {
            memcpy(dst + out, ellipsis, sizeof(ellipsis));
            return dst;
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
    return dst;
}

char *log_escape(char *dst, size_t dst_size, const char *src)
{
    return escape_bytes(dst, dst_size, src, &text_escape);
}

char *log_json_escape(char *dst, size_t dst_size, const char *src)
{
    return escape_bytes(dst, dst_size, src, &json_escape);
}

void log_access(const struct logger *log, const struct log_access_entry *entry)
{
    if (LOG_INFO < log->min_level) {
        return;
    }
    char method[32];
    char path[LOG_FIELD_MAX];
    char line[LOG_LINE_MAX];
    char stamp[40];
    format_timestamp(stamp, sizeof(stamp));
    unsigned long long ms = (unsigned long long)(entry->duration_us / 1000);
    unsigned long long frac = (unsigned long long)(entry->duration_us % 1000);
    size_t used;
    if (log->format == LOG_FORMAT_JSON) {
        log_json_escape(method, sizeof(method), entry->method);
        log_json_escape(path, sizeof(path), entry->path);
        used =
            append(line, 0,
                   "{\"time\":\"%s\",\"level\":\"info\",\"event\":\"access\",\"client\":\"%s\","
                   "\"method\":\"%s\",\"path\":\"%s\",\"status\":%u,\"duration_ms\":%llu.%03llu%s}",
                   stamp, entry->peer, method, path, entry->status, ms, frac,
                   entry->client_closed ? ",\"client_closed\":true" : "");
    } else {
        log_escape(method, sizeof(method), entry->method);
        log_escape(path, sizeof(path), entry->path);
        used = append(line, 0, "%s info access %s \"%s %s\" %u %llu.%03llums%s", stamp, entry->peer,
                      method, path, entry->status, ms, frac,
                      entry->client_closed ? " client_closed" : "");
    }
    write_line(log->fd, line, finish_line(line, used));
}
