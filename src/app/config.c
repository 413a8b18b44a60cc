/*
 * config.c - the option table and everything derived from it.
 *
 * To add a setting: add a field to struct config and one row to
 * config_options[], written with the CONFIG_*_OPTION macro of its type.
 * Parsing, --help, the startup line and the README table follow from the
 * row.
 */
#include "config.h"

#include "array.h"
#include "log.h"
#include "net_addr.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum config_type {
    CONFIG_UINT,   /* decimal digits only, within [min, max] */
    CONFIG_STRING, /* text of min to max bytes */
    CONFIG_CHOICE, /* one of a NULL-terminated list; stored as its index */
    CONFIG_IP,     /* an IPv4 or IPv6 address literal, stored as text */
    CONFIG_RATE,   /* "off" or "N/s", "N/min", "N/h": a struct rate_spec */
};

/* One setting. Rows are written only with the CONFIG_*_OPTION macros below,
 * which check the type of the field they name. */
struct config_option {
    const char *flag; /* without the leading "--" */
    const char *env;
    enum config_type type;
    size_t offset; /* of the field in struct config */
    const char *default_value;
    unsigned long min;
    unsigned long max;
    const char *const *choices; /* CONFIG_CHOICE only */
    const char *value_name;     /* placeholder in --help, e.g. "N" */
    const char *help;
};

/* The offset of struct config's `field`, which must have type `type`: a
 * row naming a field of another type does not compile (no _Generic
 * association matches), so apply_option() may write through the offset. */
#define CONFIG_FIELD(field, type)                                                                  \
    _Generic(((struct config *)0)->field, type : offsetof(struct config, field))

/* A row of any type; the macros below are its only users. */
#define CONFIG_ROW(type_, c_type_, flag_, env_, field_, default_, min_, max_, choices_,            \
                   value_name_, help_)                                                             \
    {                                                                                              \
        .flag = (flag_), .env = (env_), .type = (type_), .offset = CONFIG_FIELD(field_, c_type_),  \
        .default_value = (default_), .min = (min_), .max = (max_), .choices = (choices_),          \
        .value_name = (value_name_), .help = (help_),                                              \
    }

/* An unsigned integer field, from min to max. */
#define CONFIG_UINT_OPTION(flag_, env_, field_, default_, min_, max_, value_name_, help_)          \
    CONFIG_ROW(CONFIG_UINT, unsigned, flag_, env_, field_, default_, min_, max_, NULL,             \
               value_name_, help_)

/* A text field (const char *) of at most max_len bytes; "" is allowed. */
#define CONFIG_STRING_OPTION(flag_, env_, field_, default_, max_len_, value_name_, help_)          \
    CONFIG_ROW(CONFIG_STRING, const char *, flag_, env_, field_, default_, 0, max_len_, NULL,      \
               value_name_, help_)

/* An IP address literal, kept as text (const char *). */
#define CONFIG_IP_OPTION(flag_, env_, field_, default_, value_name_, help_)                        \
    CONFIG_ROW(CONFIG_IP, const char *, flag_, env_, field_, default_, 0, 0, NULL, value_name_,    \
               help_)

/* One of a NULL-terminated list of names, stored as its index (unsigned). */
#define CONFIG_CHOICE_OPTION(flag_, env_, field_, default_, choices_, value_name_, help_)          \
    CONFIG_ROW(CONFIG_CHOICE, unsigned, flag_, env_, field_, default_, 0, 0, choices_,             \
               value_name_, help_)

/* A rate (struct rate_spec): "off", or N per second, minute or hour. */
#define CONFIG_RATE_OPTION(flag_, env_, field_, default_, value_name_, help_)                      \
    CONFIG_ROW(CONFIG_RATE, struct rate_spec, flag_, env_, field_, default_, 0, 0, NULL,           \
               value_name_, help_)

#define CONFIG_PATH_MAX 4096

