/*
 * routes.c - the endpoint handlers and the route table.
 *
 * GET /bench runs on its own thread (the HTTP worker only validates and
 * defers), so a long benchmark never stalls other connections; at most
 * max_concurrent_bench run at once and the rest get 429.
 */
#include "routes.h"

#include "array.h"
#include "bench_compare.h"
#include "clock.h"
#include "json.h"
#include "page.h"
#include "threads.h"

#include "alloc_info.h"
#include "tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a client refused with 429 should wait. Runs at the default
 * parameters take well under a second on any machine this targets. */
#define BENCH_RETRY_AFTER_S 1u

#define ROUTES_MAX_ENDPOINTS 16
/* Accept headers GET / looks at; browsers send one. */
#define ROUTES_MAX_ACCEPT_HEADERS 4

struct bench_job {
    struct app *app;
    struct bench_request request;
    struct http_deferred *deferred;
    struct bench_comparison comparison;
};

static char *index_json(const struct build_info *build);

bool app_init(struct app *app, const struct build_info *build, const struct logger *log,
              struct metrics *metrics, const struct bench_limits *limits,
              const struct bench_policy *policy)
{
    app->build = build;
    app->log = log;
    app->metrics = metrics;
    atomic_init(&app->http, NULL);
    atomic_init(&app->tls, NULL);
    app->limits = *limits;
    app->policy = *policy;
    atomic_init(&app->benches_running, 0);
    atomic_init(&app->cancel_benches, false);
    app->rate = NULL;
    app->index_json = index_json(build);
    if (app->index_json == NULL) {
        return false;
    }
    app->index_json_len = strlen(app->index_json);
    if (policy->rate.count != 0) {
        app->rate = rate_limiter_new(&policy->rate, APP_RATE_CLIENTS);
        if (app->rate == NULL) {
            app_destroy(app);
            return false;
        }
    }
    return true;
}

void app_destroy(struct app *app)
{
    rate_limiter_free(app->rate);
    app->rate = NULL;
    free(app->index_json);
    app->index_json = NULL;
}

void app_attach_servers(struct app *app, struct http_server *http, struct tls_server *tls)
{
    atomic_store(&app->tls, tls);
    atomic_store(&app->http, http);
}

void app_cancel_benches(struct app *app)
{
    atomic_store(&app->cancel_benches, true);
}

static bool acquire_bench_slot(struct app *app)
{
    unsigned running = atomic_load(&app->benches_running);
    while (running < app->policy.max_concurrent) {
        if (atomic_compare_exchange_weak(&app->benches_running, &running, running + 1)) {
            return true;
        }
    }
    return false;
}

static void release_bench_slot(struct app *app)
{
    atomic_fetch_sub(&app->benches_running, 1);
}

/* One series per allocator: an allocator=all run leaves every allocator's
 * median. */
static void record_results(struct app *app, const struct bench_comparison *comparison)
{
    for (size_t i = 0; i < comparison->allocator_count; i++) {
        const struct bench_result *run = &comparison->runs[0][i];
        metrics_record_bench_result(app->metrics, bench_allocator_name(comparison->allocators[i]),
                                    bench_workload_name(run->workload), run->threads,
                                    run->iterations, comparison->median_ops_per_sec[i]);
    }
}

