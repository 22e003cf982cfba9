/* consume_plan(): how a consume is spread over the active rows, shared by
 * both backends. Rows are given in burn order, as the backends read them.
 * Quantities are exact decimals (dec.h): D(x) is the decimal the API makes
 * of the double x. The last test is issue 13's property test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dec D(double x) {
    dec v = -1;
    assert_int_equal(dec_from_double(x, &v), DEC_OK);
    return v;
}

static model_grant row(const char *id, bool has_q, double q, bool has_used, double used) {
    model_grant g;
    memset(&g, 0, sizeof g);
    snprintf(g.id, sizeof g.id, "%s", id);
    g.quantity = (opt_dec){has_q, has_q ? D(q) : 0};
    g.quantity_used = (opt_dec){has_used, has_used ? D(used) : 0};
    return g;
}

static void test_draws_in_order_and_exactly(void **state) {
    (void)state;
    model_grant rows[3] = {row("a", true, 5, true, 2), row("b", true, 10, false, 0),
                           row("c", true, 100, true, 0)};
    consume_draw draws[3];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 3, D(7), &r));
    assert_int_equal(r.ndraws, 2);
    assert_string_equal(draws[0].row, "a");
    assert_true(draws[0].drawn == D(3) && draws[0].quantity_used == D(5));
    assert_string_equal(draws[1].row, "b");
    assert_true(draws[1].drawn == D(4) && draws[1].quantity_used == D(4));
    /* the rows held 3 + 10 + 100; 7 drawn */
    assert_true(r.after.remaining == D(106));
    assert_true(r.after.quantity == D(115) && r.after.quantity_used == D(9));
    assert_int_equal(r.after.active_rows, 3);
    assert_false(r.after.unlimited);
}

/* consume_burn_cmp(): PostgreSQL locks a pair's rows by id and sorts them
 * with it, so it must give the burn order of store.h for every tie-break. */
static void test_burn_order_comparator(void **state) {
    (void)state;
    enum { N = 8 };
    model_grant in[N];
    /* in burn order: expiry 10 (active_from null, then 1, then 2; then
     * created_at 5 before 6; then id), expiry 20, open-ended, unlimited */
    const char *ids[N] = {"h", "g", "f", "b", "c", "e", "d", "a"};
    for (int i = 0; i < N; i++)
        in[i] = row(ids[i], i < N - 1, 100, false, 0);
    in[0].expiry_at = (opt_time){true, 10};
    in[1].expiry_at = (opt_time){true, 10}, in[1].active_from = (opt_time){true, 1};
    in[2].expiry_at = (opt_time){true, 10}, in[2].active_from = (opt_time){true, 2};
    in[2].created_at = 5;
    in[3].expiry_at = (opt_time){true, 10}, in[3].active_from = (opt_time){true, 2};
    in[3].created_at = 6;
    in[4].expiry_at = (opt_time){true, 10}, in[4].active_from = (opt_time){true, 2};
    in[4].created_at = 6;
    in[5].expiry_at = (opt_time){true, 20};
    /* in[6]: open-ended; in[7]: no quantity, though it expires first */
    in[7].expiry_at = (opt_time){true, 1};
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            int c = consume_burn_cmp(&in[i], &in[j]);
            assert_true(i < j ? c < 0 : i > j ? c > 0 : c == 0);
        }
    /* sorting any permutation gives it back */
    model_grant sorted[N];
    for (int i = 0; i < N; i++)
        sorted[i] = in[(i * 3 + 5) % N];
    qsort(sorted, N, sizeof sorted[0], consume_burn_cmp);
    for (int i = 0; i < N; i++)
        assert_string_equal(sorted[i].id, ids[i]);
}

static void test_exhausted_and_overdrawn_rows_give_nothing(void **state) {
    (void)state;
    /* a PATCH may have set quantity_used past quantity: that row holds 0 */
    model_grant rows[3] = {row("a", true, 5, true, 5), row("b", true, 5, true, 9),
                           row("c", true, 5, true, 1)};
    consume_draw draws[3];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 3, D(4), &r));
    assert_int_equal(r.ndraws, 1);
    assert_string_equal(draws[0].row, "c");
    assert_true(draws[0].quantity_used == D(5));
    assert_true(r.after.remaining == 0);
}

