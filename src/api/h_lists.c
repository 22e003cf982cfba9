/* The lists: entitlements, customers, a customer's rows, a customer's rows
 * summed per entitlement, and the balances of all rows. Each is a spec (its
 * filters, sorts and defaults) read by query.c into a store list_query; the
 * store reads one keyset page; this file writes the envelope and items. */
#include "api/api.h"
#include "api/query.h"

#include "domain/dt.h"

#include <stdlib.h>
#include <string.h>

#define CMP QO_CMP
#define EQ_IN (QO(LOP_EQ) | QO(LOP_IN))

static const char *const TYPES[] = {"Feature", "Quantity", "Credits", NULL};

static const qfield ENT_Q[] = {
    {"id", NULL, QF_UUID, EQ_IN, NULL},
    {"name", NULL, QF_TEXT, QO(LOP_EQ) | QO(LOP_ILIKE), NULL},
    {"entitlement_type", NULL, QF_ENUM, QO(LOP_EQ), TYPES},
    {"is_active", NULL, QF_BOOL, QO(LOP_EQ), NULL},
    {"product_id", NULL, QF_UUID, QO(LOP_EQ), NULL},
    {"created_at", NULL, QF_TIME, QO(LOP_GTE) | QO(LOP_LTE), NULL},
    {NULL, NULL, 0, 0, NULL},
};
static const char *const ENT_SORTS[] = {"created_at", "id", "name", NULL};
static const list_spec ENT_SPEC = {
    LIST_ENTITLEMENTS, ENT_Q, ENT_SORTS, true, 10, false, false, false, false};

/* Every filter of the reference's customer list. */
static const qfield CUST_Q[] = {
    {"id", NULL, QF_UUID, EQ_IN | QO(LOP_ISNULL), NULL},
    {"external_id", NULL, QF_TEXT, EQ_IN | QO(LOP_ILIKE) | QO(LOP_LIKE) | QO(LOP_ISNULL), NULL},
    {"email", NULL, QF_TEXT, EQ_IN | QO(LOP_ILIKE) | QO(LOP_LIKE) | QO(LOP_ISNULL), NULL},
    {"phone_number", NULL, QF_TEXT, QO(LOP_ILIKE) | QO(LOP_LIKE) | QO(LOP_ISNULL), NULL},
    {"customer_name", NULL, QF_TEXT, QO(LOP_ILIKE), NULL},
    {"communications_enabled", NULL, QF_BOOL, QO(LOP_EQ), NULL},
    {"auto_charge_enabled", NULL, QF_BOOL, QO(LOP_EQ), NULL},
    {"business_entity_id", NULL, QF_UUID, QO(LOP_EQ), NULL},
    {"created_at", NULL, QF_TIME, QO_CMP, NULL},
    {NULL, NULL, 0, 0, NULL},
};
static const char *const CUST_SORTS[] = {"created_at", "id", "customer_name", NULL};
static const list_spec CUST_SPEC = {LIST_CUSTOMERS, CUST_Q, CUST_SORTS, true, 10,
                                    false,          false,  true,       true};

static const char *const GRANT_SORTS[] = {"created_at",  "id",        "quantity", "quantity_used",
                                          "active_from", "expiry_at", NULL};

/* Every filter of the reference's list of a customer's rows. */
static const qfield ROWS_Q[] = {
    {"id", NULL, QF_UUID, EQ_IN | QO(LOP_ISNULL), NULL},
    {"entitlement", NULL, QF_UUID, EQ_IN | QO(LOP_ISNULL), NULL},
    {"customer", NULL, QF_UUID, EQ_IN | QO(LOP_ISNULL), NULL},
    {"contract_id", NULL, QF_UUID, EQ_IN | QO(LOP_ISNULL), NULL},
    {NULL, NULL, 0, 0, NULL},
};
static const list_spec ROWS_SPEC = {LIST_GRANTS, ROWS_Q, GRANT_SORTS, true, 10,
                                    false,       false,  false,       false};

