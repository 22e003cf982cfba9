/* dt: date-times, parsed as pydantic v2 (lax, python mode) parses a
 * `datetime.datetime`, so that a refusal carries pydantic's exact type and
 * message.
 *
 * The reference is pydantic-core 2.46 (validators/datetime.rs,
 * input/datetime.rs) over speedate 0.17 (datetime.rs, date.rs, time.rs,
 * numbers.rs, util.rs). What matters, in the order pydantic does it:
 *
 * A string is first read as an RFC 3339 date-time; failing that, as a number
 * of Unix seconds (speedate's float_parse_bytes: an i64, or a float when it
 * holds a '.'). Failing both, pydantic retries it as a *date* (lax mode) and
 * that retry's error is the one reported, as `datetime_from_date_parsing`.
 * So the date-time grammar decides only what is accepted, while every message
 * for a string comes from the date grammar. A date alone is midnight.
 *
 * Anything accepted with a year of 0 (speedate allows 0000, Python does not)
 * becomes `datetime_parsing` "year 0 is out of range".
 *
 * Numbers (JSON integers and reals) go through speedate's timestamp code:
 * values whose magnitude exceeds 2e10 are milliseconds. Real numbers from
 * Python use from_float (fraction taken as |x - trunc(x)|, even for negative
 * x, exactly as speedate does), while numeric *strings* with a '.' use the
 * older float path of DateTime::parse_bytes (x - floor(x)); both are copied
 * here bug for bug because their results differ for negative fractions. */
#include "domain/dt.h"
#include "domain/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define US_PER_S INT64_C(1000000)
#define MS_WATERSHED INT64_C(20000000000) /* |x| above this: milliseconds */
#define UNIX_0000 INT64_C(-62167219200)   /* 0000-01-01T00:00:00Z */
#define UNIX_0001 INT64_C(-62135596800)   /* 0001-01-01T00:00:00Z */
#define UNIX_9999 INT64_C(253402300799)   /* 9999-12-31T23:59:59Z */

/* speedate's error texts (the doc comments of its ParseError enum). */
static const char E_TOO_SHORT[] = "input is too short";
static const char E_EXTRA[] = "unexpected extra characters at the end of the input";
static const char E_DATE_SEP[] = "invalid date separator, expected `-`";
static const char E_YEAR[] = "invalid character in year";
static const char E_MONTH[] = "invalid character in month";
static const char E_DAY[] = "invalid character in day";
static const char E_MONTH_RANGE[] = "month value is outside expected range of 1-12";
static const char E_DAY_RANGE[] = "day value is outside expected range";
static const char E_TOO_SMALL[] = "dates before 0000 are not supported as unix timestamps";
static const char E_TOO_LARGE[] = "dates after 9999 are not supported as unix timestamps";
static const char E_TIME_TOO_LARGE[] = "numeric times may not exceed 86,399 seconds";
/* pydantic-core's own texts. */
static const char E_YEAR_ZERO[] = "year 0 is out of range";
static const char E_NAN[] = "NaN values not permitted";

static void set_error(dt_error *err, const char *type, const char *text) {
    if (!err) return;
    err->type = type;
    if (strcmp(type, "datetime_type") == 0) {
        snprintf(err->msg, sizeof err->msg, "%s", "Input should be a valid datetime");
        err->ctx_error[0] = '\0';
        return;
    }
    const char *lead = strcmp(type, "datetime_from_date_parsing") == 0
                           ? "Input should be a valid datetime or date, "
                           : "Input should be a valid datetime, ";
    snprintf(err->msg, sizeof err->msg, "%s%s", lead, text);
    snprintf(err->ctx_error, sizeof err->ctx_error, "%s", text);
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil); exact for any year an int64 can hold here. */
static int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int digit(const char *s, size_t len, size_t i) {
    return i < len && s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -1;
}

/* speedate Date::parse_bytes_partial: the first 10 bytes as YYYY-MM-DD,
 * checked in speedate's order so the first fault is the one named. */
static const char *date_partial(const char *s, size_t len, int *y, int *m, int *d) {
    if (len < 10) return E_TOO_SHORT;
    int v[8];
    static const size_t pos[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    for (int i = 0; i < 8; i++) {
        v[i] = digit(s, len, pos[i]);
        if (v[i] < 0) return i < 4 ? E_YEAR : i < 6 ? E_MONTH : E_DAY;
        if (i == 3 && s[4] != '-') return E_DATE_SEP;
        if (i == 5 && s[7] != '-') return E_DATE_SEP;
    }
    *y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    *m = v[4] * 10 + v[5];
    *d = v[6] * 10 + v[7];
    static const int mdays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*m < 1 || *m > 12) return E_MONTH_RANGE;
    int max = mdays[*m] + (*m == 2 && is_leap(*y));
    if (*d < 1 || *d > max) return E_DAY_RANGE;
    return NULL;
}

