/* dec: exact decimal quantities in millionths (see dec.h). */
#include "domain/dec.h"

#include "domain/num.h"

#include <string.h>

/* |raw| is saturated here by dec_scan (10^30 millionths), far above any
 * sum and far below __int128's 1.7e38 */
#define SCAN_CAP_DIGITS 30

/* Scan decimal text: sign, digits with an optional point, an optional
 * exponent. Sets *raw to the value in millionths truncated toward zero
 * (saturated at 10^30), *inexact when digits beyond the sixth place were
 * dropped, *half when what was dropped is at least half a millionth, *big
 * when saturated. Returns false on bad syntax. */
static bool dec_scan(const char *s, size_t len, dec_sum *raw, bool *inexact, bool *big,
                     bool *half) {
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    /* the significant digits (leading zeros skipped) and the exponent of
     * the last one read */
    char dig[64];
    size_t nd = 0, extra = 0; /* digits kept, digits beyond the buffer (integer part) */
    long e10 = 0;
    bool any = false, point = false, dropped_nonzero = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (c < '0' || c > '9') break;
        any = true;
        if (point) e10--;
        if (nd == 0 && c == '0') continue;
        if (nd < sizeof dig)
            dig[nd++] = c;
        else if (point) {
            e10++; /* a fractional digit past the buffer: dropped */
            if (c != '0') dropped_nonzero = true;
        } else
            extra++;
    }
    if (!any) return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        long ex = 0;
        bool ed = false;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            ed = true;
            if (ex < 100000) ex = ex * 10 + (s[i] - '0');
        }
        if (!ed) return false;
        e10 += eneg ? -ex : ex;
    }
    if (i != len) return false;
    e10 += (long)extra;
    while (nd > 0 && dig[nd - 1] == '0') {
        nd--;
        e10++;
    }
    /* value = dig * 10^e10; millionths = dig * 10^(e10 + 6) */
    long k = e10 + DEC_PLACES;
    *inexact = dropped_nonzero;
    *big = false;
    *half = false;
    dec_sum v = 0;
    if (nd > 0 && (long)nd + k > SCAN_CAP_DIGITS) {
        *big = true;
        v = 1;
        for (int j = 0; j < SCAN_CAP_DIGITS; j++)
            v *= 10;
    } else {
        long keep = k >= 0 ? (long)nd : (long)nd + k; /* digits left of the millionths point */
        if (k < 0 && nd > 0) *inexact = true; /* trailing zeros are gone: a nonzero digit drops */
        if (k < 0 && keep >= 0 && keep < (long)nd) *half = dig[keep] >= '5';
        for (long j = 0; j < keep; j++)
            v = v * 10 + (dig[j] - '0');
        for (long j = 0; j < k && nd > 0; j++)
            v *= 10;
    }
    *raw = neg ? -v : v;
    return true;
}

dec_rc dec_parse(const char *s, size_t len, dec_sum *out) {
    dec_sum v;
    bool inexact, big, half;
    if (!dec_scan(s, len, &v, &inexact, &big, &half)) return DEC_ERR_SYNTAX;
    if (inexact) return DEC_ERR_PLACES;
    if (big) return DEC_ERR_WHOLE;
    *out = v;
    return DEC_OK;
}

dec_rc dec_from_double(double d, dec *out) {
    char buf[NUM_FORMAT_MAX];
    size_t n = num_format(d, buf);
    dec_sum v;
    bool inexact, big, half;
    if (!dec_scan(buf, n, &v, &inexact, &big, &half))
        return DEC_ERR_SYNTAX; /* "null": not finite */
    if (inexact) return DEC_ERR_PLACES;
    if (big || v > DEC_MAX || v < -DEC_MAX) return DEC_ERR_WHOLE;
    *out = (dec)v;
    return DEC_OK;
}

