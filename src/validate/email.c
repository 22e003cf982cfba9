/* email: pydantic 2's EmailStr over email-validator 1.3.0 (email.h).
 *
 * The text is worked on as code points, as Python's str is: lengths are
 * Python's len(). The steps and their order are pydantic's
 * networks.validate_email, then email-validator's validate_email,
 * validate_email_local_part and validate_email_domain_part; each refusal
 * below quotes its message. */
#include "validate/email.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uidna.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#define MAX_EMAIL_LENGTH 2048 /* pydantic's */
#define EMAIL_MAX_LENGTH 254
#define LOCAL_PART_MAX_LENGTH 64

typedef struct {
    uint32_t *c;
    size_t n;
} cps;

typedef struct {
    char *buf;
    size_t len;
} reason_t;

static void say(reason_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(reason_t *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf, EMAIL_REASON_BUF, fmt, ap);
    va_end(ap);
    r->len = n < 0 ? 0 : (size_t)n < EMAIL_REASON_BUF ? (size_t)n : EMAIL_REASON_BUF - 1;
}

/* ---- code points and UTF-8 ---------------------------------------------- */

static size_t utf8_put(uint32_t c, char *o) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6), o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12), o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18), o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F)), o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static size_t utf8_len(const uint32_t *c, size_t n) {
    size_t b = 0;
    for (size_t i = 0; i < n; i++)
        b += c[i] < 0x80 ? 1 : c[i] < 0x800 ? 2 : c[i] < 0x10000 ? 3 : 4;
    return b;
}

/* Code points into `o` (NUL-terminated; cap bytes, which the caller has
 * made sure are enough, else the text is cut). */
static size_t utf8_write(const uint32_t *c, size_t n, char *o, size_t cap) {
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = utf8_len(c + i, 1);
        if (b + k + 1 > cap) break;
        b += utf8_put(c[i], o + b);
    }
    o[b] = '\0';
    return b;
}

/* The input is jansson's string, valid UTF-8; a bad byte (not reached)
 * counts as U+FFFD. Returns the count decoded into `out` (at most cap). */
static size_t utf8_decode(const char *str, size_t len, uint32_t *out, size_t cap) {
    const unsigned char *s = (const unsigned char *)str;
    size_t n = 0, i = 0;
    while (i < len) {
        uint32_t c = s[i];
        size_t k = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (k == 0 || i + k > len) {
            c = 0xFFFD, k = 1;
        } else if (k > 1) {
            c &= 0x3F >> (k - 1);
            for (size_t j = 1; j < k; j++)
                c = c << 6 | (s[i + j] & 0x3F);
        }
        if (out && n < cap) out[n] = c;
        n++;
        i += k;
    }
    return n;
}

/* ---- Python's character classes (Unicode tables from ICU) ---------------- */

/* unicodedata.category(c)[0] */
static char major(uint32_t c) {
    switch (u_charType((UChar32)c)) {
    case U_UPPERCASE_LETTER:
    case U_LOWERCASE_LETTER:
    case U_TITLECASE_LETTER:
    case U_MODIFIER_LETTER:
    case U_OTHER_LETTER:
        return 'L';
    case U_NON_SPACING_MARK:
    case U_ENCLOSING_MARK:
    case U_COMBINING_SPACING_MARK:
        return 'M';
    case U_DECIMAL_DIGIT_NUMBER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
        return 'N';
    case U_SPACE_SEPARATOR:
    case U_LINE_SEPARATOR:
    case U_PARAGRAPH_SEPARATOR:
        return 'Z';
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_CONNECTOR_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
        return 'P';
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
        return 'S';
    default:
        return 'C';
    }
}

/* str.isspace(), which re's \s and str.strip() use: bidi class WS, B or S,
 * or category Zs (CPython's makeunicodedata.py). */
