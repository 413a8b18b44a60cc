/*
 * bench.c - runs a workload: the table of workloads, the threads, the clock
 * and the result. What each thread does lives in bench_<workload>.c; see
 * bench.h for what they measure and bench_workload.h for the contract.
 */
#include "bench.h"

#include "bench_workload.h"
#include "clock.h"
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The loops need only a few hundred bytes of stack; a small explicit stack
 * keeps 256 threads cheap whatever the libc's default is. */
#define BENCH_WORKER_STACK_SIZE (64u * 1024u)

/* How the driver learns that the workers are done, so that it can wait
 * for them with a time cap (pthread_join has none). */
struct bench_finish {
    pthread_mutex_t lock;
    pthread_cond_t all_done; /* signalled each time a worker ends */
    unsigned done;           /* workers that have ended, under lock */
};

/* The driver's view of a worker: its thread id beside what it works on. */
struct bench_worker {
    pthread_t id;
    struct bench_thread thread;
    struct bench_finish *finish;
};

/* One row per compiled allocator path; see bench_alloc.h. */
#define BENCH_PATH_ROW(path)                                                                       \
    {                                                                                              \
        [BENCH_WORKLOAD_SEED] = &BENCH_WORKLOAD_OPS(seed, path),                                   \
        [BENCH_WORKLOAD_XTHREAD] = &BENCH_WORKLOAD_OPS(xthread, path),                             \
        [BENCH_WORKLOAD_LARSON] = &BENCH_WORKLOAD_OPS(larson, path),                               \
    }

static const struct bench_workload_ops
    *const bench_workloads[BENCH_ALLOCATOR_COUNT][BENCH_WORKLOAD_COUNT] = {
        [BENCH_ALLOCATOR_GLOBAL] = BENCH_PATH_ROW(global),
#if defined(TINYSERVER_BENCH_MUSL)
        [BENCH_ALLOCATOR_MUSL] = BENCH_PATH_ROW(musl),
#endif
#if defined(TINYSERVER_BENCH_SECURE)
        [BENCH_ALLOCATOR_SECURE] = BENCH_PATH_ROW(secure),
#endif
#if defined(TINYSERVER_BENCH_JEMALLOC)
        [BENCH_ALLOCATOR_JEMALLOC] = BENCH_PATH_ROW(jemalloc),
#endif
};

/* What users call each path; the global one is named after -Dallocator. */
static const char *const bench_allocator_names[BENCH_ALLOCATOR_COUNT] = {
    [BENCH_ALLOCATOR_GLOBAL] = TINYSERVER_ALLOCATOR_OPTION,
    [BENCH_ALLOCATOR_MUSL] = "musl",
    [BENCH_ALLOCATOR_SECURE] = "mimalloc-secure",
    [BENCH_ALLOCATOR_JEMALLOC] = "jemalloc",
};

static const struct bench_workload_ops *find_ops(enum bench_allocator allocator,
                                                 enum bench_workload workload)
{
    if ((unsigned)allocator >= BENCH_ALLOCATOR_COUNT ||
        (unsigned)workload >= BENCH_WORKLOAD_COUNT) {
        return NULL;
    }
    return bench_workloads[allocator][workload];
}

static const struct bench_workload_ops *workload_ops(enum bench_workload workload)
{
    return find_ops(BENCH_ALLOCATOR_GLOBAL, workload);
}

const char *bench_workload_name(enum bench_workload workload)
{
    const struct bench_workload_ops *ops = workload_ops(workload);
    return ops != NULL ? ops->name : NULL;
}

const char *bench_allocator_name(enum bench_allocator allocator)
{
    return find_ops(allocator, BENCH_WORKLOAD_SEED) != NULL ? bench_allocator_names[allocator]
                                                            : NULL;
}

bool bench_allocator_find(const char *name, size_t len, enum bench_allocator *out)
{
    for (unsigned id = 0; id < BENCH_ALLOCATOR_COUNT; id++) {
        const char *candidate = bench_allocator_name((enum bench_allocator)id);
        if (candidate != NULL && strlen(candidate) == len && memcmp(candidate, name, len) == 0) {
            *out = (enum bench_allocator)id;
            return true;
        }
    }
    return false;
}

