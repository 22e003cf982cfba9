/* routes: everything the server answers, in one table. The edge matches it,
 * `entitled routes` prints it, and the API tests hold /openapi.json to it. */
#include "api/api.h"
#include "api/docs.h"

#include <string.h>

#define ROW "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}"

const route api_routes[] = {
    {"GET", "/healthz", h_healthz, "healthz", ROUTE_PUBLIC},
    {"GET", "/openapi.json", h_openapi, "openapi", ROUTE_PUBLIC},
    {"GET", "/docs", h_docs, "docs", ROUTE_PUBLIC},
    {"GET", "/entitlements", h_list_entitlements, "List-entitlements", 0},
    {"POST", "/entitlements", h_entitlement_create, "Create-entitlement", 0},
    {"GET", "/entitlements/{entitlement_id}", h_entitlement_get, "Get-entitlement", 0},
    {"PATCH", "/entitlements/{entitlement_id}", h_entitlement_update, "Update-entitlement", 0},
    {"DELETE", "/entitlements/{entitlement_id}", h_entitlement_delete, "Delete-entitlement", 0},
    {"POST", "/entitlements/{entitlement_id}/customer", h_grant_create,
     "Create-entitlement-customer", 0},
    {"GET", ROW, h_grant_get, "Get-customer-entitlement", 0},
    {"PATCH", ROW, h_grant_update, "Update-customer-entitlement", 0},
    {"DELETE", ROW, h_grant_delete, "Delete-customer-entitlement", 0},
    {"GET", "/entitlements/{entitlement_id}/customer/{customer_id}/total", h_grant_total,
     "Get-total-customer-entitlements", 0},
    {"POST", "/entitlements/{entitlement_id}/customer/{customer_id}/consume", h_consume,
     "Consume-customer-entitlement", 0},
    {"GET", "/entitlements/{entitlement_id}/customer/{customer_id}/balance", h_balance,
     "Get-customer-entitlement-balance", 0},
    {"GET", "/entitlements/customer/{customer_id}/ledger", h_list_ledger, "List-customer-ledger",
     0},
    {"GET", "/entitlements/customer/{customer_id}", h_list_customer_grants,
     "List-customer-entitlements", 0},
    {"GET", "/entitlements/customer/unique/{customer_id}", h_list_unique,
     "List-unique-entitlements-for-customer", 0},
    {"GET", "/entitlements/customers_balances", h_list_balances,
     "List-customer-entitlement-balances-with-advanced-filtering", 0},
    {"GET", "/customers", h_list_customers, "List-customers-with-filtering-and-pagination", 0},
    {"POST", "/customers", h_customer_create, "Create-customer", 0},
    {"GET", "/customers/{customer_id}", h_customer_get, "Get-customer-by-ID", 0},
    {"PATCH", "/customers/{customer_id}", h_customer_update, "Update-customer", 0},
    {"DELETE", "/customers/{customer_id}", h_customer_delete, "Delete-customer", 0},
    {"GET", "/customer", h_list_customers, "Legacy-list-customers", 0},
    {"POST", "/customer", h_customer_create, "Legacy-create-customer", 0},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

const vfield *api_body_schema(const char *operation_id, size_t *n) {
    static const api_schema *const LISTS[] = {api_customer_schemas, api_entitlement_schemas,
                                              api_grant_schemas, api_consume_schemas};
    for (size_t i = 0; i < sizeof LISTS / sizeof LISTS[0]; i++)
        for (const api_schema *s = LISTS[i]; s->operation_id; s++)
            if (strcmp(s->operation_id, operation_id) == 0) {
                *n = s->n;
                return s->fields;
            }
    return NULL;
}
