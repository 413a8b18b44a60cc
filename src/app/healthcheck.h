/*
 * healthcheck.h - the client side of GET /healthz, for `--healthcheck`.
 *
 * A FROM scratch image has no shell and no curl, so the container's
 * HEALTHCHECK runs the binary itself in this mode: it connects to the
 * server on this host, asks for /healthz and exits 0 only on a 200.
 */
#ifndef TINYSERVER_HEALTHCHECK_H
#define TINYSERVER_HEALTHCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Upper bound for the whole check, so a hung server fails the check
 * instead of hanging the health probe. */
#define HEALTHCHECK_TIMEOUT_MS 2000u

/* `bind` is the server's listen address: a wildcard (0.0.0.0 or ::) is
 * reached through the loopback address of the same family. Returns true on
 * HTTP 200; otherwise false with the reason in err, where the server's
 * status line, if any, is escaped as log lines are (log_escape). */
bool healthcheck_run(const char *bind, unsigned port, char *err, size_t err_size);

#endif
