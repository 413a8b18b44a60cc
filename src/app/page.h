/*
 * page.h - the HTML page GET / gives a browser: src/app/page/index.html,
 * embedded at build time by scripts/lib/embed-page.py together with the
 * Content-Security-Policy that admits exactly its inline script and style.
 * The page is kept gzip-compressed (8.8 KB instead of 28.7 KB: it keeps
 * the build without jemalloc under 600 KiB) and sent that way, so only a
 * client that accepts gzip gets it; every browser does. Programs asking
 * for JSON, and a client that asks for HTML but not for gzip, get JSON at /.
 */
#ifndef TINYSERVER_PAGE_H
#define TINYSERVER_PAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Generated (page_data.c): the page as gzip (RFC 1952), and its policy. */
extern const unsigned char page_gzip[];
extern const size_t page_gzip_size;
extern const char page_csp[];

/* True when an Accept header (NULL: none) lists text/html with a non-zero
 * quality, i.e. a browser navigating. curl's default (any type) and JSON
 * clients are false: they keep today's JSON. */
bool page_wanted(const char *accept);

/* True when an Accept-Encoding header (NULL: none) accepts gzip: "gzip",
 * "x-gzip" or "*" with a non-zero quality, gzip not refused by name. With
 * no header a server may pick any coding (RFC 9110 section 12.5.3), but
 * curl then prints the compressed bytes: the page needs gzip asked for. */
bool page_gzip_accepted(const char *accept_encoding);

#endif
