/* Unit tests of src/validate/pyjson.c.
 *
 * 1. Every vector of tests/vectors/json_invalid.json (made from Python's own
 *    json.loads by tools/gen_json_vectors.py): same outcome, same msg and
 *    code-point pos, same value.
 * 2. Tables of the values built: duplicate keys, \u0000, surrogate pairs,
 *    numbers, big numbers.
 * 3. Allocation failures: fail the Nth allocation, for every N, and check the
 *    answer is PYJSON_NOMEM and nothing leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate/pyjson.h"

#ifndef ENTITLED_SOURCE_DIR
#define ENTITLED_SOURCE_DIR "."
#endif

/* ---- a counting allocator that can be told to fail ------------------------ */

static long alloc_live;    /* allocations not yet freed */
static long alloc_count;   /* allocations made since the last reset */
static long alloc_fail_at; /* fail the allocation with this number (1-based); 0: never */
static int alloc_failed;

static void *test_malloc_fn(size_t size) {
    size_t *p;

    alloc_count++;
    if (alloc_fail_at && alloc_count == alloc_fail_at) {
        alloc_failed = 1;
        return NULL;
    }
    p = malloc(size + sizeof(size_t) * 2);
    if (!p) return NULL;
    p[0] = 0x5eed;
    alloc_live++;
    return p + 2;
}

static void test_free_fn(void *ptr) {
    size_t *p;

    if (!ptr) return;
    p = (size_t *)ptr - 2;
    assert_int_equal(p[0], 0x5eed);
    p[0] = 0;
    alloc_live--;
    free(p);
}

