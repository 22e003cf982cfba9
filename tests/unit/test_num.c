/* num: every case of tests/vectors/float.json (made from pydantic by
 * tools/gen_domain_vectors.py), then the shortest round-trip writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "domain/num.h"

#define VECTORS ENTITLED_SOURCE_DIR "/tests/vectors/float.json"

static int same_double(double a, double b) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof a) == 0; /* tells -0 from 0 */
}

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
        json_t *expect = json_object_get(c, "expect");
        double v = 0;
        int rc = num_parse_str(json_string_value(in), json_string_length(in), &v);
        int want_ok = json_is_true(json_object_get(c, "ok"));
        const char *why = NULL;
        if (rc == 0 && !want_ok) {
            why = "accepted, pydantic refuses (float_parsing)";
        } else if (rc != 0 && want_ok) {
            why = "refused, pydantic accepts";
        } else if (rc == 0) {
            double want = json_is_string(expect) ? strtod(json_string_value(expect), NULL)
                                                 : json_number_value(expect);
            if (!same_double(v, want)) why = "wrong value";
        }
        if (why) {
            char *shown = json_dumps(in, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
            char *want = json_dumps(c, JSON_COMPACT | JSON_ENSURE_ASCII);
            print_error("float case %zu, input %s: %s\n  got:  rc %d, %.17g\n  want: %s\n", i,
                        shown ? shown : "?", why, rc, v, want ? want : "?");
            free(shown);
            free(want);
            failures++;
        }
    }
    json_decref(cases);
    assert_int_equal(failures, 0);
}

static void test_format_table(void **state) {
    (void)state;
    static const struct {
        double v;
        const char *text;
    } table[] = {
        {500, "500"},
        {12.5, "12.5"},
        {-12.5, "-12.5"},
        {0.1, "0.1"},
        {0.30000000000000004, "0.30000000000000004"},
        {1e300, "1e+300"},
        {1e-5, "1e-05"},
        {1e16, "1e+16"},
        {1e15, "1000000000000000"},
        {1.5e10, "15000000000"},
        {2e-4, "0.0002"},
        {1.5e-5, "1.5e-05"},
        {-1234.5678, "-1234.5678"},
        {123456789, "123456789"},
        {0.0, "0"},
        {-0.0, "-0"},
        {5e-324, "5e-324"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {9007199254740993.0, "9007199254740992"},
        {1.0 / 3, "0.3333333333333333"},
        {INFINITY, "null"},
        {NAN, "null"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        char buf[NUM_FORMAT_MAX];
        size_t n = num_format(table[i].v, buf);
        assert_int_equal(n, strlen(buf));
        if (strcmp(buf, table[i].text) != 0)
            fail_msg("%.17g written %s, want %s", table[i].v, buf, table[i].text);
    }
}

/* Significant digits of a %g / %e text, trailing zeros not counted. */
static int sig_digits(const char *t) {
    char d[NUM_FORMAT_MAX];
    int n = 0;
    for (; *t && *t != 'e'; t++)
        if (*t >= '0' && *t <= '9' && (n > 0 || *t != '0')) d[n++] = *t;
    while (n > 0 && d[n - 1] == '0')
        n--;
    return n;
}

/* The fewest significant digits that read back to v, found with %e. */
static int shortest_digits(double v) {
    char t[NUM_FORMAT_MAX];
    for (int p = 1; p < 17; p++) {
        snprintf(t, sizeof t, "%.*e", p - 1, v);
        if (strtod(t, NULL) == v) return p;
    }
    return 17;
}

/* Random bit patterns: the text reads back to the same double with strtod and
 * with num_parse_str, and no shorter %g precision would. */
static void test_format_round_trip(void **state) {
    (void)state;
    uint64_t x = 0x243f6a8885a308d3u;
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        double v;
        uint64_t bits = x;
        if (i % 4 == 1)
            bits = (x & 0x800fffffffffffffu) | (uint64_t)(1023 + (int)(x >> 52) % 40) << 52;
        memcpy(&v, &bits, sizeof v);
        if (i % 4 == 2) v = (double)(int64_t)(x % 2000000) / 100; /* money-like */
        if (!isfinite(v)) continue;
        char buf[NUM_FORMAT_MAX];
        size_t n = num_format(v, buf);
        assert_true(n > 0 && n < NUM_FORMAT_MAX);
        double back = strtod(buf, NULL), parsed = 0;
        if (!same_double(back, v)) fail_msg("%a written %s reads %a", v, buf, back);
        if (num_parse_str(buf, n, &parsed) != 0 || !same_double(parsed, v))
            fail_msg("%s not read back by num_parse_str", buf);
        if (v != 0 && sig_digits(buf) != shortest_digits(v))
            fail_msg("%s is not shortest: %d digits read back", buf, shortest_digits(v));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_format_table),
        cmocka_unit_test(test_format_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
