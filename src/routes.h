/*
 * routes.h - tinyserver's endpoints: the route table and its handlers.
 *
 * The application state (struct app) is owned by main and passed to every
 * handler through the HTTP layer; there is no global state.
 */
#ifndef TINYSERVER_ROUTES_H
#define TINYSERVER_ROUTES_H

#include "bench_params.h"
#include "build_info.h"
#include "http.h"
#include "log.h"
#include "metrics.h"

#include <stdatomic.h>
#include <stddef.h>

struct http_server;
struct tls_server;

struct app {
    const struct build_info *build;
    const struct logger *log;
    struct metrics *metrics;
    /* Set once the servers run (app_attach_servers); read by /metrics. */
    struct http_server *_Atomic http;
    struct tls_server *_Atomic tls;
    struct bench_limits limits;
    unsigned max_concurrent_bench;
    atomic_uint benches_running;
    atomic_bool cancel_benches; /* set on shutdown: running benches stop early */
};

/* Initialises the application state. */
void app_init(struct app *app, const struct build_info *build, const struct logger *log,
              struct metrics *metrics, const struct bench_limits *limits,
              unsigned max_concurrent_bench);

/* Lets /metrics read live figures from the servers (tls may be NULL). */
void app_attach_servers(struct app *app, struct http_server *http, struct tls_server *tls);

/* The route paths in table order, for metrics_init(). */
size_t routes_paths(const char **paths, size_t max);

/* Asks running benchmarks to stop; their requests then get 503. */
void app_cancel_benches(struct app *app);

/* The route table, in the order GET / lists it. */
const struct http_route *routes_table(size_t *count);

#endif
