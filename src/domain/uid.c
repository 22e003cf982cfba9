/* uid: UUIDs, parsed as pydantic v2 parses a `uuid.UUID` from a str.
 *
 * pydantic-core calls the Rust uuid crate (1.20): Uuid::parse_str accepts
 * exactly four shapes, chosen by byte length alone: 32 hex digits, 36 with
 * hyphens at 8, 13, 18 and 23, those 36 in braces (38), or after "urn:uuid:"
 * (45, lower case prefix). On failure the crate re-reads what it tried only
 * to explain it (InvalidUuid::into_err); that explanation is copied here,
 * quirks included: a 38- or 45-byte wrapped form is explained from its inner
 * 36 bytes, while other wrapped inputs count the wrapper in indices, and a
 * bad last group is measured as the whole input's length less 24. All of it
 * was checked against pydantic on random inputs. */
#include "domain/uid.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* 16 bytes as hex digit pairs from the `len` bytes at `s`, with a hyphen
 * required at each of the `nh` offsets in `hyphens`. */
static int parse_hex(const char *s, size_t len, const size_t *hyphens, size_t nh, uint8_t *out) {
    size_t k = 0, h = 0;
    for (size_t i = 0; i < len;) {
        if (h < nh && i == hyphens[h]) {
            if (s[i] != '-') return -1;
            h++;
            i++;
            continue;
        }
        int hi = hexval((unsigned char)s[i]),
            lo = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
        if (hi < 0 || lo < 0 || k >= 16) return -1;
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return k == 16 ? 0 : -1;
}

/* Length of the UTF-8 sequence starting at s[i], or 0 if it is malformed. */
static size_t utf8_len(const unsigned char *s, size_t len, size_t i) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > len) return 0;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[i + k] & 0x3f);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* The uuid crate's InvalidUuid::into_err and its Display texts. */
static size_t explain(const char *s, size_t len, char *err, size_t cap) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_len(u, len, i);
        if (n == 0) return (size_t)snprintf(err, cap, "non-UTF8 input");
        i += n;
    }
    size_t off = 0, blen = len;
    int simple = 0;
    if (len >= 2 && s[0] == '{' && s[len - 1] == '}') {
        off = 1;
        blen = len - 2;
    } else if (len >= 9 && memcmp(s, "urn:uuid:", 9) == 0) {
        off = 9;
        blen = len - 9;
    } else {
        simple = 1;
    }
    const char *b = s + off;
    size_t hyphens = 0, bounds[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < blen;) {
        size_t n = utf8_len((const unsigned char *)b, blen, i);
        if (n > 1 || (b[i] != '-' && hexval((unsigned char)b[i]) < 0)) {
            /* The character itself, as UTF-8, and a 1-based byte index. It
             * may be U+0000: the returned length says where the text ends. */
            int head = snprintf(err, cap, "invalid character: found `");
            size_t w = head < 0 ? 0 : (size_t)head;
            for (size_t k = 0; k < n && w + 1 < cap; k++)
                err[w++] = b[i + k];
            if (w < cap) err[w] = '\0';
            int tail = w < cap ? snprintf(err + w, cap - w, "` at %zu", i + off + 1) : 0;
            return w + (tail < 0 ? 0 : (size_t)tail);
        }
        if (b[i] == '-') {
            if (hyphens < 4) bounds[hyphens] = i;
            hyphens++;
        }
        i += n;
    }
    if (hyphens == 0 && simple)
        return (size_t)snprintf(
            err, cap, "invalid length: expected length 32 for simple format, found %zu", len);
    if (hyphens != 4)
        return (size_t)snprintf(err, cap, "invalid group count: expected 5, found %zu",
                                hyphens + 1);
    static const size_t starts[5] = {0, 9, 14, 19, 24};
    static const int expect[5] = {8, 4, 4, 4, 12};
    for (int g = 0; g < 4; g++)
        if (bounds[g] != starts[g + 1] - 1)
            return (size_t)snprintf(err, cap,
                                    "invalid group length in group %d: expected %d, found %zu", g,
                                    expect[g], bounds[g] - starts[g]);
    /* the crate measures the whole input here, wrapper included */
    return (size_t)snprintf(err, cap, "invalid group length in group 4: expected 12, found %zu",
                            len - starts[4]);
}

