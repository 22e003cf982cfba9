/* dt: every case of tests/vectors/datetime.json (made from pydantic by
 * tools/gen_domain_vectors.py), then format round trips and edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "domain/dt.h"

#define VECTORS ENTITLED_SOURCE_DIR "/tests/vectors/datetime.json"

/* The input as JSON text, for messages (caller frees). */
static char *show(json_t *v) {
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    return s ? s : strdup("?");
}

/* Runs one case; returns NULL when it agrees with pydantic, else a static
 * description of the disagreement. */
static const char *run_case(json_t *c, char *got, size_t gotcap) {
    const char *kind = json_string_value(json_object_get(c, "kind"));
    json_t *in = json_object_get(c, "input");
    int64_t t = 0;
    dt_error e;
    memset(&e, 0, sizeof e);
    int rc;
    if (!kind) return "case without kind";
    if (strcmp(kind, "str") == 0) {
        rc = dt_parse_str(json_string_value(in), json_string_length(in), &t, &e);
    } else if (strcmp(kind, "int") == 0) {
        rc = dt_from_int((int64_t)json_integer_value(in), &t, &e);
    } else if (strcmp(kind, "bigint") == 0) {
        rc = dt_from_int_text(json_string_value(in), json_string_length(in), &t, &e);
    } else if (strcmp(kind, "float") == 0) {
        double d = json_is_string(in) ? strtod(json_string_value(in), NULL) : json_real_value(in);
        rc = dt_from_double(d, &t, &e);
    } else {
        return "unknown kind";
    }

    int want_ok = json_is_true(json_object_get(c, "ok"));
    if (rc == 0) {
        char buf[DT_FORMAT_MAX];
        dt_format(t, buf);
        snprintf(got, gotcap, "ok %s", buf);
        if (!want_ok) return "accepted, pydantic refuses";
        const char *expect = json_string_value(json_object_get(c, "expect"));
        return expect && strcmp(buf, expect) == 0 ? NULL : "wrong instant";
    }
    snprintf(got, gotcap, "%s | %s | %s", e.type, e.msg, e.ctx_error);
    if (want_ok) return "refused, pydantic accepts";
    const char *type = json_string_value(json_object_get(c, "type"));
    const char *msg = json_string_value(json_object_get(c, "msg"));
    const char *ctx = json_string_value(json_object_get(c, "error")); /* NULL: no ctx */
    if (!type || strcmp(e.type, type) != 0) return "wrong type";
    if (!msg || strcmp(e.msg, msg) != 0) return "wrong msg";
    if (strcmp(e.ctx_error, ctx ? ctx : "") != 0) return "wrong ctx error";
    return NULL;
}

static void test_vectors(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *cases = json_load_file(VECTORS, JSON_ALLOW_NUL, &jerr);
    if (!cases) fail_msg("%s:%d: %s", VECTORS, jerr.line, jerr.text);
    assert_true(json_array_size(cases) >= 150);
    size_t i, failures = 0;
    json_t *c;
    json_array_foreach(cases, i, c) {
        char got[400];
        got[0] = '\0';
        const char *why = run_case(c, got, sizeof got);
        if (why) {
            char *in = show(json_object_get(c, "input"));
            char *want = json_dumps(c, JSON_COMPACT | JSON_ENSURE_ASCII);
            print_error("datetime case %zu, input %s: %s\n  got:  %s\n  want: %s\n", i, in, why,
                        got, want ? want : "?");
            free(in);
            free(want);
            failures++;
        }
    }
    json_decref(cases);
    assert_int_equal(failures, 0);
}

/* Written forms read back to the same text. */
static void test_format_round_trip(void **state) {
    (void)state;
    static const char *const canon[] = {
        "2026-01-31T12:00:00Z",        "2026-01-31T12:00:00.500000Z", "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59Z",        "1900-03-01T00:00:00.000001Z",
        "2000-02-29T23:59:59Z",        "0001-01-01T00:00:00Z",        "9999-12-31T23:59:59.999999Z",
        "1600-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        int64_t t;
        dt_error e;
        char buf[DT_FORMAT_MAX];
        if (dt_parse_str(canon[i], strlen(canon[i]), &t, &e) != 0)
            fail_msg("%s refused: %s", canon[i], e.msg);
        size_t n = dt_format(t, buf);
        assert_int_equal(n, strlen(buf));
        if (strcmp(buf, canon[i]) != 0) fail_msg("%s came back as %s", canon[i], buf);
    }
}

