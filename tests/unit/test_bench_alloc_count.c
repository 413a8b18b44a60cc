/* Proves that every compiled workload really calls its allocator once per
 * operation, and only its allocator: this program is linked with --wrap for
 * malloc and free, musl's __libc_malloc_impl and __libc_free, the secure
 * mimalloc's prefixed malloc and free, and je_malloc and je_free
 * (tests/meson.build), so every call the
 * bench objects make goes through the counters below first. If the optimiser
 * had deleted an allocation, or a path called the wrong allocator, the
 * counts would show it.
 *
 * Each counted block carries a header naming the allocator that made it and
 * the thread that asked, so the test also proves that every block goes back
 * to the allocator it came from, and (xthread, larson, window) that frees cross
 * threads. In a mimalloc build it asks each mimalloc instance whether it owns
 * the block: the global one owns only its own blocks, the secure instance
 * only the secure path's, and musl's and jemalloc's blocks belong to neither.
 * In a build with jemalloc it reads jemalloc's count of the thread's bytes
 * around every allocation: it grows by at least the size asked for exactly
 * when the block is jemalloc's (the jemalloc path's, or the global path's in
 * the -Dallocator=jemalloc build). */
#include "alloc_info.h"
#include "bench.h"
#include "bench_alloc.h"
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#endif

/* Blocks the workloads ask for are 1 to 1000 bytes, the window's larger. */
#define WORKLOAD_MAX_BLOCK BENCH_LARGEST_BLOCK

enum family { FAMILY_GLOBAL, FAMILY_MUSL, FAMILY_SECURE, FAMILY_JEMALLOC, FAMILY_COUNT };
_Static_assert((int)FAMILY_COUNT == (int)BENCH_ALLOCATOR_COUNT, "one family per allocator");
_Static_assert((int)FAMILY_MUSL == (int)BENCH_ALLOCATOR_MUSL, "same order");
_Static_assert((int)FAMILY_SECURE == (int)BENCH_ALLOCATOR_SECURE, "same order");
_Static_assert((int)FAMILY_JEMALLOC == (int)BENCH_ALLOCATOR_JEMALLOC, "same order");

struct block_header {
    uintptr_t magic;
    pthread_t owner;
    enum family family;
    max_align_t align; /* keeps the caller's block as aligned as malloc's */
};

#define BLOCK_MAGIC ((uintptr_t)0x7e57b10cull)

struct family_counts {
    atomic_ulong mallocs;
    atomic_ulong frees;
    atomic_ulong foreign_frees; /* freed by a thread other than the allocating one */
    atomic_ulong wrong_owner;   /* an allocator's own answer contradicts the family */
    atomic_ulong wrong_family;  /* freed through another allocator than it came from */
    atomic_ulong no_header;
};

static struct family_counts counts[FAMILY_COUNT];
static atomic_bool counting;
/* Only the worker threads are counted: on the main thread bench_run does
 * its own bookkeeping, and some libcs implement calloc with malloc. */
static _Thread_local bool on_main_thread;

static bool counted(size_t size)
{
    return atomic_load(&counting) && !on_main_thread && size >= 1 && size <= WORKLOAD_MAX_BLOCK;
}

/* What jemalloc's count of this thread's bytes said about one allocation. */
struct jemalloc_reading {
    uint64_t before;
    uint64_t after;
    bool read; /* both readings succeeded (false in a build without jemalloc) */
};

static struct jemalloc_reading jemalloc_read_before(void)
{
    struct jemalloc_reading reading = {0};
#if defined(TINYSERVER_HAVE_JEMALLOC)
    reading.read = alloc_info_jemalloc_thread_bytes(false, &reading.before);
#endif
    return reading;
}

static void jemalloc_read_after(struct jemalloc_reading *reading)
{
#if defined(TINYSERVER_HAVE_JEMALLOC)
    reading->read = reading->read && alloc_info_jemalloc_thread_bytes(false, &reading->after);
#else
    (void)reading;
#endif
}

#if defined(TINYSERVER_HAVE_JEMALLOC)
static bool family_is_jemalloc(enum family family)
{
#if defined(TINYSERVER_ALLOCATOR_JEMALLOC)
    return family == FAMILY_GLOBAL;
#else
    return family == FAMILY_JEMALLOC;
#endif
}
#endif

