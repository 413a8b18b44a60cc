/*
 * bench.h - the threaded allocation workloads, independent of HTTP.
 *
 * Three workloads, chosen by name:
 *
 * seed (the default) is the published one this project reproduces: each
 * thread keeps a counter starting at 0; each iteration allocates
 * counter % 1000 + 1 bytes, fills them with the byte 1, adds byte 100 of the
 * block to the counter (or 1 when the block is shorter than 101 bytes) and
 * frees the block. Every block is freed by the thread that allocated it.
 *
 * xthread (after mimalloc-bench's xmalloc-test) frees every block on
 * another thread: the first half of the threads (rounded up) produce, the
 * rest consume. Producers allocate blocks of 1 to 1000 bytes, fill them
 * with the byte 1 and hand them over in batches; consumers add byte 0 of
 * each block to their counter and free it. It needs at least 2 threads.
 *
 * larson (after Larson and Krishnan's server simulation) keeps long-lived
 * objects: each thread holds an array of slots and replaces a random one
 * per iteration (free the old block after adding its byte 0 to the
 * counter, allocate 1 to 1000 bytes filled with 1). Every 64 iterations it
 * trades its array for one another thread put down, so many blocks (about
 * 40% with two threads) are freed by a thread other than the one that
 * allocated them. At the end every block still held is freed and counted
 * too.
 *
 * window holds memory: each thread keeps a window of `slots` live blocks
 * whose sizes spread log-uniformly from min_block to max_block bytes (by
 * default 8 B to 256 KiB, past the sizes at which mimalloc 2.0.9 gives a
 * block a page of its own, 128 KiB, jemalloc 5.3 makes it a large extent,
 * 16 KiB, and musl maps it alone, about 128 KiB). It fills the window, then
 * replaces a random block per iteration, writing one byte in every 4 KiB of
 * each new block so that its pages are resident; every eighth block it
 * takes out goes to the next thread, which frees it. It reports the peak of
 * its live bytes, so the resident peak can be set against it.
 *
 * In every workload an operation is one malloc and its free, there are
 * exactly threads * iterations of them, and each adds exactly 1 to the
 * counters by reading the block: the sum of the counters, total_counter,
 * must equal operations. A cheap end-to-end check that every block was
 * allocated, written, read and freed. The clock starts before the threads
 * are spawned and stops after they are joined.
 *
 * The workloads can call one of several allocators (bench_alloc.h says
 * how): the process's global allocator, and in the default build also
 * musl's mallocng, a second, secure-mode mimalloc and jemalloc, so one
 * binary compares them under the same workload.
 *
 * The caller owns all memory; bench_run allocates only the per-run
 * bookkeeping and, of course, the blocks the workload itself measures.
 */
#ifndef TINYSERVER_BENCH_H
#define TINYSERVER_BENCH_H

#include "bench_latency.h"
#include "bench_memory.h"
#include "bench_syscalls.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_workload {
    BENCH_WORKLOAD_SEED = 0, /* the default: zero-initialised params get it */
    BENCH_WORKLOAD_XTHREAD,
    BENCH_WORKLOAD_LARSON,
    BENCH_WORKLOAD_WINDOW,
    BENCH_WORKLOAD_COUNT,
};

/* Which allocator the workload calls. Which of these a build has depends
 * on its global allocator; bench_allocator_name() says. */
enum bench_allocator {
    BENCH_ALLOCATOR_GLOBAL = 0, /* malloc/free: the default for zeroed params */
    BENCH_ALLOCATOR_MUSL,       /* musl's mallocng beside a mimalloc global */
    BENCH_ALLOCATOR_SECURE,     /* a second mimalloc, in secure mode */
    BENCH_ALLOCATOR_JEMALLOC,   /* jemalloc through its je_-prefixed functions */
    BENCH_ALLOCATOR_COUNT,
};

/* The window workload's shape; 0 in a field means its default. */
#define BENCH_WINDOW_DEFAULT_SLOTS     128u
#define BENCH_WINDOW_DEFAULT_MIN_BLOCK 8u
#define BENCH_WINDOW_DEFAULT_MAX_BLOCK (256u * 1024u)
#define BENCH_WINDOW_MAX_SLOTS         65536u
#define BENCH_WINDOW_MAX_BLOCK         (16u * 1024u * 1024u)
/* Blocks go to the next thread in batches this large; a thread has at most
 * two batches in flight (its outgoing batch and its inbox), which
 * bench_window_bound counts beside its slots. */
#define BENCH_WINDOW_BATCH_BLOCKS     32u
#define BENCH_WINDOW_IN_FLIGHT_BLOCKS (2u * BENCH_WINDOW_BATCH_BLOCKS)
struct bench_window {
    unsigned slots;     /* live blocks per thread, 1 to BENCH_WINDOW_MAX_SLOTS */
    unsigned min_block; /* bytes, 1 to max_block */
    unsigned max_block; /* bytes, up to BENCH_WINDOW_MAX_BLOCK */
};

/* The largest block any workload asks for (the window's limit). */
#define BENCH_LARGEST_BLOCK BENCH_WINDOW_MAX_BLOCK

