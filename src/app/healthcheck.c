/*
 * healthcheck.c - see healthcheck.h.
 */
#include "healthcheck.h"

#include "log.h"
#include "net_addr.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static const char healthcheck_request[] = "GET /healthz HTTP/1.1\r\n"
                                          "Host: localhost\r\n"
                                          "User-Agent: tinyserver-healthcheck\r\n"
                                          "Connection: close\r\n\r\n";

/* The whole exchange runs against one timer: a server that answers a byte
 * at a time must not keep the check (and the container's probe) waiting.
 * The timer is a kernel object, so no clock arithmetic is needed here. */
static int start_timer(unsigned timeout_ms)
{
    int timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
    struct itimerspec when = {
        .it_value = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long)(timeout_ms % 1000) * 1000000L}};
    if (timer >= 0 && timerfd_settime(timer, 0, &when, NULL) != 0) {
        close(timer);
        return -1;
    }
    return timer;
}

/* Waits until fd is ready for `events`; false once the timer has fired
 * (errno ETIMEDOUT) or poll() fails. */
static bool wait_ready(int fd, short events, int timer)
{
    struct pollfd fds[2] = {{.fd = fd, .events = events}, {.fd = timer, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        if (fds[1].revents != 0) {
            errno = ETIMEDOUT;
            return false;
        }
        return true;
    }
}

static bool connect_within(int fd, const struct net_addr *addr, int timer)
{
    if (connect(fd, net_addr_sockaddr(addr), addr->len) == 0) {
        return true;
    }
    if (errno != EINPROGRESS || !wait_ready(fd, POLLOUT, timer)) {
        return false;
    }
    int error = 0;
    socklen_t error_len = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_len) != 0) {
        return false;
    }
    errno = error;
    return error == 0;
}

static bool send_all(int fd, const char *data, size_t len, int timer)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (errno != EINTR && !wait_ready(fd, POLLOUT, timer)) {
                return false;
            }
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

/* Reads until the status line is complete; false when the peer closes or
 * errs first, or the timer fires. */
static bool read_status_line(int fd, char *buf, size_t size, int timer)
{
    size_t used = 0;
    buf[0] = '\0';
    while (used + 1 < size) {
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (errno != EINTR && !wait_ready(fd, POLLIN, timer)) {
                return false;
            }
            continue;
        }
        if (n <= 0) {
            return false;
        }
        used += (size_t)n;
        buf[used] = '\0';
        if (strstr(buf, "\r\n") != NULL) {
            return true;
        }
    }
    return true; /* a full buffer without a line end: judged as it is */
}

bool healthcheck_run(const char *bind, unsigned port, char *err, size_t err_size)
{
    struct net_addr addr;
    if (!net_addr_parse(bind, port, &addr)) {
        snprintf(err, err_size, "bind address \"%s\" is not an IP address", bind);
        return false;
    }
    /* A server listening on every address is probed on loopback. */
    net_addr_wildcard_to_loopback(&addr);
    int timer = start_timer(HEALTHCHECK_TIMEOUT_MS);
    if (timer < 0) {
        snprintf(err, err_size, "timerfd: %s", strerror(errno));
        return false;
    }
    int fd = socket(addr.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, err_size, "socket: %s", strerror(errno));
        close(timer);
        return false;
    }
    char reply[256];
    char printable[4 * sizeof(reply)];
    bool ok = false;
    if (!connect_within(fd, &addr, timer)) {
        snprintf(err, err_size, "connect to port %u: %s", port, strerror(errno));
    } else if (!send_all(fd, healthcheck_request, sizeof(healthcheck_request) - 1, timer)) {
        snprintf(err, err_size, "send: %s", strerror(errno));
    } else if (!read_status_line(fd, reply, sizeof(reply), timer)) {
        snprintf(err, err_size, "no complete status line within %u ms (%s)", HEALTHCHECK_TIMEOUT_MS,
                 errno == ETIMEDOUT ? "timed out" : "connection closed");
    } else if (strncmp(reply, "HTTP/1.1 200 ", 13) != 0 &&
               strncmp(reply, "HTTP/1.0 200 ", 13) != 0) {
        /* The reply is the server's (or an impostor's) bytes: escaped, so
         * they cannot drive the terminal or forge lines where printed. */
        reply[strcspn(reply, "\r\n")] = '\0';
        log_escape(printable, sizeof(printable), reply);
        snprintf(err, err_size, "unhealthy answer: %.200s", printable);
    } else {
        ok = true;
    }
    close(fd);
    close(timer);
    return ok;
}
