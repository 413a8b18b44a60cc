/*
 * json.h - the application's JSON bodies (GET / and the benchmark result),
 * built with cJSON. Error bodies are the HTTP layer's
 * (http_response_error in http.h).
 *
 * Each function returns a newly allocated, NUL-terminated, single-line
 * JSON text ending in '\n' that the caller releases with free(), or NULL
 * when memory ran out (the HTTP layer then sends a fixed 500 body).
 */
#ifndef TINYSERVER_JSON_H
#define TINYSERVER_JSON_H

#include "bench.h"
#include "bench_compare.h"
#include "build_info.h"

#include <stddef.h>

/* One endpoint as GET / lists it. */
struct json_endpoint {
    const char *path;
    const char *methods; /* e.g. "GET, HEAD" */
    const char *description;
    const unsigned short *statuses; /* 0-terminated */
};

/* The /bench and --bench result: the measurement plus the allocator and
 * libc that produced it, so a number is never detached from its build.
 * One allocator: its run's figures at the top level. allocator=all: a
 * "results" entry per allocator with every round's run, the median rate
 * and the ratio against musl. */
char *json_bench_result(const struct bench_comparison *comparison, bool all_allocators,
                        const struct build_info *build);

/* GET /: name, version, build facts and the endpoint list. */
char *json_index(const struct build_info *build, const struct json_endpoint *endpoints,
                 size_t endpoint_count);

#endif
