/*
 * main.c - wiring only: read the configuration, run a one-shot command or
 * start the HTTP server, wait for SIGTERM/SIGINT, shut down gracefully.
 *
 * Exit status: 0 success, 1 runtime failure (cannot listen, benchmark
 * failed, health check failed), 2 invalid configuration or arguments.
 */
#include "app.h"
#include "array.h"
#include "auth.h"
#include "bench.h"
#include "bench_compare.h"
#include "bench_params.h"
#include "build_info.h"
#include "config.h"
#include "cpus.h"
#include "fd_limit.h"
#include "healthcheck.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "tls.h"
#include "tls_keys.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_RUNTIME_FAILURE 1
#define EXIT_USAGE           2

/* After the grace period, cancelled benchmarks stop within milliseconds;
 * this bounds the wait for them to hand back their connections. */
#define CANCELLED_BENCH_WAIT_MS 2000u

#define ERROR_MAX    512
#define DESCRIBE_MAX 2048

/* --max-bench-threads 0: this many threads per CPU available, enough to
 * oversubscribe every core (what the contended workloads are about) but
 * not the fixed 256 a small container would drown in. */
#define BENCH_THREADS_PER_CPU 4u
#define BENCH_THREADS_MAX     4096u

/* cpus: what cpus_available() reported; it reads cgroup files, so callers
 * ask once and share the answer with the HTTP thread count. */
static struct bench_limits bench_limits_from(const struct config *cfg, unsigned cpus)
{
    unsigned max_threads = cfg->max_bench_threads;
    if (max_threads == 0) {
        max_threads = cpus < BENCH_THREADS_MAX / BENCH_THREADS_PER_CPU
                          ? cpus * BENCH_THREADS_PER_CPU
                          : BENCH_THREADS_MAX;
    }
    struct bench_limits limits = {
        .max_threads = max_threads,
        .max_iterations = cfg->max_bench_iterations,
        .max_operations = cfg->max_bench_operations,
        .max_memory = (uint64_t)cfg->max_bench_memory_mib * 1024u * 1024u,
        .default_threads = cpus < max_threads ? cpus : max_threads,
        .default_iterations = BENCH_DEFAULT_ITERATIONS < cfg->max_bench_iterations
                                  ? BENCH_DEFAULT_ITERATIONS
                                  : cfg->max_bench_iterations,
    };
    return limits;
}

/* --bench: the same validation, workload and JSON as GET /bench. */
static int run_bench_command(const struct config *cfg, const struct config_command *cmd,
                             const struct build_info *build)
{
    const struct param_pair given[] = {
        {"threads", cmd->bench_threads, 0},     {"iterations", cmd->bench_iterations, 0},
        {"workload", cmd->bench_workload, 0},   {"allocator", cmd->bench_allocator, 0},
        {"repeat", cmd->bench_repeat, 0},       {"slots", cmd->bench_slots, 0},
        {"min_block", cmd->bench_min_block, 0}, {"max_block", cmd->bench_max_block, 0},
    };
    struct param_pair pairs[ARRAY_SIZE(given)];
    size_t count = 0;
    for (size_t i = 0; i < ARRAY_SIZE(given); i++) {
        if (given[i].value != NULL) {
            pairs[count] = given[i];
            pairs[count++].value_len = strlen(given[i].value);
        }
    }
    struct bench_limits limits = bench_limits_from(cfg, cpus_available());
    struct bench_request request;
    struct bench_params_error error;
    if (!bench_params_parse(pairs, count, &limits, &request, &error)) {
        fprintf(stderr, "tinyserver: --bench: %s\n", error.message);
        return EXIT_USAGE;
    }
    /* Large (a result per allocator and round): off the stack. */
    struct bench_comparison *comparison = malloc(sizeof(*comparison));
    if (comparison == NULL) {
        fprintf(stderr, "tinyserver: out of memory\n");
        return EXIT_RUNTIME_FAILURE;
    }
    enum bench_allocator failed = request.params.allocator;
    enum bench_status status = bench_compare(&request, NULL, comparison, &failed);
    if (status != BENCH_OK) {
        fprintf(stderr, "tinyserver: %s (allocator %s)\n", bench_status_message(status),
                bench_allocator_name(failed));
        free(comparison);
        return EXIT_RUNTIME_FAILURE;
    }
    char *json = json_bench_result(comparison, request.all_allocators, build);
    free(comparison);
    if (json == NULL) {
        fprintf(stderr, "tinyserver: out of memory\n");
        return EXIT_RUNTIME_FAILURE;
    }
    fputs(json, stdout);
    free(json);
    return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_RUNTIME_FAILURE;
}

