/*
 * bench_params.c - strict validation of benchmark parameters.
 */
#include "bench_params.h"

#include "cold.h"
#include <stdio.h>
#include <string.h>

/* The parameters /bench understands, in one table so the "unknown
 * parameter" message can list them and new ones are added in one place.
 * threads, iterations and repeat are numbers; workload and allocator are
 * names from bench.h. */
enum bench_param_id {
    BENCH_PARAM_THREADS = 0,
    BENCH_PARAM_ITERATIONS,
    BENCH_PARAM_REPEAT,
    BENCH_PARAM_WORKLOAD,
    BENCH_PARAM_ALLOCATOR,
    BENCH_PARAM_SLOTS, /* this and the two below: workload=window only */
    BENCH_PARAM_MIN_BLOCK,
    BENCH_PARAM_MAX_BLOCK,
    BENCH_PARAM_COUNT,
};

static const char *const bench_param_names[BENCH_PARAM_COUNT] = {
    "threads", "iterations", "repeat", "workload", "allocator", "slots", "min_block", "max_block"};

#define MIB (1024u * 1024u)

static int find_param(const char *key)
{
    for (int id = 0; id < BENCH_PARAM_COUNT; id++) {
        if (strcmp(key, bench_param_names[id]) == 0) {
            return id;
        }
    }
    return -1;
}

/* Decimal digits only, at most `max`. Overflow is caught by stopping as
 * soon as the value exceeds max, which also bounds the work on long input. */
static bool parse_bounded(const char *text, size_t len, unsigned max, unsigned *out)
{
    unsigned long long value = 0;
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        value = value * 10 + (unsigned)(text[i] - '0');
        if (value > max) {
            return false;
        }
    }
    *out = (unsigned)value;
    return true;
}

static bool fail(struct bench_params_error *error, const char *parameter, const char *fmt,
                 unsigned a, unsigned b)
{
    snprintf(error->message, sizeof(error->message), fmt, parameter, a, b);
    error->parameter = parameter;
    return false;
}

/* Writes `prefix` and then the names as "a, b and c" into the message. */
static void list_names(struct bench_params_error *error, const char *prefix,
                       const char *const *names, size_t count)
{
    size_t used = (size_t)snprintf(error->message, sizeof(error->message), "%s", prefix);
    for (size_t i = 0; i < count && used < sizeof(error->message); i++) {
        const char *sep = i == 0 ? "" : i + 1 == count ? " and " : ", ";
        used += (size_t)snprintf(error->message + used, sizeof(error->message) - used, "%s%s", sep,
                                 names[i]);
    }
}

static bool fail_workload(struct bench_params_error *error)
{
    const char *names[BENCH_WORKLOAD_COUNT];
    for (unsigned id = 0; id < BENCH_WORKLOAD_COUNT; id++) {
        names[id] = bench_workload_name((enum bench_workload)id);
    }
    list_names(error, "parameter workload must be one of ", names, BENCH_WORKLOAD_COUNT);
    error->parameter = bench_param_names[BENCH_PARAM_WORKLOAD];
    return false;
}

static bool fail_allocator(struct bench_params_error *error)
{
    enum bench_allocator ids[BENCH_ALLOCATOR_COUNT];
    size_t count = bench_allocators(ids);
    const char *names[BENCH_ALLOCATOR_COUNT + 1];
    for (size_t i = 0; i < count; i++) {
        names[i] = bench_allocator_name(ids[i]);
    }
    names[count] = BENCH_ALL_ALLOCATORS;
    list_names(error, "parameter allocator must be one of ", names, count + 1);
    error->parameter = bench_param_names[BENCH_PARAM_ALLOCATOR];
    return false;
}

/* Reads the allocator's value into *out: a name, or "all". */
static bool parse_allocator(const struct param_pair *pair, struct bench_request *out)
{
    if (pair->value == NULL) {
        return false;
    }
    size_t all_len = sizeof(BENCH_ALL_ALLOCATORS) - 1;
    if (pair->value_len == all_len && memcmp(pair->value, BENCH_ALL_ALLOCATORS, all_len) == 0) {
        out->all_allocators = true;
        return true;
    }
    return bench_allocator_find(pair->value, pair->value_len, &out->params.allocator);
}

/* A workload may need more threads than the default; the default is then
 * raised to its minimum, but an explicit value below it is an error. */
