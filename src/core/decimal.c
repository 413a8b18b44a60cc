/*
 * decimal.c - see decimal.h.
 */
#include "decimal.h"

size_t decimal_format(char out[DECIMAL_MAX], uint64_t value, unsigned min_digits)
{
    size_t count = 0;
    if (min_digits > DECIMAL_MAX) {
        min_digits = DECIMAL_MAX;
    }
    /* From the last digit, so a number costs its own length; then reversed
     * in place, which for these short numbers is cheaper than a copy. */
    do {
        out[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0 || count < min_digits);
    for (size_t left = 0, right = count - 1; left < right; left++, right--) {
        char digit = out[left];
        out[left] = out[right];
        out[right] = digit;
    }
    return count;
}
