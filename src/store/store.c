#include "store/store.h"

#include "store/store_pg.h"
#include "store/store_sqlite.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

store *store_open_config(const char *dsn, const store_config *cfg, char *err, size_t errcap) {
    if (strncmp(dsn, "postgresql://", 13) == 0 || strncmp(dsn, "postgres://", 11) == 0 ||
        strchr(dsn, '='))
        return store_pg_open(dsn, cfg && cfg->pool ? cfg->pool : 8, err, errcap);
    return store_sqlite_open(dsn, err, errcap);
}

void store_close(store *s) {
    if (s) s->ops->close(s);
}

const char *store_rc_name(store_rc rc) {
    switch (rc) {
    case STORE_OK:
        return "ok";
    case STORE_NOT_FOUND:
        return "not found";
    case STORE_CONFLICT:
        return "conflict";
    case STORE_WINDOW:
        return "window";
    case STORE_BUSY:
        return "busy";
    case STORE_SHORT:
        return "short";
    case STORE_DUPLICATE:
        return "duplicate";
    case STORE_ERROR:
        return "error";
    case STORE_UNKNOWN:
        return "outcome unknown";
    case STORE_HALTED:
        return "halted";
    case STORE_FULL:
        return "disk full";
    }
    return "?";
}

/* Both backends' page arrays, made once here: `limit` entries of the
 * kind's array, and the ranks of a ranked search. */
bool list_result_alloc(const list_query *q, list_result *out) {
    size_t cap = (size_t)q->limit;
    switch (q->kind) {
    case LIST_ENTITLEMENTS:
        out->ents = calloc(cap, sizeof *out->ents);
        break;
    case LIST_CUSTOMERS:
        out->custs = calloc(cap, sizeof *out->custs);
        break;
    case LIST_GRANTS:
        out->grants = calloc(cap, sizeof *out->grants);
        break;
    case LIST_UNIQUE:
        out->uniq = calloc(cap, sizeof *out->uniq);
        break;
    case LIST_LEDGER:
        out->entries = calloc(cap, sizeof *out->entries);
        break;
    }
    if (!out->ents && !out->custs && !out->grants && !out->uniq && !out->entries) return false;
    if (q->rank_text && !(out->ranks = calloc(cap, sizeof *out->ranks))) {
        list_result_clear(out);
        return false;
    }
    return true;
}

void list_result_clear(list_result *r) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->ents) model_entitlement_clear(&r->ents[i]);
        if (r->custs) model_customer_clear(&r->custs[i]);
        if (r->uniq) model_entitlement_clear(&r->uniq[i].e);
        if (r->grants) {
            list_grant *g = &r->grants[i];
            model_grant_clear(&g->g);
            mstr_free(g->ent_name);
            mstr_free(g->ent_units);
            mstr_free(g->ent_type);
            mstr_free(g->product_id);
            mstr_free(g->cust_name);
            mstr_free(g->cust_email);
        }
    }
    free(r->ents);
    free(r->custs);
    free(r->grants);
    free(r->uniq);
    free(r->entries);
    free(r->ranks);
    memset(r, 0, sizeof(*r));
}

void store_balance_add(store_balance *b, opt_dec quantity, opt_dec quantity_used) {
    dec used = quantity_used.set ? quantity_used.v : 0;
    b->active_rows++;
    b->quantity_used += used;
    if (!quantity.set) {
        b->unlimited = true;
        return;
    }
    b->quantity += quantity.v;
    if (quantity.v > used) b->remaining += quantity.v - used;
}

/* What a row can still give: its quantity less what it used (never below
 * 0); a row without a limit up to the range of a quantity. */
static dec row_room(const model_grant *g) {
    dec used = g->quantity_used.set ? g->quantity_used.v : 0;
    dec cap = g->quantity.set ? g->quantity.v : DEC_MAX;
    return cap > used ? cap - used : 0;
}

bool consume_plan(const model_grant *rows, size_t n, dec quantity, consume_result *out) {
    store_balance before = {0};
    dec_sum room = 0; /* what the rows give, unlimited ones included */
    for (size_t i = 0; i < n; i++) {
        store_balance_add(&before, rows[i].quantity, rows[i].quantity_used);
        room += row_room(&rows[i]);
    }
    out->ndraws = 0;
    out->after = before;
    if (quantity <= 0 || room < quantity) return false;
    /* integers: each draw takes min(left, room), so the draws add up to the
     * quantity exactly and no row goes past its quantity */
    dec left = quantity;
    for (size_t i = 0; i < n && left > 0; i++) {
        const model_grant *g = &rows[i];
        dec give = row_room(g);
        if (give > left) give = left;
        if (give <= 0) continue;
        consume_draw *d = &out->draws[out->ndraws++];
        memcpy(d->row, g->id, ID_BUF);
        d->drawn = give;
        d->quantity = g->quantity;
        d->quantity_used = (g->quantity_used.set ? g->quantity_used.v : 0) + give;
        left -= give;
    }
    /* the balance after: the same rows with the drawn ones updated */
    store_balance after = {0};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        opt_dec used = rows[i].quantity_used;
        if (k < out->ndraws && strcmp(out->draws[k].row, rows[i].id) == 0)
            used = (opt_dec){true, out->draws[k++].quantity_used};
        store_balance_add(&after, rows[i].quantity, used);
    }
    out->after = after;
    return true;
}

