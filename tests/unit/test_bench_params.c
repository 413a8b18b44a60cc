/* Unit tests for bench_params.c: every rule of the /bench validator. */
#include "bench_params.h"
#include "array.h"
#include "check.h"

#include <stdio.h>
#include <string.h>

static const struct bench_limits limits = {
    .max_threads = 256,
    .max_iterations = 10000000,
    .default_threads = 2,
    .default_iterations = 100000,
};

/* Parses one key with an optional value (NULL = no '='). */
static bool parse_one(const char *key, const char *value, struct bench_request *out,
                      struct bench_params_error *error)
{
    struct param_pair pair = {key, value, value != NULL ? strlen(value) : 0};
    return bench_params_parse(&pair, 1, &limits, out, error);
}

static void expect_rejected(const char *key, const char *value, const char *parameter)
{
    struct bench_request request;
    struct bench_params_error error = {{0}, NULL, false};
    bool ok = parse_one(key, value, &request, &error);
    CHECK_MSG(!ok, "%s=%s was accepted", key, value ? value : "(none)");
    CHECK_MSG(error.parameter != NULL && strcmp(error.parameter, parameter) == 0,
              "%s=%s: error names %s", key, value ? value : "(none)",
              error.parameter ? error.parameter : "nothing");
    CHECK(error.message[0] != '\0');
}

static void expect_value(const char *key, const char *value, unsigned threads, unsigned iters)
{
    struct bench_request request;
    struct bench_params_error error;
    CHECK_MSG(parse_one(key, value, &request, &error), "%s=%s rejected: %s", key, value,
              error.message);
    CHECK(request.params.threads == threads);
    CHECK(request.params.iterations == iters);
}

static void expect_workload(const struct param_pair *pairs, size_t count,
                            const struct bench_limits *lim, enum bench_workload workload,
                            unsigned threads)
{
    struct bench_request request;
    struct bench_params_error error;
    CHECK_MSG(bench_params_parse(pairs, count, lim, &request, &error), "rejected: %s",
              error.message);
    CHECK(request.params.workload == workload);
    CHECK_MSG(request.params.threads == threads, "threads %u, expected %u", request.params.threads,
              threads);
}

static void expect_pairs_rejected(const struct param_pair *pairs, size_t count,
                                  const struct bench_limits *lim, const char *parameter)
{
    struct bench_request request;
    struct bench_params_error error = {{0}, NULL, false};
    CHECK(!bench_params_parse(pairs, count, lim, &request, &error));
    CHECK_MSG(error.parameter != NULL && strcmp(error.parameter, parameter) == 0,
              "error names %s, expected %s (%s)", error.parameter ? error.parameter : "nothing",
              parameter, error.message);
}

static void check_workloads(void)
{
    struct bench_request request;
    struct bench_params_error error;
    CHECK(bench_params_parse(NULL, 0, &limits, &request, &error));
    CHECK(request.params.workload == BENCH_WORKLOAD_SEED);

    struct param_pair seed = {"workload", "seed", 4};
    struct param_pair xthread = {"workload", "xthread", 7};
    struct param_pair larson = {"workload", "larson", 6};
    expect_workload(&seed, 1, &limits, BENCH_WORKLOAD_SEED, 2);
    expect_workload(&xthread, 1, &limits, BENCH_WORKLOAD_XTHREAD, 2);
    expect_workload(&larson, 1, &limits, BENCH_WORKLOAD_LARSON, 2);

    const char *bad[] = {"",      "SEED", "Seed", " seed",         "seed ",
                         "seeds", "see",  "1",    "xthread,larson"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct param_pair pair = {"workload", bad[i], strlen(bad[i])};
        expect_pairs_rejected(&pair, 1, &limits, "workload");
    }
    struct param_pair no_value = {"workload", NULL, 0};
    expect_pairs_rejected(&no_value, 1, &limits, "workload");
    struct param_pair nul = {"workload", "seed\0x", 6}; /* "seed%00x" */
    expect_pairs_rejected(&nul, 1, &limits, "workload");
    struct param_pair twice[] = {seed, larson};
    expect_pairs_rejected(twice, 2, &limits, "workload");
    struct param_pair missing = {"workload", "nope", 4};
    CHECK(!bench_params_parse(&missing, 1, &limits, &request, &error));
    CHECK(strstr(error.message, "seed, xthread, larson and window") != NULL);
    struct param_pair unknown = {"flavour", "seed", 4};
    CHECK(!bench_params_parse(&unknown, 1, &limits, &request, &error));
    CHECK_MSG(strstr(error.message, "threads, iterations, repeat, workload, allocator, slots, "
                                    "min_block and max_block") != NULL,
              "%s", error.message);

    /* xthread needs two threads: an explicit 1 is an error naming threads,
     * while a default of 1 (a one-CPU machine) is raised to 2. */
    struct param_pair one_thread[] = {xthread, {"threads", "1", 1}};
    expect_pairs_rejected(one_thread, 2, &limits, "threads");
    struct bench_limits one_cpu = limits;
    one_cpu.default_threads = 1;
    expect_workload(&xthread, 1, &one_cpu, BENCH_WORKLOAD_XTHREAD, 2);
    expect_workload(&larson, 1, &one_cpu, BENCH_WORKLOAD_LARSON, 1);
    struct bench_limits one_max = one_cpu;
    one_max.max_threads = 1;
    expect_pairs_rejected(&xthread, 1, &one_max, "threads");
    struct param_pair two_threads[] = {{"threads", "2", 1}, xthread};
    expect_workload(two_threads, 2, &limits, BENCH_WORKLOAD_XTHREAD, 2);
}