static bool py_space(uint32_t c) {
    if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    UCharDirection d = u_charDirection((UChar32)c);
    return d == U_WHITE_SPACE_NEUTRAL || d == U_BLOCK_SEPARATOR || d == U_SEGMENT_SEPARATOR ||
           u_charType((UChar32)c) == U_SPACE_SEPARATOR;
}

/* re's \w: str.isalnum() or '_'. */
static bool py_word(uint32_t c) {
    if (c < 0x80)
        return c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    return major(c) == 'L' || u_getIntPropertyValue((UChar32)c, UCHAR_NUMERIC_TYPE) != U_NT_NONE;
}

/* str.isprintable() for one character */
static bool py_printable(uint32_t c) {
    if (c == ' ') return true;
    int t = u_charType((UChar32)c);
    return !(t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_SURROGATE ||
             t == U_PRIVATE_USE_CHAR || t == U_UNASSIGNED || t == U_SPACE_SEPARATOR ||
             t == U_LINE_SEPARATOR || t == U_PARAGRAPH_SEPARATOR);
}

/* repr() of a str, into o (cap bytes). */
static size_t py_repr(const uint32_t *c, size_t n, char *o, size_t cap) {
    bool sq = false, dq = false;
    for (size_t i = 0; i < n; i++)
        sq |= c[i] == '\'', dq |= c[i] == '"';
    char q = sq && !dq ? '"' : '\'';
    size_t b = 0;
    if (cap < 16) return 0;
    o[b++] = q;
    for (size_t i = 0; i < n && b + 14 < cap; i++) {
        uint32_t x = c[i];
        if (x == (uint32_t)q || x == '\\')
            o[b++] = '\\', o[b++] = (char)x;
        else if (x == '\t')
            o[b++] = '\\', o[b++] = 't';
        else if (x == '\n')
            o[b++] = '\\', o[b++] = 'n';
        else if (x == '\r')
            o[b++] = '\\', o[b++] = 'r';
        else if (x < 0x20 || x == 0x7F || (x >= 0x80 && !py_printable(x)))
            b += (size_t)snprintf(o + b, cap - b,
                                  x < 0x100     ? "\\x%02x"
                                  : x < 0x10000 ? "\\u%04x"
                                                : "\\U%08x",
                                  x);
        else
            b += utf8_put(x, o + b);
    }
    o[b++] = q;
    o[b] = '\0';
    return b;
}

/* unicodedata.name(c, repr(c)) */
static void py_name(uint32_t c, char *o, size_t cap) {
    UErrorCode e = U_ZERO_ERROR;
    int32_t n = u_charName((UChar32)c, U_UNICODE_CHAR_NAME, o, (int32_t)cap, &e);
    if (U_FAILURE(e) || n <= 0 || (size_t)n >= cap) py_repr(&c, 1, o, cap);
}

/* ---- pydantic's part ------------------------------------------------------ */

static bool name_char(uint32_t c) {
    return py_word(c) || (c < 0x80 && strchr("!#$%&'*+-/=?^_`{|}~", (int)c) && c != 0);
}

/* `\s*<(.+)>\s*` from position i to the end: the inside's bounds. */
static bool angle_tail(const uint32_t *c, size_t n, size_t i, size_t *b, size_t *e) {
    while (i < n && py_space(c[i]))
        i++;
    if (i >= n || c[i] != '<') return false;
    size_t end = n;
    while (end > i && py_space(c[end - 1]))
        end--;
    if (end < i + 3 || c[end - 1] != '>') return false; /* "<x>" at least */
    for (size_t k = i + 1; k < end - 1; k++)
        if (c[k] == '\n') return false; /* '.' does not match a newline */
    *b = i + 1, *e = end - 1;
    return true;
}

/* pretty_email_regex.fullmatch(value): the address's bounds in "Name
 * <address>". Unquoted names are words of \w and atext, one space apart or
 * more; a quoted one is greedy and may hold anything, quotes included, so
 * the last closing quote that still leaves "<...>" wins. */
