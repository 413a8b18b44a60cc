/*
 * metrics_exposition.c - the Prometheus text exposition of the counters
 * metrics.c records; see metrics_exposition.h.
 */
#define _GNU_SOURCE
#include "metrics_exposition.h"

#include "cold.h"
#include "array.h"
#include "decimal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bounds as the exposition writes them ("le"), in the same order. */
static const char *const metrics_bound_labels[] = {
    "0.0001", "0.0005", "0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10"};

_Static_assert(ARRAY_SIZE(metrics_bound_labels) == METRICS_BUCKET_COUNT, "a label for each bound");

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

/* The exposition is written with fputs() and put_u64() only: printf's
 * format parsing was most of what a scrape cost. */
static void put_u64(FILE *out, uint64_t value)
{
    char digits[DECIMAL_MAX];
    fwrite(digits, 1, decimal_format(digits, value, 0), out);
}

/* units / 10^digits, written exactly with `digits` decimals. */
static void put_fixed(FILE *out, uint64_t units, unsigned digits)
{
    uint64_t scale = 1;
    for (unsigned i = 0; i < digits; i++) {
        scale *= 10;
    }
    char fraction[DECIMAL_MAX];
    put_u64(out, units / scale);
    fputc('.', out);
    fwrite(fraction, 1, decimal_format(fraction, units % scale, digits), out);
}

/* "} VALUE\n", which ends every sample with labels. */
static void put_sample_end(FILE *out, uint64_t value)
{
    fputs("} ", out);
    put_u64(out, value);
    fputc('\n', out);
}

/* Label values need \\, \" and \n escaped; ours are plain, but build facts
 * come from the toolchain and are escaped anyway. */
static void write_label_value(FILE *out, const char *value)
{
    size_t plain = strcspn(value, "\\\"\n");
    fwrite(value, 1, plain, out);
    for (const char *p = value + plain; *p != '\0'; p++) {
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
    fputs("# HELP ", out);
    fputs(name, out);
    fputc(' ', out);
    fputs(help, out);
    fputs("\n# TYPE ", out);
    fputs(name, out);
    fputc(' ', out);
    fputs(type, out);
    fputc('\n', out);
}

/* `family{label="value"` without the closing brace. */
static void put_labelled(FILE *out, const char *family, const char *label, const char *value)
{
    fputs(family, out);
    fputc('{', out);
    fputs(label, out);
    fputs("=\"", out);
    write_label_value(out, value);
    fputc('"', out);
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
            put_labelled(out, "tinyserver_http_requests_total", "route", metrics->route_names[r]);
            fputs(",code=\"", out);
            if (s < METRICS_STATUS_COUNT - 1) {
                put_u64(out, metrics_status_codes[s]);
            } else {
                fputs("other", out);
            }
            fputc('"', out);
            put_sample_end(out, n);
        }
    }
    write_header(out, "tinyserver_http_request_duration_seconds", "histogram",
                 "Time from the first byte of a request to the end of its response.");
    for (size_t r = 0; r <= metrics->route_count; r++) {
        struct metrics_route_counters *route = &metrics->routes[r];
        uint64_t cumulative = 0;
        for (size_t b = 0; b < METRICS_BUCKET_COUNT; b++) {
            cumulative += atomic_load_explicit(&route->buckets[b], memory_order_relaxed);
            put_labelled(out, "tinyserver_http_request_duration_seconds_bucket", "route",
                         metrics->route_names[r]);
            fputs(",le=\"", out);
            fputs(metrics_bound_labels[b], out);
            fputc('"', out);
            put_sample_end(out, cumulative);
        }
        uint64_t count = atomic_load_explicit(&route->count, memory_order_relaxed);
        /* A request recorded between the loads could make the buckets
         * exceed the count; the exposition must stay monotonic. */
        if (count < cumulative) {
            count = cumulative;
        }
        put_labelled(out, "tinyserver_http_request_duration_seconds_bucket", "route",
                     metrics->route_names[r]);
        fputs(",le=\"+Inf\"", out);
        put_sample_end(out, count);
        /* Seconds with six decimals, exactly, from the microseconds. */
        uint64_t sum_us = atomic_load_explicit(&route->duration_sum_us, memory_order_relaxed);
        put_labelled(out, "tinyserver_http_request_duration_seconds_sum", "route",
                     metrics->route_names[r]);
        fputs("} ", out);
        put_fixed(out, sum_us, 6);
        fputc('\n', out);
        put_labelled(out, "tinyserver_http_request_duration_seconds_count", "route",
                     metrics->route_names[r]);
        put_sample_end(out, count);
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
        fputs("tinyserver_http_refused_total{code=\"", out);
        if (s < METRICS_REFUSAL_COUNT - 1) {
            put_u64(out, metrics_refusal_codes[s]);
        } else {
            fputs("other", out);
        }
        fputc('"', out);
        put_sample_end(out, n);
    }
}

