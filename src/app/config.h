/*
 * config.h - tinyserver's one table of settings.
 *
 * Every setting is declared once, in config.c's option table: its flag, its
 * environment variable, its default, its bounds and its help text. Parsing,
 * validation, --help, the startup log line and the README's configuration
 * table are all derived from that table, so they cannot drift apart.
 *
 * Precedence: built-in default < environment variable < command-line flag.
 * Defaults are stored as text and go through the same parser as user input,
 * so a default that breaks its own bounds is caught by the unit tests.
 *
 * Command-line commands (--help, --version, --bench, --healthcheck) are not
 * settings; they are returned separately in struct config_command.
 */
#ifndef TINYSERVER_CONFIG_H
#define TINYSERVER_CONFIG_H

#include "rate_limit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The effective configuration. String fields point into argv, environ or
 * string literals, all of which live as long as the process. */
struct config {
    const char *bind;
    unsigned port;
    unsigned http_threads; /* 0 means one per available CPU */
    unsigned max_connections;
    unsigned max_connections_per_ip; /* 0 means no per-address limit */
    unsigned ipv6_prefix_length;     /* IPv6 clients count as one per prefix of this length */
    unsigned connection_timeout_s;
    unsigned request_timeout_s;       /* request line and headers must be complete by then */
    unsigned connection_memory_limit; /* bytes per connection for request line and headers */
    unsigned max_url_length;          /* longest request target, in bytes */
    unsigned max_concurrent_bench;
    unsigned max_bench_threads; /* 0 means 4 x the CPUs available */
    unsigned max_bench_iterations;
    unsigned max_bench_operations; /* threads x iterations; 0 means no limit */
    unsigned max_bench_seconds;    /* wall-clock cap of one run; 0 means none */
    unsigned max_bench_memory_mib; /* what one window run may hold; 0 means no limit */
    const char *bench_token_file;  /* "" when /bench is open */
    struct rate_spec bench_rate;   /* per client address; count 0 means no limit */
    unsigned shutdown_grace_s;
    unsigned log_level;        /* an enum log_level value, see log.h */
    unsigned log_format;       /* an enum log_format value */
    const char *log_file;      /* "" for stdout */
    unsigned log_buffer;       /* bytes per HTTP worker thread; 0 = a write per line */
    unsigned log_flush_ms;     /* a buffered line waits at most this long */
    const char *tls_cert_file; /* "" when HTTPS is off */
    const char *tls_key_file;
    unsigned tls_port;
    unsigned tls_handshake_timeout_s;
    unsigned max_tls_connections;
    unsigned tls_session_cache_entries;
    unsigned tls_threads; /* 0: one per available CPU */
};

enum config_command_kind {
    CONFIG_COMMAND_SERVE = 0,
    CONFIG_COMMAND_HELP,
    CONFIG_COMMAND_HELP_MARKDOWN,
    CONFIG_COMMAND_VERSION,
    CONFIG_COMMAND_BENCH,
    CONFIG_COMMAND_HEALTHCHECK,
};

/* What the command line asked for besides settings. The bench arguments are
 * kept as raw text so the same validator serves --bench and GET /bench. */
struct config_command {
    enum config_command_kind kind;
    const char *bench_threads;    /* NULL when not given */
    const char *bench_iterations; /* NULL when not given */
    const char *bench_workload;   /* NULL when not given */
    const char *bench_allocator;  /* NULL when not given */
    const char *bench_repeat;     /* NULL when not given */
    const char *bench_slots;      /* NULL when not given; workload window only */
    const char *bench_min_block;  /* NULL when not given; workload window only */
    const char *bench_max_block;  /* NULL when not given; workload window only */
};

/* Fills *cfg from defaults, then the environment (getenv), then argv.
 * Returns true on success. On failure writes a one-line message naming the
 * offending flag or variable into err and returns false; the caller is
 * expected to exit with status 2. */
bool config_load(struct config *cfg, struct config_command *cmd, int argc, char *const argv[],
                 char *err, size_t err_size);

/* Fills *cfg with the built-in defaults only. Returns false if a default is
 * out of its own bounds (a programming error the unit tests catch). */
bool config_defaults(struct config *cfg, char *err, size_t err_size);

/* Writes the --help text, generated from the option table. */
void config_print_help(FILE *out, const char *program);

/* Writes the configuration table as Markdown (flag, variable, default,
 * meaning), the exact block the README carries. */
void config_print_markdown(FILE *out);

/* The longest a TLS handshake can take before a deadline ends it. The
 * plaintext side is handed to the HTTP daemon at accept, so the request
 * deadline and the idle timeout run from then too: the least of the three
 * is in force, and a --tls-handshake-timeout above it has no effect. */
unsigned config_tls_handshake_bound_s(const struct config *cfg);

/* Writes "name=value" pairs for every setting, space separated, for the
 * startup log line. Always NUL-terminates; truncates if buf is too small. */
void config_describe(const struct config *cfg, char *buf, size_t buf_size);

#endif
