/*
 * log_write.h - the one write path of the logger, buffered or not.
 */
#ifndef TINYSERVER_LOG_WRITE_H
#define TINYSERVER_LOG_WRITE_H

#include <stddef.h>

/* Writes all len bytes to fd, retrying on EINTR and after a short write;
 * stops at any other error, dropping the rest: logging never stops the
 * server, so lines that cannot be written are lost (log_buffer.h). */
void log_write_all(int fd, const char *bytes, size_t len);

#endif