static void test_short_changes_nothing_and_reports_available(void **state) {
    (void)state;
    model_grant rows[2] = {row("a", true, 5, true, 2), row("b", true, 1, false, 0)};
    consume_draw draws[2];
    consume_result r = {.draws = draws};
    assert_false(consume_plan(rows, 2, D(4.5), &r));
    assert_int_equal(r.ndraws, 0);
    assert_true(r.after.remaining == D(4));
    assert_true(rows[0].quantity_used.v == D(2) && !rows[1].quantity_used.set);
}

static void test_unlimited_row_takes_the_rest(void **state) {
    (void)state;
    model_grant rows[2] = {row("a", true, 2, false, 0), row("u", false, 0, true, 1)};
    consume_draw draws[2];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 2, D(1e9), &r));
    assert_int_equal(r.ndraws, 2);
    assert_true(draws[0].drawn == D(2));
    assert_string_equal(draws[1].row, "u");
    assert_true(draws[1].drawn == D(1e9 - 2) && draws[1].quantity_used == D(1e9 - 1));
    assert_false(draws[1].quantity.set);
    assert_true(r.after.unlimited);
}

static void test_unlimited_row_stays_in_range(void **state) {
    (void)state;
    /* quantity_used of a row without a limit never passes DEC_MAX */
    model_grant rows[1] = {row("u", false, 0, false, 0)};
    rows[0].quantity_used = (opt_dec){true, DEC_MAX - 5};
    consume_draw draws[1];
    consume_result r = {.draws = draws};
    assert_false(consume_plan(rows, 1, 6, &r));
    assert_true(consume_plan(rows, 1, 5, &r));
    assert_true(draws[0].quantity_used == DEC_MAX);
}

static void test_no_rows_is_short(void **state) {
    (void)state;
    consume_result r = {0};
    assert_false(consume_plan(NULL, 0, D(1), &r));
    assert_true(r.after.remaining == 0 && r.after.active_rows == 0);
}

static void test_fractions_end_exactly(void **state) {
    (void)state;
    model_grant rows[2] = {row("a", true, 0.1, false, 0), row("b", true, 1, true, 0)};
    consume_draw draws[2];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 2, D(0.3), &r));
    assert_int_equal(r.ndraws, 2);
    assert_true(draws[0].drawn == D(0.1));
    assert_true(draws[1].drawn == D(0.2)); /* not 0.19999999999999998 */
    assert_true(r.after.remaining == D(0.8));
}

/* Issue 13's cases: each draw of what the server says is left is allowed
 * and leaves exactly 0, never below. */
static void test_issue_13_cases(void **state) {
    (void)state;
    consume_draw draws[1];
    consume_result r = {.draws = draws};
    model_grant g = row("a", true, 237.23, false, 0);
    assert_true(consume_plan(&g, 1, D(63.8), &r));
    g.quantity_used = (opt_dec){true, draws[0].quantity_used};
    assert_true(r.after.remaining == D(173.43));
    assert_true(consume_plan(&g, 1, D(173.43), &r));
    assert_true(draws[0].quantity_used == D(237.23) && r.after.remaining == 0);

    g = row("b", true, 0.3, false, 0);
    for (int i = 0; i < 3; i++) {
        assert_true(consume_plan(&g, 1, D(0.1), &r));
        g.quantity_used = (opt_dec){true, draws[0].quantity_used};
    }
    assert_true(r.after.remaining == 0 && g.quantity_used.v == D(0.3));
    assert_false(consume_plan(&g, 1, D(0.000001), &r));

    g = row("c", true, 1, false, 0);
    for (int i = 0; i < 10; i++) {
        assert_true(consume_plan(&g, 1, D(0.1), &r));
        g.quantity_used = (opt_dec){true, draws[0].quantity_used};
    }
    assert_true(r.after.remaining == 0 && g.quantity_used.v == D(1));
}

/* ---- the property test ------------------------------------------------------ */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) { /* xorshift64*: reproducible, no libc state */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1du;
}

/* A random amount with 1 to 6 decimal places, as a client writes it, read
 * the way the API reads it (text -> double -> decimal); checked against
 * the exact value of the text. */
static dec random_amount(int max_whole) {
    int places = 1 + (int)(rnd() % 6);
    long whole = (long)(rnd() % (uint64_t)(max_whole + 1));
    long frac = 0, scale = 1;
    for (int i = 0; i < places; i++)
        frac = frac * 10 + (long)(rnd() % 10), scale *= 10;
    char text[48];
    snprintf(text, sizeof text, "%ld.%0*ld", whole, places, frac);
    dec via_double = -1;
    assert_int_equal(dec_from_double(strtod(text, NULL), &via_double), DEC_OK);
    dec_sum exact = -1;
    assert_int_equal(dec_parse(text, strlen(text), &exact), DEC_OK);
    assert_true(exact == via_double);
    assert_true(via_double == whole * DEC_UNIT + frac * (DEC_UNIT / scale));
    return via_double;
}

