/*
 * routes.h - tinyserver's endpoints: the route table and GET /'s answer.
 *
 * Every handler gets the application state (struct app, app.h) as its
 * ctx. The /bench handler is routes_bench.h's.
 */
#ifndef TINYSERVER_ROUTES_H
#define TINYSERVER_ROUTES_H

#include "build_info.h"
#include "http.h"

#include <stddef.h>

/* The route paths in table order, for metrics_init(). */
size_t routes_paths(const char **paths, size_t max);

/* The route table, in the order GET / lists it. */
const struct http_route *routes_table(size_t *count);

/* GET /'s JSON for this build: the service, the build and every route with
 * its methods and statuses. NULL when out of memory; the caller frees it. */
char *routes_index_json(const struct build_info *build);

#endif