static const struct config_option config_options[] = {
    CONFIG_IP_OPTION("bind", "BIND", bind, "0.0.0.0", "ADDR", "IPv4 or IPv6 address to listen on"),
    CONFIG_UINT_OPTION("port", "PORT", port, "3000", 1, 65535, "N", "TCP port for HTTP"),
    CONFIG_UINT_OPTION("http-threads", "HTTP_THREADS", http_threads, "0", 0, 256, "N",
                       "HTTP worker threads; 0 = one per available CPU"),
    CONFIG_UINT_OPTION("max-connections", "MAX_CONNECTIONS", max_connections, "1024", 1, 65536, "N",
                       "open connections accepted at once, in total"),
    CONFIG_UINT_OPTION("max-connections-per-ip", "MAX_CONNECTIONS_PER_IP", max_connections_per_ip,
                       "256", 0, 65536, "N",
                       "open connections accepted at once from one client address; 0 = no limit"),
    CONFIG_UINT_OPTION("ipv6-prefix-length", "IPV6_PREFIX_LENGTH", ipv6_prefix_length, "64", 1,
                       NET_ADDR_IPV6_PREFIX_MAX, "BITS",
                       "IPv6 clients whose addresses share this many leading bits count as one "
                       "address for --max-connections-per-ip and --bench-rate (a customer usually "
                       "gets a /64); 128 = every address alone"),
    CONFIG_UINT_OPTION("connection-timeout", "CONNECTION_TIMEOUT", connection_timeout_s, "30", 1,
                       3600, "SECONDS", "close a connection after this long without activity"),
    CONFIG_UINT_OPTION(
        "request-timeout", "REQUEST_TIMEOUT", request_timeout_s, "10", 1, 3600, "SECONDS",
        "close a connection whose request line and headers are not complete this long after it "
        "opened or after its previous response; a trickle of bytes does not extend it"),
    CONFIG_UINT_OPTION(
        "connection-memory-limit", "CONNECTION_MEMORY_LIMIT", connection_memory_limit, "32768",
        4096, 1048576, "BYTES",
        "memory per connection for the request line and headers; a request that does not fit gets "
        "431 (414 when the target is what overflows, 501 when the method is)"),
    CONFIG_UINT_OPTION("max-url-length", "MAX_URL_LENGTH", max_url_length, "8192", 16, 1048576,
                       "BYTES",
                       "longest request target (path and query) accepted; a longer one gets 414"),
    CONFIG_UINT_OPTION("max-concurrent-bench", "MAX_CONCURRENT_BENCH", max_concurrent_bench, "1", 1,
                       64, "N", "benchmark runs at once; more get 429 with Retry-After"),
    CONFIG_UINT_OPTION("max-bench-threads", "MAX_BENCH_THREADS", max_bench_threads, "0", 0, 4096,
                       "N", "upper bound of the threads parameter; 0 = 4 x the CPUs available"),
    CONFIG_UINT_OPTION("max-bench-iterations", "MAX_BENCH_ITERATIONS", max_bench_iterations,
                       "10000000", 1, 1000000000, "N", "upper bound of the iterations parameter"),
    CONFIG_UINT_OPTION("max-bench-operations", "MAX_BENCH_OPERATIONS", max_bench_operations, "0", 0,
                       4000000000, "N",
                       "upper bound of threads x iterations for one run; a request over it gets "
                       "400; 0 = no limit"),
    CONFIG_UINT_OPTION(
        "max-bench-seconds", "MAX_BENCH_SECONDS", max_bench_seconds, "0", 0, 86400, "SECONDS",
        "stop a run that takes longer and answer 503 saying it was cut short; 0 = no limit"),
    CONFIG_UINT_OPTION("max-bench-memory", "MAX_BENCH_MEMORY", max_bench_memory_mib, "256", 0,
                       1048576, "MIB",
                       "upper bound of the memory a window benchmark may hold, threads x (slots + "
                       "64) x max_block, in MiB; a request over it gets 400; 0 = no limit"),
    CONFIG_STRING_OPTION(
        "bench-token-file", "BENCH_TOKEN_FILE", bench_token_file, "", CONFIG_PATH_MAX, "FILE",
        "file holding a bearer token that /bench then requires (Authorization: Bearer TOKEN); the "
        "file must not be readable by other users"),
    CONFIG_RATE_OPTION("bench-rate", "BENCH_RATE", bench_rate, "off", "RATE",
                       "/bench runs one client address may start, as N/s, N/min or N/h (a token "
                       "bucket: a burst of "
                       "N, then one every period/N); more get 429 with Retry-After"),
    CONFIG_UINT_OPTION(
        "shutdown-grace", "SHUTDOWN_GRACE", shutdown_grace_s, "10", 0, 3600, "SECONDS",
        "on SIGTERM/SIGINT, time in-flight requests get to finish before benchmarks are cancelled"),
    CONFIG_CHOICE_OPTION("log-level", "LOG_LEVEL", log_level, "info", log_level_names, "LEVEL",
                         "least severe level logged: debug, info, warn or error"),
    CONFIG_CHOICE_OPTION("log-format", "LOG_FORMAT", log_format, "text", log_format_names, "FORMAT",
                         "log lines as text, or json (one object per line)"),
    CONFIG_STRING_OPTION("log-file", "LOG_FILE", log_file, "", CONFIG_PATH_MAX, "FILE",
                         "append log lines to this file (created 0640) instead of writing them to "
                         "stdout; it must be openable at startup, else exit 2"),
    CONFIG_UINT_OPTION(
        "log-buffer", "LOG_BUFFER", log_buffer, "65536", 0, 16777216, "BYTES",
        "with --log-file: access lines are kept per HTTP worker thread and written in one write "
        "when the next would not fit or the oldest is --log-flush-ms old; 0 = one write per "
        "line. At most 4096 (PIPE_BUF) when the file is a pipe or terminal; stdout is never "
        "buffered"),
    CONFIG_UINT_OPTION("log-flush-ms", "LOG_FLUSH_MS", log_flush_ms, "1000", 1, 60000, "MS",
                       "longest time a buffered access line waits before it is written"),
    CONFIG_STRING_OPTION("tls-cert", "TLS_CERT_FILE", tls_cert_file, "", CONFIG_PATH_MAX, "FILE",
                         "PEM certificate chain, leaf first; with --tls-key, turns HTTPS on"),
    CONFIG_STRING_OPTION(
        "tls-key", "TLS_KEY_FILE", tls_key_file, "", CONFIG_PATH_MAX, "FILE",
        "PEM private key (PKCS#8 or traditional, unencrypted): RSA 2048+ or EC P-256"),
    CONFIG_UINT_OPTION("tls-port", "TLS_PORT", tls_port, "3443", 1, 65535, "N",
                       "TCP port for HTTPS"),
    CONFIG_UINT_OPTION("tls-handshake-timeout", "TLS_HANDSHAKE_TIMEOUT", tls_handshake_timeout_s,
                       "10", 1, 300, "SECONDS",
                       "close a TLS connection whose handshake has not finished by then"),
    CONFIG_UINT_OPTION("max-tls-connections", "MAX_TLS_CONNECTIONS", max_tls_connections, "1024", 1,
                       65536, "N", "open TLS connections accepted at once"),
    CONFIG_UINT_OPTION("tls-threads", "TLS_THREADS", tls_threads, "0", 0, 256, "N",
                       "TLS relay threads, each an event loop over many connections; 0 = one per "
                       "available CPU"),
    CONFIG_UINT_OPTION("tls-session-cache", "TLS_SESSION_CACHE", tls_session_cache_entries, "10000",
                       0, 1000000, "ENTRIES",
                       "TLS sessions remembered for resumption by session ID, 100 bytes each, "
                       "least recently used evicted first; 0 turns resumption off"),
};

