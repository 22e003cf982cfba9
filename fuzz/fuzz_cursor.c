/* libFuzzer target: the list cursors (src/api/query.c): the decoder that
 * reads a client's `cursor` argument, and the encoder (query_cursor) whose
 * output it must read back.
 *
 * The input's first byte b picks the mode (b % 3) and the list
 * (fz_list_id(b / 3), fuzz/common.h); the rest is
 *   mode 0: a cursor's decoded payload, "1|<sort>|<a|d>|<n|p>|<id>|<total>|
 *           <value>", sent base64url-encoded;
 *   mode 1: the cursor text as the client sends it;
 *   mode 2: the makings of a row (sort, direction, id, total, sort value),
 *           whose cursor is made by query_cursor and read back.
 * In modes 0 and 1, when the payload names one of the list's sorts, the
 * query also carries order=[-]<sort>, so that the decoder reads past its
 * sort check.
 *
 * Checked, besides the sanitizers and fz_check_errors:
 *   - a cursor the decoder accepts names a canonical id, a total >= 0, and a
 *     finite number when its value is one (the encoder writes no other);
 *   - encode then decode is the identity on positions (id, direction,
 *     total, null or the value, bytes of text included);
 *   - an accepted cursor is one a row of the list can hold (a value of the
 *     sort's type, null only where the sort has nulls, an id sort's value
 *     its id), and encodes to one that decodes to the same position. */
#include "common.h"

#include "api/query.h"
#include "domain/uid.h"
#include "util/b64.h"

typedef struct {
    const char *key[2], *value[2];
    size_t vlen[2];
    size_t n;
} args;

static size_t each_arg(void *src,
                       bool (*fn)(void *cls, const char *key, const char *value, size_t len),
                       void *cls) {
    args *a = src;
    for (size_t i = 0; i < a->n; i++)
        if (!fn(cls, a->key[i], a->value[i], a->vlen[i])) return i + 1;
    return a->n;
}

static const int64_t NOW = INT64_C(1767225600000000);

/* Parse cursor text `text` (len bytes) for `spec`, sorted by `sort` (NULL:
 * the default) and direction. */
static json_t *parse(const list_spec *spec, const char *sort, bool desc, const char *text,
                     size_t len, list_params *p) {
    char order[64];
    args a = {.n = 0};
    if (sort) {
        snprintf(order, sizeof order, "%s%s", desc ? "-" : "", sort);
        a.key[a.n] = "order", a.value[a.n] = order, a.vlen[a.n] = strlen(order), a.n++;
    }
    a.key[a.n] = "cursor", a.value[a.n] = text, a.vlen[a.n] = len, a.n++;
    return query_parse_args(each_arg, &a, "org", spec, NOW, p);
}

/* One row of the list's kind, whose sort value is the position's; false
 * when no row can hold it (a value of another type than the sort's). */
typedef struct {
    list_result res;
    model_entitlement e;
    model_customer c;
    list_grant g;
    list_unique u;
    ledger_entry l;
} row;

static bool make_row(row *r, list_kind kind, const char *sort, const char *id, bool null,
                     const list_value *v) {
    memset(r, 0, sizeof *r);
    r->res.n = 1;
    r->res.total = 0;
    bool is_time = v->type == LV_TIME, is_num = v->type == LV_DEC, is_text = v->type == LV_TEXT;
    bool by_id = strcmp(sort, "id") == 0;
    if (by_id && (null || !is_text || v->len != strlen(id) || memcmp(v->s, id, v->len) != 0))
        return false;
    opt_time ot = {!null, is_time ? v->t : 0};
    opt_dec on = {!null, is_num ? v->d : 0}; /* a quantity: exact (dec.h) */
    switch (kind) {
    case LIST_ENTITLEMENTS:
    case LIST_UNIQUE: {
        model_entitlement *e = kind == LIST_UNIQUE ? &r->u.e : &r->e;
        memcpy(e->id, id, ID_BUF);
        if (strcmp(sort, "name") == 0) { /* NOT NULL */
            if (null || !is_text) return false;
            CHECK((e->name = mstr_new(v->s, v->len)));
        } else if (strcmp(sort, "created_at") == 0) {
            if (null || !is_time) return false;
            e->created_at = v->t;
        } else if (!by_id) {
            return false;
        }
        if (kind == LIST_UNIQUE)
            r->res.uniq = &r->u;
        else
            r->res.ents = &r->e;
        return true;
    }
    case LIST_CUSTOMERS:
        memcpy(r->c.id, id, ID_BUF);
        r->res.custs = &r->c;
        if (strcmp(sort, "customer_name") == 0) { /* NOT NULL */
            if (null || !is_text) return false;
            CHECK((r->c.customer_name = mstr_new(v->s, v->len)));
            return true;
        }
        if (strcmp(sort, "created_at") == 0) {
            r->c.created_at = v->t;
            return !null && is_time;
        }
        return by_id;
    case LIST_GRANTS:
        memcpy(r->g.g.id, id, ID_BUF);
        r->res.grants = &r->g;
        if (strcmp(sort, "created_at") == 0) {
            r->g.g.created_at = v->t;
            return !null && is_time;
        }
        if (strcmp(sort, "quantity") == 0) return r->g.g.quantity = on, null || is_num;
        if (strcmp(sort, "quantity_used") == 0) return r->g.g.quantity_used = on, null || is_num;
        if (strcmp(sort, "active_from") == 0) return r->g.g.active_from = ot, null || is_time;
        if (strcmp(sort, "expiry_at") == 0) return r->g.g.expiry_at = ot, null || is_time;
        return by_id;
    case LIST_LEDGER:
        memcpy(r->l.row, id, ID_BUF);
        r->res.entries = &r->l;
        if (strcmp(sort, "seq") == 0) {
            r->l.seq = v->t;
            return !null && is_time;
        }
        return by_id;
    }
    return false;
}

