/* Unit tests for http_host.c: Host values RFC 3986 accepts and refuses. */
#include "array.h"
#include "check.h"
#include "http_host.h"

#include <string.h>

static bool valid(const char *value)
{
    return http_host_valid(value, strlen(value));
}

static void test_accepted(void)
{
    static const char *const good[] = {
        "",
        "x",
        "example.com",
        "example.com:8080",
        "127.0.0.1",
        "127.0.0.1:3000",
        "[::1]",
        "[::1]:443",
        "[2001:db8::7]",
        "[::ffff:10.0.0.1]",
        "[v1.fe80::a+en1]",
        "a-b_c~d.e",
        "h%41st",
        "x:",
        "x,y",
        "!$&'()*+;=",
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        CHECK_MSG(valid(good[i]), "refused \"%s\"", good[i]);
    }
}

static void test_refused(void)
{
    static const char *const bad[] = {
        "a b",     "x, y",
        "[::1",    "::1",
        "[::1]x",  "[::1]:x",
        "[zz]",    "x:80a",
        "x:80:81", "h%4",
        "h%zz",    "a/b",
        "a?b",     "a@b",
        "a#b",     "[]",
        "[v1.]",   "[v.x]",
        "\"x\"",   "a\tb",
        "x:-1",    "\xc3\xa9.example",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        CHECK_MSG(!valid(bad[i]), "accepted \"%s\"", bad[i]);
    }
    /* the length decides, not a NUL: a value with an embedded NUL is refused */
    CHECK(!http_host_valid("a\0b", 3));
    CHECK(http_host_valid("ab\0", 2));
}

int main(void)
{
    test_accepted();
    test_refused();
    return check_finish("http_host");
}
