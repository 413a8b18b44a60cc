/* Unit tests for auth.c: every verdict on the Authorization header, and
 * the token file's rules (empty, world-readable, whitespace, lines). */
#include "auth.h"
#include "array.h"
#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum auth_verdict check_one(const struct auth_token *token, const char *value)
{
    return auth_check(token, &value, 1);
}

static void check_verdicts(void)
{
    struct auth_token open = {.set = false};
    CHECK(auth_check(&open, NULL, 0) == AUTH_OK);

    struct auth_token token;
    auth_token_set(&token, "s3cret-T0ken", strlen("s3cret-T0ken"));
    CHECK(check_one(&token, "Bearer s3cret-T0ken") == AUTH_OK);
    CHECK(check_one(&token, "bearer s3cret-T0ken") == AUTH_OK); /* the scheme is case-insensitive */
    CHECK(check_one(&token, "Bearer s3cret-T0kem") == AUTH_WRONG_TOKEN);
    CHECK(check_one(&token, "Bearer s3cret-T0ke") == AUTH_WRONG_TOKEN);
    CHECK(check_one(&token, "Bearer s3cret-T0ken0") == AUTH_WRONG_TOKEN);
    CHECK(check_one(&token, "Bearer S3CRET-T0KEN") == AUTH_WRONG_TOKEN); /* the token is not */
    CHECK(check_one(&token, "Basic czNjcmV0") == AUTH_WRONG_SCHEME);
    CHECK(check_one(&token, "Bearers3cret-T0ken") == AUTH_WRONG_SCHEME);
    CHECK(check_one(&token, "s3cret-T0ken") == AUTH_WRONG_SCHEME);
    CHECK(check_one(&token, "") == AUTH_WRONG_SCHEME);
    CHECK(check_one(&token, "Bearer  s3cret-T0ken") == AUTH_MALFORMED);
    CHECK(check_one(&token, "Bearer s3cret-T0ken ") == AUTH_MALFORMED);
    CHECK(check_one(&token, "Bearer \ts3cret-T0ken") == AUTH_MALFORMED);
    CHECK(check_one(&token, "Bearer ") == AUTH_MALFORMED);
    CHECK(check_one(&token, "Bearer") == AUTH_MALFORMED);
    CHECK(check_one(&token, "Bearer s3cret T0ken") == AUTH_MALFORMED);
    CHECK(auth_check(&token, NULL, 0) == AUTH_MISSING);
    const char *two[] = {"Bearer s3cret-T0ken", "Bearer s3cret-T0ken"};
    CHECK(auth_check(&token, two, 2) == AUTH_SEVERAL);

    CHECK(auth_verdict_status(AUTH_MISSING) == 401);
    CHECK(auth_verdict_status(AUTH_WRONG_TOKEN) == 401);
    CHECK(auth_verdict_status(AUTH_WRONG_SCHEME) == 401);
    CHECK(auth_verdict_status(AUTH_SEVERAL) == 400);
    CHECK(auth_verdict_status(AUTH_MALFORMED) == 400);
    CHECK(strncmp(auth_verdict_challenge(AUTH_MISSING), "Bearer", 6) == 0);
    CHECK(strstr(auth_verdict_challenge(AUTH_WRONG_TOKEN), "invalid_token") != NULL);
}

/* Writes `text` to a new file in `dir` with `mode`; returns its path. */
static const char *token_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        close(fd);
    }
    CHECK(chmod(path, mode) == 0);
    return path;
}

static bool loads(const char *path, struct auth_token *token, char *err, size_t size)
{
    err[0] = '\0';
    return auth_token_load(token, path, err, size);
}

static void check_file(void)
{
    char dir[] = "/tmp/tinyserver-auth-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    struct auth_token token;
    char err[512];
    const char *good[] = {"abc123", "abc123\n", "abc123\r\n", "a-b.c_d~e+f/g==\n"};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        CHECK_MSG(loads(token_file(dir, "good", good[i], 0600), &token, err, sizeof(err)) &&
                      token.set,
                  "%zu: %s", i, err);
    }
    CHECK(loads(token_file(dir, "good", "abc123\n", 0440), &token, err, sizeof(err)));
    CHECK(check_one(&token, "Bearer abc123") == AUTH_OK);

    struct {
        const char *text;
        mode_t mode;
        const char *says;
    } bad[] = {
        {"", 0600, "empty"},
        {"\n", 0600, "empty"},
        {"abc123\n", 0644, "readable by every user"},
        {"abc123\n", 0604, "readable by every user"},
        {" abc123\n", 0600, "whitespace"},
        {"abc123 \n", 0600, "whitespace"},
        {"abc123\n\n", 0600, "more than one line"},
        {"abc\n123\n", 0600, "more than one line"},
        {"abc 123\n", 0600, "character"},
        {"abc=123\n", 0600, "character"},
        {"===\n", 0600, "padding"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        const char *path = token_file(dir, "bad", bad[i].text, bad[i].mode);
        CHECK_MSG(!loads(path, &token, err, sizeof(err)) && !token.set &&
                      strstr(err, bad[i].says) != NULL && strstr(err, path) != NULL,
                  "%zu: \"%s\"", i, err);
    }
    char long_token[AUTH_TOKEN_MAX + 2];
    memset(long_token, 'a', sizeof(long_token) - 1);
    long_token[sizeof(long_token) - 1] = '\0';
    CHECK(!loads(token_file(dir, "long", long_token, 0600), &token, err, sizeof(err)) &&
          strstr(err, "longer") != NULL);
    long_token[AUTH_TOKEN_MAX] = '\0';
    CHECK(loads(token_file(dir, "long", long_token, 0600), &token, err, sizeof(err)));

    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    CHECK(!loads(missing, &token, err, sizeof(err)) && strstr(err, "cannot open") != NULL);
    CHECK(!loads(dir, &token, err, sizeof(err)) && strstr(err, "not a regular file") != NULL);

    char cleanup[700];
    snprintf(cleanup, sizeof(cleanup), "%s/good", dir);
    unlink(cleanup);
    snprintf(cleanup, sizeof(cleanup), "%s/bad", dir);
    unlink(cleanup);
    snprintf(cleanup, sizeof(cleanup), "%s/long", dir);
    unlink(cleanup);
    rmdir(dir);
}

int main(void)
{
    check_verdicts();
    check_file();
    return check_finish("auth");
}