/* --max-bench-operations: threads x iterations up to the budget pass, one
 * more is refused with a message that says the limit, and no parameter is
 * blamed (either may be lowered). Also when the defaults make up the work. */
static void check_budget(void)
{
    struct bench_request request;
    struct bench_params_error error;
    struct bench_limits budget = limits;
    budget.max_operations = 1000;
    struct param_pair exact[] = {{"threads", "4", 1}, {"iterations", "250", 3}};
    CHECK(bench_params_parse(exact, 2, &budget, &request, &error));
    CHECK(request.params.threads * request.params.iterations == 1000);
    struct param_pair over[] = {{"threads", "3", 1}, {"iterations", "334", 3}};
    CHECK(!bench_params_parse(over, 2, &budget, &request, &error));
    CHECK(error.over_budget && error.parameter == NULL);
    CHECK_MSG(strstr(error.message, "at most 1000") != NULL && strstr(error.message, "1002"), "%s",
              error.message);
    /* The defaults (2 x 100000) are over this budget too. */
    CHECK(!bench_params_parse(NULL, 0, &budget, &request, &error) && error.over_budget);
    /* A malformed value is not a budget matter. */
    struct param_pair bad = {"threads", "x", 1};
    CHECK(!bench_params_parse(&bad, 1, &budget, &request, &error) && !error.over_budget);
    /* Products past 32 bits are computed in 64. */
    struct bench_limits wide = limits;
    wide.max_threads = 4096;
    wide.max_iterations = 1000000000;
    wide.max_operations = 4000000000u;
    struct param_pair huge[] = {{"threads", "4096", 4}, {"iterations", "1000000000", 10}};
    CHECK(!bench_params_parse(huge, 2, &wide, &request, &error) && error.over_budget);
    /* allocator=all: every allocator's run in every round counts. */
    enum bench_allocator ids[BENCH_ALLOCATOR_COUNT];
    unsigned runs = (unsigned)bench_allocators(ids) * 2;
    char iterations[16];
    snprintf(iterations, sizeof(iterations), "%u", 1000 / runs);
    struct param_pair all_fits[] = {{"allocator", "all", 3},
                                    {"repeat", "2", 1},
                                    {"threads", "1", 1},
                                    {"iterations", iterations, strlen(iterations)}};
    CHECK_MSG(bench_params_parse(all_fits, 4, &budget, &request, &error), "%s", error.message);
    snprintf(iterations, sizeof(iterations), "%u", 1000 / runs + 1);
    all_fits[3].value_len = strlen(iterations);
    CHECK(!bench_params_parse(all_fits, 4, &budget, &request, &error) && error.over_budget);
    CHECK_MSG(runs == 2 || strstr(error.message, "allocators x rounds") != NULL, "%s",
              error.message);
}

/* workload=window: its own parameters, its defaults, and the memory
 * budget, threads x (slots + the blocks in flight) x max_block. */
