/*
 * check.h - the unit tests' minimal harness: CHECK records a failure with
 * its location and carries on, so one run reports every broken expectation;
 * check_finish() prints a summary line and returns the exit status.
 */
#ifndef TINYSERVER_CHECK_H
#define TINYSERVER_CHECK_H

#include <stdbool.h>
#include <stdio.h>

struct check_counts {
    unsigned passed;
    unsigned failed;
};

/* One per test program; tests are single files, so this is not shared. */
static struct check_counts check_counts;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            check_counts.passed++;                                                                 \
        } else {                                                                                   \
            check_counts.failed++;                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        CHECK(cond);                                                                               \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    ");                                                               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

static inline int check_finish(const char *name)
{
    printf("%s: %u checks passed, %u failed\n", name, check_counts.passed, check_counts.failed);
    return check_counts.failed == 0 && check_counts.passed > 0 ? 0 : 1;
}

#endif