/* speedate DateTime::parse_bytes_rfc3339 with pydantic's config (fractions
 * past 6 digits truncated). Only success matters: for strings pydantic
 * reports the date grammar's error, never this one's. */
static int datetime_rfc3339(const char *s, size_t len, int *year, int64_t *out) {
    int y, mo, d;
    if (date_partial(s, len, &y, &mo, &d)) return -1;
    if (len < 11) return -1;
    char sep = s[10];
    if (sep != 'T' && sep != 't' && sep != ' ' && sep != '_') return -1;
    if (len - 11 < 5) return -1;
    int h1 = digit(s, len, 11), h2 = digit(s, len, 12);
    int n1 = digit(s, len, 14), n2 = digit(s, len, 15);
    if (h1 < 0 || h2 < 0 || s[13] != ':' || n1 < 0 || n2 < 0) return -1;
    int hour = h1 * 10 + h2, minute = n1 * 10 + n2, second = 0;
    if (hour > 23 || minute > 59) return -1;
    int64_t micro = 0;
    size_t p = 16;
    if (p < len && s[p] == ':') {
        int s1 = digit(s, len, 17), s2 = digit(s, len, 18);
        if (s1 < 0 || s2 < 0) return -1;
        second = s1 * 10 + s2;
        if (second > 59) return -1; /* no leap seconds */
        p = 19;
        if (p < len && (s[p] == '.' || s[p] == ',')) {
            p++;
            int n = 0;
            for (int dd; (dd = digit(s, len, p)) >= 0; p++, n++)
                if (n < 6) micro = micro * 10 + dd; /* digits past 6 are dropped */
            if (n == 0) return -1;
            for (int i = n; i < 6; i++)
                micro *= 10;
        }
    }
    int offset = 0;
    if (p < len) {
        unsigned char c = (unsigned char)s[p++];
        if (c != 'Z' && c != 'z') {
            int sign;
            if (c == '+') {
                sign = 1;
            } else if (c == '-') {
                sign = -1;
            } else if (c == 0xE2 && p + 1 < len && (unsigned char)s[p] == 0x88 &&
                       (unsigned char)s[p + 1] == 0x92) {
                sign = -1; /* U+2212 MINUS SIGN, allowed by ISO 8601 */
                p += 2;
            } else {
                return -1;
            }
            int t1 = digit(s, len, p), t2 = digit(s, len, p + 1), m1;
            if (t1 < 0 || t2 < 0) return -1;
            if (p + 2 < len && s[p + 2] == ':') {
                p += 3;
                m1 = digit(s, len, p);
            } else {
                p += 2;
                m1 = digit(s, len, p);
            }
            int m2 = digit(s, len, p + 1);
            if (m1 < 0 || m2 < 0) return -1;
            int minute_s = m1 * 600 + m2 * 60;
            if (minute_s >= 3600) return -1;
            offset = sign * (t1 * 36000 + t2 * 3600 + minute_s);
            if (offset >= 86400 || offset <= -86400) return -1;
            p += 2;
        }
    }
    if (p < len) return -1;
    *year = y;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + hour * 3600 + minute * 60 + second;
    *out = (secs - offset) * US_PER_S + micro; /* a naive time is taken as UTC */
    return 0;
}

/* speedate DateTime::from_timestamp_with_config (unit inferred): `ts` in
 * seconds, or milliseconds past the watershed, plus `micro`. NULL on success
 * with the UTC second and microsecond, else speedate's error text. */
static const char *from_timestamp(int64_t ts, uint32_t micro, int64_t *sec, uint32_t *usec) {
    if (ts == INT64_MIN) return E_TOO_SMALL; /* checked_abs fails */
    int64_t s = ts;
    uint32_t extra = 0;
    if ((ts < 0 ? -ts : ts) > MS_WATERSHED) {
        s = ts / 1000;
        int64_t rem = ts % 1000 * 1000;
        if (rem < 0) {
            s -= 1;
            rem += 1000000;
        }
        extra = (uint32_t)rem;
    }
    if (micro > UINT32_MAX - extra) return E_TIME_TOO_LARGE;
    uint32_t total = micro + extra;
    if (total >= 1000000) {
        s += total / 1000000; /* cannot overflow: |s| <= 2^63 / 1000 */
        total %= 1000000;
    }
    if (s < UNIX_0000) return E_TOO_SMALL;
    if (s > UNIX_9999) return E_TOO_LARGE;
    *sec = s;
    *usec = total;
    return NULL;
}

