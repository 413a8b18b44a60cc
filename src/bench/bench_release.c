/*
 * bench_release.c - how this path's allocator is asked to give memory back
 * after a run (bench_alloc.h defines the call per path). Compiled once per
 * allocator path, like the workloads.
 */
#include "bench_workload.h"

#if defined(BENCH_PATH_RELEASE_NAME)
static void release(void)
{
    bench_path_release();
}

const struct bench_release BENCH_THIS_RELEASE = {
    .name = BENCH_PATH_RELEASE_NAME,
    .release = release,
};
#else
const struct bench_release BENCH_THIS_RELEASE = {
    .name = NULL,
    .release = NULL,
};
#endif
