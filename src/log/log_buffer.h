/*
 * log_buffer.h - one buffer of whole log lines and the rule that writes it
 * out, as nginx's `access_log ... buffer=SIZE flush=TIME` does.
 *
 * Lines are kept until the next one would not fit, then everything kept is
 * written with one write(2) and the new line starts the next batch; a line
 * longer than the whole buffer is written alone, after the batch before it.
 * So a write holds only whole lines, and no line is ever split between two
 * writes. Writing out by age is the owner's business: log_buffer_due() says
 * when, log_buffer_flush() does it.
 *
 * No locking and no threads here: the caller serialises every call on one
 * buffer (log_sink.c takes the buffer's lock). The buffer owns `data`.
 */
#ifndef TINYSERVER_LOG_BUFFER_H
#define TINYSERVER_LOG_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct log_buffer {
    char *data;
    size_t size; /* capacity in bytes; at least 1 */
    size_t used;
    uint64_t oldest_ns; /* when the first line now kept came in; meaningless when empty */
};

/* Allocates `size` bytes (size >= 1). Returns false when out of memory. */
bool log_buffer_init(struct log_buffer *buf, size_t size);

/* Frees the memory; lines still kept are dropped (flush first). */
void log_buffer_destroy(struct log_buffer *buf);

/* Keeps the whole line `line` (len bytes, its '\n' included) that came in
 * at now_ns (monotonic), writing to fd first what has to go out so that
 * it fits; a line longer than the buffer goes out alone at once. */
void log_buffer_add(struct log_buffer *buf, int fd, const char *line, size_t len, uint64_t now_ns);

/* Writes every kept line to fd with one write(2) (more only if the kernel
 * takes part of it) and empties the buffer, even if the write failed:
 * logging never stops the server, so lines that cannot be written are
 * dropped. Does nothing when empty. */
void log_buffer_flush(struct log_buffer *buf, int fd);

/* When the kept lines have to go out at the latest: the oldest one's
 * arrival plus max_age_ns. UINT64_MAX when the buffer is empty. */
uint64_t log_buffer_due_ns(const struct log_buffer *buf, uint64_t max_age_ns);

#endif
