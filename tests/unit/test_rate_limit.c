/* Unit tests for rate_limit.c: parsing, the burst, Retry-After from the
 * bucket, refilling, clients kept apart, and the bounded table. The clock
 * is driven by the test, so nothing here depends on timing. */
#include "rate_limit.h"
#include "array.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

#define S 1000000000ull

static void check_parse(void)
{
    struct rate_spec spec = {7, 7};
    CHECK(rate_spec_parse("30/min", &spec) && spec.count == 30 && spec.period_s == 60);
    CHECK(rate_spec_parse("5/s", &spec) && spec.count == 5 && spec.period_s == 1);
    CHECK(rate_spec_parse("2/hour", &spec) && spec.count == 2 && spec.period_s == 3600);
    CHECK(rate_spec_parse("1/minute", &spec) && spec.count == 1 && spec.period_s == 60);
    CHECK(rate_spec_parse("off", &spec) && spec.count == 0);
    const char *bad[] = {
        "",       "30",     "30/",   "/min",  "0/min", "-1/min",    "30/day",
        " 3/min", "3/min ", "3/MIN", "1.5/s", "3//s",  "1000001/s", "99999999999999999999/s",
        "3/s/s",  "Off"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct rate_spec untouched = {9, 9};
        CHECK_MSG(!rate_spec_parse(bad[i], &untouched) && untouched.count == 9, "\"%s\"", bad[i]);
    }
    char text[32];
    spec = (struct rate_spec){30, 60};
    rate_spec_format(&spec, text, sizeof(text));
    CHECK(strcmp(text, "30/min") == 0);
    spec = (struct rate_spec){0, 0};
    rate_spec_format(&spec, text, sizeof(text));
    CHECK(strcmp(text, "off") == 0);
}

/* 3/min: a burst of 3, then one every 20 s; Retry-After says when. */
static void check_bucket(void)
{
    struct rate_spec spec = {3, 60};
    struct rate_limiter *limiter = rate_limiter_new(&spec, 8);
    CHECK(limiter != NULL);
    if (limiter == NULL) {
        return;
    }
    uint64_t t0 = 1000 * S;
    unsigned retry = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(rate_limiter_take(limiter, "10.0.0.1", t0 + (uint64_t)i, &retry));
    }
    CHECK(!rate_limiter_take(limiter, "10.0.0.1", t0 + 3, &retry));
    CHECK_MSG(retry == 20, "retry %u", retry);
    /* 5 s later the wait is 15 s; a refusal takes no token. */
    CHECK(!rate_limiter_take(limiter, "10.0.0.1", t0 + 5 * S, &retry));
    CHECK_MSG(retry == 15, "retry %u", retry);
    /* Another client has its own bucket. */
    CHECK(rate_limiter_take(limiter, "10.0.0.2", t0 + 5 * S, &retry));
    /* After 20 s exactly one more run. */
    CHECK(rate_limiter_take(limiter, "10.0.0.1", t0 + 20 * S, &retry));
    CHECK(!rate_limiter_take(limiter, "10.0.0.1", t0 + 20 * S, &retry));
    CHECK_MSG(retry == 20, "retry %u", retry);
    /* Idle for the whole period: the full burst again, no more. */
    uint64_t later = t0 + 200 * S;
    for (int i = 0; i < 3; i++) {
        CHECK(rate_limiter_take(limiter, "10.0.0.1", later, &retry));
    }
    CHECK(!rate_limiter_take(limiter, "10.0.0.1", later, &retry));
    /* A part of a second still waits a whole second. */
    CHECK(!rate_limiter_take(limiter, "10.0.0.1", later + 20 * S - 1, &retry));
    CHECK_MSG(retry == 1, "retry %u", retry);
    rate_limiter_free(limiter);
}

/* The table never grows past its capacity. Refilled clients (the same as
 * new ones) are forgotten first, then the least recently seen. */
static void check_bounded(void)
{
    struct rate_spec spec = {2, 60}; /* a burst of 2, then one every 30 s */
    unsigned retry = 0;
    uint64_t t0 = 1000 * S;
    struct rate_limiter *flooded = rate_limiter_new(&spec, 4);
    CHECK(flooded != NULL);
    if (flooded != NULL) {
        char name[32];
        for (unsigned i = 0; i < 1000; i++) {
            snprintf(name, sizeof(name), "flood-%u", i);
            CHECK(rate_limiter_take(flooded, name, t0, &retry));
            CHECK(rate_limiter_clients(flooded) <= 4);
        }
        rate_limiter_free(flooded);
    }

    struct rate_limiter *limiter = rate_limiter_new(&spec, 3);
    CHECK(limiter != NULL);
    if (limiter == NULL) {
        return;
    }
    CHECK(rate_limiter_take(limiter, "waiting", t0, &retry));
    CHECK(rate_limiter_take(limiter, "waiting", t0, &retry));
    CHECK(rate_limiter_take(limiter, "a", t0 + 1 * S, &retry));
    CHECK(rate_limiter_take(limiter, "b", t0 + 2 * S, &retry));
    /* a and b have refilled by now; "waiting" is the least recently seen
     * but still owes time, so the newcomers take a's and b's slots. */
    CHECK(rate_limiter_take(limiter, "c", t0 + 35 * S, &retry));
    CHECK(rate_limiter_take(limiter, "d", t0 + 36 * S, &retry));
    CHECK(rate_limiter_clients(limiter) == 3);
    /* Remembered: one token back (30 s), not a fresh burst of two. */
    CHECK(rate_limiter_take(limiter, "waiting", t0 + 40 * S, &retry));
    CHECK(!rate_limiter_take(limiter, "waiting", t0 + 40 * S, &retry));
    rate_limiter_free(limiter);

    /* With every slot owing time, the least recently seen goes. */
    struct rate_spec one = {1, 60};
    struct rate_limiter *full = rate_limiter_new(&one, 2);
    CHECK(full != NULL);
    if (full != NULL) {
        CHECK(rate_limiter_take(full, "a", t0, &retry));
        CHECK(rate_limiter_take(full, "b", t0 + 1, &retry));
        CHECK(rate_limiter_take(full, "c", t0 + 2, &retry)); /* evicts a */
        CHECK(!rate_limiter_take(full, "b", t0 + 3, &retry));
        CHECK(!rate_limiter_take(full, "c", t0 + 4, &retry));
        CHECK(rate_limiter_clients(full) == 2);
        rate_limiter_free(full);
    }
    struct rate_spec off = {0, 0};
    CHECK(rate_limiter_new(&off, 4) == NULL);
}

int main(void)
{
    check_parse();
    check_bucket();
    check_bounded();
    return check_finish("rate_limit");
}