static bool pretty(const uint32_t *c, size_t n, size_t *b, size_t *e) {
    size_t i = 0;
    while (i < n && py_space(c[i]))
        i++;
    if (i < n && c[i] == '"') {
        for (size_t q = n; q-- > i + 1;)
            if (q >= i + 2 && c[q] == '"' && angle_tail(c, n, q + 1, b, e)) return true;
        return false;
    }
    size_t j = i;
    while (j < n && (name_char(c[j]) || py_space(c[j])))
        j++;
    /* a name (words and spaces, ending in a word) or none */
    return angle_tail(c, n, j, b, e);
}

/* ---- email-validator's part ----------------------------------------------- */

static bool atext(uint32_t c) {
    return (c < 0x80 && ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))) ||
           (c != 0 && c < 0x80 && strchr("_!#$%&'*+-/=?^`{|}~", (int)c));
}

/* DOT_ATOM_TEXT (intl: U+0080 and above count as atext too) */
static bool dot_atom(const uint32_t *c, size_t n, bool intl) {
    bool prev_dot = true;
    for (size_t i = 0; i < n; i++) {
        if (c[i] == '.') {
            if (prev_dot) return false;
            prev_dot = true;
        } else if (atext(c[i]) || (intl && c[i] >= 0x80)) {
            prev_dot = false;
        } else {
            return false;
        }
    }
    return !prev_dot;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "(N character(s) too many)" */
static void too_many(char *o, size_t cap, size_t n, size_t limit, bool utf8) {
    size_t d = n - limit;
    snprintf(o, cap, "(%s%zu character%s too many)", utf8 ? "at least " : "", d, d > 1 ? "s" : "");
}

/* validate_email_local_part. An internationalised local part is replaced
 * by its NFC, written to `nfc_out` (which holds 4 * LOCAL_PART_MAX_LENGTH:
 * NFC may decompose a character that composition excludes). */
static int local_part(cps *l, uint32_t *nfc_out, bool *smtputf8, reason_t *r) {
    if (l->n == 0) {
        say(r, "There must be something before the @-sign.");
        return -1;
    }
    if (l->n > LOCAL_PART_MAX_LENGTH) {
        char m[64];
        too_many(m, sizeof m, l->n, LOCAL_PART_MAX_LENGTH, false);
        say(r, "The email address is too long before the @-sign %s.", m);
        return -1;
    }
    *smtputf8 = false;
    if (dot_atom(l->c, l->n, false)) return 0;
    if (!dot_atom(l->c, l->n, true)) {
        /* every character that is not (intl) atext, by name, sorted, once */
        char names[LOCAL_PART_MAX_LENGTH][96], *sorted[LOCAL_PART_MAX_LENGTH];
        size_t k = 0;
        for (size_t i = 0; i < l->n; i++) {
            if (atext(l->c[i]) || l->c[i] >= 0x80) continue;
            py_name(l->c[i], names[k], sizeof names[k]);
            sorted[k] = names[k];
            k++;
        }
        qsort(sorted, k, sizeof sorted[0], cmp_str);
        char list[EMAIL_REASON_BUF] = "";
        size_t b = 0;
        for (size_t i = 0; i < k; i++) {
            if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0) continue;
            b += (size_t)snprintf(list + b, sizeof list - b, "%s%s", b ? ", " : "", sorted[i]);
            if (b >= sizeof list) b = sizeof list - 1;
        }
        /* a repr may hold U+0000 ('\x00' is written out, so it cannot) */
        say(r, "The email address contains invalid characters before the @-sign: %s.", list);
        return -1;
    }
    /* NFC (RFC 6532 3.1), then the categories of what it gives */
    UChar u16[2 * LOCAL_PART_MAX_LENGTH + 2], nfc[8 * LOCAL_PART_MAX_LENGTH];
    int32_t n16 = 0;
    for (size_t i = 0; i < l->n; i++)
        U16_APPEND_UNSAFE(u16, n16, (UChar32)l->c[i]);
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *nf = unorm2_getNFCInstance(&e);
    int32_t nn =
        U_SUCCESS(e) ? unorm2_normalize(nf, u16, n16, nfc, (int32_t)(sizeof nfc / 2), &e) : 0;
    if (U_FAILURE(e)) return -2;
    size_t m = 0;
    for (int32_t i = 0; i < nn && m < 4 * LOCAL_PART_MAX_LENGTH;) {
        UChar32 x;
        U16_NEXT(nfc, i, nn, x);
        nfc_out[m++] = (uint32_t)x;
    }
    l->c = nfc_out;
    l->n = m;
    for (size_t i = 0; i < l->n; i++) {
        char kind = major(l->c[i]), name[96];
        if (kind == 'M' && i == 0) {
            py_name(l->c[i], name, sizeof name);
            say(r, "The email address contains an initial invalid character (%s).", name);
            return -1;
        }
        if (kind == 'Z' || kind == 'C') {
            py_name(l->c[i], name, sizeof name);
            say(r, "The email address contains an invalid character (%s).", name);
            return -1;
        }
    }
    *smtputf8 = true;
    return 0;
}