/* Turns a speedate result into ours, adding pydantic's year-0 refusal. */
static int finish_timestamp(const char *e, int64_t sec, uint32_t usec, int64_t *out,
                            dt_error *err) {
    if (e) {
        set_error(err, "datetime_parsing", e);
        return -1;
    }
    if (sec < UNIX_0001) {
        set_error(err, "datetime_parsing", E_YEAR_ZERO);
        return -1;
    }
    *out = sec * US_PER_S + usec;
    return 0;
}

/* A double to u32 as Rust's `as` does (saturating, NaN to 0), without the
 * undefined behaviour of a C cast out of range. */
static uint32_t f64_to_u32(double x) {
    if (x != x || x <= 0) return 0;
    if (x >= 4294967295.0) return UINT32_MAX;
    return (uint32_t)x;
}

/* speedate int_parse_bytes: an optional sign and ASCII digits, accumulated
 * with wrapping 64-bit arithmetic and refused as soon as the running value
 * turns negative. So it is not a plain overflow check: 2**64 + 5 wraps to 5
 * and is read as 5, while 2**63 and 10**20 are not integers. (Observed in
 * pydantic 2.46; emulated here with unsigned arithmetic, which may wrap.) */
static int int_parse(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    if (i == len) return -1;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > (uint64_t)INT64_MAX) return -1;
    }
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* lexical-core's standard float grammar, as speedate uses it for a numeric
 * string holding a '.': sign? digits* '.'? digits* (e|E sign? digits+)?,
 * with at least one mantissa digit. No inf/nan: those hold no '.'. */
static int float_parse(const char *s, size_t len, double *out) {
    size_t i = 0, digits = 0;
    uint64_t whole = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        /* speedate first reads the digits before the '.' as int_parse does
         * and gives up where that would: "9999999999999999999.5" is not a
         * number, "18446744073709551616.5" is (and is worth 1.8e19). */
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        if (whole > (uint64_t)INT64_MAX) return -1;
        digits++;
    }
    if (i < len && s[i] == '.') i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (digits == 0) return -1;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t exp_digits = 0;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            exp_digits++;
        if (exp_digits == 0) return -1;
    }
    if (i != len) return -1;
    /* strtod reads this grammar the same way (C locale) and rounds
     * correctly, as lexical does. */
    return num_strtod(s, len, out);
}

int dt_parse_str(const char *s, size_t len, int64_t *out, dt_error *err) {
    int year;
    int64_t t, iv, sec = 0;
    uint32_t usec = 0;
    double fv;

    if (datetime_rfc3339(s, len, &year, &t) == 0) {
        if (year == 0) {
            set_error(err, "datetime_parsing", E_YEAR_ZERO);
            return -1;
        }
        *out = t;
        return 0;
    }

    /* Unix time in a string (speedate DateTime::parse_bytes_with_config):
     * a float when the text holds a '.', else an integer. */
    const char *e = E_TOO_SHORT; /* any non-NULL: "not a timestamp" */
    if (memchr(s, '.', len)) {
        if (float_parse(s, len, &fv) == 0) {
            /* This older float path normalises milliseconds, then floors
             * (x - floor(x) for the fraction). Past 1e15 every outcome is an
             * error, so stop there before a cast could overflow. */
            double norm = fabs(fv) > (double)MS_WATERSHED ? fv / 1000.0 : fv;
            if (fabs(norm) < 1e15) {
                int64_t whole = (int64_t)floor(norm);
                uint32_t micro = f64_to_u32(round((norm - (double)whole) * 1e6));
                e = from_timestamp(whole, micro, &sec, &usec);
            }
        }
    } else if (int_parse(s, len, &iv) == 0) {
        e = from_timestamp(iv, 0, &sec, &usec);
    }
    if (!e) return finish_timestamp(NULL, sec, usec, out, err);

    /* pydantic's lax retry as a date (speedate Date::parse_bytes), whose
     * error is the one reported. */
    int y, m, d;
    e = date_partial(s, len, &y, &m, &d);
    if (!e && len > 10) e = E_EXTRA;
    if (!e) {
        if (y == 0) {
            set_error(err, "datetime_parsing", E_YEAR_ZERO);
            return -1;
        }
        *out = days_from_civil(y, m, d) * 86400 * US_PER_S;
        return 0;
    }
    /* Date::parse_bytes then tries an integer as a timestamp. The integers
     * that reach here failed the date-time pass on range, so they fail here
     * on the same range, and that error replaces the grammar's. */
    if (int_parse(s, len, &iv) == 0) {
        const char *range = from_timestamp(iv, 0, &sec, &usec);
        if (range) e = range;
    }
    set_error(err, "datetime_from_date_parsing", e);
    return -1;
}

