/*
 * jemalloc_override.c - makes jemalloc the whole process's allocator, for
 * -Dallocator=jemalloc.
 *
 * scripts/deps.sh builds jemalloc once, with the je_ prefix on every public
 * function, so that the same library can also sit beside mimalloc as a
 * /bench path. Here the C allocation functions hand over to it. Linked as
 * an object (like mimalloc's override), ahead of libc.a, so the linker takes
 * these definitions and never pulls musl's malloc, free, calloc, realloc or
 * aligned-allocation members. Every entry point that would otherwise reach
 * mallocng with a jemalloc block is here: musl's calloc in particular asks
 * mallocng whether a block is already zero, and its memalign, valloc and
 * posix_memalign go through its aligned_alloc. What musl's own internals
 * call directly (__libc_malloc: aio, dlerror, sem_open) stays on mallocng,
 * in consistent pairs, as beside mimalloc.
 *
 * alloc_info_verify_override() proves at start-up that each of these
 * reaches jemalloc.
 */
#define _GNU_SOURCE
#include <jemalloc/jemalloc.h>
#include <malloc.h>
#include <stdlib.h>

void *malloc(size_t size)
{
    return je_malloc(size);
}

void free(void *ptr)
{
    je_free(ptr);
}

void *calloc(size_t count, size_t size)
{
    return je_calloc(count, size);
}

void *realloc(void *ptr, size_t size)
{
    return je_realloc(ptr, size);
}

void *aligned_alloc(size_t alignment, size_t size)
{
    return je_aligned_alloc(alignment, size);
}

int posix_memalign(void **out, size_t alignment, size_t size)
{
    return je_posix_memalign(out, alignment, size);
}

void *memalign(size_t alignment, size_t size)
{
    return je_memalign(alignment, size);
}

void *valloc(size_t size)
{
    return je_valloc(size);
}

size_t malloc_usable_size(void *ptr)
{
    return je_malloc_usable_size(ptr);
}
