/*
 * first200.c - how long a server takes from exec to its first 200 answer,
 * for bench/http.sh. Context for the benchmarks only; not shipped.
 *
 * usage: first200 PORT PATH COMMAND [ARG]...
 *
 * Starts COMMAND, then connects to 127.0.0.1:PORT and sends GET PATH over
 * and over until a response starts with "HTTP/1.1 200" (or HTTP/1.0), and
 * prints the microseconds from just before the spawn to that response. The
 * server is then sent SIGTERM and waited for. The server's output goes to
 * /dev/null. Exit status 1 if no 200 arrives within FIRST200_TIMEOUT_US.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIRST200_TIMEOUT_US (10 * 1000 * 1000)
/* Between attempts: short, but leaves the CPU to the starting server. */
#define FIRST200_RETRY_NS (50 * 1000)

extern char **environ;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One attempt: true when the answer is a 200. */
static int got_200(unsigned short port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char reply[64] = {0};
    int ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
             write(fd, request, strlen(request)) == (ssize_t)strlen(request) &&
             read(fd, reply, sizeof(reply) - 1) >= 12 &&
             (strncmp(reply, "HTTP/1.1 200", 12) == 0 || strncmp(reply, "HTTP/1.0 200", 12) == 0);
    close(fd);
    return ok;
}

int main(int argc, char *argv[])
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT PATH COMMAND [ARG]...\n", argv[0]);
        return 2;
    }
    unsigned short port = (unsigned short)atoi(argv[1]);
    char request[512];
    snprintf(request, sizeof(request),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", argv[2]);
    posix_spawn_file_actions_t quiet;
    if (posix_spawn_file_actions_init(&quiet) != 0 ||
        posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) != 0 ||
        posix_spawn_file_actions_adddup2(&quiet, STDOUT_FILENO, STDERR_FILENO) != 0) {
        perror("posix_spawn_file_actions");
        return 2;
    }
    long long start = now_us();
    pid_t pid;
    if (posix_spawn(&pid, argv[3], &quiet, NULL, &argv[3], environ) != 0) {
        perror(argv[3]);
        return 2;
    }
    long long elapsed = -1;
    struct timespec pause = {.tv_sec = 0, .tv_nsec = FIRST200_RETRY_NS};
    while (now_us() - start < FIRST200_TIMEOUT_US) {
        if (got_200(port, request)) {
            elapsed = now_us() - start;
            break;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            fprintf(stderr, "%s exited before answering\n", argv[3]);
            return 1;
        }
        nanosleep(&pause, NULL);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    if (elapsed < 0) {
        fprintf(stderr, "no 200 from port %u within %d us\n", port, FIRST200_TIMEOUT_US);
        return 1;
    }
    printf("%lld\n", elapsed);
    return 0;
}
