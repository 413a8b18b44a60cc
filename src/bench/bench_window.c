/*
 * bench_window.c - a workload that holds memory: every thread keeps a
 * window of live blocks of widely spread sizes and replaces them in a
 * random order, and some blocks are freed by another thread. See bench.h.
 *
 * Lineage: the window of live blocks replaced at random is larson's
 * (Larson and Krishnan), with sizes that span the small, medium and large
 * classes as in mimalloc-bench's alloc-test and the size spread of
 * glibc's malloc benchmarks (log-uniform); the hand-over of blocks to a
 * neighbour that frees them is xmalloc-test's, in small batches.
 *
 * Per thread, iteration i takes slot i while the window fills, then a slot
 * drawn from a xorshift generator seeded with the thread's index. The
 * block in the slot goes (every WINDOW_HANDOFF_EVERY-th time) into the
 * thread's outgoing batch, or is freed; then a block of a size drawn
 * log-uniformly from [min_block, max_block] takes its place. A full
 * outgoing batch goes to the next thread's inbox when that is empty (else
 * the sender frees it), and each thread frees what its inbox holds every
 * WINDOW_CHECK_INTERVAL iterations. At the end each thread frees its
 * window, its outgoing batch and its inbox; the last one out also frees
 * whatever other threads handed over after those emptied theirs, so every
 * block is freed inside the clock, by a worker, and counted.
 *
 * The blocks in flight sit in at most two batches per thread (its
 * outgoing batch and its inbox), which bench_window_bound counts.
 */
#include "bench_workload.h"

#include "cold.h"
#include <pthread.h>

#define WINDOW_HANDOFF_EVERY  8u
#define WINDOW_BATCH_BLOCKS   BENCH_WINDOW_BATCH_BLOCKS
#define WINDOW_CHECK_INTERVAL 64u
_Static_assert(WINDOW_CHECK_INTERVAL <= BENCH_CANCEL_CHECK_INTERVAL,
               "the cancel check happens with the inbox check");

struct window_block {
    unsigned char *data;
    size_t size;
};

struct window_batch {
    unsigned count;
    struct window_block blocks[WINDOW_BATCH_BLOCKS];
};

/* What other threads hand this thread. */
struct window_inbox {
    pthread_mutex_t lock; /* guards batch */
    struct window_batch batch;
};

struct window_shared {
    struct bench_window shape; /* resolved */
    unsigned lowest_octave;    /* sizes are drawn from octaves lowest to highest */
    unsigned highest_octave;
    unsigned threads;
    atomic_uint running;           /* threads still working; the last out empties every inbox */
    struct window_inbox *inboxes;  /* one per thread */
    struct window_batch *outgoing; /* one per thread */
    struct window_block *slots;    /* shape.slots per thread */
    unsigned inboxes_initialised;
};

static unsigned window_floor_log2(unsigned value)
{
    return 31u - (unsigned)__builtin_clz(value);
}

COLD static void window_teardown(struct bench_run *run);

COLD static bool window_setup(struct bench_run *run)
{
    struct window_shared *shared = calloc(1, sizeof(*shared));
    if (shared == NULL) {
        return false;
    }
    run->shared = shared;
    shared->shape = bench_window_resolved(run->params->window);
    shared->threads = run->params->threads;
    /* The octaves [2^k, 2^(k+1)) that meet [min_block, max_block]. */
    shared->lowest_octave = window_floor_log2(shared->shape.min_block);
    shared->highest_octave = window_floor_log2(shared->shape.max_block);
    if (shared->highest_octave > shared->lowest_octave &&
        shared->shape.max_block == 1u << shared->highest_octave) {
        shared->highest_octave--;
    }
    atomic_init(&shared->running, shared->threads);
    shared->inboxes = calloc(shared->threads, sizeof(*shared->inboxes));
    shared->outgoing = calloc(shared->threads, sizeof(*shared->outgoing));
    shared->slots = calloc((size_t)shared->threads * shared->shape.slots, sizeof(*shared->slots));
    if (shared->inboxes == NULL || shared->outgoing == NULL || shared->slots == NULL) {
        window_teardown(run);
        return false;
    }
    for (; shared->inboxes_initialised < shared->threads; shared->inboxes_initialised++) {
        if (pthread_mutex_init(&shared->inboxes[shared->inboxes_initialised].lock, NULL) != 0) {
            window_teardown(run);
            return false;
        }
    }
    return true;
}

