/* pyjson: Python's json.loads(bytes), as FastAPI runs it, in C.
 *
 * The parser follows CPython 3.11's accelerator (Modules/_json.c:
 * scan_once_unicode, _parse_object_unicode, _parse_array_unicode,
 * _match_number_unicode, scanstring_unicode) step by step, so that the first
 * error it meets is the one Python meets, with the same message and index.
 * It works on UTF-8 bytes and keeps byte offsets; an error's offset is turned
 * into a code-point index once, at the end (Python's indexes count code
 * points of the decoded str).
 *
 * Decoding is json.detect_encoding() followed by bytes.decode(enc,
 * "surrogatepass"): UTF-8 (a BOM skipped), or UTF-16 / UTF-32 when the first
 * bytes say so (BOM, or NUL bytes in the pattern Python looks for). UTF-16 and
 * UTF-32 are transcoded to UTF-8 first. "surrogatepass" lets lone surrogates
 * through (as 3-byte sequences ED A0..BF xx), so they count as one code point
 * each, exactly as in Python.
 *
 * Lone surrogates inside a string (raw, or from a \u escape) are the one
 * thing Python keeps that we cannot: they are remembered, the parse goes on
 * without building values (so any later error is still Python's), and only if
 * Python would have succeeded is the document refused (see pyjson.h). */
#include "validate/pyjson.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned pyjson_max_depth = PYJSON_MAX_DEPTH;

/* A big number is a one-member object {BIG_KEY: "\xff" literal}. The key
 * begins with the byte 0xFF, never valid UTF-8, so no parsed document can
 * forge it; the value begins with it too, so that json_dumps() of a stand-in
 * fails (jansson 2.14 checks the UTF-8 of string values, not of keys) rather
 * than write something that looks like data. */
#define BIG_KEY "\xffpyjson-big"
#define BIG_KEY_LEN (sizeof(BIG_KEY) - 1)
#define BIG_MARK '\xff'

/* Python 3.11's default sys.get_int_max_str_digits(): a longer integer
 * literal makes json.loads raise ValueError (not JSONDecodeError). */
#define PY_INT_MAX_STR_DIGITS 4300

enum deferred_kind { DEFER_NONE = 0, DEFER_ESCAPE, DEFER_RAW };

struct parser {
    const unsigned char *s; /* UTF-8 text (lone surrogates allowed) */
    size_t n;
    unsigned depth;
    int build; /* 0 once a deferred refusal is pending: values are not built */
    enum pyjson_rc rc;
    const char *msg; /* for PYJSON_INVALID and the informative messages */
    size_t off;      /* byte offset of the error in s */
    enum deferred_kind deferred;
    size_t deferred_off;
    unsigned char *scratch; /* decoded strings with escapes, same offsets as s */
    json_malloc_t xmalloc;
    json_free_t xfree;
};

