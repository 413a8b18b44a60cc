/* The memory-mapping counters of bench_syscalls.c against a known sequence
 * of calls: this program is linked like the server (the core dependency
 * carries the --wrap flags), so its calls, and musl's internal ones, go
 * through the wrappers. */
#define _GNU_SOURCE
#include "bench.h"
#include "bench_syscalls.h"
#include "check.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#define MAPS      7
#define PAGE_SIZE 4096u

#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
void *__libc_malloc_impl(size_t size);
void __libc_free(void *ptr);
#endif

static void *count_in_thread(void *arg)
{
    /* This thread never asked to count: nothing it does is counted. */
    void *p = mmap(NULL, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        munmap(p, PAGE_SIZE);
    }
    return arg;
}

static void check_known_sequence(void)
{
    struct bench_syscall_counts counts = {0};
    bench_syscalls_count_into(&counts);
    void *maps[MAPS];
    for (int i = 0; i < MAPS; i++) {
        maps[i] =
            mmap(NULL, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(maps[i] != MAP_FAILED);
    }
    for (int i = 0; i < 3; i++) {
        CHECK(madvise(maps[i], PAGE_SIZE, MADV_DONTNEED) == 0);
    }
    for (int i = 0; i < 5; i++) {
        CHECK(mprotect(maps[i], PAGE_SIZE, PROT_READ) == 0);
    }
    for (int i = 0; i < MAPS; i++) {
        CHECK(munmap(maps[i], 2 * PAGE_SIZE) == 0);
    }
    bench_syscalls_count_into(NULL);
    /* Not counted: the thread asked to stop. */
    void *after = mmap(NULL, PAGE_SIZE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(after != MAP_FAILED && munmap(after, PAGE_SIZE) == 0);
    CHECK_MSG(counts.mmap == MAPS && counts.munmap == MAPS && counts.madvise == 3 &&
                  counts.mprotect == 5,
              "mmap %llu munmap %llu madvise %llu mprotect %llu", (unsigned long long)counts.mmap,
              (unsigned long long)counts.munmap, (unsigned long long)counts.madvise,
              (unsigned long long)counts.mprotect);

    /* Another thread's calls are not this thread's. */
    bench_syscalls_count_into(&counts);
    counts = (struct bench_syscall_counts){0};
    pthread_t other;
    CHECK(pthread_create(&other, NULL, count_in_thread, NULL) == 0);
    CHECK(pthread_join(other, NULL) == 0);
    bench_syscalls_count_into(NULL);
#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
    /* musl's pthread_create maps the stack and its guard with __mmap and
     * __mprotect, and pthread_join unmaps it with __munmap: internal names
     * a wrap of mmap alone would miss. */
    CHECK_MSG(counts.mmap == 1 && counts.mprotect == 1 && counts.munmap == 1,
              "thread: mmap %llu mprotect %llu munmap %llu", (unsigned long long)counts.mmap,
              (unsigned long long)counts.mprotect, (unsigned long long)counts.munmap);
#endif
}

#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
/* mallocng maps a block above its threshold (about 128 KiB) by itself with
 * __mmap and gives it back with munmap when freed. */
static void check_musl_internals(void)
{
    /* The first use may map mallocng's own bookkeeping too. */
    __libc_free(__libc_malloc_impl(1024u * 1024u));
    struct bench_syscall_counts counts = {0};
    bench_syscalls_count_into(&counts);
    void *big = __libc_malloc_impl(1024u * 1024u);
    CHECK(big != NULL);
    struct bench_syscall_counts mapped = counts;
    __libc_free(big);
    bench_syscalls_count_into(NULL);
    CHECK_MSG(mapped.mmap == 1 && mapped.munmap == 0, "malloc: mmap %llu",
              (unsigned long long)mapped.mmap);
    CHECK_MSG(counts.munmap == 1, "free: munmap %llu", (unsigned long long)counts.munmap);
}
#endif

/* A run's counts are its workers': on musl, a window of 1 MiB blocks maps
 * and unmaps each one (the workers' thread stacks are the driver's calls,
 * not theirs). */
static void check_run(void)
{
    enum bench_allocator musl;
    if (!bench_allocator_find("musl", 4, &musl)) {
        return;
    }
#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
    struct bench_params params = {
        .workload = BENCH_WORKLOAD_WINDOW,
        .threads = 2,
        .iterations = 300,
        .allocator = musl,
        .window = {.slots = 16, .min_block = 1024u * 1024u, .max_block = 1024u * 1024u},
    };
    struct bench_result result;
    CHECK(bench_run(&params, NULL, &result) == BENCH_OK);
    uint64_t blocks = 2 * 300;
    /* mallocng may also map a page for its own bookkeeping now and then. */
    CHECK_MSG(result.syscalls.mmap >= blocks && result.syscalls.mmap <= blocks + 16 &&
                  result.syscalls.munmap >= blocks && result.syscalls.munmap <= blocks + 16,
              "mmap %llu munmap %llu for %llu blocks", (unsigned long long)result.syscalls.mmap,
              (unsigned long long)result.syscalls.munmap, (unsigned long long)blocks);
#endif
}

int main(void)
{
    check_known_sequence();
#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
    check_musl_internals();
#endif
    check_run();
    return check_finish("bench_syscalls");
}