#define CONFIG_OPTION_COUNT ARRAY_SIZE(config_options)

static void set_error(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(char *err, size_t err_size, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, err_size, fmt, args);
    va_end(args);
}

/* Strict unsigned decimal: digits only, no sign, no spaces, no overflow.
 * strtoul alone would accept " 12", "+12" and "-1" (as a huge value). */
static bool parse_decimal(const char *text, unsigned long *out)
{
    unsigned long value = 0;
    if (*text == '\0') {
        return false;
    }
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        unsigned digit = (unsigned)(*p - '0');
        if (value > (ULONG_MAX - digit) / 10) {
            return false;
        }
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

/* Applies one textual value to the field an option describes. `source`
 * names where the value came from ("--port", "PORT" or "default"). */
static bool apply_option(struct config *cfg, const struct config_option *opt, const char *value,
                         const char *source, char *err, size_t err_size)
{
    char *field = (char *)cfg + opt->offset;
    switch (opt->type) {
    case CONFIG_UINT: {
        unsigned long number;
        if (!parse_decimal(value, &number) || number < opt->min || number > opt->max) {
            set_error(err, err_size,
                      "%s: invalid value \"%s\": expected an integer from %lu to %lu", source,
                      value, opt->min, opt->max);
            return false;
        }
        *(unsigned *)(void *)field = (unsigned)number;
        return true;
    }
    case CONFIG_IP: {
        struct net_addr address;
        if (!net_addr_parse(value, 0, &address)) {
            set_error(err, err_size, "%s: invalid value \"%s\": expected an IPv4 or IPv6 address",
                      source, value);
            return false;
        }
        *(const char **)(void *)field = value;
        return true;
    }
    case CONFIG_STRING: {
        size_t len = strlen(value);
        if (len < opt->min || len > opt->max) {
            set_error(err, err_size, "%s: invalid value \"%s\": expected %lu to %lu characters",
                      source, value, opt->min, opt->max);
            return false;
        }
        *(const char **)(void *)field = value;
        return true;
    }
    case CONFIG_RATE:
        if (!rate_spec_parse(value, (struct rate_spec *)(void *)field)) {
            set_error(err, err_size,
                      "%s: invalid value \"%s\": expected N/s, N/min or N/h with N from 1 to %u, "
                      "or off",
                      source, value, RATE_MAX_COUNT);
            return false;
        }
        return true;
    case CONFIG_CHOICE:
        for (unsigned i = 0; opt->choices[i] != NULL; i++) {
            if (strcmp(opt->choices[i], value) == 0) {
                *(unsigned *)(void *)field = i;
                return true;
            }
        }
        set_error(err, err_size, "%s: invalid value \"%s\": see --help for the accepted values",
                  source, value);
        return false;
    }
    set_error(err, err_size, "%s: unsupported option type", source);
    return false;
}

bool config_defaults(struct config *cfg, char *err, size_t err_size)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        if (!apply_option(cfg, &config_options[i], config_options[i].default_value, "default", err,
                          err_size)) {
            return false;
        }
    }
    return true;
}