/* One in this many operations of every workload is timed. */
#define BENCH_LATENCY_EVERY 64u

struct bench_params {
    enum bench_workload workload;
    unsigned threads;
    unsigned iterations; /* per thread */
    enum bench_allocator allocator;
    struct bench_window window; /* workload window only */
    /* Where resident memory is read; NULL: BENCH_MEMORY_DIR. Tests name a
     * directory without the files. */
    const char *memory_dir;
};

struct bench_result {
    enum bench_workload workload;
    enum bench_allocator allocator;
    unsigned threads;
    unsigned iterations;
    uint64_t operations;    /* threads * iterations: one malloc/free pair each */
    uint64_t total_counter; /* sum of the per-thread counters; equals operations */
    double elapsed_ms;
    double ops_per_sec;
    struct bench_window window;           /* as run (defaults filled in); window only */
    struct bench_latency_summary latency; /* 1 in BENCH_LATENCY_EVERY operations */
    struct bench_memory memory;
    /* The most bytes the workload's blocks held at once, read at the same
     * instants as the resident memory; 0 for workloads that do not track
     * it (all but window). */
    uint64_t live_peak;
    struct bench_cpu cpu;                 /* the worker threads' own */
    struct bench_syscall_counts syscalls; /* the worker threads' own */
    /* What asked the allocator to give memory back after the run, e.g.
     * "mi_collect(true)"; NULL when it has no such call (musl). */
    const char *release;
};

enum bench_status {
    BENCH_OK = 0,
    BENCH_CANCELLED,     /* a cancel flag became true during the run */
    BENCH_CUT_SHORT,     /* the run passed its wall-clock cap and was stopped */
    BENCH_THREAD_FAILED, /* a worker thread could not be created */
    BENCH_ALLOC_FAILED,  /* malloc returned NULL inside the workload */
    BENCH_BAD_PARAMS,    /* threads below the workload's minimum, or a window out of bounds */
};

/* The workload's name ("seed", "xthread", "larson", "window"), or NULL for a value
 * out of range. */
const char *bench_workload_name(enum bench_workload workload);

/* The fewest threads the workload runs with (xthread needs a producer and a
 * consumer). */
unsigned bench_workload_min_threads(enum bench_workload workload);

/* Looks a workload up by its exact name, `len` bytes that need not be
 * NUL-terminated. Returns false for anything else. */
bool bench_workload_find(const char *name, size_t len, enum bench_workload *out);

/* The name users give an allocator: "jemalloc", "mimalloc",
 * "mimalloc-secure" or "musl"; the global allocator is named after
 * -Dallocator. NULL when this
 * build does not have that allocator. */
const char *bench_allocator_name(enum bench_allocator allocator);

/* Looks an allocator up by its exact name (`len` bytes, not necessarily
 * NUL-terminated) among the ones this build has. */
bool bench_allocator_find(const char *name, size_t len, enum bench_allocator *out);

/* The allocators this build has, ordered by name; returns how many
 * (at most BENCH_ALLOCATOR_COUNT) were written to `out`. */
size_t bench_allocators(enum bench_allocator out[BENCH_ALLOCATOR_COUNT]);

/* How many cancel flags one run watches (the server's shutdown flag and
 * the request's "client went away" flag). */
#define BENCH_CANCEL_FLAGS 2

/* What may stop a run before it is done. */
struct bench_stop {
    /* NULL entries are ignored. When any flag becomes true, the workers
     * stop within a few thousand iterations, free what they hold and the
     * run reports BENCH_CANCELLED. */
    const atomic_bool *cancel[BENCH_CANCEL_FLAGS];
    /* 0: no cap. Otherwise a run still going this many milliseconds after
     * it started is stopped the same way and reports BENCH_CUT_SHORT. */
    unsigned max_ms;
};

/* `window` with every 0 field replaced by its default. */
struct bench_window bench_window_resolved(struct bench_window window);

/* True when a resolved window is within its bounds (slots 1 to
 * BENCH_WINDOW_MAX_SLOTS, 1 <= min_block <= max_block <=
 * BENCH_WINDOW_MAX_BLOCK). */
bool bench_window_valid(const struct bench_window *window);

/* The most bytes a window run's blocks can hold at once: threads x (slots
 * + BENCH_WINDOW_IN_FLIGHT_BLOCKS) x max_block. */
uint64_t bench_window_bound(const struct bench_window *window, unsigned threads);

/* Runs the workload. `stop` may be NULL (the run goes to its end). A run
 * that any thread left early is never reported as BENCH_OK: *result is
 * filled in only for a complete run. */
enum bench_status bench_run_until(const struct bench_params *params, const struct bench_stop *stop,
                                  struct bench_result *result);

/* bench_run_until() with one cancel flag (may be NULL) and no time cap. */
enum bench_status bench_run(const struct bench_params *params, const atomic_bool *cancel,
                            struct bench_result *result);

/* A short human-readable description of a status, for error bodies. */
const char *bench_status_message(enum bench_status status);

#endif
