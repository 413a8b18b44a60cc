/*
 * bench.c - the allocation workload; see bench.h for what it measures.
 */
#include "bench.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The workers look at the cancel flags once every this many iterations, so
 * a cancelled run stops within microseconds but the check costs nothing
 * measurable next to a malloc/free pair. */
#define BENCH_CANCEL_CHECK_INTERVAL 1024u

/* The loop needs only a few hundred bytes of stack; a small explicit stack
 * keeps 256 threads cheap whatever the libc's default is. */
#define BENCH_WORKER_STACK_SIZE (64u * 1024u)

#define BENCH_MAX_BLOCK    1000u
#define BENCH_PROBE_OFFSET 100u

struct bench_run_state {
    unsigned iterations;
    const atomic_bool *cancel; /* the caller's flag, may be NULL */
    atomic_bool abort;         /* set by bench_run when spawning fails */
};

struct bench_worker {
    pthread_t thread;
    struct bench_run_state *run;
    uint64_t counter;
    bool alloc_failed;
    bool stopped_early;
};

/* Tells the compiler the block escapes and memory may be read, so it must
 * keep the malloc, the memset, the load of byte 100 and the free. Without
 * this, GCC and Clang may prove the block unobservable and delete the
 * allocation; the bench_alloc_count test checks the calls survive. */
static inline void keep_block_observable(unsigned char *block)
{
    __asm__ volatile("" : : "r"(block) : "memory");
}

static bool should_stop(struct bench_run_state *run)
{
    if (atomic_load_explicit(&run->abort, memory_order_relaxed)) {
        return true;
    }
    return run->cancel != NULL && atomic_load_explicit(run->cancel, memory_order_relaxed);
}

static void *bench_worker_main(void *arg)
{
    struct bench_worker *worker = arg;
    struct bench_run_state *run = worker->run;
    uint64_t counter = 0;
    for (unsigned i = 0; i < run->iterations; i++) {
        if (i % BENCH_CANCEL_CHECK_INTERVAL == 0 && should_stop(run)) {
            worker->stopped_early = true;
            break;
        }
        size_t size = (size_t)(counter % BENCH_MAX_BLOCK) + 1;
        unsigned char *block = malloc(size);
        if (block == NULL) {
            worker->alloc_failed = true;
            break;
        }
        memset(block, 1, size);
        keep_block_observable(block);
        counter += size > BENCH_PROBE_OFFSET ? block[BENCH_PROBE_OFFSET] : 1;
        free(block);
    }
    worker->counter = counter;
    return NULL;
}

static double elapsed_ms_between(const struct timespec *start, const struct timespec *end)
{
    return (double)(end->tv_sec - start->tv_sec) * 1e3 +
           (double)(end->tv_nsec - start->tv_nsec) / 1e6;
}

enum bench_status bench_run(const struct bench_params *params, const atomic_bool *cancel,
                            struct bench_result *result)
{
    struct bench_run_state run = {.iterations = params->iterations, .cancel = cancel};
    atomic_init(&run.abort, false);
    struct bench_worker *workers = calloc(params->threads, sizeof(*workers));
    if (workers == NULL) {
        return BENCH_ALLOC_FAILED;
    }
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        free(workers);
        return BENCH_THREAD_FAILED;
    }
    /* If the stack size is refused we still run, on the default stack. */
    (void)pthread_attr_setstacksize(&attr, BENCH_WORKER_STACK_SIZE);

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned started = 0;
    for (; started < params->threads; started++) {
        workers[started].run = &run;
        if (pthread_create(&workers[started].thread, &attr, bench_worker_main, &workers[started]) !=
            0) {
            atomic_store(&run.abort, true);
            break;
        }
    }
    uint64_t total = 0;
    bool alloc_failed = false;
    bool stopped_early = false;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        total += workers[i].counter;
        alloc_failed = alloc_failed || workers[i].alloc_failed;
        stopped_early = stopped_early || workers[i].stopped_early;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    pthread_attr_destroy(&attr);
    free(workers);

    if (started < params->threads) {
        return BENCH_THREAD_FAILED;
    }
    if (alloc_failed) {
        return BENCH_ALLOC_FAILED;
    }
    if (stopped_early) {
        return BENCH_CANCELLED;
    }
    double elapsed_ms = elapsed_ms_between(&start, &end);
    result->threads = params->threads;
    result->iterations = params->iterations;
    result->operations = (uint64_t)params->threads * params->iterations;
    result->total_counter = total;
    result->elapsed_ms = elapsed_ms;
    /* A run can finish inside one clock tick; report the rate as 0 rather
     * than divide by zero. */
    result->ops_per_sec = elapsed_ms > 0 ? (double)result->operations / (elapsed_ms / 1e3) : 0;
    return BENCH_OK;
}

const char *bench_status_message(enum bench_status status)
{
    switch (status) {
    case BENCH_OK:
        return "ok";
    case BENCH_CANCELLED:
        return "benchmark cancelled: the server is shutting down";
    case BENCH_THREAD_FAILED:
        return "could not start the benchmark threads";
    case BENCH_ALLOC_FAILED:
        return "memory allocation failed during the benchmark";
    }
    return "unknown benchmark status";
}
