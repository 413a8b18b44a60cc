/*
 * alloc_info.c - allocator identity and the override check; see alloc_info.h.
 */
#define _GNU_SOURCE
#include "alloc_info.h"

#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>
#else
#include "version.h"
#endif
#if defined(TINYSERVER_HAVE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#endif

/* -Dallocator=musl means "no override": the libc's own malloc, which in a
 * host (glibc) build is glibc's, or AddressSanitizer's when it is on. GCC
 * announces ASan with __SANITIZE_ADDRESS__, Clang 14 with __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define ALLOC_INFO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ALLOC_INFO_ASAN 1
#endif
#endif
#ifndef ALLOC_INFO_ASAN
#define ALLOC_INFO_ASAN 0
#endif

/* Alignment used to probe the aligned entry points: larger than any
 * malloc's natural alignment, so a libc fallback could not fake it. */
#define PROBE_ALIGNMENT 256u
#define PROBE_SIZE      100u

void alloc_info_get(struct alloc_info *out)
{
    memset(out, 0, sizeof(*out));
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
    int v = mi_version();
    out->name = "mimalloc";
    snprintf(out->version, sizeof(out->version), "%d.%d.%d", v / 100, (v / 10) % 10, v % 10);
#if defined(TINYSERVER_ALLOCATOR_SECURE)
    out->secure = true;
#endif
#elif defined(TINYSERVER_ALLOCATOR_JEMALLOC)
    /* The linked library's own version ("5.3.1-0-g<commit>"), up to the
     * first '-'. */
    const char *version = NULL;
    size_t len = sizeof(version);
    out->name = "jemalloc";
    if (je_mallctl("version", (void *)&version, &len, NULL, 0) != 0 || version == NULL) {
        version = "unknown";
    }
    snprintf(out->version, sizeof(out->version), "%.*s", (int)strcspn(version, "-"), version);
#elif ALLOC_INFO_ASAN
    /* A sanitizer build (scripts/sanitize.sh): AddressSanitizer's runtime
     * intercepts malloc and friends, so its allocator is the one in use.
     * It ships with the compiler, whose version it carries. */
    const char *compiler_version = strchr(TINYSERVER_COMPILER, ' ');
    out->name = "asan";
    snprintf(out->version, sizeof(out->version), "%s",
             compiler_version != NULL ? compiler_version + 1 : TINYSERVER_COMPILER);
#elif defined(__GLIBC__)
    out->name = "glibc-malloc";
    snprintf(out->version, sizeof(out->version), "%s", TINYSERVER_LIBC_VERSION);
#else
    out->name = "musl-mallocng";
    snprintf(out->version, sizeof(out->version), "%s", TINYSERVER_LIBC_VERSION);
#endif
}

#if defined(TINYSERVER_HAVE_JEMALLOC)
bool alloc_info_jemalloc_thread_bytes(bool freed, uint64_t *bytes)
{
    size_t len = sizeof(*bytes);
    return je_mallctl(freed ? "thread.deallocated" : "thread.allocated", bytes, &len, NULL, 0) ==
               0 &&
           len == sizeof(*bytes);
}
#endif

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC) || defined(TINYSERVER_ALLOCATOR_JEMALLOC)
/* One libc entry point each: returns a block of at least `size` bytes from
 * it (NULL on failure), where `size` is what struct probe says. */
static void *probe_malloc(void)
{
    return malloc(PROBE_SIZE);
}

static void *probe_calloc(void)
{
    return calloc(1, PROBE_SIZE);
}

static void *probe_realloc_null(void)
{
    return realloc(NULL, PROBE_SIZE);
}

/* realloc must also move a live block within the allocator's heap. */
static void *probe_realloc_grow(void)
{
    void *p = malloc(PROBE_SIZE);
    void *grown = p != NULL ? realloc(p, PROBE_SIZE * 64) : NULL;
    if (grown == NULL) {
        free(p);
    }
    return grown;
}

static void *probe_aligned_alloc(void)
{
    return aligned_alloc(PROBE_ALIGNMENT, PROBE_ALIGNMENT);
}

static void *probe_posix_memalign(void)
{
    void *p = NULL;
    return posix_memalign(&p, PROBE_ALIGNMENT, PROBE_SIZE) == 0 ? p : NULL;
}

