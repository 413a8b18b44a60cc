/*
 * auth.h - the optional bearer token that guards /bench (--bench-token-file).
 *
 * The token is read once, at startup, from a file, so that it stays out of
 * `ps`, out of the environment child processes inherit and out of the
 * startup log line. Only its SHA-256 digest is kept: a request's token is
 * hashed too and the two digests compared in constant time, so neither the
 * token's bytes nor its length show in the time an answer takes.
 *
 * The decision on a request is a pure function of the Authorization header
 * values, so the unit tests pin every case down without a server.
 */
#ifndef TINYSERVER_AUTH_H
#define TINYSERVER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_DIGEST_SIZE 32
/* Longer token files are refused: a token is a short random string. */
#define AUTH_TOKEN_MAX 1024

struct auth_token {
    bool set; /* false: /bench is open to everyone */
    unsigned char digest[AUTH_DIGEST_SIZE];
};

/* Reads the token from `path`. The file must be a regular file that other
 * users cannot read (no "o+r" bit), holding one token of RFC 6750 token68
 * characters (letters, digits, "-._~+/", then "=" padding), optionally
 * followed by one line ending. An empty, unreadable or world-readable file,
 * whitespace around the token, a second line or a character outside that
 * set is refused with a message naming the file. The token's bytes are
 * wiped from memory before returning. */
bool auth_token_load(struct auth_token *token, const char *path, char *err, size_t err_size);

/* Sets the token directly (for the unit tests). */
void auth_token_set(struct auth_token *token, const char *text, size_t len);

enum auth_verdict {
    AUTH_OK = 0,
    AUTH_MISSING,      /* 401: no Authorization header */
    AUTH_SEVERAL,      /* 400: more than one Authorization header */
    AUTH_WRONG_SCHEME, /* 401: not "Bearer <token>" */
    AUTH_MALFORMED,    /* 400: whitespace around the token, or an empty one */
    AUTH_WRONG_TOKEN,  /* 401: a well-formed token that is not ours */
};

/* Judges a request by its Authorization header values (count of them,
 * as sent). With no token set every request is AUTH_OK. */
enum auth_verdict auth_check(const struct auth_token *token, const char *const *values,
                             size_t count);

/* The HTTP status for a verdict other than AUTH_OK: 400 or 401. */
unsigned auth_verdict_status(enum auth_verdict verdict);

/* A sentence for the JSON error body. */
const char *auth_verdict_message(enum auth_verdict verdict);

/* The WWW-Authenticate value to send with the verdict's answer (RFC 6750
 * section 3: an error code once the client tried a token). */
const char *auth_verdict_challenge(enum auth_verdict verdict);

#endif
