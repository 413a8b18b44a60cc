/*
 * metrics.c - recording and the Prometheus text exposition; see metrics.h.
 */
#define _GNU_SOURCE
#include "metrics.h"
#include "array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define METRICS_SERVER_CODE(name, code) code,
#define METRICS_LIBRARY_CODE(code)      code,
static const unsigned metrics_status_codes[] = {HTTP_SERVER_STATUSES(METRICS_SERVER_CODE)};
static const unsigned metrics_refusal_codes[] = {HTTP_LIBRARY_STATUSES(METRICS_LIBRARY_CODE)};
static const double metrics_bounds[] = METRICS_DURATION_BOUNDS;

_Static_assert(ARRAY_SIZE(metrics_status_codes) + 1 == METRICS_STATUS_COUNT,
               "METRICS_STATUS_COUNT must be the code list plus one");
_Static_assert(ARRAY_SIZE(metrics_refusal_codes) + 1 == METRICS_REFUSAL_COUNT,
               "METRICS_REFUSAL_COUNT must be the code list plus one");
_Static_assert(ARRAY_SIZE(metrics_bounds) == METRICS_BUCKET_COUNT,
               "METRICS_BUCKET_COUNT must match the bounds");

static const char *const bench_outcome_names[METRICS_BENCH_OUTCOME_COUNT] = {
    "ok",           "invalid",      "busy",        "cancelled", "failed",
    "unauthorized", "rate_limited", "over_budget", "cut_short", "client_closed",
};

/* Refusals by reason: each is one of the outcomes above, shown again under
 * the reason an operator asks about ("who was turned away, and why"). */
static const struct {
    const char *reason;
    enum metrics_bench_outcome outcome;
} bench_refusals[] = {
    {"token", METRICS_BENCH_UNAUTHORIZED},
    {"rate", METRICS_BENCH_RATE_LIMITED},
    {"budget", METRICS_BENCH_OVER_BUDGET},
    {"busy", METRICS_BENCH_BUSY},
};

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
    return code_slot(metrics_status_codes, METRICS_STATUS_COUNT - 1, status);
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

void metrics_record_bench_result(struct metrics *metrics, const char *allocator,
                                 const char *workload, unsigned threads, unsigned iterations,
                                 double ops_per_sec)
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
        last->ops_per_sec = ops_per_sec;
        if (slot == metrics->last_bench_count) {
            metrics->last_bench_count++;
        }
    }
    pthread_mutex_unlock(&metrics->last_bench_lock);
}

/* Label values need \\, \" and \n escaped; ours are plain, but build facts
 * come from the toolchain and are escaped anyway. */
static void write_label_value(FILE *out, const char *value)
{
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"') {
            fputc('\\', out);
            fputc(*p, out);
        } else if (*p == '\n') {
            fputs("\\n", out);
        } else {
            fputc(*p, out);
        }
    }
}

