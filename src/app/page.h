/*
 * page.h - the HTML page GET / gives a browser: src/app/page/index.html,
 * embedded at build time by scripts/lib/embed-page.py together with the
 * Content-Security-Policy that admits exactly its inline script and style.
 * Programs asking for JSON keep getting JSON at /.
 */
#ifndef TINYSERVER_PAGE_H
#define TINYSERVER_PAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Generated (page_data.c). */
extern const char page_html[];
extern const size_t page_html_size;
extern const char page_csp[];

/* True when an Accept header (NULL: none) lists text/html with a non-zero
 * quality, i.e. a browser navigating. curl's default (any type) and JSON
 * clients are false: they keep today's JSON. */
bool page_wanted(const char *accept);

#endif
