/* Unit tests for http_routing.c: matching paths and methods, absolute-form
 * targets, and the 404/405 answers with their Allow header. */
#include "array.h"
#include "check.h"
#include "http_routing.h"
#include "routes.h"

#include <stdlib.h>
#include <string.h>

static void no_handler(void *app, const struct http_request *request,
                       struct http_response *response)
{
    (void)app;
    (void)request;
    (void)response;
}

static const struct http_route routes[] = {
    {.path = "/", .methods = HTTP_GET | HTTP_HEAD, .handler = no_handler, .description = "index"},
    {.path = "/healthz",
     .methods = HTTP_GET | HTTP_HEAD,
     .fixed_body = "{}\n",
     .description = "health"},
    {.path = "/upload",
     .methods = HTTP_POST | HTTP_PUT,
     .handler = no_handler,
     .description = "upload"},
};

static void test_match(void)
{
    int index = 99;
    CHECK(http_route_match(routes, 3, "/healthz", "GET", &index) == HTTP_ROUTE_FOUND);
    CHECK(index == 1);
    CHECK(http_route_match(routes, 3, "/healthz", "HEAD", &index) == HTTP_ROUTE_FOUND);
    CHECK(http_route_match(routes, 3, "/", "GET", &index) == HTTP_ROUTE_FOUND && index == 0);
    /* a wrong method still names the route it was meant for */
    CHECK(http_route_match(routes, 3, "/healthz", "POST", &index) == HTTP_ROUTE_BAD_METHOD);
    CHECK(index == 1);
    CHECK(http_route_match(routes, 3, "/healthz", "TRACE", &index) == HTTP_ROUTE_BAD_METHOD);
    CHECK(http_route_match(routes, 3, "/healthz", "CONNECT", &index) == HTTP_ROUTE_BAD_METHOD);
    /* unknown methods (case-sensitive: "get" is one) are 501 before any path */
    CHECK(http_route_match(routes, 3, "/healthz", "get", &index) == HTTP_ROUTE_UNKNOWN_METHOD);
    CHECK(index == -1);
    CHECK(http_route_match(routes, 3, "/nope", "FOO", &index) == HTTP_ROUTE_UNKNOWN_METHOD);
    CHECK(http_route_match(routes, 3, "/healthz", "", &index) == HTTP_ROUTE_UNKNOWN_METHOD);
    CHECK(http_route_match(routes, 3, "/healthz/", "GET", &index) == HTTP_ROUTE_NO_PATH);
    CHECK(index == -1);
    CHECK(http_route_match(routes, 3, "/HEALTHZ", "GET", &index) == HTTP_ROUTE_NO_PATH);
    CHECK(http_route_match(routes, 0, "/", "GET", &index) == HTTP_ROUTE_NO_PATH);
    /* RFC 9110 9.3.7: the asterisk is the server as a whole, for OPTIONS */
    CHECK(http_route_match(routes, 3, "*", "OPTIONS", &index) == HTTP_ROUTE_SERVER_OPTIONS &&
          index == -1);
    CHECK(http_route_match(routes, 3, "*", "GET", &index) == HTTP_ROUTE_ASTERISK_MISUSED);
    CHECK(http_route_match(routes, 3, "*", "FOO", &index) == HTTP_ROUTE_UNKNOWN_METHOD);
}

static void test_target_valid(void)
{
    CHECK(http_target_valid("/healthz?x=%00&y=~"));
    CHECK(http_target_valid("*") && http_target_valid("http://h:1/p"));
    CHECK(!http_target_valid("/a b") && !http_target_valid("/a\tb"));
    CHECK(!http_target_valid("/a\x01") && !http_target_valid("/a\x7f"));
    CHECK(!http_target_valid("/\xc3\xa9"));
    CHECK(!http_target_valid("")); /* no target at all is no request line */
}

static void test_origin_path(void)
{
    CHECK(strcmp(http_origin_path("/healthz"), "/healthz") == 0);
    CHECK(strcmp(http_origin_path("http://example.com/healthz"), "/healthz") == 0);
    CHECK(strcmp(http_origin_path("HTTPS://example.com:8443/bench"), "/bench") == 0);
    CHECK(strcmp(http_origin_path("http://example.com"), "/") == 0);
    CHECK(strcmp(http_origin_path("ftp://example.com/x"), "ftp://example.com/x") == 0);
    CHECK(strcmp(http_origin_path("*"), "*") == 0);
}

