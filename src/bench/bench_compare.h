/*
 * bench_compare.h - runs a validated benchmark request: one allocator, or
 * every allocator of the build in interleaved rounds (allocator=all), so
 * that a neighbour's burst of load falls on all of them alike.
 *
 * The caller owns the comparison; bench_compare allocates only what
 * bench_run does.
 */
#ifndef TINYSERVER_BENCH_COMPARE_H
#define TINYSERVER_BENCH_COMPARE_H

#include "bench.h"
#include "bench_params.h"

#include <stdatomic.h>
#include <stddef.h>

struct bench_comparison {
    size_t allocator_count; /* 1 unless the request asked for all */
    unsigned repeat;        /* rounds */
    enum bench_allocator allocators[BENCH_ALLOCATOR_COUNT];
    /* runs[round][i] is allocators[i]'s run in that round. */
    struct bench_result runs[BENCH_MAX_REPEAT][BENCH_ALLOCATOR_COUNT];
    /* Per allocator: the median rate over the rounds (the mean of the two
     * middle ones for an even count). */
    double median_ops_per_sec[BENCH_ALLOCATOR_COUNT];
    /* Per allocator, its runs in one: every figure is the median over the
     * rounds as ops_per_sec is, except the latency maximum (the largest)
     * and the memory and CPU figures' availability (unavailable if any
     * round's was). With one round, the run itself. */
    struct bench_result summary[BENCH_ALLOCATOR_COUNT];
    /* Index into allocators[] of musl, the baseline ratios are taken
     * against; allocator_count when the build or request has no musl. */
    size_t baseline;
};

/* Runs the request: round after round, each allocator once per round.
 * `stop` may be NULL; its flags stop whichever run is going, and its
 * max_ms caps the whole request, not each run: every run gets what the
 * runs before it left. The first run that does not finish (cancelled, cut
 * short, out of memory, no threads) ends the whole comparison with its
 * status; *failed_allocator then names the allocator that failed. On
 * BENCH_OK *out is complete. */
enum bench_status bench_compare(const struct bench_request *request, const struct bench_stop *stop,
                                struct bench_comparison *out,
                                enum bench_allocator *failed_allocator);

/* allocators[index]'s median rate over musl's; 0 without a baseline or
 * when musl's rate is 0. */
double bench_comparison_ratio(const struct bench_comparison *comparison, size_t index);

#endif
