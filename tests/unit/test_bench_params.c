/* Unit tests for bench_params.c: every rule of the /bench validator. */
#include "bench_params.h"
#include "check.h"

#include <string.h>

static const struct bench_limits limits = {
    .max_threads = 256,
    .max_iterations = 10000000,
    .default_threads = 2,
    .default_iterations = 100000,
};

/* Parses one key with an optional value (NULL = no '='). */
static bool parse_one(const char *key, const char *value, struct bench_params *out,
                      struct bench_params_error *error)
{
    struct param_pair pair = {key, value, value != NULL ? strlen(value) : 0};
    return bench_params_parse(&pair, 1, &limits, out, error);
}

static void expect_rejected(const char *key, const char *value, const char *parameter)
{
    struct bench_params params;
    struct bench_params_error error = {{0}, NULL};
    bool ok = parse_one(key, value, &params, &error);
    CHECK_MSG(!ok, "%s=%s was accepted", key, value ? value : "(none)");
    CHECK_MSG(error.parameter != NULL && strcmp(error.parameter, parameter) == 0,
              "%s=%s: error names %s", key, value ? value : "(none)",
              error.parameter ? error.parameter : "nothing");
    CHECK(error.message[0] != '\0');
}

static void expect_value(const char *key, const char *value, unsigned threads, unsigned iters)
{
    struct bench_params params;
    struct bench_params_error error;
    CHECK_MSG(parse_one(key, value, &params, &error), "%s=%s rejected: %s", key, value,
              error.message);
    CHECK(params.threads == threads);
    CHECK(params.iterations == iters);
}

int main(void)
{
    struct bench_params params;
    struct bench_params_error error;

    CHECK(bench_params_parse(NULL, 0, &limits, &params, &error));
    CHECK(params.threads == 2 && params.iterations == 100000);

    expect_value("threads", "1", 1, 100000);
    expect_value("threads", "256", 256, 100000);
    expect_value("iterations", "1", 2, 1);
    expect_value("iterations", "10000000", 2, 10000000);
    expect_value("threads", "007", 7, 100000); /* leading zeros are still decimal */

    const char *bad_values[] = {"",
                                "0",
                                "257",
                                "-1",
                                "+1",
                                "1.5",
                                "1e3",
                                "0x10",
                                " 1",
                                "1 ",
                                "abc",
                                "18446744073709551617",
                                "99999999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        expect_rejected("threads", bad_values[i], "threads");
    }
    expect_rejected("iterations", "0", "iterations");
    expect_rejected("iterations", "10000001", "iterations");
    expect_rejected("iterations", "4294967296", "iterations");
    expect_rejected("threads", NULL, "threads");
    expect_rejected("thread", "1", "thread");
    expect_rejected("", "1", "");

    /* An embedded NUL ("1%002") must not pass as "1". */
    struct param_pair nul = {"threads",
                             "1\0"
                             "2",
                             3};
    CHECK(!bench_params_parse(&nul, 1, &limits, &params, &error));

    struct param_pair repeated[] = {{"threads", "1", 1}, {"threads", "1", 1}};
    CHECK(!bench_params_parse(repeated, 2, &limits, &params, &error));
    CHECK(error.parameter != NULL && strcmp(error.parameter, "threads") == 0);

    struct param_pair both[] = {{"iterations", "5", 1}, {"threads", "3", 1}};
    CHECK(bench_params_parse(both, 2, &limits, &params, &error));
    CHECK(params.threads == 3 && params.iterations == 5);

    struct bench_limits tight = limits;
    tight.max_threads = 4;
    struct param_pair over = {"threads", "5", 1};
    CHECK(!bench_params_parse(&over, 1, &tight, &params, &error));
    CHECK(strstr(error.message, "1 to 4") != NULL);
    return check_finish("bench_params");
}
