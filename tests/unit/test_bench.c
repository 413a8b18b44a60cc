/* Unit tests for bench.c and the workloads: the arithmetic, the result
 * fields, the workload table and cancellation. No timing assertions:
 * elapsed time is only sanity-checked. */
#include "bench.h"
#include "bench_compare.h"
#include "array.h"
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* The allocator check_totals runs on; main() goes through each in turn. */
static enum bench_allocator current_allocator;

static void check_totals(enum bench_workload workload, unsigned threads, unsigned iterations)
{
    struct bench_params params = {.workload = workload,
                                  .threads = threads,
                                  .iterations = iterations,
                                  .allocator = current_allocator};
    struct bench_result result;
    enum bench_status status = bench_run(&params, NULL, &result);
    CHECK_MSG(status == BENCH_OK, "%s on %s threads=%u iterations=%u: %s",
              bench_workload_name(workload), bench_allocator_name(current_allocator), threads,
              iterations, bench_status_message(status));
    if (status != BENCH_OK) {
        return;
    }
    CHECK(result.workload == workload);
    CHECK(result.allocator == current_allocator);
    CHECK(result.threads == threads);
    CHECK(result.iterations == iterations);
    CHECK(result.operations == (uint64_t)threads * iterations);
    /* Every operation reads one byte of its block and adds 1, so the sum
     * proves each block was allocated, written, read and freed. */
    CHECK_MSG(result.total_counter == (uint64_t)threads * iterations,
              "%s on %s threads=%u iterations=%u total_counter=%llu", bench_workload_name(workload),
              bench_allocator_name(current_allocator), threads, iterations,
              (unsigned long long)result.total_counter);
    CHECK(result.elapsed_ms >= 0);
    CHECK(result.ops_per_sec >= 0);
}

static void check_cancelled_before_start(enum bench_workload workload)
{
    atomic_bool cancel;
    atomic_init(&cancel, true);
    struct bench_params params = {.workload = workload, .threads = 2, .iterations = 1000000};
    struct bench_result result;
    CHECK_MSG(bench_run(&params, &cancel, &result) == BENCH_CANCELLED, "%s",
              bench_workload_name(workload));
}

static void *cancel_soon(void *arg)
{
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    atomic_store((atomic_bool *)arg, true);
    return NULL;
}

/* A run far too long to finish (minutes) is cancelled while its threads
 * are busy, or waiting for each other: it must stop and say so. */
static void check_cancelled_mid_run(enum bench_workload workload)
{
    atomic_bool cancel;
    atomic_init(&cancel, false);
    pthread_t canceller;
    CHECK(pthread_create(&canceller, NULL, cancel_soon, &cancel) == 0);
    struct bench_params params = {.workload = workload, .threads = 3, .iterations = 1000000000};
    struct bench_result result;
    CHECK_MSG(bench_run(&params, &cancel, &result) == BENCH_CANCELLED, "%s",
              bench_workload_name(workload));
    pthread_join(canceller, NULL);
}

/* The time cap: a run sized for minutes stops soon after max_ms and says
 * it was cut short (never BENCH_OK); the second cancel flag stops a run
 * like the first. Bounds are generous: only "minutes" would be wrong. */
static void check_cut_short_and_second_flag(enum bench_workload workload)
{
    struct bench_params params = {.workload = workload, .threads = 3, .iterations = 1000000000};
    struct bench_result result;
    struct timespec start, end;
    struct bench_stop capped = {.cancel = {NULL, NULL}, .max_ms = 50};
    clock_gettime(CLOCK_MONOTONIC, &start);
    enum bench_status status = bench_run_until(&params, &capped, &result);
    clock_gettime(CLOCK_MONOTONIC, &end);
    CHECK_MSG(status == BENCH_CUT_SHORT, "%s: %s", bench_workload_name(workload),
              bench_status_message(status));
    CHECK_MSG(end.tv_sec - start.tv_sec < 30, "%s took %lds", bench_workload_name(workload),
              (long)(end.tv_sec - start.tv_sec));

    /* A cap the run stays inside changes nothing. */
    struct bench_params small = {.workload = workload, .threads = 2, .iterations = 1000};
    struct bench_stop roomy = {.cancel = {NULL, NULL}, .max_ms = 600000};
    CHECK(bench_run_until(&small, &roomy, &result) == BENCH_OK);
    CHECK(result.total_counter == 2000);

    atomic_bool first, second;
    atomic_init(&first, false);
    atomic_init(&second, false);
    pthread_t canceller;
    CHECK(pthread_create(&canceller, NULL, cancel_soon, &second) == 0);
    struct bench_stop flags = {.cancel = {&first, &second}, .max_ms = 0};
    CHECK_MSG(bench_run_until(&params, &flags, &result) == BENCH_CANCELLED, "%s",
              bench_workload_name(workload));
    pthread_join(canceller, NULL);
}