int dt_from_int(int64_t v, int64_t *out, dt_error *err) {
    int64_t sec = 0;
    uint32_t usec = 0;
    const char *e = from_timestamp(v, 0, &sec, &usec);
    return finish_timestamp(e, sec, usec, out, err);
}

int dt_from_double(double v, int64_t *out, dt_error *err) {
    if (isnan(v)) {
        set_error(err, "datetime_parsing", E_NAN);
        return -1;
    }
    /* Beyond +-1e15 (seconds or ms) everything is out of range; deciding it
     * here keeps the casts below defined. */
    if (v >= 1e15) return finish_timestamp(E_TOO_LARGE, 0, 0, out, err);
    if (v <= -1e15) return finish_timestamp(E_TOO_SMALL, 0, 0, out, err);
    /* speedate from_float: floor for the whole part, but |x - trunc(x)| for
     * the fraction, scaled to microseconds (or to microseconds of a
     * millisecond past the watershed). For x < 0 this is not x's value
     * (-1.25 reads as -1.75): pydantic does so, and so do we. */
    int ms = fabs(v) > (double)MS_WATERSHED;
    double frac = fabs(v - trunc(v));
    uint32_t micro = f64_to_u32(round(frac * (ms ? 1e3 : 1e6)));
    int64_t sec = 0;
    uint32_t usec = 0;
    const char *e = from_timestamp((int64_t)floor(v), micro, &sec, &usec); /* |v| < 1e15 */
    return finish_timestamp(e, sec, usec, out, err);
}

int dt_from_int_text(const char *s, size_t len, int64_t *out, dt_error *err) {
    int64_t v = 0;
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == len) {
        set_error(err, "datetime_type", "");
        return -1;
    }
    int fits = 1;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            set_error(err, "datetime_type", "");
            return -1;
        }
        int dg = s[i] - '0';
        /* accumulate negatively so INT64_MIN fits */
        if (fits && v < (INT64_MIN + dg) / 10) fits = 0;
        if (fits) v = v * 10 - dg;
    }
    if (fits && !neg && v == INT64_MIN) fits = 0;
    if (fits) return dt_from_int(neg ? v : -v, out, err);
    /* Past int64 pydantic converts to a float: out of range unless that
     * conversion overflows. strtod rounds as Python's int-to-float does. */
    char buf[512];
    char *copy = len < sizeof buf ? buf : malloc(len + 1);
    int beyond = 1;
    if (copy) {
        memcpy(copy, s, len);
        copy[len] = '\0';
        beyond = isinf(strtod(copy, NULL));
        if (copy != buf) free(copy);
    }
    dt_error_int_too_big(neg, beyond, err);
    return -1;
}

void dt_error_int_too_big(int negative, int beyond_double, dt_error *err) {
    if (beyond_double)
        set_error(err, "datetime_type", "");
    else
        set_error(err, "datetime_parsing", negative ? E_TOO_SMALL : E_TOO_LARGE);
}

size_t dt_format(int64_t t, char *buf) {
    /* floor division, so instants before 1970 borrow from the second */
    int64_t sec = t / US_PER_S, us = t % US_PER_S;
    if (us < 0) {
        us += US_PER_S;
        sec -= 1;
    }
    int64_t days = sec / 86400, rem = sec % 86400;
    if (rem < 0) {
        rem += 86400;
        days -= 1;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600), mi = (int)(rem / 60 % 60), s = (int)(rem % 60);
    int n;
    const char *sign = y < 0 ? "-" : "";
    long long ay = y < 0 ? -(long long)y : (long long)y;
    if (us)
        n = snprintf(buf, DT_FORMAT_MAX, "%s%04lld-%02d-%02dT%02d:%02d:%02d.%06dZ", sign, ay, m, d,
                     h, mi, s, (int)us);
    else
        n = snprintf(buf, DT_FORMAT_MAX, "%s%04lld-%02d-%02dT%02d:%02d:%02dZ", sign, ay, m, d, h,
                     mi, s);
    return n < 0 ? 0 : (size_t)n;
}

int64_t dt_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}
