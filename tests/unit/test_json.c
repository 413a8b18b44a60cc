/* Unit tests for json.c: every body parses back with cJSON and carries the
 * documented fields. */
#include "json.h"
#include "check.h"

#include <cJSON.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static cJSON *parse_line(char *text)
{
    CHECK(text != NULL);
    if (text == NULL) {
        return NULL;
    }
    size_t len = strlen(text);
    CHECK(len > 0 && text[len - 1] == '\n');
    CHECK(strchr(text, '\n') == text + len - 1); /* one line */
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc != NULL);
    free(text);
    return doc;
}

static struct build_info sample_build(void)
{
    struct build_info build;
    memset(&build, 0, sizeof(build));
    build.name = "tinyserver";
    build.version = "9.9.9";
    build.libc = "musl";
    build.compiler = "gcc 12";
    build.is_static = true;
    build.allocator.name = "mimalloc";
    strcpy(build.allocator.version, "2.0.9");
    build.allocator_verified = true;
    return build;
}

/* allocator=all: an entry per allocator with its runs, the median and the
 * ratio against musl when musl is among them. */
static void check_comparison(const struct build_info *build)
{
    struct bench_comparison all = {.allocator_count = 2, .repeat = 3, .baseline = 2};
    all.allocators[0] = BENCH_ALLOCATOR_GLOBAL;
    all.allocators[1] = BENCH_ALLOCATOR_GLOBAL;
    for (unsigned round = 0; round < 3; round++) {
        for (size_t i = 0; i < 2; i++) {
            all.runs[round][i] = (struct bench_result){.threads = 2,
                                                       .iterations = 10,
                                                       .operations = 20,
                                                       .total_counter = 20,
                                                       .elapsed_ms = 1,
                                                       .ops_per_sec = 1000.0 * (round + 1)};
        }
    }
    all.median_ops_per_sec[0] = 2000;
    all.median_ops_per_sec[1] = 500;
    cJSON *doc = parse_line(json_bench_result(&all, true, build));
    CHECK(strcmp(cJSON_GetObjectItem(doc, "bench_allocator")->valuestring, "all") == 0);
    CHECK(cJSON_GetObjectItem(doc, "repeat")->valuedouble == 3);
    CHECK(cJSON_GetObjectItem(doc, "ops_per_sec") == NULL);
    cJSON *results = cJSON_GetObjectItem(doc, "results");
    CHECK(cJSON_GetArraySize(results) == 2);
    cJSON *first = cJSON_GetArrayItem(results, 0);
    CHECK(cJSON_GetObjectItem(first, "ops_per_sec")->valuedouble == 2000);
    CHECK(cJSON_GetObjectItem(first, "ratio_vs_musl") == NULL); /* no baseline */
    cJSON *runs = cJSON_GetObjectItem(first, "runs");
    CHECK(cJSON_GetArraySize(runs) == 3);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 2), "ops_per_sec")->valuedouble == 3000);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "total_counter")->valuedouble == 20);
    cJSON_Delete(doc);

    all.baseline = 1; /* the second is musl */
    doc = parse_line(json_bench_result(&all, true, build));
    results = cJSON_GetObjectItem(doc, "results");
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(results, 0), "ratio_vs_musl")->valuedouble == 4);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(results, 1), "ratio_vs_musl")->valuedouble == 1);
    cJSON_Delete(doc);
}

static double number_in(cJSON *doc, const char *object, const char *name)
{
    cJSON *item = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, object), name);
    CHECK_MSG(cJSON_IsNumber(item), "%s.%s is not a number", object, name);
    return cJSON_IsNumber(item) ? item->valuedouble : -1;
}

/* A window run's costs: every figure in its group, the overhead from the
 * peak and the live bytes; figures that could not be read are null with
 * the reason, never 0. */
