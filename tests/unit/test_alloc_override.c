/* Proves mimalloc (or, in the -Dallocator=jemalloc build, jemalloc) owns
 * the C allocation functions in this static link. Independent of
 * alloc_info.c's own check: asks the allocator directly. In the
 * musl-allocator build there is no override, and the test checks instead
 * that the report says so. */
#define _GNU_SOURCE
#include "alloc_info.h"
#include "check.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(TINYSERVER_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>

static void check_owned(void *p, const char *what)
{
    CHECK_MSG(p != NULL && mi_is_in_heap_region(p), "%s pointer not in mimalloc's heap", what);
}

int main(void)
{
    void *p;
    p = malloc(24);
    check_owned(p, "malloc");
    CHECK(malloc_usable_size(p) == mi_usable_size(p));
    p = realloc(p, 100000);
    check_owned(p, "realloc");
    free(p);
    p = calloc(10, 10);
    check_owned(p, "calloc");
    free(p);
    p = aligned_alloc(4096, 4096);
    check_owned(p, "aligned_alloc");
    CHECK(((uintptr_t)p % 4096) == 0);
    free(p);
    CHECK(posix_memalign(&p, 512, 10) == 0);
    check_owned(p, "posix_memalign");
    free(p);
    p = memalign(1024, 10);
    check_owned(p, "memalign");
    free(p);
    p = valloc(10);
    check_owned(p, "valloc");
    free(p);
    p = strdup("tinyserver");
    check_owned(p, "strdup");
    free(p);
    p = strndup("tinyserver", 4);
    check_owned(p, "strndup");
    free(p);

    char failed[64] = "";
    CHECK_MSG(alloc_info_verify_override(failed, sizeof(failed)), "alloc_info: %s", failed);
    struct alloc_info info;
    alloc_info_get(&info);
    CHECK(strcmp(info.name, "mimalloc") == 0);
    CHECK(info.version[0] >= '1' && info.version[0] <= '9');
#if defined(TINYSERVER_ALLOCATOR_SECURE)
    CHECK(info.secure);
#else
    CHECK(!info.secure);
#endif
    return check_finish("alloc_override");
}
#elif defined(TINYSERVER_ALLOCATOR_JEMALLOC)
#include <jemalloc/jemalloc.h>

/* jemalloc's count of the bytes this thread allocated ("thread.allocated")
 * or freed ("thread.deallocated"), asked directly. */
static uint64_t thread_bytes(const char *name)
{
    uint64_t bytes = 0;
    size_t len = sizeof(bytes);
    CHECK_MSG(je_mallctl(name, &bytes, &len, NULL, 0) == 0, "mallctl %s", name);
    return bytes;
}

static uint64_t allocated_mark;

static void mark(void)
{
    allocated_mark = thread_bytes("thread.allocated");
}

/* The allocation since mark() must have been jemalloc's, of at least
 * `size` bytes; then free() must hand it back to jemalloc. */
static void check_owned_and_free(void *p, size_t size, const char *what)
{
    CHECK_MSG(p != NULL, "%s returned NULL", what);
    uint64_t grown = thread_bytes("thread.allocated") - allocated_mark;
    CHECK_MSG(grown >= size, "%s: jemalloc counted %llu bytes, not %zu", what,
              (unsigned long long)grown, size);
    CHECK(malloc_usable_size(p) == je_malloc_usable_size(p));
    uint64_t freed = thread_bytes("thread.deallocated");
    free(p);
    CHECK_MSG(thread_bytes("thread.deallocated") - freed >= size, "free of %s not jemalloc's",
              what);
}

int main(void)
{
    void *p;
    mark();
    p = malloc(24);
    check_owned_and_free(p, 24, "malloc");
    p = malloc(24);
    mark();
    p = realloc(p, 100000);
    check_owned_and_free(p, 100000, "realloc");
    mark();
    p = calloc(10, 10);
    check_owned_and_free(p, 100, "calloc");
    CHECK(((unsigned char *)(p = calloc(1, 64)))[63] == 0);
    free(p);
    mark();
    p = aligned_alloc(4096, 4096);
    CHECK(((uintptr_t)p % 4096) == 0);
    check_owned_and_free(p, 4096, "aligned_alloc");
    mark();
    CHECK(posix_memalign(&p, 512, 10) == 0);
    CHECK(((uintptr_t)p % 512) == 0);
    check_owned_and_free(p, 10, "posix_memalign");
    mark();
    p = memalign(1024, 10);
    check_owned_and_free(p, 10, "memalign");
    mark();
    p = valloc(10);
    check_owned_and_free(p, 10, "valloc");
    mark();
    p = strdup("tinyserver");
    check_owned_and_free(p, 11, "strdup");
    mark();
    p = strndup("tinyserver", 4);
    check_owned_and_free(p, 5, "strndup");

    char failed[64] = "";
    CHECK_MSG(alloc_info_verify_override(failed, sizeof(failed)), "alloc_info: %s", failed);
    struct alloc_info info;
    alloc_info_get(&info);
    CHECK(strcmp(info.name, "jemalloc") == 0);
    CHECK_MSG(strncmp(info.version, "5.", 2) == 0, "version %s", info.version);
    CHECK(!info.secure);
    return check_finish("alloc_override");
}
#else
/* Clang 14 announces ASan only through __has_feature, which GCC 12 lacks. */
#if defined(__has_feature)
#define TEST_HAS_ASAN __has_feature(address_sanitizer)
#else
#define TEST_HAS_ASAN 0
#endif

int main(void)
{
    struct alloc_info info;
    alloc_info_get(&info);
    /* No override: the libc's own malloc, or ASan's in a sanitizer build. */
#if defined(__SANITIZE_ADDRESS__) || TEST_HAS_ASAN
    CHECK(strcmp(info.name, "asan") == 0);
#elif defined(__GLIBC__)
    CHECK(strcmp(info.name, "glibc-malloc") == 0);
#else
    CHECK(strcmp(info.name, "musl-mallocng") == 0);
#endif
    CHECK(!info.secure);
    char failed[64];
    CHECK(alloc_info_verify_override(failed, sizeof(failed)));
    return check_finish("alloc_override");
}
#endif
