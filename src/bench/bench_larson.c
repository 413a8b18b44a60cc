/*
 * bench_larson.c - a server simulation with long-lived objects (after
 * Larson and Krishnan's benchmark, as in mimalloc-bench). See bench.h.
 *
 * There is one array of LARSON_SLOTS slots per thread plus a spare. Every
 * LARSON_TRADE_INTERVAL iterations a thread puts its array down as the new
 * spare and takes the old one, unless the old one is the array it put down
 * itself last time (then it keeps its own). A block lives about
 * LARSON_SLOTS iterations, several trade intervals, so with two or more
 * threads many blocks are freed by a thread that did not allocate them, as
 * when a server hands a connection's state from one worker to another:
 * about 40% with two busy threads (test_bench_alloc_count prints the
 * share). Arrays go back and forth, so half is the most two threads can
 * reach. (Original larson gets the same effect by ending each thread and
 * giving its array to a new one.)
 *
 * The slot and the size are drawn from a xorshift generator seeded with the
 * thread's index, so a run is reproducible and its allocation count exact.
 */
#include "bench_workload.h"

#include <pthread.h>

#define LARSON_SLOTS          256u
#define LARSON_TRADE_INTERVAL 64u
_Static_assert(LARSON_TRADE_INTERVAL <= BENCH_CANCEL_CHECK_INTERVAL,
               "the cancel check happens at trades");

/* spare_owner before the first trade. */
#define LARSON_NOBODY UINT32_MAX

struct larson_shared {
    pthread_mutex_t lock;  /* guards spare and spare_owner */
    unsigned char **spare; /* the array last put down */
    unsigned spare_owner;  /* the thread that put it down */
    atomic_uint running;   /* threads still working; the last out empties the spare */
    unsigned arrays;       /* threads + 1 */
    unsigned char **slots; /* all arrays, LARSON_SLOTS pointers each */
};

static unsigned char **array_at(struct larson_shared *shared, unsigned index)
{
    return shared->slots + (size_t)index * LARSON_SLOTS;
}

static bool larson_setup(struct bench_run *run)
{
    struct larson_shared *shared = calloc(1, sizeof(*shared));
    if (shared == NULL) {
        return false;
    }
    shared->arrays = run->params->threads + 1;
    shared->slots = calloc((size_t)shared->arrays * LARSON_SLOTS, sizeof(*shared->slots));
    if (shared->slots == NULL || pthread_mutex_init(&shared->lock, NULL) != 0) {
        free(shared->slots);
        free(shared);
        return false;
    }
    /* Thread i starts with array i; the last array is the first spare. */
    shared->spare = array_at(shared, shared->arrays - 1);
    shared->spare_owner = LARSON_NOBODY;
    atomic_init(&shared->running, run->params->threads);
    run->shared = shared;
    return true;
}

/* Thread `me` puts `mine` down as the spare and takes the previous spare;
 * or keeps `mine` when the spare is what it put down itself. */
static unsigned char **trade(struct larson_shared *shared, unsigned char **mine, unsigned me)
{
    pthread_mutex_lock(&shared->lock);
    unsigned char **taken = mine;
    if (shared->spare_owner != me) {
        taken = shared->spare;
        shared->spare = mine;
        shared->spare_owner = me;
    }
    pthread_mutex_unlock(&shared->lock);
    return taken;
}

static unsigned char **take_spare(struct larson_shared *shared)
{
    pthread_mutex_lock(&shared->lock);
    unsigned char **spare = shared->spare;
    shared->spare = NULL;
    pthread_mutex_unlock(&shared->lock);
    return spare;
}

/* Frees and counts every block an array holds, leaving it empty. */
static uint64_t release(unsigned char **slots)
{
    uint64_t counter = 0;
    for (unsigned i = 0; i < LARSON_SLOTS; i++) {
        if (slots[i] != NULL) {
            counter += bench_block_free(slots[i]);
            slots[i] = NULL;
        }
    }
    return counter;
}

/* One operation: replace a random slot's block; false when out of memory
 * (the slot is then empty). */
static inline bool larson_step(unsigned char **slots, uint64_t *rng, uint64_t *counter)
{
    uint64_t r = bench_xorshift64(rng);
    unsigned slot = (unsigned)(r % LARSON_SLOTS);
    if (slots[slot] != NULL) {
        *counter += bench_block_free(slots[slot]);
    }
    slots[slot] = bench_block_new((size_t)((r >> 32) % BENCH_MAX_BLOCK) + 1);
    return slots[slot] != NULL;
}

static void larson_work(struct bench_thread *thread)
{
    struct bench_run *run = thread->run;
    struct larson_shared *shared = run->shared;
    unsigned char **slots = array_at(shared, thread->index);
    unsigned iterations = run->params->iterations;
    /* Any non-zero seed works; the golden-ratio constant spreads them. */
    uint64_t rng = ((uint64_t)thread->index + 1) * 0x9E3779B97F4A7C15ull;
    uint64_t counter = 0;
    for (unsigned i = 0; i < iterations; i++) {
        if (i % LARSON_TRADE_INTERVAL == 0) {
            if (bench_should_stop(run)) {
                thread->stopped_early = true;
                break;
            }
            if (i > 0) {
                slots = trade(shared, slots, thread->index);
            }
        }
        /* The timed operation is a copy of the others (see seed_work). */
        bool ok;
        if (bench_latency_due(i)) {
            uint64_t began = bench_now_ns();
            ok = larson_step(slots, &rng, &counter);
            bench_latency_end(thread, began);
        } else {
            ok = larson_step(slots, &rng, &counter);
        }
        if (!ok) {
            thread->alloc_failed = true;
            break;
        }
    }
    /* The array in hand leaves circulation; the last thread out also takes
     * the spare and empties it, so a full run frees every block inside the
     * clock. */
    counter += release(slots);
    if (atomic_fetch_sub(&shared->running, 1) == 1) {
        counter += release(take_spare(shared));
    }
    thread->counter = counter;
}

/* After a full run every slot is empty; after a failed spawn nobody was
 * last out, so the spare's blocks are freed here. */
static void larson_teardown(struct bench_run *run)
{
    struct larson_shared *shared = run->shared;
    for (unsigned i = 0; i < shared->arrays; i++) {
        (void)release(array_at(shared, i));
    }
    pthread_mutex_destroy(&shared->lock);
    free(shared->slots);
    free(shared);
    run->shared = NULL;
}

const struct bench_workload_ops BENCH_THIS_WORKLOAD_OPS(larson) = {
    .name = "larson",
    .min_threads = 1,
    .setup = larson_setup,
    .work = larson_work,
    .teardown = larson_teardown,
};
