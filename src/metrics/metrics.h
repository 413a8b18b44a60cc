/*
 * metrics.h - the counters behind GET /metrics, and recording them.
 *
 * Recording is lock-free (relaxed atomics) because it happens on every
 * request; only the last benchmark's labels, which are text, sit behind a
 * mutex taken once per benchmark. The exposition (app/metrics_exposition.h)
 * reads a consistent-enough view: Prometheus counters only ever grow, so a
 * scrape racing a request is off by at most that request.
 *
 * The metrics object is owned by main and passed to the HTTP and TLS
 * layers (which record requests and refusals) and the routes (which record
 * benchmarks).
 */
#ifndef TINYSERVER_METRICS_H
#define TINYSERVER_METRICS_H

#include "http_status.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Routes are counted by their index in the route table; requests that
 * matched no route share one extra slot, labelled "unmatched". */
#define METRICS_MAX_ROUTES 16

/* A slot per status in http_status.h's lists, plus one for "other". */
#define METRICS_STATUS_COUNT  (HTTP_SERVER_STATUS_COUNT + 1)
#define METRICS_REFUSAL_COUNT (HTTP_LIBRARY_STATUS_COUNT + 1)

/* The status each slot counts, in slot order ("other" has none). */
extern const unsigned metrics_status_codes[METRICS_STATUS_COUNT - 1];
extern const unsigned metrics_refusal_codes[METRICS_REFUSAL_COUNT - 1];

/* Request duration histogram bounds, in seconds (Prometheus "le"). */
#define METRICS_DURATION_BOUNDS                                                                    \
    {                                                                                              \
        0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0                         \
    }
#define METRICS_BUCKET_COUNT 11

enum metrics_bench_outcome {
    METRICS_BENCH_OK = 0,
    METRICS_BENCH_INVALID,       /* 400 */
    METRICS_BENCH_BUSY,          /* 429: every slot taken (refusal reason "busy") */
    METRICS_BENCH_CANCELLED,     /* 503: shutdown */
    METRICS_BENCH_FAILED,        /* 503: threads or memory */
    METRICS_BENCH_UNAUTHORIZED,  /* 400/401: token missing or wrong (reason "token") */
    METRICS_BENCH_RATE_LIMITED,  /* 429: over --bench-rate (reason "rate") */
    METRICS_BENCH_OVER_BUDGET,   /* 400: over --max-bench-operations (reason "budget") */
    METRICS_BENCH_CUT_SHORT,     /* 503: stopped at --max-bench-seconds */
    METRICS_BENCH_CLIENT_CLOSED, /* the client left; the run stopped */
    METRICS_BENCH_OUTCOME_COUNT,
};

/* Why a connection was refused before it could be served normally. */
enum metrics_connection_refusal {
    METRICS_REFUSED_PER_ADDRESS = 0, /* --max-connections-per-ip: answered 503 */
    METRICS_REFUSED_TLS_LIMIT,       /* --max-tls-connections: closed before the handshake */
    METRICS_CONNECTION_REFUSAL_COUNT,
};

/* Threads that give memory back after a burst (alloc_trim.h). */
enum metrics_trim_thread {
    METRICS_TRIM_HTTP_WORKER = 0, /* a libmicrohttpd worker */
    METRICS_TRIM_TLS_LISTENER,    /* the TLS listener, which allocates the relays */
    METRICS_TRIM_THREAD_COUNT,
};

struct metrics_route_counters {
    atomic_uint_fast64_t by_status[METRICS_STATUS_COUNT];
    atomic_uint_fast64_t buckets[METRICS_BUCKET_COUNT]; /* not cumulative */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t duration_sum_us;
};

/* The calls a benchmark run counts, in the order of
 * metrics_bench_figures.syscalls. */
enum metrics_bench_syscall {
    METRICS_SYSCALL_MMAP = 0,
    METRICS_SYSCALL_MUNMAP,
    METRICS_SYSCALL_MADVISE,
    METRICS_SYSCALL_MPROTECT,
    METRICS_SYSCALL_COUNT,
};

/* What /metrics keeps of one allocator's run (the routes fill it from the
 * bench result, so this module does not depend on the benchmark's). */
struct metrics_bench_figures {
    double ops_per_sec;
    uint64_t latency_p50_ns;
    uint64_t latency_p99_ns;
    uint64_t latency_max_ns;
    bool memory_known; /* false: the memory samples are left out */
    uint64_t peak_bytes;
    int64_t retained_bytes;
    int64_t retained_released_bytes;
    uint64_t syscalls[METRICS_SYSCALL_COUNT];
};

/* Allocators a build can benchmark (bench.h has three). */
#define METRICS_MAX_BENCH_ALLOCATORS 4

struct metrics {
    const char *route_names[METRICS_MAX_ROUTES + 1];
    size_t route_count;
    struct metrics_route_counters routes[METRICS_MAX_ROUTES + 1];
    atomic_uint_fast64_t refusals[METRICS_REFUSAL_COUNT];
    atomic_uint_fast64_t connection_refusals[METRICS_CONNECTION_REFUSAL_COUNT];
    atomic_uint_fast64_t bench_outcomes[METRICS_BENCH_OUTCOME_COUNT];
    atomic_uint_fast64_t allocator_trims[METRICS_TRIM_THREAD_COUNT];
    pthread_mutex_t last_bench_lock;
    /* The last successful run per allocator, in the order first seen. */
    struct metrics_last_bench {
        char allocator[32];
        char workload[32];
        unsigned threads;
        unsigned iterations;
        struct metrics_bench_figures figures;
    } last_bench[METRICS_MAX_BENCH_ALLOCATORS];
    size_t last_bench_count;
};

/* `route_names` are the route paths in table order; count at most
 * METRICS_MAX_ROUTES. Returns false if pthread_mutex_init fails. */
bool metrics_init(struct metrics *metrics, const char *const *route_names, size_t count);
void metrics_destroy(struct metrics *metrics);

/* route_index is the route's table index, or -1 for an unmatched path. */
void metrics_record_request(struct metrics *metrics, int route_index, unsigned status,
                            uint64_t duration_us);

/* A request libmicrohttpd answered itself with `status`; it never reached
 * a route, so it is counted apart from metrics_record_request(). */
void metrics_record_refusal(struct metrics *metrics, unsigned status);

/* A connection refused at a connection limit, counted by reason. */
void metrics_record_connection_refusal(struct metrics *metrics,
                                       enum metrics_connection_refusal reason);

void metrics_record_bench(struct metrics *metrics, enum metrics_bench_outcome outcome);

/* A thread of that kind gave its freed memory back (alloc_trim_thread). */
void metrics_record_allocator_trim(struct metrics *metrics, enum metrics_trim_thread thread);

/* Keeps the figures as the allocator's last run; a fifth allocator's
 * figures are dropped (the build has at most four). */
void metrics_record_bench_result(struct metrics *metrics, const char *allocator,
                                 const char *workload, unsigned threads, unsigned iterations,
                                 const struct metrics_bench_figures *figures);

#endif
