/* api: the Zenskar operations. Each handler validates its path and body
 * (validate/), calls the store, and writes the answer (util/jw). The route
 * table in routes.c is the one list of what the server serves. */
#ifndef ENTITLED_API_H
#define ENTITLED_API_H

#include "http/http.h"
#include "store/store.h"
#include "util/jw.h"
#include "validate/validate.h"

#include <jansson.h>

typedef struct {
    store *st;
} api_app;

extern const route api_routes[];
extern const size_t api_nroutes;

/* The authoriser the edge calls before the body (auth.c). */
bool api_authorize(void *app, http_req *r);

/* The request pipeline (pipeline.c): the edge's invoke hook, which runs an
 * authorised request's stages (faults, read snapshot, deferral,
 * Idempotency-Key) and then its handler. */
void api_invoke(void *app, http_req *r);
/* cfg.lost: a held write's change was lost after its answer was built. */
void api_lost(void *app, http_req *r, int rc);
/* What the store records of the request in ledger entries. */
store_meta api_meta(const http_req *r);
/* The held write (pipeline.c): a write's answer is built before its change
 * is committed (issue 7). An update, delete or consume handler calls
 * api_write_begin() after its checks, then its store call and its answer,
 * then api_write_end(), which commits only a 200 (else rolls back; a failed
 * commit answers 500/503), so an answer that cannot be built (out of
 * memory) leaves nothing changed. Inside a request with an Idempotency-Key
 * (already one transaction) both do nothing. api_write_begin() returns
 * false with the answer set (503/500). */
bool api_write_begin(api_app *app, http_req *r, bool *held);
void api_write_end(api_app *app, http_req *r, bool held);
/* Pipeline stage 4 (idempotency.c): the handler, under the request's
 * Idempotency-Key when it has one (a replay answers without it). */
void api_idem_run(api_app *app, http_req *r);

/* Keys: "ek_<16 hex id>_<43 base64url secret>" (auth.c). */
#define API_KEY_MAX 80
int api_key_new(char *key_out, size_t cap, char *id_out, uint8_t hash_out[32]);

/* Answers (answer.c). */
void api_reply_jw(http_req *r, unsigned status, jw *w);
void api_reply_errors(http_req *r, json_t *errors); /* 422; takes `errors` */
/* Map a store failure to its status; `what` names the object ("Customer"). */
void api_reply_store(http_req *r, store_rc rc, const char *what);

/* The request body as FastAPI reads it. Returns false when the answer is
 * already set (malformed JSON: 422 json_invalid; not UTF-8: 400). On true,
 * *out is the parsed value, or NULL for an empty body; a body sent with a
 * non-JSON content type is a string holding its text, as FastAPI passes the
 * raw bytes on to validation. */
bool api_read_body(http_req *r, json_t **out);
/* The same without a request: 0 with *out set, or the status of the refusal
 * with either *errors (422 detail items, owned by the caller) or *detail. */
unsigned api_body_parse(const char *body, size_t len, const char *content_type, json_t **out,
                        json_t **errors, const char **detail);

/* The seed PATCH's checks (h_grants.c), apart from the request so the vector
 * tests can run them: the path's three ids as sent and the parsed body (NULL
 * when empty). Fills the canonical ids and the patch; returns the 422 detail
 * items (empty when valid; owned by the caller). */
json_t *api_grant_patch_check(const char *ent_s, const char *cust_s, const char *id_s,
                              const json_t *body, char *ent, char *cust, char *id,
                              model_grant_patch *p, const json_t **active_in,
                              const json_t **expiry_in);

/* The body model of each operation that takes a body: the vfield table its
 * handler validates the body with, by operationId (routes.c). Each h_*.c
 * lists its own (a NULL operation_id ends a list); api_body_schema()
 * (routes.c) finds one, so that the body fuzzer (fuzz/fuzz_body.c) checks
 * every operation's real table. */
typedef struct {
    const char *operation_id;
    const vfield *fields;
    size_t n;
} api_schema;
extern const api_schema api_customer_schemas[], api_entitlement_schemas[], api_grant_schemas[],
    api_consume_schemas[];
/* The body table of `operation_id` and its length; NULL when it takes no body. */
const vfield *api_body_schema(const char *operation_id, size_t *n);

/* Consume's body checks (h_consume.c), apart from the request: the table's,
 * then quantity > 0 and no member but quantity and at. */
void api_consume_body(json_t *body, json_t *errors, vval *v);

/* Path UUID parameters in route order; appends their errors. */
bool api_path_uuid(http_req *r, const char *name, char *out, json_t *errors);
/* A route's one path UUID; false when the 422 answer is already set. */
bool api_path_id(http_req *r, const char *name, char *out);

/* 200 with the object. */
void api_reply_customer(http_req *r, const model_customer *c);
void api_reply_entitlement(http_req *r, const model_entitlement *e);
void api_reply_grant(http_req *r, const model_grant *g);

void api_write_grant(jw *w, const model_grant *g);
/* A row's members after id, entitlement and customer (for list items). */
void api_write_grant_fields(jw *w, const model_grant *g);
/* key: the value, or null when unset */
void api_kopt_num(jw *w, const char *k, opt_num v);
/* a quantity or sum (dec.h), in its shortest form (k NULL: the value alone,
 * after a key written already); null when unset */
void api_kdec(jw *w, const char *k, dec_sum v);
void api_kopt_dec(jw *w, const char *k, opt_dec v);
void api_kopt_time(jw *w, const char *k, opt_time v);
/* key: a model string, NUL characters included, or null */
void api_kmstr(jw *w, const char *k, const char *s);
void api_write_customer(jw *w, const model_customer *c);
void api_write_entitlement(jw *w, const model_entitlement *e);

/* handlers */
void h_healthz(void *app, http_req *r);
void h_customer_create(void *app, http_req *r);
void h_customer_get(void *app, http_req *r);
void h_entitlement_create(void *app, http_req *r);
void h_entitlement_get(void *app, http_req *r);
void h_grant_create(void *app, http_req *r);
void h_grant_get(void *app, http_req *r);
void h_grant_update(void *app, http_req *r);
void h_grant_delete(void *app, http_req *r);
void h_grant_total(void *app, http_req *r);
void h_entitlement_update(void *app, http_req *r);
void h_entitlement_delete(void *app, http_req *r);
void h_customer_update(void *app, http_req *r);
void h_customer_delete(void *app, http_req *r);
void h_list_entitlements(void *app, http_req *r);
void h_list_customers(void *app, http_req *r);
void h_list_customer_grants(void *app, http_req *r);
void h_list_unique(void *app, http_req *r);
void h_list_balances(void *app, http_req *r);
void h_consume(void *app, http_req *r);
void h_balance(void *app, http_req *r);
void h_list_ledger(void *app, http_req *r);

#endif