static void check_costs(const struct build_info *build)
{
    struct bench_result result = {
        .workload = BENCH_WORKLOAD_WINDOW,
        .threads = 2,
        .iterations = 10,
        .operations = 20,
        .total_counter = 20,
        .window = {.slots = 128, .min_block = 8, .max_block = 262144},
        .latency = {.samples = 314, .p50_ns = 167, .p99_ns = 98303, .max_ns = 488727},
        .memory = {.known = true,
                   .start = 823296,
                   .peak = 25000000,
                   .peak_exact = true,
                   .retained = 24748032,
                   .retained_released = -8192,
                   .samples = 46},
        .live_peak = 10000000,
        .cpu = {.known = true, .user_us = 5781, .system_us = 25251, .minor_faults = 6103},
        .syscalls = {.mmap = 4, .munmap = 0, .madvise = 1, .mprotect = 33},
        .release = "mi_collect(true)",
    };
    struct bench_comparison single = {.allocator_count = 1, .repeat = 1, .baseline = 1};
    single.runs[0][0] = result;
    cJSON *doc = parse_line(json_bench_result(&single, false, build));
    CHECK(number_in(doc, "window", "max_block") == 262144);
    CHECK(number_in(doc, "latency_ns", "p99") == 98303);
    CHECK(number_in(doc, "latency_ns", "every") == BENCH_LATENCY_EVERY);
    CHECK(number_in(doc, "memory", "peak_bytes") == 25000000);
    CHECK(number_in(doc, "memory", "retained_after_release_bytes") == -8192);
    CHECK(number_in(doc, "memory", "live_peak_bytes") == 10000000);
    CHECK(number_in(doc, "memory", "overhead") == 2.5);
    cJSON *memory = cJSON_GetObjectItem(doc, "memory");
    CHECK(strcmp(cJSON_GetObjectItem(memory, "release")->valuestring, "mi_collect(true)") == 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(memory, "peak_exact")));
    CHECK(cJSON_GetObjectItem(memory, "unavailable") == NULL);
    CHECK(number_in(doc, "cpu", "system_ms") == 25.251);
    CHECK(number_in(doc, "syscalls", "mprotect") == 33);
    cJSON_Delete(doc);

    result.memory = (struct bench_memory){.known = false, .error = ENOENT};
    result.cpu = (struct bench_cpu){.known = false, .error = EPERM};
    result.release = NULL;
    result.workload = BENCH_WORKLOAD_SEED;
    single.runs[0][0] = result;
    doc = parse_line(json_bench_result(&single, false, build));
    memory = cJSON_GetObjectItem(doc, "memory");
    const char *nulls[] = {"start_bytes", "peak_bytes", "retained_bytes",
                           "retained_after_release_bytes", "release"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        CHECK_MSG(cJSON_IsNull(cJSON_GetObjectItem(memory, nulls[i])), "memory.%s", nulls[i]);
    }
    CHECK(cJSON_GetObjectItem(memory, "live_peak_bytes") == NULL); /* seed does not track it */
    CHECK(cJSON_GetObjectItem(doc, "window") == NULL);
    const char *reason = cJSON_GetObjectItem(memory, "unavailable")->valuestring;
    CHECK_MSG(strstr(reason, "/proc/self/statm") != NULL && strstr(reason, strerror(ENOENT)), "%s",
              reason);
    cJSON *cpu = cJSON_GetObjectItem(doc, "cpu");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cpu, "user_ms")) &&
          cJSON_IsNull(cJSON_GetObjectItem(cpu, "minor_faults")));
    CHECK(cJSON_GetObjectItem(cpu, "unavailable") != NULL);
    cJSON_Delete(doc);
}

int main(void)
{
    struct build_info build = sample_build();
    struct bench_result result = {.workload = BENCH_WORKLOAD_LARSON,
                                  .threads = 256,
                                  .iterations = 10000000,
                                  .operations = 2560000000ull,
                                  .total_counter = 2560000000ull,
                                  .elapsed_ms = 1234.5,
                                  .ops_per_sec = 2073714054.27};
    struct bench_comparison single = {.allocator_count = 1, .repeat = 1, .baseline = 1};
    single.runs[0][0] = result;
    single.median_ops_per_sec[0] = result.ops_per_sec;
    cJSON *doc = parse_line(json_bench_result(&single, false, &build));
    CHECK(strcmp(cJSON_GetObjectItem(doc, "workload")->valuestring, "larson") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(doc, "bench_allocator")->valuestring,
                 TINYSERVER_ALLOCATOR_OPTION) == 0);
    CHECK(cJSON_GetObjectItem(doc, "results") == NULL);
    CHECK(cJSON_GetObjectItem(doc, "threads")->valuedouble == 256);
    CHECK(cJSON_GetObjectItem(doc, "iterations")->valuedouble == 10000000);
    /* above 2^31: must survive as an exact number */
    CHECK(cJSON_GetObjectItem(doc, "total_counter")->valuedouble == 2560000000.0);
    CHECK(cJSON_GetObjectItem(doc, "elapsed_ms")->valuedouble == 1234.5);
    CHECK(cJSON_GetObjectItem(doc, "ops_per_sec")->valuedouble == 2073714054.0);
    cJSON *allocator = cJSON_GetObjectItem(doc, "allocator");
    CHECK(strcmp(cJSON_GetObjectItem(allocator, "name")->valuestring, "mimalloc") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(allocator, "version")->valuestring, "2.0.9") == 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(allocator, "secure")));
    CHECK(strcmp(cJSON_GetObjectItem(doc, "libc")->valuestring, "musl") == 0);
    cJSON_Delete(doc);

    check_comparison(&build);
    check_costs(&build);

    static const unsigned short codes_a[] = {200, 0}, codes_b[] = {200, 429, 0};
    struct json_endpoint endpoints[] = {{"/a", "GET, HEAD", "first", codes_a},
                                        {"/b", "GET", "second", codes_b}};
    doc = parse_line(json_index(&build, endpoints, 2));
    CHECK(strcmp(cJSON_GetObjectItem(doc, "version")->valuestring, "9.9.9") == 0);
    cJSON *facts = cJSON_GetObjectItem(doc, "build");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(facts, "static")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(facts, "allocator_override_verified")));
    cJSON *list = cJSON_GetObjectItem(doc, "endpoints");
    CHECK(cJSON_GetArraySize(list) == 2);
    CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "path")->valuestring, "/b") == 0);
    cJSON *codes = cJSON_GetObjectItem(cJSON_GetArrayItem(list, 1), "statuses");
    CHECK(cJSON_GetArraySize(codes) == 2 && cJSON_GetArrayItem(codes, 1)->valuedouble == 429);
    cJSON_Delete(doc);
    return check_finish("json");
}
