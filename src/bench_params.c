/*
 * bench_params.c - strict validation of benchmark parameters.
 */
#include "bench_params.h"

#include <stdio.h>
#include <string.h>

/* The parameters /bench understands, in one table so the "unknown
 * parameter" message can list them and new ones are added in one place.
 * threads and iterations are numbers; workload is a name from bench.h. */
enum bench_param_id {
    BENCH_PARAM_THREADS = 0,
    BENCH_PARAM_ITERATIONS,
    BENCH_PARAM_WORKLOAD,
    BENCH_PARAM_COUNT,
};

static const char *const bench_param_names[BENCH_PARAM_COUNT] = {"threads", "iterations",
                                                                 "workload"};

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

/* The work budget: threads x iterations, the number of malloc/free pairs. */
static bool within_budget(const struct bench_limits *limits, const struct bench_params *params,
                          struct bench_params_error *error)
{
    uint64_t operations = (uint64_t)params->threads * params->iterations;
    if (limits->max_operations == 0 || operations <= limits->max_operations) {
        return true;
    }
    snprintf(error->message, sizeof(error->message),
             "threads x iterations must be at most %llu on this server; %u x %u is %llu",
             (unsigned long long)limits->max_operations, params->threads, params->iterations,
             (unsigned long long)operations);
    error->parameter = NULL;
    error->over_budget = true;
    return false;
}

bool bench_params_parse(const struct param_pair *pairs, size_t count,
                        const struct bench_limits *limits, struct bench_params *out,
                        struct bench_params_error *error)
{
    const unsigned maxima[BENCH_PARAM_COUNT] = {limits->max_threads, limits->max_iterations, 0};
    unsigned values[BENCH_PARAM_COUNT] = {limits->default_threads, limits->default_iterations, 0};
    bool seen[BENCH_PARAM_COUNT] = {false, false, false};
    enum bench_workload workload = BENCH_WORKLOAD_SEED;
    error->over_budget = false;

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
    out->workload = workload;
    out->threads = values[BENCH_PARAM_THREADS];
    out->iterations = values[BENCH_PARAM_ITERATIONS];
    return apply_min_threads(limits, seen[BENCH_PARAM_THREADS], out, error) &&
           within_budget(limits, out, error);
}
