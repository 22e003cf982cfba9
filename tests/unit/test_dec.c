/* dec: exact decimal quantities (issue 13): reading a double and decimal
 * text, the range and places refused, the floor a list filter compares
 * with, and the shortest writer (the same text num_format writes for every
 * double a quantity can be). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "domain/dec.h"
#include "domain/num.h"

static void test_from_double(void **state) {
    (void)state;
    dec v;
    assert_int_equal(dec_from_double(0.1, &v), DEC_OK);
    assert_true(v == 100000);
    assert_int_equal(dec_from_double(500, &v), DEC_OK);
    assert_true(v == 500 * DEC_UNIT);
    assert_int_equal(dec_from_double(-0.0, &v), DEC_OK);
    assert_true(v == 0);
    assert_int_equal(dec_from_double(0.000001, &v), DEC_OK);
    assert_true(v == 1);
    assert_int_equal(dec_from_double(237.23, &v), DEC_OK);
    assert_true(v == INT64_C(237230000));
    assert_int_equal(dec_from_double(999999999999.999, &v), DEC_OK);
    assert_true(v == INT64_C(999999999999999000));
    assert_int_equal(dec_from_double(-12.5, &v), DEC_OK);
    assert_true(v == -12500000);
    /* more places than 6, or 10^12 and more: refused, never rounded */
    assert_int_equal(dec_from_double(1e-7, &v), DEC_ERR_PLACES);
    assert_int_equal(dec_from_double(0.1 + 0.2, &v), DEC_ERR_PLACES);
    assert_int_equal(dec_from_double(5e-324, &v), DEC_ERR_PLACES);
    assert_int_equal(dec_from_double(1e-300, &v), DEC_ERR_PLACES);
    assert_int_equal(dec_from_double(3.3333333333333335, &v), DEC_ERR_PLACES);
    assert_int_equal(dec_from_double(1e12, &v), DEC_ERR_WHOLE);
    assert_int_equal(dec_from_double(1e308, &v), DEC_ERR_WHOLE);
    assert_int_equal(dec_from_double(-1e21, &v), DEC_ERR_WHOLE);
    assert_int_equal(dec_from_double(NAN, &v), DEC_ERR_SYNTAX);
}

static void test_round_double(void **state) {
    (void)state;
    dec v;
    assert_int_equal(dec_round_double(0.1 + 0.2, &v), DEC_OK);
    assert_true(v == 300000);
    assert_int_equal(dec_round_double(5e-7, &v), DEC_OK); /* half away from zero */
    assert_true(v == 1);
    assert_int_equal(dec_round_double(-5e-7, &v), DEC_OK);
    assert_true(v == -1);
    assert_int_equal(dec_round_double(4.9e-7, &v), DEC_OK);
    assert_true(v == 0);
    assert_int_equal(dec_round_double(3.3333333333333335, &v), DEC_OK);
    assert_true(v == 3333333);
    assert_int_equal(dec_round_double(0.9999996, &v), DEC_OK);
    assert_true(v == DEC_UNIT);
    assert_int_equal(dec_round_double(1e300, &v), DEC_ERR_WHOLE);
}

