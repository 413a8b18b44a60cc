/*
 * log_throttle.c - see log_throttle.h.
 */
#include "log_throttle.h"

#include "clock.h"

#include <stdarg.h>
#include <stdio.h>

/* Room for the message; the logger escapes and bounds it again. */
#define LOG_THROTTLE_MESSAGE_MAX 256

bool log_throttle_admit(struct log_throttle *throttle, int64_t now_ms, unsigned *left_out)
{
    if (now_ms < throttle->next_ms) {
        throttle->suppressed++;
        return false;
    }
    *left_out = throttle->suppressed;
    throttle->suppressed = 0;
    throttle->next_ms = now_ms + LOG_THROTTLE_INTERVAL_MS;
    return true;
}

void log_throttle_message(const struct logger *log, struct log_throttle *throttle,
                          enum log_level level, const char *fmt, ...)
{
    unsigned left_out;
    if (!log_throttle_admit(throttle, clock_monotonic_ms(), &left_out)) {
        return;
    }
    char message[LOG_THROTTLE_MESSAGE_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    if (left_out > 0) {
        log_message(log, level, "%s (and %u more like it since the last such line)", message,
                    left_out);
    } else {
        log_message(log, level, "%s", message);
    }
}
