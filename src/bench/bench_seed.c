/*
 * bench_seed.c - the published workload: every thread allocates, touches
 * and frees its own blocks. See bench.h.
 */
#include "bench_workload.h"

/* The byte whose value (1) the counter adds, when the block has one. */
#define SEED_PROBE_OFFSET 100u

/* One operation; false when out of memory. */
static inline bool seed_step(uint64_t *counter)
{
    size_t size = (size_t)(*counter % BENCH_MAX_BLOCK) + 1;
    unsigned char *block = bench_block_new(size);
    if (block == NULL) {
        return false;
    }
    *counter += size > SEED_PROBE_OFFSET ? block[SEED_PROBE_OFFSET] : 1;
    bench_block_drop(block);
    return true;
}

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
        /* The timed operation is a copy of the others, so that theirs is
         * the code without the clock: a clock read in the shared path cost
         * about 10 instructions per operation (callgrind), a third of
         * them after the copy. */
        bool ok;
        if (bench_latency_due(i)) {
            uint64_t began = bench_now_ns();
            ok = seed_step(&counter);
            bench_latency_end(thread, began);
        } else {
            ok = seed_step(&counter);
        }
        if (!ok) {
            thread->alloc_failed = true;
            break;
        }
    }
    thread->counter = counter;
}

const struct bench_workload_ops BENCH_THIS_WORKLOAD_OPS(seed) = {
    .name = "seed",
    .min_threads = 1,
    .work = seed_work,
};
