/* num: the API's numbers, read from a string as pydantic v2's lax float does
 * and written in the shortest text that reads back to the same double.
 *
 * pydantic-core (input/shared.rs str_as_float) tries Rust's
 * `str.trim().parse::<f64>()`; failing that, if the *untrimmed* string has
 * underscores, none leading, trailing or doubled, it removes them all and
 * parses again, untrimmed. So "1_000" and "in_f" are numbers and " 1_000" is
 * not. Rust's trim removes Unicode White_Space, and its f64 grammar is
 * sign? (digits* ('.' digits*)? exponent? | inf | infinity | nan), any case
 * for the words, at least one mantissa digit, no hex, no inner spaces. */
#include "domain/num.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Unicode White_Space (what Rust's char::is_whitespace tests). */
static int is_space_cp(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* The code point of the UTF-8 sequence of `n` bytes at `s`, or -1. */
static long decode(const unsigned char *s, size_t n) {
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    static const unsigned char lead_tag[5] = {0, 0x00, 0xc0, 0xe0, 0xf0};
    if (n < 1 || n > 4 || (s[0] & ~lead_mask[n]) != lead_tag[n]) return -1;
    long c = s[0] & lead_mask[n];
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return -1;
        c = c << 6 | (s[i] & 0x3f);
    }
    return c;
}

/* Leading / trailing whitespace width in bytes (0 if the next char is not
 * whitespace or not valid UTF-8). */
static size_t space_at_start(const unsigned char *s, size_t len) {
    for (size_t n = 1; n <= 4 && n <= len; n++) {
        long c = decode(s, n);
        if (c >= 0) return is_space_cp((uint32_t)c) ? n : 0;
    }
    return 0;
}

static size_t space_at_end(const unsigned char *s, size_t len) {
    for (size_t n = 1; n <= 4 && n <= len; n++) {
        if ((s[len - n] & 0xc0) == 0x80) continue; /* a continuation byte: go back further */
        long c = decode(s + len - n, n);
        return c >= 0 && is_space_cp((uint32_t)c) ? n : 0;
    }
    return 0;
}

static int word_is(const char *s, size_t len, const char *w) {
    return strlen(w) == len && strncasecmp(s, w, len) == 0;
}

/* Rust's f64::from_str on exactly these bytes. */
static int rust_parse(const char *s, size_t len, double *out) {
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    const char *w = s + i;
    size_t wl = len - i;
    if (word_is(w, wl, "inf") || word_is(w, wl, "infinity")) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    if (word_is(w, wl, "nan")) {
        *out = neg ? -NAN : NAN;
        return 0;
    }
    size_t digits = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
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
    /* strtod (C locale) reads this grammar the same way and rounds
     * correctly, as Rust does. */
    return num_strtod(s, len, out);
}

int num_parse_str(const char *s, size_t len, double *out) {
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, b = len, n;
    while (a < b && (n = space_at_start(u + a, b - a)) > 0)
        a += n;
    while (b > a && (n = space_at_end(u + a, b - a)) > 0)
        b -= n;
    if (rust_parse(s + a, b - a, out) == 0) return 0;

    /* pydantic's second chance: underscores as digit separators. */
    if (len == 0 || s[0] == '_' || s[len - 1] == '_' || !memchr(s, '_', len)) return -1;
    char small[128];
    char *copy = len < sizeof small ? small : malloc(len);
    if (!copy) return -1;
    size_t w = 0;
    int bad = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '_')
            copy[w++] = s[i];
        else if (s[i + 1] == '_') /* i + 1 < len: the last byte is not '_' */
            bad = 1;
    }
    int rc = bad ? -1 : rust_parse(copy, w, out);
    if (copy != small) free(copy);
    return rc;
}

size_t num_format(double v, char *buf) {
    int n;
    if (!isfinite(v)) {
        n = snprintf(buf, NUM_FORMAT_MAX,
                     "null"); /* not a JSON number; callers refuse these first */
    } else if (v == 0) {
        n = snprintf(buf, NUM_FORMAT_MAX, "%s", signbit(v) ? "-0" : "0");
    } else if (v == floor(v) && fabs(v) < 1e16) {
        /* a whole number in plain notation: what the loop below ends with,
         * without its up to 17 rounds of snprintf and strtod (quantities are
         * mostly whole; the profile of a PATCH showed the loop) */
        n = snprintf(buf, NUM_FORMAT_MAX, "%lld", (long long)v);
    } else {
        /* The fewest significant digits that read back exactly; 17 always
         * do. %g drops trailing zeros but turns to an exponent as soon as the
         * decimal exponent reaches the precision (500 would be "5e+02"), so
         * like Python's repr keep plain notation for exponents -4..15 by
         * widening the precision to the units digit, which adds no digit
         * that was not a zero. */
        n = 0;
        for (int prec = 1; prec <= 17; prec++) {
            n = snprintf(buf, NUM_FORMAT_MAX, "%.*g", prec, v);
            if (strtod(buf, NULL) == v) break;
        }
        const char *e = strchr(buf, 'e');
        if (e) {
            long exp10 = strtol(e + 1, NULL, 10);
            if (exp10 >= -4 && exp10 < 16)
                n = snprintf(buf, NUM_FORMAT_MAX, "%.*g", (int)exp10 + 1, v);
        }
    }
    return n < 0 ? 0 : (size_t)n;
}

int num_strtod(const char *s, size_t len, double *out) {
    /* strtod needs a terminated copy; short texts use the stack */
    char small[128];
    char *copy = len < sizeof small ? small : malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';
    *out = strtod(copy, NULL);
    if (copy != small) free(copy);
    return 0;
}
