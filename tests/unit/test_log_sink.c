/* Unit tests for log_sink.c: threads logging at once through small
 * buffers, lines written out by age, a line that must go out now, and the
 * flusher's signal mask. The sink writes into a SOCK_SEQPACKET socket,
 * which keeps each write(2) a message of its own, so the test checks what
 * every single write carried: whole lines of one thread only. */
#include "log_sink.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define THREADS          4
#define LINES_PER_THREAD 2000
#define SMALL_BUFFER     256
#define LONG_EVERY       97 /* every so many lines one longer than the buffer */
#define LONG_LINE        300
#define MESSAGE_MAX      8192
#define WAIT_MS          10000 /* generous: only a broken flusher takes this long */

struct collected {
    int fd;
    char *bytes;
    size_t used;
    size_t cap;
    size_t *ends; /* where each write ended */
    size_t writes;
    size_t writes_cap;
    bool failed;
};

static bool grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    size_t next = *cap ? *cap * 2 : 1024;
    while (next < need) {
        next *= 2;
    }
    void *bigger = realloc(*ptr, next * elem);
    if (bigger == NULL) {
        return false;
    }
    *ptr = bigger;
    *cap = next;
    return true;
}

/* Reads every write until the sink's end closes. */
static void *collect(void *arg)
{
    struct collected *c = arg;
    char message[MESSAGE_MAX];
    for (;;) {
        ssize_t n = recv(c->fd, message, sizeof(message), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            c->failed = n < 0;
            return NULL;
        }
        if (!grow((void **)&c->bytes, &c->cap, c->used + (size_t)n, 1) ||
            !grow((void **)&c->ends, &c->writes_cap, c->writes + 1, sizeof(size_t))) {
            c->failed = true;
            return NULL;
        }
        memcpy(c->bytes + c->used, message, (size_t)n);
        c->used += (size_t)n;
        c->ends[c->writes++] = c->used;
    }
}

struct writer {
    struct log_sink *sink;
    unsigned id;
};

static void *write_lines(void *arg)
{
    const struct writer *w = arg;
    char line[LONG_LINE + 64];
    for (unsigned seq = 0; seq < LINES_PER_THREAD; seq++) {
        int n = snprintf(line, sizeof(line), "t%u %u ", w->id, seq);
        size_t len = (size_t)n;
        size_t target = seq % LONG_EVERY == 0 ? LONG_LINE : 20 + seq % 40;
        while (len < target) {
            line[len++] = (char)('a' + w->id);
        }
        line[len++] = '\n';
        log_sink_put(w->sink, line, len);
    }
    return NULL;
}

/* Checks one write: whole lines, all from one thread, in its order, and
 * no longer than the buffer unless it is one long line alone. */
static void check_write(const char *bytes, size_t len, unsigned next_seq[THREADS], size_t *lines)
{
    CHECK_MSG(len > 0 && bytes[len - 1] == '\n', "a write that does not end a line");
    unsigned writer = THREADS;
    size_t in_write = 0;
    for (size_t at = 0; at < len;) {
        const char *end = memchr(bytes + at, '\n', len - at);
        if (end == NULL) {
            return;
        }
        unsigned id;
        unsigned seq;
        CHECK(sscanf(bytes + at, "t%u %u ", &id, &seq) == 2 && id < THREADS);
        if (id >= THREADS) {
            return;
        }
        CHECK_MSG(writer == THREADS || writer == id, "lines of two threads in one write");
        writer = id;
        CHECK_MSG(seq == next_seq[id], "thread %u: line %u where %u was due", id, seq,
                  next_seq[id]);
        size_t line_len = (size_t)(end - (bytes + at)) + 1;
        size_t expected = seq % LONG_EVERY == 0 ? LONG_LINE + 1 : 20 + seq % 40 + 1;
        CHECK_MSG(line_len == expected, "a %zu-byte line where %zu were written", line_len,
                  expected);
        next_seq[id] = seq + 1;
        in_write++;
        at += line_len;
    }
    CHECK_MSG(len <= SMALL_BUFFER || in_write == 1,
              "a %zu-byte write of %zu lines, over the %u-byte buffer", len, in_write,
              SMALL_BUFFER);
    *lines += in_write;
}

static void test_threads_share_nothing_but_the_file(void)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
    char err[128];
    /* a flush interval far longer than the test: only size and the final
     * stop write anything out */
    struct log_sink *sink = log_sink_start(fds[0], SMALL_BUFFER, 600000, err, sizeof(err));
    CHECK_MSG(sink != NULL, "%s", err);
    if (sink == NULL) {
        return;
    }
    struct collected got = {.fd = fds[1]};
    pthread_t reader;
    CHECK(pthread_create(&reader, NULL, collect, &got) == 0);
    pthread_t threads[THREADS];
    struct writer writers[THREADS];
    for (unsigned i = 0; i < THREADS; i++) {
        writers[i] = (struct writer){.sink = sink, .id = i};
        CHECK(pthread_create(&threads[i], NULL, write_lines, &writers[i]) == 0);
    }
    for (unsigned i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    log_sink_stop(sink); /* writes out what the buffers still hold */
    close(fds[0]);
    pthread_join(reader, NULL);
    close(fds[1]);
    CHECK(!got.failed);

    unsigned next_seq[THREADS] = {0};
    size_t lines = 0;
    size_t start = 0;
    for (size_t w = 0; w < got.writes; w++) {
        check_write(got.bytes + start, got.ends[w] - start, next_seq, &lines);
        start = got.ends[w];
    }
    CHECK_MSG(lines == THREADS * LINES_PER_THREAD, "%zu lines of %u", lines,
              THREADS * LINES_PER_THREAD);
    for (unsigned i = 0; i < THREADS; i++) {
        CHECK(next_seq[i] == LINES_PER_THREAD);
    }
    /* buffered: far fewer writes than lines */
    CHECK_MSG(got.writes < lines / 2, "%zu writes for %zu lines", got.writes, lines);
    free(got.bytes);
    free(got.ends);
}

