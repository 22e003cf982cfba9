/* dec: the API's quantities as exact decimals (issue 13).
 *
 * A quantity is a whole number of millionths (DEC_PLACES = 6 decimal places)
 * in a signed 64-bit integer, at most DEC_MAX = 999,999,999,999.999999 in
 * magnitude: sums, differences and comparisons are exact integer arithmetic,
 * and SQLite stores the integer as it is (PostgreSQL: numeric(18,6)). Sums
 * over many rows (balances, totals) are `dec_sum`, 128 bits, which no count
 * of rows overflows in practice.
 *
 * Inputs are read as pydantic reads a float (num.h); a double becomes the
 * decimal of its shortest round-trip text, the same text the API answered
 * before quantities were decimal: 0.1 is 1/10 exactly, 12.5 is 12.5. A value
 * with more than 6 decimal places there (1e-7, 0.30000000000000004) or of
 * 10^12 or more is refused, never rounded. */
#ifndef ENTITLED_DEC_H
#define ENTITLED_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t dec;
typedef __int128 dec_sum;

#define DEC_PLACES 6
#define DEC_UNIT INT64_C(1000000)
#define DEC_WHOLE_DIGITS 12
#define DEC_MAX INT64_C(999999999999999999)

typedef enum {
    DEC_OK = 0,
    DEC_ERR_PLACES, /* more than DEC_PLACES decimal places */
    DEC_ERR_WHOLE,  /* more than DEC_WHOLE_DIGITS digits before the point */
    DEC_ERR_SYNTAX, /* not a decimal number */
} dec_rc;

/* The decimal of a finite double's shortest round-trip text; within range
 * (|v| <= DEC_MAX) and at most DEC_PLACES places, else the error. -0 is 0. */
dec_rc dec_from_double(double d, dec *out);

/* As dec_from_double, rounding the shortest text to DEC_PLACES places
 * (half away from zero, as PostgreSQL's round(numeric, 6)) instead of
 * refusing: for databases written when quantities were doubles. */
dec_rc dec_round_double(double d, dec *out);

/* Exact decimal text ("12.5", "-3", "1e+21", "5.000000", as PostgreSQL
 * writes numeric and SQLite's dec_sum() writes sums) to a sum: DEC_OK, or
 * DEC_ERR_PLACES when it has more places, DEC_ERR_WHOLE beyond 10^24,
 * DEC_ERR_SYNTAX when it is no number. */
dec_rc dec_parse(const char *s, size_t len, dec_sum *out);

/* For comparing a stored quantity with any double (a list filter): the
 * largest dec <= d, and whether it equals d. A value beyond the range is
 * clamped to +-(DEC_MAX + 1), inexact, which every stored value compares
 * below (above) exactly as with the value itself. */
dec dec_floor_of_double(double d, bool *exact);

/* The shortest text of a value, in the notation the API's numbers have
 * always had (num_format, Python's repr without ".0"): plain for decimal
 * exponents -4 .. 15 ("500", "12.5", "0.0001"), else "1e-05", "1.5e+16".
 * `buf` holds DEC_FORMAT_MAX bytes; returns the length. */
#define DEC_FORMAT_MAX 64
size_t dec_format(dec_sum v, char *buf);

/* Plain decimal text without an exponent ("-12.5", "0.000001"), as SQL
 * numeric literals are read; `buf` holds DEC_FORMAT_MAX bytes. */
size_t dec_plain(dec_sum v, char *buf);

/* a + b, false (and *out untouched) when the result leaves the range */
bool dec_add(dec a, dec b, dec *out);

#endif
