/*
 * bench_syscalls.h - counting the memory-mapping calls a benchmark's worker
 * threads make: mmap, munmap, madvise and mprotect.
 *
 * The static binary is linked with -Wl,--wrap for each of them (the core
 * dependency in src/meson.build carries the flags), so every call from any
 * object, mimalloc's and jemalloc's included, goes through the wrappers in
 * bench_syscalls.c first. musl's own code calls the internal names
 * (__mmap, __munmap, __madvise, __mprotect: its mallocng and
 * pthread_create do), and those are wrapped too in a musl build.
 *
 * What no link can see: calls made with a raw system call (musl's mallocng
 * grows its bookkeeping area with brk that way, and posix_madvise is a raw
 * madvise), and mremap, which is not counted.
 *
 * Counting is per thread: a thread counts into the struct it named with
 * bench_syscalls_count_into(), and nothing when it named none. A wrapper has
 * no argument to carry that struct, so the choice lives in one thread-local
 * pointer; the worker threads of a run each count into their own struct,
 * so other threads of the process (the HTTP server's) are never counted and
 * the counters need no atomics.
 */
#ifndef TINYSERVER_BENCH_SYSCALLS_H
#define TINYSERVER_BENCH_SYSCALLS_H

#include <stdint.h>

struct bench_syscall_counts {
    uint64_t mmap;
    uint64_t munmap;
    uint64_t madvise;
    uint64_t mprotect;
};

/* From now on, the calling thread's calls are added to *counts (which must
 * outlive the counting); NULL stops counting. */
void bench_syscalls_count_into(struct bench_syscall_counts *counts);

/* Adds `from` into `into`. */
void bench_syscalls_add(struct bench_syscall_counts *into, const struct bench_syscall_counts *from);

#endif
