/*
 * bench_compare.c - interleaved runs of several allocators; see
 * bench_compare.h.
 */
#include "bench_compare.h"

#include "clock.h"
#include "threads.h"

#include <string.h>

static double median(double *values, unsigned count)
{
    /* Insertion sort: at most BENCH_MAX_REPEAT values. */
    for (unsigned i = 1; i < count; i++) {
        double v = values[i];
        unsigned j = i;
        for (; j > 0 && values[j - 1] > v; j--) {
            values[j] = values[j - 1];
        }
        values[j] = v;
    }
    return count % 2 == 1 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

static void plan(const struct bench_request *request, struct bench_comparison *out)
{
    memset(out, 0, sizeof(*out));
    if (request->all_allocators) {
        out->allocator_count = bench_allocators(out->allocators);
    } else {
        out->allocators[0] = request->params.allocator;
        out->allocator_count = 1;
    }
    out->repeat = request->repeat >= 1 && request->repeat <= BENCH_MAX_REPEAT ? request->repeat : 1;
    out->baseline = out->allocator_count;
    enum bench_allocator musl;
    for (size_t i = 0; i < out->allocator_count; i++) {
        if (bench_allocator_find("musl", 4, &musl) && out->allocators[i] == musl) {
            out->baseline = i;
        }
    }
}

/* The stop for the next run: the request's flags, and of its time cap
 * what is left since `start_ns`. False when nothing is left. */
static bool next_stop(const struct bench_stop *stop, uint64_t start_ns, struct bench_stop *next)
{
    *next = stop != NULL ? *stop : (struct bench_stop){.max_ms = 0};
    if (next->max_ms == 0) {
        return true;
    }
    uint64_t spent_ms = (clock_monotonic_ns() - start_ns) / CLOCK_NS_PER_MS;
    if (spent_ms >= next->max_ms) {
        return false;
    }
    next->max_ms -= (unsigned)spent_ms;
    return true;
}

/* summary.FIELD = the median over the rounds of allocator i's runs' FIELD. */
#define SUMMARY_MEDIAN(comparison, i, field)                                                       \
    do {                                                                                           \
        double values_[BENCH_MAX_REPEAT];                                                          \
        for (unsigned r_ = 0; r_ < (comparison)->repeat; r_++) {                                   \
            values_[r_] = (double)(comparison)->runs[r_][i].field;                                 \
        }                                                                                          \
        (comparison)->summary[i].field =                                                           \
            (__typeof__((comparison)->summary[i].field))median(values_, (comparison)->repeat);     \
    } while (0)

static void summarise(struct bench_comparison *comparison, size_t i)
{
    struct bench_result *summary = &comparison->summary[i];
    *summary = comparison->runs[0][i];
    SUMMARY_MEDIAN(comparison, i, elapsed_ms);
    SUMMARY_MEDIAN(comparison, i, ops_per_sec);
    SUMMARY_MEDIAN(comparison, i, latency.p50_ns);
    SUMMARY_MEDIAN(comparison, i, latency.p99_ns);
    SUMMARY_MEDIAN(comparison, i, memory.start);
    SUMMARY_MEDIAN(comparison, i, memory.samples);
    SUMMARY_MEDIAN(comparison, i, memory.peak);
    SUMMARY_MEDIAN(comparison, i, memory.retained);
    SUMMARY_MEDIAN(comparison, i, memory.retained_released);
    SUMMARY_MEDIAN(comparison, i, live_peak);
    SUMMARY_MEDIAN(comparison, i, cpu.user_us);
    SUMMARY_MEDIAN(comparison, i, cpu.system_us);
    SUMMARY_MEDIAN(comparison, i, cpu.minor_faults);
    SUMMARY_MEDIAN(comparison, i, cpu.major_faults);
    SUMMARY_MEDIAN(comparison, i, syscalls.mmap);
    SUMMARY_MEDIAN(comparison, i, syscalls.munmap);
    SUMMARY_MEDIAN(comparison, i, syscalls.madvise);
    SUMMARY_MEDIAN(comparison, i, syscalls.mprotect);
    for (unsigned round = 1; round < comparison->repeat; round++) {
        const struct bench_result *run = &comparison->runs[round][i];
        if (run->latency.max_ns > summary->latency.max_ns) {
            summary->latency.max_ns = run->latency.max_ns;
        }
        summary->latency.samples += run->latency.samples;
        if (!run->memory.known && summary->memory.known) {
            summary->memory.known = false;
            summary->memory.error = run->memory.error;
        }
        if (!run->cpu.known && summary->cpu.known) {
            summary->cpu.known = false;
            summary->cpu.error = run->cpu.error;
        }
    }
}

enum bench_status bench_compare(const struct bench_request *request, const struct bench_stop *stop,
                                struct bench_comparison *out,
                                enum bench_allocator *failed_allocator)
{
    plan(request, out);
    struct bench_params params = request->params;
    uint64_t start_ns = clock_monotonic_ns();
    for (unsigned round = 0; round < out->repeat; round++) {
        for (size_t i = 0; i < out->allocator_count; i++) {
            params.allocator = out->allocators[i];
            struct bench_stop run_stop;
            enum bench_status status =
                next_stop(stop, start_ns, &run_stop)
                    ? bench_run_until(&params, &run_stop, &out->runs[round][i])
                    : BENCH_CUT_SHORT;
            if (status != BENCH_OK) {
                *failed_allocator = params.allocator;
                return status;
            }
        }
    }
    for (size_t i = 0; i < out->allocator_count; i++) {
        double rates[BENCH_MAX_REPEAT];
        for (unsigned round = 0; round < out->repeat; round++) {
            rates[round] = out->runs[round][i].ops_per_sec;
        }
        out->median_ops_per_sec[i] = median(rates, out->repeat);
        summarise(out, i);
    }
    return BENCH_OK;
}

double bench_comparison_ratio(const struct bench_comparison *comparison, size_t index)
{
    if (comparison->baseline >= comparison->allocator_count ||
        index >= comparison->allocator_count) {
        return 0;
    }
    double base = comparison->median_ops_per_sec[comparison->baseline];
    return base > 0 ? comparison->median_ops_per_sec[index] / base : 0;
}