static bool apply_min_threads(const struct bench_limits *limits, bool threads_given,
                              struct bench_params *out, struct bench_params_error *error)
{
    unsigned min = bench_workload_min_threads(out->workload);
    if (out->threads >= min) {
        return true;
    }
    if (!threads_given && min <= limits->max_threads) {
        out->threads = min;
        return true;
    }
    snprintf(error->message, sizeof(error->message),
             "parameter threads must be from %u to %u for workload %s", min, limits->max_threads,
             bench_workload_name(out->workload));
    error->parameter = bench_param_names[BENCH_PARAM_THREADS];
    return false;
}

/* The work budget: the malloc/free pairs of the whole request, threads x
 * iterations per run, for every allocator and round of allocator=all. */
static bool within_budget(const struct bench_limits *limits, const struct bench_request *request,
                          struct bench_params_error *error)
{
    const struct bench_params *params = &request->params;
    enum bench_allocator allocators[BENCH_ALLOCATOR_COUNT];
    uint64_t runs =
        request->all_allocators ? (uint64_t)bench_allocators(allocators) * request->repeat : 1;
    uint64_t operations = (uint64_t)params->threads * params->iterations * runs;
    if (limits->max_operations == 0 || operations <= limits->max_operations) {
        return true;
    }
    if (runs == 1) {
        snprintf(error->message, sizeof(error->message),
                 "threads x iterations must be at most %llu on this server; %u x %u is %llu",
                 (unsigned long long)limits->max_operations, params->threads, params->iterations,
                 (unsigned long long)operations);
    } else {
        snprintf(error->message, sizeof(error->message),
                 "threads x iterations x runs must be at most %llu on this server; "
                 "%u x %u x %llu (allocators x rounds) is %llu",
                 (unsigned long long)limits->max_operations, params->threads, params->iterations,
                 (unsigned long long)runs, (unsigned long long)operations);
    }
    error->parameter = NULL;
    error->over_budget = true;
    return false;
}

/* The window's parameters: only with workload=window, min_block no more
 * than max_block, slots defaulting to what the memory budget allows, and
 * the whole within it. */
COLD static bool apply_window(const struct bench_limits *limits, const bool *seen,
                              const unsigned *values, struct bench_params *out,
                              struct bench_params_error *error)
{
    static const int window_params[] = {BENCH_PARAM_SLOTS, BENCH_PARAM_MIN_BLOCK,
                                        BENCH_PARAM_MAX_BLOCK};
    for (size_t i = 0; i < sizeof(window_params) / sizeof(window_params[0]); i++) {
        if (seen[window_params[i]] && out->workload != BENCH_WORKLOAD_WINDOW) {
            return fail(error, bench_param_names[window_params[i]],
                        "parameter %s applies to workload=window only", 0, 0);
        }
    }
    if (out->workload != BENCH_WORKLOAD_WINDOW) {
        return true;
    }
    struct bench_window window = bench_window_resolved((struct bench_window){
        .slots = values[BENCH_PARAM_SLOTS],
        .min_block = values[BENCH_PARAM_MIN_BLOCK],
        .max_block = values[BENCH_PARAM_MAX_BLOCK],
    });
    if (window.min_block > window.max_block) {
        return fail(error, bench_param_names[BENCH_PARAM_MIN_BLOCK],
                    "parameter %s must not exceed max_block (%u)", window.max_block, 0);
    }
    if (!seen[BENCH_PARAM_SLOTS] && limits->max_memory != 0) {
        /* The most slots within the budget, less the blocks in flight. */
        uint64_t per_slot = (uint64_t)out->threads * window.max_block;
        uint64_t fit = limits->max_memory / per_slot;
        fit = fit > BENCH_WINDOW_IN_FLIGHT_BLOCKS ? fit - BENCH_WINDOW_IN_FLIGHT_BLOCKS : 0;
        if (fit >= 1 && fit < window.slots) {
            window.slots = (unsigned)fit;
        }
    }
    out->window = window;
    uint64_t bound = bench_window_bound(&window, out->threads);
    if (limits->max_memory == 0 || bound <= limits->max_memory) {
        return true;
    }
    snprintf(error->message, sizeof(error->message),
             "a window run may hold at most %u MiB on this server (--max-bench-memory); "
             "threads x (slots + %u) x max_block is %u x %u x %u bytes, %llu MiB",
             (unsigned)(limits->max_memory / MIB), BENCH_WINDOW_IN_FLIGHT_BLOCKS, out->threads,
             window.slots + BENCH_WINDOW_IN_FLIGHT_BLOCKS, window.max_block,
             (unsigned long long)((bound + MIB - 1) / MIB));
    error->parameter = NULL;
    error->over_budget = true;
    return false;
}