/* Signals are blocked in every thread (threads inherit the mask, so this
 * runs before any is created) and collected with sigwait() by main alone.
 * Installing a handler as well matters when running as PID 1 in a
 * container: the kernel drops signals whose action is the default there. */
static void ignore_signal(int signo)
{
    (void)signo;
}

static bool take_over_signals(sigset_t *stop_signals)
{
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = ignore_signal;
    sigemptyset(&action.sa_mask);
    sigemptyset(stop_signals);
    sigaddset(stop_signals, SIGTERM);
    sigaddset(stop_signals, SIGINT);
    /* A client that disconnects mid-response must not kill the process. */
    return signal(SIGPIPE, SIG_IGN) != SIG_ERR && sigaction(SIGTERM, &action, NULL) == 0 &&
           sigaction(SIGINT, &action, NULL) == 0 &&
           pthread_sigmask(SIG_BLOCK, stop_signals, NULL) == 0;
}

/* After the HTTP daemon closed its sockets, how long relays get to
 * deliver their last bytes before they are ended. */
#define TLS_RELAY_EXIT_WAIT_MS 2000u

/* The TLS terminator hands plaintext connections to the HTTP daemon. */
static bool hand_to_http(void *ctx, int fd, const struct sockaddr *peer, socklen_t peer_len)
{
    return http_server_add_connection(ctx, fd, peer, peer_len);
}

static void shut_down(struct http_server *server, struct tls_server *tls, struct app *app,
                      const struct logger *log, unsigned grace_s)
{
    if (tls != NULL) {
        tls_server_stop_accepting(tls);
    }
    http_server_begin_shutdown(server);
    if (!http_server_wait_idle(server, grace_s * 1000u)) {
        log_message(log, LOG_WARN, "grace period of %us over; cancelling running benchmarks",
                    grace_s);
        app_cancel_benches(app);
        if (!http_server_wait_idle(server, CANCELLED_BENCH_WAIT_MS)) {
            log_message(log, LOG_WARN, "closing connections with requests still in flight");
        }
    }
    http_server_stop(server);
    if (tls != NULL) {
        tls_server_destroy(tls, TLS_RELAY_EXIT_WAIT_MS);
    }
    log_message(log, LOG_INFO, "stopped");
}

static struct tls_server *start_tls(const struct config *cfg, const struct tls_credentials *creds,
                                    unsigned threads, struct http_server *server,
                                    struct metrics *metrics, const struct logger *log)
{
    char err[ERROR_MAX];
    struct tls_server_options options = {
        .bind = cfg->bind,
        .port = cfg->tls_port,
        .handshake_timeout_s = cfg->tls_handshake_timeout_s,
        .idle_timeout_s = cfg->connection_timeout_s,
        .max_connections = cfg->max_tls_connections,
        .metrics = metrics,
        .session_cache_entries = cfg->tls_session_cache_entries,
        .threads = threads,
    };
    struct tls_server *tls =
        tls_server_start(&options, creds, hand_to_http, server, log, err, sizeof(err));
    if (tls == NULL) {
        log_message(log, LOG_ERROR, "%s", err);
        return NULL;
    }
    log_message(log, LOG_INFO,
                "https listening on %s:%u (TLS 1.2, ECDHE with AEAD, %s key); tls relay threads "
                "%u",
                cfg->bind, cfg->tls_port, creds->description, options.threads);
    return tls;
}

/* Raises the open files limit as far as the configured limits can use;
 * says so once when the hard limit is too low (see fd_limit.h). */
