/* Unit tests for config.c: defaults, precedence, validation, commands and
 * the generated help and Markdown. */
#define _GNU_SOURCE
#include "config.h"
#include "array.h"
#include "check.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static bool load(struct config *cfg, struct config_command *cmd, char *err, int argc, ...)
{
    char *argv[16] = {"tinyserver"};
    va_list args;
    va_start(args, argc);
    for (int i = 1; i < argc && i < 16; i++) {
        argv[i] = va_arg(args, char *);
    }
    va_end(args);
    return config_load(cfg, cmd, argc, argv, err, 256);
}

static void check_rejected(const char *flag, const char *value)
{
    struct config cfg;
    struct config_command cmd;
    char err[256] = "";
    char arg[128];
    snprintf(arg, sizeof(arg), "%s=%s", flag, value);
    CHECK_MSG(!load(&cfg, &cmd, err, 2, arg), "%s accepted", arg);
    CHECK_MSG(strstr(err, flag) != NULL, "error for %s does not name it: %s", arg, err);
}

int main(void)
{
    struct config cfg;
    struct config_command cmd;
    char err[256];

    unsetenv("PORT");
    unsetenv("BIND");
    CHECK(config_defaults(&cfg, err, sizeof(err)));
    CHECK(cfg.port == 3000);
    CHECK(strcmp(cfg.bind, "0.0.0.0") == 0);
    CHECK(cfg.max_concurrent_bench == 1);
    CHECK(cfg.max_bench_threads == 0); /* 4 x the CPUs available, worked out by main */
    CHECK(cfg.max_bench_operations == 0 && cfg.max_bench_seconds == 0);
    CHECK(cfg.bench_rate.count == 0 && cfg.bench_token_file[0] == '\0');
    CHECK(cfg.max_bench_iterations == 10000000);
    CHECK(cfg.http_threads == 0);
    CHECK(cfg.request_timeout_s == 10);
    CHECK(cfg.connection_memory_limit == 32768);
    CHECK(cfg.max_url_length == 8192);

    CHECK(load(&cfg, &cmd, err, 1));
    CHECK(cmd.kind == CONFIG_COMMAND_SERVE);

    /* environment, then flags override it */
    setenv("PORT", "4000", 1);
    CHECK(load(&cfg, &cmd, err, 1) && cfg.port == 4000);
    CHECK(load(&cfg, &cmd, err, 3, "--port", "5000") && cfg.port == 5000);
    CHECK(load(&cfg, &cmd, err, 2, "--port=5001") && cfg.port == 5001);
    setenv("PORT", "nope", 1);
    CHECK(!load(&cfg, &cmd, err, 1));
    CHECK(strstr(err, "PORT") != NULL);
    unsetenv("PORT");

    check_rejected("--port", "0");
    check_rejected("--port", "65536");
    check_rejected("--port", "-1");
    check_rejected("--port", "");
    check_rejected("--port", "12ab");
    check_rejected("--max-bench-threads", "4097");
    check_rejected("--max-bench-operations", "4000000001");
    check_rejected("--max-bench-seconds", "86401");
    check_rejected("--bench-rate", "30");
    check_rejected("--bench-rate", "30/day");
    check_rejected("--bench-rate", "0/min");
    check_rejected("--bench-rate", "");
    CHECK(load(&cfg, &cmd, err, 2, "--bench-rate=30/min") && cfg.bench_rate.count == 30 &&
          cfg.bench_rate.period_s == 60);
    setenv("BENCH_RATE", "often", 1);
    CHECK(!load(&cfg, &cmd, err, 1) && strstr(err, "BENCH_RATE") != NULL);
    setenv("BENCH_RATE", "5/s", 1);
    CHECK(load(&cfg, &cmd, err, 1) && cfg.bench_rate.count == 5 && cfg.bench_rate.period_s == 1);
    unsetenv("BENCH_RATE");
    CHECK(load(&cfg, &cmd, err, 3, "--max-bench-operations", "4000000000") &&
          cfg.max_bench_operations == 4000000000u);
    check_rejected("--log-level", "loud");
    check_rejected("--bind", "");
    check_rejected("--request-timeout", "0");
    check_rejected("--connection-memory-limit", "4095");
    check_rejected("--max-url-length", "15");

    CHECK(!load(&cfg, &cmd, err, 2, "--no-such-flag"));
    CHECK(strstr(err, "--no-such-flag") != NULL);
    CHECK(!load(&cfg, &cmd, err, 2, "--port"));
    CHECK(strstr(err, "missing value") != NULL);
    CHECK(!load(&cfg, &cmd, err, 2, "stray"));
    CHECK(!load(&cfg, &cmd, err, 3, "--threads", "2"));
    CHECK(strstr(err, "--bench") != NULL);
    CHECK(!load(&cfg, &cmd, err, 3, "--bench", "--version"));

    CHECK(load(&cfg, &cmd, err, 6, "--bench", "--threads", "3", "--iterations=9", "--port=1"));
    CHECK(cmd.kind == CONFIG_COMMAND_BENCH);
    CHECK(cmd.bench_threads != NULL && strcmp(cmd.bench_threads, "3") == 0);
    CHECK(cmd.bench_iterations != NULL && strcmp(cmd.bench_iterations, "9") == 0);
    CHECK(cmd.bench_workload == NULL);
    CHECK(load(&cfg, &cmd, err, 3, "--bench", "--workload=larson"));
    CHECK(cmd.bench_workload != NULL && strcmp(cmd.bench_workload, "larson") == 0);
    /* the value is judged by the bench validator, not here */
    CHECK(load(&cfg, &cmd, err, 4, "--bench", "--workload", "nonsense"));
    CHECK(!load(&cfg, &cmd, err, 3, "--workload", "seed"));
    CHECK(strstr(err, "--bench") != NULL);
    CHECK(load(&cfg, &cmd, err, 2, "--help") && cmd.kind == CONFIG_COMMAND_HELP);
    CHECK(load(&cfg, &cmd, err, 2, "--version") && cmd.kind == CONFIG_COMMAND_VERSION);
    CHECK(load(&cfg, &cmd, err, 2, "--healthcheck") && cmd.kind == CONFIG_COMMAND_HEALTHCHECK);

    /* help and Markdown are generated from the same table */
    char *help = NULL, *markdown = NULL, *described = calloc(1, 2048);
    size_t help_len = 0, markdown_len = 0;
    FILE *out = open_memstream(&help, &help_len);
    config_print_help(out, "tinyserver");
    fclose(out);
    out = open_memstream(&markdown, &markdown_len);
    config_print_markdown(out);
    fclose(out);
    CHECK(load(&cfg, &cmd, err, 1));
    config_describe(&cfg, described, 2048);
    const char *names[] = {"port",
                           "bind",
                           "http-threads",
                           "max-connections",
                           "max-connections-per-ip",
                           "connection-timeout",
                           "request-timeout",
                           "connection-memory-limit",
                           "max-url-length",
                           "max-concurrent-bench",
                           "max-bench-threads",
                           "max-bench-iterations",
                           "max-bench-operations",
                           "max-bench-seconds",
                           "bench-token-file",
                           "bench-rate",
                           "shutdown-grace",
                           "log-level"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s ", names[i]);
        CHECK_MSG(strstr(help, flag) != NULL, "--help lacks %s", flag);
        CHECK_MSG(strstr(markdown, flag) != NULL, "markdown lacks %s", flag);
        snprintf(flag, sizeof(flag), "%s=", names[i]);
        CHECK_MSG(strstr(described, flag) != NULL, "describe lacks %s", flag);
    }
    CHECK(strstr(help, "PORT") != NULL && strstr(markdown, "`PORT`") != NULL);
    CHECK(strstr(described, "bench-rate=off") != NULL);
    CHECK(load(&cfg, &cmd, err, 2, "--bench-rate=2/hour"));
    config_describe(&cfg, described, 2048);
    CHECK(strstr(described, "bench-rate=2/h") != NULL);
    free(help);
    free(markdown);
    free(described);

    /* The handshake deadline in force is the least of the three that run
     * from accept over TLS. */
    CHECK(load(&cfg, &cmd, err, 1));
    CHECK(config_tls_handshake_bound_s(&cfg) == 10); /* all three at their defaults */
    CHECK(load(&cfg, &cmd, err, 2, "--tls-handshake-timeout=120"));
    CHECK(config_tls_handshake_bound_s(&cfg) == 10); /* the request deadline's */
    CHECK(load(&cfg, &cmd, err, 3, "--tls-handshake-timeout=120", "--request-timeout=360"));
    CHECK(config_tls_handshake_bound_s(&cfg) == 30); /* the idle timeout's */
    CHECK(load(&cfg, &cmd, err, 4, "--tls-handshake-timeout=120", "--request-timeout=360",
               "--connection-timeout=360"));
    CHECK(config_tls_handshake_bound_s(&cfg) == 120);
    CHECK(load(&cfg, &cmd, err, 2, "--tls-handshake-timeout=2"));
    CHECK(config_tls_handshake_bound_s(&cfg) == 2);
    return check_finish("config");
}