int consume_burn_cmp(const void *pa, const void *pb) {
    const model_grant *a = pa, *b = pb;
    if (a->quantity.set != b->quantity.set) return a->quantity.set ? -1 : 1;
    if (a->expiry_at.set != b->expiry_at.set) return a->expiry_at.set ? -1 : 1;
    if (a->expiry_at.set && a->expiry_at.v != b->expiry_at.v)
        return a->expiry_at.v < b->expiry_at.v ? -1 : 1;
    if (a->active_from.set != b->active_from.set) return a->active_from.set ? 1 : -1;
    if (a->active_from.set && a->active_from.v != b->active_from.v)
        return a->active_from.v < b->active_from.v ? -1 : 1;
    if (a->created_at != b->created_at) return a->created_at < b->created_at ? -1 : 1;
    return strcmp(a->id, b->id);
}

const char *const ledger_kind_names[LEDGER_KIND_COUNT] = {LEDGER_KINDS(LEDGER_KIND_NAME)};

void consume_result_clear(consume_result *r) {
    free(r->draws);
    r->draws = NULL;
    r->ndraws = 0;
}

static bool text_value(const char *s, list_value *v) {
    v->type = LV_TEXT;
    v->s = s;
    v->len = mstr_len(s);
    return s != NULL;
}
static bool time_value(int64_t t, list_value *v) {
    v->type = LV_TIME;
    v->t = t;
    return true;
}
static bool opt_time_value(opt_time t, list_value *v) {
    v->type = LV_TIME;
    v->t = t.v;
    return t.set;
}
/* a quantity, carried exactly (a double holds at most 15 digits surely) */
static bool opt_dec_value(opt_dec n, list_value *v) {
    v->type = LV_DEC;
    v->d = n.v;
    return n.set;
}

bool list_sort_value(const list_result *r, size_t i, const char *sort, list_value *v,
                     const char **id) {
    memset(v, 0, sizeof(*v));
    const model_entitlement *e = r->ents ? &r->ents[i] : r->uniq ? &r->uniq[i].e : NULL;
    if (e) {
        *id = e->id;
        if (strcmp(sort, "name") == 0) return text_value(e->name, v);
        if (strcmp(sort, "created_at") == 0) return time_value(e->created_at, v);
    } else if (r->custs) {
        const model_customer *c = &r->custs[i];
        *id = c->id;
        if (strcmp(sort, "customer_name") == 0) return text_value(c->customer_name, v);
        if (strcmp(sort, "created_at") == 0) return time_value(c->created_at, v);
    } else if (r->entries) {
        const ledger_entry *le = &r->entries[i];
        *id = le->row;
        /* "seq", the one sort: an integer, carried exactly as an instant is */
        if (strcmp(sort, "seq") == 0) return time_value(le->seq, v);
    } else {
        const model_grant *g = &r->grants[i].g;
        *id = g->id;
        if (strcmp(sort, "created_at") == 0) return time_value(g->created_at, v);
        if (strcmp(sort, "quantity") == 0) return opt_dec_value(g->quantity, v);
        if (strcmp(sort, "quantity_used") == 0) return opt_dec_value(g->quantity_used, v);
        if (strcmp(sort, "active_from") == 0) return opt_time_value(g->active_from, v);
        if (strcmp(sort, "expiry_at") == 0) return opt_time_value(g->expiry_at, v);
    }
    /* "id": the id is the sort value */
    v->type = LV_TEXT;
    v->s = *id;
    v->len = strlen(*id);
    return true;
}

#define L_(k) (1u << (k))
#define L_ENTS (L_(LIST_ENTITLEMENTS) | L_(LIST_UNIQUE))
static const struct {
    unsigned lists; /* L_(list_kind)s */
    const char *sort;
    list_vtype type;
    bool nullable;
} SORT_TYPES[] = {
    {L_ENTS | L_(LIST_CUSTOMERS) | L_(LIST_GRANTS) | L_(LIST_LEDGER), "id", LV_TEXT, false},
    {L_ENTS | L_(LIST_CUSTOMERS) | L_(LIST_GRANTS), "created_at", LV_TIME, false},
    {L_ENTS, "name", LV_TEXT, false},
    {L_(LIST_CUSTOMERS), "customer_name", LV_TEXT, false},
    {L_(LIST_GRANTS), "quantity", LV_DEC, true},
    {L_(LIST_GRANTS), "quantity_used", LV_DEC, true},
    {L_(LIST_GRANTS), "active_from", LV_TIME, true},
    {L_(LIST_GRANTS), "expiry_at", LV_TIME, true},
    {L_(LIST_LEDGER), "seq", LV_TIME, false},
};

bool list_sort_type(list_kind k, const char *sort, list_vtype *type, bool *nullable) {
    for (size_t i = 0; i < sizeof SORT_TYPES / sizeof SORT_TYPES[0]; i++)
        if ((SORT_TYPES[i].lists & L_(k)) && strcmp(SORT_TYPES[i].sort, sort) == 0) {
            *type = SORT_TYPES[i].type;
            *nullable = SORT_TYPES[i].nullable;
            return true;
        }
    return false;
}

char *store_email_key(const char *email) {
    size_t n = strlen(email);
    char *key = malloc(n + 1);
    if (!key) return NULL;
    for (size_t i = 0; i <= n; i++) {
        char ch = email[i];
        key[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch | 0x20) : ch;
    }
    return key;
}