static void free_row(row *r) {
    mstr_free(r->e.name);
    mstr_free(r->u.e.name);
    mstr_free(r->c.customer_name);
}

static bool same_value(const list_value *a, const list_value *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case LV_TEXT:
        return a->len == b->len && (a->len == 0 || memcmp(a->s, b->s, a->len) == 0);
    case LV_NUM:
        return memcmp(&a->n, &b->n, sizeof a->n) == 0;
    case LV_TIME:
        return a->t == b->t;
    case LV_DEC:
        return a->d == b->d;
    case LV_BOOL:
        return a->b == b->b;
    }
    return false;
}

/* Encode the position as query_cursor does for a row holding it, decode
 * that, and compare. `p` holds the position (and the sort). */
static void round_trip(const list_spec *spec, const list_params *p) {
    const list_query *q = &p->q;
    row r;
    /* the decoder accepts only positions a row can hold (issue 13: anything
     * else reached PostgreSQL as a bad parameter) */
    CHECK(make_row(&r, spec->kind, q->sort, q->after_id, q->after_null, &q->after));
    r.res.total = p->total;
    char *text = query_cursor(p, &r.res, 0, !q->backward);
    CHECK(text);
    list_params *back = malloc(sizeof *back);
    CHECK(back);
    json_t *errors = parse(spec, q->sort, q->desc, text, strlen(text), back);
    CHECK(json_array_size(errors) == 0);
    CHECK(back->from_cursor && back->q.has_after);
    CHECK(strcmp(back->q.sort, q->sort) == 0 && back->q.desc == q->desc);
    CHECK(strcmp(back->q.after_id, q->after_id) == 0);
    CHECK(back->q.backward == q->backward && back->total == p->total);
    CHECK(back->q.after_null == q->after_null);
    if (!q->after_null) CHECK(same_value(&back->q.after, &q->after));
    json_decref(errors);
    list_params_free(back);
    free(back);
    free(text);
    free_row(&r);
}

/* The accepted cursor's position holds together. */
static void check_accepted(const list_params *p) {
    const list_query *q = &p->q;
    char canon[ID_BUF];
    CHECK(q->has_after && q->skip_total && p->total >= 0);
    CHECK(uid_canon(q->after_id, strlen(q->after_id), canon) == 0 &&
          strcmp(canon, q->after_id) == 0);
    if (!q->after_null && q->after.type == LV_NUM) CHECK(isfinite(q->after.n));
}

/* The sort a payload names, when it is one of the spec's. */
static const char *payload_sort(const list_spec *spec, const char *raw, size_t len, bool *desc) {
    if (len < 2 || raw[0] != '1' || raw[1] != '|') return NULL;
    const char *s = raw + 2, *bar = memchr(s, '|', len - 2);
    if (!bar) return NULL;
    size_t n = (size_t)(bar - s);
    *desc = (size_t)(bar + 1 - raw) < len && bar[1] == 'd';
    for (int i = 0; spec->sorts[i]; i++)
        if (strlen(spec->sorts[i]) == n && memcmp(spec->sorts[i], s, n) == 0) return spec->sorts[i];
    return NULL;
}

