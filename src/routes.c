/*
 * routes.c - the endpoint handlers and the route table.
 *
 * GET /bench runs on its own thread (the HTTP worker only validates and
 * defers), so a long benchmark never stalls other connections; at most
 * max_concurrent_bench run at once and the rest get 429.
 */
#include "routes.h"

#include "json.h"

#include <pthread.h>
#include <stdlib.h>

/* How long a client refused with 429 should wait. Runs at the default
 * parameters take well under a second on any machine this targets. */
#define BENCH_RETRY_AFTER_S 1u

#define ROUTES_MAX_ENDPOINTS 16

struct bench_job {
    struct app *app;
    struct bench_params params;
    struct http_deferred *deferred;
};

void app_init(struct app *app, const struct build_info *build, const struct logger *log,
              const struct bench_limits *limits, unsigned max_concurrent_bench)
{
    app->build = build;
    app->log = log;
    app->limits = *limits;
    app->max_concurrent_bench = max_concurrent_bench;
    atomic_init(&app->benches_running, 0);
    atomic_init(&app->cancel_benches, false);
}

void app_cancel_benches(struct app *app)
{
    atomic_store(&app->cancel_benches, true);
}

static bool acquire_bench_slot(struct app *app)
{
    unsigned running = atomic_load(&app->benches_running);
    while (running < app->max_concurrent_bench) {
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

static void answer_error(struct http_response *response, unsigned status, const char *message,
                         const char *parameter)
{
    response->status = status;
    response->body = json_error(message, parameter);
}

static void *bench_job_main(void *arg)
{
    struct bench_job *job = arg;
    struct app *app = job->app;
    struct bench_result result;
    struct http_response response = {0};
    enum bench_status status = bench_run(&job->params, &app->cancel_benches, &result);
    if (status == BENCH_OK) {
        response.status = 200;
        response.body = json_bench_result(&result, app->build);
    } else {
        answer_error(&response, 503, bench_status_message(status), NULL);
        log_message(app->log, LOG_WARN, "bench workload=%s threads=%u iterations=%u failed: %s",
                    bench_workload_name(job->params.workload), job->params.threads,
                    job->params.iterations, bench_status_message(status));
    }
    /* Free the slot before answering, so a client that sends its next run
     * as soon as it reads this answer is not refused with 429. */
    release_bench_slot(app);
    http_deferred_complete(job->deferred, &response);
    free(job);
    return NULL;
}

static bool start_bench_thread(struct bench_job *job)
{
    pthread_attr_t attr;
    pthread_t thread;
    if (pthread_attr_init(&attr) != 0) {
        return false;
    }
    bool started = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
                   pthread_create(&thread, &attr, bench_job_main, job) == 0;
    pthread_attr_destroy(&attr);
    return started;
}

static void handle_bench(void *ctx, const struct http_request *request,
                         struct http_response *response)
{
    struct app *app = ctx;
    struct bench_params params;
    struct bench_params_error error;
    if (!bench_params_parse(request->query, request->query_count, &app->limits, &params, &error)) {
        answer_error(response, 400, error.message, error.parameter);
        return;
    }
    if (!acquire_bench_slot(app)) {
        answer_error(response, 429, "too many benchmarks running; retry later", NULL);
        response->retry_after_s = BENCH_RETRY_AFTER_S;
        return;
    }
    struct bench_job *job = malloc(sizeof(*job));
    if (job == NULL) {
        release_bench_slot(app);
        answer_error(response, 503, "out of memory", NULL);
        return;
    }
    job->app = app;
    job->params = params;
    job->deferred = http_request_defer(request);
    if (!start_bench_thread(job)) {
        struct http_response failed = {0};
        release_bench_slot(app);
        answer_error(&failed, 503, bench_status_message(BENCH_THREAD_FAILED), NULL);
        http_deferred_complete(job->deferred, &failed);
        free(job);
    }
}

static void handle_healthz(void *ctx, const struct http_request *request,
                           struct http_response *response)
{
    (void)ctx;
    (void)request;
    response->status = 200;
    response->body = json_health();
}

static void handle_index(void *ctx, const struct http_request *request,
                         struct http_response *response);

static const struct http_route route_table[] = {
    {"/", HTTP_GET | HTTP_HEAD, handle_index, "service name, version, build facts and endpoints"},
    {"/healthz", HTTP_GET | HTTP_HEAD, handle_healthz, "liveness: 200 {\"status\":\"ok\"}"},
    {"/bench", HTTP_GET | HTTP_HEAD, handle_bench,
     "run a threaded allocation workload; query: threads, iterations, workload"},
};

#define ROUTE_COUNT (sizeof(route_table) / sizeof(route_table[0]))

_Static_assert(ROUTE_COUNT <= ROUTES_MAX_ENDPOINTS, "raise ROUTES_MAX_ENDPOINTS");

static void handle_index(void *ctx, const struct http_request *request,
                         struct http_response *response)
{
    (void)request;
    struct app *app = ctx;
    struct json_endpoint endpoints[ROUTES_MAX_ENDPOINTS];
    char methods[ROUTES_MAX_ENDPOINTS][64];
    for (size_t i = 0; i < ROUTE_COUNT; i++) {
        http_methods_format(route_table[i].methods, methods[i], sizeof(methods[i]));
        endpoints[i] = (struct json_endpoint){
            .path = route_table[i].path,
            .methods = methods[i],
            .description = route_table[i].description,
        };
    }
    response->status = 200;
    response->body = json_index(app->build, endpoints, ROUTE_COUNT);
}

const struct http_route *routes_table(size_t *count)
{
    *count = ROUTE_COUNT;
    return route_table;
}