int uid_parse_ex(const char *s, size_t len, uid_t16 *out, char *err, size_t cap, size_t *err_len) {
    static const size_t hyph[4] = {8, 13, 18, 23};
    uint8_t b[16];
    /* The shape is chosen by length; a braced or urn form is hyphenated
     * inside. When that inner part fails, the crate explains the inner 36
     * bytes, not the whole input (so indices then count from inside). */
    const char *body = NULL;
    if (len == 36)
        body = s;
    else if (len == 38 && s[0] == '{' && s[37] == '}')
        body = s + 1;
    else if (len == 45 && memcmp(s, "urn:uuid:", 9) == 0)
        body = s + 9;
    int rc = len == 32 ? parse_hex(s, 32, hyph, 0, b) : body ? parse_hex(body, 36, hyph, 4, b) : -1;
    if (rc == 0) {
        memcpy(out->b, b, 16);
        return 0;
    }
    size_t n = 0;
    if (err && cap) {
        n = body ? explain(body, 36, err, cap) : explain(s, len, err, cap);
        if (n >= cap) n = cap - 1; /* snprintf's would-be length: clamp to what was written */
    }
    if (err_len) *err_len = n;
    return -1;
}

int uid_parse(const char *s, size_t len, uid_t16 *out, char *err, size_t cap) {
    return uid_parse_ex(s, len, out, err, cap, NULL);
}

void uid_format(const uid_t16 *u, char *out) {
    static const char hex[] = "0123456789abcdef";
    size_t w = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[w++] = '-';
        out[w++] = hex[u->b[i] >> 4];
        out[w++] = hex[u->b[i] & 15];
    }
    out[w] = '\0';
}

int uid_canon(const char *s, size_t len, char *out37) {
    uid_t16 u;
    if (uid_parse(s, len, &u, NULL, 0) != 0) return -1;
    uid_format(&u, out37);
    return 0;
}

int uid_random_bytes(void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += got; /* large requests may come back short */
        n -= (size_t)got;
    }
    return 0;
}

int uid_new_v4_pooled(uid_t16 *out) {
    /* getrandom() bytes, taken 4 KiB at a time per thread: one system call
     * per 256 ids instead of one per id (a request id per request showed in
     * the GET profile); no lock, unlike v7's ordering */
    static __thread unsigned char pool[4096];
    static __thread size_t left;
    if (left < 16) {
        if (uid_random_bytes(pool, sizeof pool) != 0) return -1;
        left = sizeof pool;
    }
    memcpy(out->b, pool + sizeof pool - left, 16);
    memset(pool + sizeof pool - left, 0, 16); /* used bytes do not linger */
    left -= 16;
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40); /* version 4 */
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80); /* variant 10 */
    return 0;
}

int uid_new_v4(uid_t16 *out) {
    if (uid_random_bytes(out->b, 16) != 0) return -1;
    out->b[6] = (uint8_t)((out->b[6] & 0x0f) | 0x40); /* version 4 */
    out->b[8] = (uint8_t)((out->b[8] & 0x3f) | 0x80); /* variant 10 */
    return 0;
}

/* RFC 9562 section 6.2, method 1 in spirit: within one millisecond (or if
 * the clock steps back) the 74 random bits of the previous id are counted up
 * by one, so ids made by this process are strictly increasing. */
static pthread_mutex_t v7_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t v7_last_ms;
static uint8_t v7_last[16];

static int v7_increment(uint8_t *b) {
    /* the 74 counter bits: low nibble of b[6], b[7], low 6 bits of b[8], b[9..15] */
    for (int i = 15; i >= 6; i--) {
        uint8_t mask = i == 6 ? 0x0f : i == 8 ? 0x3f : 0xff;
        uint8_t v = (uint8_t)((b[i] & mask) + 1);
        if ((v & mask) != 0) {
            b[i] = (uint8_t)((b[i] & ~mask) | (v & mask));
            return 0;
        }
        b[i] &= (uint8_t)~mask;
    }
    return -1; /* wrapped: all 74 bits were ones */
}

int uid_new_v7(uid_t16 *out) {
    uint8_t b[16];
    if (uid_random_bytes(b, 16) != 0) return -1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x70); /* version 7 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* variant 10 */

    pthread_mutex_lock(&v7_lock);
    if (ms <= v7_last_ms) {
        ms = v7_last_ms;
        memcpy(b, v7_last, 16);
        if (v7_increment(b) != 0) ms++; /* 2^74 ids in a millisecond: borrow the next one */
    }
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (40 - 8 * i)); /* 48-bit big-endian */
    v7_last_ms = ms;
    memcpy(v7_last, b, 16);
    pthread_mutex_unlock(&v7_lock);

    memcpy(out->b, b, 16);
    return 0;
}
