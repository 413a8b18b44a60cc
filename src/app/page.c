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

bool page_wanted(const char *accept)
{
    static const char html[] = "text/html";
    const size_t html_len = sizeof(html) - 1;
    if (accept == NULL) {
        return false;
    }
    const char *range = accept;
    while (*range != '\0') {
        const char *end = strchr(range, ',');
        size_t len = end != NULL ? (size_t)(end - range) : strlen(range);
        while (len > 0 && is_space(*range)) {
            range++;
            len--;
        }
        if (len >= html_len && strncasecmp(range, html, html_len) == 0 &&
            (len == html_len || range[html_len] == ';' || is_space(range[html_len]))) {
            return !zero_quality(range + html_len, len - html_len);
        }
        if (end == NULL) {
            break;
        }
        range = end + 1;
    }
    return false;
}
