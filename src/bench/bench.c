/*
 * bench.c - runs a workload: the table of workloads, the threads, the clock
 * and the result. What each thread does lives in bench_<workload>.c; see
 * bench.h for what they measure and bench_workload.h for the contract.
 */
#include "bench.h"

#include "bench_workload.h"
#include "cold.h"
#include "clock.h"
#include "threads.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The loops need only a few hundred bytes of stack; a small explicit stack
 * keeps 256 threads cheap whatever the libc's default is. */
#define BENCH_WORKER_STACK_SIZE (64u * 1024u)

/* How often the driver reads resident memory while the workers run. A
 * peak shorter than this can fall between two readings; the workloads
 * that hold memory hold it for many periods. */
#define BENCH_MEMORY_SAMPLE_NS (1u * CLOCK_NS_PER_MS)

/* How the driver learns that the workers are done, so that it can wait
 * for them with a time cap (pthread_join has none). */
struct bench_finish {
    pthread_mutex_t lock;
    pthread_cond_t all_done;      /* signalled each time a worker ends */
    unsigned done;                /* workers that have ended, under lock */
    struct bench_latency latency; /* the ended workers' records, merged under lock */
};

/* The driver's view of a worker: its thread id beside what it works on. */
struct bench_worker {
    pthread_t id;
    struct bench_thread thread;
    struct bench_finish *finish;
};

/* One row per compiled allocator path (see bench_alloc.h): its copy of
 * each workload and how it gives memory back. */
struct bench_path {
    const struct bench_workload_ops *workloads[BENCH_WORKLOAD_COUNT];
    const struct bench_release *release;
};

#define BENCH_PATH_ROW(path)                                                                       \
    {                                                                                              \
        .workloads =                                                                               \
            {                                                                                      \
                [BENCH_WORKLOAD_SEED] = &BENCH_WORKLOAD_OPS(seed, path),                           \
                [BENCH_WORKLOAD_XTHREAD] = &BENCH_WORKLOAD_OPS(xthread, path),                     \
                [BENCH_WORKLOAD_LARSON] = &BENCH_WORKLOAD_OPS(larson, path),                       \
                [BENCH_WORKLOAD_WINDOW] = &BENCH_WORKLOAD_OPS(window, path),                       \
            },                                                                                     \
        .release = &BENCH_RELEASE(path),                                                           \
    }

static const struct bench_path bench_paths[BENCH_ALLOCATOR_COUNT] = {
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
    return bench_paths[allocator].workloads[workload];
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
    /* Left on to the thread's exit, so that the allocator's thread-exit
     * work counts too; the driver reads the counts after the join. */
    bench_syscalls_count_into(&thread->syscalls);
    struct bench_latency latency;
    memset(&latency, 0, sizeof(latency));
    thread->latency = &latency;
    find_ops(params->allocator, params->workload)->work(thread);
    thread->latency = NULL;
    bench_cpu_of_thread(&thread->cpu);
    struct bench_finish *finish = worker->finish;
    pthread_mutex_lock(&finish->lock);
    bench_latency_merge(&finish->latency, &latency);
    finish->done++;
    pthread_cond_signal(&finish->all_done);
    pthread_mutex_unlock(&finish->lock);
    return NULL;
}

static bool finish_init(struct bench_finish *finish)
{
    finish->done = 0;
    memset(&finish->latency, 0, sizeof(finish->latency));
    return threads_monotonic_cond_init(&finish->all_done, &finish->lock);
}

static void finish_destroy(struct bench_finish *finish)
{
    pthread_cond_destroy(&finish->all_done);
    pthread_mutex_destroy(&finish->lock);
}

/* The resident memory and live bytes over a run, read by the driver
 * while it waits for the workers. */
struct bench_sampler {
    struct bench_memory_reader reader;
    struct bench_memory memory;
    const struct bench_worker *workers; /* whose live bytes are summed */
    unsigned started;
    bool tracks_live;
    uint64_t live_peak;
    bool high_water_known; /* VmHWM could be read at the start */
    uint64_t high_water_start;
};

COLD static void sampler_start(struct bench_sampler *sampler, const struct bench_params *params,
                               bool tracks_live)
{
    memset(sampler, 0, sizeof(*sampler));
    bench_memory_open(&sampler->reader,
                      params->memory_dir != NULL ? params->memory_dir : BENCH_MEMORY_DIR);
    sampler->tracks_live = tracks_live;
    sampler->memory.known = bench_memory_resident(&sampler->reader, &sampler->memory.start);
    sampler->high_water_known =
        bench_memory_high_water(&sampler->reader, &sampler->high_water_start);
}