size_t bench_allocators(enum bench_allocator out[BENCH_ALLOCATOR_COUNT])
{
    size_t count = 0;
    for (unsigned id = 0; id < BENCH_ALLOCATOR_COUNT; id++) {
        if (bench_allocator_name((enum bench_allocator)id) == NULL) {
            continue;
        }
        /* Insertion by name: a handful of entries. */
        size_t at = count;
        while (at > 0 &&
               strcmp(bench_allocator_names[out[at - 1]], bench_allocator_names[id]) > 0) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = (enum bench_allocator)id;
        count++;
    }
    return count;
}

unsigned bench_workload_min_threads(enum bench_workload workload)
{
    const struct bench_workload_ops *ops = workload_ops(workload);
    return ops != NULL ? ops->min_threads : 1;
}

bool bench_workload_find(const char *name, size_t len, enum bench_workload *out)
{
    for (unsigned id = 0; id < BENCH_WORKLOAD_COUNT; id++) {
        const char *candidate = bench_workload_name((enum bench_workload)id);
        if (strlen(candidate) == len && memcmp(candidate, name, len) == 0) {
            *out = (enum bench_workload)id;
            return true;
        }
    }
    return false;
}

bool bench_should_stop(const struct bench_run *run)
{
    if (atomic_load_explicit(&run->abort, memory_order_relaxed)) {
        return true;
    }
    for (size_t i = 0; i < BENCH_CANCEL_FLAGS; i++) {
        if (run->cancel[i] != NULL && atomic_load_explicit(run->cancel[i], memory_order_relaxed)) {
            return true;
        }
    }
    return false;
}

static void *bench_thread_main(void *arg)
{
    struct bench_worker *worker = arg;
    struct bench_thread *thread = &worker->thread;
    const struct bench_params *params = thread->run->params;
    find_ops(params->allocator, params->workload)->work(thread);
    struct bench_finish *finish = worker->finish;
    pthread_mutex_lock(&finish->lock);
    finish->done++;
    pthread_cond_signal(&finish->all_done);
    pthread_mutex_unlock(&finish->lock);
    return NULL;
}

static bool finish_init(struct bench_finish *finish)
{
    finish->done = 0;
    return threads_monotonic_cond_init(&finish->all_done, &finish->lock);
}

static void finish_destroy(struct bench_finish *finish)
{
    pthread_cond_destroy(&finish->all_done);
    pthread_mutex_destroy(&finish->lock);
}

/* Waits until `started` workers are done or max_ms have passed since
 * `start`; in the second case aborts the run and returns true. The workers
 * see the abort at their next stop check, so the joins that follow are
 * short. */
static bool wait_or_cut_short(struct bench_finish *finish, struct bench_run *run, unsigned started,
                              const struct timespec *start, unsigned max_ms)
{
    struct timespec deadline = clock_monotonic_after(start, (uint64_t)max_ms * CLOCK_NS_PER_MS);
    bool timed_out = false;
    pthread_mutex_lock(&finish->lock);
    while (finish->done < started && !timed_out) {
        timed_out =
            pthread_cond_timedwait(&finish->all_done, &finish->lock, &deadline) == ETIMEDOUT &&
            finish->done < started;
    }
    pthread_mutex_unlock(&finish->lock);
    if (timed_out) {
        atomic_store(&run->abort, true);
    }
    return timed_out;
}

static double elapsed_ms_between(const struct timespec *start, const struct timespec *end)
{
    return (double)(end->tv_sec - start->tv_sec) * 1e3 +
           (double)(end->tv_nsec - start->tv_nsec) / 1e6;
}

/* Starts the threads; returns how many started. When one cannot be created,
 * the run is aborted and the workload told, so none waits for it. */