/* Which allocator claims the block must match the family: each mimalloc
 * instance by its heap, jemalloc by its byte count. */
static void check_owner(enum family family, const void *raw, size_t size,
                        const struct jemalloc_reading *jemalloc)
{
    bool ok = true;
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
    ok = ok && mi_is_in_heap_region(raw) == (family == FAMILY_GLOBAL);
#endif
#if defined(TINYSERVER_BENCH_SECURE)
    ok = ok && BENCH_SECURE(mi_is_in_heap_region)(raw) == (family == FAMILY_SECURE);
#endif
#if defined(TINYSERVER_HAVE_JEMALLOC)
    ok = ok && jemalloc->read &&
         (jemalloc->after - jemalloc->before >= size) == family_is_jemalloc(family);
#else
    (void)size;
    (void)jemalloc;
#endif
    (void)raw;
    if (!ok) {
        atomic_fetch_add(&counts[family].wrong_owner, 1);
    }
}

static void *tag(enum family family, struct block_header *header, size_t size,
                 const struct jemalloc_reading *jemalloc)
{
    if (header == NULL) {
        return NULL;
    }
    check_owner(family, header, size, jemalloc);
    header->magic = BLOCK_MAGIC;
    header->owner = pthread_self();
    header->family = family;
    atomic_fetch_add(&counts[family].mallocs, 1);
    return header + 1;
}

/* Only pointers from the counting branch carry a header; the test makes no
 * other allocations from worker threads while counting, and bench_run's own
 * bookkeeping happens on the main thread, before and after the counting
 * window, so every free seen while counting is a workload block. Returns
 * the pointer the real free must get. */
static void *untag(enum family family, void *ptr)
{
    if (!atomic_load(&counting) || on_main_thread || ptr == NULL) {
        return ptr;
    }
    struct block_header *header = (struct block_header *)ptr - 1;
    if (header->magic != BLOCK_MAGIC) {
        atomic_fetch_add(&counts[family].no_header, 1);
        return ptr;
    }
    atomic_fetch_add(&counts[family].frees, 1);
    if (header->family != family) {
        atomic_fetch_add(&counts[family].wrong_family, 1);
    }
    if (!pthread_equal(header->owner, pthread_self())) {
        atomic_fetch_add(&counts[family].foreign_frees, 1);
    }
    header->magic = 0;
    return header;
}

/* One pair of wrappers per allocator: --wrap=NAME sends the bench objects'
 * calls to __wrap_NAME, and __real_NAME is the allocator itself. */
#define WRAP_ALLOCATOR(family, malloc_name, free_name)                                             \
    void *BENCH_PASTE(__real_, malloc_name)(size_t size);                                          \
    void BENCH_PASTE(__real_, free_name)(void *ptr);                                               \
    void *BENCH_PASTE(__wrap_, malloc_name)(size_t size);                                          \
    void BENCH_PASTE(__wrap_, free_name)(void *ptr);                                               \
    void *BENCH_PASTE(__wrap_, malloc_name)(size_t size)                                           \
    {                                                                                              \
        if (!counted(size)) {                                                                      \
            return BENCH_PASTE(__real_, malloc_name)(size);                                        \
        }                                                                                          \
        size_t total = sizeof(struct block_header) + size;                                         \
        struct jemalloc_reading jemalloc = jemalloc_read_before();                                 \
        void *raw = BENCH_PASTE(__real_, malloc_name)(total);                                      \
        jemalloc_read_after(&jemalloc);                                                            \
        return tag(family, raw, total, &jemalloc);                                                 \
    }                                                                                              \
    void BENCH_PASTE(__wrap_, free_name)(void *ptr)                                                \
    {                                                                                              \
        BENCH_PASTE(__real_, free_name)(untag(family, ptr));                                       \
    }

WRAP_ALLOCATOR(FAMILY_GLOBAL, malloc, free)
#if defined(TINYSERVER_BENCH_MUSL)
WRAP_ALLOCATOR(FAMILY_MUSL, __libc_malloc_impl, __libc_free)
#endif
#if defined(TINYSERVER_BENCH_SECURE)
WRAP_ALLOCATOR(FAMILY_SECURE, BENCH_SECURE(malloc), BENCH_SECURE(free))
#endif
#if defined(TINYSERVER_BENCH_JEMALLOC)
WRAP_ALLOCATOR(FAMILY_JEMALLOC, je_malloc, je_free)
#endif

