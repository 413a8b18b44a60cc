/*
 * http_host.c - see http_host.h. The grammar is RFC 3986 section 3.2.
 */
#include "http_host.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

/* Longest IPv6 literal, with an embedded IPv4 address. */
#define HOST_IPV6_MAX 45

enum host_char_class {
    HOST_UNRESERVED = 1 << 0, /* ALPHA / DIGIT / "-" / "." / "_" / "~" */
    HOST_SUB_DELIM = 1 << 1,  /* "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "=" */
};

/* Every request's Host goes through here, byte by byte: a table rather
 * than isalnum() and strchr() calls per byte. Bytes not listed are 0. */
static const unsigned char host_char_classes[256] = {
    ['a' ... 'z'] = HOST_UNRESERVED, ['A' ... 'Z'] = HOST_UNRESERVED,
    ['0' ... '9'] = HOST_UNRESERVED, ['-'] = HOST_UNRESERVED,
    ['.'] = HOST_UNRESERVED,         ['_'] = HOST_UNRESERVED,
    ['~'] = HOST_UNRESERVED,         ['!'] = HOST_SUB_DELIM,
    ['$'] = HOST_SUB_DELIM,          ['&'] = HOST_SUB_DELIM,
    ['\''] = HOST_SUB_DELIM,         ['('] = HOST_SUB_DELIM,
    [')'] = HOST_SUB_DELIM,          ['*'] = HOST_SUB_DELIM,
    ['+'] = HOST_SUB_DELIM,          [','] = HOST_SUB_DELIM,
    [';'] = HOST_SUB_DELIM,          ['='] = HOST_SUB_DELIM,
};

static bool is_unreserved_or_sub_delim(unsigned char c)
{
    return (host_char_classes[c] & (HOST_UNRESERVED | HOST_SUB_DELIM)) != 0;
}

/* reg-name = *( unreserved / pct-encoded / sub-delims ) */
static bool reg_name_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (len - i < 3 || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2])) {
                return false;
            }
            i += 2;
        } else if (!is_unreserved_or_sub_delim(c)) {
            return false;
        }
    }
    return true;
}

/* IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */
static bool ipvfuture_valid(const char *s, size_t len)
{
    size_t i = 1;
    if (len < 4 || (s[0] != 'v' && s[0] != 'V')) {
        return false;
    }
    while (i < len && isxdigit((unsigned char)s[i])) {
        i++;
    }
    if (i == 1 || i >= len - 1 || s[i] != '.') {
        return false;
    }
    for (i++; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_unreserved_or_sub_delim(c) && c != ':') {
            return false;
        }
    }
    return true;
}

static bool ipv6_valid(const char *s, size_t len)
{
    char text[HOST_IPV6_MAX + 1];
    struct in6_addr addr;
    if (len > HOST_IPV6_MAX) {
        return false;
    }
    memcpy(text, s, len);
    text[len] = '\0';
    return inet_pton(AF_INET6, text, &addr) == 1;
}

/* IP-literal = "[" ( IPv6address / IPvFuture ) "]" */
static bool ip_literal_valid(const char *s, size_t len)
{
    return len >= 2 && s[0] == '[' && s[len - 1] == ']' &&
           (ipv6_valid(s + 1, len - 2) || ipvfuture_valid(s + 1, len - 2));
}

/* port = *DIGIT */
static bool port_valid(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool http_host_valid(const char *value, size_t len)
{
    size_t host_len;
    if (len > 0 && value[0] == '[') {
        const char *close = memchr(value, ']', len);
        if (close == NULL) {
            return false;
        }
        host_len = (size_t)(close - value) + 1;
        if (!ip_literal_valid(value, host_len)) {
            return false;
        }
    } else {
        const char *colon = memchr(value, ':', len);
        host_len = colon != NULL ? (size_t)(colon - value) : len;
        if (!reg_name_valid(value, host_len)) {
            return false;
        }
    }
    if (host_len == len) {
        return true;
    }
    return value[host_len] == ':' && port_valid(value + host_len + 1, len - host_len - 1);
}