static void check_workload_table(void)
{
    const char *names[] = {"seed", "xthread", "larson", "window"};
    CHECK(ARRAY_SIZE(names) == BENCH_WORKLOAD_COUNT);
    for (unsigned id = 0; id < BENCH_WORKLOAD_COUNT; id++) {
        enum bench_workload found = BENCH_WORKLOAD_COUNT;
        CHECK(strcmp(bench_workload_name((enum bench_workload)id), names[id]) == 0);
        CHECK(bench_workload_find(names[id], strlen(names[id]), &found) && found == id);
    }
    enum bench_workload found;
    CHECK(!bench_workload_find("see", 3, &found));
    CHECK(!bench_workload_find("seeds", 5, &found));
    CHECK(!bench_workload_find("SEED", 4, &found));
    CHECK(!bench_workload_find("", 0, &found));
    CHECK(bench_workload_find("larson!", 6, &found) && found == BENCH_WORKLOAD_LARSON);
    CHECK(bench_workload_name(BENCH_WORKLOAD_COUNT) == NULL);
    CHECK(bench_workload_min_threads(BENCH_WORKLOAD_SEED) == 1);
    CHECK(bench_workload_min_threads(BENCH_WORKLOAD_XTHREAD) == 2);
    CHECK(bench_workload_min_threads(BENCH_WORKLOAD_LARSON) == 1);
    CHECK(bench_workload_min_threads(BENCH_WORKLOAD_WINDOW) == 1);
}

/* Every build has its global allocator, named after -Dallocator; the
 * default build (a mimalloc global on musl) has all three. */
static void check_allocator_table(void)
{
    CHECK(strcmp(bench_allocator_name(BENCH_ALLOCATOR_GLOBAL), TINYSERVER_ALLOCATOR_OPTION) == 0);
    enum bench_allocator list[BENCH_ALLOCATOR_COUNT];
    size_t count = bench_allocators(list);
    size_t expected = 1;
#if defined(TINYSERVER_BENCH_MUSL)
    expected++;
    CHECK(strcmp(bench_allocator_name(BENCH_ALLOCATOR_MUSL), "musl") == 0);
#else
    CHECK(bench_allocator_name(BENCH_ALLOCATOR_MUSL) == NULL);
#endif
#if defined(TINYSERVER_BENCH_SECURE)
    expected++;
    CHECK(strcmp(bench_allocator_name(BENCH_ALLOCATOR_SECURE), "mimalloc-secure") == 0);
#else
    CHECK(bench_allocator_name(BENCH_ALLOCATOR_SECURE) == NULL);
#endif
#if defined(TINYSERVER_BENCH_JEMALLOC)
    expected++;
    CHECK(strcmp(bench_allocator_name(BENCH_ALLOCATOR_JEMALLOC), "jemalloc") == 0);
#else
    CHECK(bench_allocator_name(BENCH_ALLOCATOR_JEMALLOC) == NULL);
#endif
    CHECK_MSG(count == expected, "%zu allocators, expected %zu", count, expected);
    for (size_t i = 0; i < count; i++) {
        const char *name = bench_allocator_name(list[i]);
        enum bench_allocator found = BENCH_ALLOCATOR_COUNT;
        CHECK(name != NULL && bench_allocator_find(name, strlen(name), &found) && found == list[i]);
        CHECK(i == 0 || strcmp(bench_allocator_name(list[i - 1]), name) < 0);
    }
    enum bench_allocator found;
    CHECK(!bench_allocator_find("all", 3, &found));
    CHECK(!bench_allocator_find("mimallo", 7, &found));
    CHECK(!bench_allocator_find("MUSL", 4, &found));
    CHECK(bench_allocator_name(BENCH_ALLOCATOR_COUNT) == NULL);
}

