/* answer: reading bodies and writing answers the way FastAPI does. */
#include "api/api.h"

#include "validate/pyjson.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANSWER_MAX (4u << 20)

void api_reply_jw(http_req *r, unsigned status, jw *w) {
    size_t len = 0;
    char *out = jw_take(w, &len);
    if (!out) {
        http_reply_detail(r, 500, "Internal Server Error: the answer could not be built");
        return;
    }
    http_reply(r, status, out, len);
}

void api_reply_errors(http_req *r, json_t *errors) {
    jw w;
    jw_init(&w, ANSWER_MAX);
    jw_obj_begin(&w);
    jw_key(&w, "detail");
    jw_value(&w, errors);
    jw_obj_end(&w);
    json_decref(errors);
    api_reply_jw(r, 422, &w);
}

void api_reply_store(http_req *r, store_rc rc, const char *what) {
    char msg[128];
    switch (rc) {
    case STORE_OK:
        return;
    case STORE_NOT_FOUND:
        snprintf(msg, sizeof msg, "%s not found", what);
        http_reply_detail(r, 404, msg);
        return;
    case STORE_CONFLICT:
        snprintf(msg, sizeof msg, "%s with this id already exists", what);
        http_reply_detail(r, 409, msg);
        return;
    case STORE_WINDOW:
        http_reply_detail(r, 422, "active_from must not be after expiry_at");
        return;
    case STORE_SHORT: /* consume answers its own 409; a fallback only */
        http_reply_detail(r, 409, "Not enough remaining");
        return;
    case STORE_DUPLICATE: /* only customers have a unique field, their email */
        http_reply_detail(r, 400, "A customer with this email already exists");
        return;
    case STORE_BUSY:
        http_reply_header(r, "Retry-After", "1");
        http_reply_detail(r, 503, "The database is busy or unavailable; retry shortly");
        return;
    case STORE_ERROR:
        http_reply_detail(r, 500,
                          "Internal Server Error: the database failed; nothing was changed");
        return;
    case STORE_UNKNOWN:
        http_reply_header(r, "Retry-After", "5");
        http_reply_detail(r, 503,
                          "The change may or may not have been kept: the database did not "
                          "confirm it (its sync to disk failed, or the connection to it was "
                          "lost at the commit). Read the object, or retry with the same "
                          "Idempotency-Key, to learn the outcome");
        return;
    case STORE_FULL:
        http_reply_detail(r, 507,
                          "Insufficient Storage: the database's disk is full (or the file "
                          "reached its size limit); nothing was changed");
        return;
    case STORE_HALTED:
        http_reply_header(r, "Retry-After", "5");
        http_reply_detail(r, 503,
                          "Writes are refused until the server is restarted: the database could "
                          "not be synced to disk, so what it holds is uncertain; nothing was "
                          "changed");
        return;
    }
}

/* FastAPI parses the body as JSON only without a content type or with
 * application/json or application/...+json. */
static bool json_content_type(const char *ct) {
    if (!ct) return true;
    while (*ct == ' ')
        ct++;
    if (strncasecmp(ct, "application/", 12) != 0) return false;
    const char *sub = ct + 12;
    size_t n = strcspn(sub, "; \t");
    if (n == 4 && strncasecmp(sub, "json", 4) == 0) return true;
    return n >= 5 && strncasecmp(sub + n - 5, "+json", 5) == 0;
}

unsigned api_body_parse(const char *body, size_t len, const char *content_type, json_t **out,
                        json_t **errors, const char **detail) {
    *out = NULL;
    *errors = NULL;
    *detail = NULL;
    if (!body || len == 0) return 0;
    if (!json_content_type(content_type)) {
        *out = json_stringn(body, len); /* NULL when not UTF-8 */
        if (*out) return 0;
        *detail = "There was an error parsing the body";
        return 400;
    }
    pyjson_error e;
    switch (pyjson_parse(body, len, out, &e)) {
    case PYJSON_OK:
        return 0;
    case PYJSON_INVALID: {
        json_t *loc = json_array(), *ctx = json_object(), *empty = json_object();
        *errors = json_array();
        json_array_append_new(loc, json_string("body"));
        json_array_append_new(loc, json_integer((json_int_t)e.pos));
        json_object_set_new(ctx, "error", json_string(e.msg));
        validate_error(*errors, "json_invalid", loc, "JSON decode error", empty, ctx);
        json_decref(empty);
        return 422;
    }
    case PYJSON_NOT_UTF8:
        *detail = "There was an error parsing the body";
        return 400;
    case PYJSON_TOO_DEEP:
        *detail = "There was an error parsing the body"; /* FastAPI's words for RecursionError */
        return 400;
    case PYJSON_NOMEM:
        break;
    }
    *detail = "Internal Server Error: out of memory";
    return 500;
}

bool api_read_body(http_req *r, json_t **out) {
    json_t *errors;
    const char *detail;
    unsigned status =
        api_body_parse(r->body, r->body_len, http_header(r, "content-type"), out, &errors, &detail);
    if (status == 0) return true;
    if (errors)
        api_reply_errors(r, errors);
    else
        http_reply_detail(r, status, detail);
    return false;
}

bool api_path_id(http_req *r, const char *name, char *out) {
    json_t *errors = json_array();
    if (api_path_uuid(r, name, out, errors)) {
        json_decref(errors);
        return true;
    }
    api_reply_errors(r, errors);
    return false;
}

void api_reply_customer(http_req *r, const model_customer *c) {
    jw w;
    jw_init(&w, 4u << 20); /* nested JSON of up to 1 MiB each */
    api_write_customer(&w, c);
    api_reply_jw(r, 200, &w);
}

