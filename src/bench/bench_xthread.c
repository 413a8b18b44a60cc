/*
 * bench_xthread.c - producers allocate, consumers free (after
 * mimalloc-bench's xmalloc-test). See bench.h.
 *
 * Threads 0 to producers - 1 produce, the rest consume; producers are
 * threads / 2 rounded up, so 3 threads are 2 producers and 1 consumer. The
 * run's threads * iterations blocks are shared out among the producers.
 * Blocks travel in batches through one queue, so the queue's lock is taken
 * once per XTHREAD_BATCH_BLOCKS blocks and the allocator, not the lock, is
 * what the run measures. A fixed set of batches circulates (producers take
 * empty ones, consumers give them back), which bounds the memory in flight
 * and slows producers down to the consumers' pace.
 */
#include "bench_workload.h"

#include <pthread.h>

/* Batches this large keep the queue's lock and wake-ups (a futex call when
 * a consumer sleeps) small next to the allocator work: 64-block batches
 * measured at a third of the throughput of 512-block ones here. */
#define XTHREAD_BATCH_BLOCKS         512u
#define XTHREAD_BATCHES_PER_PRODUCER 4u
/* Bounds the blocks in flight (about 16 MiB at 500 bytes each) however
 * many producers there are; producers then take turns. */
#define XTHREAD_MAX_BATCHES 64u

struct xthread_batch {
    struct xthread_batch *next;
    unsigned count;
    unsigned char *blocks[XTHREAD_BATCH_BLOCKS];
};

struct xthread_shared {
    pthread_mutex_t lock;            /* guards everything below */
    pthread_cond_t filled;           /* a batch was queued, or the last producer ended */
    pthread_cond_t emptied;          /* a batch was given back, or the run was aborted */
    struct xthread_batch *full_head; /* queue of filled batches, oldest first */
    struct xthread_batch *full_tail;
    struct xthread_batch *empty; /* stack of batches for the producers */
    unsigned producers;
    unsigned producers_running;
    struct xthread_batch batches[]; /* see xthread_setup for how many */
};

static unsigned producer_count(unsigned threads)
{
    return (threads + 1) / 2;
}

/* Producer p's part of the blocks: an even share, the remainder going one
 * each to the first producers. */
static uint64_t producer_share(const struct bench_params *params, unsigned producers, unsigned p)
{
    uint64_t total = (uint64_t)params->threads * params->iterations;
    return total / producers + (p < total % producers ? 1 : 0);
}

static bool xthread_setup(struct bench_run *run)
{
    unsigned producers = producer_count(run->params->threads);
    size_t batches = (size_t)producers * XTHREAD_BATCHES_PER_PRODUCER;
    if (batches > XTHREAD_MAX_BATCHES) {
        batches = XTHREAD_MAX_BATCHES;
    }
    struct xthread_shared *shared =
        calloc(1, sizeof(*shared) + batches * sizeof(struct xthread_batch));
    if (shared == NULL) {
        return false;
    }
    if (pthread_mutex_init(&shared->lock, NULL) != 0) {
        free(shared);
        return false;
    }
    if (pthread_cond_init(&shared->filled, NULL) != 0) {
        pthread_mutex_destroy(&shared->lock);
        free(shared);
        return false;
    }
    if (pthread_cond_init(&shared->emptied, NULL) != 0) {
        pthread_cond_destroy(&shared->filled);
        pthread_mutex_destroy(&shared->lock);
        free(shared);
        return false;
    }
    for (size_t i = 0; i < batches; i++) {
        shared->batches[i].next = shared->empty;
        shared->empty = &shared->batches[i];
    }
    shared->producers = producers;
    shared->producers_running = producers;
    run->shared = shared;
    return true;
}

/* Waits for an empty batch; NULL when the run was aborted. */
static struct xthread_batch *take_empty(struct xthread_shared *shared, struct bench_run *run)
{
    pthread_mutex_lock(&shared->lock);
    while (shared->empty == NULL && !atomic_load(&run->abort)) {
        pthread_cond_wait(&shared->emptied, &shared->lock);
    }
    struct xthread_batch *batch = shared->empty;
    if (batch != NULL) {
        shared->empty = batch->next;
    }
    pthread_mutex_unlock(&shared->lock);
    return batch;
}

static void queue_filled(struct xthread_shared *shared, struct xthread_batch *batch)
{
    batch->next = NULL;
    pthread_mutex_lock(&shared->lock);
    if (shared->full_tail != NULL) {
        shared->full_tail->next = batch;
    } else {
        shared->full_head = batch;
    }
    shared->full_tail = batch;
    pthread_cond_signal(&shared->filled);
    pthread_mutex_unlock(&shared->lock);
}

/* Waits for a filled batch; NULL once the queue is empty and every
 * producer has ended, which is when a consumer is done. */
