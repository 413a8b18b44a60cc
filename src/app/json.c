/*
 * json.c - JSON bodies; see json.h.
 *
 * cJSON's add functions return NULL on allocation failure. Rather than
 * check each one, the builders check the final print: cJSON skips NULL
 * children, so a failed add would show as a missing key; render() therefore
 * treats any failed add as a failed build via the `ok` flag.
 */
#include "json.h"

#include "cold.h"
#include "json_line.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Records whether every add succeeded. */
struct json_builder {
    cJSON *root;
    bool ok;
};

static void need(struct json_builder *b, const void *added)
{
    if (added == NULL) {
        b->ok = false;
    }
}

static bool builder_init(struct json_builder *b)
{
    b->root = cJSON_CreateObject();
    b->ok = b->root != NULL;
    return b->ok;
}

static char *render(struct json_builder *b)
{
    return json_line_take(b->root, b->ok);
}

static void add_allocator(struct json_builder *b, cJSON *parent, const struct alloc_info *alloc)
{
    cJSON *allocator = cJSON_AddObjectToObject(parent, "allocator");
    need(b, allocator);
    if (allocator == NULL) {
        return;
    }
    need(b, cJSON_AddStringToObject(allocator, "name", alloc->name));
    need(b, cJSON_AddStringToObject(allocator, "version", alloc->version));
    need(b, cJSON_AddBoolToObject(allocator, "secure", alloc->secure));
}

/* Adds `name` as an object to parent; NULL (and the build failed) when
 * memory ran out. */
COLD static cJSON *add_object(struct json_builder *b, cJSON *parent, const char *name)
{
    cJSON *object = cJSON_AddObjectToObject(parent, name);
    need(b, object);
    return object;
}

COLD static void add_number(struct json_builder *b, cJSON *parent, const char *name, double value)
{
    need(b, cJSON_AddNumberToObject(parent, name, value));
}

/* A figure that may be unknown: the number, or null. */
COLD static void add_figure(struct json_builder *b, cJSON *parent, const char *name, bool known,
                            double value)
{
    need(b, known ? cJSON_AddNumberToObject(parent, name, value)
                  : cJSON_AddNullToObject(parent, name));
}

/* Why a group of figures is null: "<what>: <strerror>". */
COLD static void add_unavailable(struct json_builder *b, cJSON *parent, const char *what, int error)
{
    char reason[160];
    snprintf(reason, sizeof(reason), "%s: %s", what, strerror(error));
    need(b, cJSON_AddStringToObject(parent, "unavailable", reason));
}

COLD static void add_latency(struct json_builder *b, cJSON *parent,
                             const struct bench_latency_summary *latency)
{
    cJSON *object = add_object(b, parent, "latency_ns");
    if (object == NULL) {
        return;
    }
    add_number(b, object, "samples", (double)latency->samples);
    add_number(b, object, "every", BENCH_LATENCY_EVERY);
    add_number(b, object, "p50", (double)latency->p50_ns);
    add_number(b, object, "p99", (double)latency->p99_ns);
    add_number(b, object, "max", (double)latency->max_ns);
}

/* Peak resident memory over the window's live bytes, to two decimals. */
COLD static double overhead(const struct bench_result *result)
{
    return (double)(long long)((double)result->memory.peak / (double)result->live_peak * 100 +
                               0.5) /
           100;
}

COLD static void add_memory(struct json_builder *b, cJSON *parent,
                            const struct bench_result *result)
{
    const struct bench_memory *memory = &result->memory;
    cJSON *object = add_object(b, parent, "memory");
    if (object == NULL) {
        return;
    }
    bool known = memory->known;
    add_figure(b, object, "start_bytes", known, (double)memory->start);
    add_figure(b, object, "peak_bytes", known, (double)memory->peak);
    add_figure(b, object, "retained_bytes", known, (double)memory->retained);
    add_figure(b, object, "retained_after_release_bytes", known, (double)memory->retained_released);
    need(b, result->release != NULL ? cJSON_AddStringToObject(object, "release", result->release)
                                    : cJSON_AddNullToObject(object, "release"));
    add_number(b, object, "samples", memory->samples);
    need(b, cJSON_AddBoolToObject(object, "peak_exact", known && memory->peak_exact));
    if (result->workload == BENCH_WORKLOAD_WINDOW) {
        add_number(b, object, "live_peak_bytes", (double)result->live_peak);
        add_figure(b, object, "overhead", known && result->live_peak > 0, overhead(result));
    }
    if (!known) {
        add_unavailable(b, object, "cannot read " BENCH_MEMORY_DIR "/statm", memory->error);
    }
}

