/*
 * bench_latency.h - the durations of sampled operations, kept in a
 * log-linear histogram so that a thread's record has a fixed size (no
 * allocation while the clock runs) and threads' records merge by addition.
 *
 * Buckets: durations below BENCH_LATENCY_SUB_BUCKETS nanoseconds each have
 * their own; above, every power of two is split into
 * BENCH_LATENCY_SUB_BUCKETS equal parts, so a quantile read from the
 * histogram is at most 1/16 (6.25%) above the duration it stands for, and
 * never below it. The maximum is kept exactly.
 *
 * The caller owns every struct; nothing here allocates or locks.
 */
#ifndef TINYSERVER_BENCH_LATENCY_H
#define TINYSERVER_BENCH_LATENCY_H

#include <stdint.h>

#define BENCH_LATENCY_SUB_BITS    4u
#define BENCH_LATENCY_SUB_BUCKETS (1u << BENCH_LATENCY_SUB_BITS)
/* Durations of 2^BENCH_LATENCY_MAX_BITS ns (about 69 s) and more share the
 * last bucket; the exact maximum is still kept. */
#define BENCH_LATENCY_MAX_BITS 36u
#define BENCH_LATENCY_BUCKETS                                                                      \
    ((BENCH_LATENCY_MAX_BITS - BENCH_LATENCY_SUB_BITS + 2u) * BENCH_LATENCY_SUB_BUCKETS)

/* One thread's record; zero-initialised is empty. */
struct bench_latency {
    uint64_t samples;
    uint64_t max_ns;
    uint32_t buckets[BENCH_LATENCY_BUCKETS];
};

/* What a run reports. All 0 when nothing was sampled (samples == 0). */
struct bench_latency_summary {
    uint64_t samples;
    uint64_t p50_ns;
    uint64_t p99_ns;
    uint64_t max_ns;
};

void bench_latency_record(struct bench_latency *latency, uint64_t duration_ns);

/* Adds `from` into `into`. */
void bench_latency_merge(struct bench_latency *into, const struct bench_latency *from);

/* The smallest bucket bound at or above the duration that `permille`
 * thousandths of the samples do not exceed (500: the median, 990: p99):
 * never below the true quantile, at most 6.25% above it. The maximum
 * caps it, so a quantile never exceeds max_ns. */
uint64_t bench_latency_quantile(const struct bench_latency *latency, unsigned permille);

void bench_latency_summarise(const struct bench_latency *latency,
                             struct bench_latency_summary *out);

#endif
