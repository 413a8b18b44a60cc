/*
 * http_host.h - is a Host header field value valid? (RFC 9110 section 7.2,
 * RFC 9112 section 3.2: a server must answer 400 to a request whose Host
 * is invalid.) A pure function of the text, so tests/unit/test_http_host.c
 * covers it without a server.
 */
#ifndef TINYSERVER_HTTP_HOST_H
#define TINYSERVER_HTTP_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* True when value[0..len) is `uri-host [ ":" port ]` of RFC 3986: a
 * registered name (unreserved characters, sub-delims and %XX escapes, so
 * also an IPv4 literal), or an IPv6 or IPvFuture literal in brackets, and
 * an optional port of digits. The empty value is valid: a client sends it
 * when the target URI has no authority. */
bool http_host_valid(const char *value, size_t len);

#endif