COLD static void add_cpu(struct json_builder *b, cJSON *parent, const struct bench_cpu *cpu)
{
    cJSON *object = add_object(b, parent, "cpu");
    if (object == NULL) {
        return;
    }
    add_figure(b, object, "user_ms", cpu->known, (double)cpu->user_us / 1000);
    add_figure(b, object, "system_ms", cpu->known, (double)cpu->system_us / 1000);
    add_figure(b, object, "minor_faults", cpu->known, (double)cpu->minor_faults);
    add_figure(b, object, "major_faults", cpu->known, (double)cpu->major_faults);
    if (!cpu->known) {
        add_unavailable(b, object, "getrusage(RUSAGE_THREAD) failed", cpu->error);
    }
}

COLD static void add_syscalls(struct json_builder *b, cJSON *parent,
                              const struct bench_syscall_counts *calls)
{
    cJSON *object = add_object(b, parent, "syscalls");
    if (object == NULL) {
        return;
    }
    add_number(b, object, "mmap", (double)calls->mmap);
    add_number(b, object, "munmap", (double)calls->munmap);
    add_number(b, object, "madvise", (double)calls->madvise);
    add_number(b, object, "mprotect", (double)calls->mprotect);
}

/* What a run costs beside its rate: latency, memory, CPU, system calls. */
COLD static void add_costs(struct json_builder *b, cJSON *parent, const struct bench_result *result)
{
    add_latency(b, parent, &result->latency);
    add_memory(b, parent, result);
    add_cpu(b, parent, &result->cpu);
    add_syscalls(b, parent, &result->syscalls);
}

/* The measured figures of one run. */
COLD static void add_run(struct json_builder *b, cJSON *parent, const struct bench_result *result)
{
    need(b, cJSON_AddNumberToObject(parent, "total_counter", (double)result->total_counter));
    need(b, cJSON_AddNumberToObject(parent, "elapsed_ms", result->elapsed_ms));
    /* Whole operations per second: fractions are noise at this scale. */
    need(b, cJSON_AddNumberToObject(parent, "ops_per_sec", (double)(long long)result->ops_per_sec));
    add_costs(b, parent, result);
}

/* One allocator's entry of an allocator=all answer. */
COLD static void add_allocator_results(struct json_builder *b, cJSON *list,
                                       const struct bench_comparison *comparison, size_t index)
{
    cJSON *entry = cJSON_CreateObject();
    need(b, entry);
    if (entry == NULL) {
        return;
    }
    cJSON_AddItemToArray(list, entry);
    need(b, cJSON_AddStringToObject(entry, "bench_allocator",
                                    bench_allocator_name(comparison->allocators[index])));
    need(b, cJSON_AddNumberToObject(entry, "ops_per_sec",
                                    (double)(long long)comparison->median_ops_per_sec[index]));
    if (comparison->baseline < comparison->allocator_count) {
        double ratio = bench_comparison_ratio(comparison, index);
        /* Three significant decimals are all a ratio of two runs carries. */
        need(b, cJSON_AddNumberToObject(entry, "ratio_vs_musl",
                                        (double)(long long)(ratio * 1000) / 1000));
    }
    add_costs(b, entry, &comparison->summary[index]);
    cJSON *runs = cJSON_AddArrayToObject(entry, "runs");
    need(b, runs);
    for (unsigned round = 0; runs != NULL && round < comparison->repeat; round++) {
        cJSON *run = cJSON_CreateObject();
        need(b, run);
        if (run == NULL) {
            return;
        }
        cJSON_AddItemToArray(runs, run);
        add_run(b, run, &comparison->runs[round][index]);
    }
}