static void ensure_descriptors(const struct config *cfg, unsigned http_threads,
                               unsigned tls_threads, bool tls, const struct logger *log)
{
    struct fd_limit_needs needs = {
        .max_connections = cfg->max_connections,
        .max_tls_connections = tls ? cfg->max_tls_connections : 0,
        .http_threads = http_threads,
        .tls_threads = tls ? tls_threads : 0,
    };
    unsigned long needed = fd_limit_needed(&needs);
    struct fd_limit_result limit;
    if (!fd_limit_ensure(needed, &limit)) {
        log_message(log, LOG_WARN, "cannot raise the open files limit to %lu: %s", needed,
                    strerror(errno));
    } else if (!limit.enough) {
        char tls_part[64] = "";
        if (tls) {
            snprintf(tls_part, sizeof(tls_part), " and --max-tls-connections %u",
                     cfg->max_tls_connections);
        }
        log_message(log, LOG_WARN,
                    "open files limit %lu (hard limit %lu) is below the %lu descriptors that "
                    "--max-connections %u%s can use; connections beyond it wait. Raise the "
                    "limit (ulimit -n, the container's nofile) or lower those settings",
                    limit.soft, limit.hard, needed, cfg->max_connections, tls_part);
    } else if (limit.soft != limit.soft_before) {
        log_message(log, LOG_DEBUG, "open files limit raised from %lu to %lu", limit.soft_before,
                    limit.soft);
    }
}

/* The logger is main's: every way out of serve(), error or not, leads
 * back to main, which flushes it. */
static int serve(const struct config *cfg, const struct build_info *build,
                 const struct tls_credentials *creds, const struct auth_token *token,
                 const struct logger *log)
{
    char err[ERROR_MAX];
    if (!build->allocator_verified) {
        log_message(log, LOG_ERROR, "%s does not own %s(); refusing to start",
                    build->allocator.name, build->allocator_failure);
        return EXIT_RUNTIME_FAILURE;
    }
    sigset_t stop_signals;
    if (!take_over_signals(&stop_signals)) {
        log_message(log, LOG_ERROR, "cannot install signal handling");
        return EXIT_RUNTIME_FAILURE;
    }
    unsigned cpus = cpus_available();
    unsigned http_threads = cfg->http_threads != 0 ? cfg->http_threads : cpus;
    unsigned tls_threads = cfg->tls_threads != 0 ? cfg->tls_threads : cpus;
    ensure_descriptors(cfg, http_threads, tls_threads, creds != NULL, log);
    struct bench_limits limits = bench_limits_from(cfg, cpus);
    const char *paths[METRICS_MAX_ROUTES];
    size_t path_count = routes_paths(paths, METRICS_MAX_ROUTES);
    struct metrics metrics;
    if (!metrics_init(&metrics, paths, path_count)) {
        log_message(log, LOG_ERROR, "cannot initialise metrics");
        return EXIT_RUNTIME_FAILURE;
    }
    struct bench_policy policy = {
        .max_concurrent = cfg->max_concurrent_bench,
        .max_seconds = cfg->max_bench_seconds,
        .token = *token,
        .rate = cfg->bench_rate,
    };
    int status = EXIT_RUNTIME_FAILURE;
    struct app app;
    if (!app_init(&app, build, log, &metrics, &limits, &policy)) {
        log_message(log, LOG_ERROR, "out of memory for the --bench-rate table");
        goto out_metrics;
    }

    struct http_server_options options = {
        .bind = cfg->bind,
        .port = cfg->port,
        .threads = http_threads,
        .max_connections = cfg->max_connections,
        .max_connections_per_ip = cfg->max_connections_per_ip,
        .connection_timeout_s = cfg->connection_timeout_s,
        .request_timeout_s = cfg->request_timeout_s,
        .connection_memory_limit = cfg->connection_memory_limit,
        .max_url_length = cfg->max_url_length,
        .metrics = &metrics,
    };
    size_t route_count;
    const struct http_route *routes = routes_table(&route_count);
    struct http_server *server =
        http_server_start(&options, routes, route_count, &app, log, err, sizeof(err));
    if (server == NULL) {
        log_message(log, LOG_ERROR, "%s", err);
        goto out_app;
    }
    char version[256];
    char settings[DESCRIBE_MAX];
    build_info_version_line(build, version, sizeof(version));
    config_describe(cfg, settings, sizeof(settings));
    /* Whether a token is set, never the token. */
    log_message(log, LOG_INFO,
                "%s listening on %s:%u; http worker threads %u; bench default threads %u, at "
                "most %u; /bench %s; %s",
                version, cfg->bind, cfg->port, options.threads, limits.default_threads,
                limits.max_threads,
                token->set ? "requires a bearer token (set)" : "is open (no token)", settings);
    struct tls_server *tls = NULL;
    if (creds != NULL) {
        tls = start_tls(cfg, creds, tls_threads, server, &metrics, log);
        if (tls == NULL) {
            http_server_begin_shutdown(server);
            http_server_stop(server);
            goto out_app;
        }
    }
    app_attach_servers(&app, server, tls);

    int signo = 0;
    while (sigwait(&stop_signals, &signo) != 0) {
        /* sigwait only fails for an invalid set; retry rather than exit */
    }
    log_message(log, LOG_INFO, "received %s; shutting down (grace %us)",
                signo == SIGTERM ? "SIGTERM" : "SIGINT", cfg->shutdown_grace_s);
    shut_down(server, tls, &app, log, cfg->shutdown_grace_s);
    status = EXIT_SUCCESS;

    /* Unwinding, latest first: the servers are stopped by then. */
out_app:
    app_destroy(&app);
out_metrics:
    metrics_destroy(&metrics);
    return status;
}