static void *probe_memalign(void)
{
    return memalign(PROBE_ALIGNMENT, PROBE_SIZE);
}

static void *probe_valloc(void)
{
    return valloc(PROBE_SIZE);
}

static void *probe_strdup(void)
{
    return strdup("probe");
}

static void *probe_strndup(void)
{
    return strndup("probe", 3);
}

static const struct probe {
    const char *function;
    void *(*allocate)(void);
    size_t size; /* bytes the block has at least */
} probes[] = {
    {"malloc", probe_malloc, PROBE_SIZE},
    {"calloc", probe_calloc, PROBE_SIZE},
    {"realloc", probe_realloc_null, PROBE_SIZE},
    {"aligned_alloc", probe_aligned_alloc, PROBE_ALIGNMENT},
    {"posix_memalign", probe_posix_memalign, PROBE_SIZE},
    {"memalign", probe_memalign, PROBE_SIZE},
    {"valloc", probe_valloc, PROBE_SIZE},
    {"strdup", probe_strdup, sizeof("probe")},
    {"strndup", probe_strndup, 4},
    {"realloc (grow)", probe_realloc_grow, PROBE_SIZE * 64},
};

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
/* Runs one probe and, when mimalloc owns its block, frees it. A foreign
 * pointer is deliberately leaked: handing it to mimalloc's free() is the
 * very crash this check exists to prevent, and startup fails anyway. */
static bool probe_owned(const struct probe *probe)
{
    void *p = probe->allocate();
    if (p == NULL || !mi_is_in_heap_region(p) || malloc_usable_size(p) != mi_usable_size(p)) {
        return false;
    }
    free(p);
    return true;
}
#else
/* The same for jemalloc, which has no "is this mine" query that is safe on
 * a foreign pointer: its counters of this thread's bytes say instead
 * whether it served the allocation, and then whether free gave it back. */
static bool probe_owned(const struct probe *probe)
{
    uint64_t before, after;
    if (!alloc_info_jemalloc_thread_bytes(false, &before)) {
        return false;
    }
    void *p = probe->allocate();
    if (p == NULL || !alloc_info_jemalloc_thread_bytes(false, &after) ||
        after - before < probe->size || malloc_usable_size(p) != je_malloc_usable_size(p)) {
        return false;
    }
    if (!alloc_info_jemalloc_thread_bytes(true, &before)) {
        return false;
    }
    free(p);
    return alloc_info_jemalloc_thread_bytes(true, &after) && after - before >= probe->size;
}
#endif

bool alloc_info_verify_override(char *failed, size_t failed_size)
{
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        if (!probe_owned(&probes[i])) {
            snprintf(failed, failed_size, "%s", probes[i].function);
            return false;
        }
    }
    return true;
}
#else
bool alloc_info_verify_override(char *failed, size_t failed_size)
{
    (void)failed;
    (void)failed_size;
    return true;
}
#endif

/* Reads a "Name:   123 kB" line of /proc/self/status. */
static bool status_kib(const char *text, const char *name, size_t *bytes)
{
    const char *line = strstr(text, name);
    unsigned long kib;
    if (line == NULL || sscanf(line + strlen(name), " %lu", &kib) != 1) {
        return false;
    }
    *bytes = (size_t)kib * 1024u;
    return true;
}

bool alloc_info_process_memory(struct alloc_memory *out)
{
    memset(out, 0, sizeof(*out));
    char text[4096];
    FILE *file = fopen("/proc/self/status", "re");
    if (file == NULL) {
        return false;
    }
    size_t len = fread(text, 1, sizeof(text) - 1, file);
    fclose(file);
    text[len] = '\0';
    bool ok = status_kib(text, "VmRSS:", &out->resident) &&
              status_kib(text, "VmHWM:", &out->peak_resident);
#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
    size_t elapsed_ms, user_ms, system_ms, estimated_rss, rusage_peak, peak_commit, page_faults;
    mi_process_info(&elapsed_ms, &user_ms, &system_ms, &estimated_rss, &rusage_peak,
                    &out->committed, &peak_commit, &page_faults);
#endif
    return ok;
}
