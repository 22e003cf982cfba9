/* Consumption: POST .../consume draws units from a customer's active rows
 * of one entitlement, atomically, in burn order; GET .../balance answers a
 * pair's balance at an instant from the ledger. entitled's own operations
 * (docs/API.md, "Consumption, the ledger and idempotency"). */
#include "api/api.h"

#include "domain/dt.h"
#include "domain/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_QTY, K_AT, K_COUNT };
static const vfield CONSUME[K_COUNT] = {
    [K_QTY] = {.name = "quantity", .type = V_NUM, .required = true, .quantity = true},
    [K_AT] = {.name = "at", .type = V_TIME, .nullable = true},
};
const api_schema api_consume_schemas[] = {
    {"Consume-customer-entitlement", CONSUME, K_COUNT},
    {NULL, NULL, 0},
};

/* The pair's entitlement and customer must be the caller's; a Feature has
 * nothing to count. False when the answer is set. */
static bool pair_check(api_app *app, http_req *r, const char *ent, const char *cust,
                       bool consuming) {
    model_entitlement e;
    model_customer c;
    store_rc rc = store_entitlement_get(app->st, r->org, ent, &e);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Entitlement");
        return false;
    }
    bool feature = e.entitlement_type && strcmp(e.entitlement_type, "Feature") == 0;
    model_entitlement_clear(&e);
    if ((rc = store_customer_get(app->st, r->org, cust, &c)) != STORE_OK) {
        api_reply_store(r, rc, "Customer");
        return false;
    }
    model_customer_clear(&c);
    if (consuming && feature) {
        http_reply_detail(r, 422, "A Feature entitlement has nothing to consume");
        return false;
    }
    return true;
}

static void write_balance_members(jw *w, const store_balance *b) {
    api_kdec(w, "quantity", b->quantity);
    api_kdec(w, "quantity_used", b->quantity_used);
    jw_key(w, "quantity_remaining");
    if (b->unlimited)
        jw_null(w);
    else
        api_kdec(w, NULL, b->remaining);
    jw_kbool(w, "unlimited", b->unlimited);
    jw_key(w, "active_rows");
    jw_int(w, b->active_rows);
}

static bool loc_is(const json_t *item, const char *field) {
    const json_t *name = json_array_get(json_object_get(item, "loc"), 1);
    return json_is_string(name) && strcmp(json_string_value(name), field) == 0;
}

/* Checks the body as FastAPI would a model with extra="forbid" and
 * quantity: float = Field(gt=0): the fields' errors in field order
 * (quantity's bound with quantity's), then the extra members' in body
 * order. */
void api_consume_body(json_t *body, json_t *errors, vval *v) {
    json_t *mine = json_array();
    if (!validate_body(body, CONSUME, K_COUNT, v, mine)) {
        json_array_extend(errors, mine);
        json_decref(mine);
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(mine, i, item) if (loc_is(item, "quantity")) json_array_append(errors, item);
    if (v[K_QTY].present && v[K_QTY].ok && !(v[K_QTY].num > 0))
        validate_error(errors, "greater_than", validate_loc("body", "quantity", NULL),
                       "Input should be greater than 0", v[K_QTY].json,
                       json_pack("{s:i}", "gt", 0));
    json_array_foreach(mine, i, item) if (!loc_is(item, "quantity"))
        json_array_append(errors, item);
    json_decref(mine);
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val) {
        if (strcmp(key, "quantity") != 0 && strcmp(key, "at") != 0)
            validate_error(errors, "extra_forbidden", validate_loc("body", key, NULL),
                           "Extra inputs are not permitted", val, NULL);
    }
}

