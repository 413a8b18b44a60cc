/* Allocation failure inside a workload (the /bench 503 "memory allocation
 * failed during the benchmark"): this program is linked with
 * -Wl,--wrap=malloc, and once armed, the worker threads' block allocations
 * succeed a given number of times and then return NULL. Every workload must
 * stop, free what it holds, never leave a thread waiting for blocks that
 * will not come, and report BENCH_ALLOC_FAILED; afterwards a run with
 * memory succeeds. In the sanitizer build LeakSanitizer checks at exit
 * that nothing was left behind. */
#include "bench.h"
#include "array.h"
#include "check.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

void *__real_malloc(size_t size);
void *__wrap_malloc(size_t size);

/* The workloads' blocks are 1 to 1000 bytes, the window's larger (bench.h). */
#define WORKLOAD_MAX_BLOCK BENCH_LARGEST_BLOCK
#define ITERATIONS         20000u

static atomic_bool armed;
static atomic_long allowed; /* block allocations left before they fail */
/* bench_run's own bookkeeping runs on the calling thread: never failed. */
static _Thread_local bool on_main_thread;

void *__wrap_malloc(size_t size)
{
    if (atomic_load(&armed) && !on_main_thread && size >= 1 && size <= WORKLOAD_MAX_BLOCK &&
        atomic_fetch_sub(&allowed, 1) <= 0) {
        return NULL;
    }
    return __real_malloc(size);
}

static enum bench_status run(enum bench_workload workload, unsigned threads, long allow)
{
    struct bench_params params = {
        .workload = workload, .threads = threads, .iterations = ITERATIONS};
    struct bench_result result;
    atomic_store(&allowed, allow);
    atomic_store(&armed, true);
    enum bench_status status = bench_run(&params, NULL, &result);
    atomic_store(&armed, false);
    return status;
}

int main(void)
{
    on_main_thread = true;
    static const struct {
        enum bench_workload workload;
        unsigned threads;
    } cases[] = {
        {BENCH_WORKLOAD_SEED, 1},    {BENCH_WORKLOAD_SEED, 4},   {BENCH_WORKLOAD_XTHREAD, 2},
        {BENCH_WORKLOAD_XTHREAD, 5}, {BENCH_WORKLOAD_LARSON, 1}, {BENCH_WORKLOAD_LARSON, 3},
        {BENCH_WORKLOAD_WINDOW, 1},  {BENCH_WORKLOAD_WINDOW, 4},
    };
    static const long allowances[] = {0, 1, 100, 5000};
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        const char *name = bench_workload_name(cases[c].workload);
        for (size_t a = 0; a < ARRAY_SIZE(allowances); a++) {
            enum bench_status status = run(cases[c].workload, cases[c].threads, allowances[a]);
            CHECK_MSG(status == BENCH_ALLOC_FAILED,
                      "%s, %u threads, failing after %ld blocks: status %d", name, cases[c].threads,
                      allowances[a], (int)status);
        }
        CHECK_MSG(run(cases[c].workload, cases[c].threads, (long)ITERATIONS * 64) == BENCH_OK,
                  "%s, %u threads: no success once memory is back", name, cases[c].threads);
    }
    return check_finish("bench_alloc_fail");
}
