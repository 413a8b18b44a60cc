/* What a run does when not every worker thread can be created: it must
 * report BENCH_THREAD_FAILED, and it must not hang, even in the workloads
 * whose threads wait for each other (xthread's producers wait for
 * consumers that never came, and its consumers for producers). This
 * program is linked with -Wl,--wrap=pthread_create, so creation can be made
 * to fail after a chosen number of threads. Meson's timeout catches a hang. */
#include "bench.h"
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                          void *arg);
int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                          void *arg);

static atomic_int creations_left; /* below 0: no limit */

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *),
                          void *arg)
{
    if (atomic_load(&creations_left) >= 0 && atomic_fetch_sub(&creations_left, 1) <= 0) {
        return EAGAIN;
    }
    return __real_pthread_create(thread, attr, start, arg);
}

int main(void)
{
    const unsigned threads = 5; /* xthread: 3 producers, 2 consumers */
    for (unsigned id = 0; id < BENCH_WORKLOAD_COUNT; id++) {
        for (int started = 0; started < (int)threads; started++) {
            struct bench_params params = {
                .workload = (enum bench_workload)id, .threads = threads, .iterations = 200000};
            struct bench_result result;
            atomic_store(&creations_left, started);
            enum bench_status status = bench_run(&params, NULL, &result);
            CHECK_MSG(status == BENCH_THREAD_FAILED, "%s with %d of %u threads: %s",
                      bench_workload_name(params.workload), started, threads,
                      bench_status_message(status));
        }
        /* and the same run with every thread is fine */
        atomic_store(&creations_left, -1);
        struct bench_params params = {
            .workload = (enum bench_workload)id, .threads = threads, .iterations = 1000};
        struct bench_result result;
        CHECK(bench_run(&params, NULL, &result) == BENCH_OK);
        CHECK(result.total_counter == (uint64_t)threads * 1000);
    }
    return check_finish("bench_spawn_fail");
}