static const qfield UNIQUE_Q[] = {
    {"entitlement", NULL, QF_UUID, EQ_IN, NULL},
    {NULL, NULL, 0, 0, NULL},
};
static const list_spec UNIQUE_SPEC = {LIST_UNIQUE, UNIQUE_Q, ENT_SORTS, true, 10,
                                      false,       false,    false,     false};

static const qfield BAL_Q[] = {
    {"customer", NULL, QF_UUID, EQ_IN, NULL},
    {"entitlement", NULL, QF_UUID, EQ_IN, NULL},
    {"contract_id", NULL, QF_UUID, EQ_IN, NULL},
    {"quantity", NULL, QF_NUM, CMP, NULL},
    {"quantity_used", NULL, QF_NUM, CMP, NULL},
    {"created_at", NULL, QF_TIME, CMP, NULL},
    {"active_from", NULL, QF_TIME, CMP, NULL},
    {"expiry_at", NULL, QF_TIME, CMP, NULL},
    {NULL, NULL, 0, 0, NULL},
};
static const list_spec BAL_SPEC = {LIST_GRANTS, BAL_Q, GRANT_SORTS, false, 50,
                                   true,        true,  false,       false};

static const char *const KINDS[] = {LEDGER_KINDS(LEDGER_KIND_NAME) NULL};
#define RANGE (QO(LOP_GT) | QO(LOP_GTE) | QO(LOP_LT) | QO(LOP_LTE))
static const qfield LEDGER_Q[] = {
    {"entitlement", NULL, QF_UUID, EQ_IN, NULL}, {"row", NULL, QF_UUID, QO(LOP_EQ), NULL},
    {"kind", NULL, QF_ENUM, EQ_IN, KINDS},       {"seq", NULL, QF_NUM, RANGE, NULL},
    {"at", NULL, QF_TIME, RANGE, NULL},          {NULL, NULL, 0, 0, NULL},
};
static const char *const LEDGER_SORTS[] = {"seq", NULL};
static const list_spec LEDGER_SPEC = {LIST_LEDGER, LEDGER_Q, LEDGER_SORTS, false, 50,
                                      false,       false,    false,        false};

typedef void (*item_fn)(jw *w, const list_result *res, size_t i, const list_params *p);

static void item_entitlement(jw *w, const list_result *res, size_t i, const list_params *p) {
    api_write_entitlement(w, &res->ents[i]);
}

static void item_customer(jw *w, const list_result *res, size_t i, const list_params *p) {
    api_write_customer(w, &res->custs[i]);
}

static void item_unique(jw *w, const list_result *res, size_t i, const list_params *p) {
    const list_unique *u = &res->uniq[i];
    jw_obj_begin(w);
    jw_key(w, "entitlement");
    api_write_entitlement(w, &u->e);
    api_kdec(w, "total_quantity", u->total_quantity);
    api_kdec(w, "total_quantity_used", u->total_quantity_used);
    jw_key(w, "total_expired_entitlements");
    jw_int(w, u->expired);
    jw_obj_end(w);
}

/* A related object of a catalogue entitled does not keep (products,
 * contracts, invoices): the id is all it knows. Null without an id. */
static void related_id(jw *w, const char *key, const char *id) {
    jw_key(w, key);
    if (id) {
        jw_obj_begin(w);
        api_kmstr(w, "id", id);
        jw_knull(w, "name");
        jw_obj_end(w);
    } else {
        jw_null(w);
    }
}

/* A row as the reference's list items show it: the row, plus its
 * entitlement's name, units and type; `customer`, `product`, `contract` and
 * `invoice` as related objects when populated. */
