/* Unit tests for log.c: escaping of client-controlled text, that each
 * message is exactly one line, and log_open's destinations: a file that is
 * appended to, access lines held back by its buffer until a message or
 * log_close, stdout never buffered. */
#include "log.h"
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static size_t read_all(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
}

static size_t read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        buf[0] = '\0';
        return 0;
    }
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

static void test_log_file(void)
{
    char dir[] = "/tmp/test_log_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof(path), "%s/access.log", dir);
    FILE *earlier = fopen(path, "w");
    CHECK(earlier != NULL && fputs("earlier\n", earlier) >= 0 && fclose(earlier) == 0);
    CHECK(chmod(path, 0600) == 0);

    char err[256];
    char text[4096];
    struct logger log;
    struct log_destination dest = {.path = path, .buffer_size = 4096, .flush_ms = 600000};
    CHECK_MSG(log_open(&log, LOG_INFO, LOG_FORMAT_TEXT, &dest, err, sizeof(err)), "%s", err);
    CHECK(log.sink != NULL && log.fd != STDOUT_FILENO);
    struct log_access_entry one = {"10.0.0.1", "GET", "/one", 200, 1000, false};
    struct log_access_entry two = {"10.0.0.1", "GET", "/two", 404, 2000, false};
    log_access(&log, &one);
    log_access(&log, &two);
    read_file(path, text, sizeof(text));
    CHECK_MSG(strcmp(text, "earlier\n") == 0, "access lines not held back: %s", text);
    /* a message goes out at once, after the access lines before it */
    log_message(&log, LOG_WARN, "after two");
    read_file(path, text, sizeof(text));
    const char *at_one = strstr(text, "\"GET /one\" 200 1.000ms\n");
    const char *at_two = strstr(text, "\"GET /two\" 404 2.000ms\n");
    const char *at_warn = strstr(text, " warn after two\n");
    CHECK(strncmp(text, "earlier\n", 8) == 0);
    CHECK_MSG(at_one != NULL && at_two > at_one && at_warn > at_two, "order: %s", text);
    /* log_close writes out what is held back */
    struct log_access_entry three = {"10.0.0.1", "GET", "/three", 200, 3000, false};
    log_access(&log, &three);
    log_close(&log);
    read_file(path, text, sizeof(text));
    const char *at_three = strstr(text, "\"GET /three\" 200 3.000ms\n");
    CHECK(at_three > at_warn && at_three[strlen(at_three) - 1] == '\n');
    CHECK(log.sink == NULL && log.fd == STDOUT_FILENO && !log.owns_fd);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600); /* an existing file's mode stays */

    /* a new file is created 0640 (within the umask); unbuffered writes a
     * line at once */
    unlink(path);
    mode_t mask = umask(022);
    dest.buffer_size = 0;
    CHECK_MSG(log_open(&log, LOG_INFO, LOG_FORMAT_JSON, &dest, err, sizeof(err)), "%s", err);
    umask(mask);
    CHECK(log.sink == NULL);
    log_access(&log, &one);
    read_file(path, text, sizeof(text));
    CHECK(strstr(text, "\"path\":\"/one\",\"status\":200,\"duration_ms\":1.000}\n") != NULL);
    log_close(&log);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    unlink(path);

    /* stdout is never buffered */
    struct log_destination out = {.path = "", .buffer_size = 65536, .flush_ms = 1000};
    CHECK(log_open(&log, LOG_INFO, LOG_FORMAT_TEXT, &out, err, sizeof(err)));
    CHECK(log.sink == NULL && log.fd == STDOUT_FILENO && !log.owns_fd);
    log_close(&log);

    /* a FIFO (as a pipe) gets at most PIPE_BUF of buffer: 100 lines of
     * about 60 bytes are out, in writes of at most PIPE_BUF, before any
     * flush; with the 64 KiB asked for nothing would be */
    char fifo[64];
    snprintf(fifo, sizeof(fifo), "%s/pipe", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(reader >= 0);
    struct log_destination pipe_dest = {.path = fifo, .buffer_size = 65536, .flush_ms = 60000};
    CHECK_MSG(log_open(&log, LOG_INFO, LOG_FORMAT_TEXT, &pipe_dest, err, sizeof(err)), "%s", err);
    CHECK(log.sink != NULL);
    for (int i = 0; i < 100; i++) {
        log_access(&log, &one);
    }
    static char piped[65536];
    ssize_t early = read(reader, piped, sizeof(piped));
    CHECK_MSG(early > 0 && early <= PIPE_BUF && piped[early - 1] == '\n',
              "%zd bytes before any flush", early);
    log_close(&log);
    ssize_t rest = read(reader, piped + (early > 0 ? early : 0),
                        sizeof(piped) - (size_t)(early > 0 ? early : 0));
    size_t total = (size_t)(early > 0 ? early : 0) + (size_t)(rest > 0 ? rest : 0);
    unsigned piped_lines = 0;
    for (size_t i = 0; i < total; i++) {
        piped_lines += piped[i] == '\n';
    }
    CHECK_MSG(piped_lines == 100, "%u lines through the pipe", piped_lines);
    close(reader);
    unlink(fifo);

    /* a path that cannot be opened: false, and the message says which */
    char missing[96];
    snprintf(missing, sizeof(missing), "%s/no-such-dir/x.log", dir);
    struct log_destination bad = {.path = missing, .buffer_size = 4096, .flush_ms = 1000};
    err[0] = '\0';
    CHECK(!log_open(&log, LOG_INFO, LOG_FORMAT_TEXT, &bad, err, sizeof(err)));
    CHECK_MSG(strstr(err, missing) != NULL && strstr(err, "No such file") != NULL, "%s", err);
    CHECK(rmdir(dir) == 0);
}

