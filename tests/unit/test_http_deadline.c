/* Unit tests for http_deadline.h: when the request deadline has passed,
 * and a shortened deadline. */
#include "check.h"
#include "clock.h"
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

    /* A registered connection's clock starts when it is added. */
    struct http_deadline deadline;
    struct http_deadline_entry entry;
    CHECK(http_deadline_init(&deadline, timeout, NULL));
    uint64_t now = clock_monotonic_ns();
    http_deadline_add(&deadline, &entry, -1);
    uint64_t since = atomic_load(&entry.waiting_since_ns);
    CHECK(since >= now && !http_deadline_passed(since, since + timeout - 1, timeout));
    CHECK(http_deadline_passed(since, since + timeout, timeout));
    http_deadline_remove(&deadline, &entry);
    CHECK(http_deadline_count(&deadline) == 0);
    http_deadline_destroy(&deadline);
    return check_finish("http_deadline");
}
