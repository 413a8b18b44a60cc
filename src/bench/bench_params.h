/*
 * bench_params.h - turns untrusted text (a query string's pairs, or the
 * --bench command line) into validated struct bench_params.
 *
 * One validator serves GET /bench and --bench, so both accept and reject
 * exactly the same input. It never allocates and never reads past the
 * pairs it is given, which makes it a good fuzzing target.
 */
#ifndef TINYSERVER_BENCH_PARAMS_H
#define TINYSERVER_BENCH_PARAMS_H

#include "bench.h"
#include "params.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_limits {
    unsigned max_threads;
    unsigned max_iterations;
    uint64_t max_operations; /* threads x iterations; 0 means no limit */
    /* Bytes one window run may hold at most (bench_window_bound); 0 means
     * no limit. */
    uint64_t max_memory;
    unsigned default_threads; /* already clamped to [1, max_threads] */
    unsigned default_iterations;
};

#define BENCH_DEFAULT_ITERATIONS 100000u
/* The window workload's default: its operations touch up to 64 pages each,
 * and musl maps and unmaps its large blocks, so the general default would
 * keep an allocator=all request busy for half a minute. */
#define BENCH_WINDOW_DEFAULT_ITERATIONS 10000u
/* allocator=all runs every allocator this many rounds at most, interleaved. */
#define BENCH_MAX_REPEAT 10u
/* The allocator value that asks for every allocator in the build. */
#define BENCH_ALL_ALLOCATORS "all"

/* A validated benchmark request: one run, or with all_allocators one run
 * per allocator (bench_allocators() order) in each of `repeat` rounds, all
 * with the same params apart from the allocator. */
struct bench_request {
    struct bench_params params; /* params.allocator: the default is the global one */
    bool all_allocators;
    unsigned repeat; /* 1 unless all_allocators */
};

/* Why input was rejected: a message for humans and the parameter it names
 * (NULL when the problem is not about one parameter). Both point to static
 * storage or into the input pairs. */
struct bench_params_error {
    char message[192];
    const char *parameter;
    bool over_budget; /* over max_operations or max_memory */
};

/* Validates the pairs against the limits. threads, iterations, repeat
 * (1 to BENCH_MAX_REPEAT), and for workload=window only slots (1 to
 * BENCH_WINDOW_MAX_SLOTS), min_block and max_block (bytes, 1 to
 * BENCH_WINDOW_MAX_BLOCK, min_block <= max_block): rejects missing or empty values, anything but
 * plain decimal digits (signs, spaces, fractions, exponents, hex), overflow
 * and out-of-range values. workload: one of the names bench.h defines,
 * exactly. allocator: one of the names this build has (bench.h) or "all".
 * repeat above 1 needs allocator=all. Also rejects unknown and repeated
 * keys. Missing keys take the defaults (workload seed, the global
 * allocator, repeat 1); when the workload needs more threads than the
 * default, the default is raised to its minimum, while an explicit threads
 * value below it is rejected naming threads. workload=window defaults to
 * BENCH_WINDOW_DEFAULT_ITERATIONS (or the default, if lower), and to
 * BENCH_WINDOW_DEFAULT_SLOTS or as many slots as max_memory allows; its
 * bench_window_bound must not exceed max_memory (when set), else the error
 * names --max-bench-memory and sets over_budget. Finally the request's work,
 * threads x iterations for each of its runs (allocator=all: one per
 * allocator and round), must not exceed max_operations (when set); over
 * it, the error says the limit and sets over_budget. Returns true and
 * fills *out on success. */
bool bench_params_parse(const struct param_pair *pairs, size_t count,
                        const struct bench_limits *limits, struct bench_request *out,
                        struct bench_params_error *error);

#endif