static void *bench_job_main(void *arg)
{
    struct bench_job *job = arg;
    struct app *app = job->app;
    struct http_response response = {0};
    const struct bench_params *params = &job->request.params;
    const atomic_bool *client_gone = http_deferred_client_gone(job->deferred);
    struct bench_stop stop = {
        .cancel = {&app->cancel_benches, client_gone},
        .max_ms = app->policy.max_seconds * 1000u,
    };
    enum bench_allocator failed = params->allocator;
    enum bench_status status = bench_compare(&job->request, &stop, &job->comparison, &failed);
    if (status != BENCH_OK && atomic_load(client_gone)) {
        /* Nobody is left to read an answer; the layer logs 499. */
        metrics_record_bench(app->metrics, METRICS_BENCH_CLIENT_CLOSED);
        http_response_error(&response, HTTP_STATUS_CLIENT_CLOSED,
                            "the client closed the connection", NULL);
    } else if (status == BENCH_CUT_SHORT) {
        metrics_record_bench(app->metrics, METRICS_BENCH_CUT_SHORT);
        http_response_error(&response, HTTP_STATUS_SERVICE_UNAVAILABLE,
                            bench_status_message(status), NULL);
        log_message(app->log, LOG_INFO,
                    "bench workload=%s threads=%u iterations=%u allocator=%s cut short at %us",
                    bench_workload_name(params->workload), params->threads, params->iterations,
                    bench_allocator_name(failed), app->policy.max_seconds);
    } else if (status == BENCH_OK) {
        response.body =
            json_bench_result(&job->comparison, job->request.all_allocators, app->build);
        /* Out of memory for the result: a /bench allocation failure like
         * any other, 503 (the HTTP layer sends its fixed body). */
        response.status = response.body != NULL ? HTTP_STATUS_OK : HTTP_STATUS_SERVICE_UNAVAILABLE;
        metrics_record_bench(app->metrics, METRICS_BENCH_OK);
        record_results(app, &job->comparison);
    } else {
        /* One allocator's failure fails the whole request, naming it. */
        char message[160];
        snprintf(message, sizeof(message), "%s (allocator %s)", bench_status_message(status),
                 bench_allocator_name(failed));
        metrics_record_bench(app->metrics, status == BENCH_CANCELLED ? METRICS_BENCH_CANCELLED
                                                                     : METRICS_BENCH_FAILED);
        http_response_error(&response, HTTP_STATUS_SERVICE_UNAVAILABLE, message, NULL);
        log_message(app->log, LOG_WARN,
                    "bench workload=%s threads=%u iterations=%u allocator=%s failed: %s",
                    bench_workload_name(params->workload), params->threads, params->iterations,
                    bench_allocator_name(failed), bench_status_message(status));
    }
    /* Free the slot before answering, so a client that sends its next run
     * as soon as it reads this answer is not refused with 429. */
    release_bench_slot(app);
    http_deferred_complete(job->deferred, &response);
    free(job);
    return NULL;
}

/* The token, when one is set. Returns false after answering. */
static bool admit_token(struct app *app, const struct http_request *request,
                        struct http_response *response)
{
    const char *values[2];
    size_t count = http_request_header(request, "Authorization", values, 2);
    enum auth_verdict verdict = auth_check(&app->policy.token, values, count < 2 ? count : 2);
    if (verdict == AUTH_OK) {
        return true;
    }
    metrics_record_bench(app->metrics, METRICS_BENCH_UNAUTHORIZED);
    http_response_error(response, auth_verdict_status(verdict), auth_verdict_message(verdict),
                        NULL);
    response->www_authenticate = auth_verdict_challenge(verdict);
    return false;
}

/* The client's rate, when one is set. Returns false after answering. */
static bool admit_rate(struct app *app, const struct http_request *request,
                       struct http_response *response)
{
    unsigned retry_after_s = 0;
    if (app->rate == NULL ||
        rate_limiter_take(app->rate, request->peer, clock_monotonic_ns(), &retry_after_s)) {
        return true;
    }
    char rate[32];
    char message[128];
    rate_spec_format(&app->policy.rate, rate, sizeof(rate));
    snprintf(message, sizeof(message),
             "too many benchmarks from this address (limit %s); retry after %u s", rate,
             retry_after_s);
    metrics_record_bench(app->metrics, METRICS_BENCH_RATE_LIMITED);
    http_response_error(response, HTTP_STATUS_TOO_MANY_REQUESTS, message, NULL);
    response->retry_after_s = retry_after_s;
    return false;
}

/* The order: who asks (token), what they ask for (parameters and budget),
 * how often they ask (rate; a typo costs no token from the bucket), and
 * whether a slot is free. */