static bool load_environment(struct config *cfg, char *err, size_t err_size)
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const char *value = getenv(config_options[i].env);
        if (value != NULL &&
            !apply_option(cfg, &config_options[i], value, config_options[i].env, err, err_size)) {
            return false;
        }
    }
    return true;
}

static const struct config_option *find_option(const char *name, size_t name_len)
{
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        if (strlen(config_options[i].flag) == name_len &&
            strncmp(config_options[i].flag, name, name_len) == 0) {
            return &config_options[i];
        }
    }
    return NULL;
}

/* Commands that take no value. */
static const struct {
    const char *flag;
    enum config_command_kind kind;
} config_commands[] = {
    {"--help", CONFIG_COMMAND_HELP},
    {"-h", CONFIG_COMMAND_HELP},
    {"--help-markdown", CONFIG_COMMAND_HELP_MARKDOWN},
    {"--version", CONFIG_COMMAND_VERSION},
    {"--bench", CONFIG_COMMAND_BENCH},
    {"--healthcheck", CONFIG_COMMAND_HEALTHCHECK},
};

static bool set_command(struct config_command *cmd, enum config_command_kind kind, const char *flag,
                        char *err, size_t err_size)
{
    if (cmd->kind != CONFIG_COMMAND_SERVE && cmd->kind != kind) {
        set_error(err, err_size, "%s: cannot be combined with another command", flag);
        return false;
    }
    cmd->kind = kind;
    return true;
}

/* The offset of a text field of struct config_command; like CONFIG_FIELD,
 * it does not compile for a field of another type. */
