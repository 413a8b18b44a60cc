/* Proves that every compiled workload really calls malloc and free once per
 * operation: this program is linked with -Wl,--wrap=malloc,--wrap=free, so
 * every call the bench objects make goes through the counters below first.
 * If the optimiser had deleted an allocation, the counts would fall short.
 * For xthread and larson it also proves the frees cross threads: each block
 * is tagged with the thread that allocated it, and frees on another thread
 * are counted. */
#include "bench.h"
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

void *__real_malloc(size_t size);
void __real_free(void *ptr);
void *__wrap_malloc(size_t size);
void __wrap_free(void *ptr);

/* Blocks the workloads ask for are 1 to 1000 bytes. Each counted block is
 * allocated with a header in front that records the allocating thread. */
#define WORKLOAD_MAX_BLOCK 1000u

struct block_header {
    uintptr_t magic;
    pthread_t owner;
    max_align_t align; /* keeps the caller's block as aligned as malloc's */
};

#define BLOCK_MAGIC ((uintptr_t)0x7e57b10cull)

static atomic_ulong workload_mallocs;
static atomic_ulong frees;
static atomic_ulong foreign_frees; /* freed by a thread other than the allocating one */
static atomic_bool counting;
/* Only the worker threads are counted: on the main thread bench_run does
 * its own bookkeeping, and some libcs implement calloc with malloc. */
static _Thread_local bool on_main_thread;

static bool counted(void)
{
    return atomic_load(&counting) && !on_main_thread;
}

void *__wrap_malloc(size_t size)
{
    if (!counted() || size < 1 || size > WORKLOAD_MAX_BLOCK) {
        return __real_malloc(size);
    }
    struct block_header *header = __real_malloc(sizeof(*header) + size);
    if (header == NULL) {
        return NULL;
    }
    header->magic = BLOCK_MAGIC;
    header->owner = pthread_self();
    atomic_fetch_add(&workload_mallocs, 1);
    return header + 1;
}

/* Only pointers from the counting branch above carry a header; the test
 * makes no other allocations from worker threads while counting, and
 * bench_run's own bookkeeping happens on the main thread, before and after
 * the counting window, so every free seen while counting is a workload
 * block. */
void __wrap_free(void *ptr)
{
    if (!counted() || ptr == NULL) {
        __real_free(ptr);
        return;
    }
    struct block_header *header = (struct block_header *)ptr - 1;
    CHECK(header->magic == BLOCK_MAGIC);
    atomic_fetch_add(&frees, 1);
    if (!pthread_equal(header->owner, pthread_self())) {
        atomic_fetch_add(&foreign_frees, 1);
    }
    header->magic = 0;
    __real_free(header);
}

static void count_one(enum bench_workload workload, unsigned threads, unsigned iterations)
{
    struct bench_params params = {
        .workload = workload, .threads = threads, .iterations = iterations};
    struct bench_result result;
    atomic_store(&workload_mallocs, 0);
    atomic_store(&frees, 0);
    atomic_store(&foreign_frees, 0);
    atomic_store(&counting, true);
    enum bench_status status = bench_run(&params, NULL, &result);
    atomic_store(&counting, false);
    CHECK(status == BENCH_OK);
    unsigned long expected = (unsigned long)threads * iterations;
    unsigned long mallocs = atomic_load(&workload_mallocs);
    unsigned long freed = atomic_load(&frees);
    unsigned long foreign = atomic_load(&foreign_frees);
    printf("%s: expected %lu malloc/free pairs; counted %lu mallocs, %lu frees "
           "(%lu on another thread)\n",
           bench_workload_name(workload), expected, mallocs, freed, foreign);
    CHECK(mallocs == expected);
    CHECK(freed == expected);
    CHECK(status != BENCH_OK || result.total_counter == expected);
    switch (workload) {
    case BENCH_WORKLOAD_SEED:
        CHECK(foreign == 0); /* each thread frees its own */
        break;
    case BENCH_WORKLOAD_XTHREAD:
        CHECK(foreign == expected); /* consumers free everything */
        break;
    default:
        /* larson: how many blocks change hands depends on how the threads
         * overlap in time (about 40% with two busy threads here). That the
         * share is not zero does not: the second thread to trade always
         * takes an array the first one filled. */
        CHECK_MSG(foreign > 0, "no block of %lu freed on another thread", expected);
        break;
    }
}

int main(void)
{
    on_main_thread = true;
    count_one(BENCH_WORKLOAD_SEED, 4, 20000);
    count_one(BENCH_WORKLOAD_XTHREAD, 4, 20000);
    count_one(BENCH_WORKLOAD_LARSON, 4, 20000);
    return check_finish("bench_alloc_count");
}
