/*
 * alloc_info.h - which allocator this binary really uses, and proof of it.
 *
 * The allocator is chosen at build time (meson -Dallocator=...). Reporting
 * the build flag alone would be a claim; alloc_info_verify_override() turns
 * it into evidence by asking mimalloc whether pointers returned by every
 * libc allocation entry point lie in its heap. The server runs this check
 * at startup and refuses to serve if it fails, so a /bench result can never
 * be attributed to the wrong allocator.
 */
#ifndef TINYSERVER_ALLOC_INFO_H
#define TINYSERVER_ALLOC_INFO_H

#include <stdbool.h>
#include <stddef.h>

struct alloc_info {
    const char *name; /* "mimalloc", "musl-mallocng", "glibc-malloc" or "asan" */
    char version[16]; /* e.g. "2.0.9" */
    bool secure;      /* mimalloc built with MI_SECURE */
};

void alloc_info_get(struct alloc_info *out);

/* For the mimalloc builds: allocates through malloc, calloc, realloc,
 * aligned_alloc, posix_memalign, memalign, valloc, strdup and strndup and
 * checks that each pointer belongs to mimalloc and that malloc_usable_size
 * agrees with mimalloc's. For the musl build there is nothing to prove and
 * it returns true. On failure names the first offending function in
 * `failed` and returns false. */
bool alloc_info_verify_override(char *failed, size_t failed_size);

/* Memory figures for /metrics, in bytes. */
struct alloc_memory {
    size_t resident;      /* VmRSS from /proc/self/status */
    size_t peak_resident; /* VmHWM from /proc/self/status */
    size_t committed;     /* mimalloc's committed memory; 0 for musl */
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
