#include "domain/model.h"

#include <stdlib.h>
#include <string.h>

char *mstr_new(const char *s, size_t n) {
    char *m = malloc(sizeof(size_t) + n + 1);
    if (!m) return NULL;
    memcpy(m, &n, sizeof n);
    memcpy(m + sizeof n, s, n);
    m[sizeof n + n] = '\0';
    return m + sizeof n;
}

size_t mstr_len(const char *s) {
    size_t n = 0;
    if (s) memcpy(&n, s - sizeof n, sizeof n);
    return n;
}

void mstr_free(char *s) {
    if (s) free(s - sizeof(size_t));
}

void model_entitlement_clear(model_entitlement *e) {
    mstr_free(e->name);
    mstr_free(e->description);
    mstr_free(e->entitlement_type);
    mstr_free(e->units);
    mstr_free(e->product_id);
    memset(e, 0, sizeof(*e));
}

void model_customer_clear(model_customer *c) {
    mstr_free(c->customer_name);
    mstr_free(c->external_id);
    mstr_free(c->email);
    mstr_free(c->phone_number);
    mstr_free(c->business_entity_id);
    mstr_free(c->custom_data);
    mstr_free(c->address);
    mstr_free(c->ship_to_address);
    mstr_free(c->tax_info);
    mstr_free(c->connector);
    memset(c, 0, sizeof(*c));
}

void model_grant_clear(model_grant *g) {
    mstr_free(g->contract_id);
    mstr_free(g->source_type);
    mstr_free(g->source_id);
    mstr_free(g->invoice_id);
    mstr_free(g->event);
    mstr_free(g->feature_option_value);
    mstr_free(g->status);
    memset(g, 0, sizeof(*g));
}

void model_grant_apply(model_grant *g, const model_grant_patch *p) {
    if (p->fields & GRANT_F_ACTIVE_FROM) g->active_from = p->active_from;
    if (p->fields & GRANT_F_EXPIRY_AT) g->expiry_at = p->expiry_at;
    if (p->fields & GRANT_F_QUANTITY) g->quantity = p->quantity;
    if (p->fields & GRANT_F_QUANTITY_USED) g->quantity_used = p->quantity_used;
}

bool model_grant_window_ok(const model_grant *g) {
    return !g->active_from.set || !g->expiry_at.set || g->active_from.v <= g->expiry_at.v;
}
