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

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
/* Checks one pointer and, when mimalloc owns it, frees it. A foreign
 * pointer is deliberately leaked: handing it to mimalloc's free() is the
 * very crash this check exists to prevent, and startup fails anyway. */
static bool owned_by_mimalloc(void *p, const char *function, char *failed, size_t failed_size)
{
    if (p == NULL || !mi_is_in_heap_region(p) || malloc_usable_size(p) != mi_usable_size(p)) {
        snprintf(failed, failed_size, "%s", function);
        return false;
    }
    free(p);
    return true;
}

bool alloc_info_verify_override(char *failed, size_t failed_size)
{
    void *p = NULL;
    if (!owned_by_mimalloc(malloc(PROBE_SIZE), "malloc", failed, failed_size) ||
        !owned_by_mimalloc(calloc(1, PROBE_SIZE), "calloc", failed, failed_size) ||
        !owned_by_mimalloc(realloc(NULL, PROBE_SIZE), "realloc", failed, failed_size) ||
        !owned_by_mimalloc(aligned_alloc(PROBE_ALIGNMENT, PROBE_ALIGNMENT), "aligned_alloc", failed,
                           failed_size) ||
        !owned_by_mimalloc(memalign(PROBE_ALIGNMENT, PROBE_SIZE), "memalign", failed,
                           failed_size) ||
        !owned_by_mimalloc(valloc(PROBE_SIZE), "valloc", failed, failed_size) ||
        !owned_by_mimalloc(strdup("probe"), "strdup", failed, failed_size) ||
        !owned_by_mimalloc(strndup("probe", 3), "strndup", failed, failed_size)) {
        return false;
    }
    if (posix_memalign(&p, PROBE_ALIGNMENT, PROBE_SIZE) != 0) {
        snprintf(failed, failed_size, "posix_memalign");
        return false;
    }
    if (!owned_by_mimalloc(p, "posix_memalign", failed, failed_size)) {
        return false;
    }
    /* realloc must also move a live block within mimalloc's heap. */
    p = malloc(PROBE_SIZE);
    void *grown = p != NULL ? realloc(p, PROBE_SIZE * 64) : NULL;
    if (grown == NULL) {
        free(p);
        snprintf(failed, failed_size, "realloc (grow)");
        return false;
    }
    return owned_by_mimalloc(grown, "realloc (grow)", failed, failed_size);
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
