/*
 * fuzz_config.c - libFuzzer target for the command line parser
 * (config.c): the option table's parsing, validation and the startup
 * line it describes.
 *
 * The input is a command line: arguments separated by NUL bytes, after
 * "tinyserver" as argv[0]. The environment is emptied once, so only the
 * arguments decide. Each argument gets an exact-size allocation, so
 * AddressSanitizer sees any read past its end.
 *
 * Checked besides crashes: a failure leaves a non-empty, NUL-terminated
 * message; a success satisfies the cross-option rule (TLS certificate and
 * key together) and describes itself, identically when parsed twice.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_ARGS  32
#define FUZZ_ERR_SIZE  512
#define FUZZ_DESCRIBED 8192

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    clearenv();
    return 0;
}

static int parse(int argc, char **argv, struct config *cfg, struct config_command *cmd, char *err)
{
    memset(err, 0xA5, FUZZ_ERR_SIZE);
    int ok = config_load(cfg, cmd, argc, argv, err, FUZZ_ERR_SIZE);
    if (!ok && (memchr(err, '\0', FUZZ_ERR_SIZE) == NULL || err[0] == '\0')) {
        fail("failure without a NUL-terminated message");
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[FUZZ_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = strdup("tinyserver");
    size_t at = 0;
    while (at < size && argc <= FUZZ_MAX_ARGS) {
        const uint8_t *end = memchr(data + at, '\0', size - at);
        size_t len = end != NULL ? (size_t)(end - (data + at)) : size - at;
        char *arg = malloc(len + 1);
        if (arg == NULL) {
            fail("out of memory");
        }
        memcpy(arg, data + at, len);
        arg[len] = '\0';
        argv[argc++] = arg;
        at += len + 1;
    }
    argv[argc] = NULL;

    struct config cfg, again;
    struct config_command cmd, cmd_again;
    static char err[FUZZ_ERR_SIZE], described[FUZZ_DESCRIBED], described_again[FUZZ_DESCRIBED];
    int ok = parse(argc, argv, &cfg, &cmd, err);
    if (ok) {
        if ((cfg.tls_cert_file[0] == '\0') != (cfg.tls_key_file[0] == '\0')) {
            fail("accepted a certificate without a key or the reverse");
        }
        config_describe(&cfg, described, sizeof(described));
        if (parse(argc, argv, &again, &cmd_again, err) != ok || cmd.kind != cmd_again.kind) {
            fail("two parses of the same command line disagree");
        }
        config_describe(&again, described_again, sizeof(described_again));
        if (strcmp(described, described_again) != 0) {
            fail("two parses of the same command line describe different settings");
        }
    }
    for (int i = 0; i < argc; i++) {
        free(argv[i]);
    }
    return 0;
}