/* A size drawn log-uniformly: an octave, then a size within it, kept
 * within [min_block, max_block]. */
static size_t window_draw_size(const struct window_shared *shared, uint64_t r)
{
    unsigned octaves = shared->highest_octave - shared->lowest_octave + 1;
    unsigned octave = shared->lowest_octave + (unsigned)(r % octaves);
    size_t base = (size_t)1 << octave;
    size_t size = base + (size_t)((r >> 32) % base);
    if (size < shared->shape.min_block) {
        return shared->shape.min_block;
    }
    return size > shared->shape.max_block ? shared->shape.max_block : size;
}

/* Frees a block, counting it off the thread's live bytes; returns what
 * reading it added to the counter (1). */
static unsigned window_free_block(struct bench_thread *thread, struct window_block *block)
{
    bench_live_add(thread, -(long long)block->size);
    unsigned value = bench_block_free(block->data);
    block->data = NULL;
    return value;
}

static uint64_t window_free_batch(struct bench_thread *thread, struct window_batch *batch)
{
    uint64_t counter = 0;
    for (unsigned i = 0; i < batch->count; i++) {
        counter += window_free_block(thread, &batch->blocks[i]);
    }
    batch->count = 0;
    return counter;
}

static uint64_t window_batch_bytes(const struct window_batch *batch)
{
    uint64_t bytes = 0;
    for (unsigned i = 0; i < batch->count; i++) {
        bytes += batch->blocks[i].size;
    }
    return bytes;
}

/* Frees what the inbox holds. The batch is copied out so that the lock is
 * not held across the frees. */
static uint64_t window_drain_inbox(struct bench_thread *thread, struct window_inbox *inbox)
{
    struct window_batch taken;
    pthread_mutex_lock(&inbox->lock);
    taken.count = inbox->batch.count;
    memcpy(taken.blocks, inbox->batch.blocks, taken.count * sizeof(taken.blocks[0]));
    inbox->batch.count = 0;
    pthread_mutex_unlock(&inbox->lock);
    return window_free_batch(thread, &taken);
}

/* Hands a full outgoing batch to `inbox` if it is empty; otherwise the
 * sender frees the batch itself (returning what that added to its
 * counter), so nobody ever waits and the blocks in flight stay bounded. */
static uint64_t window_hand_off(struct bench_thread *thread, struct window_batch *outgoing,
                                struct window_inbox *inbox)
{
    bool taken = false;
    pthread_mutex_lock(&inbox->lock);
    if (inbox->batch.count == 0) {
        inbox->batch = *outgoing;
        taken = true;
    }
    pthread_mutex_unlock(&inbox->lock);
    if (taken) {
        outgoing->count = 0;
        return 0;
    }
    return window_free_batch(thread, outgoing);
}

