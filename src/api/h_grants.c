/* Customer entitlements ("grants"): create, get, and the seed operation,
 * PATCH /entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}.
 *
 * Order of checks, as FastAPI's: a malformed body alone; else the path's
 * errors, then the body's, all at once; then (only when all of those pass)
 * entitled's own rules, reported in the same 422 shape: body ids must name the
 * path's objects and a window must not end before it starts. */
#include "api/api.h"
#include "api/query.h"

#include "domain/dt.h"
#include "domain/uid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    C_ID,
    C_ENTITLEMENT,
    C_CUSTOMER,
    C_EXPIRY,
    C_ACTIVE,
    C_QTY,
    C_QTY_USED,
    C_CONTRACT,
    C_SOURCE_TYPE,
    C_SOURCE_ID,
    C_BLOCK,
    C_INVOICE,
    C_EVENT,
    C_NUMERIC,
    C_FEATURE_OPTION,
    C_STATUS,
    C_COUNT
};
/* The reference's CreateEntitlementCustomerRequestSchema, in its order;
 * quantities are finite and >= 0 (API.md). */
static const vfield CREATE[C_COUNT] = {
    [C_ID] = {.name = "id", .type = V_UUID, .nullable = true},
    [C_ENTITLEMENT] = {.name = "entitlement", .type = V_STR, .nullable = true},
    [C_CUSTOMER] = {.name = "customer", .type = V_STR, .required = true},
    [C_EXPIRY] = {.name = "expiry_at", .type = V_TIME, .nullable = true},
    [C_ACTIVE] = {.name = "active_from", .type = V_TIME, .nullable = true},
    [C_QTY] = {.name = "quantity", .type = V_NUM_NONNEG, .nullable = true, .quantity = true},
    [C_QTY_USED] = {.name = "quantity_used",
                    .type = V_NUM_NONNEG,
                    .nullable = true,
                    .quantity = true},
    [C_CONTRACT] = {.name = "contract_id", .type = V_UUID, .nullable = true},
    [C_SOURCE_TYPE] = {.name = "source_type", .type = V_STR, .nullable = true},
    [C_SOURCE_ID] = {.name = "source_id", .type = V_UUID, .nullable = true},
    [C_BLOCK] = {.name = "block_amount", .type = V_NUM, .nullable = true},
    [C_INVOICE] = {.name = "invoice_id", .type = V_UUID, .nullable = true},
    [C_EVENT] = {.name = "event", .type = V_STR, .nullable = true},
    [C_NUMERIC] = {.name = "numeric_value", .type = V_NUM, .nullable = true},
    [C_FEATURE_OPTION] = {.name = "feature_option_value", .type = V_STR, .nullable = true},
    [C_STATUS] = {.name = "status", .type = V_STR, .nullable = true},
};

enum { U_ENTITLEMENT, U_CUSTOMER, U_EXPIRY, U_ACTIVE, U_QTY, U_QTY_USED, U_COUNT };
/* The reference's UpdateEntitlementCustomerRequestSchema. */
static const vfield UPDATE[U_COUNT] = {
    [U_ENTITLEMENT] = {.name = "entitlement", .type = V_STR, .required = true},
    [U_CUSTOMER] = {.name = "customer", .type = V_STR, .required = true},
    [U_EXPIRY] = {.name = "expiry_at", .type = V_TIME, .nullable = true},
    [U_ACTIVE] = {.name = "active_from", .type = V_TIME, .nullable = true},
    [U_QTY] = {.name = "quantity", .type = V_NUM_NONNEG, .nullable = true, .quantity = true},
    [U_QTY_USED] = {.name = "quantity_used",
                    .type = V_NUM_NONNEG,
                    .nullable = true,
                    .quantity = true},
};
const api_schema api_grant_schemas[] = {
    {"Create-entitlement-customer", CREATE, C_COUNT},
    {"Update-customer-entitlement", UPDATE, U_COUNT},
    {NULL, NULL, 0},
};

static void value_error(json_t *errors, const char *field, const char *text, const json_t *input) {
    char msg[200];
    snprintf(msg, sizeof msg, "Value error, %s", text);
    validate_error(errors, "value_error", validate_loc("body", field, NULL), msg, input, NULL);
}

/* A body id must name the path's object (any case, any UUID spelling). */
static void must_match(json_t *errors, const vval *v, const char *field, const char *path_name,
                       const char *path_id) {
    if (!v->present || v->null) return;
    char canon[ID_BUF], text[160];
    if (uid_canon(v->s, v->len, canon) == 0 && strcmp(canon, path_id) == 0) return;
    snprintf(text, sizeof text, "%s does not match %s in the path", field, path_name);
    value_error(errors, field, text, v->json);
}