static void write_header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_requests(FILE *out, struct metrics *metrics)
{
    write_header(out, "tinyserver_http_requests_total", "counter",
                 "HTTP requests answered, by route and status code.");
    for (size_t r = 0; r <= metrics->route_count; r++) {
        for (size_t s = 0; s < METRICS_STATUS_COUNT; s++) {
            uint64_t n =
                atomic_load_explicit(&metrics->routes[r].by_status[s], memory_order_relaxed);
            if (n == 0) {
                continue;
            }
            fputs("tinyserver_http_requests_total{route=\"", out);
            write_label_value(out, metrics->route_names[r]);
            if (s < METRICS_STATUS_COUNT - 1) {
                fprintf(out, "\",code=\"%u\"} %llu\n", metrics_status_codes[s],
                        (unsigned long long)n);
            } else {
                fprintf(out, "\",code=\"other\"} %llu\n", (unsigned long long)n);
            }
        }
    }
    write_header(out, "tinyserver_http_request_duration_seconds", "histogram",
                 "Time from the first byte of a request to the end of its response.");
    for (size_t r = 0; r <= metrics->route_count; r++) {
        struct metrics_route_counters *route = &metrics->routes[r];
        uint64_t cumulative = 0;
        for (size_t b = 0; b < METRICS_BUCKET_COUNT; b++) {
            cumulative += atomic_load_explicit(&route->buckets[b], memory_order_relaxed);
            fputs("tinyserver_http_request_duration_seconds_bucket{route=\"", out);
            write_label_value(out, metrics->route_names[r]);
            fprintf(out, "\",le=\"%g\"} %llu\n", metrics_bounds[b], (unsigned long long)cumulative);
        }
        uint64_t count = atomic_load_explicit(&route->count, memory_order_relaxed);
        /* A request recorded between the loads could make the buckets
         * exceed the count; the exposition must stay monotonic. */
        if (count < cumulative) {
            count = cumulative;
        }
        fputs("tinyserver_http_request_duration_seconds_bucket{route=\"", out);
        write_label_value(out, metrics->route_names[r]);
        fprintf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)count);
        fputs("tinyserver_http_request_duration_seconds_sum{route=\"", out);
        write_label_value(out, metrics->route_names[r]);
        fprintf(out, "\"} %.6f\n",
                (double)atomic_load_explicit(&route->duration_sum_us, memory_order_relaxed) / 1e6);
        fputs("tinyserver_http_request_duration_seconds_count{route=\"", out);
        write_label_value(out, metrics->route_names[r]);
        fprintf(out, "\"} %llu\n", (unsigned long long)count);
    }
}

static void write_refusals(FILE *out, struct metrics *metrics)
{
    write_header(out, "tinyserver_http_refused_total", "counter",
                 "Requests libmicrohttpd answered itself before routing, by status code.");
    for (size_t s = 0; s < METRICS_REFUSAL_COUNT; s++) {
        uint64_t n = atomic_load_explicit(&metrics->refusals[s], memory_order_relaxed);
        if (n == 0) {
            continue;
        }
        if (s < METRICS_REFUSAL_COUNT - 1) {
            fprintf(out, "tinyserver_http_refused_total{code=\"%u\"} %llu\n",
                    metrics_refusal_codes[s], (unsigned long long)n);
        } else {
            fprintf(out, "tinyserver_http_refused_total{code=\"other\"} %llu\n",
                    (unsigned long long)n);
        }
    }
}

/* One sample per slot of `counters`, labelled `label="names[i]"`. */
static void write_counters_by(FILE *out, const char *family, const char *label,
                              const char *const *names, const atomic_uint_fast64_t *counters,
                              size_t count)
{
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "%s{%s=\"%s\"} %llu\n", family, label, names[i],
                (unsigned long long)atomic_load_explicit(&counters[i], memory_order_relaxed));
    }
}

static void write_connection_refusals(FILE *out, struct metrics *metrics)
{
    static const char *const reasons[METRICS_CONNECTION_REFUSAL_COUNT] = {
        [METRICS_REFUSED_PER_ADDRESS] = "per_address_limit",
        [METRICS_REFUSED_TLS_LIMIT] = "tls_connection_limit",
    };
    write_header(out, "tinyserver_connections_refused_total", "counter",
                 "Connections refused at a connection limit, by reason.");
    write_counters_by(out, "tinyserver_connections_refused_total", "reason", reasons,
                      metrics->connection_refusals, METRICS_CONNECTION_REFUSAL_COUNT);
}