bool bench_params_parse(const struct param_pair *pairs, size_t count,
                        const struct bench_limits *limits, struct bench_request *out,
                        struct bench_params_error *error)
{
    const unsigned maxima[BENCH_PARAM_COUNT] = {
        [BENCH_PARAM_THREADS] = limits->max_threads,
        [BENCH_PARAM_ITERATIONS] = limits->max_iterations,
        [BENCH_PARAM_REPEAT] = BENCH_MAX_REPEAT,
        [BENCH_PARAM_SLOTS] = BENCH_WINDOW_MAX_SLOTS,
        [BENCH_PARAM_MIN_BLOCK] = BENCH_WINDOW_MAX_BLOCK,
        [BENCH_PARAM_MAX_BLOCK] = BENCH_WINDOW_MAX_BLOCK,
    };
    /* 0 for the window's: bench_window_resolved fills in its defaults. */
    unsigned values[BENCH_PARAM_COUNT] = {
        [BENCH_PARAM_THREADS] = limits->default_threads,
        [BENCH_PARAM_ITERATIONS] = limits->default_iterations,
        [BENCH_PARAM_REPEAT] = 1,
    };
    bool seen[BENCH_PARAM_COUNT] = {false};
    enum bench_workload workload = BENCH_WORKLOAD_SEED;
    error->over_budget = false;
    *out = (struct bench_request){.params.allocator = BENCH_ALLOCATOR_GLOBAL};

    for (size_t i = 0; i < count; i++) {
        int id = find_param(pairs[i].key);
        if (id < 0) {
            list_names(error, "unknown parameter; accepted parameters are ", bench_param_names,
                       BENCH_PARAM_COUNT);
            error->parameter = pairs[i].key;
            return false;
        }
        const char *name = bench_param_names[id];
        if (seen[id]) {
            return fail(error, name, "parameter %s is given more than once", 0, 0);
        }
        seen[id] = true;
        if (id == BENCH_PARAM_WORKLOAD) {
            if (pairs[i].value == NULL ||
                !bench_workload_find(pairs[i].value, pairs[i].value_len, &workload)) {
                return fail_workload(error);
            }
            continue;
        }
        if (id == BENCH_PARAM_ALLOCATOR) {
            if (!parse_allocator(&pairs[i], out)) {
                return fail_allocator(error);
            }
            continue;
        }
        if (pairs[i].value == NULL || pairs[i].value_len == 0) {
            return fail(error, name, "parameter %s needs a value: an integer from %u to %u", 1,
                        maxima[id]);
        }
        if (!parse_bounded(pairs[i].value, pairs[i].value_len, maxima[id], &values[id]) ||
            values[id] == 0) {
            return fail(error, name, "parameter %s must be an integer from %u to %u", 1,
                        maxima[id]);
        }
    }
    if (values[BENCH_PARAM_REPEAT] > 1 && !out->all_allocators) {
        return fail(error, bench_param_names[BENCH_PARAM_REPEAT],
                    "parameter %s above 1 needs allocator=all", 0, 0);
    }
    if (workload == BENCH_WORKLOAD_WINDOW && !seen[BENCH_PARAM_ITERATIONS] &&
        values[BENCH_PARAM_ITERATIONS] > BENCH_WINDOW_DEFAULT_ITERATIONS) {
        values[BENCH_PARAM_ITERATIONS] = BENCH_WINDOW_DEFAULT_ITERATIONS;
    }
    out->repeat = values[BENCH_PARAM_REPEAT];
    out->params.workload = workload;
    out->params.threads = values[BENCH_PARAM_THREADS];
    out->params.iterations = values[BENCH_PARAM_ITERATIONS];
    return apply_min_threads(limits, seen[BENCH_PARAM_THREADS], &out->params, error) &&
           apply_window(limits, seen, values, &out->params, error) &&
           within_budget(limits, out, error);
}
