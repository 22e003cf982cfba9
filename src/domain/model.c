#include "domain/model.h"

#include <stdlib.h>
#include <string.h>

void model_entitlement_clear(model_entitlement *e) {
    free(e->name);
    free(e->description);
    free(e->entitlement_type);
    free(e->units);
    free(e->product_id);
    memset(e, 0, sizeof(*e));
}

void model_customer_clear(model_customer *c) {
    free(c->customer_name);
    free(c->external_id);
    free(c->email);
    free(c->phone_number);
    free(c->business_entity_id);
    free(c->custom_data);
    free(c->address);
    free(c->ship_to_address);
    free(c->tax_info);
    free(c->connector);
    memset(c, 0, sizeof(*c));
}

void model_grant_clear(model_grant *g) {
    free(g->contract_id);
    free(g->source_type);
    free(g->source_id);
    free(g->invoice_id);
    free(g->event);
    free(g->feature_option_value);
    free(g->status);
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