/* Waits up to WAIT_MS for the next write; its length, or -1. */
static ssize_t wait_for_write(int fd, char *buf, size_t size)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, WAIT_MS) != 1) {
        return -1;
    }
    return recv(fd, buf, size, MSG_DONTWAIT);
}

static bool nothing_written(int fd)
{
    char buf[MESSAGE_MAX];
    return recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

static void test_age_and_order(void)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
    char err[128];
    char buf[MESSAGE_MAX];

    /* by age: no more lines come, yet the line goes out */
    struct log_sink *sink = log_sink_start(fds[0], 4096, 20, err, sizeof(err));
    CHECK_MSG(sink != NULL, "%s", err);
    if (sink == NULL) {
        return;
    }
    log_sink_put(sink, "aged\n", 5);
    ssize_t n = wait_for_write(fds[1], buf, sizeof(buf));
    CHECK(n == 5 && memcmp(buf, "aged\n", 5) == 0);
    log_sink_stop(sink);
    CHECK(nothing_written(fds[1]));

    /* a line that must go out now comes after the buffered ones */
    sink = log_sink_start(fds[0], 4096, 600000, err, sizeof(err));
    CHECK_MSG(sink != NULL, "%s", err);
    if (sink == NULL) {
        return;
    }
    log_sink_put(sink, "first\n", 6);
    log_sink_put(sink, "second\n", 7);
    CHECK(nothing_written(fds[1]));
    log_sink_put_now(sink, "NOW\n", 4);
    n = recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT);
    CHECK(n == 13 && memcmp(buf, "first\nsecond\n", 13) == 0);
    n = recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT);
    CHECK(n == 4 && memcmp(buf, "NOW\n", 4) == 0);
    /* flushing an empty sink writes nothing; stopping writes what is kept */
    log_sink_flush(sink);
    CHECK(nothing_written(fds[1]));
    log_sink_put(sink, "last\n", 5);
    log_sink_stop(sink);
    n = recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT);
    CHECK(n == 5 && memcmp(buf, "last\n", 5) == 0);
    close(fds[0]);
    close(fds[1]);
}

/* How many of this process's threads block SIGTERM and SIGINT. */
static unsigned threads_blocking_stop_signals(void)
{
    unsigned count = 0;
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL) {
        return 0;
    }
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        char path[300];
        snprintf(path, sizeof(path), "/proc/self/task/%s/status", entry->d_name);
        FILE *status = fopen(path, "r");
        if (status == NULL) {
            continue;
        }
        char line[256];
        unsigned long long blocked = 0;
        while (fgets(line, sizeof(line), status) != NULL) {
            if (sscanf(line, "SigBlk: %llx", &blocked) == 1) {
                break;
            }
        }
        fclose(status);
        unsigned long long stop = (1ull << (SIGTERM - 1)) | (1ull << (SIGINT - 1));
        count += (blocked & stop) == stop;
    }
    closedir(dir);
    return count;
}

/* The flusher must not take SIGTERM, which main waits for with sigwait.
 * Checked once the flusher has written a line, so it is surely running
 * with its own mask (a thread starts with every signal blocked until
 * the libc sets the mask it inherits). */
static void test_flusher_blocks_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    CHECK(pthread_sigmask(SIG_SETMASK, &none, NULL) == 0);
    unsigned before = threads_blocking_stop_signals();
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds) == 0);
    char err[128];
    struct log_sink *sink = log_sink_start(fds[0], 64, 20, err, sizeof(err));
    CHECK_MSG(sink != NULL, "%s", err);
    if (sink == NULL) {
        return;
    }
    log_sink_put(sink, "x\n", 2);
    char buf[MESSAGE_MAX];
    CHECK(wait_for_write(fds[1], buf, sizeof(buf)) == 2);
    CHECK(threads_blocking_stop_signals() == before + 1);
    /* and the caller's own mask is as it was */
    sigset_t now;
    CHECK(pthread_sigmask(SIG_SETMASK, NULL, &now) == 0);
    CHECK(!sigismember(&now, SIGTERM));
    log_sink_stop(sink);
    close(fds[0]);
    close(fds[1]);
}

static void test_bad_arguments(void)
{
    char err[128] = "";
    CHECK(log_sink_start(STDERR_FILENO, 0, 1000, err, sizeof(err)) == NULL && err[0] != '\0');
    err[0] = '\0';
    CHECK(log_sink_start(STDERR_FILENO, 64, 0, err, sizeof(err)) == NULL && err[0] != '\0');
    log_sink_stop(NULL);
}

int main(void)
{
    test_threads_share_nothing_but_the_file();
    test_age_and_order();
    test_flusher_blocks_signals();
    test_bad_arguments();
    return check_finish("log_sink");
}