int main(int argc, char *argv[])
{
    struct config cfg;
    struct config_command cmd;
    char err[ERROR_MAX];
    if (!config_load(&cfg, &cmd, argc, argv, err, sizeof(err))) {
        fprintf(stderr, "tinyserver: %s\n", err);
        return EXIT_USAGE;
    }
    struct build_info build;
    char version[256];
    switch (cmd.kind) {
    case CONFIG_COMMAND_HELP:
        config_print_help(stdout, "tinyserver");
        return EXIT_SUCCESS;
    case CONFIG_COMMAND_HELP_MARKDOWN:
        config_print_markdown(stdout);
        return EXIT_SUCCESS;
    case CONFIG_COMMAND_VERSION:
        build_info_collect(&build);
        build_info_version_line(&build, version, sizeof(version));
        puts(version);
        return EXIT_SUCCESS;
    case CONFIG_COMMAND_HEALTHCHECK:
        if (!healthcheck_run(cfg.bind, cfg.port, err, sizeof(err))) {
            fprintf(stderr, "tinyserver: healthcheck failed: %s\n", err);
            return EXIT_RUNTIME_FAILURE;
        }
        return EXIT_SUCCESS;
    case CONFIG_COMMAND_BENCH:
        build_info_collect(&build);
        return run_bench_command(&cfg, &cmd, &build);
    case CONFIG_COMMAND_SERVE:
        break;
    }
    /* Bad TLS files are configuration errors: found before anything
     * listens, reported on stderr, exit status 2. */
    struct tls_credentials creds;
    bool tls_on = cfg.tls_cert_file[0] != '\0';
    if (tls_on &&
        !tls_credentials_load(&creds, cfg.tls_cert_file, cfg.tls_key_file, err, sizeof(err))) {
        fprintf(stderr, "tinyserver: tls: %s\n", err);
        return EXIT_USAGE;
    }
    int status = EXIT_USAGE;
    /* So is a bad token file. */
    struct auth_token token = {.set = false};
    if (cfg.bench_token_file[0] != '\0' &&
        !auth_token_load(&token, cfg.bench_token_file, err, sizeof(err))) {
        fprintf(stderr, "tinyserver: --bench-token-file (BENCH_TOKEN_FILE): %s\n", err);
        goto out_creds;
    }
    /* So is a log file that cannot be opened. */
    struct logger log;
    struct log_destination destination = {
        .path = cfg.log_file,
        .buffer_size = cfg.log_buffer,
        .flush_ms = cfg.log_flush_ms,
    };
    if (!log_open(&log, (enum log_level)cfg.log_level, (enum log_format)cfg.log_format,
                  &destination, err, sizeof(err))) {
        fprintf(stderr, "tinyserver: --log-file (LOG_FILE): %s\n", err);
        goto out_creds;
    }
    build_info_collect(&build);
    status = serve(&cfg, &build, tls_on ? &creds : NULL, &token, &log);
    log_close(&log);

out_creds:
    if (tls_on) {
        tls_credentials_free(&creds);
    }
    return status;
}