static int is_ws(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static size_t skip_ws(const struct parser *p, size_t i) {
    while (i < p->n && is_ws(p->s[i]))
        i++;
    return i;
}

static json_t *fail(struct parser *p, enum pyjson_rc rc, const char *msg, size_t off) {
    p->rc = rc;
    p->msg = msg;
    p->off = off;
    return NULL;
}

static json_t *nomem(struct parser *p, size_t off) {
    return fail(p, PYJSON_NOMEM, "out of memory", off);
}

static json_t *invalid(struct parser *p, const char *msg, size_t off) {
    return fail(p, PYJSON_INVALID, msg, off);
}

static void defer(struct parser *p, enum deferred_kind kind, size_t off) {
    if (p->deferred == DEFER_NONE) {
        p->deferred = kind;
        p->deferred_off = off;
    }
    p->build = 0;
}

/* ---- big numbers ---------------------------------------------------------- */

static json_t *make_big(struct parser *p, size_t start, size_t end) {
    size_t len = end - start;
    char local[64];
    char *text = local;
    json_t *obj = NULL, *str;

    if (len + 1 > sizeof(local)) {
        text = p->xmalloc(len + 1);
        if (!text) return nomem(p, start);
    }
    text[0] = BIG_MARK;
    memcpy(text + 1, p->s + start, len);
    str = json_stringn_nocheck(text, len + 1);
    if (text != local) p->xfree(text);
    if (str) obj = json_object();
    if (!obj) {
        json_decref(str);
        return nomem(p, start);
    }
    /* consumes `str`, even when it fails */
    if (json_object_setn_new_nocheck(obj, BIG_KEY, BIG_KEY_LEN, str) != 0) {
        json_decref(obj);
        return nomem(p, start);
    }
    return obj;
}

const char *pyjson_big_text(const json_t *v) {
    const json_t *text;
    const char *s;

    if (!json_is_object(v) || json_object_size(v) != 1) return NULL;
    text = json_object_getn(v, BIG_KEY, BIG_KEY_LEN);
    if (!json_is_string(text) || json_string_length(text) < 2) return NULL;
    s = json_string_value(text);
    return s[0] == BIG_MARK ? s + 1 : NULL;
}

int pyjson_is_big(const json_t *v) {
    return pyjson_big_text(v) != NULL;
}

int pyjson_big_is_integer(const json_t *v) {
    const char *t = pyjson_big_text(v);

    return t && !strpbrk(t, ".eE");
}

/* ---- numbers -------------------------------------------------------------- */

/* The number at s[start..end) as a double. strtod reads the C locale's
 * decimal point; the server never calls setlocale(). */
static int number_to_double(struct parser *p, size_t start, size_t end, double *out) {
    char local[64];
    char *text = local;
    size_t len = end - start;

    if (len >= sizeof(local)) {
        text = p->xmalloc(len + 1);
        if (!text) return -1;
    }
    memcpy(text, p->s + start, len);
    text[len] = '\0';
    *out = strtod(text, NULL);
    if (text != local) p->xfree(text);
    return 0;
}

static json_t *parse_number(struct parser *p, size_t i, size_t *end) {
    const unsigned char *s = p->s;
    size_t n = p->n, start = i, digits_start;
    int is_float = 0;

    if (s[i] == '-') {
        i++;
        if (i >= n) return invalid(p, "Expecting value", start);
    }
    digits_start = i;
    if (s[i] >= '1' && s[i] <= '9') {
        i++;
        while (i < n && is_digit(s[i]))
            i++;
    } else if (s[i] == '0') {
        i++;
    } else {
        return invalid(p, "Expecting value", start);
    }
    /* a fraction needs a digit after the point */
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        is_float = 1;
        i += 2;
        while (i < n && is_digit(s[i]))
            i++;
    }
    /* an exponent needs a digit, or it is given back (Python backtracks) */
    if (i + 1 < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t e_start = i;

        i++;
        if (i + 1 < n && (s[i] == '-' || s[i] == '+')) i++;
        while (i < n && is_digit(s[i]))
            i++;
        if (is_digit(s[i - 1]))
            is_float = 1;
        else
            i = e_start;
    }
    *end = i;

    if (is_float) {
        double d;
        json_t *v;

        if (!p->build) return json_null();
        if (number_to_double(p, start, i, &d) != 0) return nomem(p, start);
        if (isinf(d)) return make_big(p, start, i);
        v = json_real(d);
        return v ? v : nomem(p, start);
    }

    if (i - digits_start > PY_INT_MAX_STR_DIGITS)
        return fail(p, PYJSON_NOT_UTF8, "integer literal longer than 4300 digits", start);
    if (!p->build) return json_null();
    {
        /* accumulate negatively: -INT64_MIN does not fit */
        int64_t acc = 0;
        size_t k;
        int neg = s[start] == '-';
        json_t *v;

        for (k = digits_start; k < i; k++) {
            int d = s[k] - '0';

            if (acc < (INT64_MIN + d) / 10) return make_big(p, start, i);
            acc = acc * 10 - d;
        }
        if (!neg) {
            if (acc == INT64_MIN) return make_big(p, start, i);
            acc = -acc;
        }
        v = json_integer((json_int_t)acc);
        return v ? v : nomem(p, start);
    }
}