/* One reading of resident memory (and of the workers' live bytes). A read
 * that fails makes the run's memory figures unavailable. */
static void sampler_read(struct bench_sampler *sampler)
{
    struct bench_memory *memory = &sampler->memory;
    uint64_t resident;
    if (memory->known && bench_memory_resident(&sampler->reader, &resident)) {
        memory->samples++;
        if (resident > memory->start && resident - memory->start > memory->peak) {
            memory->peak = resident - memory->start;
        }
    }
    if (sampler->tracks_live) {
        long long live = 0;
        for (unsigned i = 0; i < sampler->started; i++) {
            live +=
                atomic_load_explicit(&sampler->workers[i].thread.live_bytes, memory_order_relaxed);
        }
        if (live > 0 && (uint64_t)live > sampler->live_peak) {
            sampler->live_peak = (uint64_t)live;
        }
    }
}

/* The run is over (its workers joined): the last sample, and VmHWM, which
 * gives the exact peak when the run raised it. Then the workers' own
 * peaks of what they held, each a lower bound of the run's live peak. */
COLD static void sampler_end(struct bench_sampler *sampler)
{
    sampler_read(sampler);
    struct bench_memory *memory = &sampler->memory;
    uint64_t high_water;
    if (memory->known && sampler->high_water_known &&
        bench_memory_high_water(&sampler->reader, &high_water) &&
        high_water > sampler->high_water_start && high_water > memory->start) {
        uint64_t peak = high_water - memory->start;
        memory->peak = peak > memory->peak ? peak : memory->peak;
        memory->peak_exact = true;
    }
    for (unsigned i = 0; sampler->tracks_live && i < sampler->started; i++) {
        uint64_t held = sampler->workers[i].thread.held_peak;
        sampler->live_peak = held > sampler->live_peak ? held : sampler->live_peak;
    }
}

/* Resident memory now, minus the start; false when unreadable. */
COLD static bool sampler_delta(struct bench_sampler *sampler, int64_t *delta)
{
    uint64_t resident;
    if (!sampler->memory.known || !bench_memory_resident(&sampler->reader, &resident)) {
        return false;
    }
    *delta = (int64_t)resident - (int64_t)sampler->memory.start;
    return true;
}

/* The memory figures are known only if every read worked. */
COLD static void sampler_finish(struct bench_sampler *sampler)
{
    if (sampler->reader.error != 0) {
        sampler->memory.known = false;
        sampler->memory.error = sampler->reader.error;
    }
    bench_memory_close(&sampler->reader);
}

/* Waits until `started` workers are done, reading memory every
 * BENCH_MEMORY_SAMPLE_NS, or until max_ms (0: no cap) have passed since
 * `start_ns`; in the second case aborts the run and returns true. The
 * workers see the abort at their next stop check, so the joins that follow
 * are short. */
