/*
 * fuzz_bench_params.c - libFuzzer target for the /bench parameter
 * validator (bench_params.c), the first code that judges a client's query.
 *
 * The input is read as a query string after percent-decoding: pairs split
 * on '&', key and value on the first '=', every byte (NUL included) kept,
 * exactly what the HTTP layer hands over. Like the HTTP layer, it passes at
 * most HTTP_MAX_QUERY_PARAMS pairs and none whose key holds a NUL. Each
 * key and value gets its own exact-size allocation, so AddressSanitizer
 * sees any read past value_len.
 *
 * Besides crashes it checks the validator against an independent oracle
 * of the documented rules (bench_params.h): the verdict and, on success,
 * every value must agree. Any disagreement aborts.
 */
#include "bench.h"
#include "bench_params.h"
#include "http.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct bench_limits fuzz_limits = {
    .max_threads = 256,
    .max_iterations = 10000000,
    .default_threads = 2,
    .default_iterations = 100000,
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_bench_params: %s\n", what);
    abort();
}

/* Digits only, non-empty, from 1 to max. */
static int oracle_number(const char *text, size_t len, unsigned max, unsigned *out)
{
    unsigned long long value = 0;
    if (text == NULL || len == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return 0;
        }
        value = value * 10 + (unsigned)(text[i] - '0');
        if (value > max) {
            return 0;
        }
    }
    *out = (unsigned)value;
    return value >= 1;
}

/* The documented rules, written again without looking at the validator. */
static int oracle_allocator(const struct param_pair *pair, struct bench_request *expect)
{
    if (pair->value == NULL) {
        return 0;
    }
    if (pair->value_len == 3 && memcmp(pair->value, "all", 3) == 0) {
        expect->all_allocators = true;
        return 1;
    }
    for (unsigned a = 0; a < BENCH_ALLOCATOR_COUNT; a++) {
        const char *name = bench_allocator_name((enum bench_allocator)a);
        if (name != NULL && strlen(name) == pair->value_len &&
            memcmp(name, pair->value, pair->value_len) == 0) {
            expect->params.allocator = (enum bench_allocator)a;
            return 1;
        }
    }
    return 0;
}

static int oracle(const struct param_pair *pairs, size_t count, struct bench_request *expect)
{
    static const char *const names[] = {"threads", "iterations", "workload", "allocator", "repeat"};
    int seen[5] = {0, 0, 0, 0, 0};
    unsigned threads = fuzz_limits.default_threads;
    unsigned iterations = fuzz_limits.default_iterations;
    unsigned repeat = 1;
    enum bench_workload workload = BENCH_WORKLOAD_SEED;
    *expect = (struct bench_request){.params.allocator = BENCH_ALLOCATOR_GLOBAL};
    for (size_t i = 0; i < count; i++) {
        int id = -1;
        for (int n = 0; n < 5; n++) {
            if (strcmp(pairs[i].key, names[n]) == 0) {
                id = n;
            }
        }
        if (id < 0 || seen[id]) {
            return 0;
        }
        seen[id] = 1;
        if (id == 0 &&
            !oracle_number(pairs[i].value, pairs[i].value_len, fuzz_limits.max_threads, &threads)) {
            return 0;
        }
        if (id == 1 && !oracle_number(pairs[i].value, pairs[i].value_len,
                                      fuzz_limits.max_iterations, &iterations)) {
            return 0;
        }
        if (id == 3 && !oracle_allocator(&pairs[i], expect)) {
            return 0;
        }
        if (id == 4 && !oracle_number(pairs[i].value, pairs[i].value_len, 10, &repeat)) {
            return 0;
        }
        if (id == 2) {
            int found = 0;
            for (unsigned w = 0; w < BENCH_WORKLOAD_COUNT; w++) {
                const char *name = bench_workload_name((enum bench_workload)w);
                if (pairs[i].value != NULL && strlen(name) == pairs[i].value_len &&
                    memcmp(name, pairs[i].value, pairs[i].value_len) == 0) {
                    workload = (enum bench_workload)w;
                    found = 1;
                }
            }
            if (!found) {
                return 0;
            }
        }
    }
    if (repeat > 1 && !expect->all_allocators) {
        return 0;
    }
    unsigned min = bench_workload_min_threads(workload);
    if (threads < min) {
        if (seen[0] || min > fuzz_limits.max_threads) {
            return 0;
        }
        threads = min;
    }
    expect->params.workload = workload;
    expect->params.threads = threads;
    expect->params.iterations = iterations;
    expect->repeat = repeat;
    return 1;
}

/* Copies len bytes into a fresh allocation of exactly len + 1 bytes. */
static char *copy_exact(const uint8_t *data, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        fail("out of memory");
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct param_pair pairs[HTTP_MAX_QUERY_PARAMS];
    char *owned[2 * HTTP_MAX_QUERY_PARAMS];
    size_t count = 0, owned_count = 0;
    size_t at = 0;
    while (at < size && count < HTTP_MAX_QUERY_PARAMS) {
        const uint8_t *end = memchr(data + at, '&', size - at);
        size_t len = end != NULL ? (size_t)(end - (data + at)) : size - at;
        const uint8_t *eq = memchr(data + at, '=', len);
        size_t key_len = eq != NULL ? (size_t)(eq - (data + at)) : len;
        if (memchr(data + at, '\0', key_len) == NULL) { /* the HTTP layer refuses these */
            char *key = copy_exact(data + at, key_len);
            char *value = eq != NULL ? copy_exact(eq + 1, len - key_len - 1) : NULL;
            owned[owned_count++] = key;
            if (value != NULL) {
                owned[owned_count++] = value;
            }
            pairs[count++] = (struct param_pair){key, value, value != NULL ? len - key_len - 1 : 0};
        }
        at += len + 1;
    }

    struct bench_request got, expect;
    struct bench_params_error error;
    memset(&error, 0xA5, sizeof(error)); /* must be overwritten on failure */
    int accepted = bench_params_parse(pairs, count, &fuzz_limits, &got, &error);
    if (accepted != oracle(pairs, count, &expect)) {
        fail(accepted ? "accepted what the rules reject" : "rejected what the rules accept");
    }
    if (accepted) {
        if (got.params.workload != expect.params.workload ||
            got.params.threads != expect.params.threads ||
            got.params.iterations != expect.params.iterations ||
            got.params.allocator != expect.params.allocator ||
            got.all_allocators != expect.all_allocators || got.repeat != expect.repeat) {
            fail("accepted with values the rules do not give");
        }
    } else if (memchr(error.message, '\0', sizeof(error.message)) == NULL ||
               error.message[0] == '\0') {
        fail("rejected without a NUL-terminated message");
    }
    for (size_t i = 0; i < owned_count; i++) {
        free(owned[i]);
    }
    return 0;
}