static void handle_bench(void *ctx, const struct http_request *request,
                         struct http_response *response)
{
    struct app *app = ctx;
    struct bench_request bench;
    struct bench_params_error error;
    if (!admit_token(app, request, response)) {
        return;
    }
    if (!bench_params_parse(request->query, request->query_count, &app->limits, &bench, &error)) {
        http_response_error(response, HTTP_STATUS_BAD_REQUEST, error.message, error.parameter);
        metrics_record_bench(app->metrics,
                             error.over_budget ? METRICS_BENCH_OVER_BUDGET : METRICS_BENCH_INVALID);
        return;
    }
    if (!admit_rate(app, request, response)) {
        return;
    }
    if (!acquire_bench_slot(app)) {
        metrics_record_bench(app->metrics, METRICS_BENCH_BUSY);
        http_response_error(response, HTTP_STATUS_TOO_MANY_REQUESTS,
                            "too many benchmarks running; retry later", NULL);
        response->retry_after_s = BENCH_RETRY_AFTER_S;
        return;
    }
    struct bench_job *job = malloc(sizeof(*job));
    if (job == NULL) {
        release_bench_slot(app);
        metrics_record_bench(app->metrics, METRICS_BENCH_FAILED);
        http_response_error(response, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory", NULL);
        return;
    }
    job->app = app;
    job->request = bench;
    job->deferred = http_request_defer(request);
    if (job->deferred == NULL) {
        /* The server is shutting down: no new run starts. */
        free(job);
        release_bench_slot(app);
        metrics_record_bench(app->metrics, METRICS_BENCH_CANCELLED);
        http_response_error(response, HTTP_STATUS_SERVICE_UNAVAILABLE,
                            bench_status_message(BENCH_CANCELLED), NULL);
        return;
    }
    if (!threads_start_detached(bench_job_main, job, 0)) {
        struct http_response failed = {0};
        release_bench_slot(app);
        metrics_record_bench(app->metrics, METRICS_BENCH_FAILED);
        http_response_error(&failed, HTTP_STATUS_SERVICE_UNAVAILABLE,
                            bench_status_message(BENCH_THREAD_FAILED), NULL);
        http_deferred_complete(job->deferred, &failed);
        free(job);
    }
}

/* Prometheus text format 0.0.4, the version every scraper understands. */
static const char metrics_content_type[] = "text/plain; version=0.0.4; charset=utf-8";

static void handle_metrics(void *ctx, const struct http_request *request,
                           struct http_response *response)
{
    (void)request;
    struct app *app = ctx;
    struct metrics_gauges gauges = {0};
    struct http_server *http = atomic_load(&app->http);
    struct tls_server *tls = atomic_load(&app->tls);
    if (http != NULL) {
        http_server_stats(http, &gauges.open_connections, &gauges.inflight_requests);
    }
    if (tls != NULL) {
        struct tls_server_stats stats;
        tls_server_stats(tls, &stats);
        gauges.open_tls_connections = stats.open_connections;
        gauges.tls_handshakes_full = stats.handshakes_full;
        gauges.tls_handshakes_resumed = stats.handshakes_resumed;
    }
    struct alloc_memory memory;
    if (!alloc_info_process_memory(&memory)) {
        log_message(app->log, LOG_DEBUG, "process memory figures unavailable");
    }
    gauges.resident_bytes = memory.resident;
    gauges.peak_resident_bytes = memory.peak_resident;
    gauges.allocator_committed_bytes = memory.committed;
    response->status = HTTP_STATUS_OK;
    response->body = metrics_render(app->metrics, &gauges, app->build);
    response->content_type = metrics_content_type;
}

static void handle_index(void *ctx, const struct http_request *request,
                         struct http_response *response);

static const struct http_route route_table[] = {
    {.path = "/",
     .methods = HTTP_GET | HTTP_HEAD,
     .handler = handle_index,
     .description = "service name, version, build facts and endpoints; a browser (Accept: "
                    "text/html) gets a page comparing the allocators",
     .statuses = {HTTP_STATUS_OK, 0}},
    /* Liveness answers the same bytes every time: a fixed body, served
     * from one response built at start-up (the cheapest request there is,
     * which is what a probe every few seconds should be). */
    {.path = "/healthz",
     .methods = HTTP_GET | HTTP_HEAD,
     .fixed_body = "{\"status\":\"ok\"}\n",
     .description = "liveness: 200 {\"status\":\"ok\"}",
     .statuses = {HTTP_STATUS_OK, 0}},
    /* No HEAD: it would run a whole benchmark to send headers nobody
     * needs, and its headers depend on the run. HEAD gets 405. */
    {.path = "/bench",
     .methods = HTTP_GET,
     .handler = handle_bench,
     .description = "run a threaded allocation workload; query: threads, iterations, workload, "
                    "allocator, repeat; may need Authorization: Bearer",
     .statuses = {HTTP_STATUS_OK, HTTP_STATUS_BAD_REQUEST, HTTP_STATUS_UNAUTHORIZED,
                  HTTP_STATUS_TOO_MANY_REQUESTS, HTTP_STATUS_SERVICE_UNAVAILABLE, 0}},
    {.path = "/metrics",
     .methods = HTTP_GET | HTTP_HEAD,
     .handler = handle_metrics,
     .description = "Prometheus metrics: requests, durations, benchmarks, connections, memory",
     .statuses = {HTTP_STATUS_OK, 0}},
};

#define ROUTE_COUNT ARRAY_SIZE(route_table)

_Static_assert(ROUTE_COUNT <= ROUTES_MAX_ENDPOINTS, "raise ROUTES_MAX_ENDPOINTS");

/* The route's own statuses plus the layer's, ascending, 0-terminated;
 * `out` holds 2 * HTTP_MAX_ROUTE_STATUSES entries. */
static void merge_statuses(const unsigned short *own, unsigned short *out)
{
    size_t n = 0;
    const unsigned short *lists[] = {own, http_layer_statuses};
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; lists[l][i] != 0 && n + 1 < 2 * HTTP_MAX_ROUTE_STATUSES; i++) {
            size_t at = 0;
            while (at < n && out[at] < lists[l][i]) {
                at++;
            }
            if (at < n && out[at] == lists[l][i]) {
                continue;
            }
            memmove(&out[at + 1], &out[at], (n - at) * sizeof(out[0]));
            out[at] = lists[l][i];
            n++;
        }
    }
    out[n] = 0;
}

