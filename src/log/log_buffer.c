/*
 * log_buffer.c - see log_buffer.h.
 */
#include "log_buffer.h"

#include "log_write.h"

#include <stdlib.h>
#include <string.h>

bool log_buffer_init(struct log_buffer *buf, size_t size)
{
    *buf = (struct log_buffer){.data = malloc(size), .size = size};
    return size != 0 && buf->data != NULL;
}

void log_buffer_destroy(struct log_buffer *buf)
{
    free(buf->data);
    *buf = (struct log_buffer){0};
}

void log_buffer_flush(struct log_buffer *buf, int fd)
{
    if (buf->used == 0) {
        return;
    }
    log_write_all(fd, buf->data, buf->used);
    buf->used = 0;
}

void log_buffer_add(struct log_buffer *buf, int fd, const char *line, size_t len, uint64_t now_ns)
{
    if (len > buf->size - buf->used) {
        log_buffer_flush(buf, fd);
    }
    if (len > buf->size) {
        log_write_all(fd, line, len);
        return;
    }
    if (buf->used == 0) {
        buf->oldest_ns = now_ns;
    }
    memcpy(buf->data + buf->used, line, len);
    buf->used += len;
}

uint64_t log_buffer_due_ns(const struct log_buffer *buf, uint64_t max_age_ns)
{
    if (buf->used == 0) {
        return UINT64_MAX;
    }
    return buf->oldest_ns > UINT64_MAX - max_age_ns ? UINT64_MAX : buf->oldest_ns + max_age_ns;
}
