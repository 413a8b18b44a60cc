/* Unit tests for metrics.c and metrics_exposition.c: what each recording
 * adds to the exposition, including the "other" slots for codes outside
 * the fixed lists and the refusals libmicrohttpd makes before routing.
 * The Prometheus parser reads the live output in
 * tests/integration/test_observability.py. */
#include "metrics.h"
#include "metrics_exposition.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

static const char *const routes[] = {"/", "/healthz"};

static char *render(struct metrics *metrics)
{
    struct build_info build;
    memset(&build, 0, sizeof(build));
    build.version = "1.2.3";
    build.libc = "test-libc";
    build.allocator.name = "test-alloc";
    strcpy(build.allocator.version, "0");
    struct metrics_gauges gauges = {.open_connections = 2, .inflight_requests = 1};
    return metrics_exposition_render(metrics, &gauges, &build);
}

static bool has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line)) {
        bool starts_line = p == text || p[-1] == '\n';
        if (starts_line && p[len] == '\n') {
            return true;
        }
    }
    return false;
}

int main(void)
{
    struct metrics metrics;
    CHECK(metrics_init(&metrics, routes, 2));

    char *empty = render(&metrics);
    CHECK(empty != NULL);
    if (empty != NULL) {
        /* Families are described even before their first sample. */
        CHECK(has_line(empty, "# TYPE tinyserver_http_refused_total counter"));
        CHECK(strstr(empty, "tinyserver_http_refused_total{") == NULL);
        CHECK(strstr(empty, "tinyserver_http_requests_total{") == NULL);
        /* Both connection refusal reasons, at 0 before the first */
        CHECK(has_line(empty,
                       "tinyserver_connections_refused_total{reason=\"per_address_limit\"} 0"));
        CHECK(has_line(empty,
                       "tinyserver_connections_refused_total{reason=\"tls_connection_limit\"} 0"));
        CHECK(has_line(empty, "tinyserver_allocator_trims_total{thread=\"http_worker\"} 0"));
        CHECK(has_line(empty, "tinyserver_allocator_trims_total{thread=\"tls_listener\"} 0"));
        free(empty);
    }

    metrics_record_request(&metrics, 1, 200, 50);
    metrics_record_request(&metrics, 1, 200, 70);
    metrics_record_request(&metrics, -1, 404, 10);
    metrics_record_request(&metrics, 0, 418, 10); /* not in the list */
    metrics_record_refusal(&metrics, 431);
    metrics_record_refusal(&metrics, 431);
    metrics_record_refusal(&metrics, 505);
    metrics_record_refusal(&metrics, 999); /* not in the list */
    metrics_record_bench(&metrics, METRICS_BENCH_BUSY);
    metrics_record_connection_refusal(&metrics, METRICS_REFUSED_TLS_LIMIT);
    metrics_record_connection_refusal(&metrics, METRICS_REFUSED_TLS_LIMIT);
    metrics_record_allocator_trim(&metrics, METRICS_TRIM_HTTP_WORKER);
    metrics_record_allocator_trim(&metrics, METRICS_TRIM_HTTP_WORKER);
    metrics_record_allocator_trim(&metrics, METRICS_TRIM_TLS_LISTENER);

    char *text = render(&metrics);
    CHECK(text != NULL);
    if (text != NULL) {
        CHECK(has_line(text, "tinyserver_http_requests_total{route=\"/healthz\",code=\"200\"} 2"));
        CHECK(has_line(text, "tinyserver_http_requests_total{route=\"unmatched\",code=\"404\"} 1"));
        CHECK(has_line(text, "tinyserver_http_requests_total{route=\"/\",code=\"other\"} 1"));
        CHECK(has_line(text, "tinyserver_http_refused_total{code=\"431\"} 2"));
        CHECK(has_line(text, "tinyserver_http_refused_total{code=\"505\"} 1"));
        CHECK(has_line(text, "tinyserver_http_refused_total{code=\"other\"} 1"));
        CHECK(has_line(text,
                       "tinyserver_connections_refused_total{reason=\"tls_connection_limit\"} 2"));
        CHECK(
            has_line(text, "tinyserver_connections_refused_total{reason=\"per_address_limit\"} 0"));
        CHECK(strstr(text, "tinyserver_http_refused_total{code=\"400\"}") == NULL);
        /* Refusals never reached a route, so no route counts them: the
         * three requests above are the only request samples. */
        unsigned request_samples = 0;
        for (const char *p = strstr(text, "\ntinyserver_http_requests_total{"); p != NULL;
             p = strstr(p + 1, "\ntinyserver_http_requests_total{")) {
            request_samples++;
        }
        CHECK_MSG(request_samples == 3, "%u request samples", request_samples);
        CHECK(
            has_line(text, "tinyserver_http_request_duration_seconds_count{route=\"/healthz\"} 2"));
        CHECK(has_line(text, "tinyserver_http_request_duration_seconds_sum{route=\"/healthz\"} "
                             "0.000120"));
        CHECK(has_line(text, "tinyserver_bench_runs_total{outcome=\"busy\"} 1"));
        CHECK(has_line(text, "tinyserver_http_open_connections 2"));
        /* Open and not being served: 2 open, 1 in flight. */
        CHECK(has_line(text, "tinyserver_http_idle_connections 1"));
        CHECK(has_line(text, "tinyserver_allocator_trims_total{thread=\"http_worker\"} 2"));
        CHECK(has_line(text, "tinyserver_allocator_trims_total{thread=\"tls_listener\"} 1"));
        CHECK(has_line(text, "tinyserver_build_info{version=\"1.2.3\",libc=\"test-libc\","
                             "allocator=\"test-alloc\",allocator_version=\"0\","
                             "allocator_secure=\"false\"} 1"));
        free(text);
    }
    /* The bench refusals, by reason, and the 499 of a client that left. */
    metrics_record_bench(&metrics, METRICS_BENCH_RATE_LIMITED);
    metrics_record_bench(&metrics, METRICS_BENCH_UNAUTHORIZED);
    metrics_record_bench(&metrics, METRICS_BENCH_UNAUTHORIZED);
    metrics_record_bench(&metrics, METRICS_BENCH_CLIENT_CLOSED);
    metrics_record_request(&metrics, 1, 499, 10);
    char *later = render(&metrics);
    CHECK(later != NULL);
    if (later != NULL) {
        CHECK(has_line(later, "tinyserver_bench_refused_total{reason=\"rate\"} 1"));
        CHECK(has_line(later, "tinyserver_bench_refused_total{reason=\"token\"} 2"));
        CHECK(has_line(later, "tinyserver_bench_refused_total{reason=\"budget\"} 0"));
        CHECK(has_line(later, "tinyserver_bench_refused_total{reason=\"busy\"} 1"));
        CHECK(has_line(later, "tinyserver_bench_runs_total{outcome=\"client_closed\"} 1"));
        CHECK(has_line(later, "tinyserver_http_requests_total{route=\"/healthz\",code=\"499\"} 1"));
        free(later);
    }
    /* A benchmark's figures: each family, exact decimals for the latency,
     * signed retained bytes, and no memory samples when it was unknown. */
    struct metrics_bench_figures figures = {
        .ops_per_sec = 1234.4,
        .latency_p50_ns = 167,
        .latency_p99_ns = 98303,
        .latency_max_ns = 1500000123,
        .memory_known = true,
        .peak_bytes = 24748032,
        .retained_bytes = 24748032,
        .retained_released_bytes = -8192,
        .syscalls = {4, 0, 1, 33},
    };
    metrics_record_bench_result(&metrics, "mimalloc", "window", 2, 10000, &figures);
    figures.memory_known = false;
    metrics_record_bench_result(&metrics, "musl", "window", 2, 10000, &figures);
    char *bench = render(&metrics);
    CHECK(bench != NULL);
    if (bench != NULL) {
        CHECK(has_line(bench, "tinyserver_bench_last_ops_per_second{allocator=\"mimalloc\","
                              "workload=\"window\",threads=\"2\",iterations=\"10000\"} 1234"));
        CHECK(has_line(bench, "tinyserver_bench_last_latency_seconds{allocator=\"mimalloc\","
                              "workload=\"window\",stat=\"p50\"} 0.000000167"));
        CHECK(has_line(bench, "tinyserver_bench_last_latency_seconds{allocator=\"mimalloc\","
                              "workload=\"window\",stat=\"max\"} 1.500000123"));
        CHECK(has_line(bench, "tinyserver_bench_last_peak_memory_bytes{allocator=\"mimalloc\","
                              "workload=\"window\"} 24748032"));
        CHECK(has_line(bench, "tinyserver_bench_last_retained_memory_bytes{allocator=\"mimalloc\","
                              "workload=\"window\",when=\"after_release\"} -8192"));
        CHECK(has_line(bench, "tinyserver_bench_last_syscalls{allocator=\"mimalloc\","
                              "workload=\"window\",call=\"mprotect\"} 33"));
        CHECK(has_line(bench, "tinyserver_bench_last_syscalls{allocator=\"musl\","
                              "workload=\"window\",call=\"mmap\"} 4"));
        CHECK(strstr(bench, "tinyserver_bench_last_peak_memory_bytes{allocator=\"musl\"") == NULL);
        CHECK(strstr(bench, "tinyserver_bench_last_retained_memory_bytes{allocator=\"musl\"") ==
              NULL);
        free(bench);
    }
    metrics_destroy(&metrics);
    return check_finish("metrics");
}