static void write_bench(FILE *out, struct metrics *metrics)
{
    write_header(out, "tinyserver_bench_runs_total", "counter",
                 "Benchmark requests by outcome (ok, invalid, busy, cancelled, failed, "
                 "unauthorized, rate_limited, over_budget, cut_short, client_closed).");
    write_counters_by(out, "tinyserver_bench_runs_total", "outcome", bench_outcome_names,
                      metrics->bench_outcomes, METRICS_BENCH_OUTCOME_COUNT);
    write_header(out, "tinyserver_bench_refused_total", "counter",
                 "Benchmark requests refused before running, by reason (token, rate, budget, "
                 "busy).");
    for (size_t i = 0; i < ARRAY_SIZE(bench_refusals); i++) {
        fprintf(out, "tinyserver_bench_refused_total{reason=\"%s\"} %llu\n",
                bench_refusals[i].reason,
                (unsigned long long)atomic_load_explicit(
                    &metrics->bench_outcomes[bench_refusals[i].outcome], memory_order_relaxed));
    }
    write_header(out, "tinyserver_bench_last_ops_per_second", "gauge",
                 "Operations per second of the last successful benchmark run, per allocator.");
    pthread_mutex_lock(&metrics->last_bench_lock);
    for (size_t i = 0; i < metrics->last_bench_count; i++) {
        const struct metrics_last_bench *last = &metrics->last_bench[i];
        fputs("tinyserver_bench_last_ops_per_second{allocator=\"", out);
        write_label_value(out, last->allocator);
        fputs("\",workload=\"", out);
        write_label_value(out, last->workload);
        fprintf(out, "\",threads=\"%u\",iterations=\"%u\"} %.0f\n", last->threads, last->iterations,
                last->ops_per_sec);
    }
    pthread_mutex_unlock(&metrics->last_bench_lock);
}

static void write_gauges(FILE *out, const struct metrics_gauges *gauges,
                         const struct build_info *build)
{
    write_header(out, "tinyserver_http_open_connections", "gauge",
                 "Connections the HTTP daemon has open (plain and TLS).");
    fprintf(out, "tinyserver_http_open_connections %u\n", gauges->open_connections);
    write_header(out, "tinyserver_http_inflight_requests", "gauge",
                 "Requests received and not yet answered, running benchmarks included.");
    fprintf(out, "tinyserver_http_inflight_requests %u\n", gauges->inflight_requests);
    write_header(out, "tinyserver_tls_open_connections", "gauge", "TLS connections being relayed.");
    fprintf(out, "tinyserver_tls_open_connections %u\n", gauges->open_tls_connections);
    write_header(out, "tinyserver_tls_handshakes_total", "counter",
                 "TLS handshakes finished: full, or resumed from the session cache.");
    fprintf(out, "tinyserver_tls_handshakes_total{kind=\"full\"} %llu\n",
            (unsigned long long)gauges->tls_handshakes_full);
    fprintf(out, "tinyserver_tls_handshakes_total{kind=\"resumed\"} %llu\n",
            (unsigned long long)gauges->tls_handshakes_resumed);
    write_header(out, "tinyserver_process_resident_memory_bytes", "gauge",
                 "Resident set size of the process.");
    fprintf(out, "tinyserver_process_resident_memory_bytes %zu\n", gauges->resident_bytes);
    write_header(out, "tinyserver_process_peak_resident_memory_bytes", "gauge",
                 "Largest resident set size the process has had.");
    fprintf(out, "tinyserver_process_peak_resident_memory_bytes %zu\n",
            gauges->peak_resident_bytes);
    if (gauges->allocator_committed_bytes != 0) {
        write_header(out, "tinyserver_allocator_committed_bytes", "gauge",
                     "Memory the allocator has committed (mimalloc's mi_process_info).");
        fprintf(out, "tinyserver_allocator_committed_bytes %zu\n",
                gauges->allocator_committed_bytes);
    }
    write_header(out, "tinyserver_build_info", "gauge",
                 "Always 1; the labels describe the running binary.");
    fputs("tinyserver_build_info{version=\"", out);
    write_label_value(out, build->version);
    fputs("\",libc=\"", out);
    write_label_value(out, build->libc);
    fputs("\",allocator=\"", out);
    write_label_value(out, build->allocator.name);
    fputs("\",allocator_version=\"", out);
    write_label_value(out, build->allocator.version);
    fprintf(out, "\",allocator_secure=\"%s\"} 1\n", build->allocator.secure ? "true" : "false");
}

char *metrics_render(struct metrics *metrics, const struct metrics_gauges *gauges,
                     const struct build_info *build)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL) {
        return NULL;
    }
    write_requests(out, metrics);
    write_refusals(out, metrics);
    write_connection_refusals(out, metrics);
    write_bench(out, metrics);
    write_gauges(out, gauges, build);
    if (ferror(out) != 0) {
        fclose(out);
        free(text);
        return NULL;
    }
    if (fclose(out) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
