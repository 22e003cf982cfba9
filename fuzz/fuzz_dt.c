/* libFuzzer target: the date-time parser (src/domain/dt.c).
 *
 * The input is a date-time string, as a body field or a query filter gives
 * it to dt_parse_str; its first 8 bytes also serve as an int64 and a double
 * for the number readers (dt_from_int, dt_from_double) and as an instant
 * for dt_format.
 *
 * Checked, besides the sanitizers:
 *   - a refusal has a known type and pydantic's message: the type's lead,
 *     then ctx.error ("datetime_type" alone has no ctx);
 *   - an accepted string's instant is written by dt_format in bounds, and
 *     one in years 1-9999 reads back to itself;
 *   - a plain "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" is the instant timegm() makes
 *     of it (a second opinion on the calendar arithmetic);
 *   - a string of decimal digits that fits int64 answers as dt_from_int of
 *     its value, and dt_from_int_text agrees with dt_from_int;
 *   - the number readers accept only instants in years 1-9999;
 *   - dt_format then dt_parse_str is the identity on years 1-9999. */
#include "common.h"

#include "domain/dt.h"

#include <time.h>

static void check_error(const dt_error *e) {
    CHECK(e->type != NULL);
    CHECK(memchr(e->msg, '\0', sizeof e->msg) && memchr(e->ctx_error, '\0', sizeof e->ctx_error));
    if (strcmp(e->type, "datetime_type") == 0) {
        CHECK(strcmp(e->msg, "Input should be a valid datetime") == 0 && e->ctx_error[0] == '\0');
        return;
    }
    const char *lead;
    if (strcmp(e->type, "datetime_parsing") == 0)
        lead = "Input should be a valid datetime, ";
    else if (strcmp(e->type, "datetime_from_date_parsing") == 0)
        lead = "Input should be a valid datetime or date, ";
    else
        CHECK(!"unknown error type");
    size_t n = strlen(lead);
    CHECK(e->ctx_error[0] != '\0');
    CHECK(strncmp(e->msg, lead, n) == 0 && strcmp(e->msg + n, e->ctx_error) == 0);
}

static bool in_range(int64_t t) {
    return t >= DT_MIN_INSTANT && t <= DT_MAX_INSTANT;
}

/* Formatted, and read back when it can be. */
static void check_instant(int64_t t) {
    char buf[DT_FORMAT_MAX];
    memset(buf, 0x7f, sizeof buf);
    size_t n = dt_format(t, buf);
    CHECK(n >= 20 && n < DT_FORMAT_MAX && buf[n] == '\0');
    if (!in_range(t)) return;
    int64_t back;
    dt_error e;
    CHECK(dt_parse_str(buf, n, &back, &e) == 0);
    CHECK(back == t);
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z" exactly: the instant by timegm(). */
static bool plain_rfc3339(const char *s, size_t len, int64_t *out) {
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    if (len < 20 || s[len - 1] != 'Z') return false;
    for (size_t i = 0; i < 19; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i]) return false;
    int64_t micro = 0;
    size_t i = 19;
    if (len > 20) {
        if (s[i++] != '.') return false;
        size_t digits = len - 1 - i;
        if (digits < 1 || digits > 6) return false;
        for (; i < len - 1; i++) {
            if (s[i] < '0' || s[i] > '9') return false;
            micro = micro * 10 + (s[i] - '0');
        }
        for (; digits < 6; digits++)
            micro *= 10;
    }
#define NUM(a, b) ((int)strtol((char[]){s[a], s[b], 0}, NULL, 10))
    int year = NUM(0, 1) * 100 + NUM(2, 3);
    struct tm tm = {.tm_year = year - 1900,
                    .tm_mon = NUM(5, 6) - 1,
                    .tm_mday = NUM(8, 9),
                    .tm_hour = NUM(11, 12),
                    .tm_min = NUM(14, 15),
                    .tm_sec = NUM(17, 18)};
#undef NUM
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    if (year == 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_mday > mdays[tm.tm_mon] + (tm.tm_mon == 1 && leap) || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 59)
        return false;
    *out = (int64_t)timegm(&tm) * 1000000 + micro;
    return true;
}

/* All decimal digits (with an optional sign) and within int64. */
static bool small_integer(const char *s, size_t len, int64_t *out) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == len || len - i > 18) return false; /* 18 digits always fit */
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    int64_t t = 0, ref = 0, iv = 0, t2 = 0;
    dt_error e;

    int rc = dt_parse_str(s, size, &t, &e);
    if (rc == 0) {
        check_instant(t);
    } else {
        CHECK(rc == -1);
        check_error(&e);
    }

    if (plain_rfc3339(s, size, &ref)) CHECK(rc == 0 && t == ref);

    if (small_integer(s, size, &iv)) {
        /* a numeric string is Unix seconds (ms past 2e10), as a number is */
        int rc2 = dt_from_int(iv, &t2, &e);
        if (rc2 == 0) CHECK(rc == 0 && t == t2);
        int rc3 = dt_from_int_text(s, size, &ref, &e);
        CHECK(rc3 == rc2 && (rc3 != 0 || ref == t2));
    } else if (size > 0) {
        int rc3 = dt_from_int_text(s, size, &ref, &e);
        if (rc3 == 0) {
            CHECK(in_range(ref));
            check_instant(ref);
        } else {
            check_error(&e);
        }
    }

    if (size >= 8) {
        int64_t i64;
        double d;
        memcpy(&i64, data, 8);
        memcpy(&d, data, 8);
        if (dt_from_int(i64, &t2, &e) == 0) {
            CHECK(in_range(t2));
            check_instant(t2);
        } else {
            check_error(&e);
        }
        if (dt_from_double(d, &t2, &e) == 0) {
            CHECK(in_range(t2));
            check_instant(t2);
        } else {
            check_error(&e);
        }
        /* any instant is written; one in range reads back */
        check_instant(i64);
        uint64_t span = (uint64_t)(DT_MAX_INSTANT - DT_MIN_INSTANT) + 1;
        check_instant(DT_MIN_INSTANT + (int64_t)((uint64_t)i64 % span));
    }
    return 0;
}
