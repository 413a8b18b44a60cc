/* Unit tests for bench_latency.c: the histogram's quantiles against known
 * durations, its bound on the error, merging, and the empty record. */
#include "bench_latency.h"
#include "check.h"

#include <string.h>

static struct bench_latency make(void)
{
    struct bench_latency latency;
    memset(&latency, 0, sizeof(latency));
    return latency;
}

/* A quantile is never below the true one and at most 1/16 above it. */
static void check_close(uint64_t reported, uint64_t truth)
{
    CHECK_MSG(reported >= truth && reported <= truth + truth / 16, "reported %llu for a true %llu",
              (unsigned long long)reported, (unsigned long long)truth);
}

int main(void)
{
    struct bench_latency empty = make();
    struct bench_latency_summary summary;
    bench_latency_summarise(&empty, &summary);
    CHECK(summary.samples == 0 && summary.p50_ns == 0 && summary.p99_ns == 0 &&
          summary.max_ns == 0);

    /* Small durations are exact. */
    struct bench_latency small = make();
    for (uint64_t ns = 0; ns < 16; ns++) {
        bench_latency_record(&small, ns);
    }
    CHECK(bench_latency_quantile(&small, 500) == 7);
    CHECK(bench_latency_quantile(&small, 1000) == 15);

    /* 1 to 100000 ns, once each: the quantiles are known. */
    struct bench_latency ramp = make();
    for (uint64_t ns = 1; ns <= 100000; ns++) {
        bench_latency_record(&ramp, ns);
    }
    bench_latency_summarise(&ramp, &summary);
    CHECK(summary.samples == 100000 && summary.max_ns == 100000);
    check_close(summary.p50_ns, 50000);
    check_close(summary.p99_ns, 99000);

    /* A tail: 990 fast operations and 10 slow ones put p99 on the fast
     * side and the maximum on the slow one; 989 fast and 11 slow move p99
     * into the tail. */
    struct bench_latency tail = make();
    for (int i = 0; i < 990; i++) {
        bench_latency_record(&tail, 100);
    }
    for (int i = 0; i < 10; i++) {
        bench_latency_record(&tail, 1000000);
    }
    check_close(bench_latency_quantile(&tail, 990), 100);
    CHECK(tail.max_ns == 1000000);
    bench_latency_record(&tail, 1000000);
    check_close(bench_latency_quantile(&tail, 990), 1000000);

    /* Merging two halves equals recording all. */
    struct bench_latency low = make(), high = make();
    for (uint64_t ns = 1; ns <= 50000; ns++) {
        bench_latency_record(&low, ns);
        bench_latency_record(&high, ns + 50000);
    }
    bench_latency_merge(&low, &high);
    CHECK(memcmp(&low, &ramp, sizeof(low)) == 0);

    /* Beyond the last bucket's start, the exact maximum stands in. */
    struct bench_latency huge = make();
    bench_latency_record(&huge, 1ull << 40);
    CHECK(bench_latency_quantile(&huge, 500) == 1ull << 40);
    /* A quantile never passes the maximum, though its bucket's top does. */
    struct bench_latency one = make();
    bench_latency_record(&one, 1000);
    CHECK(bench_latency_quantile(&one, 990) == 1000);
    return check_finish("bench_latency");
}