#define CONFIG_BENCH_FIELD(field)                                                                  \
    _Generic(((struct config_command *)0)->field, const char *: offsetof(struct config_command, field))

/* The arguments of --bench, kept as raw text for the bench validator. */
static const struct {
    const char *name; /* without the leading "--" */
    size_t offset;    /* of the field in struct config_command */
} config_bench_args[] = {
    {"threads", CONFIG_BENCH_FIELD(bench_threads)},
    {"iterations", CONFIG_BENCH_FIELD(bench_iterations)},
    {"workload", CONFIG_BENCH_FIELD(bench_workload)},
    {"allocator", CONFIG_BENCH_FIELD(bench_allocator)},
    {"repeat", CONFIG_BENCH_FIELD(bench_repeat)},
    {"slots", CONFIG_BENCH_FIELD(bench_slots)},
    {"min-block", CONFIG_BENCH_FIELD(bench_min_block)},
    {"max-block", CONFIG_BENCH_FIELD(bench_max_block)},
};

#define CONFIG_BENCH_ARG_COUNT ARRAY_SIZE(config_bench_args)

/* The field of the --bench argument called `name` (name_len bytes), or NULL. */
static const char **bench_arg_field(struct config_command *cmd, const char *name, size_t name_len)
{
    for (size_t i = 0; i < CONFIG_BENCH_ARG_COUNT; i++) {
        if (strlen(config_bench_args[i].name) == name_len &&
            strncmp(config_bench_args[i].name, name, name_len) == 0) {
            return (const char **)(void *)((char *)cmd + config_bench_args[i].offset);
        }
    }
    return NULL;
}

/* Splits "--name=value" or "--name value"; advances *index past the value. */
static bool take_value(int argc, char *const argv[], int *index, const char *eq, const char **value,
                       char *err, size_t err_size)
{
    if (eq != NULL) {
        *value = eq + 1;
        return true;
    }
    if (*index + 1 >= argc) {
        set_error(err, err_size, "%s: missing value", argv[*index]);
        return false;
    }
    *index += 1;
    *value = argv[*index];
    return true;
}

static bool load_arguments(struct config *cfg, struct config_command *cmd, int argc,
                           char *const argv[], char *err, size_t err_size)
{
    bool bench_args_given = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool matched = false;
        for (size_t c = 0; c < ARRAY_SIZE(config_commands); c++) {
            if (strcmp(arg, config_commands[c].flag) == 0) {
                if (!set_command(cmd, config_commands[c].kind, arg, err, err_size)) {
                    return false;
                }
                matched = true;
            }
        }
        if (matched) {
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            set_error(err, err_size, "%s: unexpected argument (see --help)", arg);
            return false;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const char *value;
        const char **bench_arg = bench_arg_field(cmd, name, name_len);
        if (bench_arg != NULL) {
            if (!take_value(argc, argv, &i, eq, bench_arg, err, err_size)) {
                return false;
            }
            bench_args_given = true;
            continue;
        }
        const struct config_option *opt = find_option(name, name_len);
        if (opt == NULL) {
            set_error(err, err_size, "%.*s: unknown option (see --help)", (int)(name_len + 2), arg);
            return false;
        }
        if (!take_value(argc, argv, &i, eq, &value, err, err_size)) {
            return false;
        }
        char source[64];
        snprintf(source, sizeof(source), "--%s", opt->flag);
        if (!apply_option(cfg, opt, value, source, err, err_size)) {
            return false;
        }
    }
    if ((cfg->tls_cert_file[0] == '\0') != (cfg->tls_key_file[0] == '\0')) {
        set_error(err, err_size,
                  "--tls-cert and --tls-key (TLS_CERT_FILE, TLS_KEY_FILE) must "
                  "be given together");
        return false;
    }
    if (bench_args_given && cmd->kind != CONFIG_COMMAND_BENCH) {
        set_error(err, err_size,
                  "--threads, --iterations, --workload, --allocator, --repeat, --slots, "
                  "--min-block and --max-block need --bench");
        return false;
    }
    return true;
}

