/* uid: every case of tests/vectors/uuid.json (made from pydantic by
 * tools/gen_domain_vectors.py), then formatting and the generators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "domain/uid.h"

#define VECTORS ENTITLED_SOURCE_DIR "/tests/vectors/uuid.json"

static void test_vectors(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *cases = json_load_file(VECTORS, JSON_ALLOW_NUL, &jerr);
    if (!cases) fail_msg("%s:%d: %s", VECTORS, jerr.line, jerr.text);
    assert_true(json_array_size(cases) >= 60);
    size_t i, failures = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        json_t *in = json_object_get(c, "input");
        uid_t16 u;
        char err[256], got[300], text[UID_STR_LEN + 1];
        size_t err_len = 0;
        const char *why = NULL;
        int rc = uid_parse_ex(json_string_value(in), json_string_length(in), &u, err, sizeof err,
                              &err_len);
        int want_ok = json_is_true(json_object_get(c, "ok"));
        if (rc == 0) {
            uid_format(&u, text);
            snprintf(got, sizeof got, "ok %s", text);
            const char *expect = json_string_value(json_object_get(c, "expect"));
            if (!want_ok)
                why = "accepted, pydantic refuses";
            else if (!expect || strcmp(text, expect) != 0)
                why = "wrong value";
        } else {
            /* the text may quote U+0000, so compare by length */
            json_t *ctx = json_object_get(c, "error");
            json_t *mine = json_stringn(err, err_len);
            char *shown = json_dumps(mine, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
            snprintf(got, sizeof got, "error %s", shown ? shown : "?");
            free(shown);
            if (want_ok)
                why = "refused, pydantic accepts";
            else if (!json_equal(mine, ctx))
                why = "wrong error text";
            else if (strcmp(json_string_value(json_object_get(c, "type")), "uuid_parsing") != 0)
                why = "vector is not uuid_parsing";
            json_decref(mine);
        }
        if (why) {
            char *shown = json_dumps(in, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
            char *want = json_dumps(c, JSON_COMPACT | JSON_ENSURE_ASCII);
            print_error("uuid case %zu, input %s: %s\n  got:  %s\n  want: %s\n", i,
                        shown ? shown : "?", why, got, want ? want : "?");
            free(shown);
            free(want);
            failures++;
        }
    }
    json_decref(cases);
    assert_int_equal(failures, 0);
}

static void test_format_and_canon(void **state) {
    (void)state;
    char out[UID_STR_LEN + 1];
    assert_int_equal(uid_canon("F9168C5E-CEB2-4FAA-B6BF-329BF39FA1E4", 36, out), 0);
    assert_string_equal(out, "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4");
    assert_int_equal(uid_canon("{F9168C5E-CEB2-4FAA-B6BF-329BF39FA1E4}", 38, out), 0);
    assert_string_equal(out, "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4");
    assert_int_equal(uid_canon("urn:uuid:f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4", 45, out), 0);
    assert_string_equal(out, "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4");
    assert_int_equal(uid_canon("F9168C5ECEB24FAAB6BF329BF39FA1E4", 32, out), 0);
    assert_string_equal(out, "f9168c5e-ceb2-4faa-b6bf-329bf39fa1e4");
    assert_int_equal(uid_canon("f9168c5e-ceb2-4faa-b6bf-329bf39fa1e", 35, out), -1);

    uid_t16 u;
    for (int i = 0; i < 16; i++)
        u.b[i] = (uint8_t)(i * 17);
    uid_format(&u, out);
    assert_string_equal(out, "00112233-4455-6677-8899-aabbccddeeff");
    uid_t16 back;
    assert_int_equal(uid_parse(out, strlen(out), &back, NULL, 0), 0);
    assert_memory_equal(u.b, back.b, 16);
}

static void test_error_edges(void **state) {
    (void)state;
    uid_t16 u;
    char err[64];
    size_t n;
    /* U+0000 is quoted as is; the length covers it */
    assert_int_equal(uid_parse_ex("\0", 1, &u, err, sizeof err, &n), -1);
    assert_int_equal(n, strlen("invalid character: found `") + 1 + strlen("` at 1"));
    assert_memory_equal(err, "invalid character: found `\0` at 1", n);
    /* invalid UTF-8 (cannot come from a Python str, but can from a URL) */
    assert_int_equal(uid_parse("\xff", 1, &u, err, sizeof err), -1);
    assert_string_equal(err, "non-UTF8 input");
    /* a small buffer truncates, NUL-terminated */
    char tiny[8];
    assert_int_equal(uid_parse_ex("abc", 3, &u, tiny, sizeof tiny, &n), -1);
    assert_int_equal(n, 7);
    assert_string_equal(tiny, "invalid");
    assert_int_equal(uid_parse("abc", 3, &u, NULL, 0), -1);
}

static void test_v4(void **state) {
    (void)state;
    uid_t16 a, b;
    assert_int_equal(uid_new_v4(&a), 0);
    assert_int_equal(uid_new_v4(&b), 0);
    assert_int_equal(a.b[6] >> 4, 4);
    assert_int_equal(a.b[8] >> 6, 2);
    assert_memory_not_equal(a.b, b.b, 16);
}

static uint64_t ms_of(const uid_t16 *u) {
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | u->b[i];
    return ms;
}

static void test_v7(void **state) {
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    uid_t16 prev, cur;
    assert_int_equal(uid_new_v7(&prev), 0);
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(uid_new_v7(&cur), 0);
        if (cur.b[6] >> 4 != 7 || cur.b[8] >> 6 != 2) fail_msg("id %d: bad version/variant", i);
        /* byte order is the sort order of the text form and of a BLOB key */
        if (memcmp(prev.b, cur.b, 16) >= 0) {
            char p[UID_STR_LEN + 1], c[UID_STR_LEN + 1];
            uid_format(&prev, p);
            uid_format(&cur, c);
            fail_msg("id %d not increasing: %s then %s", i, p, c);
        }
        prev = cur;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t after = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    uid_t16 first;
    assert_int_equal(uid_new_v7(&first), 0);
    /* the clock is the id's; the counter may borrow a few ms ahead */
    assert_true(ms_of(&first) >= before);
    assert_true(ms_of(&first) <= after + 1000);
}

static void test_random_bytes(void **state) {
    (void)state;
    size_t n = 1 << 20; /* more than one getrandom call may return */
    unsigned char *buf = calloc(1, n);
    assert_non_null(buf);
    assert_int_equal(uid_random_bytes(buf, n), 0);
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        zeros += buf[i] == 0;
    assert_true(zeros < n / 128); /* about n / 256 expected */
    free(buf);
    assert_int_equal(uid_random_bytes(NULL, 0), 0);
}

/* pooled v4 ids: version and variant bits set, no repeats over several
 * refills of the per-thread pool */
static void test_v4_pooled(void **state) {
    (void)state;
    enum { N = 1000 };
    static uid_t16 ids[N];
    for (int i = 0; i < N; i++) {
        assert_int_equal(uid_new_v4_pooled(&ids[i]), 0);
        assert_int_equal(ids[i].b[6] >> 4, 4);
        assert_int_equal(ids[i].b[8] >> 6, 2);
        for (int k = 0; k < i; k++)
            assert_memory_not_equal(ids[i].b, ids[k].b, 16);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_pooled),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_format_and_canon),
        cmocka_unit_test(test_error_edges),
        cmocka_unit_test(test_v4),
        cmocka_unit_test(test_v7),
        cmocka_unit_test(test_random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