static void check_bad_params(void)
{
    struct bench_result result;
    struct bench_params one_xthread = {
        .workload = BENCH_WORKLOAD_XTHREAD, .threads = 1, .iterations = 10};
    CHECK(bench_run(&one_xthread, NULL, &result) == BENCH_BAD_PARAMS);
    struct bench_params no_threads = {.threads = 0, .iterations = 10};
    CHECK(bench_run(&no_threads, NULL, &result) == BENCH_BAD_PARAMS);
    struct bench_params unknown = {
        .workload = BENCH_WORKLOAD_COUNT, .threads = 1, .iterations = 10};
    CHECK(bench_run(&unknown, NULL, &result) == BENCH_BAD_PARAMS);
    struct bench_params no_allocator = {
        .threads = 1, .iterations = 10, .allocator = BENCH_ALLOCATOR_COUNT};
    CHECK(bench_run(&no_allocator, NULL, &result) == BENCH_BAD_PARAMS);
    /* A window out of its bounds (0 fields mean the defaults). */
    static const struct bench_window bad_windows[] = {
        {.min_block = 2000, .max_block = 1000},
        {.min_block = BENCH_WINDOW_DEFAULT_MAX_BLOCK + 1},
        {.slots = BENCH_WINDOW_MAX_SLOTS + 1},
        {.max_block = BENCH_WINDOW_MAX_BLOCK + 1},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_windows); i++) {
        struct bench_params window = {.workload = BENCH_WORKLOAD_WINDOW,
                                      .threads = 1,
                                      .iterations = 10,
                                      .window = bad_windows[i]};
        CHECK_MSG(bench_run(&window, NULL, &result) == BENCH_BAD_PARAMS, "window %zu", i);
    }
}

static void check_all_totals(void)
{
    check_totals(BENCH_WORKLOAD_SEED, 1, 1);
    check_totals(BENCH_WORKLOAD_SEED, 1, 100);  /* blocks stay below 101 bytes: +1 branch only */
    check_totals(BENCH_WORKLOAD_SEED, 1, 1000); /* crosses into the byte-100 branch */
    check_totals(BENCH_WORKLOAD_SEED, 3, 2500); /* counter wraps past 1000: sizes restart at 1 */
    check_totals(BENCH_WORKLOAD_SEED, 8, 10000);

    check_totals(BENCH_WORKLOAD_XTHREAD, 2, 1);     /* one short batch */
    check_totals(BENCH_WORKLOAD_XTHREAD, 2, 10000); /* many full batches */
    check_totals(BENCH_WORKLOAD_XTHREAD, 3, 777);   /* 2 producers, uneven shares */
    check_totals(BENCH_WORKLOAD_XTHREAD, 7, 5000);  /* more producers than consumers */
    check_totals(BENCH_WORKLOAD_XTHREAD, 200, 50);  /* producers wait for batches */

    check_totals(BENCH_WORKLOAD_LARSON, 1, 1);
    check_totals(BENCH_WORKLOAD_LARSON, 1, 5000); /* trades with the spare only */
    check_totals(BENCH_WORKLOAD_LARSON, 2, 1023); /* never reaches a trade */
    check_totals(BENCH_WORKLOAD_LARSON, 4, 20000);
    check_totals(BENCH_WORKLOAD_LARSON, 16, 3000);

    check_totals(BENCH_WORKLOAD_WINDOW, 1, 1);
    check_totals(BENCH_WORKLOAD_WINDOW, 1, 100);  /* the window never fills */
    check_totals(BENCH_WORKLOAD_WINDOW, 1, 3000); /* hands blocks to itself */
    check_totals(BENCH_WORKLOAD_WINDOW, 2, 2000); /* hand-overs both ways */
    check_totals(BENCH_WORKLOAD_WINDOW, 5, 1500); /* a ring of five */
}