static bool wait_sampling(struct bench_finish *finish, struct bench_run *run, unsigned started,
                          uint64_t start_ns, unsigned max_ms, struct bench_sampler *sampler)
{
    uint64_t deadline_ns = start_ns + (uint64_t)max_ms * CLOCK_NS_PER_MS;
    bool timed_out = false;
    pthread_mutex_lock(&finish->lock);
    while (finish->done < started && !timed_out) {
        uint64_t step_ns = BENCH_MEMORY_SAMPLE_NS;
        if (max_ms != 0) {
            uint64_t now_ns = clock_monotonic_ns();
            timed_out = now_ns >= deadline_ns;
            step_ns = timed_out || deadline_ns - now_ns > step_ns ? step_ns : deadline_ns - now_ns;
        }
        if (timed_out) {
            break;
        }
        struct timespec wake = clock_monotonic_after(NULL, step_ns);
        pthread_cond_timedwait(&finish->all_done, &finish->lock, &wake);
        if (finish->done < started) {
            /* Read outside the lock: a worker that ends meanwhile must not
             * wait for /proc. */
            pthread_mutex_unlock(&finish->lock);
            sampler_read(sampler);
            pthread_mutex_lock(&finish->lock);
        }
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

/* What a run that ended this way reports. */
COLD static enum bench_status run_outcome(unsigned started, unsigned threads, bool alloc_failed,
                                          bool stopped_early, bool cut_short)
{
    if (started < threads) {
        return BENCH_THREAD_FAILED;
    }
    if (alloc_failed) {
        return BENCH_ALLOC_FAILED;
    }
    if (stopped_early) {
        return cut_short ? BENCH_CUT_SHORT : BENCH_CANCELLED;
    }
    return BENCH_OK;
}

/* Resident memory after the run, then after the allocator's release
 * call. A reading that fails leaves its errno in the reader, and
 * sampler_finish makes the figures unavailable. */
COLD static void measure_release(struct bench_sampler *sampler, const struct bench_release *release,
                                 struct bench_memory *memory)
{
    (void)sampler_delta(sampler, &memory->retained);
    /* What the teardown left resident was resident during the run too: the
     * peak is never below it. */
    if (memory->retained > 0 && (uint64_t)memory->retained > sampler->memory.peak) {
        sampler->memory.peak = (uint64_t)memory->retained;
    }
    if (release->release != NULL) {
        release->release();
    }
    (void)sampler_delta(sampler, &memory->retained_released);
}

/* Sums what the workers measured into the result. */
COLD static void collect_workers(const struct bench_worker *workers, unsigned count,
                                 const struct bench_finish *finish, struct bench_result *result)
{
    result->cpu = (struct bench_cpu){.known = true};
    result->syscalls = (struct bench_syscall_counts){0};
    for (unsigned i = 0; i < count; i++) {
        bench_cpu_add(&result->cpu, &workers[i].thread.cpu);
        bench_syscalls_add(&result->syscalls, &workers[i].thread.syscalls);
    }
    bench_latency_summarise(&finish->latency, &result->latency);
}

enum bench_status bench_run_until(const struct bench_params *params, const struct bench_stop *stop,
                                  struct bench_result *result)
{
    const struct bench_workload_ops *ops = find_ops(params->allocator, params->workload);
    if (ops == NULL || params->threads < ops->min_threads) {
        return BENCH_BAD_PARAMS;
    }
    struct bench_window window = bench_window_resolved(params->window);
    if (params->workload == BENCH_WORKLOAD_WINDOW && !bench_window_valid(&window)) {
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
        atomic_init(&workers[i].thread.live_bytes, 0);
    }

    struct bench_sampler sampler;
    sampler_start(&sampler, params, ops->tracks_live);
    sampler.workers = workers;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint64_t start_ns = (uint64_t)start.tv_sec * CLOCK_NS_PER_S + (uint64_t)start.tv_nsec;
    unsigned started = spawn_threads(ops, &run, workers);
    sampler.started = started;
    unsigned max_ms = stop != NULL ? stop->max_ms : 0;
    bool cut_short = wait_sampling(&finish, &run, started, start_ns, max_ms, &sampler);
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
    sampler_end(&sampler);
    if (ops->teardown != NULL) {
        ops->teardown(&run);
    }
    enum bench_status status =
        run_outcome(started, params->threads, alloc_failed, stopped_early, cut_short);
    /* What a complete run reports; copied to *result only then. */
    struct bench_result measured = {0};
    const struct bench_release *release = bench_paths[params->allocator].release;
    if (status == BENCH_OK) {
        /* Only after a complete run: after a failed one, memory may be
         * short, and the release would take back even the pages the error
         * answer needs. */
        measure_release(&sampler, release, &measured.memory);
        collect_workers(workers, started, &finish, &measured);
    }
    sampler_finish(&sampler);
    free(workers);
    finish_destroy(&finish);
    if (status != BENCH_OK) {
        return status;
    }
    double elapsed_ms = elapsed_ms_between(&start, &end);
    int64_t retained = measured.memory.retained;
    int64_t released = measured.memory.retained_released;
    measured.memory = sampler.memory;
    measured.memory.retained = retained;
    measured.memory.retained_released = released;
    *result = measured;
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
    result->window = params->workload == BENCH_WORKLOAD_WINDOW ? window : (struct bench_window){0};
    result->live_peak = sampler.live_peak;
    result->release = release->name;
    return BENCH_OK;
}

struct bench_window bench_window_resolved(struct bench_window window)
{
    if (window.slots == 0) {
        window.slots = BENCH_WINDOW_DEFAULT_SLOTS;
    }
    if (window.min_block == 0) {
        window.min_block = BENCH_WINDOW_DEFAULT_MIN_BLOCK;
    }
    if (window.max_block == 0) {
        window.max_block = BENCH_WINDOW_DEFAULT_MAX_BLOCK;
    }
    return window;
}

bool bench_window_valid(const struct bench_window *window)
{
    return window->slots >= 1 && window->slots <= BENCH_WINDOW_MAX_SLOTS &&
           window->min_block >= 1 && window->min_block <= window->max_block &&
           window->max_block <= BENCH_WINDOW_MAX_BLOCK;
}

uint64_t bench_window_bound(const struct bench_window *window, unsigned threads)
{
    uint64_t blocks = (uint64_t)window->slots + BENCH_WINDOW_IN_FLIGHT_BLOCKS;
    return (uint64_t)threads * blocks * window->max_block;
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