static void reset_counts(void)
{
    for (unsigned f = 0; f < FAMILY_COUNT; f++) {
        atomic_store(&counts[f].mallocs, 0);
        atomic_store(&counts[f].frees, 0);
        atomic_store(&counts[f].foreign_frees, 0);
        atomic_store(&counts[f].wrong_owner, 0);
        atomic_store(&counts[f].wrong_family, 0);
        atomic_store(&counts[f].no_header, 0);
    }
}

static void count_one(enum bench_allocator allocator, enum bench_workload workload,
                      unsigned threads, unsigned iterations)
{
    struct bench_params params = {
        .workload = workload, .threads = threads, .iterations = iterations, .allocator = allocator};
    struct bench_result result;
    reset_counts();
    atomic_store(&counting, true);
    enum bench_status status = bench_run(&params, NULL, &result);
    atomic_store(&counting, false);
    CHECK(status == BENCH_OK);
    const char *name = bench_allocator_name(allocator);
    const struct family_counts *mine = &counts[allocator];
    unsigned long expected = (unsigned long)threads * iterations;
    unsigned long mallocs = atomic_load(&mine->mallocs);
    unsigned long freed = atomic_load(&mine->frees);
    unsigned long foreign = atomic_load(&mine->foreign_frees);
    printf("%s on %s: expected %lu malloc/free pairs; counted %lu mallocs, %lu frees "
           "(%lu on another thread)\n",
           bench_workload_name(workload), name, expected, mallocs, freed, foreign);
    CHECK_MSG(mallocs == expected, "%s on %s", bench_workload_name(workload), name);
    CHECK_MSG(freed == expected, "%s on %s", bench_workload_name(workload), name);
    CHECK(status != BENCH_OK || result.total_counter == expected);
    for (unsigned f = 0; f < FAMILY_COUNT; f++) {
        CHECK_MSG(atomic_load(&counts[f].wrong_owner) == 0,
                  "%s on %s: %lu blocks of family %u "
                  "claimed by the wrong allocator",
                  bench_workload_name(workload), name, atomic_load(&counts[f].wrong_owner), f);
        CHECK(atomic_load(&counts[f].wrong_family) == 0);
        CHECK(atomic_load(&counts[f].no_header) == 0);
        if (f != (unsigned)allocator) {
            /* The path calls its own allocator and no other. */
            CHECK_MSG(atomic_load(&counts[f].mallocs) == 0 && atomic_load(&counts[f].frees) == 0,
                      "%s on %s also used family %u", bench_workload_name(workload), name, f);
        }
    }
    switch (workload) {
    case BENCH_WORKLOAD_SEED:
        CHECK(foreign == 0); /* each thread frees its own */
        break;
    case BENCH_WORKLOAD_XTHREAD:
        CHECK(foreign == expected); /* consumers free everything */
        break;
    case BENCH_WORKLOAD_WINDOW:
        /* Each thread's first batch goes to its neighbour's empty inbox,
         * and is freed by that neighbour or by the last thread out; a
         * thread that is not last out is neither. */
        CHECK_MSG(foreign > 0, "window: no block of %lu freed on another thread", expected);
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
#if defined(TINYSERVER_HAVE_JEMALLOC)
    /* jemalloc initialises on its first call (patches/jemalloc/0001), and
     * registers its fork handlers then with musl's pthread_atfork, which
     * takes a block from the global malloc: a call that is not the
     * workload's. Asking jemalloc anything initialises it, here. */
    uint64_t initialised;
    CHECK(alloc_info_jemalloc_thread_bytes(false, &initialised));
#endif
    enum bench_allocator allocators[BENCH_ALLOCATOR_COUNT];
    size_t count = bench_allocators(allocators);
    for (size_t a = 0; a < count; a++) {
        count_one(allocators[a], BENCH_WORKLOAD_SEED, 4, 20000);
        count_one(allocators[a], BENCH_WORKLOAD_XTHREAD, 4, 20000);
        count_one(allocators[a], BENCH_WORKLOAD_LARSON, 4, 20000);
        count_one(allocators[a], BENCH_WORKLOAD_WINDOW, 4, 20000);
    }
    return check_finish("bench_alloc_count");
}