dec_rc dec_round_double(double d, dec *out) {
    char buf[NUM_FORMAT_MAX];
    size_t n = num_format(d, buf);
    dec_sum v;
    bool inexact, big, half;
    if (!dec_scan(buf, n, &v, &inexact, &big, &half)) return DEC_ERR_SYNTAX;
    if (half) v += v < 0 || (v == 0 && d < 0) ? -1 : 1;
    if (big || v > DEC_MAX || v < -DEC_MAX) return DEC_ERR_WHOLE;
    *out = (dec)v;
    return DEC_OK;
}

dec dec_floor_of_double(double d, bool *exact) {
    char buf[NUM_FORMAT_MAX];
    size_t n = num_format(d, buf);
    dec_sum v;
    bool inexact, big, half;
    if (!dec_scan(buf, n, &v, &inexact, &big, &half)) {
        *exact = false; /* not finite: callers pass finite values */
        return d < 0 ? -DEC_MAX - 1 : DEC_MAX + 1;
    }
    if (big || v > DEC_MAX || v < -DEC_MAX) {
        *exact = false;
        return v < 0 ? -DEC_MAX - 1 : DEC_MAX + 1;
    }
    *exact = !inexact;
    /* truncated toward zero: below zero the floor is one further down */
    return (dec)(inexact && v <= 0 && d < 0 ? v - 1 : v);
}

bool dec_add(dec a, dec b, dec *out) {
    dec_sum s = (dec_sum)a + b;
    if (s > DEC_MAX || s < -DEC_MAX) return false;
    *out = (dec)s;
    return true;
}

/* The digits of |v| into dig (most significant first); returns their count
 * (at least 1). */
static size_t digits_of(dec_sum v, char *dig) {
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        dig[i] = tmp[n - 1 - i];
    return n;
}

size_t dec_plain(dec_sum v, char *buf) {
    char dig[48];
    size_t nd = digits_of(v, dig), w = 0;
    if (v < 0) buf[w++] = '-';
    if (nd <= DEC_PLACES) { /* 0.000xyz */
        buf[w++] = '0';
        size_t keep = nd;
        while (keep > 0 && dig[keep - 1] == '0')
            keep--;
        if (keep) {
            buf[w++] = '.';
            for (size_t i = nd; i < DEC_PLACES; i++)
                buf[w++] = '0';
            memcpy(buf + w, dig, keep);
            w += keep;
        }
    } else {
        size_t whole = nd - DEC_PLACES, keep = nd;
        memcpy(buf + w, dig, whole);
        w += whole;
        while (keep > whole && dig[keep - 1] == '0')
            keep--;
        if (keep > whole) {
            buf[w++] = '.';
            memcpy(buf + w, dig + whole, keep - whole);
            w += keep - whole;
        }
    }
    buf[w] = '\0';
    return w;
}

size_t dec_format(dec_sum v, char *buf) {
    if (v == 0) {
        buf[0] = '0';
        buf[1] = '\0';
        return 1;
    }
    char dig[48];
    size_t nd = digits_of(v, dig);
    /* value = dig * 10^(-6); without trailing zeros: sig * 10^e */
    long e = -DEC_PLACES;
    while (nd > 1 && dig[nd - 1] == '0') {
        nd--;
        e++;
    }
    long x = (long)nd - 1 + e; /* the exponent of the leading digit */
    if (x >= -4 && x < 16) return dec_plain(v, buf);
    size_t w = 0;
    if (v < 0) buf[w++] = '-';
    buf[w++] = dig[0];
    if (nd > 1) {
        buf[w++] = '.';
        memcpy(buf + w, dig + 1, nd - 1);
        w += nd - 1;
    }
    buf[w++] = 'e';
    buf[w++] = x < 0 ? '-' : '+';
    long ax = x < 0 ? -x : x;
    if (ax < 10) buf[w++] = '0';
    char ex[8];
    int ne = 0;
    do {
        ex[ne++] = (char)('0' + ax % 10);
        ax /= 10;
    } while (ax);
    while (ne)
        buf[w++] = ex[--ne];
    buf[w] = '\0';
    return w;
}
