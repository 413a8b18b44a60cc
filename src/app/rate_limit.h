/*
 * rate_limit.h - a per-client token bucket for /bench (--bench-rate).
 *
 * A rate "N per period" lets a client start N runs at once (the burst) and
 * then one more every period / N. It is kept as the generic cell rate
 * algorithm: per client only the "theoretical arrival time" (TAT), the
 * moment the client's bucket will be full again, so a decision is a few
 * integer operations and needs no timer.
 *
 * Memory is bounded: the table holds at most `capacity` clients, fixed at
 * creation. A client whose bucket has refilled is the same as one never
 * seen, so its slot is reused first; when every slot is in use, the least
 * recently seen client's slot is. A flood of new addresses can therefore
 * make the limiter forget a client, which then gets a fresh burst; it can
 * never make the table grow.
 *
 * The decision functions take the time as an argument, so the unit tests
 * drive the clock; the limiter never reads one itself. Thread-safe.
 */
#ifndef TINYSERVER_RATE_LIMIT_H
#define TINYSERVER_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "count runs per period_s seconds"; count 0 means no limit. */
struct rate_spec {
    unsigned count;
    unsigned period_s;
};

/* The largest count rate_spec_parse() accepts. */
#define RATE_MAX_COUNT 1000000u

/* Parses "off" or "N/s", "N/min", "N/h" (also "N/sec", "N/second",
 * "N/minute", "N/hour"), N from 1 to RATE_MAX_COUNT, digits only. Returns
 * false, leaving *out alone, on anything else. */
bool rate_spec_parse(const char *text, struct rate_spec *out);

/* Writes the spec back as text ("off" or "N/s", "N/min", "N/h"). */
void rate_spec_format(const struct rate_spec *spec, char *buf, size_t size);

struct rate_limiter;

/* A limiter for `spec` (count > 0) that remembers at most `capacity`
 * clients. NULL when out of memory. */
struct rate_limiter *rate_limiter_new(const struct rate_spec *spec, size_t capacity);
void rate_limiter_free(struct rate_limiter *limiter);

#define RATE_CLIENT_MAX 64

/* Takes one token from `client`'s bucket (a NUL-terminated address text;
 * longer ones are told apart by their first RATE_CLIENT_MAX - 1 bytes) at
 * time now_ns (any monotonic clock). Returns true when the client may
 * proceed. Otherwise returns false and sets *retry_after_s to the whole
 * seconds, at least 1, until the bucket holds a token again. */
bool rate_limiter_take(struct rate_limiter *limiter, const char *client, uint64_t now_ns,
                       unsigned *retry_after_s);

/* How many clients the table remembers right now (for the tests). */
size_t rate_limiter_clients(struct rate_limiter *limiter);

#endif
