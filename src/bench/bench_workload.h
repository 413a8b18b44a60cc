/*
 * bench_workload.h - the contract between bench.c, which runs a benchmark
 * (threads, clock, result), and the workloads, which say what each thread
 * does: bench_seed.c, bench_xthread.c and bench_larson.c. Other modules use
 * bench.h only. Each workload is compiled once per allocator path (see
 * bench_alloc.h) and allocates its blocks only through bench_block_new and
 * bench_block_free / bench_block_drop below.
 *
 * One run goes:
 *   setup()            main thread, before the clock: make the shared state
 *   clock starts; `threads` threads each run work(); all joined; clock stops
 *   teardown()         main thread: free the shared state and any block a
 *                      run cut short left behind (none after a full run)
 * If a thread cannot be created, the driver sets run->abort, calls
 * spawn_failed() so nothing waits for the missing threads, and joins the
 * ones that started.
 */
#ifndef TINYSERVER_BENCH_WORKLOAD_H
#define TINYSERVER_BENCH_WORKLOAD_H

#include "bench.h"
#include "bench_alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Blocks are 1 to this many bytes, in every workload. */
#define BENCH_MAX_BLOCK 1000u

/* Workers look at the cancel flags at least once every this many blocks,
 * so a cancelled run stops within microseconds but the check costs nothing
 * measurable next to a malloc/free pair. */
#define BENCH_CANCEL_CHECK_INTERVAL 1024u

/* Shared by every thread of one run. */
struct bench_run {
    const struct bench_params *params;
    const atomic_bool *cancel[BENCH_CANCEL_FLAGS]; /* the caller's flags, may be NULL */
    /* Set by the driver when spawning fails or the time cap passes. */
    atomic_bool abort;
    void *shared; /* the workload's own state, from setup() */
};

/* One worker thread's inputs and results; the driver sums them. */
struct bench_thread {
    struct bench_run *run;
    unsigned index;   /* 0 to threads - 1 */
    uint64_t counter; /* this thread's part of total_counter */
    bool alloc_failed;
    bool stopped_early;
};

struct bench_workload_ops {
    const char *name;
    unsigned min_threads;
    /* May be NULL. Returns false when out of memory. */
    bool (*setup)(struct bench_run *run);
    void (*work)(struct bench_thread *thread);
    /* May be NULL: needed only by workloads whose threads wait for each
     * other. `started` threads (indices 0 to started - 1) are running. */
    void (*spawn_failed)(struct bench_run *run, unsigned started);
    /* May be NULL when setup is. */
    void (*teardown)(struct bench_run *run);
};

/* One set of operations per compiled allocator path. */
#define BENCH_DECLARE_PATH(path)                                                                   \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(seed, path);                         \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(xthread, path);                      \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(larson, path);
BENCH_DECLARE_PATH(global)
#if defined(TINYSERVER_BENCH_MUSL)
BENCH_DECLARE_PATH(musl)
#endif
#if defined(TINYSERVER_BENCH_SECURE)
BENCH_DECLARE_PATH(secure)
#endif
#if defined(TINYSERVER_BENCH_JEMALLOC)
BENCH_DECLARE_PATH(jemalloc)
#endif

/* True once the run was aborted or one of the caller's cancel flags is
 * set: the one stop check of every workload, made at the coarse intervals
 * above (BENCH_CANCEL_CHECK_INTERVAL blocks at most) and never inside the
 * measured malloc/free sequence. Out of line, so every compilation of a
 * workload shares it. */
bool bench_should_stop(const struct bench_run *run);

/* Tells the compiler the block escapes and memory may be read, so it must
 * keep the malloc, the memset, the loads and the free. Without this, GCC
 * and Clang may prove a block unobservable and delete the allocation; the
 * bench_alloc_count test and the disassembly test check the calls survive. */
static inline void bench_keep_observable(unsigned char *block)
{
    __asm__ volatile("" : : "r"(block) : "memory");
}

#if defined(BENCH_PATH_SUFFIX)
/* Allocates `size` bytes filled with the byte 1 from this object's
 * allocator; NULL when out of memory. */
static inline unsigned char *bench_block_new(size_t size)
{
    unsigned char *block = bench_path_malloc(size);
    if (block != NULL) {
        memset(block, 1, size);
        bench_keep_observable(block);
    }
    return block;
}

/* Reads byte 0 of a block from bench_block_new (so it returns 1), then
 * frees the block. */
static inline unsigned bench_block_free(unsigned char *block)
{
    bench_keep_observable(block);
    unsigned value = block[0];
    bench_path_free(block);
    return value;
}

/* Frees a block from bench_block_new without reading it. */
static inline void bench_block_drop(unsigned char *block)
{
    bench_path_free(block);
}
#endif

#endif
