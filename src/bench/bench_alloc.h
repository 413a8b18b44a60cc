/*
 * bench_alloc.h - the allocators a workload calls directly, and how one
 * compiled copy of a workload is bound to one of them.
 *
 * Each workload (bench_seed.c, bench_xthread.c, bench_larson.c,
 * bench_window.c) and bench_release.c are compiled
 * once per allocator path, with exactly one of these defined (src/meson.build
 * does it), so the hot loop calls the allocator itself, never through a
 * function pointer:
 *
 *   BENCH_PATH_GLOBAL  malloc and free: the process's own allocator, the one
 *                      -Dallocator chose (mimalloc by default).
 *   BENCH_PATH_MUSL    musl's mallocng through the entry points its libc.a
 *                      keeps beside a replaced malloc: __libc_malloc_impl and
 *                      __libc_free. Built when the global allocator is a
 *                      mimalloc and the libc is musl.
 *   BENCH_PATH_SECURE  a second mimalloc, built with MI_SECURE=4, whose every
 *                      global symbol carries BENCH_SECURE_PREFIX (made by
 *                      scripts/lib/prefix-symbols.sh), so its malloc is
 *                      <prefix>malloc. Built when the global allocator is
 *                      plain mimalloc.
 *   BENCH_PATH_JEMALLOC jemalloc, built with the je_ prefix on every public
 *                      function (scripts/deps.sh), so je_malloc and je_free
 *                      sit beside any global allocator and replace nothing.
 *                      Built when the build has jemalloc (-Djemalloc) and
 *                      it is not already the global allocator.
 *
 * The build says which paths exist with TINYSERVER_BENCH_MUSL,
 * TINYSERVER_BENCH_SECURE and TINYSERVER_BENCH_JEMALLOC.
 */
#ifndef TINYSERVER_BENCH_ALLOC_H
#define TINYSERVER_BENCH_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#define BENCH_PASTE_(a, b) a##b
#define BENCH_PASTE(a, b)  BENCH_PASTE_(a, b)

#if defined(TINYSERVER_BENCH_MUSL)
/* musl 1.2.3 src/malloc/mallocng/glue.h names mallocng's malloc and free so;
 * they stay global in libc.a. */
void *__libc_malloc_impl(size_t size);
void __libc_free(void *ptr);
#endif

#if defined(TINYSERVER_BENCH_SECURE)
/* The secure instance's own name for a mimalloc symbol. */
#define BENCH_SECURE(name) BENCH_PASTE(BENCH_SECURE_PREFIX, name)
void *BENCH_SECURE(malloc)(size_t size);
void BENCH_SECURE(free)(void *ptr);
bool BENCH_SECURE(mi_is_in_heap_region)(const void *ptr);
#endif

#if defined(TINYSERVER_BENCH_JEMALLOC)
/* jemalloc/jemalloc.h declares them too; these two are all a path needs. */
void *je_malloc(size_t size);
void je_free(void *ptr);
#endif

#if defined(BENCH_PATH_MUSL)
#define bench_path_malloc __libc_malloc_impl
#define bench_path_free   __libc_free
#define BENCH_PATH_SUFFIX musl
#elif defined(BENCH_PATH_SECURE)
#define bench_path_malloc BENCH_SECURE(malloc)
#define bench_path_free   BENCH_SECURE(free)
#define BENCH_PATH_SUFFIX secure
#elif defined(BENCH_PATH_JEMALLOC)
#define bench_path_malloc je_malloc
#define bench_path_free   je_free
#define BENCH_PATH_SUFFIX jemalloc
#elif defined(BENCH_PATH_GLOBAL)
#define bench_path_malloc malloc
#define bench_path_free   free
#define BENCH_PATH_SUFFIX global
#endif

/* Each path says how its allocator gives memory back after a run:
 * bench_path_release() is that call and BENCH_PATH_RELEASE_NAME names it
 * for the JSON; a path without one (musl's mallocng returns memory itself)
 * defines neither. */
#if defined(BENCH_PATH_SECURE)
void BENCH_SECURE(mi_collect)(bool force);
#define bench_path_release()    BENCH_SECURE(mi_collect)(true)
#define BENCH_PATH_RELEASE_NAME "mi_collect(true)"
#elif defined(BENCH_PATH_GLOBAL) && defined(TINYSERVER_ALLOCATOR_MIMALLOC)
void mi_collect(bool force);
#define bench_path_release()    mi_collect(true)
#define BENCH_PATH_RELEASE_NAME "mi_collect(true)"
#elif defined(BENCH_PATH_JEMALLOC) ||                                                              \
    (defined(BENCH_PATH_GLOBAL) && defined(TINYSERVER_ALLOCATOR_JEMALLOC))
/* 4096 is MALLCTL_ARENAS_ALL in jemalloc 5.x: purge every arena's unused
 * dirty and muzzy pages (the run's threads have exited, so their caches
 * are already back in the arenas). */
int je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
#define BENCH_JEMALLOC_PURGE    "arena.4096.purge"
#define bench_path_release()    (void)je_mallctl(BENCH_JEMALLOC_PURGE, NULL, NULL, NULL, 0)
#define BENCH_PATH_RELEASE_NAME "mallctl(\"" BENCH_JEMALLOC_PURGE "\")"
#endif

/* The name of a workload's operations table in one path's copy, e.g.
 * bench_workload_seed_musl. */
#define BENCH_WORKLOAD_OPS(workload, path) bench_workload_##workload##_##path
/* The name of a path's release (struct bench_release), e.g. bench_release_musl. */
#define BENCH_RELEASE(path) bench_release_##path
#define BENCH_THIS_RELEASE  BENCH_PASTE(bench_release_, BENCH_PATH_SUFFIX)
/* The same, for the path this object is compiled for. */
#define BENCH_THIS_WORKLOAD_OPS(workload)                                                          \
    BENCH_PASTE(BENCH_PASTE(bench_workload_, workload), BENCH_PASTE(_, BENCH_PATH_SUFFIX))

#endif
