/* Unit tests for decimal.c: every length of number, the padding, and the
 * largest value, checked against printf. */
#include "decimal.h"
#include "check.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* decimal_format's text for value and min_digits equals printf's %0*PRIu64. */
static void check_like_printf(uint64_t value, unsigned min_digits)
{
    char want[32];
    char got[DECIMAL_MAX];
    int want_len = snprintf(want, sizeof(want), "%0*" PRIu64, (int)min_digits, value);
    size_t got_len = decimal_format(got, value, min_digits);
    CHECK_MSG(got_len == (size_t)want_len && memcmp(got, want, got_len) == 0,
              "%" PRIu64 " padded to %u: got \"%.*s\", want \"%s\"", value, min_digits,
              (int)got_len, got, want);
}

int main(void)
{
    uint64_t value = 0;
    for (unsigned digits = 1; digits <= DECIMAL_MAX; digits++) {
        /* 0, 9, 99, ... and 1, 10, 100, ...: each length and each boundary */
        check_like_printf(value, 0);
        check_like_printf(value + 1, 0);
        check_like_printf(value, 6);
        value = value * 10 + 9;
    }
    check_like_printf(UINT64_MAX, 0);
    check_like_printf(UINT64_MAX, DECIMAL_MAX);
    check_like_printf(42, 3);
    check_like_printf(123456, 6);
    check_like_printf(7, 1);

    char out[DECIMAL_MAX];
    /* padding beyond the buffer is capped, never written past it */
    CHECK(decimal_format(out, 5, 99) == DECIMAL_MAX && out[DECIMAL_MAX - 1] == '5' &&
          out[0] == '0');
    return check_finish("decimal");
}