char *json_bench_result(const struct bench_comparison *comparison, bool all_allocators,
                        const struct build_info *build)
{
    struct json_builder b;
    if (!builder_init(&b)) {
        return NULL;
    }
    const struct bench_result *first = &comparison->runs[0][0];
    need(&b, cJSON_AddStringToObject(b.root, "workload", bench_workload_name(first->workload)));
    need(&b, cJSON_AddNumberToObject(b.root, "threads", first->threads));
    need(&b, cJSON_AddNumberToObject(b.root, "iterations", first->iterations));
    need(&b, cJSON_AddNumberToObject(b.root, "operations", (double)first->operations));
    need(&b, cJSON_AddNumberToObject(b.root, "repeat", comparison->repeat));
    if (first->workload == BENCH_WORKLOAD_WINDOW) {
        cJSON *window = add_object(&b, b.root, "window");
        if (window != NULL) {
            add_number(&b, window, "slots", first->window.slots);
            add_number(&b, window, "min_block", first->window.min_block);
            add_number(&b, window, "max_block", first->window.max_block);
        }
    }
    if (all_allocators) {
        need(&b, cJSON_AddStringToObject(b.root, "bench_allocator", BENCH_ALL_ALLOCATORS));
        cJSON *list = cJSON_AddArrayToObject(b.root, "results");
        need(&b, list);
        for (size_t i = 0; list != NULL && i < comparison->allocator_count; i++) {
            add_allocator_results(&b, list, comparison, i);
        }
    } else {
        need(&b, cJSON_AddStringToObject(b.root, "bench_allocator",
                                         bench_allocator_name(first->allocator)));
        add_run(&b, b.root, first);
    }
    add_allocator(&b, b.root, &build->allocator);
    need(&b, cJSON_AddStringToObject(b.root, "libc", build->libc));
    need(&b, cJSON_AddBoolToObject(b.root, "static", build->is_static));
    return render(&b);
}

char *json_index(const struct build_info *build, const struct json_endpoint *endpoints,
                 size_t endpoint_count)
{
    struct json_builder b;
    if (!builder_init(&b)) {
        return NULL;
    }
    need(&b, cJSON_AddStringToObject(b.root, "name", build->name));
    need(&b, cJSON_AddStringToObject(b.root, "version", build->version));
    cJSON *facts = cJSON_AddObjectToObject(b.root, "build");
    need(&b, facts);
    if (facts != NULL) {
        need(&b, cJSON_AddBoolToObject(facts, "static", build->is_static));
        need(&b, cJSON_AddStringToObject(facts, "libc", build->libc));
        need(&b, cJSON_AddStringToObject(facts, "compiler", build->compiler));
        add_allocator(&b, facts, &build->allocator);
        need(&b, cJSON_AddBoolToObject(facts, "allocator_override_verified",
                                       build->allocator_verified));
    }
    cJSON *list = cJSON_AddArrayToObject(b.root, "endpoints");
    need(&b, list);
    for (size_t i = 0; list != NULL && i < endpoint_count; i++) {
        cJSON *entry = cJSON_CreateObject();
        need(&b, entry);
        if (entry == NULL) {
            break;
        }
        cJSON_AddItemToArray(list, entry);
        need(&b, cJSON_AddStringToObject(entry, "path", endpoints[i].path));
        need(&b, cJSON_AddStringToObject(entry, "methods", endpoints[i].methods));
        cJSON *statuses = cJSON_AddArrayToObject(entry, "statuses");
        need(&b, statuses);
        for (size_t s = 0; statuses != NULL && endpoints[i].statuses[s] != 0; s++) {
            cJSON *code = cJSON_CreateNumber(endpoints[i].statuses[s]);
            need(&b, code);
            if (code != NULL) {
                cJSON_AddItemToArray(statuses, code);
            }
        }
        need(&b, cJSON_AddStringToObject(entry, "description", endpoints[i].description));
    }
    return render(&b);
}
