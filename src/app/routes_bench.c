/*
 * routes_bench.c - GET /bench: who may start a run (token, parameters and
 * budget, rate, a free slot), and the run itself on its own thread; see
 * routes_bench.h.
 *
 * The HTTP worker only validates and defers, so a long benchmark never
 * stalls other connections; at most max_concurrent run at once and the
 * rest get 429.
 */
#include "routes_bench.h"

#include "app.h"
#include "bench_compare.h"
#include "clock.h"
#include "json.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>

/* How long a client refused with 429 should wait. Runs at the default
 * parameters take well under a second on any machine this targets. */
#define BENCH_RETRY_AFTER_S 1u

struct bench_job {
    struct app *app;
    struct bench_request request;
    struct http_deferred *deferred;
    /* HTTP_ERROR_BODY_MAX bytes, allocated with the job by the HTTP thread, for
     * the error answer of a run that fails: a run that exhausted memory
     * leaves none to write it in. */
    char *error_body;
    struct bench_comparison comparison;
};

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
        const struct bench_result *run = &comparison->summary[i];
        struct metrics_bench_figures figures = {
            .ops_per_sec = comparison->median_ops_per_sec[i],
            .latency_p50_ns = run->latency.p50_ns,
            .latency_p99_ns = run->latency.p99_ns,
            .latency_max_ns = run->latency.max_ns,
            .memory_known = run->memory.known,
            .peak_bytes = run->memory.peak,
            .retained_bytes = run->memory.retained,
            .retained_released_bytes = run->memory.retained_released,
            .syscalls = {[METRICS_SYSCALL_MMAP] = run->syscalls.mmap,
                         [METRICS_SYSCALL_MUNMAP] = run->syscalls.munmap,
                         [METRICS_SYSCALL_MADVISE] = run->syscalls.madvise,
                         [METRICS_SYSCALL_MPROTECT] = run->syscalls.mprotect},
        };
        metrics_record_bench_result(app->metrics, bench_allocator_name(comparison->allocators[i]),
                                    bench_workload_name(run->workload), run->threads,
                                    run->iterations, &figures);
    }
}

static void job_free(struct bench_job *job)
{
    free(job->error_body);
    free(job);
}

/* The job's error answer, in the body it set aside. */
static void job_error(struct bench_job *job, struct http_response *response, unsigned status,
                      const char *message)
{
    http_response_error_in(response, status, job->error_body, HTTP_ERROR_BODY_MAX, message, NULL);
    job->error_body = NULL;
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
        job_error(job, &response, HTTP_STATUS_CLIENT_CLOSED, "the client closed the connection");
    } else if (status == BENCH_CUT_SHORT) {
        metrics_record_bench(app->metrics, METRICS_BENCH_CUT_SHORT);
        job_error(job, &response, HTTP_STATUS_SERVICE_UNAVAILABLE, bench_status_message(status));
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
        job_error(job, &response, HTTP_STATUS_SERVICE_UNAVAILABLE, message);
        log_message(app->log, LOG_WARN,
                    "bench workload=%s threads=%u iterations=%u allocator=%s failed: %s",
                    bench_workload_name(params->workload), params->threads, params->iterations,
                    bench_allocator_name(failed), bench_status_message(status));
    }
    /* Free the slot before answering, so a client that sends its next run
     * as soon as it reads this answer is not refused with 429. */
    release_bench_slot(app);
    http_deferred_complete(job->deferred, &response);
    job_free(job);
    return NULL;
}

static bool admit_rate(struct app *app, const struct http_request *request,
                       struct http_response *response);

/* The token, when one is set. Returns false after answering. A failed
 * attempt costs a token from the client's --bench-rate bucket, as a run
 * does, so that guesses go no faster than runs: once the bucket is empty
 * the answer is 429, whatever the guess. */
static bool admit_token(struct app *app, const struct http_request *request,
                        struct http_response *response)
{
    const char *values[2];
    size_t count = http_request_header(request, "Authorization", values, 2);
    enum auth_verdict verdict = auth_check(&app->policy.token, values, count < 2 ? count : 2);
    if (verdict == AUTH_OK) {
        return true;
    }
    if (!admit_rate(app, request, response)) {
        return false;
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
        rate_limiter_take(app->rate, request->client, clock_monotonic_ns(), &retry_after_s)) {
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

/* The order: who asks (token; a failed attempt is rate-limited there),
 * what they ask for (parameters and budget), how often they ask (rate; a
 * typo costs no token from the bucket), and whether a slot is free. */
void routes_bench_handle(void *ctx, const struct http_request *request,
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
    char *error_body = malloc(HTTP_ERROR_BODY_MAX);
    if (job == NULL || error_body == NULL) {
        free(job);
        free(error_body);
        release_bench_slot(app);
        metrics_record_bench(app->metrics, METRICS_BENCH_FAILED);
        http_response_error(response, HTTP_STATUS_SERVICE_UNAVAILABLE, "out of memory", NULL);
        return;
    }
    job->app = app;
    job->error_body = error_body;
    job->request = bench;
    job->deferred = http_request_defer(request);
    if (job->deferred == NULL) {
        /* The server is shutting down: no new run starts. */
        job_free(job);
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
        job_error(job, &failed, HTTP_STATUS_SERVICE_UNAVAILABLE,
                  bench_status_message(BENCH_THREAD_FAILED));
        http_deferred_complete(job->deferred, &failed);
        job_free(job);
    }
}