static void test_methods(void)
{
    char buf[HTTP_ALLOW_MAX];
    CHECK(http_method_bit("GET") == HTTP_GET && http_method_bit("OPTIONS") == HTTP_OPTIONS);
    CHECK(http_method_bit("CONNECT") == HTTP_CONNECT && http_method_bit("TRACE") == HTTP_TRACE);
    CHECK(http_method_bit("") == 0 && http_method_bit("get") == 0 && http_method_bit("FOO") == 0);
    http_methods_format(HTTP_GET | HTTP_HEAD, buf, sizeof(buf));
    CHECK(strcmp(buf, "GET, HEAD") == 0);
    http_methods_format(HTTP_OPTIONS | HTTP_GET | HTTP_DELETE, buf, sizeof(buf));
    CHECK(strcmp(buf, "GET, DELETE, OPTIONS") == 0); /* table order, not bit order */
    http_methods_format(0, buf, sizeof(buf));
    CHECK(buf[0] == '\0');
    char small[6];
    http_methods_format(HTTP_GET | HTTP_HEAD, small, sizeof(small));
    CHECK(strcmp(small, "GET") == 0); /* truncated at a whole name */
}

static void test_refusals(void)
{
    char allow[HTTP_ALLOW_MAX];
    struct http_response answer = {0};
    http_route_refusal(HTTP_ROUTE_BAD_METHOD, &routes[2], &answer, allow);
    CHECK(answer.status == 405);
    CHECK(strcmp(allow, "POST, PUT") == 0);
    CHECK(answer.body != NULL &&
          strstr(answer.body, "\"method not allowed; allowed: POST, PUT\"") != NULL);
    free(answer.body);
    answer = (struct http_response){0};
    http_route_refusal(HTTP_ROUTE_NO_PATH, NULL, &answer, allow);
    CHECK(answer.status == 404 && allow[0] == '\0');
    CHECK(answer.body != NULL && strstr(answer.body, "no such endpoint") != NULL);
    free(answer.body);
    answer = (struct http_response){0};
    http_route_refusal(HTTP_ROUTE_UNKNOWN_METHOD, NULL, &answer, allow);
    CHECK(answer.status == 501 && allow[0] == '\0');
    CHECK(answer.body != NULL && strstr(answer.body, "not implemented") != NULL);
    free(answer.body);
    answer = (struct http_response){0};
    http_route_refusal(HTTP_ROUTE_ASTERISK_MISUSED, NULL, &answer, allow);
    CHECK(answer.status == 400 && allow[0] == '\0');
    CHECK(answer.body != NULL && strstr(answer.body, "for OPTIONS only") != NULL);
    free(answer.body);
    answer = (struct http_response){0};
    http_server_options(routes, ARRAY_SIZE(routes), &answer, allow);
    CHECK(strcmp(allow, "GET, HEAD, POST, PUT") == 0); /* every route's, once each */
    CHECK(answer.status == 200 && answer.body != NULL &&
          strcmp(answer.body, "{\"allow\":\"GET, HEAD, POST, PUT\"}\n") == 0);
    free(answer.body);
}

#define SERVER_CODE(name, code) code,
static const unsigned server_statuses[] = {HTTP_SERVER_STATUSES(SERVER_CODE)};

static bool is_server_status(unsigned status)
{
    for (size_t i = 0; i < ARRAY_SIZE(server_statuses); i++) {
        if (server_statuses[i] == status) {
            return true;
        }
    }
    return false;
}

/* Every status a route or the layer can answer has its own metrics slot,
 * which it has only if http_status.h lists it. */
static void test_statuses_are_listed(void)
{
    size_t count = 0;
    const struct http_route *table = routes_table(&count);
    CHECK(count > 0);
    for (size_t r = 0; r < count; r++) {
        for (size_t i = 0; table[r].statuses[i] != 0; i++) {
            CHECK_MSG(is_server_status(table[r].statuses[i]), "%s lists %u", table[r].path,
                      table[r].statuses[i]);
        }
    }
    for (size_t i = 0; http_layer_statuses[i] != 0; i++) {
        CHECK(is_server_status(http_layer_statuses[i]));
    }
    CHECK(is_server_status(HTTP_STATUS_NOT_FOUND));
    CHECK(!is_server_status(431)); /* only the library sends it */
    CHECK(HTTP_SERVER_STATUS_COUNT == ARRAY_SIZE(server_statuses));
}

int main(void)
{
    test_statuses_are_listed();
    test_match();
    test_origin_path();
    test_target_valid();
    test_methods();
    test_refusals();
    return check_finish("http_routing");
}
