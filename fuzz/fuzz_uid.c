/* libFuzzer target: the UUID parser (src/domain/uid.c) and the path UUID
 * check built on it (validate_path_uuid).
 *
 * The input is a UUID string as a body field or a path segment gives it.
 *
 * Checked, besides the sanitizers:
 *   - accepted: one of the four shapes (32 hex digits; 36 hyphenated; those
 *     36 in braces; after "urn:uuid:"), the same 16 bytes a plain reading of
 *     that shape gives, and uid_format's text reads back to them;
 *   - refused: an explanation of err_len bytes, NUL-terminated there, valid
 *     UTF-8 unless it says "non-UTF8 input"; a smaller buffer holds a prefix
 *     of it (err_len clamped to cap - 1), never more;
 *   - validate_path_uuid agrees, with one "uuid_parsing" item whose ctx.error
 *     is the explanation. */
#include "common.h"

#include "domain/uid.h"
#include "validate/validate.h"

static int hex(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The shapes, read plainly. */
static bool reference_parse(const char *s, size_t len, uint8_t out[16]) {
    if (len == 38 && s[0] == '{' && s[37] == '}')
        s++, len = 36;
    else if (len == 45 && memcmp(s, "urn:uuid:", 9) == 0)
        s += 9, len = 36;
    char digits[32];
    size_t n = 0;
    if (len == 32) {
        memcpy(digits, s, 32);
        n = 32;
    } else if (len == 36) {
        for (size_t i = 0; i < 36; i++) {
            bool hyphen = i == 8 || i == 13 || i == 18 || i == 23;
            if (hyphen != (s[i] == '-')) return false;
            if (!hyphen) digits[n++] = s[i];
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < 16; i++) {
        int hi = hex((unsigned char)digits[2 * i]), lo = hex((unsigned char)digits[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    uid_t16 u;
    char err[256];
    size_t n = 12345;
    uint8_t ref[16];

    int rc = uid_parse_ex(s, size, &u, err, sizeof err, &n);
    bool ok = reference_parse(s, size, ref);
    CHECK((rc == 0) == ok);
    if (rc == 0) {
        CHECK(memcmp(u.b, ref, 16) == 0);
        char text[UID_STR_LEN + 1], canon[UID_STR_LEN + 1];
        uid_format(&u, text);
        CHECK(strlen(text) == UID_STR_LEN);
        uid_t16 back;
        CHECK(uid_parse(text, UID_STR_LEN, &back, NULL, 0) == 0 && memcmp(&back, &u, 16) == 0);
        CHECK(uid_canon(s, size, canon) == 0 && strcmp(canon, text) == 0);
    } else {
        CHECK(rc == -1);
        CHECK(n > 0 && n < sizeof err && err[n] == '\0');
        CHECK(strcmp(err, "non-UTF8 input") == 0 || fz_utf8_valid(err, n));
        /* a smaller buffer: the same text cut short */
        size_t cap = 1 + size % 64;
        char *small = malloc(cap);
        size_t m = 12345;
        CHECK(small && uid_parse_ex(s, size, &u, small, cap, &m) == -1);
        CHECK(m == (n < cap ? n : cap - 1));
        CHECK(memcmp(small, err, m) == 0 && small[m] == '\0');
        free(small);
        CHECK(uid_parse(s, size, &u, NULL, 0) == -1);
    }

    /* as a path segment: a C string, so up to the first NUL */
    char *seg = malloc(size + 1);
    CHECK(seg);
    memcpy(seg, data, size);
    seg[size] = '\0';
    size_t seglen = strlen(seg);
    json_t *errors = json_array();
    char out[ID_BUF];
    bool valid = validate_path_uuid("customer_id", seg, out, errors);
    CHECK(valid == (uid_parse(seg, seglen, &u, NULL, 0) == 0));
    if (valid) {
        char canon[ID_BUF];
        CHECK(json_array_size(errors) == 0);
        CHECK(uid_canon(seg, seglen, canon) == 0 && strcmp(canon, out) == 0);
    } else {
        CHECK(json_array_size(errors) == 1);
        fz_check_errors(errors, "path");
        const json_t *item = json_array_get(errors, 0);
        CHECK(strcmp(json_string_value(json_object_get(item, "type")), "uuid_parsing") == 0);
        size_t en = 0;
        CHECK(uid_parse_ex(seg, seglen, &u, err, sizeof err, &en) == -1);
        const json_t *ce = json_object_get(json_object_get(item, "ctx"), "error");
        CHECK(json_is_string(ce) && json_string_length(ce) == en &&
              memcmp(json_string_value(ce), err, en) == 0);
    }
    json_decref(errors);
    free(seg);
    return 0;
}
