/*
 * log_write.c - see log_write.h.
 */
#include "log_write.h"

#include <errno.h>
#include <unistd.h>

void log_write_all(int fd, const char *bytes, size_t len)
{
    while (len > 0) {
        ssize_t written = write(fd, bytes, len);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        bytes += written;
        len -= (size_t)written;
    }
}
