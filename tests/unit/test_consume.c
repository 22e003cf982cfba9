/* consume_plan(): how a consume is spread over the active rows, shared by
 * both backends. Rows are given in burn order, as the backends read them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/store.h"

#include <stdio.h>
#include <string.h>

static model_grant row(const char *id, bool has_q, double q, bool has_used, double used) {
    model_grant g;
    memset(&g, 0, sizeof g);
    snprintf(g.id, sizeof g.id, "%s", id);
    g.quantity = (opt_num){has_q, q};
    g.quantity_used = (opt_num){has_used, used};
    return g;
}

static void test_draws_in_order_and_exactly(void **state) {
    model_grant rows[3] = {row("a", true, 5, true, 2), row("b", true, 10, false, 0),
                           row("c", true, 100, true, 0)};
    consume_draw draws[3];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 3, 7, &r));
    assert_int_equal(r.ndraws, 2);
    assert_string_equal(draws[0].row, "a");
    assert_true(draws[0].drawn == 3 && draws[0].quantity_used == 5);
    assert_string_equal(draws[1].row, "b");
    assert_true(draws[1].drawn == 4 && draws[1].quantity_used == 4);
    /* the rows held 3 + 10 + 100; 7 drawn */
    assert_true(r.after.remaining == 106);
    assert_true(r.after.quantity == 115 && r.after.quantity_used == 9);
    assert_int_equal(r.after.active_rows, 3);
    assert_false(r.after.unlimited);
}

static void test_exhausted_and_overdrawn_rows_give_nothing(void **state) {
    /* a PATCH may have set quantity_used past quantity: that row holds 0 */
    model_grant rows[3] = {row("a", true, 5, true, 5), row("b", true, 5, true, 9),
                           row("c", true, 5, true, 1)};
    consume_draw draws[3];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 3, 4, &r));
    assert_int_equal(r.ndraws, 1);
    assert_string_equal(draws[0].row, "c");
    assert_true(draws[0].quantity_used == 5);
    assert_true(r.after.remaining == 0);
}

static void test_short_changes_nothing_and_reports_available(void **state) {
    model_grant rows[2] = {row("a", true, 5, true, 2), row("b", true, 1, false, 0)};
    consume_draw draws[2];
    consume_result r = {.draws = draws};
    assert_false(consume_plan(rows, 2, 4.5, &r));
    assert_int_equal(r.ndraws, 0);
    assert_true(r.after.remaining == 4);
    assert_true(rows[0].quantity_used.v == 2 && !rows[1].quantity_used.set);
}

static void test_unlimited_row_takes_the_rest(void **state) {
    model_grant rows[2] = {row("a", true, 2, false, 0), row("u", false, 0, true, 1)};
    consume_draw draws[2];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 2, 1e9, &r));
    assert_int_equal(r.ndraws, 2);
    assert_true(draws[0].drawn == 2);
    assert_string_equal(draws[1].row, "u");
    assert_true(draws[1].drawn == 1e9 - 2 && draws[1].quantity_used == 1 + (1e9 - 2));
    assert_false(draws[1].quantity.set);
    assert_true(r.after.unlimited);
}

static void test_no_rows_is_short(void **state) {
    consume_result r = {0};
    assert_false(consume_plan(NULL, 0, 1, &r));
    assert_true(r.after.remaining == 0 && r.after.active_rows == 0);
}

static void test_fractions_end_exactly(void **state) {
    /* 0.1 + 0.2 style sums: the last row draws exactly what is left */
    model_grant rows[2] = {row("a", true, 0.1, false, 0), row("b", true, 1, true, 0)};
    consume_draw draws[2];
    consume_result r = {.draws = draws};
    assert_true(consume_plan(rows, 2, 0.3, &r));
    assert_int_equal(r.ndraws, 2);
    assert_true(draws[0].drawn == 0.1);
    assert_true(draws[1].drawn == 0.3 - 0.1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draws_in_order_and_exactly),
        cmocka_unit_test(test_exhausted_and_overdrawn_rows_give_nothing),
        cmocka_unit_test(test_short_changes_nothing_and_reports_available),
        cmocka_unit_test(test_unlimited_row_takes_the_rest),
        cmocka_unit_test(test_no_rows_is_short),
        cmocka_unit_test(test_fractions_end_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
