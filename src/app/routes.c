/*
 * routes.c - the route table and the handlers of GET /, /healthz and
 * /metrics; GET /bench's is routes_bench.c.
 */
#include "routes.h"

#include "alloc_info.h"
#include "app.h"
#include "array.h"
#include "json.h"
#include "metrics_exposition.h"
#include "page.h"
#include "routes_bench.h"
#include "tls.h"

#include <string.h>

#define ROUTES_MAX_ENDPOINTS 16
/* Accept headers GET / looks at; browsers send one. */
#define ROUTES_MAX_ACCEPT_HEADERS 4

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
    response->body = metrics_exposition_render(app->metrics, &gauges, app->build);
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
     .handler = routes_bench_handle,
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

char *routes_index_json(const struct build_info *build)
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

/* Whether any of the request's `name` headers (a client may send several)
 * passes `test`. */
static bool any_header(const struct http_request *request, const char *name,
                       bool (*test)(const char *value))
{
    const char *values[ROUTES_MAX_ACCEPT_HEADERS];
    size_t count = http_request_header(request, name, values, ROUTES_MAX_ACCEPT_HEADERS);
    for (size_t i = 0; i < count && i < ROUTES_MAX_ACCEPT_HEADERS; i++) {
        if (test(values[i])) {
            return true;
        }
    }
    return false;
}

/* What a browser gets at / instead of JSON (src/app/page/index.html), kept
 * and sent gzip-compressed (page.h). */
static const char page_content_type[] = "text/html; charset=utf-8";
static const char index_vary[] = "Accept, Accept-Encoding";

static void handle_index(void *ctx, const struct http_request *request,
                         struct http_response *response)
{
    struct app *app = ctx;
    response->status = HTTP_STATUS_OK;
    response->vary = index_vary;
    if (any_header(request, "Accept", page_wanted) &&
        any_header(request, "Accept-Encoding", page_gzip_accepted)) {
        response->static_body = (const char *)page_gzip;
        response->static_body_len = page_gzip_size;
        response->content_type = page_content_type;
        response->content_encoding = "gzip";
        response->content_security_policy = page_csp;
        return;
    }
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
