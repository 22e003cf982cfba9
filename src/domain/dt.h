/* dt: date-times as entitled stores and writes them.
 *
 * An instant is an int64 count of microseconds since 1970-01-01T00:00:00Z.
 * Parsing follows pydantic v2 in lax (python) mode, the engine behind
 * Zenskar's FastAPI, so that the same input is accepted or refused with the
 * same error type and message:
 *   - RFC 3339 / ISO 8601 strings ("2026-01-31T12:00:00Z", offsets, fractions,
 *     separators T, t, _ or space), a naive time taken as UTC;
 *   - a date alone ("2026-01-31"): midnight UTC;
 *   - Unix seconds as a JSON number or a numeric string (values past 2e10 are
 *     milliseconds, as pydantic reads them).
 * Formatting writes UTC with a `Z`, and `.ffffff` only when the fraction is not
 * zero: "2026-01-31T12:00:00Z", "2026-01-31T12:00:00.500000Z". */
#ifndef ENTITLED_DT_H
#define ENTITLED_DT_H

#include <stddef.h>
#include <stdint.h>

/* A refusal, as pydantic words it. `type` is a static string such as
 * "datetime_parsing", "datetime_from_date_parsing" or "datetime_type";
 * `msg` is the whole message ("Input should be a valid datetime, input is too
 * short"); `ctx_error` is the part after the comma, which FastAPI also returns
 * as ctx.error (empty when the type has no ctx, as for "datetime_type"). */
typedef struct {
    const char *type;
    char msg[192];
    char ctx_error[160];
} dt_error;

/* Parse a string (not NUL-terminated, `len` bytes). 0 on success with *out
 * set; -1 with *err filled. */
int dt_parse_str(const char *s, size_t len, int64_t *out, dt_error *err);

/* A JSON integer / real taken as Unix seconds (or milliseconds past 2e10).
 * Accepted: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999Z; outside it
 * `datetime_parsing` with "dates before 0000 ..." / "dates after 9999 ...",
 * or "year 0 is out of range" for instants in year 0. For a real, the
 * fraction is rounded to microseconds as pydantic does, including its
 * reading of negative fractions (-1.25 is 1969-12-31T23:59:58.250000Z);
 * NaN is "NaN values not permitted". A bool is not a timestamp: the caller
 * reports `datetime_type` for it. */
int dt_from_int(int64_t v, int64_t *out, dt_error *err);
int dt_from_double(double v, int64_t *out, dt_error *err);

/* A JSON integer of any size, as its text (an optional '-' and digits).
 * Within int64 this is dt_from_int; beyond it pydantic converts the int to a
 * float, so the answer is dt_error_int_too_big below. */
int dt_from_int_text(const char *s, size_t len, int64_t *out, dt_error *err);

/* The error pydantic gives for a Python int beyond int64: `datetime_parsing`
 * "dates after 9999 are not supported as unix timestamps" (or "dates before
 * 0000 ..." when negative) while float(v) is finite; once float(v) would
 * overflow (|v| >= 2**1024 - 2**970; strtod of the digits returns inf)
 * `datetime_type` "Input should be a valid datetime", without ctx. */
void dt_error_int_too_big(int negative, int beyond_double, dt_error *err);

/* Write `t` as described above; `buf` holds at least DT_FORMAT_MAX bytes.
 * Returns the length written (without the NUL). Any int64 is written: an
 * accepted offset can move an instant into year 0 or 10000 (pydantic keeps
 * "9999-12-31T23:59:59-01:00"), which come out as "0000-..." / "10000-...",
 * and earlier years with a leading '-'. */
#define DT_FORMAT_MAX 40

/* The instants that can be written back: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59.999999Z. */
#define DT_MIN_INSTANT (-62135596800LL * 1000000)
#define DT_MAX_INSTANT (253402300800LL * 1000000 - 1)
size_t dt_format(int64_t t, char *buf);

/* Now, as an instant. */
int64_t dt_now(void);

#endif
