/* Unit tests for log.c: escaping of client-controlled text, and that each
 * message is exactly one line. */
#include "log.h"
#include "check.h"

#include <string.h>
#include <unistd.h>

static size_t read_all(int fd, char *buf, size_t size)
{
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
    return n > 0 ? (size_t)n : 0;
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
    return check_finish("log");
}
