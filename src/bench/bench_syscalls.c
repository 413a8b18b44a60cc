/*
 * bench_syscalls.c - the --wrap wrappers that count memory-mapping calls;
 * see bench_syscalls.h. Each wrapper counts, then calls the real function
 * (__real_NAME is what NAME meant before the wrap).
 */
#include "bench_syscalls.h"

#include <stddef.h>
#include <sys/types.h>

/* The calling thread's counters, or NULL when it does not count. */
static _Thread_local struct bench_syscall_counts *counting_into;

void bench_syscalls_count_into(struct bench_syscall_counts *counts)
{
    counting_into = counts;
}

void bench_syscalls_add(struct bench_syscall_counts *into, const struct bench_syscall_counts *from)
{
    into->mmap += from->mmap;
    into->munmap += from->munmap;
    into->madvise += from->madvise;
    into->mprotect += from->mprotect;
}

#define COUNT(field)                                                                               \
    do {                                                                                           \
        if (counting_into != NULL) {                                                               \
            counting_into->field++;                                                                \
        }                                                                                          \
    } while (0)

/* The prototypes are musl's and glibc's (sys/mman.h); declared here rather
 * than included so that the wrappers' names are the only ones this file
 * defines. */
#define WRAP_MMAP(name)                                                                            \
    void *__real_##name(void *addr, size_t len, int prot, int flags, int fd, off_t off);           \
    void *__wrap_##name(void *addr, size_t len, int prot, int flags, int fd, off_t off);           \
    void *__wrap_##name(void *addr, size_t len, int prot, int flags, int fd, off_t off)            \
    {                                                                                              \
        COUNT(mmap);                                                                               \
        return __real_##name(addr, len, prot, flags, fd, off);                                     \
    }
#define WRAP_MUNMAP(name)                                                                          \
    int __real_##name(void *addr, size_t len);                                                     \
    int __wrap_##name(void *addr, size_t len);                                                     \
    int __wrap_##name(void *addr, size_t len)                                                      \
    {                                                                                              \
        COUNT(munmap);                                                                             \
        return __real_##name(addr, len);                                                           \
    }
#define WRAP_MADVISE(name)                                                                         \
    int __real_##name(void *addr, size_t len, int advice);                                         \
    int __wrap_##name(void *addr, size_t len, int advice);                                         \
    int __wrap_##name(void *addr, size_t len, int advice)                                          \
    {                                                                                              \
        COUNT(madvise);                                                                            \
        return __real_##name(addr, len, advice);                                                   \
    }
#define WRAP_MPROTECT(name)                                                                        \
    int __real_##name(void *addr, size_t len, int prot);                                           \
    int __wrap_##name(void *addr, size_t len, int prot);                                           \
    int __wrap_##name(void *addr, size_t len, int prot)                                            \
    {                                                                                              \
        COUNT(mprotect);                                                                           \
        return __real_##name(addr, len, prot);                                                     \
    }

WRAP_MMAP(mmap)
WRAP_MUNMAP(munmap)
WRAP_MADVISE(madvise)
WRAP_MPROTECT(mprotect)
#if defined(__GLIBC__)
/* glibc's sys/mman.h renames mmap to mmap64 under _FILE_OFFSET_BITS=64. */
WRAP_MMAP(mmap64)
#endif
#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
/* musl's internal names, which its mallocng and threads call. */
WRAP_MMAP(__mmap)
WRAP_MUNMAP(__munmap)
WRAP_MADVISE(__madvise)
WRAP_MPROTECT(__mprotect)
#endif