int main(void)
{
    char out[64];
    CHECK(strcmp(log_escape(out, sizeof(out), "/bench"), "/bench") == 0);
    CHECK(strcmp(log_escape(out, sizeof(out), "a\r\nb"), "a\\x0d\\x0ab") == 0);
    CHECK(strcmp(log_escape(out, sizeof(out), "q\"\\"), "q\\x22\\x5c") == 0);
    CHECK(strcmp(log_escape(out, sizeof(out), "\xff"), "\\xff") == 0);
    char small[8];
    log_escape(small, sizeof(small), "abcdefghijkl");
    CHECK(strlen(small) < sizeof(small));
    CHECK(strstr(small, "...") != NULL);

    int fds[2];
    CHECK(pipe(fds) == 0);
    struct logger log = {.fd = fds[1], .min_level = LOG_INFO};
    log_message(&log, LOG_DEBUG, "hidden");
    log_message(&log, LOG_WARN, "value %d", 42);
    /* Message arguments are escaped too: a CR/LF cannot start a line. */
    log_message(&log, LOG_WARN, "from outside: %s", "a\r\nforged \"line\"");
    struct log_access_entry entry = {"127.0.0.1", "GET", "/x\r\ninjected", 404, 1500, false};
    log_access(&log, &entry);
    struct log_access_entry left = {"127.0.0.1", "GET", "/bench", 499, 2000, true};
    log_access(&log, &left);
    close(fds[1]);
    char text[4096];
    read_all(fds[0], text, sizeof(text));
    close(fds[0]);
    CHECK(strstr(text, "hidden") == NULL);
    CHECK(strstr(text, " warn value 42\n") != NULL);
    /* the time is UTC, now, in the documented shape */
    struct tm stamp = {0};
    int ms = -1;
    char zone = 0;
    CHECK(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &stamp.tm_year, &stamp.tm_mon,
                 &stamp.tm_mday, &stamp.tm_hour, &stamp.tm_min, &stamp.tm_sec, &ms, &zone) == 8);
    stamp.tm_year -= 1900;
    stamp.tm_mon -= 1;
    time_t logged = timegm(&stamp);
    time_t now = time(NULL);
    CHECK_MSG(zone == 'Z' && ms >= 0 && ms < 1000 && logged <= now && now - logged < 60,
              "logged at %.24s, %lld s from now", text, (long long)(now - logged));
    CHECK(strstr(text, " warn from outside: a\\x0d\\x0aforged \\x22line\\x22\n") != NULL);
    CHECK(strstr(text, "\"GET /x\\x0d\\x0ainjected\" 404 1.500ms\n") != NULL);
    CHECK(strstr(text, "\"GET /bench\" 499 2.000ms client_closed\n") != NULL);
    unsigned lines = 0;
    for (const char *p = text; *p; p++) {
        lines += *p == '\n';
    }
    CHECK(lines == 4);
    char json[64];
    CHECK(strcmp(log_json_escape(json, sizeof(json), "a\"b\\c\n\xff"),
                 "a\\u0022b\\u005cc\\u000a\\u00ff") == 0);

    /* JSON format: every line parses as one object, even with CR/LF,
     * quotes and invalid UTF-8 in the path */
    CHECK(pipe(fds) == 0);
    struct logger json_log = {.fd = fds[1], .min_level = LOG_INFO, .format = LOG_FORMAT_JSON};
    log_message(&json_log, LOG_WARN, "said \"hi\"\n");
    struct log_access_entry hostile = {"10.0.0.1", "GET", "/a\r\n{\"forged\":1}\xfe",
                                       200,        2500,  false};
    log_access(&json_log, &hostile);
    struct log_access_entry gone = {"10.0.0.1", "GET", "/bench", 499, 3000, true};
    log_access(&json_log, &gone);
    close(fds[1]);
    read_all(fds[0], text, sizeof(text));
    close(fds[0]);
    CHECK(strstr(text, "\"level\":\"warn\",\"message\":\"said \\u0022hi\\u0022\\u000a\"}\n") !=
          NULL);
    CHECK(strstr(text, "\"path\":\"/a\\u000d\\u000a{\\u0022forged\\u0022:1}\\u00fe\"") != NULL);
    CHECK(strstr(text, "\"status\":200,\"duration_ms\":2.500}\n") != NULL);
    CHECK(strstr(text, "\"status\":499,\"duration_ms\":3.000,\"client_closed\":true}\n") != NULL);
    lines = 0;
    for (const char *p = text; *p; p++) {
        lines += *p == '\n';
    }
    CHECK(lines == 3);
    test_log_file();
    return check_finish("log");
}