static int group_setup(void **state) {
    (void)state;
    json_set_alloc_funcs(test_malloc_fn, test_free_fn);
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static json_t *parse_ok(const char *doc) {
    json_t *v = NULL;
    pyjson_error err;
    enum pyjson_rc rc = pyjson_parse(doc, strlen(doc), &v, &err);

    if (rc != PYJSON_OK) fail_msg("%s: rc %d (%s at %zu)", doc, rc, err.msg, err.pos);
    assert_non_null(v);
    return v;
}

/* A copy of `v` with every big-number stand-in as {"$big": text}, the form
 * the vectors use. */
static json_t *comparable(const json_t *v) {
    const char *big = pyjson_big_text(v);

    if (big) return json_pack("{s:s}", "$big", big);
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *key;
        size_t klen;
        json_t *item;

        assert_non_null(o);
        json_object_keylen_foreach((json_t *)v, key, klen, item) {
            assert_int_equal(json_object_setn_new(o, key, klen, comparable(item)), 0);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *item;

        assert_non_null(a);
        json_array_foreach(v, i, item) {
            assert_int_equal(json_array_append_new(a, comparable(item)), 0);
        }
        return a;
    }
    return json_deep_copy(v);
}

static unsigned char *b64_decode(const char *in, size_t *outlen) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(in), i, w = 0;
    unsigned acc = 0;
    int bits = 0;
    unsigned char *out = malloc(n / 4 * 3 + 3);

    assert_non_null(out);
    for (i = 0; i < n && in[i] != '='; i++) {
        const char *c = strchr(tbl, in[i]);

        assert_non_null(c);
        acc = acc << 6 | (unsigned)(c - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[w++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = w;
    return out;
}

static const char *rc_name(enum pyjson_rc rc) {
    switch (rc) {
    case PYJSON_OK:
        return "ok";
    case PYJSON_INVALID:
        return "invalid";
    case PYJSON_NOT_UTF8:
        return "not_utf8";
    case PYJSON_TOO_DEEP:
        return "too_deep";
    case PYJSON_NOMEM:
        return "nomem";
    }
    return "?";
}

/* ---- 1. the vectors ------------------------------------------------------- */

static void test_vectors(void **state) {
    json_error_t jerr;
    json_t *file, *vectors, *vec;
    size_t idx;
    int failures = 0;

    (void)state;
    file = json_load_file(ENTITLED_SOURCE_DIR "/tests/vectors/json_invalid.json", JSON_ALLOW_NUL,
                          &jerr);
    if (!file) fail_msg("json_invalid.json: %s (line %d)", jerr.text, jerr.line);
    vectors = json_object_get(file, "vectors");
    assert_true(json_array_size(vectors) >= 120);

    json_array_foreach(vectors, idx, vec) {
        const char *name = json_string_value(json_object_get(vec, "name"));
        json_t *expect = json_object_get(vec, "expect");
        const char *want_rc = json_string_value(json_object_get(expect, "rc"));
        json_t *doc = json_object_get(vec, "doc");
        unsigned char *bytes = NULL;
        const char *buf;
        size_t len;
        json_t *v = NULL;
        pyjson_error err;
        enum pyjson_rc rc;

        if (doc) {
            buf = json_string_value(doc);
            len = json_string_length(doc);
        } else {
            bytes = b64_decode(json_string_value(json_object_get(vec, "doc_b64")), &len);
            buf = (const char *)bytes;
        }
        rc = pyjson_parse(buf, len, &v, &err);
        if (strcmp(rc_name(rc), want_rc) != 0) {
            print_error("vector \"%s\": rc %s (%s at %zu), want %s\n", name, rc_name(rc), err.msg,
                        err.pos, want_rc);
            failures++;
        } else if (rc == PYJSON_INVALID) {
            const char *want_msg = json_string_value(json_object_get(expect, "msg"));
            size_t want_pos = (size_t)json_integer_value(json_object_get(expect, "pos"));

            if (strcmp(err.msg, want_msg) != 0 || err.pos != want_pos) {
                print_error("vector \"%s\": \"%s\" at %zu, want \"%s\" at %zu\n", name, err.msg,
                            err.pos, want_msg, want_pos);
                failures++;
            }
        } else if (rc == PYJSON_OK && json_object_get(expect, "value")) {
            json_t *got = comparable(v);

            if (!json_equal(got, json_object_get(expect, "value"))) {
                char *g = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);

                print_error("vector \"%s\": value %.200s differs\n", name, g ? g : "?");
                free(g);
                failures++;
            }
            json_decref(got);
        }
        if (rc != PYJSON_OK) assert_null(v);
        json_decref(v);
        free(bytes);
    }
    json_decref(file);
    assert_int_equal(failures, 0);
}

/* ---- 2. values ------------------------------------------------------------ */

static void test_duplicate_keys_keep_last_at_first_place(void **state) {
    json_t *v = parse_ok("{\"a\": 1, \"b\": 2, \"a\": 3}");
    void *it;

    (void)state;
    assert_int_equal(json_object_size(v), 2);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 3);
    it = json_object_iter(v);
    assert_string_equal(json_object_iter_key(it), "a");
    it = json_object_iter_next(v, it);
    assert_string_equal(json_object_iter_key(it), "b");
    json_decref(v);
}

static void test_nul_in_strings_and_keys(void **state) {
    json_t *v = parse_ok("{\"k\\u0000ey\": \"a\\u0000b\", \"k\": \"x\"}");
    json_t *s;

    (void)state;
    assert_int_equal(json_object_size(v), 2);
    s = json_object_getn(v, "k\0ey", 4);
    assert_non_null(s);
    assert_int_equal(json_string_length(s), 3);
    assert_memory_equal(json_string_value(s), "a\0b", 3);
    json_decref(v);
}

static void test_escapes_decode_to_utf8(void **state) {
    static const struct {
        const char *doc;
        const char *utf8;
    } cases[] = {
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80"},
        {"\"\\uD834\\uDD1E!\"", "\xf0\x9d\x84\x9e!"},
        {"\"\\u00e9t\\u00C9\"", "\xc3\xa9t\xc3\x89"},
        {"\"\\u20ac\"", "\xe2\x82\xac"},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"},
        {"\"caf\xc3\xa9 \\n \xf0\x9f\x8e\x89\"", "caf\xc3\xa9 \n \xf0\x9f\x8e\x89"},
        {"\"\\u0041\\u0042\"", "AB"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = parse_ok(cases[i].doc);

        assert_true(json_is_string(v));
        assert_int_equal(json_string_length(v), strlen(cases[i].utf8));
        assert_memory_equal(json_string_value(v), cases[i].utf8, strlen(cases[i].utf8));
        json_decref(v);
    }
}

static void test_numbers(void **state) {
    json_t *v;

    (void)state;
    v = parse_ok("-0");
    assert_true(json_is_integer(v));
    assert_int_equal(json_integer_value(v), 0);
    json_decref(v);

    v = parse_ok("-0.0");
    assert_true(json_is_real(v));
    assert_true(signbit(json_real_value(v)));
    json_decref(v);

    v = parse_ok("[9223372036854775807, -9223372036854775808, 1E+2, 12.5, 1e-400, 5e-324]");
    assert_true(json_integer_value(json_array_get(v, 0)) == INT64_MAX);
    assert_true(json_integer_value(json_array_get(v, 1)) == INT64_MIN);
    assert_true(json_is_real(json_array_get(v, 2)));
    assert_true(json_real_value(json_array_get(v, 2)) == 100.0);
    assert_true(json_real_value(json_array_get(v, 3)) == 12.5);
    assert_true(json_real_value(json_array_get(v, 4)) == 0.0);
    assert_true(json_real_value(json_array_get(v, 5)) > 0.0);
    json_decref(v);

    /* a real literal longer than the parser's stack buffer */
    v = parse_ok("0.100000000000000000000000000000000000000000000000000000000000000000000001");
    assert_true(json_real_value(v) == 0.1);
    json_decref(v);
}

static void test_big_numbers(void **state) {
    static const struct {
        const char *doc;
        int is_int;
    } cases[] = {
        {"9223372036854775808", 1},
        {"-9223372036854775809", 1},
        {"10000000000000000000000", 1},
        {"1e400", 0},
        {"-1e400", 0},
        {"1.5E+309", 0},
        {"1e99999999999999999999", 0},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = parse_ok(cases[i].doc);
        char *dumped;

        assert_true(pyjson_is_big(v));
        assert_string_equal(pyjson_big_text(v), cases[i].doc);
        assert_int_equal(pyjson_big_is_integer(v), cases[i].is_int);
        /* a stand-in cannot be written by mistake */
        dumped = json_dumps(v, JSON_ENCODE_ANY);
        assert_null(dumped);
        json_decref(v);
    }

    /* inside a body, and not forgeable from JSON */
    {
        json_t *v = parse_ok("{\"quantity\": 1e400, \"\\u00ffpyjson-big\": \"1\", "
                             "\"x\": {\"\\u00ffpyjson-big\": \"1\"}, \"n\": 1e308}");

        assert_true(pyjson_is_big(json_object_get(v, "quantity")));
        assert_false(pyjson_is_big(json_object_get(v, "x")));
        assert_null(pyjson_big_text(json_object_get(v, "x")));
        assert_false(pyjson_is_big(json_object_get(v, "n")));
        assert_false(pyjson_is_big(v));
        assert_false(pyjson_is_big(NULL));
        assert_false(pyjson_big_is_integer(json_object_get(v, "n")));
        json_decref(v);
    }
}

static void test_errors_and_arguments(void **state) {
    json_t *v = (json_t *)1;
    pyjson_error err;

    (void)state;
    assert_int_equal(pyjson_parse(NULL, 0, &v, &err), PYJSON_INVALID);
    assert_null(v);
    assert_string_equal(err.msg, "Expecting value");
    assert_int_equal(err.pos, 0);

    /* err may be NULL */
    assert_int_equal(pyjson_parse("[1,]", 4, &v, NULL), PYJSON_INVALID);
    assert_int_equal(pyjson_parse("[1]", 3, &v, NULL), PYJSON_OK);
    json_decref(v);

    /* the length is honoured: no NUL terminator is needed or read */
    assert_int_equal(pyjson_parse("[1]xyz", 3, &v, &err), PYJSON_OK);
    json_decref(v);
    assert_int_equal(pyjson_parse("[1]xyz", 4, &v, &err), PYJSON_INVALID);
    assert_string_equal(err.msg, "Extra data");
    assert_int_equal(err.pos, 3);

    /* positions count code points: "é" and "🎉" are one each */
    assert_int_equal(pyjson_parse("[\"\xc3\xa9\xf0\x9f\x8e\x89\" x]", 13, &v, &err),
                     PYJSON_INVALID);
    assert_string_equal(err.msg, "Expecting ',' delimiter");
    assert_int_equal(err.pos, 6);

    assert_int_equal(pyjson_parse("\xff", 1, &v, &err), PYJSON_NOT_UTF8);
    assert_null(v);
}

static void test_depth_limit(void **state) {
    char doc[2 * (PYJSON_MAX_DEPTH + 1) + 1];
    json_t *v = NULL;
    pyjson_error err;
    int d;

    (void)state;
    for (d = 0; d < PYJSON_MAX_DEPTH; d++) {
        doc[d] = '[';
        doc[2 * PYJSON_MAX_DEPTH - 1 - d] = ']';
    }
    assert_int_equal(pyjson_parse(doc, 2 * PYJSON_MAX_DEPTH, &v, &err), PYJSON_OK);
    json_decref(v);
    for (d = 0; d < PYJSON_MAX_DEPTH + 1; d++) {
        doc[d] = '[';
        doc[2 * PYJSON_MAX_DEPTH + 1 - d] = ']';
    }
    assert_int_equal(pyjson_parse(doc, 2 * PYJSON_MAX_DEPTH + 2, &v, &err), PYJSON_TOO_DEEP);
    assert_null(v);
    assert_int_equal(err.pos, PYJSON_MAX_DEPTH);
}

/* ---- 3. allocation failures ----------------------------------------------- */

static void test_allocation_failures(void **state) {
    static const struct {
        const char *doc;
        size_t len;
    } docs[] = {
#define D(s) {s, sizeof(s) - 1}
        D("{\"entitlement\": \"e\\u00e9\", \"customer\": \"c\", \"quantity\": 12.5, "
          "\"a\": [1, 2, {\"b\": null}], \"big\": 1e400, \"int\": 100000000000000000000, "
          "\"long\": 0.1000000000000000000000000000000000000000000000000000000000000000000001}"),
        D("[\"\\ud83d\\ude00\", \"x\\ny\", {\"k\\u0000\": true}, [[], {}]]"),
        D("\xff\xfe{\x00\"\x00a\x00\"\x00:\x00[\x00\"\x00\\\x00n\x00\"\x00]\x00}\x00"),
        D("\xef\xbb\xbf{\"a\": {\"a\": {\"a\": 1, \"a\": 2}}}"),
        D("\"\\ud800\""), /* refused after the scan, whatever the allocations */
        D("[1, 2, 3, \"\\u0041\" x]"),
#undef D
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        json_t *v = NULL;
        pyjson_error err;
        enum pyjson_rc want, rc;
        long live0 = alloc_live, n;

        alloc_fail_at = 0;
        alloc_count = 0;
        want = pyjson_parse(docs[i].doc, docs[i].len, &v, &err);
        assert_int_not_equal(want, PYJSON_NOMEM);
        json_decref(v);
        assert_int_equal(alloc_live, live0);

        for (n = 1;; n++) {
            alloc_fail_at = n;
            alloc_count = 0;
            alloc_failed = 0;
            v = NULL;
            rc = pyjson_parse(docs[i].doc, docs[i].len, &v, &err);
            if (!alloc_failed) {
                assert_int_equal(rc, want);
                json_decref(v);
                assert_int_equal(alloc_live, live0);
                break;
            }
            /* a failed allocation is always reported, never half a value */
            if (rc != PYJSON_NOMEM)
                fail_msg("doc %zu, allocation %ld failed: rc %s", i, n, rc_name(rc));
            assert_null(v);
            assert_int_equal(alloc_live, live0);
        }
        alloc_fail_at = 0;
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_duplicate_keys_keep_last_at_first_place),
        cmocka_unit_test(test_nul_in_strings_and_keys),
        cmocka_unit_test(test_escapes_decode_to_utf8),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_big_numbers),
        cmocka_unit_test(test_errors_and_arguments),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_allocation_failures),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
