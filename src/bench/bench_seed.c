/*
 * bench_seed.c - the published workload: every thread allocates, touches
 * and frees its own blocks. See bench.h.
 */
#include "bench_workload.h"

/* The byte whose value (1) the counter adds, when the block has one. */
#define SEED_PROBE_OFFSET 100u

static void seed_work(struct bench_thread *thread)
{
    struct bench_run *run = thread->run;
    unsigned iterations = run->params->iterations;
    uint64_t counter = 0;
    for (unsigned i = 0; i < iterations; i++) {
        if (i % BENCH_CANCEL_CHECK_INTERVAL == 0 && bench_should_stop(run)) {
            thread->stopped_early = true;
            break;
        }
        bool timed = bench_latency_due(i);
        uint64_t began = timed ? bench_now_ns() : 0;
        size_t size = (size_t)(counter % BENCH_MAX_BLOCK) + 1;
        unsigned char *block = bench_block_new(size);
        if (block == NULL) {
            thread->alloc_failed = true;
            break;
        }
        counter += size > SEED_PROBE_OFFSET ? block[SEED_PROBE_OFFSET] : 1;
        bench_block_drop(block);
        if (timed) {
            bench_latency_end(thread, began);
        }
    }
    thread->counter = counter;
}

const struct bench_workload_ops BENCH_THIS_WORKLOAD_OPS(seed) = {
    .name = "seed",
    .min_threads = 1,
    .work = seed_work,
};
