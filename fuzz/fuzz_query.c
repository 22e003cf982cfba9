/* libFuzzer target: the query-string and filter parser of the lists
 * (query_parse_args in src/api/query.c, which query_parse runs on a
 * request's arguments).
 *
 * The input's first byte picks the list (fz_list_id(), fuzz/common.h);
 * the rest is the query string after '?'. It is split into arguments as
 * libmicrohttpd does: at '&', then at the first '=' (no '=': a NULL value),
 * each part decoded ('+' a space, %XX a byte); a key holding %00 ends
 * there (the edge passes keys as C strings), a value keeps it (its length is
 * passed).
 *
 * Checked, besides the sanitizers:
 *   - the 422 items are well formed, loc ["query", ...], and the answer can
 *     be written (fz_check_errors);
 *   - when there are none, the list query is what the spec allows: a limit of
 *     1-100, a listed sort, at most LIST_MAX_FILTERS filters, each on a field
 *     of the spec with an operator it takes, 1 to LIST_MAX_IN values in the
 *     parser's storage, each of the field's type (a canonical UUID, an
 *     instant in years 1-9999, a finite number, a listed member, UTF-8
 *     text; a bool for __isnull); a cursor's position names a canonical id;
 *     search's field=value pairs are __ilike filters of the customer lists,
 *     and search_name_external_id is UTF-8 text, never empty. */
#include "common.h"

#include "api/query.h"
#include "domain/dt.h"
#include "domain/uid.h"

#define MAX_ARGS 1024

typedef struct {
    char *key[MAX_ARGS], *value[MAX_ARGS];
    size_t vlen[MAX_ARGS];
    size_t n;
} args;

static int hexdig(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* '+' and %XX decoded from n bytes into a new NUL-terminated string; *len its length. */
static char *unescape(const char *s, size_t n, size_t *len) {
    char *out = malloc(n + 1);
    CHECK(out);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexdig(s[i + 1])) >= 0 &&
            (lo = hexdig(s[i + 2])) >= 0) {
            out[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[k++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[k] = '\0';
    *len = k;
    return out;
}

static void split_args(const char *q, size_t n, args *a) {
    a->n = 0;
    size_t i = 0;
    while (i <= n && a->n < MAX_ARGS) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        if (end > i) { /* an empty argument ("&&") is skipped */
            const char *eq = memchr(q + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (q + i)) : end - i, len;
            a->key[a->n] = unescape(q + i, klen, &len);
            a->value[a->n] =
                eq ? unescape(eq + 1, end - (size_t)(eq + 1 - q), &a->vlen[a->n]) : NULL;
            if (!eq) a->vlen[a->n] = 0;
            a->n++;
        }
        if (!amp) break;
        i = end + 1;
    }
}

static size_t each_arg(void *src,
                       bool (*fn)(void *cls, const char *key, const char *value, size_t len),
                       void *cls) {
    args *a = src;
    size_t i;
    for (i = 0; i < a->n; i++)
        if (!fn(cls, a->key[i], a->value[i], a->vlen[i])) return i + 1;
    return a->n;
}

static const qfield *field_of(const list_spec *spec, const char *field) {
    for (const qfield *q = spec->fields; q->name; q++)
        if (strcmp(q->field ? q->field : q->name, field) == 0) return q;
    return NULL;
}

static void check_value(const qfield *f, list_op op, const list_value *v) {
    if (op == LOP_ISNULL) {
        CHECK(v->type == LV_BOOL && (v->b == 0 || v->b == 1));
        return;
    }
    switch (f->type) {
    case QF_UUID: {
        char canon[ID_BUF];
        CHECK(v->type == LV_TEXT && v->len == UID_STR_LEN);
        CHECK(uid_canon(v->s, v->len, canon) == 0 && memcmp(canon, v->s, UID_STR_LEN) == 0);
        break;
    }
    case QF_TEXT:
        CHECK(v->type == LV_TEXT && fz_utf8_valid(v->s, v->len));
        break;
    case QF_ENUM: {
        CHECK(v->type == LV_TEXT);
        bool found = false;
        for (int i = 0; f->choices[i]; i++)
            found |= strlen(f->choices[i]) == v->len && memcmp(f->choices[i], v->s, v->len) == 0;
        CHECK(found);
        break;
    }
    case QF_NUM:
        CHECK(v->type == LV_NUM && isfinite(v->n));
        break;
    case QF_TIME:
        CHECK(v->type == LV_TIME && v->t >= DT_MIN_INSTANT && v->t <= DT_MAX_INSTANT);
        break;
    case QF_BOOL:
        CHECK(v->type == LV_BOOL && (v->b == 0 || v->b == 1));
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const list_spec *spec = api_list_spec(fz_list_id(data[0]));
    CHECK(spec);
    static args a;
    split_args((const char *)data + 1, size - 1, &a);

    static list_params p;
    const int64_t now = INT64_C(1767225600000000); /* 2026-01-01 */
    json_t *errors = query_parse_args(each_arg, &a, "org", spec, now, &p);
    fz_check_errors(errors, "query");
    if (json_array_size(errors) == 0) {
        const list_query *q = &p.q;
        CHECK(q->kind == spec->kind && strcmp(q->org, "org") == 0 && q->now == now);
        CHECK(q->limit >= 1 && q->limit <= 100);
        bool sort_ok = false;
        for (int i = 0; spec->sorts[i]; i++)
            sort_ok |= strcmp(spec->sorts[i], q->sort) == 0;
        CHECK(sort_ok);
        CHECK(q->nfilters <= LIST_MAX_FILTERS);
        for (size_t i = 0; i < q->nfilters; i++) {
            const list_filter *flt = &q->filters[i];
            const qfield *f = field_of(spec, flt->field);
            CHECK(f && (f->ops & QO(flt->op)));
            CHECK(flt->nvalues >= 1 && flt->nvalues <= (flt->op == LOP_IN ? LIST_MAX_IN : 1));
            CHECK(flt->values >= p.values && flt->values + flt->nvalues <= p.values + p.nvalues);
            for (size_t k = 0; k < flt->nvalues; k++)
                check_value(f, flt->op, &flt->values[k]);
            /* a parameter gives one filter; search's pairs (no key) may repeat */
            for (size_t k = 0; k < i && p.filter_keys[i]; k++)
                CHECK(!p.filter_keys[k] || strcmp(p.filter_keys[k], p.filter_keys[i]) != 0);
            if (!p.filter_keys[i]) CHECK(spec->customer_search && flt->op == LOP_ILIKE);
        }
        /* in the arguments' storage: ASan checks the read */
        if (q->search) CHECK(memchr(q->search, 1, q->search_len) != q->search - 1);
        /* the customer lists read search holding '=' as pairs */
        if (q->search && spec->customer_search) CHECK(!memchr(q->search, '=', q->search_len));
        if (q->rank_text) {
            CHECK(spec->customer_search && q->rank_len > 0);
            CHECK(fz_utf8_valid(q->rank_text, q->rank_len));
        }
        if (p.from_cursor) {
            char canon[ID_BUF];
            CHECK(q->has_after && p.total >= 0 && q->skip_total);
            CHECK(uid_canon(q->after_id, strlen(q->after_id), canon) == 0 &&
                  strcmp(canon, q->after_id) == 0);
        }
    }
    json_decref(errors);
    list_params_free(&p);
    for (size_t i = 0; i < a.n; i++)
        free(a.key[i]), free(a.value[i]);
    return 0;
}