static void decode_mode(const list_spec *spec, const char *raw, size_t rawlen, const char *text,
                        size_t len) {
    bool desc = false;
    const char *sort = raw ? payload_sort(spec, raw, rawlen, &desc) : NULL;
    list_params *p = malloc(sizeof *p);
    CHECK(p);
    json_t *errors = parse(spec, sort, desc, text, len, p);
    fz_check_errors(errors, "query");
    if (p->from_cursor) {
        CHECK(json_array_size(errors) == 0);
        check_accepted(p);
        round_trip(spec, p);
    }
    json_decref(errors);
    list_params_free(p);
    free(p);
}

/* Mode 2: a position from bytes, encoded, decoded. */
static void encode_mode(const list_spec *spec, const uint8_t *d, size_t n) {
    if (n < 1 + 16 + 8) return;
    int nsorts = 0;
    while (spec->sorts[nsorts])
        nsorts++;
    const char *sort = spec->sorts[(d[0] & 0x1f) % nsorts];
    bool desc = d[0] & 0x80, next = d[0] & 0x40, null = d[0] & 0x20;
    uid_t16 u;
    memcpy(u.b, d + 1, 16);
    char id[ID_BUF];
    uid_format(&u, id);
    int64_t total;
    memcpy(&total, d + 17, 8);
    total &= INT64_MAX;
    d += 25, n -= 25;
    list_value v = {.type = LV_TEXT, .s = (const char *)d, .len = n};
    if (strcmp(sort, "id") == 0) {
        v.s = id, v.len = strlen(id), null = false;
    } else if (strcmp(sort, "name") == 0 || strcmp(sort, "customer_name") == 0) {
        /* the rest is the text: UTF-8, as every stored name (NUL allowed) */
        json_t *js = json_stringn((const char *)d, n);
        if (!js) return;
        json_decref(js);
    } else if (strcmp(sort, "quantity") == 0 || strcmp(sort, "quantity_used") == 0) {
        if (n < 8) return;
        v.type = LV_DEC; /* millionths within the range (dec.h) */
        memcpy(&v.d, d, 8);
        if (v.d > DEC_MAX || v.d < -DEC_MAX) return;
    } else {
        if (n < 8) return;
        v.type = LV_TIME;
        memcpy(&v.t, d, 8);
    }
    row r;
    if (!make_row(&r, spec->kind, sort, id, null, &v)) {
        /* a null created_at, seq, name or customer_name: no row has one */
        CHECK(null);
        free_row(&r);
        return;
    }
    r.res.total = total;
    list_params *p = malloc(sizeof *p);
    CHECK(p);
    memset(p, 0, sizeof *p);
    p->q.sort = sort;
    p->q.desc = desc;
    char *text = query_cursor(p, &r.res, 0, next);
    CHECK(text);
    json_t *errors = parse(spec, sort, desc, text, strlen(text), p);
    CHECK(json_array_size(errors) == 0);
    CHECK(p->from_cursor);
    check_accepted(p);
    CHECK(strcmp(p->q.after_id, id) == 0 && p->q.backward == !next && p->total == total);
    list_value want;
    const char *want_id;
    bool set = list_sort_value(&r.res, 0, sort, &want, &want_id);
    CHECK(p->q.after_null == !set);
    if (set) CHECK(same_value(&p->q.after, &want));
    json_decref(errors);
    list_params_free(p);
    free(p);
    free(text);
    free_row(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int mode = data[0] % 3;
    const list_spec *spec = api_list_spec(fz_list_id((unsigned char)(data[0] / 3)));
    CHECK(spec);
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    if (mode == 0) {
        char *text = malloc(B64_ENCODED_LEN(n) + 1);
        CHECK(text);
        size_t len = b64_encode(rest, n, text);
        text[len] = '\0';
        decode_mode(spec, rest, n, text, len);
        free(text);
    } else if (mode == 1) {
        char *text = malloc(n + 1), *raw = malloc(n * 3 / 4 + 2);
        CHECK(text && raw);
        memcpy(text, rest, n);
        text[n] = '\0';
        size_t rawlen = b64_decode(text, n, raw);
        decode_mode(spec, rawlen == (size_t)-1 ? NULL : raw, rawlen, text, n);
        free(text);
        free(raw);
    } else {
        encode_mode(spec, data + 1, n);
    }
    return 0;
}