/* Inputs in other shapes, and the text they are written as. */
static void test_format_normalises(void **state) {
    (void)state;
    static const char *const pairs[][2] = {
        {"2026-01-31T17:30:00+05:30", "2026-01-31T12:00:00Z"},
        {"2026-01-31T04:00:00-0800", "2026-01-31T12:00:00Z"},
        {"2026-01-31 12:00", "2026-01-31T12:00:00Z"},
        {"2026-01-31", "2026-01-31T00:00:00Z"},
        {"2026-01-31T12:00:00.1234567z", "2026-01-31T12:00:00.123456Z"},
        {"2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00Z"},
        {"9999-12-31T23:59:59-01:00", "10000-01-01T00:59:59Z"},
        {"0001-01-01T00:00:00+00:01", "0000-12-31T23:59:00Z"},
        {"1700000000", "2023-11-14T22:13:20Z"},
        {"-1.5", "1969-12-31T23:59:58.500000Z"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        int64_t t;
        dt_error e;
        char buf[DT_FORMAT_MAX];
        if (dt_parse_str(pairs[i][0], strlen(pairs[i][0]), &t, &e) != 0)
            fail_msg("%s refused: %s", pairs[i][0], e.msg);
        dt_format(t, buf);
        if (strcmp(buf, pairs[i][1]) != 0)
            fail_msg("%s written %s, want %s", pairs[i][0], buf, pairs[i][1]);
    }
}

/* Random instants across the whole accepted range survive format + parse. */
static void test_random_round_trip(void **state) {
    (void)state;
    const int64_t lo = INT64_C(-62135596800000000); /* 0001-01-01 */
    const int64_t hi = INT64_C(253402300799999999); /* 9999-12-31T23:59:59.999999 */
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        int64_t t = lo + (int64_t)(x % (uint64_t)(hi - lo + 1));
        if (i % 3 == 0) t -= t % 1000000; /* whole seconds too */
        char buf[DT_FORMAT_MAX];
        size_t n = dt_format(t, buf);
        int64_t back;
        dt_error e;
        if (dt_parse_str(buf, n, &back, &e) != 0) fail_msg("%s refused: %s", buf, e.msg);
        if (back != t) fail_msg("%lld -> %s -> %lld", (long long)t, buf, (long long)back);
    }
}

static void test_format_extremes(void **state) {
    (void)state;
    char buf[DT_FORMAT_MAX];
    assert_true(dt_format(INT64_MAX, buf) < DT_FORMAT_MAX);
    assert_string_equal(buf, "294247-01-10T04:00:54.775807Z");
    assert_true(dt_format(INT64_MIN, buf) < DT_FORMAT_MAX);
    assert_string_equal(buf, "-290308-12-21T19:59:05.224192Z");
    dt_format(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    dt_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

/* Numbers: the JSON-side entry points, beyond what the vectors hold. */
static void test_numbers(void **state) {
    (void)state;
    int64_t t;
    dt_error e;
    assert_int_equal(dt_from_int(INT64_MIN, &t, &e), -1);
    assert_string_equal(e.ctx_error, "dates before 0000 are not supported as unix timestamps");
    assert_int_equal(dt_from_int_text("-9223372036854775808", 20, &t, &e), -1);
    assert_string_equal(e.type, "datetime_parsing");
    assert_int_equal(dt_from_int_text("1700000000", 10, &t, &e), 0);
    assert_int_equal(t, INT64_C(1700000000000000));
    assert_int_equal(dt_from_int_text("-0", 2, &t, &e), 0);
    assert_int_equal(t, 0);
    assert_int_equal(dt_from_int_text("9223372036854775808", 19, &t, &e), -1);
    assert_string_equal(
        e.msg,
        "Input should be a valid datetime, dates after 9999 are not supported as unix timestamps");
    dt_error_int_too_big(0, 1, &e);
    assert_string_equal(e.type, "datetime_type");
    assert_string_equal(e.msg, "Input should be a valid datetime");
    assert_string_equal(e.ctx_error, "");
    assert_int_equal(dt_from_double(NAN, &t, &e), -1);
    assert_string_equal(e.msg, "Input should be a valid datetime, NaN values not permitted");
}

static void test_now(void **state) {
    (void)state;
    int64_t a = dt_now(), b = dt_now();
    assert_true(a > INT64_C(1700000000000000)); /* after 2023-11-14 */
    assert_true(b >= a - 1000000);              /* a clock step aside, it moves on */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_normalises),
        cmocka_unit_test(test_random_round_trip),
        cmocka_unit_test(test_format_extremes),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
