/*
 * auth.c - the /bench bearer token; see auth.h.
 */
#include "auth.h"

#include "http_status.h"
#include "wipe.h"

#include <bearssl.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char bearer_scheme[] = "Bearer";

static void digest_of(const char *text, size_t len, unsigned char out[AUTH_DIGEST_SIZE])
{
    br_sha256_context ctx;
    br_sha256_init(&ctx);
    br_sha256_update(&ctx, text, len);
    br_sha256_out(&ctx, out);
    wipe(&ctx, sizeof(ctx)); /* it buffers the token's last bytes */
}

void auth_token_set(struct auth_token *token, const char *text, size_t len)
{
    token->set = true;
    digest_of(text, len, token->digest);
}

/* RFC 6750 b64token: the characters a bearer token may use. */
static bool is_token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("-._~+/", c) != NULL);
}

/* Empty string when `text` (len bytes) is a well-formed token, else why
 * not. Trailing "=" padding is allowed only at the end. */
static const char *token_problem(const char *text, size_t len)
{
    if (len == 0) {
        return "the file is empty";
    }
    if (text[0] == ' ' || text[0] == '\t' || text[len - 1] == ' ' || text[len - 1] == '\t' ||
        text[len - 1] == '\r') {
        return "the token has whitespace around it (only one final line ending is allowed)";
    }
    size_t body = len;
    while (body > 0 && text[body - 1] == '=') {
        body--;
    }
    if (body == 0) {
        return "the token is only \"=\" padding";
    }
    for (size_t i = 0; i < body; i++) {
        if (text[i] == '\n') {
            return "the file holds more than one line";
        }
        if (!is_token_char((unsigned char)text[i])) {
            return "the token has a character outside A-Z a-z 0-9 - . _ ~ + / (and final =)";
        }
    }
    return "";
}

/* Reads at most AUTH_TOKEN_MAX + 2 bytes (the token and a CRLF) into buf. */
static bool read_token_file(const char *path, char *buf, size_t size, size_t *len, char *err,
                            size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return false;
    }
    struct stat info;
    if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
        snprintf(err, err_size, "%s: not a regular file", path);
        close(fd);
        return false;
    }
    if ((info.st_mode & S_IROTH) != 0) {
        snprintf(err, err_size,
                 "%s: readable by every user (mode %04o); restrict it, e.g. chmod 0400 or 0440",
                 path, (unsigned)(info.st_mode & 07777));
        close(fd);
        return false;
    }
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, size - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
            close(fd);
            return false;
        }
        if (n == 0 || used + (size_t)n == size) {
            used += (size_t)n;
            break;
        }
        used += (size_t)n;
    }
    close(fd);
    *len = used;
    return true;
}

bool auth_token_load(struct auth_token *token, const char *path, char *err, size_t err_size)
{
    char text[AUTH_TOKEN_MAX + 3];
    size_t len = 0;
    token->set = false;
    if (!read_token_file(path, text, sizeof(text), &len, err, err_size)) {
        return false;
    }
    bool ok = false;
    if (len == sizeof(text)) {
        snprintf(err, err_size, "%s: the token is longer than %u bytes", path, AUTH_TOKEN_MAX);
    } else {
        /* One final line ending, as editors and `echo` write, is not part
         * of the token. */
        if (len > 0 && text[len - 1] == '\n') {
            len--;
            if (len > 0 && text[len - 1] == '\r') {
                len--;
            }
        }
        const char *problem = token_problem(text, len);
        if (problem[0] != '\0') {
            snprintf(err, err_size, "%s: %s", path, problem);
        } else if (len > AUTH_TOKEN_MAX) {
            snprintf(err, err_size, "%s: the token is longer than %u bytes", path, AUTH_TOKEN_MAX);
        } else {
            auth_token_set(token, text, len);
            ok = true;
        }
    }
    wipe(text, sizeof(text));
    return ok;
}

/* Constant time in the digests' contents. */
static bool digests_equal(const unsigned char *a, const unsigned char *b)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < AUTH_DIGEST_SIZE; i++) {
        diff |= (unsigned char)(a[i] ^ b[i]);
    }
    return diff == 0;
}

enum auth_verdict auth_check(const struct auth_token *token, const char *const *values,
                             size_t count)
{
    if (!token->set) {
        return AUTH_OK;
    }
    if (count == 0) {
        return AUTH_MISSING;
    }
    if (count > 1) {
        return AUTH_SEVERAL;
    }
    const char *value = values[0];
    size_t scheme_len = sizeof(bearer_scheme) - 1;
    /* The scheme is case-insensitive (RFC 9110 section 11.1). */
    if (strncasecmp(value, bearer_scheme, scheme_len) != 0 ||
        (value[scheme_len] != ' ' && value[scheme_len] != '\0')) {
        return AUTH_WRONG_SCHEME;
    }
    const char *given = value[scheme_len] == ' ' ? value + scheme_len + 1 : value + scheme_len;
    size_t len = strlen(given);
    if (token_problem(given, len)[0] != '\0') {
        return AUTH_MALFORMED;
    }
    unsigned char digest[AUTH_DIGEST_SIZE];
    digest_of(given, len, digest);
    return digests_equal(digest, token->digest) ? AUTH_OK : AUTH_WRONG_TOKEN;
}

unsigned auth_verdict_status(enum auth_verdict verdict)
{
    return verdict == AUTH_SEVERAL || verdict == AUTH_MALFORMED ? HTTP_STATUS_BAD_REQUEST
                                                                : HTTP_STATUS_UNAUTHORIZED;
}

const char *auth_verdict_message(enum auth_verdict verdict)
{
    switch (verdict) {
    case AUTH_OK:
        return "ok";
    case AUTH_MISSING:
        return "/bench needs a token on this server: send Authorization: Bearer <token>";
    case AUTH_SEVERAL:
        return "several Authorization headers; send exactly one";
    case AUTH_WRONG_SCHEME:
        return "the Authorization scheme must be Bearer: Authorization: Bearer <token>";
    case AUTH_MALFORMED:
        return "malformed bearer token: one space after Bearer, then the token, with no "
               "whitespace around it";
    case AUTH_WRONG_TOKEN:
        return "wrong bearer token";
    }
    return "unauthorized";
}

const char *auth_verdict_challenge(enum auth_verdict verdict)
{
    switch (verdict) {
    case AUTH_SEVERAL:
    case AUTH_MALFORMED:
        return "Bearer realm=\"tinyserver\", error=\"invalid_request\"";
    case AUTH_WRONG_TOKEN:
        return "Bearer realm=\"tinyserver\", error=\"invalid_token\"";
    case AUTH_OK:
    case AUTH_MISSING:
    case AUTH_WRONG_SCHEME:
        break;
    }
    return "Bearer realm=\"tinyserver\"";
}