static const char *const SPECIAL_USE[] = {"arpa", "invalid", "local", "localhost", "onion", "test"};

/* idna.encode's check of one ASCII label (already lower-case): its reason,
 * or NULL. `lab` is [b, e) of d. */
static bool ascii_label(const uint32_t *lab, size_t n, char *why, size_t cap) {
    if (n >= 4 && lab[2] == '-' && lab[3] == '-') {
        snprintf(why, cap, "Label has disallowed hyphens in 3rd and 4th position");
        return false;
    }
    if (lab[0] == '-' || lab[n - 1] == '-') {
        snprintf(why, cap, "Label must not start or end with a hyphen");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t c = lab[i];
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') continue;
        char rep[EMAIL_REASON_BUF / 2 - 128];
        py_repr(lab, n, rep, sizeof rep);
        snprintf(why, cap, "Codepoint U+%04X at position %zu of %s not allowed", c, i + 1, rep);
        return false;
    }
    if (n > 63) {
        snprintf(why, cap, "Label too long");
        return false;
    }
    return true;
}

/* ICU's UTS #46 for a domain with non-ASCII or an A-label: mapped (d
 * becomes the Unicode form), then the ASCII form into `ascii`. Returns 0,
 * -1 with the reason, -2 on ICU failure. */
static int idna_domain(cps *d, char *ascii, size_t cap, size_t *alen, reason_t *r) {
    UErrorCode e = U_ZERO_ERROR;
    /* `remap` maps as idna.uts46_remap(std3_rules=False) does, for the
     * text the messages show; `idna` checks as idna.encode does, where a
     * label's ASCII must be letters, digits and hyphens (STD3). */
    const uint32_t opts = UIDNA_CHECK_BIDI | UIDNA_CHECK_CONTEXTJ | UIDNA_NONTRANSITIONAL_TO_ASCII |
                          UIDNA_NONTRANSITIONAL_TO_UNICODE;
    UIDNA *idna = uidna_openUTS46(opts | UIDNA_USE_STD3_RULES, &e);
    UIDNA *remap = uidna_openUTS46(opts, &e);
    if (U_FAILURE(e)) {
        uidna_close(idna);
        uidna_close(remap);
        return -2;
    }
    int rc = -1;
    UChar in[2 * 2048], mapped[4 * 2048], a16[1024], u16[1024];
    int32_t n16 = 0;
    for (size_t i = 0; i < d->n; i++)
        U16_APPEND_UNSAFE(in, n16, (UChar32)d->c[i]);
    UIDNAInfo info = UIDNA_INFO_INITIALIZER;
    int32_t nm =
        uidna_nameToUnicode(remap, in, n16, mapped, (int32_t)(sizeof mapped / 2), &info, &e);
    if (e == U_BUFFER_OVERFLOW_ERROR) {
        say(r, "The email address is too long after the @-sign.");
        goto out;
    }
    if (U_FAILURE(e)) goto fail;
    /* A character that cannot be mapped is U+FFFD there; Python's remap
     * then fails and shows the domain as given. */
    bool unmapped = false;
    for (int32_t i = 0; i < nm; i++)
        unmapped |= mapped[i] == 0xFFFD;
    for (size_t i = 0; i < d->n; i++)
        unmapped &= d->c[i] != 0xFFFD;
    char shown[EMAIL_REASON_BUF / 2];
    int32_t ns = 0;
    if (unmapped)
        u_strToUTF8(shown, (int32_t)sizeof shown - 1, &ns, in, n16, &e);
    else
        u_strToUTF8(shown, (int32_t)sizeof shown - 1, &ns, mapped, nm, &e);
    if (e == U_BUFFER_OVERFLOW_ERROR || e == U_STRING_NOT_TERMINATED_WARNING) {
        e = U_ZERO_ERROR;
        ns = 0; /* shown cut: not reached within 2048 characters */
    }
    if (U_FAILURE(e)) goto fail;
    shown[ns] = '\0';
    /* the period checks come before IDNA's in email-validator */
    if (nm > 0 && mapped[nm - 1] == '.') {
        say(r, "An email address cannot end with a period.");
        goto out;
    }
    if (nm > 0 && mapped[0] == '.') {
        say(r, "An email address cannot have a period immediately after the @-sign.");
        goto out;
    }
    for (int32_t i = 0; i + 1 < nm; i++) {
        if (mapped[i] == '.' && mapped[i + 1] == '.') {
            say(r, "An email address cannot have two periods in a row.");
            goto out;
        }
    }
    info = (UIDNAInfo)UIDNA_INFO_INITIALIZER;
    int32_t na = uidna_nameToASCII(idna, in, n16, a16, (int32_t)(sizeof a16 / 2), &info, &e);
    if (e == U_BUFFER_OVERFLOW_ERROR) {
        say(r, "The email address is too long after the @-sign.");
        goto out;
    }
    if (U_FAILURE(e)) goto fail;
    uint32_t err = info.errors;
    const char *why = NULL;
    if (err & UIDNA_ERROR_DOMAIN_NAME_TOO_LONG) {
        say(r, "The email address is too long after the @-sign.");
        goto out;
    }
    if (err & (UIDNA_ERROR_HYPHEN_3_4))
        why = "Label has disallowed hyphens in 3rd and 4th position";
    else if (err & (UIDNA_ERROR_LEADING_HYPHEN | UIDNA_ERROR_TRAILING_HYPHEN))
        why = "Label must not start or end with a hyphen";
    else if (err & UIDNA_ERROR_LEADING_COMBINING_MARK)
        why = "Label begins with an illegal combining character";
    else if (err & (UIDNA_ERROR_PUNYCODE | UIDNA_ERROR_INVALID_ACE_LABEL))
        why = "Invalid A-label";
    else if (err & UIDNA_ERROR_CONTEXTJ)
        why = "Joiner not allowed";
    else if (err & UIDNA_ERROR_BIDI)
        why = "Invalid bidirectional text";
    else if (err & UIDNA_ERROR_LABEL_TOO_LONG)
        why = "Label too long";
    else if (err)
        why = "Codepoint not allowed";
    if (why) {
        say(r, "The domain name %s contains invalid characters (%s).", shown, why);
        goto out;
    }
    if ((size_t)na >= cap) {
        say(r, "The email address is too long after the @-sign.");
        goto out;
    }
    for (int32_t i = 0; i < na; i++)
        ascii[i] = (char)a16[i];
    ascii[na] = '\0';
    *alen = (size_t)na;
    info = (UIDNAInfo)UIDNA_INFO_INITIALIZER;
    int32_t nu = uidna_nameToUnicode(idna, a16, na, u16, (int32_t)(sizeof u16 / 2), &info, &e);
    if (U_FAILURE(e) || info.errors) goto fail;
    size_t m = 0;
    for (int32_t i = 0; i < nu && m < 256;) { /* of an ASCII form of <= 253 (checked) */
        UChar32 x;
        U16_NEXT(u16, i, nu, x);
        d->c[m++] = (uint32_t)x;
    }
    d->n = m;
    rc = 0;
    goto out;
fail:
    rc = -2;
out:
    uidna_close(idna);
    uidna_close(remap);
    return rc;
}