static void check_window(void)
{
    struct bench_request request;
    struct bench_params_error error;
    struct param_pair window = {"workload", "window", 6};
    CHECK(bench_params_parse(&window, 1, &limits, &request, &error));
    CHECK(request.params.workload == BENCH_WORKLOAD_WINDOW);
    CHECK(request.params.iterations == BENCH_WINDOW_DEFAULT_ITERATIONS);
    CHECK(request.params.window.slots == BENCH_WINDOW_DEFAULT_SLOTS);
    CHECK(request.params.window.min_block == BENCH_WINDOW_DEFAULT_MIN_BLOCK);
    CHECK(request.params.window.max_block == BENCH_WINDOW_DEFAULT_MAX_BLOCK);

    struct param_pair shaped[] = {window,
                                  {"slots", "10", 2},
                                  {"min_block", "100", 3},
                                  {"max_block", "1000", 4},
                                  {"iterations", "500000", 6}};
    CHECK(bench_params_parse(shaped, 5, &limits, &request, &error));
    CHECK(request.params.window.slots == 10 && request.params.window.min_block == 100 &&
          request.params.window.max_block == 1000 && request.params.iterations == 500000);
    struct param_pair equal[] = {window, {"min_block", "4096", 4}, {"max_block", "4096", 4}};
    CHECK(bench_params_parse(equal, 3, &limits, &request, &error));

    /* The window's parameters belong to it alone. */
    const char *own[] = {"slots", "min_block", "max_block"};
    for (size_t i = 0; i < ARRAY_SIZE(own); i++) {
        struct param_pair seed_with[] = {{"workload", "seed", 4}, {own[i], "10", 2}};
        expect_pairs_rejected(seed_with, 2, &limits, own[i]);
        struct param_pair default_with = {own[i], "10", 2};
        expect_pairs_rejected(&default_with, 1, &limits, own[i]);
        const char *bad[] = {"0", "", "-1", "1.5", "16777217", "99999999999"};
        for (size_t b = 0; b < ARRAY_SIZE(bad); b++) {
            struct param_pair pairs[] = {window, {own[i], bad[b], strlen(bad[b])}};
            expect_pairs_rejected(pairs, 2, &limits, own[i]);
        }
    }
    struct param_pair too_many[] = {window, {"slots", "65537", 5}};
    expect_pairs_rejected(too_many, 2, &limits, "slots");
    struct param_pair crossed[] = {window, {"min_block", "2000", 4}, {"max_block", "1000", 4}};
    expect_pairs_rejected(crossed, 3, &limits, "min_block");
    /* min_block alone above the default max_block */
    struct param_pair above[] = {window, {"min_block", "300000", 6}};
    expect_pairs_rejected(above, 2, &limits, "min_block");

    /* The memory budget: 2 threads x (100 + 64) x 65536 bytes is 20.5 MiB. */
    struct bench_limits budget = limits;
    budget.max_memory = 21u * 1024 * 1024;
    struct param_pair fits[] = {window, {"slots", "100", 3}, {"max_block", "65536", 5}};
    CHECK_MSG(bench_params_parse(fits, 3, &budget, &request, &error), "%s", error.message);
    budget.max_memory = 20u * 1024 * 1024;
    CHECK(!bench_params_parse(fits, 3, &budget, &request, &error));
    CHECK(error.over_budget && error.parameter == NULL);
    CHECK_MSG(strstr(error.message, "--max-bench-memory") != NULL &&
                  strstr(error.message, "at most 20 MiB") != NULL,
              "%s", error.message);
    /* Without slots, the default shrinks to what fits: 20 MiB / (2 x 65536)
     * is 160 slots, less the 64 in flight. */
    struct param_pair unsized[] = {window, {"max_block", "65536", 5}};
    budget.max_memory = 20u * 1024 * 1024;
    CHECK(bench_params_parse(unsized, 2, &budget, &request, &error));
    CHECK_MSG(request.params.window.slots == 96, "slots %u", request.params.window.slots);
    /* ... unless not even one slot fits. */
    budget.max_memory = 1024u * 1024;
    CHECK(!bench_params_parse(unsized, 2, &budget, &request, &error) && error.over_budget);
    /* No budget: anything in bounds. */
    struct param_pair large[] = {window, {"slots", "65536", 5}, {"max_block", "16777216", 8}};
    CHECK(bench_params_parse(large, 3, &limits, &request, &error));
    /* Other workloads are not held to it. */
    budget.max_memory = 1;
    CHECK(bench_params_parse(NULL, 0, &budget, &request, &error));
}