void h_consume(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *body = NULL, *errors = json_array();
    char ent[ID_BUF], cust[ID_BUF];
    vval v[K_COUNT];
    consume_result res = {0};
    bool held = false; /* the answer is built before the commit (issue 7) */
    if (!api_read_body(r, &body)) goto out;
    bool a = api_path_uuid(r, "entitlement_id", ent, errors);
    bool b = api_path_uuid(r, "customer_id", cust, errors);
    api_consume_body(body, errors, v);
    if (json_array_size(errors) || !a || !b) {
        api_reply_errors(r, errors);
        errors = NULL;
        goto out;
    }
    if (!pair_check(app, r, ent, cust, true)) goto out;
    int64_t now = dt_now();
    int64_t at = v[K_AT].present && !v[K_AT].null ? v[K_AT].time : now;
    dec q = v[K_QTY].qty;
    store_meta m = api_meta(r);
    if (!api_write_begin(app, r, &held)) goto out;
    store_rc rc = store_consume(app->st, r->org, ent, cust, q, at, now, &m, &res);
    jw w;
    jw_init(&w, 1u << 20);
    jw_obj_begin(&w);
    if (rc == STORE_SHORT) {
        dec_sum avail = res.after.remaining;
        char numq[DEC_FORMAT_MAX], numa[DEC_FORMAT_MAX], detail[200];
        dec_format(q, numq);
        dec_format(avail, numa);
        snprintf(detail, sizeof detail, "Not enough remaining: requested %s, available %s", numq,
                 numa);
        jw_kstr(&w, "detail", detail);
        api_kdec(&w, "requested", q);
        api_kdec(&w, "available", avail);
        jw_obj_end(&w);
        api_reply_jw(r, 409, &w);
        goto out;
    }
    if (rc != STORE_OK) {
        jw_free(&w);
        api_reply_store(r, rc, "Customer entitlement");
        goto out;
    }
    jw_kstr(&w, "entitlement", ent);
    jw_kstr(&w, "customer", cust);
    api_kdec(&w, "quantity", q);
    jw_key(&w, "at");
    jw_time(&w, at);
    jw_key(&w, "ledger_seq");
    jw_int(&w, res.seq);
    jw_key(&w, "draws");
    jw_arr_begin(&w);
    for (size_t i = 0; i < res.ndraws; i++) {
        const consume_draw *d = &res.draws[i];
        jw_obj_begin(&w);
        jw_kstr(&w, "id", d->row);
        api_kdec(&w, "quantity_drawn", d->drawn);
        api_kopt_dec(&w, "quantity", d->quantity);
        api_kdec(&w, "quantity_used", d->quantity_used);
        dec room = d->quantity.v > d->quantity_used ? d->quantity.v - d->quantity_used : 0;
        api_kopt_dec(&w, "quantity_remaining", (opt_dec){d->quantity.set, room});
        jw_obj_end(&w);
    }
    jw_arr_end(&w);
    jw_key(&w, "quantity_remaining");
    if (res.after.unlimited)
        jw_null(&w);
    else
        api_kdec(&w, NULL, res.after.remaining);
    jw_obj_end(&w);
    api_reply_jw(r, 200, &w);
out:
    api_write_end(app, r, held); /* commits only a 200 */
    consume_result_clear(&res);
    json_decref(errors);
    json_decref(body);
}

typedef struct {
    json_t *errors;
    const char *at;
    size_t at_len;
} balance_args;

static bool balance_arg(void *cls, const char *key, const char *value, size_t len) {
    balance_args *a = cls;
    if (strcmp(key, "at") == 0) {
        a->at = value ? value : "";
        a->at_len = value ? len : 0;
        return true;
    }
    json_t *in = json_stringn(value ? value : "", value ? len : 0);
    validate_error(a->errors, "extra_forbidden", validate_loc("query", key, NULL),
                   "Extra inputs are not permitted", in, NULL);
    json_decref(in);
    return true;
}

void h_balance(void *appv, http_req *r) {
    api_app *app = appv;
    json_t *errors = json_array();
    char ent[ID_BUF], cust[ID_BUF];
    bool a = api_path_uuid(r, "entitlement_id", ent, errors);
    bool b = api_path_uuid(r, "customer_id", cust, errors);
    balance_args args = {errors, NULL, 0};
    http_query_each(r, balance_arg, &args);
    int64_t at = dt_now();
    if (args.at) {
        static const vfield AT = {.name = "at", .type = V_TIME};
        vval v;
        json_t *in = json_stringn(args.at, args.at_len);
        json_t *loc = validate_loc("query", NULL);
        if (!in || !validate_value(in, &AT, &v, errors, loc)) {
            if (!in)
                validate_error(errors, "datetime_parsing", validate_loc("query", "at", NULL),
                               "Input should be a valid datetime", NULL, NULL);
        } else {
            at = v.time;
        }
        json_decref(loc);
        json_decref(in);
    }
    if (json_array_size(errors) || !a || !b) {
        api_reply_errors(r, errors);
        return;
    }
    json_decref(errors);
    if (!pair_check(app, r, ent, cust, false)) return;
    store_balance bal;
    store_rc rc = store_balance_at(app->st, r->org, ent, cust, at, &bal);
    if (rc != STORE_OK) {
        api_reply_store(r, rc, "Balance");
        return;
    }
    jw w;
    jw_init(&w, 4096);
    jw_obj_begin(&w);
    jw_kstr(&w, "entitlement", ent);
    jw_kstr(&w, "customer", cust);
    jw_key(&w, "at");
    jw_time(&w, at);
    write_balance_members(&w, &bal);
    jw_obj_end(&w);
    api_reply_jw(r, 200, &w);
}
