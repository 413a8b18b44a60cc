/*
 * bench_latency.c - the sampled-duration histogram; see bench_latency.h.
 */
#include "bench_latency.h"

/* The bucket of a duration: exact below BENCH_LATENCY_SUB_BUCKETS ns, then
 * BENCH_LATENCY_SUB_BUCKETS buckets per power of two. */
static unsigned bucket_of(uint64_t ns)
{
    if (ns < BENCH_LATENCY_SUB_BUCKETS) {
        return (unsigned)ns;
    }
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
    if (msb > BENCH_LATENCY_MAX_BITS) {
        return BENCH_LATENCY_BUCKETS - 1;
    }
    unsigned group = msb - BENCH_LATENCY_SUB_BITS + 1;
    unsigned sub = (unsigned)(ns >> (msb - BENCH_LATENCY_SUB_BITS)) - BENCH_LATENCY_SUB_BUCKETS;
    return group * BENCH_LATENCY_SUB_BUCKETS + sub;
}

/* The largest duration that falls in a bucket. */
static uint64_t bucket_top(unsigned bucket)
{
    if (bucket < BENCH_LATENCY_SUB_BUCKETS) {
        return bucket;
    }
    unsigned group = bucket / BENCH_LATENCY_SUB_BUCKETS;
    uint64_t sub = bucket % BENCH_LATENCY_SUB_BUCKETS;
    uint64_t width = 1ull << (group - 1);
    return (BENCH_LATENCY_SUB_BUCKETS + sub + 1) * width - 1;
}

void bench_latency_record(struct bench_latency *latency, uint64_t duration_ns)
{
    uint32_t *bucket = &latency->buckets[bucket_of(duration_ns)];
    /* Saturate rather than wrap: a run has far fewer samples than this. */
    if (*bucket != UINT32_MAX) {
        (*bucket)++;
    }
    latency->samples++;
    if (duration_ns > latency->max_ns) {
        latency->max_ns = duration_ns;
    }
}

void bench_latency_merge(struct bench_latency *into, const struct bench_latency *from)
{
    for (unsigned i = 0; i < BENCH_LATENCY_BUCKETS; i++) {
        uint64_t sum = (uint64_t)into->buckets[i] + from->buckets[i];
        into->buckets[i] = sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
    }
    into->samples += from->samples;
    if (from->max_ns > into->max_ns) {
        into->max_ns = from->max_ns;
    }
}

uint64_t bench_latency_quantile(const struct bench_latency *latency, unsigned permille)
{
    if (latency->samples == 0) {
        return 0;
    }
    /* The rank of the sample at the quantile, counting from 1, rounded up. */
    uint64_t rank = (latency->samples * permille + 999) / 1000;
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_LATENCY_BUCKETS; i++) {
        seen += latency->buckets[i];
        if (seen >= rank) {
            /* The last bucket has no top: it holds everything longer. */
            uint64_t top = i + 1 < BENCH_LATENCY_BUCKETS ? bucket_top(i) : latency->max_ns;
            return top < latency->max_ns ? top : latency->max_ns;
        }
    }
    return latency->max_ns;
}

void bench_latency_summarise(const struct bench_latency *latency, struct bench_latency_summary *out)
{
    out->samples = latency->samples;
    out->p50_ns = bench_latency_quantile(latency, 500);
    out->p99_ns = bench_latency_quantile(latency, 990);
    out->max_ns = latency->max_ns;
}