static void test_parse(void **state) {
    (void)state;
    dec_sum v;
    static const struct {
        const char *s;
        dec_rc rc;
        long long want;
    } cases[] = {
        {"12.500000", DEC_OK, 12500000},
        {"0", DEC_OK, 0},
        {"-0.000001", DEC_OK, -1},
        {"1e+3", DEC_OK, 1000000000},
        {"1.5E-6", DEC_ERR_PLACES, 0},
        {"2.5e-5", DEC_OK, 25},
        {"00012.30", DEC_OK, 12300000},
        {".5", DEC_OK, 500000},
        {"5.", DEC_OK, 5000000},
        {"0.0000001", DEC_ERR_PLACES, 0},
        {"0.0000010", DEC_OK, 1},
        {"1e30", DEC_ERR_WHOLE, 0},
        {"", DEC_ERR_SYNTAX, 0},
        {".", DEC_ERR_SYNTAX, 0},
        {"1e", DEC_ERR_SYNTAX, 0},
        {"1x", DEC_ERR_SYNTAX, 0},
        {"--1", DEC_ERR_SYNTAX, 0},
        {"1e999999999999", DEC_ERR_WHOLE, 0},
        {"1e-999999999999", DEC_ERR_PLACES, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v = 0;
        dec_rc rc = dec_parse(cases[i].s, strlen(cases[i].s), &v);
        if (rc != cases[i].rc || (rc == DEC_OK && v != cases[i].want))
            fail_msg("%s: rc %d (want %d), value %lld (want %lld)", cases[i].s, rc, cases[i].rc,
                     (long long)v, cases[i].want);
    }
    /* a long text: sums PostgreSQL writes */
    assert_int_equal(dec_parse("123456789012345678.123456", 25, &v), DEC_OK);
    assert_true(v == (dec_sum)INT64_C(123456789012345678) * DEC_UNIT + 123456);
}

static void test_floor_of_double(void **state) {
    (void)state;
    bool exact;
    assert_true(dec_floor_of_double(0.1, &exact) == 100000 && exact);
    assert_true(dec_floor_of_double(0.1234567, &exact) == 123456 && !exact);
    assert_true(dec_floor_of_double(-0.1234567, &exact) == -123457 && !exact);
    assert_true(dec_floor_of_double(-5, &exact) == -5 * DEC_UNIT && exact);
    assert_true(dec_floor_of_double(1e-300, &exact) == 0 && !exact);
    assert_true(dec_floor_of_double(-1e-300, &exact) == -1 && !exact);
    assert_true(dec_floor_of_double(1e300, &exact) == DEC_MAX + 1 && !exact);
    assert_true(dec_floor_of_double(-1e300, &exact) == -DEC_MAX - 1 && !exact);
}

static void test_format(void **state) {
    (void)state;
    static const struct {
        long long v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {500 * DEC_UNIT, "500"},
        {12500000, "12.5"},
        {100000, "0.1"},
        {-12500000, "-12.5"},
        {100, "0.0001"},
        {10, "1e-05"},
        {25, "2.5e-05"},
        {1, "1e-06"},
        {INT64_C(999999999999999999), "999999999999.999999"},
        {INT64_C(237230000), "237.23"},
    };
    char buf[DEC_FORMAT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dec_format(cases[i].v, buf);
        assert_string_equal(buf, cases[i].want);
    }
    /* sums beyond 10^16 take an exponent, as doubles did */
    dec_format((dec_sum)INT64_C(10000000000000000) * DEC_UNIT, buf);
    assert_string_equal(buf, "1e+16");
    dec_format((dec_sum)INT64_C(12345678901234567) * DEC_UNIT + 5, buf);
    assert_string_equal(buf, "1.2345678901234567000005e+16");
    dec_plain(-1, buf);
    assert_string_equal(buf, "-0.000001");
    dec_plain(12 * DEC_UNIT, buf);
    assert_string_equal(buf, "12");
}

/* Every double a quantity can be (at most 6 places, below 10^12) is written
 * as num_format writes the double: answers are unchanged for them. */
static void test_format_matches_num_format(void **state) {
    (void)state;
    uint64_t x = 12345;
    char a[DEC_FORMAT_MAX], b[NUM_FORMAT_MAX], text[48];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int places = (int)(x % 7);
        long long whole = (long long)((x >> 8) % (i % 2 ? 1000ULL : 1000000000000ULL));
        long long frac = (long long)((x >> 24) % 1000000);
        snprintf(text, sizeof text, "%lld.%06lld", whole, frac);
        text[strlen(text) - (size_t)(6 - places)] = '\0';
        double d = strtod(text, NULL);
        dec v;
        if (dec_from_double(d, &v) != DEC_OK) continue; /* more than 15 digits: not this test */
        dec_format(v, a);
        num_format(d, b);
        if (strcmp(a, b) != 0) fail_msg("%s: dec %s, num %s", text, a, b);
        assert_true(strtod(a, NULL) == d);
    }
}

static void test_add(void **state) {
    (void)state;
    dec out = 7;
    assert_true(dec_add(DEC_MAX - 1, 1, &out) && out == DEC_MAX);
    assert_false(dec_add(DEC_MAX, 1, &out));
    assert_true(out == DEC_MAX);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_double), cmocka_unit_test(test_round_double),
        cmocka_unit_test(test_parse),       cmocka_unit_test(test_floor_of_double),
        cmocka_unit_test(test_format),      cmocka_unit_test(test_format_matches_num_format),
        cmocka_unit_test(test_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
