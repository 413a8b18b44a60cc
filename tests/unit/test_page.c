/* Unit tests for page.c: which Accept and Accept-Encoding headers get the
 * page, and that the embedded page and its policy are what the build
 * promises (tests/integration/test_page.py compares the page, uncompressed,
 * to its source). */
#include "check.h"
#include "page.h"

#include <stdlib.h>
#include <string.h>

static void check_wanted(void)
{
    /* What browsers send when navigating. */
    CHECK(page_wanted("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                      "image/webp,image/apng,*/*;q=0.8"));
    CHECK(page_wanted("text/html"));
    CHECK(page_wanted("TEXT/HTML"));
    CHECK(page_wanted("application/json, text/html;q=0.5"));
    CHECK(page_wanted("  text/html ; charset=utf-8"));
    CHECK(page_wanted("text/html;q=0.01"));
    /* curl, JSON clients, nothing at all, or HTML refused. */
    CHECK(!page_wanted(NULL));
    CHECK(!page_wanted(""));
    CHECK(!page_wanted("*/*"));
    CHECK(!page_wanted("application/json"));
    CHECK(!page_wanted("text/*"));
    CHECK(!page_wanted("text/htmlx"));
    CHECK(!page_wanted("text/html;q=0"));
    CHECK(!page_wanted("text/html; q=0.000, application/json"));
    CHECK(!page_wanted("application/xhtml+xml"));
}

static void check_gzip_accepted(void)
{
    /* What browsers send. */
    CHECK(page_gzip_accepted("gzip, deflate, br, zstd"));
    CHECK(page_gzip_accepted("gzip"));
    CHECK(page_gzip_accepted("GZIP;q=0.5"));
    CHECK(page_gzip_accepted("br, x-gzip"));
    CHECK(page_gzip_accepted("*"));
    CHECK(page_gzip_accepted("br;q=1, *;q=0.1"));
    /* No header (curl without --compressed), identity only, or gzip refused. */
    CHECK(!page_gzip_accepted(NULL));
    CHECK(!page_gzip_accepted(""));
    CHECK(!page_gzip_accepted("identity"));
    CHECK(!page_gzip_accepted("br, deflate"));
    CHECK(!page_gzip_accepted("gzip;q=0"));
    CHECK(!page_gzip_accepted("gzip;q=0, *"));
    CHECK(!page_gzip_accepted("*;q=0"));
    CHECK(!page_gzip_accepted("gzipx"));
}

static void check_page(void)
{
    /* A gzip member (RFC 1952: magic 1f 8b, method 8, deflate) that is
     * smaller than the page it holds. */
    CHECK(page_gzip_size > 1000 && page_gzip_size < 16 * 1024);
    CHECK(page_gzip[0] == 0x1f && page_gzip[1] == 0x8b && page_gzip[2] == 8);
    /* Nothing runs but the page's own hashed script and style. */
    CHECK(strstr(page_csp, "default-src 'none'") != NULL);
    CHECK(strstr(page_csp, "script-src 'sha256-") != NULL);
    CHECK(strstr(page_csp, "style-src 'sha256-") != NULL);
    CHECK(strstr(page_csp, "connect-src 'self'") != NULL);
    CHECK(strstr(page_csp, "unsafe") == NULL);
}

int main(void)
{
    check_wanted();
    check_gzip_accepted();
    check_page();
    return check_finish("page");
}
