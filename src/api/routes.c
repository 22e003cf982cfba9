/* routes: everything the server answers, in one table. The edge matches it,
 * the OpenAPI document is checked against it. */
#include "api/api.h"

const route api_routes[] = {
    {"GET", "/healthz", h_healthz, "healthz", ROUTE_PUBLIC},
    {"POST", "/customers", h_customer_create, "Create-customer", 0},
    {"POST", "/customer", h_customer_create, "Legacy-create-customer", 0},
    {"GET", "/customers/{customer_id}", h_customer_get, "Get-customer-by-ID", 0},
    {"POST", "/entitlements", h_entitlement_create, "Create-entitlement", 0},
    {"GET", "/entitlements/{entitlement_id}", h_entitlement_get, "Get-entitlement", 0},
    {"POST", "/entitlements/{entitlement_id}/customer", h_grant_create,
     "Create-entitlement-customer", 0},
    {"GET", "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}", h_grant_get,
     "Get-customer-entitlement", 0},
    {"PATCH", "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}", h_grant_update,
     "Update-customer-entitlement", 0},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
