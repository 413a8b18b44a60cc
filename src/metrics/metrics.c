/*
 * metrics.c - recording; see metrics.h. The exposition is the
 * application's (app/metrics_exposition.c).
 */
#include "metrics.h"

#include "array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SERVER_CODE(name, code) code,
#define METRICS_LIBRARY_CODE(code)      code,
const unsigned metrics_status_codes[] = {HTTP_SERVER_STATUSES(METRICS_SERVER_CODE)};

/* Every answer is counted by its status's slot: a table indexed by code
 * (slot + 1, 0 for "other") keeps that one load however many statuses the
 * list grows to. */
#define METRICS_SLOT_NAME(name, code)    METRICS_SLOT_##name,
#define METRICS_SLOT_BY_CODE(name, code) [code] = METRICS_SLOT_##name + 1,
enum metrics_status_slot { HTTP_SERVER_STATUSES(METRICS_SLOT_NAME) };
static const unsigned char metrics_slot_by_code[600] = {HTTP_SERVER_STATUSES(METRICS_SLOT_BY_CODE)};
const unsigned metrics_refusal_codes[] = {HTTP_LIBRARY_STATUSES(METRICS_LIBRARY_CODE)};
static const double metrics_bounds[] = METRICS_DURATION_BOUNDS;
_Static_assert(ARRAY_SIZE(metrics_status_codes) + 1 == METRICS_STATUS_COUNT,
               "METRICS_STATUS_COUNT must be the code list plus one");
_Static_assert(ARRAY_SIZE(metrics_refusal_codes) + 1 == METRICS_REFUSAL_COUNT,
               "METRICS_REFUSAL_COUNT must be the code list plus one");
_Static_assert(ARRAY_SIZE(metrics_bounds) == METRICS_BUCKET_COUNT,
               "METRICS_BUCKET_COUNT must match the bounds");

bool metrics_init(struct metrics *metrics, const char *const *route_names, size_t count)
{
    memset(metrics, 0, sizeof(*metrics));
    if (count > METRICS_MAX_ROUTES) {
        count = METRICS_MAX_ROUTES;
    }
    for (size_t i = 0; i < count; i++) {
        metrics->route_names[i] = route_names[i];
    }
    metrics->route_names[count] = "unmatched";
    metrics->route_count = count;
    return pthread_mutex_init(&metrics->last_bench_lock, NULL) == 0;
}

void metrics_destroy(struct metrics *metrics)
{
    pthread_mutex_destroy(&metrics->last_bench_lock);
}

/* The index of `status` in `codes`, or `count` (the "other" slot). */
static size_t code_slot(const unsigned *codes, size_t count, unsigned status)
{
    for (size_t i = 0; i < count; i++) {
        if (codes[i] == status) {
            return i;
        }
    }
    return count;
}

static size_t status_slot(unsigned status)
{
    if (status < ARRAY_SIZE(metrics_slot_by_code) && metrics_slot_by_code[status] != 0) {
        return metrics_slot_by_code[status] - 1u;
    }
    return METRICS_STATUS_COUNT - 1;
}

void metrics_record_request(struct metrics *metrics, int route_index, unsigned status,
                            uint64_t duration_us)
{
    size_t slot = route_index >= 0 && (size_t)route_index < metrics->route_count
                      ? (size_t)route_index
                      : metrics->route_count;
    struct metrics_route_counters *route = &metrics->routes[slot];
    atomic_fetch_add_explicit(&route->by_status[status_slot(status)], 1, memory_order_relaxed);
    double seconds = (double)duration_us / 1e6;
    for (size_t b = 0; b < METRICS_BUCKET_COUNT; b++) {
        if (seconds <= metrics_bounds[b]) {
            atomic_fetch_add_explicit(&route->buckets[b], 1, memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&route->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&route->duration_sum_us, duration_us, memory_order_relaxed);
}

void metrics_record_refusal(struct metrics *metrics, unsigned status)
{
    size_t slot = code_slot(metrics_refusal_codes, METRICS_REFUSAL_COUNT - 1, status);
    atomic_fetch_add_explicit(&metrics->refusals[slot], 1, memory_order_relaxed);
}

void metrics_record_connection_refusal(struct metrics *metrics,
                                       enum metrics_connection_refusal reason)
{
    atomic_fetch_add_explicit(&metrics->connection_refusals[reason], 1, memory_order_relaxed);
}

void metrics_record_bench(struct metrics *metrics, enum metrics_bench_outcome outcome)
{
    atomic_fetch_add_explicit(&metrics->bench_outcomes[outcome], 1, memory_order_relaxed);
}

void metrics_record_allocator_trim(struct metrics *metrics, enum metrics_trim_thread thread)
{
    atomic_fetch_add_explicit(&metrics->allocator_trims[thread], 1, memory_order_relaxed);
}

void metrics_record_bench_result(struct metrics *metrics, const char *allocator,
                                 const char *workload, unsigned threads, unsigned iterations,
                                 const struct metrics_bench_figures *figures)
{
    pthread_mutex_lock(&metrics->last_bench_lock);
    size_t slot = 0;
    while (slot < metrics->last_bench_count &&
           strcmp(metrics->last_bench[slot].allocator, allocator) != 0) {
        slot++;
    }
    if (slot < METRICS_MAX_BENCH_ALLOCATORS) {
        struct metrics_last_bench *last = &metrics->last_bench[slot];
        snprintf(last->allocator, sizeof(last->allocator), "%s", allocator);
        snprintf(last->workload, sizeof(last->workload), "%s", workload);
        last->threads = threads;
        last->iterations = iterations;
        last->figures = *figures;
        if (slot == metrics->last_bench_count) {
            metrics->last_bench_count++;
        }
    }
    pthread_mutex_unlock(&metrics->last_bench_lock);
}