static unsigned spawn_threads(const struct bench_workload_ops *ops, struct bench_run *run,
                              struct bench_worker *workers)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) {
        return 0;
    }
    /* If the stack size is refused we still run, on the default stack. */
    (void)pthread_attr_setstacksize(&attr, BENCH_WORKER_STACK_SIZE);
    unsigned started = 0;
    for (; started < run->params->threads; started++) {
        struct bench_worker *worker = &workers[started];
        worker->thread.run = run;
        worker->thread.index = started;
        if (pthread_create(&worker->id, &attr, bench_thread_main, worker) != 0) {
            break;
        }
    }
    pthread_attr_destroy(&attr);
    if (started < run->params->threads) {
        atomic_store(&run->abort, true);
        if (ops->spawn_failed != NULL) {
            ops->spawn_failed(run, started);
        }
    }
    return started;
}

/* The caller's side of a run: its parameters and what may stop it. */
static void run_init(struct bench_run *run, const struct bench_params *params,
                     const struct bench_stop *stop)
{
    memset(run, 0, sizeof(*run));
    run->params = params;
    for (size_t i = 0; stop != NULL && i < BENCH_CANCEL_FLAGS; i++) {
        run->cancel[i] = stop->cancel[i];
    }
    atomic_init(&run->abort, false);
}

enum bench_status bench_run(const struct bench_params *params, const atomic_bool *cancel,
                            struct bench_result *result)
{
    struct bench_stop stop = {.cancel = {cancel, NULL}, .max_ms = 0};
    return bench_run_until(params, &stop, result);
}

enum bench_status bench_run_until(const struct bench_params *params, const struct bench_stop *stop,
                                  struct bench_result *result)
{
    const struct bench_workload_ops *ops = find_ops(params->allocator, params->workload);
    if (ops == NULL || params->threads < ops->min_threads) {
        return BENCH_BAD_PARAMS;
    }
    struct bench_run run;
    run_init(&run, params, stop);
    struct bench_finish finish;
    if (!finish_init(&finish)) {
        return BENCH_THREAD_FAILED;
    }
    struct bench_worker *workers = calloc(params->threads, sizeof(*workers));
    if (workers == NULL || (ops->setup != NULL && !ops->setup(&run))) {
        free(workers);
        finish_destroy(&finish);
        return BENCH_ALLOC_FAILED;
    }
    for (unsigned i = 0; i < params->threads; i++) {
        workers[i].finish = &finish;
    }

    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    unsigned started = spawn_threads(ops, &run, workers);
    bool cut_short = stop != NULL && stop->max_ms != 0 &&
                     wait_or_cut_short(&finish, &run, started, &start, stop->max_ms);
    uint64_t total = 0;
    bool alloc_failed = false;
    bool stopped_early = false;
    for (unsigned i = 0; i < started; i++) {
        pthread_join(workers[i].id, NULL);
        total += workers[i].thread.counter;
        alloc_failed = alloc_failed || workers[i].thread.alloc_failed;
        stopped_early = stopped_early || workers[i].thread.stopped_early;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    if (ops->teardown != NULL) {
        ops->teardown(&run);
    }
    free(workers);
    finish_destroy(&finish);

    if (started < params->threads) {
        return BENCH_THREAD_FAILED;
    }
    if (alloc_failed) {
        return BENCH_ALLOC_FAILED;
    }
    if (stopped_early) {
        return cut_short ? BENCH_CUT_SHORT : BENCH_CANCELLED;
    }
    double elapsed_ms = elapsed_ms_between(&start, &end);
    result->workload = params->workload;
    result->allocator = params->allocator;
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
    case BENCH_CUT_SHORT:
        return "benchmark cut short: the run reached the server's time limit "
               "(--max-bench-seconds) and a partial run gives no result; ask for fewer threads or "
               "iterations";
    case BENCH_THREAD_FAILED:
        return "could not start the benchmark threads";
    case BENCH_ALLOC_FAILED:
        return "memory allocation failed during the benchmark";
    case BENCH_BAD_PARAMS:
        return "invalid benchmark parameters";
    }
    return "unknown benchmark status";
}
