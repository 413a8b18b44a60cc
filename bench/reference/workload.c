/*
 * workload.c - tinyserver's allocation workloads as a plain C program, for
 * the reference rows of bench/compare.sh: glibc's malloc, and jemalloc or
 * tcmalloc through LD_PRELOAD. Context only; it is not shipped.
 *
 * It compiles tinyserver's own src/bench/bench*.c unchanged (compare.sh passes
 * them to the compiler), validates its arguments with the same
 * bench_params_parse, and prints the same result fields as --bench, plus
 * the file the malloc it actually called came from, so a preload that did
 * not take cannot pass for another allocator.
 *
 * usage: workload [--workload NAME] [--threads N] [--iterations N]
 */
#define _GNU_SOURCE
#include "bench.h"
#include "bench_params.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define REFERENCE_MAX_THREADS    4096u
#define REFERENCE_MAX_ITERATIONS 1000000000u
#define REFERENCE_MAX_ARGS       8u

/* The shared object whose malloc the process resolves to (the executable
 * itself in a static link). */
static const char *malloc_origin(void)
{
    Dl_info info;
    void *resolved = dlsym(RTLD_DEFAULT, "malloc");
    if (resolved == NULL || dladdr(resolved, &info) == 0 || info.dli_fname == NULL) {
        return "unknown";
    }
    return info.dli_fname;
}

/* The run's memory and CPU, as --bench names them (null when unreadable).
 * No mapping-call counts: the link-time wraps see only the program's own
 * calls, and a shared allocator's mmap calls bypass them. */
static void print_costs(const struct bench_result *result)
{
    const struct bench_memory *memory = &result->memory;
    const struct bench_cpu *cpu = &result->cpu;
    if (memory->known) {
        printf("\"memory\":{\"peak_bytes\":%llu,\"retained_bytes\":%lld,"
               "\"retained_after_release_bytes\":%lld},",
               (unsigned long long)memory->peak, (long long)memory->retained,
               (long long)memory->retained_released);
    } else {
        printf("\"memory\":{\"peak_bytes\":null,\"retained_bytes\":null,"
               "\"retained_after_release_bytes\":null},");
    }
    if (cpu->known) {
        printf("\"cpu\":{\"system_ms\":%.3f,\"minor_faults\":%llu}", (double)cpu->system_us / 1000,
               (unsigned long long)cpu->minor_faults);
    } else {
        printf("\"cpu\":{\"system_ms\":null,\"minor_faults\":null}");
    }
}

int main(int argc, char *argv[])
{
    /* "--name value" pairs go to the validator as they are, so unknown or
     * repeated names are rejected just as --bench rejects them. */
    struct param_pair pairs[REFERENCE_MAX_ARGS];
    size_t count = 0;
    for (int i = 1; i < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc || count == REFERENCE_MAX_ARGS) {
            fprintf(stderr, "usage: %s [--workload NAME] [--threads N] [--iterations N]\n",
                    argv[0]);
            return 2;
        }
        pairs[count++] = (struct param_pair){argv[i] + 2, argv[i + 1], strlen(argv[i + 1])};
    }
    struct bench_limits limits = {
        .max_threads = REFERENCE_MAX_THREADS,
        .max_iterations = REFERENCE_MAX_ITERATIONS,
        .default_threads = 1,
        .default_iterations = BENCH_DEFAULT_ITERATIONS,
    };
    struct bench_request request;
    struct bench_params_error error;
    if (!bench_params_parse(pairs, count, &limits, &request, &error)) {
        fprintf(stderr, "%s: %s\n", argv[0], error.message);
        return 2;
    }
    if (request.all_allocators) {
        fprintf(stderr, "%s: one allocator only: the reference has no allocator=all\n", argv[0]);
        return 2;
    }
    struct bench_result result;
    enum bench_status status = bench_run(&request.params, NULL, &result);
    if (status != BENCH_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], bench_status_message(status));
        return 1;
    }
    printf("{\"workload\":\"%s\",\"threads\":%u,\"iterations\":%u,\"operations\":%llu,"
           "\"total_counter\":%llu,\"elapsed_ms\":%.6f,\"ops_per_sec\":%.0f,",
           bench_workload_name(result.workload), result.threads, result.iterations,
           (unsigned long long)result.operations, (unsigned long long)result.total_counter,
           result.elapsed_ms, result.ops_per_sec);
    print_costs(&result);
    printf(",\"malloc_from\":\"%s\"}\n", malloc_origin());
    return 0;
}
