/* Unit tests for log_throttle.c: the first line of a kind goes out, the
 * next ones within LOG_THROTTLE_INTERVAL_MS are only counted, and the first
 * line after the interval goes out with that count. The clock is passed
 * in, so nothing here waits. */
#include "log_throttle.h"
#include "check.h"

int main(void)
{
    struct log_throttle throttle = {0};
    unsigned left_out = 99;
    const int64_t start = 5000;

    CHECK(log_throttle_admit(&throttle, start, &left_out));
    CHECK(left_out == 0);

    CHECK(!log_throttle_admit(&throttle, start, &left_out));
    CHECK(!log_throttle_admit(&throttle, start + LOG_THROTTLE_INTERVAL_MS - 1, &left_out));

    CHECK(log_throttle_admit(&throttle, start + LOG_THROTTLE_INTERVAL_MS, &left_out));
    CHECK(left_out == 2);

    /* The interval restarts at the line that went out, and the count
     * with it. */
    CHECK(!log_throttle_admit(&throttle, start + 2 * LOG_THROTTLE_INTERVAL_MS - 1, &left_out));
    CHECK(log_throttle_admit(&throttle, start + 2 * LOG_THROTTLE_INTERVAL_MS, &left_out));
    CHECK(left_out == 1);

    /* Kinds are counted apart. */
    struct log_throttle other = {0};
    CHECK(log_throttle_admit(&other, start + 2 * LOG_THROTTLE_INTERVAL_MS, &left_out));
    CHECK(left_out == 0);

    return check_finish("log_throttle");
}