/* One sample per slot of `counters`, labelled `label="names[i]"`. */
static void write_counters_by(FILE *out, const char *family, const char *label,
                              const char *const *names, const atomic_uint_fast64_t *counters,
                              size_t count)
{
    for (size_t i = 0; i < count; i++) {
        put_labelled(out, family, label, names[i]);
        put_sample_end(out, atomic_load_explicit(&counters[i], memory_order_relaxed));
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

static void write_allocator_trims(FILE *out, struct metrics *metrics)
{
    static const char *const threads[METRICS_TRIM_THREAD_COUNT] = {
        [METRICS_TRIM_HTTP_WORKER] = "http_worker",
        [METRICS_TRIM_TLS_LISTENER] = "tls_listener",
    };
    write_header(out, "tinyserver_allocator_trims_total", "counter",
                 "Times a thread asked the allocator to give the memory of closed connections "
                 "back to the system, by thread (musl's allocator does so by itself).");
    write_counters_by(out, "tinyserver_allocator_trims_total", "thread", threads,
                      metrics->allocator_trims, METRICS_TRIM_THREAD_COUNT);
}

/* `family{allocator="...",workload="..."` without the closing brace. */
COLD static void put_bench_labels(FILE *out, const char *family,
                                  const struct metrics_last_bench *last)
{
    put_labelled(out, family, "allocator", last->allocator);
    fputs(",workload=\"", out);
    write_label_value(out, last->workload);
    fputc('"', out);
}

/* One sample of a last-benchmark family: the allocator and workload
 * labels, one more label when `label` is not NULL, and the value, signed,
 * with `decimals` of it after the point (9: nanoseconds as seconds). */
COLD static void put_bench_sample(FILE *out, const char *family,
                                  const struct metrics_last_bench *last, const char *label,
                                  const char *label_value, int64_t value, unsigned decimals)
{
    put_bench_labels(out, family, last);
    if (label != NULL) {
        fputc(',', out);
        fputs(label, out);
        fputs("=\"", out);
        fputs(label_value, out);
        fputc('"', out);
    }
    fputs("} ", out);
    if (value < 0) {
        fputc('-', out);
    }
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    if (decimals == 0) {
        put_u64(out, magnitude);
    } else {
        put_fixed(out, magnitude, decimals);
    }
    fputc('\n', out);
}

COLD static void write_bench(FILE *out, struct metrics *metrics)
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
        put_labelled(out, "tinyserver_bench_refused_total", "reason", bench_refusals[i].reason);
        put_sample_end(out,
                       atomic_load_explicit(&metrics->bench_outcomes[bench_refusals[i].outcome],
                                            memory_order_relaxed));
    }
    pthread_mutex_lock(&metrics->last_bench_lock);
    write_header(out, "tinyserver_bench_last_ops_per_second", "gauge",
                 "Operations per second of the last successful benchmark run, per allocator.");
    for (size_t i = 0; i < metrics->last_bench_count; i++) {
        const struct metrics_last_bench *last = &metrics->last_bench[i];
        put_bench_labels(out, "tinyserver_bench_last_ops_per_second", last);
        fputs(",threads=\"", out);
        put_u64(out, last->threads);
        fputs("\",iterations=\"", out);
        put_u64(out, last->iterations);
        fputc('"', out);
        put_sample_end(out, (uint64_t)(last->figures.ops_per_sec + 0.5));
    }
    write_header(out, "tinyserver_bench_last_latency_seconds", "gauge",
                 "Sampled operation latency of the last successful run, per allocator: the "
                 "median (p50), the 99th percentile (p99) and the longest (max).");
    for (size_t i = 0; i < metrics->last_bench_count; i++) {
        const struct metrics_last_bench *last = &metrics->last_bench[i];
        const struct metrics_bench_figures *f = &last->figures;
        put_bench_sample(out, "tinyserver_bench_last_latency_seconds", last, "stat", "p50",
                         (int64_t)f->latency_p50_ns, 9);
        put_bench_sample(out, "tinyserver_bench_last_latency_seconds", last, "stat", "p99",
                         (int64_t)f->latency_p99_ns, 9);
        put_bench_sample(out, "tinyserver_bench_last_latency_seconds", last, "stat", "max",
                         (int64_t)f->latency_max_ns, 9);
    }
    write_header(out, "tinyserver_bench_last_peak_memory_bytes", "gauge",
                 "Peak resident memory above the start of the last successful run, per "
                 "allocator; absent when /proc could not be read.");
    for (size_t i = 0; i < metrics->last_bench_count; i++) {
        const struct metrics_last_bench *last = &metrics->last_bench[i];
        if (last->figures.memory_known) {
            put_bench_sample(out, "tinyserver_bench_last_peak_memory_bytes", last, NULL, NULL,
                             (int64_t)last->figures.peak_bytes, 0);
        }
    }
    write_header(out, "tinyserver_bench_last_retained_memory_bytes", "gauge",
                 "Resident memory above the start of the last successful run, right after it "
                 "(when=\"after_run\") and after the allocator was asked to give memory back "
                 "(when=\"after_release\"), per allocator; absent when /proc could not be read.");
    for (size_t i = 0; i < metrics->last_bench_count; i++) {
        const struct metrics_last_bench *last = &metrics->last_bench[i];
        if (last->figures.memory_known) {
            put_bench_sample(out, "tinyserver_bench_last_retained_memory_bytes", last, "when",
                             "after_run", last->figures.retained_bytes, 0);
            put_bench_sample(out, "tinyserver_bench_last_retained_memory_bytes", last, "when",
                             "after_release", last->figures.retained_released_bytes, 0);
        }
    }
    static const char *const calls[METRICS_SYSCALL_COUNT] = {"mmap", "munmap", "madvise",
                                                             "mprotect"};
    write_header(out, "tinyserver_bench_last_syscalls", "gauge",
                 "Memory-mapping calls the worker threads of the last successful run made, per "
                 "allocator and call.");
    for (size_t i = 0; i < metrics->last_bench_count; i++) {
        for (size_t c = 0; c < METRICS_SYSCALL_COUNT; c++) {
            put_bench_sample(out, "tinyserver_bench_last_syscalls", &metrics->last_bench[i], "call",
                             calls[c], (int64_t)metrics->last_bench[i].figures.syscalls[c], 0);
        }
    }
    pthread_mutex_unlock(&metrics->last_bench_lock);
}

