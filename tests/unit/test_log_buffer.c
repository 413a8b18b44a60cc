/* Unit tests for log_buffer.c: when kept lines go out, that every write
 * holds whole lines only, and when they are due by age. The buffer writes
 * into a SOCK_SEQPACKET socket, which keeps each write(2) a message of its
 * own, so the test sees exactly what every write carried. Also the choice
 * of buffer size per destination (log.c's log_effective_buffer). */
#include "log.h"
#include "log_buffer.h"
#include "check.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MESSAGE_MAX 4096

/* The next write's bytes, or -1 when no write is waiting. */
static ssize_t next_write(int fd, char *buf)
{
    ssize_t n = recv(fd, buf, MESSAGE_MAX, MSG_DONTWAIT);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        perror("recv");
    }
    return n;
}

static bool write_is(int fd, const char *expected)
{
    char got[MESSAGE_MAX];
    ssize_t n = next_write(fd, got);
    bool same = n == (ssize_t)strlen(expected) && memcmp(got, expected, (size_t)n) == 0;
    if (!same) {
        fprintf(stderr, "    expected a write of \"%s\", got %zd bytes: \"%.*s\"\n", expected, n,
                n > 0 ? (int)n : 0, got);
    }
    return same;
}

static void add(struct log_buffer *buf, int fd, const char *line, uint64_t now_ns)
{
    log_buffer_add(buf, fd, line, strlen(line), now_ns);
}

static void test_batches(int out, int in)
{
    struct log_buffer buf;
    CHECK(log_buffer_init(&buf, 16));
    char scratch[MESSAGE_MAX];

    /* 5 + 5 + 6 = 16 bytes: exactly full, nothing written yet */
    add(&buf, out, "aaaa\n", 100);
    add(&buf, out, "bbbb\n", 200);
    add(&buf, out, "ccccc\n", 300);
    CHECK(next_write(in, scratch) < 0);
    CHECK(buf.used == 16);
    CHECK(log_buffer_due_ns(&buf, 1000) == 1100); /* the oldest line's age counts */

    /* one more byte would overflow: the batch goes out whole, in one
     * write, and the new line starts the next batch */
    add(&buf, out, "d\n", 400);
    CHECK(write_is(in, "aaaa\nbbbb\nccccc\n"));
    CHECK(next_write(in, scratch) < 0);
    CHECK(buf.used == 2);
    CHECK(log_buffer_due_ns(&buf, 1000) == 1400);

    /* a line longer than the buffer: the batch first, then the line
     * alone, whole, in one write; the buffer is left empty */
    add(&buf, out, "0123456789abcdefXYZ\n", 500);
    CHECK(write_is(in, "d\n"));
    CHECK(write_is(in, "0123456789abcdefXYZ\n"));
    CHECK(next_write(in, scratch) < 0);
    CHECK(buf.used == 0);
    CHECK(log_buffer_due_ns(&buf, 1000) == UINT64_MAX);

    /* a long line into an empty buffer: no empty write before it */
    add(&buf, out, "0123456789abcdefg\n", 600);
    CHECK(write_is(in, "0123456789abcdefg\n"));
    CHECK(next_write(in, scratch) < 0);

    /* flushing: one write of everything kept; flushing nothing writes
     * nothing */
    log_buffer_flush(&buf, out);
    CHECK(next_write(in, scratch) < 0);
    add(&buf, out, "e\n", 700);
    add(&buf, out, "f\n", 800);
    log_buffer_flush(&buf, out);
    CHECK(write_is(in, "e\nf\n"));
    CHECK(buf.used == 0);
    log_buffer_flush(&buf, out);
    CHECK(next_write(in, scratch) < 0);

    /* the clock of the next batch starts with its first line */
    add(&buf, out, "g\n", 5000);
    CHECK(log_buffer_due_ns(&buf, 1000) == 6000);
    /* a due time past the clock's end saturates instead of wrapping */
    CHECK(log_buffer_due_ns(&buf, UINT64_MAX - 10) == UINT64_MAX);
    log_buffer_destroy(&buf);
    CHECK(buf.data == NULL && buf.used == 0);
}

/* A one-byte buffer still works: every line goes out alone. */
static void test_tiny_buffer(int out, int in)
{
    struct log_buffer buf;
    CHECK(log_buffer_init(&buf, 1));
    add(&buf, out, "one\n", 1);
    add(&buf, out, "two\n", 2);
    CHECK(write_is(in, "one\n"));
    CHECK(write_is(in, "two\n"));
    log_buffer_destroy(&buf);
}

static void test_effective_buffer(void)
{
    struct log_destination stdout_dest = {.path = "", .buffer_size = 65536, .flush_ms = 1000};
    struct log_destination file = {.path = "/var/log/x", .buffer_size = 65536, .flush_ms = 1000};
    struct log_destination small = {.path = "/var/log/x", .buffer_size = 100, .flush_ms = 1000};
    struct log_destination off = {.path = "/var/log/x", .buffer_size = 0, .flush_ms = 1000};
    /* stdout is never buffered, whatever its kind */
    CHECK(log_effective_buffer(&stdout_dest, true) == 0);
    CHECK(log_effective_buffer(&stdout_dest, false) == 0);
    /* a regular file gets what was asked for */
    CHECK(log_effective_buffer(&file, true) == 65536);
    /* a pipe or terminal: at most PIPE_BUF, so each write stays atomic */
    CHECK(log_effective_buffer(&file, false) == PIPE_BUF);
    CHECK(log_effective_buffer(&small, false) == 100);
    CHECK(log_effective_buffer(&off, true) == 0);
    CHECK(log_effective_buffer(&off, false) == 0);
}

int main(void)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
    test_batches(fds[0], fds[1]);
    test_tiny_buffer(fds[0], fds[1]);
    close(fds[0]);
    close(fds[1]);
    test_effective_buffer();
    return check_finish("log_buffer");
}
