/* num: the numbers of the API (quantity, quantity_used, ...) are IEEE doubles.
 * Strings are read as pydantic v2 reads a float in lax mode, and numbers are
 * written in the shortest form that reads back to the same double. */
#ifndef ENTITLED_NUM_H
#define ENTITLED_NUM_H

#include <stddef.h>

/* Parse `len` bytes the way pydantic's lax float does from a str.
 * Returns 0 with *out set (which may be inf or nan, e.g. "inf", "NaN", "1e999":
 * the caller decides finiteness), or -1 when it is not a number at all
 * (pydantic's "float_parsing"). */
int num_parse_str(const char *s, size_t len, double *out);

/* Shortest round-trip text of a finite double: 500, 12.5, 0.1, 1e+300, -0.
 * `buf` holds at least NUM_FORMAT_MAX bytes; returns the length. */
#define NUM_FORMAT_MAX 32
size_t num_format(double v, char *buf);

#endif
