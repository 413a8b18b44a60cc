/*
 * log_lines.c - a driver for the logger's property test
 * (tests/unit/test_log_lines.py): reads messages from stdin, each ended by a
 * NUL byte, and logs each with log_message() at info level to stdout, in the
 * format named on the command line. Python then parses every line.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

/* All of stdin in one NUL-terminated buffer; NULL when out of memory. */
static char *read_stdin(size_t *len)
{
    size_t cap = READ_CHUNK;
    size_t used = 0;
    char *buf = malloc(cap + 1);
    while (buf != NULL) {
        size_t n = fread(buf + used, 1, cap - used, stdin);
        used += n;
        if (n == 0) {
            break;
        }
        if (used == cap) {
            cap *= 2;
            char *grown = realloc(buf, cap + 1);
            if (grown == NULL) {
                free(buf);
                return NULL;
            }
            buf = grown;
        }
    }
    if (buf != NULL) {
        buf[used] = '\0';
        *len = used;
    }
    return buf;
}

int main(int argc, char *argv[])
{
    if (argc != 2 || (strcmp(argv[1], "json") != 0 && strcmp(argv[1], "text") != 0)) {
        fprintf(stderr, "usage: log_lines json|text < NUL-terminated messages\n");
        return 2;
    }
    struct logger log = {
        .fd = STDOUT_FILENO,
        .min_level = LOG_DEBUG,
        .format = strcmp(argv[1], "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT,
    };
    size_t len = 0;
    char *input = read_stdin(&len);
    if (input == NULL || ferror(stdin)) {
        fprintf(stderr, "log_lines: cannot read stdin\n");
        free(input);
        return 1;
    }
    for (size_t at = 0; at < len; at += strlen(input + at) + 1) {
        log_message(&log, LOG_INFO, "%s", input + at);
    }
    free(input);
    return 0;
}
