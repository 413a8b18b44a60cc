/* Unit tests for json.c: every body parses back with cJSON and carries the
 * documented fields. */
#include "json.h"
#include "check.h"

#include <cJSON.h>

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