static opt_time opt_t(const vval *v) {
    opt_time t = {v->present && !v->null, v->time};
    return t;
}
static opt_num opt_n(const vval *v) {
    opt_num n = {v->present && !v->null, v->num};
    return n;
}
static opt_dec opt_q(const vval *v) {
    opt_dec n = {v->present && !v->null, v->qty};
    return n;
}

/* active_from after expiry_at, both given in the body */
static void window_check(json_t *errors, const vval *active, const vval *expiry) {
    if (active->present && !active->null && expiry->present && !expiry->null &&
        active->time > expiry->time)
        value_error(errors, "active_from", "active_from must not be after expiry_at", active->json);
}

void h_grant_create(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = json_array();
    vval v[C_COUNT];
    model_grant g = {0};
    model_entitlement e = {0};
    model_customer c = {0};
    char ent[ID_BUF];
    int oom = 0;
    store_rc rc;
    if (!api_read_body(r, &body)) goto out;
    bool path_ok = api_path_uuid(r, "entitlement_id", ent, errors);
    bool obj = validate_body(body, CREATE, C_COUNT, v, errors);
    if (path_ok && obj && json_array_size(errors) == 0) {
        must_match(errors, &v[C_ENTITLEMENT], "entitlement", "entitlement_id", ent);
        if (json_array_size(errors) == 0) window_check(errors, &v[C_ACTIVE], &v[C_EXPIRY]);
        if (json_array_size(errors) == 0 &&
            uid_canon(v[C_CUSTOMER].s, v[C_CUSTOMER].len, g.customer) != 0)
            value_error(errors, "customer", "customer must be a customer id (a UUID)",
                        v[C_CUSTOMER].json);
    }
    if (json_array_size(errors)) {
        api_reply_errors(r, errors);
        errors = NULL;
        goto out;
    }
    if ((rc = store_entitlement_get(app->st, r->org, ent, &e)) != STORE_OK) {
        api_reply_store(r, rc, "Entitlement");
        goto out;
    }
    if ((rc = store_customer_get(app->st, r->org, g.customer, &c)) != STORE_OK) {
        api_reply_store(r, rc, "Customer");
        goto out;
    }
    if (v[C_ID].present && !v[C_ID].null) {
        memcpy(g.id, v[C_ID].uuid, ID_BUF);
    } else {
        uid_t16 id;
        if (uid_new_v7(&id) != 0) {
            http_reply_detail(r, 500, "Internal Server Error: no randomness for a new id");
            goto out;
        }
        uid_format(&id, g.id);
    }
    memcpy(g.entitlement, ent, ID_BUF);
    g.expiry_at = opt_t(&v[C_EXPIRY]);
    g.active_from = opt_t(&v[C_ACTIVE]);
    g.quantity = opt_q(&v[C_QTY]);
    g.quantity_used = opt_q(&v[C_QTY_USED]);
    g.block_amount = opt_n(&v[C_BLOCK]);
    g.numeric_value = opt_n(&v[C_NUMERIC]);
    g.contract_id = validate_strdup(&v[C_CONTRACT], &CREATE[C_CONTRACT], &oom);
    g.source_type = validate_strdup(&v[C_SOURCE_TYPE], &CREATE[C_SOURCE_TYPE], &oom);
    g.source_id = validate_strdup(&v[C_SOURCE_ID], &CREATE[C_SOURCE_ID], &oom);
    g.invoice_id = validate_strdup(&v[C_INVOICE], &CREATE[C_INVOICE], &oom);
    g.event = validate_strdup(&v[C_EVENT], &CREATE[C_EVENT], &oom);
    g.feature_option_value = validate_strdup(&v[C_FEATURE_OPTION], &CREATE[C_FEATURE_OPTION], &oom);
    g.status = validate_strdup(&v[C_STATUS], &CREATE[C_STATUS], &oom);
    g.created_at = g.updated_at = dt_now();
    if (oom) {
        http_reply_detail(r, 500, "Internal Server Error: out of memory");
        goto out;
    }
    store_meta m = api_meta(r);
    /* The answer first (issue 7): built after the insert, memory running
     * out answered 500 for a row that was made. A store failure then
     * replaces it. */
    api_reply_grant(r, &g);
    if (r->status != 200) goto out;
    if ((rc = store_grant_create(app->st, r->org, &g, g.created_at, &m)) != STORE_OK)
        api_reply_store(r, rc,
                        rc == STORE_NOT_FOUND ? "Entitlement or customer" : "Customer entitlement");
out:
    model_grant_clear(&g);
    model_entitlement_clear(&e);
    model_customer_clear(&c);
    json_decref(errors);
    json_decref(body);
}

