/*
 * healthcheck.c - see healthcheck.h.
 */
#include "healthcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char healthcheck_request[] = "GET /healthz HTTP/1.1\r\n"
                                          "Host: localhost\r\n"
                                          "User-Agent: tinyserver-healthcheck\r\n"
                                          "Connection: close\r\n\r\n";

/* Builds the address to probe; wildcards become loopback. */
static bool probe_address(const char *bind, unsigned port, struct sockaddr_storage *out,
                          socklen_t *len)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, bind, &v4->sin_addr) == 1) {
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY)) {
            v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        }
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return true;
    }
    if (inet_pton(AF_INET6, bind, &v6->sin6_addr) == 1) {
        if (memcmp(&v6->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0) {
            v6->sin6_addr = in6addr_loopback;
        }
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return true;
    }
    return false;
}

static bool send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Reads until the status line is complete (or the peer closes). */
static bool read_status_line(int fd, char *buf, size_t size)
{
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n") != NULL) {
            return true;
        }
    }
    buf[used] = '\0';
    return used > 0;
}

bool healthcheck_run(const char *bind, unsigned port, char *err, size_t err_size)
{
    struct sockaddr_storage addr;
    socklen_t addr_len = 0;
    if (!probe_address(bind, port, &addr, &addr_len)) {
        snprintf(err, err_size, "bind address \"%s\" is not an IP address", bind);
        return false;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "socket: %s", strerror(errno));
        return false;
    }
    /* On Linux the send timeout also bounds connect(). */
    struct timeval timeout = {.tv_sec = HEALTHCHECK_TIMEOUT_MS / 1000,
                              .tv_usec = (HEALTHCHECK_TIMEOUT_MS % 1000) * 1000};
    char reply[256];
    bool ok = false;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) != 0) {
        snprintf(err, err_size, "setsockopt: %s", strerror(errno));
    } else if (connect(fd, (struct sockaddr *)&addr, addr_len) != 0) {
        snprintf(err, err_size, "connect to port %u: %s", port, strerror(errno));
    } else if (!send_all(fd, healthcheck_request, sizeof(healthcheck_request) - 1)) {
        snprintf(err, err_size, "send: %s", strerror(errno));
    } else if (!read_status_line(fd, reply, sizeof(reply))) {
        snprintf(err, err_size, "no answer within %u ms", HEALTHCHECK_TIMEOUT_MS);
    } else if (strncmp(reply, "HTTP/1.1 200 ", 13) != 0 &&
               strncmp(reply, "HTTP/1.0 200 ", 13) != 0) {
        reply[strcspn(reply, "\r\n")] = '\0';
        snprintf(err, err_size, "unhealthy answer: %.200s", reply);
    } else {
        ok = true;
    }
    close(fd);
    return ok;
}
