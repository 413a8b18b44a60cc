/*
 * alloc_info.h - which allocator this binary really uses, and proof of it.
 *
 * The allocator is chosen at build time (meson -Dallocator=...). Reporting
 * the build flag alone would be a claim; alloc_info_verify_override() turns
 * it into evidence by asking the allocator itself whether it served every
 * libc allocation entry point: mimalloc, whether the pointers lie in its
 * heap; jemalloc, whether its count of the bytes this thread allocated grew
 * by at least the request (and its count of bytes freed, on free). The
 * server runs this check at startup and refuses to serve if it fails, so a
 * /bench result can never be attributed to the wrong allocator.
 */
#ifndef TINYSERVER_ALLOC_INFO_H
#define TINYSERVER_ALLOC_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alloc_info {
    const char *name; /* "mimalloc", "jemalloc", "musl-mallocng", "glibc-malloc" or "asan" */
    char version[16]; /* e.g. "2.0.9" */
    bool secure;      /* mimalloc built with MI_SECURE */
};

void alloc_info_get(struct alloc_info *out);

/* For the mimalloc and jemalloc builds: allocates through malloc, calloc,
 * realloc, aligned_alloc, posix_memalign, memalign, valloc, strdup and
 * strndup, checks that the allocator served each one and that
 * malloc_usable_size agrees with the allocator's own, and (jemalloc) that
 * free hands the block back to it. For the musl build there is nothing to
 * prove and it returns true. On failure names the first offending function
 * in `failed` and returns false. */
bool alloc_info_verify_override(char *failed, size_t failed_size);

#if defined(TINYSERVER_HAVE_JEMALLOC)
/* jemalloc's own count of the bytes the calling thread has had from it so
 * far (its "thread.allocated"; always kept, even without its statistics),
 * or, with `freed`, of the bytes it has taken back ("thread.deallocated").
 * An allocation jemalloc served raises the first by at least the size asked
 * for; one that another allocator served leaves it alone, so the two
 * readings around a call say whose block it is without handing jemalloc a
 * foreign pointer. False when jemalloc does not answer. */
bool alloc_info_jemalloc_thread_bytes(bool freed, uint64_t *bytes);
#endif

/* Memory figures for /metrics, in bytes. */
struct alloc_memory {
    size_t resident;      /* VmRSS from /proc/self/status */
    size_t peak_resident; /* VmHWM from /proc/self/status */
    size_t committed;     /* mimalloc's committed memory; 0 for musl and jemalloc */
};

/* mimalloc 2.0.9's mi_process_info() reports "current RSS" on Linux as an
 * estimate equal to its committed memory (measured here: 37 MB committed
 * against 1 MB resident), and its peak comes from getrusage(), whose
 * ru_maxrss survives exec() and so can include the parent's pre-exec size
 * (2.2 MB against a VmHWM of 1 MB). Resident and peak are therefore read
 * from /proc, and mimalloc's commit figure is reported as what it is.
 * Returns false when /proc is unreadable. */
bool alloc_info_process_memory(struct alloc_memory *out);

#endif
