/*
 * app.c - the application state's lifetime; see app.h.
 */
#include "app.h"

#include "routes.h"

#include <stdlib.h>
#include <string.h>

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
    app->index_json = routes_index_json(build);
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