/* The three path ids of a row; false when any is malformed (the 422 answer
 * with all of them is then set). */
static bool row_path(http_req *r, char *ent, char *cust, char *id) {
    json_t *errors = json_array();
    bool a = api_path_uuid(r, "entitlement_id", ent, errors);
    bool b = api_path_uuid(r, "customer_id", cust, errors);
    bool c = api_path_uuid(r, "ec_id", id, errors);
    if (a && b && c) {
        json_decref(errors);
        return true;
    }
    api_reply_errors(r, errors);
    return false;
}

void h_grant_get(void *appv, http_req *r) {
    api_app *app = appv;
    char ent[ID_BUF], cust[ID_BUF], id[ID_BUF];
    if (!row_path(r, ent, cust, id)) return;
    model_grant g;
    store_rc rc = store_grant_get(app->st, r->org, ent, cust, id, &g);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Customer entitlement");
        return;
    }
    api_reply_grant(r, &g);
    model_grant_clear(&g);
}

json_t *api_grant_patch_check(const char *ent_s, const char *cust_s, const char *id_s,
                              const json_t *body, char *ent, char *cust, char *id,
                              model_grant_patch *p, const json_t **active_in,
                              const json_t **expiry_in) {
    json_t *errors = json_array();
    vval v[U_COUNT];
    bool a = validate_path_uuid("entitlement_id", ent_s, ent, errors);
    bool b = validate_path_uuid("customer_id", cust_s, cust, errors);
    bool c = validate_path_uuid("ec_id", id_s, id, errors);
    bool obj = validate_body(body, UPDATE, U_COUNT, v, errors);
    if (a && b && c && obj && json_array_size(errors) == 0) {
        must_match(errors, &v[U_ENTITLEMENT], "entitlement", "entitlement_id", ent);
        must_match(errors, &v[U_CUSTOMER], "customer", "customer_id", cust);
        if (json_array_size(errors) == 0) window_check(errors, &v[U_ACTIVE], &v[U_EXPIRY]);
    }
    memset(p, 0, sizeof(*p));
    if (json_array_size(errors)) return errors;
    if (v[U_ACTIVE].present) p->fields |= GRANT_F_ACTIVE_FROM, p->active_from = opt_t(&v[U_ACTIVE]);
    if (v[U_EXPIRY].present) p->fields |= GRANT_F_EXPIRY_AT, p->expiry_at = opt_t(&v[U_EXPIRY]);
    if (v[U_QTY].present) p->fields |= GRANT_F_QUANTITY, p->quantity = opt_q(&v[U_QTY]);
    if (v[U_QTY_USED].present)
        p->fields |= GRANT_F_QUANTITY_USED, p->quantity_used = opt_q(&v[U_QTY_USED]);
    *active_in = v[U_ACTIVE].json;
    *expiry_in = v[U_EXPIRY].json;
    return errors;
}

void h_grant_update(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = NULL;
    char ent[ID_BUF], cust[ID_BUF], id[ID_BUF];
    const json_t *active_in = NULL, *expiry_in = NULL;
    model_grant_patch p;
    if (!api_read_body(r, &body)) goto out;
    const char *ps[3] = {http_param(r, "entitlement_id"), http_param(r, "customer_id"),
                         http_param(r, "ec_id")};
    errors = api_grant_patch_check(ps[0] ? ps[0] : "", ps[1] ? ps[1] : "", ps[2] ? ps[2] : "", body,
                                   ent, cust, id, &p, &active_in, &expiry_in);
    if (json_array_size(errors)) {
        api_reply_errors(r, errors);
        errors = NULL;
        goto out;
    }
    model_grant g;
    store_meta m = api_meta(r);
    /* the answer is built before the commit (issue 7); a read needs no hold */
    bool held = false;
    if (p.fields && !api_write_begin(app, r, &held)) goto out;
    /* A PATCH naming no field changes nothing, updated_at included: read
     * (and no ledger entry: nothing changed). */
    store_rc rc = p.fields
                      ? store_grant_update(app->st, r->org, ent, cust, id, &p, dt_now(), &m, &g)
                      : store_grant_get(app->st, r->org, ent, cust, id, &g);
    if (rc == STORE_WINDOW) {
        /* The merged row would end before it starts: name the bound the
         * client sent, as a 422 in FastAPI's shape. */
        json_t *errs = json_array();
        bool active = p.fields & GRANT_F_ACTIVE_FROM;
        value_error(errs, active ? "active_from" : "expiry_at",
                    "active_from must not be after expiry_at", active ? active_in : expiry_in);
        api_reply_errors(r, errs);
    } else if (rc != STORE_OK) {
        api_reply_store(r, rc, "Customer entitlement");
    } else {
        api_reply_grant(r, &g);
        model_grant_clear(&g);
    }
    api_write_end(app, r, held);
out:
    json_decref(errors);
    json_decref(body);
}