/* validate_email_domain_part: d becomes the Unicode form, `ascii` the
 * IDNA ASCII one. */
static int domain_part(cps *d, char *ascii, size_t cap, size_t *alen, reason_t *r) {
    if (d->n == 0) {
        say(r, "There must be something after the @-sign.");
        return -1;
    }
    bool plain = true;
    for (size_t i = 0; i < d->n; i++) {
        if (d->c[i] >= 0x80)
            plain = false;
        else if (d->c[i] >= 'A' && d->c[i] <= 'Z')
            d->c[i] |= 0x20; /* uts46_remap */
    }
    for (size_t i = 0; plain && i + 4 <= d->n; i++) /* an A-label: Punycode, IDNA's */
        if ((i == 0 || d->c[i - 1] == '.') && d->c[i] == 'x' && d->c[i + 1] == 'n' &&
            d->c[i + 2] == '-' && d->c[i + 3] == '-')
            plain = false;
    if (!plain) {
        int rc = idna_domain(d, ascii, cap, alen, r);
        if (rc != 0) return rc;
    } else {
        if (d->c[d->n - 1] == '.') {
            say(r, "An email address cannot end with a period.");
            return -1;
        }
        if (d->c[0] == '.') {
            say(r, "An email address cannot have a period immediately after the @-sign.");
            return -1;
        }
        for (size_t i = 0; i + 1 < d->n; i++) {
            if (d->c[i] == '.' && d->c[i + 1] == '.') {
                say(r, "An email address cannot have two periods in a row.");
                return -1;
            }
        }
        char why[EMAIL_REASON_BUF / 2];
        for (size_t b = 0; b < d->n;) {
            size_t e = b;
            while (e < d->n && d->c[e] != '.')
                e++;
            if (!ascii_label(d->c + b, e - b, why, sizeof why)) {
                /* the domain may hold U+0000: written with its length */
                r->len = 0;
                char *o = r->buf;
                const char *head = "The domain name ";
                size_t hl = strlen(head), dl = utf8_len(d->c, d->n);
                size_t wl = strlen(why);
                if (hl + dl + wl + 32 < EMAIL_REASON_BUF) {
                    memcpy(o, head, hl);
                    utf8_write(d->c, d->n, o + hl, EMAIL_REASON_BUF - hl);
                    int k = snprintf(o + hl + dl, EMAIL_REASON_BUF - hl - dl,
                                     " contains invalid characters (%s).", why);
                    r->len = hl + dl + (size_t)k;
                }
                return -1;
            }
            b = e + 1;
        }
        if (d->n > 253) {
            say(r, "The email address is too long after the @-sign.");
            return -1;
        }
        *alen = utf8_write(d->c, d->n, ascii, cap);
    }
    char shown[EMAIL_REASON_BUF / 2];
    utf8_write(d->c, d->n, shown, sizeof shown);
    if (!strchr(ascii, '.')) {
        say(r, "The domain name %s is not valid. It should have a period.", shown);
        return -1;
    }
    char last = ascii[*alen - 1] | 0x20;
    if (!(last >= 'a' && last <= 'z')) {
        say(r, "The domain name %s is not valid. It is not within a valid top-level domain.",
            shown);
        return -1;
    }
    for (size_t i = 0; i < sizeof SPECIAL_USE / sizeof SPECIAL_USE[0]; i++) {
        size_t sl = strlen(SPECIAL_USE[i]);
        if (strcmp(ascii, SPECIAL_USE[i]) == 0 ||
            (*alen > sl && ascii[*alen - sl - 1] == '.' &&
             strcmp(ascii + *alen - sl, SPECIAL_USE[i]) == 0)) {
            say(r,
                "The domain name %s is a special-use or reserved name that cannot be used with "
                "email.",
                shown);
            return -1;
        }
    }
    return 0;
}

