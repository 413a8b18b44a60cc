/*
 * decimal.c - see decimal.h.
 */
#include "decimal.h"

#include <string.h>

size_t decimal_format(char out[DECIMAL_MAX], uint64_t value, unsigned min_digits)
{
    char digits[DECIMAL_MAX];
    size_t count = 0;
    if (min_digits > DECIMAL_MAX) {
        min_digits = DECIMAL_MAX;
    }
    /* From the last digit: a number costs its own length. */
    do {
        digits[DECIMAL_MAX - ++count] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0 || count < min_digits);
    memcpy(out, digits + DECIMAL_MAX - count, count);
    return count;
}
