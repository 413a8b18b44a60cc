/*
 * bench_compare.c - interleaved runs of several allocators; see
 * bench_compare.h.
 */
#include "bench_compare.h"

#include "cold.h"
#include "clock.h"
#include "threads.h"

#include <stddef.h>
#include <string.h>

COLD static double median(double *values, unsigned count)
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

/* The figures of a run that its allocator's summary takes the median of,
 * by where they are and what type they have: one loop serves them all. */
enum summary_kind { SUMMARY_DOUBLE, SUMMARY_U64, SUMMARY_I64, SUMMARY_UNSIGNED };
#define SUMMARY_FIELD(field, kind)                                                                 \
    {                                                                                              \
        offsetof(struct bench_result, field), kind                                                 \
    }
static const struct {
    size_t offset;
    enum summary_kind kind;
} summary_fields[] = {
    SUMMARY_FIELD(elapsed_ms, SUMMARY_DOUBLE),
    SUMMARY_FIELD(ops_per_sec, SUMMARY_DOUBLE),
    SUMMARY_FIELD(latency.p50_ns, SUMMARY_U64),
    SUMMARY_FIELD(latency.p99_ns, SUMMARY_U64),
    SUMMARY_FIELD(memory.start, SUMMARY_U64),
    SUMMARY_FIELD(memory.samples, SUMMARY_UNSIGNED),
    SUMMARY_FIELD(memory.peak, SUMMARY_U64),
    SUMMARY_FIELD(memory.retained, SUMMARY_I64),
    SUMMARY_FIELD(memory.retained_released, SUMMARY_I64),
    SUMMARY_FIELD(live_peak, SUMMARY_U64),
    SUMMARY_FIELD(cpu.user_us, SUMMARY_U64),
    SUMMARY_FIELD(cpu.system_us, SUMMARY_U64),
    SUMMARY_FIELD(cpu.minor_faults, SUMMARY_U64),
    SUMMARY_FIELD(cpu.major_faults, SUMMARY_U64),
    SUMMARY_FIELD(syscalls.mmap, SUMMARY_U64),
    SUMMARY_FIELD(syscalls.munmap, SUMMARY_U64),
    SUMMARY_FIELD(syscalls.madvise, SUMMARY_U64),
    SUMMARY_FIELD(syscalls.mprotect, SUMMARY_U64),
};

COLD static double summary_get(const struct bench_result *run, size_t f)
{
    const char *at = (const char *)run + summary_fields[f].offset;
    switch (summary_fields[f].kind) {
    case SUMMARY_DOUBLE:
        return *(const double *)(const void *)at;
    case SUMMARY_U64:
        return (double)*(const uint64_t *)(const void *)at;
    case SUMMARY_I64:
        return (double)*(const int64_t *)(const void *)at;
    case SUMMARY_UNSIGNED:
        return *(const unsigned *)(const void *)at;
    }
    return 0;
}

COLD static void summary_set(struct bench_result *run, size_t f, double value)
{
    char *at = (char *)run + summary_fields[f].offset;
    switch (summary_fields[f].kind) {
    case SUMMARY_DOUBLE:
        *(double *)(void *)at = value;
        break;
    case SUMMARY_U64:
        *(uint64_t *)(void *)at = (uint64_t)value;
        break;
    case SUMMARY_I64:
        *(int64_t *)(void *)at = (int64_t)value;
        break;
    case SUMMARY_UNSIGNED:
        *(unsigned *)(void *)at = (unsigned)value;
        break;
    }
}

COLD static void summarise(struct bench_comparison *comparison, size_t i)
{
    struct bench_result *summary = &comparison->summary[i];
    *summary = comparison->runs[0][i];
    for (size_t f = 0; f < sizeof(summary_fields) / sizeof(summary_fields[0]); f++) {
        double values[BENCH_MAX_REPEAT];
        for (unsigned round = 0; round < comparison->repeat; round++) {
            values[round] = summary_get(&comparison->runs[round][i], f);
        }
        summary_set(summary, f, median(values, comparison->repeat));
    }
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