int email_check(const char *s, size_t len, char out[EMAIL_BUF], size_t *out_len,
                char reason[EMAIL_REASON_BUF], size_t *reason_len) {
    reason_t r = {reason, 0};
    reason[0] = '\0';
    *reason_len = 0;
    *out_len = 0;
    out[0] = '\0';
    int rc = -1;
    size_t n = utf8_decode(s, len, NULL, 0);
    if (n > MAX_EMAIL_LENGTH) {
        say(&r, "Length must not exceed %d characters", MAX_EMAIL_LENGTH);
        *reason_len = r.len;
        return -1;
    }
    uint32_t *c = malloc((n + 1) * sizeof *c), *dom = malloc((n + 256) * sizeof *dom);
    if (!c || !dom) {
        rc = -2;
        goto done;
    }
    utf8_decode(s, len, c, n);
    size_t b = 0, e = n;
    if (!pretty(c, n, &b, &e)) b = 0, e = n;
    while (b < e && py_space(c[b]))
        b++;
    while (e > b && py_space(c[e - 1]))
        e--;
    size_t at = 0, ats = 0;
    for (size_t i = b; i < e; i++)
        if (c[i] == '@') at = i, ats++;
    if (ats != 1) {
        say(&r, "The email address is not valid. It must have exactly one @-sign.");
        goto done;
    }
    cps local = {c + b, at - b};
    bool smtputf8 = false;
    uint32_t nfc[4 * LOCAL_PART_MAX_LENGTH];
    rc = local_part(&local, nfc, &smtputf8, &r);
    if (rc != 0) goto done;
    rc = -1;
    size_t dn = e - at - 1;
    memcpy(dom, c + at + 1, dn * sizeof *dom);
    cps domain = {dom, dn};
    char ascii[4 * MAX_EMAIL_LENGTH + 8];
    size_t alen = 0;
    rc = domain_part(&domain, ascii, sizeof ascii, &alen, &r);
    if (rc != 0) goto done;
    rc = -1;
    /* the lengths of the whole address: its ASCII form, then its UTF-8 */
    size_t cp_len = local.n + 1 + domain.n;
    size_t u8_len = utf8_len(local.c, local.n) + 1 + utf8_len(domain.c, domain.n);
    char m[64];
    if (!smtputf8 && local.n + 1 + alen > EMAIL_MAX_LENGTH) {
        if (u8_len == local.n + 1 + alen && cp_len == u8_len)
            too_many(m, sizeof m, local.n + 1 + alen, EMAIL_MAX_LENGTH, false);
        else if (cp_len > EMAIL_MAX_LENGTH)
            too_many(m, sizeof m, cp_len, EMAIL_MAX_LENGTH, true);
        else
            snprintf(m, sizeof m, "(when converted to IDNA ASCII)");
        say(&r, "The email address is too long %s.", m);
        goto done;
    }
    if (u8_len > EMAIL_MAX_LENGTH) {
        if (cp_len > EMAIL_MAX_LENGTH)
            too_many(m, sizeof m, cp_len, EMAIL_MAX_LENGTH, true);
        else
            snprintf(m, sizeof m, "(when encoded in bytes)");
        say(&r, "The email address is too long %s.", m);
        goto done;
    }
    size_t o = utf8_write(local.c, local.n, out, EMAIL_BUF);
    out[o++] = '@';
    o += utf8_write(domain.c, domain.n, out + o, EMAIL_BUF - o);
    *out_len = o;
    rc = 0;
done:
    free(c);
    free(dom);
    if (rc != 0) {
        out[0] = '\0';
        *reason_len = r.len;
    }
    return rc;
}