static void window_work(struct bench_thread *thread)
{
    struct bench_run *run = thread->run;
    struct window_shared *shared = run->shared;
    unsigned slots = shared->shape.slots;
    struct window_block *window = shared->slots + (size_t)thread->index * slots;
    struct window_batch *outgoing = &shared->outgoing[thread->index];
    struct window_inbox *inbox = &shared->inboxes[thread->index];
    struct window_inbox *next = &shared->inboxes[(thread->index + 1) % shared->threads];
    unsigned iterations = run->params->iterations;
    /* Any non-zero seed works; the golden-ratio constant spreads them. */
    uint64_t rng = ((uint64_t)thread->index + 1) * 0x9E3779B97F4A7C15ull;
    uint64_t counter = 0;
    uint64_t taken_out = 0;
    /* The bytes of its window and outgoing batch, and their peak. */
    uint64_t held = 0;
    uint64_t held_peak = 0;
    for (unsigned i = 0; i < iterations; i++) {
        if (i % WINDOW_CHECK_INTERVAL == 0) {
            if (bench_should_stop(run)) {
                thread->stopped_early = true;
                break;
            }
            counter += window_drain_inbox(thread, inbox);
        }
        bool timed = bench_latency_due(i);
        uint64_t began = timed ? bench_now_ns() : 0;
        uint64_t r = bench_xorshift64(&rng);
        struct window_block *block = &window[i < slots ? i : (unsigned)(r % slots)];
        if (block->data != NULL) {
            if (++taken_out % WINDOW_HANDOFF_EVERY == 0) {
                outgoing->blocks[outgoing->count++] = *block;
                block->data = NULL;
                if (outgoing->count == WINDOW_BATCH_BLOCKS) {
                    held -= window_batch_bytes(outgoing);
                    counter += window_hand_off(thread, outgoing, next);
                }
            } else {
                held -= block->size;
                counter += window_free_block(thread, block);
            }
        }
        size_t size = window_draw_size(shared, bench_xorshift64(&rng));
        block->data = bench_block_new_paged(size);
        if (block->data == NULL) {
            thread->alloc_failed = true;
            break;
        }
        block->size = size;
        bench_live_add(thread, (long long)size);
        held += size;
        held_peak = held > held_peak ? held : held_peak;
        if (timed) {
            bench_latency_end(thread, began);
        }
    }
    for (unsigned s = 0; s < slots; s++) {
        if (window[s].data != NULL) {
            counter += window_free_block(thread, &window[s]);
        }
    }
    counter += window_free_batch(thread, outgoing);
    counter += window_drain_inbox(thread, inbox);
    /* Others may still hand this thread blocks; the last one out frees
     * them (every other thread has made its last hand-off by then). */
    if (atomic_fetch_sub(&shared->running, 1) == 1) {
        for (unsigned t = 0; t < shared->threads; t++) {
            counter += window_drain_inbox(thread, &shared->inboxes[t]);
        }
    }
    thread->counter = counter;
    thread->held_peak = held_peak;
}

/* After a full run every block is freed; after a failed spawn nobody was
 * last out, so what is left is freed here (no counting: the run failed). */
static void window_teardown(struct bench_run *run)
{
    struct window_shared *shared = run->shared;
    size_t slot_count = (size_t)shared->threads * shared->shape.slots;
    for (size_t s = 0; shared->slots != NULL && s < slot_count; s++) {
        if (shared->slots[s].data != NULL) {
            bench_block_drop(shared->slots[s].data);
        }
    }
    for (unsigned t = 0; t < shared->inboxes_initialised; t++) {
        for (unsigned b = 0; b < shared->inboxes[t].batch.count; b++) {
            bench_block_drop(shared->inboxes[t].batch.blocks[b].data);
        }
        pthread_mutex_destroy(&shared->inboxes[t].lock);
    }
    for (unsigned t = 0; shared->outgoing != NULL && t < shared->threads; t++) {
        for (unsigned b = 0; b < shared->outgoing[t].count; b++) {
            bench_block_drop(shared->outgoing[t].blocks[b].data);
        }
    }
    free(shared->slots);
    free(shared->outgoing);
    free(shared->inboxes);
    free(shared);
    run->shared = NULL;
}

const struct bench_workload_ops BENCH_THIS_WORKLOAD_OPS(window) = {
    .name = "window",
    .min_threads = 1,
    .tracks_live = true,
    .setup = window_setup,
    .work = window_work,
    .teardown = window_teardown,
};