/* allocator=all: every allocator of the build, each round in name order,
 * every run complete; and the time cap holds for the whole request. */
static void check_compare(void)
{
    struct bench_request request = {
        .params = {.workload = BENCH_WORKLOAD_LARSON, .threads = 2, .iterations = 3000},
        .all_allocators = true,
        .repeat = 3};
    static struct bench_comparison comparison;
    enum bench_allocator failed = BENCH_ALLOCATOR_COUNT;
    CHECK(bench_compare(&request, NULL, &comparison, &failed) == BENCH_OK);
    enum bench_allocator expected[BENCH_ALLOCATOR_COUNT];
    size_t count = bench_allocators(expected);
    CHECK(comparison.allocator_count == count && comparison.repeat == 3);
    for (size_t i = 0; i < count; i++) {
        CHECK(comparison.allocators[i] == expected[i]);
        for (unsigned round = 0; round < 3; round++) {
            const struct bench_result *run = &comparison.runs[round][i];
            CHECK(run->allocator == expected[i] && run->total_counter == 6000);
        }
        CHECK(comparison.median_ops_per_sec[i] > 0);
        /* The summary is the median of the rounds, figure by figure; the
         * latency maximum is the largest of them. */
        const struct bench_result *summary = &comparison.summary[i];
        CHECK(summary->ops_per_sec == comparison.median_ops_per_sec[i]);
        uint64_t most = 0;
        unsigned below = 0, above = 0;
        for (unsigned round = 0; round < 3; round++) {
            const struct bench_result *run = &comparison.runs[round][i];
            most = run->latency.max_ns > most ? run->latency.max_ns : most;
            below += run->latency.p99_ns < summary->latency.p99_ns;
            above += run->latency.p99_ns > summary->latency.p99_ns;
        }
        CHECK(summary->latency.max_ns == most);
        CHECK(below <= 1 && above <= 1);
        CHECK(summary->latency.samples == 3 * (2 * ((3000 + 63) / 64)));
    }
    bool has_musl = bench_allocator_find("musl", 4, &failed);
    CHECK(has_musl == (comparison.baseline < count));
    if (has_musl) {
        CHECK(bench_comparison_ratio(&comparison, comparison.baseline) == 1.0);
    }

    /* Runs far too long for the cap: the first run is cut short, and the
     * request stops there, naming it. */
    request.params.iterations = 1000000000;
    struct bench_stop capped = {.cancel = {NULL, NULL}, .max_ms = 50};
    failed = BENCH_ALLOCATOR_COUNT;
    CHECK(bench_compare(&request, &capped, &comparison, &failed) == BENCH_CUT_SHORT);
    CHECK(failed == expected[0]);
}

int main(void)
{
    check_workload_table();
    check_allocator_table();
    check_compare();
    check_bad_params();

    enum bench_allocator allocators[BENCH_ALLOCATOR_COUNT];
    size_t allocator_count = bench_allocators(allocators);
    for (size_t a = 0; a < allocator_count; a++) {
        current_allocator = allocators[a];
        printf("allocator %s\n", bench_allocator_name(current_allocator));
        check_all_totals();
    }
    current_allocator = BENCH_ALLOCATOR_GLOBAL;

    for (unsigned id = 0; id < BENCH_WORKLOAD_COUNT; id++) {
        check_cancelled_before_start((enum bench_workload)id);
        check_cancelled_mid_run((enum bench_workload)id);
        check_cut_short_and_second_flag((enum bench_workload)id);
    }
    CHECK(strstr(bench_status_message(BENCH_CUT_SHORT), "cut short") != NULL);
    CHECK(bench_status_message(BENCH_ALLOC_FAILED)[0] != '\0');
    CHECK(bench_status_message(BENCH_BAD_PARAMS)[0] != '\0');
    return check_finish("bench");
}
