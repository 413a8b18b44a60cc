/*
 * http_deadline.h - the request deadline's one decision, apart so that its
 * unit test can pin it down (http.c describes the mechanism).
 */
#ifndef TINYSERVER_HTTP_DEADLINE_H
#define TINYSERVER_HTTP_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

/* True when a connection whose clock started at since_ns (0: no clock
 * running) has waited timeout_ns or longer by now_ns. Workers restart
 * clocks while the sweeper runs, so since_ns may be later than the now_ns
 * the sweeper read before it: such a clock has just started. (Computed as
 * an unsigned difference, it would look 584 years old; that closed busy
 * connections, found by scripts/soak.sh.) */
static inline bool http_deadline_passed(uint64_t since_ns, uint64_t now_ns, uint64_t timeout_ns)
{
    return since_ns != 0 && since_ns <= now_ns && now_ns - since_ns >= timeout_ns;
}

#endif