/* An unlabelled sample: "name value". */
static void put_gauge(FILE *out, const char *name, uint64_t value)
{
    fputs(name, out);
    fputc(' ', out);
    put_u64(out, value);
    fputc('\n', out);
}

static void write_gauges(FILE *out, const struct metrics_gauges *gauges,
                         const struct build_info *build)
{
    write_header(out, "tinyserver_http_open_connections", "gauge",
                 "Connections the HTTP daemon has open (plain and TLS).");
    put_gauge(out, "tinyserver_http_open_connections", gauges->open_connections);
    write_header(out, "tinyserver_http_inflight_requests", "gauge",
                 "Requests received and not yet answered, running benchmarks included.");
    put_gauge(out, "tinyserver_http_inflight_requests", gauges->inflight_requests);
    write_header(out, "tinyserver_http_idle_connections", "gauge",
                 "Open connections with no request being served: waiting for the next one "
                 "(holding no request memory) or still sending its head.");
    put_gauge(out, "tinyserver_http_idle_connections",
              gauges->open_connections > gauges->inflight_requests
                  ? gauges->open_connections - gauges->inflight_requests
                  : 0);
    write_header(out, "tinyserver_tls_open_connections", "gauge", "TLS connections being relayed.");
    put_gauge(out, "tinyserver_tls_open_connections", gauges->open_tls_connections);
    write_header(out, "tinyserver_tls_handshakes_total", "counter",
                 "TLS handshakes finished: full, or resumed from the session cache.");
    put_gauge(out, "tinyserver_tls_handshakes_total{kind=\"full\"}", gauges->tls_handshakes_full);
    put_gauge(out, "tinyserver_tls_handshakes_total{kind=\"resumed\"}",
              gauges->tls_handshakes_resumed);
    write_header(out, "tinyserver_process_resident_memory_bytes", "gauge",
                 "Resident set size of the process.");
    put_gauge(out, "tinyserver_process_resident_memory_bytes", gauges->resident_bytes);
    write_header(out, "tinyserver_process_peak_resident_memory_bytes", "gauge",
                 "Largest resident set size the process has had.");
    put_gauge(out, "tinyserver_process_peak_resident_memory_bytes", gauges->peak_resident_bytes);
    if (gauges->allocator_committed_bytes != 0) {
        write_header(out, "tinyserver_allocator_committed_bytes", "gauge",
                     "Memory the allocator has committed (mimalloc's mi_process_info): "
                     "what it holds from the system, resident or not.");
        put_gauge(out, "tinyserver_allocator_committed_bytes", gauges->allocator_committed_bytes);
    }
    write_header(out, "tinyserver_build_info", "gauge",
                 "Always 1; the labels describe the running binary.");
    put_labelled(out, "tinyserver_build_info", "version", build->version);
    fputs(",libc=\"", out);
    write_label_value(out, build->libc);
    fputs("\",allocator=\"", out);
    write_label_value(out, build->allocator.name);
    fputs("\",allocator_version=\"", out);
    write_label_value(out, build->allocator.version);
    fputs(build->allocator.secure ? "\",allocator_secure=\"true\""
                                  : "\",allocator_secure=\"false\"",
          out);
    put_sample_end(out, 1);
}

char *metrics_exposition_render(struct metrics *metrics, const struct metrics_gauges *gauges,
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
    write_allocator_trims(out, metrics);
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
