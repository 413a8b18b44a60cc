/*
 * routes_bench.h - the GET /bench handler: admission (token, parameters and
 * budget, rate, a free slot) and the deferred run.
 */
#ifndef TINYSERVER_ROUTES_BENCH_H
#define TINYSERVER_ROUTES_BENCH_H

#include "http.h"

/* The handler of GET /bench; ctx is the struct app (app.h). */
void routes_bench_handle(void *ctx, const struct http_request *request,
                         struct http_response *response);

#endif
