/*
 * http_request.c - what a handler may ask of its request: its header
 * values, and deferring its answer (the connection is suspended and the
 * hangup watch looks after the client meanwhile); see http.h.
 */
#include "http_internal.h"

#include <strings.h>

struct header_collector {
    const char *name;
    const char **values;
    size_t max;
    size_t count;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    struct header_collector *headers = cls;
    if (strcasecmp(key, headers->name) == 0) {
        if (headers->count < headers->max) {
            headers->values[headers->count] = value != NULL ? value : "";
        }
        headers->count++;
    }
    return MHD_YES;
}

size_t http_request_header(const struct http_request *request, const char *name,
                           const char **values, size_t max)
{
    const struct request_state *state = request->internal;
    struct header_collector headers = {.name = name, .values = values, .max = max, .count = 0};
    MHD_get_connection_values(state->connection, MHD_HEADER_KIND, collect_header, &headers);
    return headers.count;
}

const atomic_bool *http_deferred_client_gone(const struct http_deferred *deferred)
{
    return &((const struct request_state *)(const void *)deferred)->client_gone;
}

struct http_deferred *http_request_defer(const struct http_request *request)
{
    struct request_state *state = request->internal;
    /* Nothing new is suspended once shutdown began: libmicrohttpd aborts
     * the process when its daemon stops with a suspended connection, and
     * http_server_wait_idle() may already have seen nothing in flight
     * (requests keep arriving on kept-alive connections). This request
     * was counted in flight before this load, and begin_shutdown stores
     * `stopping` before wait_idle loads the count, all sequentially
     * consistent: either the wait sees this request, or this load sees
     * `stopping`. */
    if (atomic_load(&state->server->stopping)) {
        return NULL;
    }
    atomic_fetch_add(&state->server->deferred_open, 1);
    atomic_store(&state->phase, PHASE_SUSPENDED);
    MHD_suspend_connection(state->connection);
    /* The socket stays open while the connection is suspended: the watch
     * may look at it until http_deferred_complete() removes the entry. */
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(state->connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    state->hangup.fd = info != NULL ? info->connect_fd : -1;
    state->hangup.gone = &state->client_gone;
    if (state->hangup.fd >= 0) {
        http_hangup_watch_add(state->server->hangups, &state->hangup);
    }
    return (struct http_deferred *)state;
}

void http_deferred_complete(struct http_deferred *deferred, struct http_response *response)
{
    struct request_state *state = (struct request_state *)deferred;
    struct http_server *server = state->server;
    if (state->hangup.fd >= 0) {
        http_hangup_watch_remove(server->hangups, &state->hangup);
    }
    state->answer = *response;
    response->body = NULL;
    atomic_store(&state->phase, PHASE_READY);
    /* From here the worker may answer, log and end the request (state is
     * then reused or freed) and the server may look idle while this thread
     * is still inside the call, which touches the daemon after waking its
     * worker: only deferred_open tells the server to wait. */
    MHD_resume_connection(state->connection);
    atomic_fetch_sub(&server->deferred_open, 1);
}
