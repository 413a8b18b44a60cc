/*
 * decimal.h - unsigned integers as decimal text without printf, whose format
 * parsing costs more than the number on the paths that write many numbers
 * (the access log, the /metrics exposition).
 */
#ifndef TINYSERVER_DECIMAL_H
#define TINYSERVER_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Digits of the largest uint64_t, 18446744073709551615. */
#define DECIMAL_MAX 20

/* Writes `value` in decimal at out, zero-padded to at least min_digits
 * (DECIMAL_MAX at most), without a terminating NUL; returns how many
 * characters it wrote. */
size_t decimal_format(char out[DECIMAL_MAX], uint64_t value, unsigned min_digits);

#endif
