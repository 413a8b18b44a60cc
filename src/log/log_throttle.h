/*
 * log_throttle.h - at most one line per LOG_THROTTLE_INTERVAL_MS for one
 * kind of log line, for trouble a client can cause at will (a flood of
 * refused connections must not become a flood of lines). The next line
 * that goes out says how many were left out since the last one.
 *
 * A throttle is a plain value, ready when zeroed, one per kind of line.
 * Not thread-safe: each throttle is touched by one thread only (or under
 * its owner's lock).
 */
#ifndef TINYSERVER_LOG_THROTTLE_H
#define TINYSERVER_LOG_THROTTLE_H

#include "log.h"

#include <stdbool.h>
#include <stdint.h>

#define LOG_THROTTLE_INTERVAL_MS 10000

struct log_throttle {
    int64_t next_ms;     /* when the next line may be written */
    unsigned suppressed; /* lines left out since the last one */
};

/* The decision alone, at now_ms (clock_monotonic_ms()): true when a line
 * may go out now, with *left_out set to the lines left out before it and
 * the next line held back for the interval; false when this one is only
 * counted. */
bool log_throttle_admit(struct log_throttle *throttle, int64_t now_ms, unsigned *left_out);

/* Logs the line, unless one of its kind went out less than
 * LOG_THROTTLE_INTERVAL_MS ago; then only counts it. */
void log_throttle_message(const struct logger *log, struct log_throttle *throttle,
                          enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
