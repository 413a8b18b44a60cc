/* Unit tests for bench.c: the workload's arithmetic, result fields and
 * cancellation. No timing assertions: elapsed time is only sanity-checked. */
#include "bench.h"
#include "check.h"

#include <stdatomic.h>

static void check_totals(unsigned threads, unsigned iterations)
{
    struct bench_params params = {.threads = threads, .iterations = iterations};
    struct bench_result result;
    CHECK(bench_run(&params, NULL, &result) == BENCH_OK);
    CHECK(result.threads == threads);
    CHECK(result.iterations == iterations);
    CHECK(result.operations == (uint64_t)threads * iterations);
    CHECK_MSG(result.total_counter == (uint64_t)threads * iterations,
              "threads=%u iterations=%u total_counter=%llu", threads, iterations,
              (unsigned long long)result.total_counter);
    CHECK(result.elapsed_ms >= 0);
    CHECK(result.ops_per_sec >= 0);
}

static void check_cancelled_before_start(void)
{
    atomic_bool cancel;
    atomic_init(&cancel, true);
    struct bench_params params = {.threads = 2, .iterations = 1000000};
    struct bench_result result;
    CHECK(bench_run(&params, &cancel, &result) == BENCH_CANCELLED);
}

int main(void)
{
    check_totals(1, 1);
    check_totals(1, 100);  /* blocks stay below 101 bytes: +1 branch only */
    check_totals(1, 1000); /* crosses into the byte-100 branch */
    check_totals(3, 2500); /* counter wraps past 1000: sizes restart at 1 */
    check_totals(8, 10000);
    check_cancelled_before_start();
    CHECK(bench_status_message(BENCH_ALLOC_FAILED)[0] != '\0');
    return check_finish("bench");
}
