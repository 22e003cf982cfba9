/* The route matcher, over the server's own route table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/api.h"

#include <string.h>

typedef struct {
    const char *method, *path;
    router_rc rc;
    const char *pattern; /* the route chosen, for ROUTER_OK */
    const char *allow;   /* for ROUTER_METHOD_NOT_ALLOWED */
} rcase;

static const rcase CASES[] = {
    {"GET", "/healthz", ROUTER_OK, "/healthz", NULL},
    {"POST", "/customers", ROUTER_OK, "/customers", NULL},
    {"POST", "/customer", ROUTER_OK, "/customer", NULL},
    {"GET", "/customers/abc", ROUTER_OK, "/customers/{customer_id}", NULL},
    {"PATCH", "/entitlements/e/customer/c/r", ROUTER_OK,
     "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}", NULL},
    {"GET", "/entitlements/e/customer/c/r", ROUTER_OK,
     "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}", NULL},
    {"POST", "/entitlements/e/customer", ROUTER_OK, "/entitlements/{entitlement_id}/customer",
     NULL},
    {"PUT", "/entitlements/e/customer/c/r", ROUTER_METHOD_NOT_ALLOWED, NULL, "GET, PATCH, DELETE"},
    {"GET", "/entitlements/e/customer/c/total", ROUTER_OK,
     "/entitlements/{entitlement_id}/customer/{customer_id}/total", NULL},
    {"PATCH", "/entitlements/e/customer/c/total", ROUTER_OK,
     "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}", NULL},
    {"GET", "/entitlements/customers_balances", ROUTER_OK, "/entitlements/customers_balances",
     NULL},
    {"PATCH", "/entitlements/customers_balances", ROUTER_OK, "/entitlements/{entitlement_id}",
     NULL},
    {"GET", "/entitlements/customer/c", ROUTER_OK, "/entitlements/customer/{customer_id}", NULL},
    {"GET", "/entitlements/customer/unique/c", ROUTER_OK,
     "/entitlements/customer/unique/{customer_id}", NULL},
    /* entitled's own routes: a literal segment beats {ec_id} */
    {"POST", "/entitlements/e/customer/c/consume", ROUTER_OK,
     "/entitlements/{entitlement_id}/customer/{customer_id}/consume", NULL},
    {"GET", "/entitlements/e/customer/c/balance", ROUTER_OK,
     "/entitlements/{entitlement_id}/customer/{customer_id}/balance", NULL},
    {"GET", "/entitlements/customer/c/ledger", ROUTER_OK,
     "/entitlements/customer/{customer_id}/ledger", NULL},
    {"POST", "/entitlements/customer/c/ledger", ROUTER_METHOD_NOT_ALLOWED, NULL, "GET"},
    {"PUT", "/customers", ROUTER_METHOD_NOT_ALLOWED, NULL, "GET, POST"},
    {"DELETE", "/healthz", ROUTER_METHOD_NOT_ALLOWED, NULL, "GET"},
    {"GET", "/customers", ROUTER_OK, "/customers", NULL},
    {"GET", "/nope", ROUTER_NOT_FOUND, NULL, NULL},
    {"GET", "/", ROUTER_NOT_FOUND, NULL, NULL},
    {"GET", "", ROUTER_NOT_FOUND, NULL, NULL},
    {"GET", "/customers/", ROUTER_NOT_FOUND, NULL, NULL},    /* an empty parameter */
    {"GET", "/customers/a/b", ROUTER_NOT_FOUND, NULL, NULL}, /* too many segments */
    {"PATCH", "/entitlements/e/customer/c", ROUTER_NOT_FOUND, NULL, NULL},
    {"PATCH", "/entitlements/e/customerX/c/r", ROUTER_NOT_FOUND, NULL, NULL},
    {"GET", "//healthz", ROUTER_NOT_FOUND, NULL, NULL},
};

static void test_table(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const rcase *c = &CASES[i];
        http_req req;
        memset(&req, 0, sizeof req);
        const route *rt = NULL;
        char allow[64] = "";
        router_rc rc = router_match(api_routes, api_nroutes, c->method, c->path, &rt, &req, allow,
                                    sizeof allow);
        if (rc != c->rc) fail_msg("%s %s: got %d, want %d", c->method, c->path, rc, c->rc);
        if (rc == ROUTER_OK) assert_string_equal(rt->pattern, c->pattern);
        if (rc == ROUTER_METHOD_NOT_ALLOWED) assert_string_equal(allow, c->allow);
    }
}

static void test_params(void **state) {
    (void)state;
    http_req req;
    memset(&req, 0, sizeof req);
    const route *rt = NULL;
    char allow[64];
    assert_int_equal(router_match(api_routes, api_nroutes, "PATCH",
                                  "/entitlements/E1/customer/C2/R3", &rt, &req, allow,
                                  sizeof allow),
                     ROUTER_OK);
    assert_int_equal(req.nparams, 3);
    assert_string_equal(http_param(&req, "entitlement_id"), "E1");
    assert_string_equal(http_param(&req, "customer_id"), "C2");
    assert_string_equal(http_param(&req, "ec_id"), "R3");
    assert_null(http_param(&req, "ec"));
}

static void test_long_param_refused(void **state) {
    (void)state;
    char path[600] = "/customers/";
    memset(path + strlen(path), 'a', 400);
    http_req req;
    memset(&req, 0, sizeof req);
    const route *rt = NULL;
    char allow[64];
    assert_int_equal(
        router_match(api_routes, api_nroutes, "GET", path, &rt, &req, allow, sizeof allow),
        ROUTER_NOT_FOUND);
}

/* Every route's pattern is well formed and no two routes share method and pattern. */
static void test_table_sane(void **state) {
    (void)state;
    for (size_t i = 0; i < api_nroutes; i++) {
        assert_true(api_routes[i].pattern[0] == '/');
        assert_non_null(api_routes[i].fn);
        assert_non_null(api_routes[i].operation_id);
        for (size_t j = i + 1; j < api_nroutes; j++)
            assert_false(strcmp(api_routes[i].method, api_routes[j].method) == 0 &&
                         strcmp(api_routes[i].pattern, api_routes[j].pattern) == 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_long_param_refused),
        cmocka_unit_test(test_table_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
