/* libFuzzer target for src/validate/pyjson.c, the JSON reader of request
 * bodies. Built and run by `make fuzz` (fuzz/README.md).
 *
 * Besides the sanitizers' own checks, every answer must hold together:
 *   - a known code; *out set exactly on PYJSON_OK; never PYJSON_NOMEM;
 *   - an error position inside the document (in code points, <= its length);
 *   - a built value no deeper than PYJSON_MAX_DEPTH, its strings and keys
 *     valid UTF-8 (no lone surrogate), big numbers only as stand-ins whose
 *     text is a JSON number;
 *   - what jansson writes back parses to an equal value. */
#include "common.h"

static int big_text_ok(const char *t) {
    /* -?digits[.digits][(e|E)[+-]digits] */
    size_t i = 0;

    if (t[i] == '-') i++;
    if (t[i] < '0' || t[i] > '9') return 0;
    while (t[i] >= '0' && t[i] <= '9')
        i++;
    if (t[i] == '.') {
        i++;
        if (t[i] < '0' || t[i] > '9') return 0;
        while (t[i] >= '0' && t[i] <= '9')
            i++;
    }
    if (t[i] == 'e' || t[i] == 'E') {
        i++;
        if (t[i] == '+' || t[i] == '-') i++;
        if (t[i] < '0' || t[i] > '9') return 0;
        while (t[i] >= '0' && t[i] <= '9')
            i++;
    }
    return t[i] == '\0';
}

/* Checks `v`; returns 1 when it can be round-tripped through json_dumps
 * (no big number, no key holding NUL, which jansson 2.14 cannot write). */
static int check_value(const json_t *v, int depth) {
    const char *big = pyjson_big_text(v);
    int plain = 1;

    CHECK(depth <= PYJSON_MAX_DEPTH + 1);
    if (big) {
        CHECK(pyjson_is_big(v));
        CHECK(big_text_ok(big));
        return 0;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *item;

        CHECK(depth < PYJSON_MAX_DEPTH + 1);
        json_object_keylen_foreach((json_t *)v, key, klen, item) {
            CHECK(fz_utf8_valid(key, klen));
            if (memchr(key, '\0', klen)) plain = 0;
            plain &= check_value(item, depth + 1);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *item;

        CHECK(depth < PYJSON_MAX_DEPTH + 1);
        json_array_foreach(v, i, item) {
            plain &= check_value(item, depth + 1);
        }
        break;
    }
    case JSON_STRING:
        CHECK(fz_utf8_valid(json_string_value(v), json_string_length(v)));
        break;
    case JSON_REAL:
        CHECK(json_real_value(v) == json_real_value(v)); /* not NaN */
        break;
    default:
        break;
    }
    return plain;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *v = (json_t *)&v; /* must be overwritten */
    pyjson_error err;
    enum pyjson_rc rc = pyjson_parse((const char *)data, size, &v, &err);

    CHECK(rc == PYJSON_OK || rc == PYJSON_INVALID || rc == PYJSON_NOT_UTF8 ||
          rc == PYJSON_TOO_DEEP);
    if (rc != PYJSON_OK) {
        CHECK(v == NULL);
        CHECK(err.msg[0] != '\0');
        /* every encoding decodes to at most one code point per byte */
        if (rc == PYJSON_INVALID) CHECK(err.pos <= size);
        return 0;
    }
    CHECK(v != NULL);
    if (check_value(v, 0)) {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_t *back = NULL;

        CHECK(text != NULL);
        CHECK(pyjson_parse(text, strlen(text), &back, &err) == PYJSON_OK);
        CHECK(json_equal(v, back));
        json_decref(back);
        free(text);
    }
    json_decref(v);
    return 0;
}
