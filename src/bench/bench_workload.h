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
#include "bench_latency.h"
#include "bench_memory.h"
#include "bench_syscalls.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    /* Bytes this thread's mallocs added minus what its frees took away
     * (negative when it frees other threads' blocks): the sum over the
     * threads is what the blocks hold now. Written by the thread, read by
     * the driver at each memory sample. Only workloads that say
     * tracks_live keep it. */
    atomic_llong live_bytes;
    /* The most bytes the blocks this thread held itself (not those in
     * another thread's hands) came to at once: exact for the thread, and a
     * lower bound of the run's live peak. Set when its work ends. */
    uint64_t held_peak;
    /* The sampled operations' durations: a record on the worker's own
     * stack, added to the run's when the worker ends, so that the driver's
     * per-worker bookkeeping stays small (it is allocated when memory may
     * already be short). */
    struct bench_latency *latency;
    struct bench_cpu cpu; /* read by the thread when its work ends */
    /* Counted from the thread's start to its exit, the allocator's
     * thread-exit work (mimalloc abandoning its heap) included. */
    struct bench_syscall_counts syscalls;
};

struct bench_workload_ops {
    const char *name;
    unsigned min_threads;
    bool tracks_live; /* keeps bench_thread.live_bytes */
    /* May be NULL. Returns false when out of memory. */
    bool (*setup)(struct bench_run *run);
    void (*work)(struct bench_thread *thread);
    /* May be NULL: needed only by workloads whose threads wait for each
     * other. `started` threads (indices 0 to started - 1) are running. */
    void (*spawn_failed)(struct bench_run *run, unsigned started);
    /* May be NULL when setup is. */
    void (*teardown)(struct bench_run *run);
};

/* How a path's allocator is asked to give memory back after a run
 * (bench_release.c, compiled per path). */
struct bench_release {
    const char *name;      /* what is called, e.g. "mi_collect(true)"; NULL: nothing */
    void (*release)(void); /* NULL when name is */
};

/* One set of operations per compiled allocator path. */
#define BENCH_DECLARE_PATH(path)                                                                   \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(seed, path);                         \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(xthread, path);                      \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(larson, path);                       \
    extern const struct bench_workload_ops BENCH_WORKLOAD_OPS(window, path);                       \
    extern const struct bench_release BENCH_RELEASE(path);
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

/* The workloads' random numbers: xorshift64, so a run is reproducible
 * from its seeds. `state` must not be 0. */
static inline uint64_t bench_xorshift64(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

/* The clock of the sampled operations: the same one as the run's. */
static inline uint64_t bench_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* Whether operation `i` of a thread is one of the timed ones. A fixed
 * stride rather than a random draw: it costs one test, and no workload
 * does anything periodic at this stride. */
static inline bool bench_latency_due(uint64_t i)
{
    return i % BENCH_LATENCY_EVERY == 0;
}

/* Records an operation that began at `began` (bench_now_ns). */
static inline void bench_latency_end(struct bench_thread *thread, uint64_t began)
{
    bench_latency_record(thread->latency, bench_now_ns() - began);
}

/* Adds `bytes` (negative: frees) to the thread's live figure. Only the
 * thread writes it, so a relaxed load and store suffice. */
static inline void bench_live_add(struct bench_thread *thread, long long bytes)
{
    long long now = atomic_load_explicit(&thread->live_bytes, memory_order_relaxed);
    atomic_store_explicit(&thread->live_bytes, now + bytes, memory_order_relaxed);
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

/* The stride of bench_block_new_paged's writes: no page size is smaller. */
#define BENCH_TOUCH_STRIDE 4096u

/* Allocates `size` bytes and writes the byte 1 at its start, at every
 * BENCH_TOUCH_STRIDE bytes and at its end, so each of its pages is resident
 * (and counts in the resident figures) without the cost of filling a few
 * hundred KiB. NULL when out of memory. */
static inline unsigned char *bench_block_new_paged(size_t size)
{
    unsigned char *block = bench_path_malloc(size);
    if (block != NULL) {
        for (size_t at = 0; at < size; at += BENCH_TOUCH_STRIDE) {
            block[at] = 1;
        }
        block[size - 1] = 1;
        bench_keep_observable(block);
    }
    return block;
}

/* Frees a block from bench_block_new without reading it. */
static inline void bench_block_drop(unsigned char *block)
{
    bench_path_free(block);
}
#endif

#endif
