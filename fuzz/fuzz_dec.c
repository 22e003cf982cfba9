/* libFuzzer target: the exact decimal quantities (src/domain/dec.c).
 *
 * The input is decimal text, as PostgreSQL's numeric and SQLite's dec_sum()
 * write it, for dec_parse; its first 8 bytes also serve as a double for the
 * readers of a client's number (dec_from_double, dec_round_double,
 * dec_floor_of_double).
 *
 * Checked, besides the sanitizers:
 *   - an accepted text's value is written by dec_format and dec_plain within
 *     DEC_FORMAT_MAX, and both read back to the same value;
 *   - an accepted double is within the range and reads back from its
 *     written text to the same double (the answer is the number sent);
 *   - the floor of a double is <= it and equal exactly when flagged, and
 *     agrees with dec_from_double when that accepts;
 *   - rounding accepts whatever dec_from_double accepts, unchanged. */
#include "common.h"

#include "domain/dec.h"

#include <math.h>

static void check_written(dec_sum v) {
    char a[DEC_FORMAT_MAX], b[DEC_FORMAT_MAX];
    size_t na = dec_format(v, a), nb = dec_plain(v, b);
    CHECK(na < DEC_FORMAT_MAX && nb < DEC_FORMAT_MAX);
    dec_sum ra = 0, rb = 0;
    CHECK(dec_parse(a, na, &ra) == DEC_OK && ra == v);
    CHECK(dec_parse(b, nb, &rb) == DEC_OK && rb == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dec_sum v = 0;
    dec_rc rc = dec_parse((const char *)data, size, &v);
    CHECK(rc == DEC_OK || rc == DEC_ERR_PLACES || rc == DEC_ERR_WHOLE || rc == DEC_ERR_SYNTAX);
    if (rc == DEC_OK) check_written(v);

    double d;
    if (size < sizeof d) return 0;
    memcpy(&d, data, sizeof d);
    if (!isfinite(d)) return 0;
    dec q = 0, r = 0;
    bool exact = false;
    dec f = dec_floor_of_double(d, &exact);
    CHECK(f >= -DEC_MAX - 1 && f <= DEC_MAX + 1);
    if (dec_from_double(d, &q) == DEC_OK) {
        CHECK(q >= -DEC_MAX && q <= DEC_MAX);
        check_written(q);
        char t[DEC_FORMAT_MAX];
        dec_format(q, t);
        CHECK(strtod(t, NULL) == (d == 0 ? 0.0 : d));
        CHECK(exact && f == q);
        CHECK(dec_round_double(d, &r) == DEC_OK && r == q);
    } else {
        CHECK(!exact);
    }
    if (dec_round_double(d, &r) == DEC_OK) CHECK(r >= -DEC_MAX && r <= DEC_MAX);
    return 0;
}
