/* verify: the ledger replayed in one pass (entries come ordered by
 * organisation, row and sequence), each row's chain reduced to its final
 * state, then merged with the rows (ordered the same way). */
#include "store/verify.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PRINT_MAX 100

typedef struct {
    char org[ID_BUF], row[ID_BUF];
    bool deleted;
    opt_dec quantity, quantity_used;
    opt_time active_from, expiry_at;
} chain_end;

typedef struct {
    FILE *out;
    verify_report *rep;
    chain_end *ends;
    size_t n, cap;
    bool oom;
    /* the chain being read */
    bool open;
    ledger_entry last;
} verify_ctx;

__attribute__((format(printf, 2, 3))) static void problem(verify_ctx *v, const char *fmt, ...) {
    if (v->rep->problems++ >= PRINT_MAX) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(v->out, "mismatch: ");
    vfprintf(v->out, fmt, ap);
    fprintf(v->out, "\n");
    va_end(ap);
}

static bool num_eq(opt_dec a, opt_dec b) {
    return a.set == b.set && (!a.set || a.v == b.v);
}
/* a quantity for a message: null as 0, as before */
static const char *fmt(opt_dec q, char *buf) {
    dec_format(q.set ? q.v : 0, buf);
    return buf;
}

static bool time_eq(opt_time a, opt_time b) {
    return a.set == b.set && (!a.set || a.v == b.v);
}

static void close_chain(verify_ctx *v) {
    if (!v->open) return;
    v->open = false;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 1024;
        chain_end *ne = realloc(v->ends, cap * sizeof *ne);
        if (!ne) {
            v->oom = true;
            return;
        }
        v->ends = ne;
        v->cap = cap;
    }
    chain_end *e = &v->ends[v->n++];
    const ledger_entry *l = &v->last;
    memcpy(e->org, l->org, ID_BUF);
    memcpy(e->row, l->row, ID_BUF);
    e->deleted = l->kind == LEDGER_DELETE;
    e->quantity = l->quantity;
    e->quantity_used = l->quantity_used;
    e->active_from = l->active_from;
    e->expiry_at = l->expiry_at;
    v->rep->chains++;
    if (e->deleted) v->rep->deleted++;
}

static bool on_entry(void *cls, const ledger_entry *e) {
    verify_ctx *v = cls;
    v->rep->entries++;
    bool same = v->open && strcmp(v->last.org, e->org) == 0 && strcmp(v->last.row, e->row) == 0;
    if (!same) {
        close_chain(v);
        if (e->kind != LEDGER_CREATE)
            problem(v, "org %s row %s: first entry (seq %lld) is %s, not create", e->org, e->row,
                    (long long)e->seq, ledger_kind_names[e->kind]);
    } else {
        const ledger_entry *p = &v->last;
        if (p->kind == LEDGER_DELETE)
            problem(v, "org %s row %s: entry seq %lld follows its delete", e->org, e->row,
                    (long long)e->seq);
        if (e->kind == LEDGER_CREATE)
            problem(v, "org %s row %s: a second create at seq %lld", e->org, e->row,
                    (long long)e->seq);
        if (e->kind == LEDGER_CONSUME) {
            /* exact: quantities are decimals (dec.h) */
            dec before = p->quantity_used.set ? p->quantity_used.v : 0;
            if (!e->quantity_used.set || e->quantity_used.v != before + e->quantity_used_delta ||
                !(e->quantity_used_delta > 0) || e->quantity_delta != 0 ||
                !num_eq(e->quantity, p->quantity))
                problem(v, "org %s row %s: consume seq %lld does not follow from the entry before",
                        e->org, e->row, (long long)e->seq);
        }
    }
    if (e->kind == LEDGER_CONSUME) {
        char b1[DEC_FORMAT_MAX], b2[DEC_FORMAT_MAX];
        v->rep->consumes++;
        if (e->quantity.set && e->quantity_used.set && e->quantity_used.v > e->quantity.v)
            problem(v, "org %s row %s: consume seq %lld overdraws (quantity_used %s > quantity %s)",
                    e->org, e->row, (long long)e->seq, fmt(e->quantity_used, b1),
                    fmt(e->quantity, b2));
    }
    v->last = *e;
    v->open = true;
    return !v->oom;
}

static int end_cmp(const chain_end *e, const char *org, const char *row) {
    int c = strcmp(e->org, org);
    return c ? c : strcmp(e->row, row);
}

typedef struct {
    verify_ctx *v;
    size_t next; /* the first chain end not yet matched */
} merge_ctx;

static void missing_rows_before(merge_ctx *m, const char *org, const char *row) {
    verify_ctx *v = m->v;
    while (m->next < v->n && (!org || end_cmp(&v->ends[m->next], org, row) < 0)) {
        const chain_end *e = &v->ends[m->next++];
        if (!e->deleted)
            problem(v, "org %s row %s: in the ledger but not among the rows", e->org, e->row);
    }
}

static bool on_row(void *cls, const char *org, const model_grant *g) {
    merge_ctx *m = cls;
    verify_ctx *v = m->v;
    v->rep->rows++;
    missing_rows_before(m, org, g->id);
    if (m->next == v->n || end_cmp(&v->ends[m->next], org, g->id) != 0) {
        problem(v, "org %s row %s: no ledger entries", org, g->id);
        return true;
    }
    const chain_end *e = &v->ends[m->next++];
    char b1[DEC_FORMAT_MAX], b2[DEC_FORMAT_MAX], b3[DEC_FORMAT_MAX], b4[DEC_FORMAT_MAX];
    if (e->deleted) {
        problem(v, "org %s row %s: deleted in the ledger but still present", org, g->id);
        return true;
    }
    if (!num_eq(e->quantity, g->quantity) || !num_eq(e->quantity_used, g->quantity_used) ||
        !time_eq(e->active_from, g->active_from) || !time_eq(e->expiry_at, g->expiry_at))
        problem(v,
                "org %s row %s: the row (quantity %s, quantity_used %s) differs from "
                "its latest entry (quantity %s, quantity_used %s)",
                org, g->id, fmt(g->quantity, b1), fmt(g->quantity_used, b2), fmt(e->quantity, b3),
                fmt(e->quantity_used, b4));
    return true;
}

store_rc verify_run(store *s, FILE *out, verify_report *rep) {
    memset(rep, 0, sizeof(*rep));
    verify_ctx v = {.out = out, .rep = rep};
    store_rc r = store_scan_ledger(s, on_entry, &v);
    close_chain(&v);
    if (r == STORE_OK && v.oom) r = STORE_ERROR;
    if (r == STORE_OK) {
        merge_ctx m = {&v, 0};
        r = store_scan_rows(s, on_row, &m);
        if (r == STORE_OK) missing_rows_before(&m, NULL, NULL);
    }
    if (rep->problems > PRINT_MAX)
        fprintf(out, "mismatch: ... %zu more not shown\n", rep->problems - PRINT_MAX);
    free(v.ends);
    return r;
}