void api_reply_entitlement(http_req *r, const model_entitlement *e) {
    jw w;
    jw_init(&w, 1u << 20);
    api_write_entitlement(&w, e);
    api_reply_jw(r, 200, &w);
}

void api_reply_grant(http_req *r, const model_grant *g) {
    jw w;
    jw_init(&w, 1u << 20);
    api_write_grant(&w, g);
    api_reply_jw(r, 200, &w);
}

bool api_path_uuid(http_req *r, const char *name, char *out, json_t *errors) {
    const char *v = http_param(r, name);
    return validate_path_uuid(name, v ? v : "", out, errors);
}

void api_kopt_num(jw *w, const char *k, opt_num v) {
    jw_key(w, k);
    if (v.set)
        jw_num(w, v.v);
    else
        jw_null(w);
}
void api_kdec(jw *w, const char *k, dec_sum v) {
    char buf[DEC_FORMAT_MAX];
    size_t n = dec_format(v, buf);
    if (k) jw_key(w, k);
    jw_raw(w, buf, n);
}
void api_kopt_dec(jw *w, const char *k, opt_dec v) {
    if (v.set)
        api_kdec(w, k, v.v);
    else
        jw_key(w, k), jw_null(w);
}
void api_kopt_time(jw *w, const char *k, opt_time v) {
    jw_key(w, k);
    if (v.set)
        jw_time(w, v.v);
    else
        jw_null(w);
}
static void kopt_bool(jw *w, const char *k, opt_bool v) {
    jw_key(w, k);
    if (v >= 0)
        jw_bool(w, v);
    else
        jw_null(w);
}
/* a stored JSON text, or `dflt` (raw JSON) when there is none */
static void kjson(jw *w, const char *k, const char *text, const char *dflt) {
    jw_key(w, k);
    if (text)
        jw_raw(w, text, mstr_len(text));
    else
        jw_raw(w, dflt, strlen(dflt));
}

/* a model string, NUL characters included, or null */
void api_kmstr(jw *w, const char *k, const char *s) {
    jw_key(w, k);
    if (s)
        jw_strn(w, s, mstr_len(s));
    else
        jw_null(w);
}

/* The reference's SingleEntitlementCustomerResponseSchema fields first, then
 * what entitled adds: the remaining balance and the stored create fields. */
void api_write_grant(jw *w, const model_grant *g) {
    jw_obj_begin(w);
    jw_kstr(w, "id", g->id);
    jw_kstr(w, "entitlement", g->entitlement);
    jw_kstr(w, "customer", g->customer);
    api_write_grant_fields(w, g);
    jw_obj_end(w);
}

void api_write_grant_fields(jw *w, const model_grant *g) {
    api_kopt_time(w, "expiry_at", g->expiry_at);
    api_kopt_time(w, "active_from", g->active_from);
    api_kopt_dec(w, "quantity", g->quantity);
    api_kopt_dec(w, "quantity_used", g->quantity_used);
    jw_key(w, "created_at");
    jw_time(w, g->created_at);
    /* exact; negative when a PATCH set quantity_used above quantity */
    opt_dec rem = {g->quantity.set, 0};
    if (rem.set) rem.v = g->quantity.v - (g->quantity_used.set ? g->quantity_used.v : 0);
    api_kopt_dec(w, "quantity_remaining", rem);
    api_kmstr(w, "contract_id", g->contract_id);
    api_kmstr(w, "source_type", g->source_type);
    api_kmstr(w, "source_id", g->source_id);
    api_kopt_num(w, "block_amount", g->block_amount);
    api_kmstr(w, "invoice_id", g->invoice_id);
    api_kmstr(w, "event", g->event);
    api_kopt_num(w, "numeric_value", g->numeric_value);
    api_kmstr(w, "feature_option_value", g->feature_option_value);
    api_kmstr(w, "status", g->status);
    jw_key(w, "updated_at");
    jw_time(w, g->updated_at);
}

void api_write_customer(jw *w, const model_customer *c) {
    jw_obj_begin(w);
    jw_kstr(w, "id", c->id);
    api_kmstr(w, "external_id", c->external_id);
    api_kmstr(w, "customer_name", c->customer_name);
    kjson(w, "custom_data", c->custom_data, "{}");
    kjson(w, "address", c->address, "{}");
    kjson(w, "ship_to_address", c->ship_to_address, "{}");
    kjson(w, "tax_info", c->tax_info, "null");
    api_kmstr(w, "phone_number", c->phone_number);
    api_kmstr(w, "email", c->email);
    kjson(w, "contacts", NULL, "[]");
    kjson(w, "custom_attributes", NULL, "{}");
    kopt_bool(w, "communications_enabled", c->communications_enabled);
    kopt_bool(w, "auto_charge_enabled", c->auto_charge_enabled);
    kjson(w, "invoice_details", NULL, "{}");
    kjson(w, "connector", c->connector, "null");
    api_kmstr(w, "business_entity_id", c->business_entity_id);
    jw_key(w, "created_at");
    jw_time(w, c->created_at);
    jw_key(w, "updated_at");
    jw_time(w, c->updated_at);
    jw_obj_end(w);
}

void api_write_entitlement(jw *w, const model_entitlement *e) {
    jw_obj_begin(w);
    jw_kstr(w, "id", e->id);
    api_kmstr(w, "name", e->name);
    api_kmstr(w, "description", e->description);
    api_kmstr(w, "entitlement_type", e->entitlement_type);
    api_kmstr(w, "units", e->units);
    kopt_bool(w, "is_active", e->is_active);
    api_kmstr(w, "product_id", e->product_id);
    jw_key(w, "created_at");
    jw_time(w, e->created_at);
    jw_obj_end(w);
}