void h_grant_delete(void *appv, http_req *r) {
    api_app *app = appv;
    char ent[ID_BUF], cust[ID_BUF], id[ID_BUF];
    if (!row_path(r, ent, cust, id)) return;
    model_grant g;
    store_meta m = api_meta(r);
    bool held; /* the answer is built before the commit (issue 7) */
    if (!api_write_begin(app, r, &held)) return;
    store_rc rc = store_grant_delete(app->st, r->org, ent, cust, id, dt_now(), &m, &g);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Customer entitlement");
    } else {
        api_reply_grant(r, &g);
        model_grant_clear(&g);
    }
    api_write_end(app, r, held);
}

typedef struct {
    json_t *errors;
    const char *start, *end;
} total_args;

static bool total_arg(void *cls, const char *key, const char *value, size_t len) {
    total_args *a = cls;
    if (value && strlen(value) != len) /* a NUL inside: no integer ends there */
        value = "\x01";
    if (strcmp(key, "start_date") == 0)
        a->start = value ? value : "";
    else if (strcmp(key, "end_date") == 0)
        a->end = value ? value : "";
    else {
        json_t *in = json_string(value ? value : "");
        validate_error(a->errors, "extra_forbidden", validate_loc("query", key, NULL),
                       "Extra inputs are not permitted", in, NULL);
        json_decref(in);
    }
    return true;
}

/* A Unix-seconds bound as an instant; false with an error added. */
static bool total_bound(json_t *errors, const char *name, const char *text, int64_t *out) {
    int64_t secs;
    json_t *in = json_string(text);
    bool ok = false;
    if (!query_int(text, &secs)) {
        validate_error(errors, "int_parsing", validate_loc("query", name, NULL),
                       "Input should be a valid integer, unable to parse string as an integer", in,
                       NULL);
    } else if (secs < DT_MIN_INSTANT / 1000000 || secs > DT_MAX_INSTANT / 1000000) {
        validate_error(errors, "value_error", validate_loc("query", name, NULL),
                       "Value error, the instant must fall within years 0001 to 9999 in UTC", in,
                       NULL);
    } else {
        *out = secs * 1000000;
        ok = true;
    }
    json_decref(in);
    return ok;
}

void h_grant_total(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *errors = json_array();
    char ent[ID_BUF], cust[ID_BUF];
    bool a = api_path_uuid(r, "entitlement_id", ent, errors);
    bool b = api_path_uuid(r, "customer_id", cust, errors);
    total_args args = {errors, NULL, NULL};
    http_query_each(r, total_arg, &args);
    int64_t from = 0, to = 0;
    bool has_from = args.start && total_bound(errors, "start_date", args.start, &from);
    bool has_to = args.end && total_bound(errors, "end_date", args.end, &to);
    if (has_from && has_to && from > to) {
        json_t *in = json_string(args.start);
        validate_error(errors, "value_error", validate_loc("query", "start_date", NULL),
                       "Value error, start_date must not be after end_date", in, NULL);
        json_decref(in);
    }
    if (json_array_size(errors) || !a || !b) {
        api_reply_errors(r, errors);
        return;
    }
    json_decref(errors);
    if (!args.start && !args.end) {
        /* the rows active now: windows holding the instant [now, now + 1us) */
        from = dt_now();
        to = from + 1;
        has_from = has_to = true;
    }
    model_entitlement e;
    model_customer c;
    store_rc rc = store_entitlement_get(app->st, r->org, ent, &e);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Entitlement");
        return;
    }
    model_entitlement_clear(&e);
    if ((rc = store_customer_get(app->st, r->org, cust, &c)) != STORE_OK) {
        api_reply_store(r, rc, "Customer");
        return;
    }
    model_customer_clear(&c);
    dec_sum sum = 0;
    if ((rc = store_grant_total(app->st, r->org, ent, cust, has_from, from, has_to, to, &sum)) !=
        STORE_OK) {
        api_reply_store(r, rc, "Total");
        return;
    }
    jw w;
    jw_init(&w, 4096);
    jw_obj_begin(&w);
    jw_kstr(&w, "entitlement", ent);
    jw_kstr(&w, "customer", cust);
    api_kdec(&w, "quantity", sum);
    jw_obj_end(&w);
    api_reply_jw(r, 200, &w);
}