/* GET /'s JSON: the service, the build and every route with its methods
 * and statuses. NULL when out of memory. */
static char *index_json(const struct build_info *build)
{
    struct json_endpoint endpoints[ROUTES_MAX_ENDPOINTS];
    char methods[ROUTES_MAX_ENDPOINTS][64];
    unsigned short statuses[ROUTES_MAX_ENDPOINTS][HTTP_MAX_ROUTE_STATUSES * 2];
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        http_methods_format(route_table[i].methods, methods[i], sizeof(methods[i]));
        merge_statuses(route_table[i].statuses, statuses[i]);
        endpoints[i] = (struct json_endpoint){
            .path = route_table[i].path,
            .methods = methods[i],
            .description = route_table[i].description,
            .statuses = statuses[i],
        };
    }
    return json_index(build, endpoints, ROUTE_COUNT);
}

/* Whether any Accept header asks for HTML (a client may send several). */
static bool wants_page(const struct http_request *request)
{
    const char *accept[ROUTES_MAX_ACCEPT_HEADERS];
    size_t count = http_request_header(request, "Accept", accept, ROUTES_MAX_ACCEPT_HEADERS);
    for (size_t i = 0; i < count && i < ROUTES_MAX_ACCEPT_HEADERS; i++) {
        if (page_wanted(accept[i])) {
            return true;
        }
    }
    return false;
}

/* What a browser gets at / instead of JSON (src/app/page/index.html). */
static const char page_content_type[] = "text/html; charset=utf-8";

static void handle_index(void *ctx, const struct http_request *request,
                         struct http_response *response)
{
    struct app *app = ctx;
    if (wants_page(request)) {
        response->status = HTTP_STATUS_OK;
        response->static_body = page_html;
        response->static_body_len = page_html_size;
        response->content_type = page_content_type;
        response->content_security_policy = page_csp;
        return;
    }
    response->status = HTTP_STATUS_OK;
    response->static_body = app->index_json;
    response->static_body_len = app->index_json_len;
}

size_t routes_paths(const char **paths, size_t max)
{
    size_t n = 0;
    for (; n < ROUTE_COUNT && n < max; n++) {
        paths[n] = route_table[n].path;
    }
    return n;
}

const struct http_route *routes_table(size_t *count)
{
    *count = ROUTE_COUNT;
    return route_table;
}
