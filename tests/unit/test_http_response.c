/* Unit tests for the error bodies of http_response.c: each is one line of
 * JSON, the message escaped, and a client's parameter name made printable
 * and cut to HTTP_ERROR_PARAMETER_MAX bytes. */
#include "http.h"
#include "check.h"

#include <cJSON.h>

#include <stdlib.h>
#include <string.h>

/* The body of http_response_error(status 400), parsed; NULL on failure. */
static cJSON *error_doc(const char *message, const char *parameter)
{
    struct http_response response = {.retry_after_s = 7};
    http_response_error(&response, HTTP_STATUS_BAD_REQUEST, message, parameter);
    CHECK(response.status == HTTP_STATUS_BAD_REQUEST);
    CHECK(response.retry_after_s == 0);
    CHECK(response.body != NULL);
    if (response.body == NULL) {
        return NULL;
    }
    size_t len = strlen(response.body);
    CHECK(len > 0 && response.body[len - 1] == '\n');
    CHECK(strchr(response.body, '\n') == response.body + len - 1); /* one line */
    cJSON *doc = cJSON_Parse(response.body);
    CHECK(doc != NULL);
    free(response.body);
    return doc;
}

static const char *string_item(const cJSON *doc, const char *key)
{
    const cJSON *item = cJSON_GetObjectItem(doc, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

int main(void)
{
    cJSON *doc = error_doc("bad \"thing\"\n", "thr\x01"
                                              "eads");
    CHECK(string_item(doc, "error") != NULL &&
          strcmp(string_item(doc, "error"), "bad \"thing\"\n") == 0);
    CHECK(string_item(doc, "parameter") != NULL &&
          strcmp(string_item(doc, "parameter"), "thr?eads") == 0);
    cJSON_Delete(doc);

    doc = error_doc("plain", NULL);
    CHECK(string_item(doc, "error") != NULL && strcmp(string_item(doc, "error"), "plain") == 0);
    CHECK(cJSON_GetObjectItem(doc, "parameter") == NULL);
    cJSON_Delete(doc);

    char long_name[HTTP_ERROR_PARAMETER_MAX * 2 + 1];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    doc = error_doc("too long", long_name);
    const char *cut = string_item(doc, "parameter");
    CHECK(cut != NULL && strlen(cut) == HTTP_ERROR_PARAMETER_MAX);
    cJSON_Delete(doc);

    /* Into a body set aside beforehand (for answers made when memory may
     * have run out): the same text, escaped, with nothing allocated. */
    struct http_response response = {0};
    char *buffer = malloc(HTTP_ERROR_BODY_MAX);
    http_response_error_in(&response, HTTP_STATUS_SERVICE_UNAVAILABLE, buffer, HTTP_ERROR_BODY_MAX,
                           "a \"b\" \\ \x01\t", "p");
    CHECK(response.status == HTTP_STATUS_SERVICE_UNAVAILABLE && response.body == buffer);
    CHECK_MSG(response.body != NULL &&
                  strcmp(response.body,
                         "{\"error\":\"a \\\"b\\\" \\\\ \\u0001\\u0009\",\"parameter\":\"p\"}\n") ==
                      0,
              "%s", response.body ? response.body : "(null)");
    doc = response.body != NULL ? cJSON_Parse(response.body) : NULL;
    CHECK(string_item(doc, "error") != NULL &&
          strcmp(string_item(doc, "error"), "a \"b\" \\ \x01\t") == 0);
    cJSON_Delete(doc);
    free(response.body);
    /* The longest message it promises room for, every byte escaped. */
    char longest[301];
    memset(longest, 0x01, sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    http_response_error_in(&response, HTTP_STATUS_SERVICE_UNAVAILABLE, malloc(HTTP_ERROR_BODY_MAX),
                           HTTP_ERROR_BODY_MAX, longest, long_name);
    CHECK(response.body != NULL && strlen(response.body) < HTTP_ERROR_BODY_MAX);
    free(response.body);
    /* A body that does not fit: none (the layer's out-of-memory body). */
    http_response_error_in(&response, HTTP_STATUS_SERVICE_UNAVAILABLE, malloc(8), 8, "plain", NULL);
    CHECK(response.body == NULL && response.status == HTTP_STATUS_SERVICE_UNAVAILABLE);

    return check_finish("http_response");
}
