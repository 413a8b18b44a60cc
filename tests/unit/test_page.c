/* Unit tests for page.c: which Accept headers get the page, and that the
 * embedded page and its policy are what the build promises. */
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

static void check_page(void)
{
    CHECK(page_html_size > 1000 && strlen(page_html) == page_html_size);
    CHECK(strncmp(page_html, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(page_html, "</html>") != NULL);
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
    check_page();
    return check_finish("page");
}
