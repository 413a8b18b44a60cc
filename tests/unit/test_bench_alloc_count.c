/* Proves that the compiled workload really calls malloc and free once per
 * iteration: this program is linked with -Wl,--wrap=malloc,--wrap=free, so
 * every call bench.o makes goes through the counters below first. If the
 * optimiser had deleted the allocation, the counts would fall short. */
#include "bench.h"
#include "check.h"

#include <stdatomic.h>
#include <stddef.h>

void *__real_malloc(size_t size);
void __real_free(void *ptr);
void *__wrap_malloc(size_t size);
void __wrap_free(void *ptr);

static atomic_ulong workload_mallocs; /* sizes the workload asks for: 1..1000 */
static atomic_ulong frees;
static atomic_bool counting;
/* Only the worker threads are counted: on the main thread bench_run does
 * its own bookkeeping, and some libcs implement calloc with malloc. */
static _Thread_local bool on_main_thread;

void *__wrap_malloc(size_t size)
{
    if (atomic_load(&counting) && !on_main_thread && size >= 1 && size <= 1000) {
        atomic_fetch_add(&workload_mallocs, 1);
    }
    return __real_malloc(size);
}

void __wrap_free(void *ptr)
{
    if (atomic_load(&counting) && !on_main_thread && ptr != NULL) {
        atomic_fetch_add(&frees, 1);
    }
    __real_free(ptr);
}

int main(void)
{
    const unsigned threads = 4, iterations = 20000;
    struct bench_params params = {.threads = threads, .iterations = iterations};
    struct bench_result result;
    on_main_thread = true;
    atomic_store(&counting, true);
    enum bench_status status = bench_run(&params, NULL, &result);
    atomic_store(&counting, false);
    CHECK(status == BENCH_OK);
    unsigned long expected = (unsigned long)threads * iterations;
    unsigned long mallocs = atomic_load(&workload_mallocs);
    unsigned long freed = atomic_load(&frees);
    printf("expected %lu malloc/free pairs; counted %lu mallocs, %lu frees\n", expected, mallocs,
           freed);
    CHECK(mallocs == expected);
    CHECK(freed == expected);
    return check_finish("bench_alloc_count");
}
