/*
 * page.c - when to serve the page, and a copy of it; see page.h.
 */
#include "page.h"

#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Whether the parameters after a media range ("; q=0.5; x=y") give it a
 * quality of zero: "q=0", "q=0.", "q=0.0", ... */
static bool zero_quality(const char *params, size_t len)
{
    for (size_t i = 0; i + 2 <= len; i++) {
        bool starts = i == 0 || params[i - 1] == ';' || is_space(params[i - 1]);
        if (!starts || (params[i] != 'q' && params[i] != 'Q') || params[i + 1] != '=') {
            continue;
        }
        size_t at = i + 2;
        if (at >= len || params[at] != '0') {
            return false;
        }
        for (at++; at < len && (params[at] == '.' || params[at] == '0'); at++) {
        }
        return at == len || params[at] == ';' || is_space(params[at]);
    }
    return false;
}

/* How `list` (an Accept or Accept-Encoding value: comma-separated items,
 * each with optional ";" parameters) rates `token`, compared without case:
 * LISTED with a non-zero quality, REFUSED with q=0, or ABSENT. */
enum rating { ABSENT, LISTED, REFUSED };

static enum rating rate(const char *list, const char *token)
{
    const size_t token_len = strlen(token);
    const char *item = list;
    while (*item != '\0') {
        const char *end = strchr(item, ',');
        size_t len = end != NULL ? (size_t)(end - item) : strlen(item);
        while (len > 0 && is_space(*item)) {
            item++;
            len--;
        }
        if (len >= token_len && strncasecmp(item, token, token_len) == 0 &&
            (len == token_len || item[token_len] == ';' || is_space(item[token_len]))) {
            return zero_quality(item + token_len, len - token_len) ? REFUSED : LISTED;
        }
        if (end == NULL) {
            break;
        }
        item = end + 1;
    }
    return ABSENT;
}

bool page_wanted(const char *accept)
{
    return accept != NULL && rate(accept, "text/html") == LISTED;
}

bool page_gzip_accepted(const char *accept_encoding)
{
    if (accept_encoding == NULL) {
        return false;
    }
    enum rating gzip = rate(accept_encoding, "gzip");
    if (gzip == ABSENT) {
        gzip = rate(accept_encoding, "x-gzip"); /* RFC 9110 section 8.4.1.3 */
    }
    if (gzip != ABSENT) {
        return gzip == LISTED;
    }
    return rate(accept_encoding, "*") == LISTED;
}
