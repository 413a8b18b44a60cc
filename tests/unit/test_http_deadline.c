/* Unit tests for http_deadline.h: when the request deadline has passed. */
#include "check.h"
#include "http_deadline.h"

#define S 1000000000ull

int main(void)
{
    const uint64_t timeout = 10 * S;
    CHECK(!http_deadline_passed(0, 100 * S, timeout));          /* no clock running */
    CHECK(!http_deadline_passed(95 * S, 100 * S, timeout));     /* 5 s in */
    CHECK(!http_deadline_passed(90 * S + 1, 100 * S, timeout)); /* a nanosecond short */
    CHECK(http_deadline_passed(90 * S, 100 * S, timeout));      /* exactly due */
    CHECK(http_deadline_passed(1, 100 * S, timeout));           /* long overdue */
    /* A worker restarted the clock after the sweeper read now: not due.
     * (The unsigned difference alone would say 584 years.) */
    CHECK(!http_deadline_passed(100 * S + 1, 100 * S, timeout));
    CHECK(!http_deadline_passed(UINT64_MAX, 100 * S, timeout));
    return check_finish("http_deadline");
}