#define PROP_OPS 100000
#define PROP_ROWS 24

static void test_property_random_grants_and_consumes(void **state) {
    (void)state;
    model_grant rows[PROP_ROWS];
    /* the ledger of each row, replayed at the end as verify does */
    dec granted[PROP_ROWS], drawn_sum[PROP_ROWS];
    consume_draw draws[PROP_ROWS];
    size_t n = 0, made = 0;
    long allowed = 0, refused = 0, exact_fits = 0;
    for (int op = 0; op < PROP_OPS; op++) {
        if (n < PROP_ROWS && (n == 0 || rnd() % 4 == 0)) {
            char id[16];
            snprintf(id, sizeof id, "r%06zu", made++); /* ids in burn order */
            rows[n] = row(id, true, 0, true, 0);
            rows[n].quantity.v = random_amount(rnd() % 3 ? 999 : 99999);
            granted[n] = rows[n].quantity.v;
            drawn_sum[n] = 0;
            n++;
            continue;
        }
        dec_sum room = 0;
        for (size_t i = 0; i < n; i++)
            room += rows[i].quantity.v - rows[i].quantity_used.v;
        dec q;
        unsigned kind = (unsigned)(rnd() % 8);
        if (kind == 0 && room > 0)
            q = (dec)room; /* what the server says is left */
        else if (kind == 1)
            q = (dec)room + 1; /* a millionth more than fits */
        else
            q = random_amount(kind < 5 ? 9 : 999);
        if (q <= 0) continue;
        consume_result r = {.draws = draws};
        bool ok = consume_plan(rows, n, q, &r);
        /* allowed exactly when it fits */
        assert_true(ok == (q <= room));
        if (!ok) {
            refused++;
            assert_int_equal(r.ndraws, 0);
            assert_true(r.after.remaining == room);
            continue;
        }
        allowed++;
        if (q == room) exact_fits++;
        dec_sum total = 0;
        for (size_t k = 0, i = 0; k < r.ndraws; k++) {
            while (strcmp(rows[i].id, draws[k].row) != 0)
                i++;
            assert_true(draws[k].drawn > 0);
            assert_true(draws[k].quantity_used == rows[i].quantity_used.v + draws[k].drawn);
            rows[i].quantity_used.v = draws[k].quantity_used;
            drawn_sum[i] += draws[k].drawn;
            total += draws[k].drawn;
        }
        assert_true(total == q);
        assert_true(r.after.remaining == room - q);
        for (size_t i = 0; i < n; i++) {
            /* never a negative remainder */
            assert_true(rows[i].quantity_used.v <= rows[i].quantity.v);
            assert_true(rows[i].quantity_used.v >= 0);
        }
        /* rows drawn dry are retired (they expire), making room for grants */
        if (n == PROP_ROWS) {
            size_t w = 0;
            for (size_t i = 0; i < n; i++) {
                assert_true(drawn_sum[i] == rows[i].quantity_used.v); /* verify's replay */
                assert_true(granted[i] == rows[i].quantity.v);
                if (rows[i].quantity_used.v < rows[i].quantity.v) {
                    rows[w] = rows[i], granted[w] = granted[i], drawn_sum[w] = drawn_sum[i];
                    w++;
                }
            }
            n = w;
        }
    }
    for (size_t i = 0; i < n; i++)
        assert_true(drawn_sum[i] == rows[i].quantity_used.v);
    print_message("property: %d operations, %ld consumes allowed (%ld of exactly what was left), "
                  "%ld refused\n",
                  PROP_OPS, allowed, exact_fits, refused);
    assert_true(allowed > 10000 && refused > 1000 && exact_fits > 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draws_in_order_and_exactly),
        cmocka_unit_test(test_burn_order_comparator),
        cmocka_unit_test(test_exhausted_and_overdrawn_rows_give_nothing),
        cmocka_unit_test(test_short_changes_nothing_and_reports_available),
        cmocka_unit_test(test_unlimited_row_takes_the_rest),
        cmocka_unit_test(test_unlimited_row_stays_in_range),
        cmocka_unit_test(test_no_rows_is_short),
        cmocka_unit_test(test_fractions_end_exactly),
        cmocka_unit_test(test_issue_13_cases),
        cmocka_unit_test(test_property_random_grants_and_consumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
