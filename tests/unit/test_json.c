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

int main(void)
{
    cJSON *doc = parse_line(json_error("bad \"thing\"\n", "thr\x01"
                                                          "eads"));
    CHECK(strcmp(cJSON_GetObjectItem(doc, "error")->valuestring, "bad \"thing\"\n") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(doc, "parameter")->valuestring, "thr?eads") == 0);
    cJSON_Delete(doc);

    doc = parse_line(json_error("plain", NULL));
    CHECK(cJSON_GetObjectItem(doc, "parameter") == NULL);
    cJSON_Delete(doc);

    doc = parse_line(json_health());
    CHECK(strcmp(cJSON_GetObjectItem(doc, "status")->valuestring, "ok") == 0);
    cJSON_Delete(doc);

    struct build_info build = sample_build();
    struct bench_result result = {.workload = BENCH_WORKLOAD_LARSON,
                                  .threads = 256,
                                  .iterations = 10000000,
                                  .operations = 2560000000ull,
                                  .total_counter = 2560000000ull,
                                  .elapsed_ms = 1234.5,
                                  .ops_per_sec = 2073714054.27};
    doc = parse_line(json_bench_result(&result, &build));
    CHECK(strcmp(cJSON_GetObjectItem(doc, "workload")->valuestring, "larson") == 0);
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