static struct xthread_batch *take_filled(struct xthread_shared *shared)
{
    pthread_mutex_lock(&shared->lock);
    while (shared->full_head == NULL && shared->producers_running > 0) {
        pthread_cond_wait(&shared->filled, &shared->lock);
    }
    struct xthread_batch *batch = shared->full_head;
    if (batch != NULL) {
        shared->full_head = batch->next;
        if (shared->full_head == NULL) {
            shared->full_tail = NULL;
        }
    }
    pthread_mutex_unlock(&shared->lock);
    return batch;
}

static void give_back(struct xthread_shared *shared, struct xthread_batch *batch)
{
    batch->count = 0;
    pthread_mutex_lock(&shared->lock);
    batch->next = shared->empty;
    shared->empty = batch;
    pthread_cond_signal(&shared->emptied);
    pthread_mutex_unlock(&shared->lock);
}

static void producers_ended(struct xthread_shared *shared, unsigned count)
{
    pthread_mutex_lock(&shared->lock);
    shared->producers_running -= count;
    if (shared->producers_running == 0) {
        pthread_cond_broadcast(&shared->filled);
    }
    pthread_mutex_unlock(&shared->lock);
}

static void xthread_produce(struct bench_thread *thread, struct xthread_shared *shared)
{
    struct bench_run *run = thread->run;
    uint64_t left = producer_share(run->params, shared->producers, thread->index);
    uint64_t made = 0;
    while (left > 0 && !thread->alloc_failed) {
        struct xthread_batch *batch = bench_should_stop(run) ? NULL : take_empty(shared, run);
        if (batch == NULL) {
            thread->stopped_early = true;
            break;
        }
        while (batch->count < XTHREAD_BATCH_BLOCKS && batch->count < left) {
            /* The timed operation is a copy of the others (see seed_work). */
            size_t size = (size_t)(made % BENCH_MAX_BLOCK) + 1;
            unsigned char *block;
            if (bench_latency_due(made)) {
                uint64_t began = bench_now_ns();
                block = bench_block_new(size);
                bench_latency_end(thread, began);
            } else {
                block = bench_block_new(size);
            }
            if (block == NULL) {
                thread->alloc_failed = true;
                break;
            }
            batch->blocks[batch->count++] = block;
            made++;
        }
        left -= batch->count;
        /* Even a short batch goes out: its blocks are the consumers' to free. */
        queue_filled(shared, batch);
    }
    producers_ended(shared, 1);
}

static void xthread_consume(struct bench_thread *thread, struct xthread_shared *shared)
{
    uint64_t counter = 0;
    struct xthread_batch *batch;
    while ((batch = take_filled(shared)) != NULL) {
        for (unsigned i = 0; i < batch->count; i++) {
            /* Not timed: the producers' mallocs are (1 in
             * BENCH_LATENCY_EVERY). Timing both sides cost about 4% more
             * instructions per operation (callgrind), over the 3% budget. */
            counter += bench_block_free(batch->blocks[i]);
        }
        give_back(shared, batch);
    }
    thread->counter = counter;
}

static void xthread_work(struct bench_thread *thread)
{
    struct xthread_shared *shared = thread->run->shared;
    if (thread->index < shared->producers) {
        xthread_produce(thread, shared);
    } else {
        xthread_consume(thread, shared);
    }
}

/* Producers that never started will never end; consumers must not wait
 * for them, and started producers must not wait for missing consumers
 * (they see run->abort, already set, once woken). */
static void xthread_spawn_failed(struct bench_run *run, unsigned started)
{
    struct xthread_shared *shared = run->shared;
    unsigned producers_started = started < shared->producers ? started : shared->producers;
    producers_ended(shared, shared->producers - producers_started);
    pthread_mutex_lock(&shared->lock);
    pthread_cond_broadcast(&shared->emptied);
    pthread_mutex_unlock(&shared->lock);
}

/* After a full run the queue is empty; after a failed spawn it may still
 * hold blocks no consumer was there to free. */
static void xthread_teardown(struct bench_run *run)
{
    struct xthread_shared *shared = run->shared;
    for (struct xthread_batch *batch = shared->full_head; batch != NULL; batch = batch->next) {
        for (unsigned i = 0; i < batch->count; i++) {
            bench_block_drop(batch->blocks[i]);
        }
    }
    pthread_cond_destroy(&shared->emptied);
    pthread_cond_destroy(&shared->filled);
    pthread_mutex_destroy(&shared->lock);
    free(shared);
    run->shared = NULL;
}

const struct bench_workload_ops BENCH_THIS_WORKLOAD_OPS(xthread) = {
    .name = "xthread",
    .min_threads = 2,
    .setup = xthread_setup,
    .work = xthread_work,
    .spawn_failed = xthread_spawn_failed,
    .teardown = xthread_teardown,
};