static void item_grant(jw *w, const list_result *res, size_t i, const list_params *p) {
    const list_grant *g = &res->grants[i];
    jw_obj_begin(w);
    jw_kstr(w, "id", g->g.id);
    jw_kstr(w, "entitlement", g->g.entitlement);
    api_kmstr(w, "name", g->ent_name);
    api_kmstr(w, "units", g->ent_units);
    api_kmstr(w, "type", g->ent_type);
    jw_key(w, "customer");
    if (p->populate_customer) {
        jw_obj_begin(w);
        jw_kstr(w, "id", g->g.customer);
        api_kmstr(w, "name", g->cust_name);
        api_kmstr(w, "email", g->cust_email);
        jw_obj_end(w);
    } else {
        jw_str(w, g->g.customer);
    }
    if (p->populate_product) related_id(w, "product", g->product_id);
    if (p->populate_contract) related_id(w, "contract", g->g.contract_id);
    if (p->populate_invoice) related_id(w, "invoice", g->g.invoice_id);
    api_write_grant_fields(w, &g->g);
    jw_obj_end(w);
}

static void item_ledger(jw *w, const list_result *res, size_t i, const list_params *p) {
    const ledger_entry *e = &res->entries[i];
    jw_obj_begin(w);
    jw_key(w, "seq");
    jw_int(w, e->seq);
    jw_key(w, "at");
    jw_time(w, e->at);
    jw_kstr(w, "kind", ledger_kind_names[e->kind]);
    jw_kstr(w, "entitlement", e->entitlement);
    jw_kstr(w, "customer", e->customer);
    jw_kstr(w, "row_id", e->row);
    api_kdec(w, "quantity_delta", e->quantity_delta);
    api_kdec(w, "quantity_used_delta", e->quantity_used_delta);
    api_kopt_dec(w, "quantity", e->quantity);
    api_kopt_dec(w, "quantity_used", e->quantity_used);
    api_kopt_time(w, "active_from", e->active_from);
    api_kopt_time(w, "expiry_at", e->expiry_at);
    jw_kstr(w, "request_id", e->request_id[0] ? e->request_id : NULL);
    jw_kstr(w, "idempotency_key", e->idem_key[0] ? e->idem_key : NULL);
    jw_obj_end(w);
}

typedef enum { ENV_RESULTS, ENV_CUSTOMERS, ENV_BALANCES } envelope;

static void cursor_member(jw *w, const char *key, char *cursor) {
    jw_key(w, key);
    if (cursor)
        jw_str(w, cursor);
    else
        jw_null(w);
    free(cursor);
}

/* Run the list and answer the page with its envelope. */
static void run_list(api_app *app, http_req *r, const list_spec *spec, list_params *p, item_fn item,
                     envelope env) {
    list_result res;
    store_rc rc = store_list(app->st, &p->q, &res);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "List");
        return;
    }
    if (p->q.skip_total) res.total = p->total;
    /* Rows were read in reading order; a backward read is shown reversed. */
    size_t n = res.n;
    bool back = p->q.backward;
    size_t first = back ? n - 1 : 0, last = back ? 0 : n - 1;
    char *next = NULL, *prev = NULL;
    bool oom = false;
    if (n) {
        bool has_next = back ? true : res.more;
        bool has_prev = back ? res.more : p->from_cursor;
        if (has_next && !(next = query_cursor(p, &res, last, true))) oom = true;
        if (has_prev && !(prev = query_cursor(p, &res, first, false))) oom = true;
    }
    jw w;
    /* up to 100 items of up to 1 MiB of stored JSON each */
    jw_init(&w, 256u << 20);
    jw_obj_begin(&w);
    jw_key(&w, env == ENV_CUSTOMERS ? "data" : "results");
    jw_arr_begin(&w);
    for (size_t k = 0; k < n; k++)
        item(&w, &res, back ? n - 1 - k : k, p);
    jw_arr_end(&w);
    cursor_member(&w, "next", next);
    cursor_member(&w, "previous", prev);
    jw_key(&w, env == ENV_CUSTOMERS ? "total" : "total_count");
    jw_int(&w, res.total);
    if (env == ENV_BALANCES) {
        jw_key(&w, "total");
        jw_int(&w, res.total);
    }
    jw_obj_end(&w);
    list_result_clear(&res);
    if (oom) {
        jw_free(&w);
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        return;
    }
    api_reply_jw(r, 200, &w);
}

