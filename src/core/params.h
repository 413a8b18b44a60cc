/*
 * params.h - one decoded query parameter, shared by the HTTP layer that
 * collects them and the validators that judge them.
 */
#ifndef TINYSERVER_PARAMS_H
#define TINYSERVER_PARAMS_H

#include <stddef.h>

/* `value` is NULL when the key had no "=" at all. `value_len` is the
 * decoded length, which differs from strlen(value) when the client sent
 * "%00"; validators use it so an embedded NUL cannot hide trailing bytes. */
struct param_pair {
    const char *key;
    const char *value;
    size_t value_len;
};

#endif
