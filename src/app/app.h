/*
 * app.h - the application state every handler works on (struct app) and
 * its lifetime.
 *
 * The state is owned by main and passed to every handler through the HTTP
 * layer (the route's ctx); there is no global state.
 */
#ifndef TINYSERVER_APP_H
#define TINYSERVER_APP_H

#include "auth.h"
#include "bench_params.h"
#include "build_info.h"
#include "log.h"
#include "metrics.h"
#include "rate_limit.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct http_server;
struct tls_server;

/* Who may start a benchmark and for how long: the guard in front of the
 * runs (see the README's "Running a public instance"). */
struct bench_policy {
    unsigned max_concurrent;
    unsigned max_seconds;    /* wall-clock cap of one run; 0 means none */
    struct auth_token token; /* token.set false: no token needed */
    struct rate_spec rate;   /* per client address; count 0 means no limit */
};

/* The per-address table of --bench-rate holds this many clients at most
 * (about 90 KiB); see rate_limit.h for what happens when it is full. */
#define APP_RATE_CLIENTS 1024u

struct app {
    const struct build_info *build;
    const struct logger *log;
    struct metrics *metrics;
    /* Set once the servers run (app_attach_servers); read by /metrics. */
    struct http_server *_Atomic http;
    struct tls_server *_Atomic tls;
    struct bench_limits limits;
    struct bench_policy policy;
    struct rate_limiter *rate; /* NULL when there is no rate limit */
    atomic_uint benches_running;
    atomic_bool cancel_benches; /* set on shutdown: running benches stop early */
    /* GET /'s JSON: the build and the route table never change while the
     * process runs, so it is made once, by app_init(). */
    char *index_json;
    size_t index_json_len;
};

/* Initialises the application state. Returns false when out of memory
 * (for the rate table or GET /'s answer). */
bool app_init(struct app *app, const struct build_info *build, const struct logger *log,
              struct metrics *metrics, const struct bench_limits *limits,
              const struct bench_policy *policy);

/* Frees what app_init() allocated. */
void app_destroy(struct app *app);

/* Lets /metrics read live figures from the servers (tls may be NULL). */
void app_attach_servers(struct app *app, struct http_server *http, struct tls_server *tls);

/* Asks running benchmarks to stop; their requests then get 503. */
void app_cancel_benches(struct app *app);

#endif