/* ---- strings -------------------------------------------------------------- */

static int hex4(const unsigned char *h, unsigned *out) {
    unsigned v = 0;
    int k;

    for (k = 0; k < 4; k++) {
        unsigned char c = h[k];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(unsigned char *w, unsigned cp) {
    if (cp < 0x80) {
        w[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        w[0] = (unsigned char)(0xC0 | (cp >> 6));
        w[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        w[0] = (unsigned char)(0xE0 | (cp >> 12));
        w[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        w[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    w[0] = (unsigned char)(0xF0 | (cp >> 18));
    w[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    w[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    w[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static int is_high(unsigned cp) {
    return cp >= 0xD800 && cp <= 0xDBFF;
}

static int is_low(unsigned cp) {
    return cp >= 0xDC00 && cp <= 0xDFFF;
}

/* Scan the string whose opening quote is at `begin`. On success 0, with the
 * decoded bytes at *text (into s, or into scratch when there were escapes),
 * *len, and *end just past the closing quote. -1 on error (p->rc set). */
static int scan_string(struct parser *p, size_t begin, const unsigned char **text, size_t *len,
                       size_t *end) {
    const unsigned char *s = p->s;
    size_t n = p->n, j = begin + 1;
    unsigned char *w = NULL; /* write pointer once an escape was seen */

    for (;;) {
        unsigned char c;

        if (j >= n) {
            invalid(p, "Unterminated string starting at", begin);
            return -1;
        }
        c = s[j];
        if (c == '"') break;
        if (c == '\\') {
            unsigned char e;

            if (j + 1 >= n) {
                invalid(p, "Unterminated string starting at", begin);
                return -1;
            }
            if (!w) {
                if (!p->scratch) {
                    p->scratch = p->xmalloc(n);
                    if (!p->scratch) {
                        nomem(p, j);
                        return -1;
                    }
                }
                /* decoded text is never longer than its source, so writing
                 * at the source's own offsets cannot reach another string */
                memcpy(p->scratch + begin + 1, s + begin + 1, j - (begin + 1));
                w = p->scratch + j;
            }
            e = s[j + 1];
            if (e != 'u') {
                unsigned char out;

                switch (e) {
                case '"':
                    out = '"';
                    break;
                case '\\':
                    out = '\\';
                    break;
                case '/':
                    out = '/';
                    break;
                case 'b':
                    out = '\b';
                    break;
                case 'f':
                    out = '\f';
                    break;
                case 'n':
                    out = '\n';
                    break;
                case 'r':
                    out = '\r';
                    break;
                case 't':
                    out = '\t';
                    break;
                default:
                    invalid(p, "Invalid \\escape", j);
                    return -1;
                }
                *w++ = out;
                j += 2;
            } else {
                unsigned cp, cp2;
                size_t after = j + 6; /* just past \uXXXX */

                if (after >= n || hex4(s + j + 2, &cp) != 0) {
                    invalid(p, "Invalid \\uXXXX escape", j + 1);
                    return -1;
                }
                if (is_high(cp) && after + 6 < n && s[after] == '\\' && s[after + 1] == 'u') {
                    if (hex4(s + after + 2, &cp2) != 0) {
                        invalid(p, "Invalid \\uXXXX escape", after + 1);
                        return -1;
                    }
                    if (is_low(cp2)) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (cp2 - 0xDC00);
                        after += 6;
                    }
                }
                if (is_high(cp) || is_low(cp)) {
                    defer(p, DEFER_ESCAPE, j + 1);
                    cp = 0xFFFD;
                }
                w += put_utf8(w, cp);
                j = after;
            }
            continue;
        }
        if (c < 0x20) {
            invalid(p, "Invalid control character at", j);
            return -1;
        }
        if (c == 0xED && s[j + 1] >= 0xA0) {
            /* a raw surrogate (validated: 3 bytes, so j + 2 < n) */
            defer(p, DEFER_RAW, j);
            if (w) {
                w += put_utf8(w, 0xFFFD);
            }
            j += 3;
            continue;
        }
        if (w) *w++ = c;
        j++;
    }
    if (w) {
        *text = p->scratch + begin + 1;
        *len = (size_t)(w - *text);
    } else {
        *text = s + begin + 1;
        *len = j - (begin + 1);
    }
    *end = j + 1;
    return 0;
}

/* ---- values --------------------------------------------------------------- */

static json_t *parse_value(struct parser *p, size_t i, size_t *end);

static json_t *parse_object(struct parser *p, size_t i, size_t *end) {
    const unsigned char *s = p->s;
    size_t n = p->n;
    json_t *obj = NULL;

    if (p->build) {
        obj = json_object();
        if (!obj) return nomem(p, i);
    }
    i = skip_ws(p, i + 1);
    if (i >= n || s[i] != '}') {
        for (;;) {
            const unsigned char *key;
            size_t keylen, next;
            json_t *val;

            if (i >= n || s[i] != '"') {
                invalid(p, "Expecting property name enclosed in double quotes", i);
                goto bail;
            }
            if (scan_string(p, i, &key, &keylen, &next) != 0) goto bail;
            i = skip_ws(p, next);
            if (i >= n || s[i] != ':') {
                invalid(p, "Expecting ':' delimiter", i);
                goto bail;
            }
            i = skip_ws(p, i + 1);
            val = parse_value(p, i, &next);
            if (!val) goto bail;
            if (p->build) {
                /* a duplicate key keeps its place and takes the new value */
                if (json_object_setn_new(obj, (const char *)key, keylen, val) != 0) {
                    nomem(p, i);
                    goto bail;
                }
            } else {
                json_decref(val);
            }
            i = skip_ws(p, next);
            if (i < n && s[i] == '}') break;
            if (i >= n || s[i] != ',') {
                invalid(p, "Expecting ',' delimiter", i);
                goto bail;
            }
            i = skip_ws(p, i + 1);
        }
    }
    *end = i + 1;
    if (!p->build) {
        json_decref(obj);
        return json_null();
    }
    return obj;
bail:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(struct parser *p, size_t i, size_t *end) {
    const unsigned char *s = p->s;
    size_t n = p->n;
    json_t *arr = NULL;

    if (p->build) {
        arr = json_array();
        if (!arr) return nomem(p, i);
    }
    i = skip_ws(p, i + 1);
    if (i >= n || s[i] != ']') {
        for (;;) {
            size_t next;
            json_t *val = parse_value(p, i, &next);

            if (!val) goto bail;
            if (p->build) {
                if (json_array_append_new(arr, val) != 0) {
                    nomem(p, i);
                    goto bail;
                }
            } else {
                json_decref(val);
            }
            i = skip_ws(p, next);
            if (i < n && s[i] == ']') break;
            if (i >= n || s[i] != ',') {
                invalid(p, "Expecting ',' delimiter", i);
                goto bail;
            }
            i = skip_ws(p, i + 1);
        }
    }
    *end = i + 1;
    if (!p->build) {
        json_decref(arr);
        return json_null();
    }
    return arr;
bail:
    json_decref(arr);
    return NULL;
}

static int match(const struct parser *p, size_t i, const char *word, size_t len) {
    return p->n - i >= len && memcmp(p->s + i, word, len) == 0;
}

static json_t *parse_value(struct parser *p, size_t i, size_t *end) {
    json_t *v;

    if (i >= p->n) return invalid(p, "Expecting value", i);
    switch (p->s[i]) {
    case '"': {
        const unsigned char *text;
        size_t len;

        if (scan_string(p, i, &text, &len, end) != 0) return NULL;
        if (!p->build) return json_null();
        v = json_stringn((const char *)text, len);
        return v ? v : nomem(p, i);
    }
    case '{':
    case '[':
        if (p->depth >= pyjson_max_depth) return fail(p, PYJSON_TOO_DEEP, "nesting too deep", i);
        p->depth++;
        v = p->s[i] == '{' ? parse_object(p, i, end) : parse_array(p, i, end);
        p->depth--;
        return v;
    case 'n':
        if (match(p, i, "null", 4)) {
            *end = i + 4;
            return json_null();
        }
        break;
    case 't':
        if (match(p, i, "true", 4)) {
            *end = i + 4;
            return json_true();
        }
        break;
    case 'f':
        if (match(p, i, "false", 5)) {
            *end = i + 5;
            return json_false();
        }
        break;
    default:
        /* NaN, Infinity and -Infinity fall through to the number, which
         * refuses them at their first character: "Expecting value". */
        break;
    }
    return parse_number(p, i, end);
}

/* ---- decoding ------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s[i] as Python's strict decoder with
 * "surrogatepass" accepts it, or 0 when it is refused. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t i) {
    unsigned char c = s[i];
    size_t avail = n - i;

    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return avail >= 2 && (s[i + 1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80; /* ED A0..BF: surrogatepass */

        return avail >= 3 && s[i + 1] >= lo && s[i + 1] <= 0xBF && (s[i + 2] & 0xC0) == 0x80 ? 3
                                                                                             : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF;

        return avail >= 4 && s[i + 1] >= lo && s[i + 1] <= hi && (s[i + 2] & 0xC0) == 0x80 &&
                       (s[i + 3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

static int utf8_check(const unsigned char *s, size_t n, size_t *bad) {
    size_t i = 0;

    while (i < n) {
        size_t k;

        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_seq(s, n, i);
        if (k == 0) {
            *bad = i;
            return -1;
        }
        i += k;
    }
    return 0;
}

enum encoding { ENC_UTF8, ENC_UTF16LE, ENC_UTF16BE, ENC_UTF32LE, ENC_UTF32BE };

/* json.detect_encoding(); *skip is the BOM's length. */
static enum encoding detect_encoding(const unsigned char *b, size_t n, size_t *skip) {
    *skip = 0;
    if (n >= 4 && b[0] == 0xFF && b[1] == 0xFE && b[2] == 0 && b[3] == 0) {
        *skip = 4;
        return ENC_UTF32LE;
    }
    if (n >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xFE && b[3] == 0xFF) {
        *skip = 4;
        return ENC_UTF32BE;
    }
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE) {
        *skip = 2;
        return ENC_UTF16LE;
    }
    if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF) {
        *skip = 2;
        return ENC_UTF16BE;
    }
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF) {
        *skip = 3;
        return ENC_UTF8;
    }
    if (n >= 4) {
        if (!b[0]) return b[1] ? ENC_UTF16BE : ENC_UTF32BE;
        if (!b[1]) return b[2] || b[3] ? ENC_UTF16LE : ENC_UTF32LE;
    } else if (n == 2) {
        if (!b[0]) return ENC_UTF16BE;
        if (!b[1]) return ENC_UTF16LE;
    }
    return ENC_UTF8;
}

/* UTF-16 / UTF-32 to UTF-8 with "surrogatepass". Returns 0, -1 when Python
 * would raise UnicodeDecodeError (*bad set), -2 when out of memory. */
static int transcode(struct parser *p, const unsigned char *b, size_t n, enum encoding enc,
                     unsigned char **out, size_t *outlen, size_t *bad) {
    size_t unit = (enc == ENC_UTF16LE || enc == ENC_UTF16BE) ? 2 : 4;
    int le = enc == ENC_UTF16LE || enc == ENC_UTF32LE;
    size_t i, w = 0;
    unsigned char *buf;

    /* UTF-16: 2 bytes give at most 3, a pair 4 bytes gives 4. UTF-32: <= 4. */
    buf = p->xmalloc(n / 2 * 3 + 1);
    if (!buf) return -2;
    for (i = 0; i + unit <= n; i += unit) {
        unsigned cp;

        if (unit == 2) {
            cp = le ? (unsigned)b[i] | (unsigned)b[i + 1] << 8
                    : (unsigned)b[i] << 8 | (unsigned)b[i + 1];
            if (is_high(cp) && i + 4 <= n) {
                unsigned lo = le ? (unsigned)b[i + 2] | (unsigned)b[i + 3] << 8
                                 : (unsigned)b[i + 2] << 8 | (unsigned)b[i + 3];

                if (is_low(lo)) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 2;
                }
            }
        } else {
            uint32_t v = le ? (uint32_t)b[i] | (uint32_t)b[i + 1] << 8 | (uint32_t)b[i + 2] << 16 |
                                  (uint32_t)b[i + 3] << 24
                            : (uint32_t)b[i] << 24 | (uint32_t)b[i + 1] << 16 |
                                  (uint32_t)b[i + 2] << 8 | (uint32_t)b[i + 3];

            if (v > 0x10FFFF) {
                *bad = i;
                p->xfree(buf);
                return -1;
            }
            cp = (unsigned)v;
        }
        w += put_utf8(buf + w, cp);
    }
    if (i != n) { /* truncated data */
        *bad = i;
        p->xfree(buf);
        return -1;
    }
    *out = buf;
    *outlen = w;
    return 0;
}

/* Code points in s[0..off): every byte that is not a continuation byte. */
static size_t code_points(const unsigned char *s, size_t off) {
    size_t i, cp = 0;

    for (i = 0; i < off; i++)
        cp += (s[i] & 0xC0) != 0x80;
    return cp;
}

static void set_error(pyjson_error *err, const char *msg, size_t pos) {
    if (!err) return;
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    err->pos = pos;
}

enum pyjson_rc pyjson_parse(const char *buf, size_t len, json_t **out, pyjson_error *err) {
    struct parser p;
    const unsigned char *b = (const unsigned char *)buf;
    unsigned char *owned = NULL;
    json_t *v;
    size_t skip, bad = 0, end = 0, i;
    enum encoding enc;

    *out = NULL;
    set_error(err, "", 0);
    memset(&p, 0, sizeof(p));
    json_get_alloc_funcs(&p.xmalloc, &p.xfree);
    p.build = 1;
    if (!b) {
        b = (const unsigned char *)"";
        len = 0;
    }

    enc = detect_encoding(b, len, &skip);
    if (enc == ENC_UTF8) {
        p.s = b + skip;
        p.n = len - skip;
        if (utf8_check(p.s, p.n, &bad) != 0) {
            set_error(err, "not UTF-8", code_points(p.s, bad));
            return PYJSON_NOT_UTF8;
        }
    } else {
        int rc = transcode(&p, b + skip, len - skip, enc, &owned, &p.n, &bad);

        if (rc == -2) {
            set_error(err, "out of memory", 0);
            return PYJSON_NOMEM;
        }
        if (rc == -1) {
            set_error(err, "not UTF-16 / UTF-32", bad);
            return PYJSON_NOT_UTF8;
        }
        p.s = owned;
    }

    i = skip_ws(&p, 0);
    v = parse_value(&p, i, &end);
    if (v) {
        end = skip_ws(&p, end);
        if (end != p.n) {
            json_decref(v);
            v = invalid(&p, "Extra data", end);
        }
    }
    if (v && p.deferred != DEFER_NONE) {
        json_decref(v);
        v = NULL;
        if (p.deferred == DEFER_ESCAPE)
            invalid(&p, "Invalid \\uXXXX escape", p.deferred_off);
        else
            fail(&p, PYJSON_NOT_UTF8, "lone surrogate", p.deferred_off);
    }
    if (v) {
        *out = v;
        p.rc = PYJSON_OK;
    } else {
        set_error(err, p.msg, code_points(p.s, p.off));
    }
    if (p.scratch) p.xfree(p.scratch);
    if (owned) p.xfree(owned);
    return p.rc;
}
