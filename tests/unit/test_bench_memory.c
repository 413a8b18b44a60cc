/* The memory and CPU figures of a run held to known truths:
 * - a window that holds a known number of MiB shows at least that much
 *   peak above its start, and at least that many live bytes;
 * - once the run has freed it all, what the allocator still holds falls
 *   after its release call (mimalloc's mi_collect) to a small part of it,
 *   and musl's mallocng, which unmaps its large blocks, holds little even
 *   before;
 * - the workers' minor faults are at least the pages they touched for the
 *   first time;
 * - when /proc cannot be read the figures are unavailable, with the
 *   reason, and the run still succeeds.
 * Each run holds more than any before it in this process, so it raises
 * VmHWM and its peak is exact (bench_memory.h); it holds for a thousand
 * replacements besides, so the samples see it too. */
#include "bench.h"
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024u * 1024u)
/* What "a small part" of a held amount is, for retained memory. */
#define SMALL_PART   4u
#define REPLACEMENTS 1000u

/* The largest page the kernel may map on one fault: 4 KiB, or 2 MiB when
 * transparent huge pages are always on (then faults can be fewer). */
static uint64_t largest_fault_bytes(void)
{
    char mode[128] = "";
    FILE *file = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
    if (file != NULL) {
        if (fgets(mode, sizeof(mode), file) == NULL) {
            mode[0] = '\0';
        }
        fclose(file);
    }
    return strstr(mode, "[always]") != NULL ? 2u * MIB : 4096u;
}

/* One thread fills a window of `slots` blocks of exactly 1 MiB, replaces
 * blocks REPLACEMENTS times (each replacement frees one and allocates one,
 * so it holds at least slots - 1 MiB all along, many sampling periods even
 * at the fastest allocator) and frees them all. */
static void check_known_hold(enum bench_allocator allocator, unsigned slots)
{
    const char *name = bench_allocator_name(allocator);
    struct bench_params params = {
        .workload = BENCH_WORKLOAD_WINDOW,
        .threads = 1,
        .iterations = slots + REPLACEMENTS,
        .allocator = allocator,
        .window = {.slots = slots, .min_block = MIB, .max_block = MIB},
    };
    struct bench_result result;
    CHECK_MSG(bench_run(&params, NULL, &result) == BENCH_OK, "%s", name);
    uint64_t held = (uint64_t)slots * MIB;
    const struct bench_memory *memory = &result.memory;
    printf("%s: held %u MiB; peak %llu, retained %lld, after %s %lld bytes; %llu faults; "
           "live peak %llu\n",
           name, slots, (unsigned long long)memory->peak, (long long)memory->retained,
           result.release != NULL ? result.release : "(no release call)",
           (long long)memory->retained_released, (unsigned long long)result.cpu.minor_faults,
           (unsigned long long)result.live_peak);
    CHECK_MSG(memory->known && result.cpu.known, "%s: figures unavailable", name);
    /* Exact when the run raised VmHWM (each holds more than any before it),
     * else sampled over the whole hold. */
    CHECK_MSG(memory->peak >= held - MIB, "%s: peak %llu for %llu held (%s)", name,
              (unsigned long long)memory->peak, (unsigned long long)held,
              memory->peak_exact ? "VmHWM" : "sampled");
    /* Its own window is exact; blocks it handed itself come on top. */
    uint64_t bound = bench_window_bound(&params.window, 1);
    CHECK_MSG(result.live_peak >= held && result.live_peak <= bound, "%s: live peak %llu", name,
              (unsigned long long)result.live_peak);
    /* Every page of the window was new to the process (its peak rose past
     * any before), so each cost a fault on the worker. */
    CHECK_MSG(result.cpu.minor_faults >= held / largest_fault_bytes(), "%s: %llu faults", name,
              (unsigned long long)result.cpu.minor_faults);
    if (result.release != NULL) {
        CHECK(result.memory.retained_released <= result.memory.retained);
        CHECK_MSG(result.memory.retained_released < (int64_t)(held / SMALL_PART),
                  "%s: still %lld bytes after %s", name, (long long)memory->retained_released,
                  result.release);
    }
#if defined(TINYSERVER_BENCH_MUSL_INTERNALS)
    if (strcmp(name, "musl") == 0 && allocator != BENCH_ALLOCATOR_GLOBAL) {
        CHECK_MSG(memory->retained < (int64_t)(held / SMALL_PART), "musl retained %lld",
                  (long long)memory->retained);
    }
#endif
}

/* No /proc: the resident figures are unknown, with the reason; the CPU
 * figures, the syscall counts and the run itself are unaffected. */
static void check_unavailable(void)
{
    struct bench_params params = {.workload = BENCH_WORKLOAD_WINDOW,
                                  .threads = 2,
                                  .iterations = 500,
                                  .memory_dir = "/nonexistent/tinyserver-test"};
    struct bench_result result;
    CHECK(bench_run(&params, NULL, &result) == BENCH_OK);
    CHECK(!result.memory.known && result.memory.error == ENOENT);
    CHECK(result.cpu.known);
    CHECK(result.total_counter == 1000);
}

int main(void)
{
    enum bench_allocator allocators[BENCH_ALLOCATOR_COUNT];
    size_t count = bench_allocators(allocators);
    /* Each run holds more than the last, so that each raises VmHWM. */
    for (size_t i = 0; i < count; i++) {
        check_known_hold(allocators[i], 32u * (1u << i));
    }
    check_unavailable();
    return check_finish("bench_memory");
}