/* Parse, answer 422 or run. `pre` is an extra filter (the path's customer). */
static void list(api_app *app, http_req *r, const list_spec *spec, item_fn item, envelope env,
                 json_t *errors, const char *customer) {
    list_params p;
    json_t *qerrs = query_parse(r, spec, dt_now(), &p);
    json_array_extend(errors, qerrs);
    json_decref(qerrs);
    if (json_array_size(errors)) {
        api_reply_errors(r, errors);
        list_params_free(&p);
        return;
    }
    json_decref(errors);
    if (customer) {
        /* the path's customer must be the caller's: 404 otherwise */
        model_customer c;
        store_rc rc = store_customer_get(app->st, r->org, customer, &c);
        if (rc != STORE_OK) {
            api_reply_store(r, rc, "Customer");
            list_params_free(&p);
            return;
        }
        model_customer_clear(&c);
    }
    list_value cv = {.type = LV_TEXT, .s = customer, .len = customer ? strlen(customer) : 0};
    if (customer && (spec->kind == LIST_GRANTS || spec->kind == LIST_LEDGER)) {
        if (p.q.nfilters == LIST_MAX_FILTERS) {
            http_reply_detail(r, 400, "Too many filters");
            list_params_free(&p);
            return;
        }
        p.q.filters[p.q.nfilters++] = (list_filter){"customer", LOP_EQ, 1, &cv};
    }
    p.q.unique_customer = customer;
    run_list(app, r, spec, &p, item, env);
    list_params_free(&p);
}

void h_list_entitlements(void *app, http_req *r) {
    list(app, r, &ENT_SPEC, item_entitlement, ENV_RESULTS, json_array(), NULL);
}

void h_list_customers(void *app, http_req *r) {
    list(app, r, &CUST_SPEC, item_customer, ENV_CUSTOMERS, json_array(), NULL);
}

void h_list_balances(void *app, http_req *r) {
    list(app, r, &BAL_SPEC, item_grant, ENV_BALANCES, json_array(), NULL);
}

void h_list_customer_grants(void *appv, http_req *r) {
    char cust[ID_BUF];
    json_t *errors = json_array();
    api_path_uuid(r, "customer_id", cust, errors);
    list(appv, r, &ROWS_SPEC, item_grant, ENV_RESULTS, errors, cust);
}

void h_list_unique(void *appv, http_req *r) {
    char cust[ID_BUF];
    json_t *errors = json_array();
    api_path_uuid(r, "customer_id", cust, errors);
    list(appv, r, &UNIQUE_SPEC, item_unique, ENV_RESULTS, errors, cust);
}

void h_list_ledger(void *appv, http_req *r) {
    char cust[ID_BUF];
    json_t *errors = json_array();
    api_path_uuid(r, "customer_id", cust, errors);
    list(appv, r, &LEDGER_SPEC, item_ledger, ENV_RESULTS, errors, cust);
}

const list_spec *api_list_spec(const char *operation_id) {
    static const struct {
        const char *operation_id;
        const list_spec *spec;
    } SPECS[] = {
        {"List-entitlements", &ENT_SPEC},
        {"List-customers-with-filtering-and-pagination", &CUST_SPEC},
        {"Legacy-list-customers", &CUST_SPEC},
        {"List-customer-entitlements", &ROWS_SPEC},
        {"List-unique-entitlements-for-customer", &UNIQUE_SPEC},
        {"List-customer-entitlement-balances-with-advanced-filtering", &BAL_SPEC},
        {"List-customer-ledger", &LEDGER_SPEC},
    };
    for (size_t i = 0; i < sizeof SPECS / sizeof SPECS[0]; i++)
        if (strcmp(SPECS[i].operation_id, operation_id) == 0) return SPECS[i].spec;
    return NULL;
}
