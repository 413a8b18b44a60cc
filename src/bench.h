/*
 * bench.h - the threaded allocation workload, independent of HTTP.
 *
 * The workload is the published one this project reproduces: each thread
 * keeps a counter starting at 0; each iteration allocates counter % 1000 + 1
 * bytes, fills them with the byte 1, adds byte 100 of the block to the
 * counter (or 1 when the block is shorter than 101 bytes) and frees the
 * block. Every iteration therefore adds exactly 1, and the sum of the
 * counters must equal threads * iterations: a cheap end-to-end check that
 * every iteration ran. The clock starts before the threads are spawned and
 * stops after they are joined.
 *
 * The caller owns all memory; bench_run allocates only the per-thread
 * bookkeeping and, of course, the blocks the workload itself measures.
 */
#ifndef TINYSERVER_BENCH_H
#define TINYSERVER_BENCH_H

#include <stdatomic.h>
#include <stdint.h>

struct bench_params {
    unsigned threads;
    unsigned iterations; /* per thread */
};

struct bench_result {
    unsigned threads;
    unsigned iterations;
    uint64_t operations;    /* threads * iterations: one malloc/free pair each */
    uint64_t total_counter; /* sum of the per-thread counters */
    double elapsed_ms;
    double ops_per_sec;
};

enum bench_status {
    BENCH_OK = 0,
    BENCH_CANCELLED,     /* *cancel became true during the run */
    BENCH_THREAD_FAILED, /* a worker thread could not be created */
    BENCH_ALLOC_FAILED,  /* malloc returned NULL inside the workload */
};

/* Runs the workload. `cancel` may be NULL; when it points to a flag that
 * becomes true, the workers stop within a few thousand iterations and the
 * run reports BENCH_CANCELLED. On BENCH_OK *result is filled in. */
enum bench_status bench_run(const struct bench_params *params, const atomic_bool *cancel,
                            struct bench_result *result);

/* A short human-readable description of a status, for error bodies. */
const char *bench_status_message(enum bench_status status);

#endif