bool config_load(struct config *cfg, struct config_command *cmd, int argc, char *const argv[],
                 char *err, size_t err_size)
{
    memset(cmd, 0, sizeof(*cmd));
    return config_defaults(cfg, err, err_size) && load_environment(cfg, err, err_size) &&
           load_arguments(cfg, cmd, argc, argv, err, err_size);
}

static const char *shown_default(const struct config_option *opt)
{
    return opt->default_value[0] != '\0' ? opt->default_value : "(none)";
}

void config_print_help(FILE *out, const char *program)
{
    fprintf(out,
            "Usage: %s [OPTION]...            serve HTTP\n"
            "       %s --bench [--threads N] [--iterations N] [--workload NAME]\n"
            "               [--allocator ALLOC] [--repeat N]\n"
            "               [--slots N] [--min-block BYTES] [--max-block BYTES]\n"
            "                                  run the allocation benchmark once, print JSON;\n"
            "                                  NAME: seed (default), xthread, larson or window\n"
            "                                  (which alone takes the window's slots and\n"
            "                                  block sizes);\n"
            "                                  ALLOC: jemalloc, mimalloc, mimalloc-secure, musl\n"
            "                                  (those this build has; default: the global one)\n"
            "                                  or all, which runs each, N rounds interleaved\n"
            "       %s --healthcheck          exit 0 if GET /healthz on this host answers 200\n"
            "       %s --version | --help | --help-markdown\n"
            "\n"
            "Options (flag, environment variable, default):\n",
            program, program, program, program);
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const struct config_option *opt = &config_options[i];
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s %s", opt->flag, opt->value_name);
        fprintf(out, "  %-32s %-24s default %s\n      %s\n", flag, opt->env, shown_default(opt),
                opt->help);
    }
    fprintf(out, "\nFlags override environment variables. Invalid values exit with status 2.\n");
}

void config_print_markdown(FILE *out)
{
    fprintf(out, "| Flag | Environment | Default | Meaning |\n"
                 "| --- | --- | --- | --- |\n");
    for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++) {
        const struct config_option *opt = &config_options[i];
        fprintf(out, "| `--%s %s` | `%s` | %s%s%s | %s |\n", opt->flag, opt->value_name, opt->env,
                opt->default_value[0] != '\0' ? "`" : "", shown_default(opt),
                opt->default_value[0] != '\0' ? "`" : "", opt->help);
    }
}

static unsigned least(unsigned a, unsigned b)
{
    return a < b ? a : b;
}

unsigned config_tls_handshake_bound_s(const struct config *cfg)
{
    return least(cfg->tls_handshake_timeout_s,
                 least(cfg->request_timeout_s, cfg->connection_timeout_s));
}

void config_describe(const struct config *cfg, char *buf, size_t buf_size)
{
    size_t used = 0;
    if (buf_size == 0) {
        return;
    }
    buf[0] = '\0';
    for (size_t i = 0; i < CONFIG_OPTION_COUNT && used < buf_size; i++) {
        const struct config_option *opt = &config_options[i];
        const char *field = (const char *)cfg + opt->offset;
        const char *sep = i == 0 ? "" : " ";
        int n = 0;
        switch (opt->type) {
        case CONFIG_UINT:
            n = snprintf(buf + used, buf_size - used, "%s%s=%u", sep, opt->flag,
                         *(const unsigned *)(const void *)field);
            break;
        case CONFIG_STRING:
        case CONFIG_IP:
            n = snprintf(buf + used, buf_size - used, "%s%s=%s", sep, opt->flag,
                         *(const char *const *)(const void *)field);
            break;
        case CONFIG_CHOICE:
            n = snprintf(buf + used, buf_size - used, "%s%s=%s", sep, opt->flag,
                         opt->choices[*(const unsigned *)(const void *)field]);
            break;
        case CONFIG_RATE: {
            char rate[32];
            rate_spec_format((const struct rate_spec *)(const void *)field, rate, sizeof(rate));
            n = snprintf(buf + used, buf_size - used, "%s%s=%s", sep, opt->flag, rate);
            break;
        }
        }
        if (n < 0) {
            return;
        }
        used += (size_t)n;
    }
}