/* allocator: a name this build has, or all; repeat only with all. */
static void check_allocators(void)
{
    struct bench_request request;
    struct bench_params_error error;
    CHECK(bench_params_parse(NULL, 0, &limits, &request, &error));
    CHECK(request.params.allocator == BENCH_ALLOCATOR_GLOBAL);
    CHECK(!request.all_allocators && request.repeat == 1);

    enum bench_allocator ids[BENCH_ALLOCATOR_COUNT];
    size_t count = bench_allocators(ids);
    for (size_t i = 0; i < count; i++) {
        const char *name = bench_allocator_name(ids[i]);
        struct param_pair pair = {"allocator", name, strlen(name)};
        CHECK_MSG(bench_params_parse(&pair, 1, &limits, &request, &error), "%s: %s", name,
                  error.message);
        CHECK(request.params.allocator == ids[i] && !request.all_allocators);
    }
    struct param_pair all = {"allocator", "all", 3};
    CHECK(bench_params_parse(&all, 1, &limits, &request, &error));
    CHECK(request.all_allocators && request.repeat == 1);
    struct param_pair all_repeat[] = {{"repeat", "3", 1}, all};
    CHECK(bench_params_parse(all_repeat, 2, &limits, &request, &error));
    CHECK(request.all_allocators && request.repeat == 3);
    struct param_pair all_max[] = {all, {"repeat", "10", 2}};
    CHECK(bench_params_parse(all_max, 2, &limits, &request, &error) && request.repeat == 10);

    const char *bad[] = {
        "", "ALL", "All", "mimalloc ", "glibc", "musl,mimalloc", "jemalloc-secure"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct param_pair pair = {"allocator", bad[i], strlen(bad[i])};
        expect_pairs_rejected(&pair, 1, &limits, "allocator");
    }
    struct param_pair nul = {"allocator", "all\0x", 5};
    expect_pairs_rejected(&nul, 1, &limits, "allocator");
    struct param_pair no_value = {"allocator", NULL, 0};
    expect_pairs_rejected(&no_value, 1, &limits, "allocator");
    struct param_pair twice[] = {all, all};
    expect_pairs_rejected(twice, 2, &limits, "allocator");
    struct param_pair unknown = {"allocator", "tcmalloc", 8};
    CHECK(!bench_params_parse(&unknown, 1, &limits, &request, &error));
    CHECK_MSG(strstr(error.message, TINYSERVER_ALLOCATOR_OPTION) != NULL &&
                  strstr(error.message, " and all") != NULL,
              "%s", error.message);

    struct param_pair repeat_alone = {"repeat", "2", 1};
    expect_pairs_rejected(&repeat_alone, 1, &limits, "repeat");
    struct param_pair repeat_one = {"repeat", "1", 1};
    CHECK(bench_params_parse(&repeat_one, 1, &limits, &request, &error));
    const char *bad_repeat[] = {"0", "11", "-1", "", "2x"};
    for (size_t i = 0; i < sizeof(bad_repeat) / sizeof(bad_repeat[0]); i++) {
        struct param_pair pairs[] = {all, {"repeat", bad_repeat[i], strlen(bad_repeat[i])}};
        expect_pairs_rejected(pairs, 2, &limits, "repeat");
    }
}

int main(void)
{
    struct bench_request request;
    struct bench_params_error error;

    CHECK(bench_params_parse(NULL, 0, &limits, &request, &error));
    CHECK(request.params.threads == 2 && request.params.iterations == 100000);

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
    for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++) {
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
    CHECK(!bench_params_parse(&nul, 1, &limits, &request, &error));

    struct param_pair repeated[] = {{"threads", "1", 1}, {"threads", "1", 1}};
    CHECK(!bench_params_parse(repeated, 2, &limits, &request, &error));
    CHECK(error.parameter != NULL && strcmp(error.parameter, "threads") == 0);

    struct param_pair both[] = {{"iterations", "5", 1}, {"threads", "3", 1}};
    CHECK(bench_params_parse(both, 2, &limits, &request, &error));
    CHECK(request.params.threads == 3 && request.params.iterations == 5);

    struct bench_limits tight = limits;
    tight.max_threads = 4;
    struct param_pair over = {"threads", "5", 1};
    CHECK(!bench_params_parse(&over, 1, &tight, &request, &error));
    CHECK(strstr(error.message, "1 to 4") != NULL);

    check_budget();
    check_workloads();
    check_allocators();
    check_window();
    return check_finish("bench_params");
}
