/* num: the numbers of the API (quantity, quantity_used, ...) are IEEE doubles.
 * Strings are read as pydantic v2 reads a float in lax mode, and numbers are
 * written in the shortest form that reads back to the same double. */
#ifndef ENTITLED_NUM_H
#define ENTITLED_NUM_H

#include <stddef.h>

/* Parse `len` bytes the way pydantic's lax float does from a str.
 * Returns 0 with *out set (which may be inf or nan, e.g. "inf", "NaN", "1e999":
 * the caller decides finiteness), or -1 when it is not a number at all
 * (pydantic's "float_parsing"). Accepted: surrounding Unicode whitespace,
 * a sign, digits with an optional '.', an exponent, "inf", "infinity", "nan"
 * in any case, and underscores between characters ("1_000") when the string
 * has no surrounding whitespace. Refused: "", ".", "0x10", "1 000", "1__0",
 * non-ASCII digits. */
int num_parse_str(const char *s, size_t len, double *out);

/* strtod on `len` bytes already checked against a number grammar; 0, or
 * -1 when out of memory. */
int num_strtod(const char *s, size_t len, double *out);

/* Shortest round-trip text of a finite double: 500, 12.5, 0.1, 1e+300, -0,
 * plain notation for magnitudes 1e-4 .. <1e16 (as Python's repr, without its
 * ".0"), an exponent otherwise: 1e+16, 1e-05.
 * `buf` holds at least NUM_FORMAT_MAX bytes; returns the length. Written
 * with %.*g in the C locale (the server never calls setlocale). A non-finite
 * value, which callers refuse before this, is written as "null". */
#define NUM_FORMAT_MAX 32
size_t num_format(double v, char *buf);

#endif
