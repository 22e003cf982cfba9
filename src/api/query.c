#include "api/query.h"

#include "domain/uid.h"
#include "util/b64.h"
#include "validate/validate.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "1": a plain position; "2": a ranked list's, which carries the rank */
#define CURSOR_VERSION "1"
#define CURSOR_RANKED "2"
/* A cursor holds the last row's sort value, which may be a long name; the
 * HTTP edge's memory limit per connection caps the URL anyway. */
#define CURSOR_MAX (48u << 10)

static const char *const SUFFIX[LIST_OP_COUNT] = {
    [LOP_EQ] = "",         [LOP_IN] = "in",     [LOP_ISNULL] = "isnull", [LOP_GT] = "gt",
    [LOP_GTE] = "gte",     [LOP_LT] = "lt",     [LOP_LTE] = "lte",       [LOP_NEQ] = "neq",
    [LOP_ILIKE] = "ilike", [LOP_LIKE] = "like",
};

typedef struct {
    const list_spec *spec;
    list_params *p;
    json_t *errors;
    const char *cursor, *limit, *order, *sort_key, *sort_type, *populate;
    bool seen_cursor, seen_limit;
    const char *rank; /* search_name_external_id */
    size_t rank_len;
} parse_ctx;

const char *const query_search_fields[] = {"customer_name", "email", "external_id", "phone_number",
                                           NULL};

static void qerror(json_t *errors, const char *name, const char *type, const char *msg,
                   const char *input, json_t *ctx) {
    json_t *in = json_string(input ? input : "");
    validate_error(errors, type, validate_loc("query", name, NULL), msg, in ? in : NULL, ctx);
    json_decref(in);
}

static void value_error(json_t *errors, const char *name, const char *what, const char *input) {
    char msg[200];
    snprintf(msg, sizeof msg, "Value error, %s", what);
    qerror(errors, name, "value_error", msg, input, NULL);
}

/* One value of a filter, validated as pydantic would validate the parameter. */
static bool one_value(parse_ctx *c, const char *name, const qfield *f, const char *text, size_t len,
                      list_value *out) {
    static const vtype VT[QF_TYPE_COUNT] = {
        [QF_UUID] = V_UUID, [QF_TEXT] = V_STR,  [QF_NUM] = V_NUM,
        [QF_TIME] = V_TIME, [QF_BOOL] = V_BOOL, [QF_ENUM] = V_ENUM};
    vfield vf = {.name = name, .type = VT[f->type], .choices = f->choices};
    json_t *js = json_stringn(text, len);
    if (!js) {
        qerror(c->errors, name, "string_unicode", "Input should be a valid string", NULL, NULL);
        return false;
    }
    json_t *loc = validate_loc("query", NULL);
    vval v;
    bool ok = validate_value(js, &vf, &v, c->errors, loc);
    json_decref(loc);
    memset(out, 0, sizeof(*out));
    if (ok) {
        switch (f->type) {
        case QF_UUID: {
            /* canonical text, kept for the request's life; values are
             * counted against QUERY_MAX_VALUES before they get here */
            char *id = c->p->ids[c->p->nids++ % QUERY_MAX_VALUES];
            memcpy(id, v.uuid, ID_BUF);
            out->type = LV_TEXT;
            out->s = id;
            out->len = strlen(id);
            break;
        }
        case QF_TEXT:
        case QF_ENUM:
            out->type = LV_TEXT;
            out->s = text;
            out->len = len;
            break;
        case QF_NUM:
            out->type = LV_NUM, out->n = v.num;
            break;
        case QF_TIME:
            out->type = LV_TIME, out->t = v.time;
            break;
        case QF_BOOL:
            out->type = LV_BOOL, out->b = v.b;
            break;
        }
    }
    json_decref(js);
    return ok;
}

static list_value *new_values(list_params *p, size_t n) {
    if (p->nvalues + n > QUERY_MAX_VALUES) return NULL;
    list_value *v = &p->values[p->nvalues];
    p->nvalues += n;
    return v;
}

/* A filter parameter "field" or "field__op". */
static bool filter_param(parse_ctx *c, const char *key, const char *value, size_t vlen) {
    const char *sep = strstr(key, "__");
    while (sep && strstr(sep + 2, "__"))
        sep = strstr(sep + 2, "__");
    list_op op = LOP_EQ;
    size_t base = strlen(key);
    if (sep) {
        for (int o = LOP_IN; o < LIST_OP_COUNT; o++)
            if (strcmp(sep + 2, SUFFIX[o]) == 0) {
                op = (list_op)o;
                base = (size_t)(sep - key);
            }
    }
    const qfield *f = NULL;
    for (const qfield *q = c->spec->fields; q->name; q++)
        if (strlen(q->name) == base && strncmp(q->name, key, base) == 0 && (q->ops & QO(op))) f = q;
    if (!f) {
        qerror(c->errors, key, "extra_forbidden", "Extra inputs are not permitted", value, NULL);
        return true;
    }
    list_params *p = c->p;
    /* a repeated parameter: the last one counts, as in FastAPI */
    size_t slot = p->q.nfilters;
    for (size_t i = 0; i < p->q.nfilters; i++)
        if (strcmp(p->filter_keys[i], key) == 0) slot = i;
    if (slot == LIST_MAX_FILTERS) {
        value_error(c->errors, key, "too many filters", value);
        return false;
    }
    list_filter flt = {.field = f->field ? f->field : f->name, .op = op};
    const char *text = value ? value : "";
    bool ok = true;
    if (op == LOP_IN) {
        size_t n = 1;
        for (size_t i = 0; i < vlen; i++)
            n += text[i] == ',';
        if (n > LIST_MAX_IN) {
            char what[96];
            snprintf(what, sizeof what, "at most %d values", LIST_MAX_IN);
            value_error(c->errors, key, what, text);
            return true;
        }
        flt.values = new_values(p, n);
        if (!flt.values) {
            value_error(c->errors, key, "too many values", text);
            return true;
        }
        flt.nvalues = n;
        const char *t = text, *end = text + vlen;
        for (size_t i = 0; i < n; i++) {
            const char *e = memchr(t, ',', (size_t)(end - t));
            size_t len = e ? (size_t)(e - t) : (size_t)(end - t);
            ok &= one_value(c, key, f, t, len, &flt.values[i]);
            t = e ? e + 1 : end;
        }
    } else {
        flt.values = new_values(p, 1);
        if (!flt.values) {
            value_error(c->errors, key, "too many values", text);
            return true;
        }
        flt.nvalues = 1;
        if (op == LOP_ISNULL) {
            qfield bf = {.name = f->name, .type = QF_BOOL};
            ok = one_value(c, key, &bf, text, vlen, &flt.values[0]);
        } else {
            ok = one_value(c, key, f, text, vlen, &flt.values[0]);
        }
    }
    if (!ok) return true;
    p->q.filters[slot] = flt;
    p->filter_keys[slot] = key;
    if (slot == p->q.nfilters) p->q.nfilters++;
    return true;
}

static bool each_param(void *cls, const char *key, const char *value, size_t vlen) {
    parse_ctx *c = cls;
    /* read as C strings, so a NUL would cut them short; search and the
     * filters carry their length and may hold NUL characters */
    static const char *const CONTROLS[] = {"cursor",    "limit",    "order", "sort_key",
                                           "sort_type", "populate", NULL};
    bool control = false;
    for (int i = 0; CONTROLS[i]; i++)
        control |= strcmp(key, CONTROLS[i]) == 0;
    if (control && value && strlen(value) != vlen) {
        /* these are read as C strings, which would end at the NUL */
        value_error(c->errors, key, "the value must not contain NUL characters", value);
        return true;
    }
    bool ranked = c->spec->customer_search && strcmp(key, "search_name_external_id") == 0;
    if ((control || ranked || strcmp(key, "search") == 0) && value) {
        json_t *js = json_stringn(value, vlen); /* NULL: not UTF-8 */
        if (!js) {
            qerror(c->errors, key, "string_unicode", "Input should be a valid string", NULL, NULL);
            return true;
        }
        json_decref(js);
    }
    if (strcmp(key, "cursor") == 0)
        c->cursor = value ? value : "";
    else if (strcmp(key, "limit") == 0)
        c->limit = value ? value : "";
    else if (strcmp(key, "order") == 0)
        c->order = value ? value : "";
    else if (strcmp(key, "sort_key") == 0)
        c->sort_key = value ? value : "";
    else if (strcmp(key, "sort_type") == 0)
        c->sort_type = value ? value : "";
    else if (strcmp(key, "search") == 0 && c->spec->kind != LIST_LEDGER) {
        c->p->q.search = value ? value : "";
        c->p->q.search_len = value ? vlen : 0;
    } else if (ranked) {
        c->rank = value ? value : "";
        c->rank_len = value ? vlen : 0;
    } else if (strcmp(key, "populate") == 0 && c->spec->populate)
        c->populate = value ? value : "";
    else if (c->spec->expand && (strcmp(key, "expand") == 0 || strcmp(key, "apiversion") == 0)) {
        /* the reference's customer list takes these; entitled has no
         * expansions or versions, so they change nothing */
    } else
        return filter_param(c, key, value, value ? vlen : 0);
    return true;
}

/* pydantic's lax int from a string: whitespace, a sign, digits with single
 * underscores between them, and a fraction of zeros ("1.0"). */
bool query_int(const char *s, int64_t *out) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    int64_t v = 0;
    size_t digits = 0;
    for (; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            /* past every bound anyone checks: clamp rather than overflow */
            if (v > ((int64_t)1 << 58)) v = (int64_t)1 << 58;
            v = v * 10 + (s[i] - '0');
            digits++;
        } else if (s[i] == '_' && digits && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9') {
            continue;
        } else {
            break;
        }
    }
    if (!digits) return false;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] == '0')
            i++;
    }
    if (i != n) return false;
    *out = neg ? -v : v;
    return true;
}

/* ---- search=field=value on the customer lists --------------------------------
 * The text is cut at each ','; a part holding '=' starts a pair, its field
 * before the first '=' and its value after; a part without '=' belongs to
 * the value before it, comma included ("customer_name=Acme, Inc" looks for
 * "Acme, Inc"). Each pair is the filter field__ilike=value, and all of them
 * must hold. Text without '=' keeps search's plain meaning. */

static bool known_search_field(const char *s, size_t n) {
    for (int i = 0; query_search_fields[i]; i++)
        if (strlen(query_search_fields[i]) == n && memcmp(query_search_fields[i], s, n) == 0)
            return true;
    return false;
}

static void search_error(parse_ctx *c, const char *field, size_t n) {
    char what[160];
    bool plain = n > 0 && n <= 40;
    for (size_t i = 0; plain && i < n; i++)
        plain = field[i] > ' ' && field[i] < 0x7f;
    /* the field is named when it prints as itself; the input shows it anyway */
    if (plain && field)
        snprintf(what, sizeof what,
                 "unknown search field '%.*s'; the fields are customer_name, email, "
                 "external_id and phone_number",
                 (int)n, field);
    else
        snprintf(what, sizeof what,
                 "search takes field=value pairs, comma separated, of customer_name, email, "
                 "external_id and phone_number");
    value_error(c->errors, "search", what, c->p->q.search);
}

static void search_pairs(parse_ctx *c) {
    list_params *p = c->p;
    if (!p->q.search || !memchr(p->q.search, '=', p->q.search_len)) return;
    const char *t = p->q.search, *end = t + p->q.search_len;
    list_filter *last = NULL;
    for (;;) {
        const char *comma = memchr(t, ',', (size_t)(end - t)), *stop = comma ? comma : end;
        const char *eq = memchr(t, '=', (size_t)(stop - t));
        if (eq) {
            if (!known_search_field(t, (size_t)(eq - t))) {
                search_error(c, t, (size_t)(eq - t));
                return;
            }
            list_value *v = new_values(p, 1);
            if (!v || p->q.nfilters == LIST_MAX_FILTERS) {
                value_error(c->errors, "search", v ? "too many filters" : "too many values",
                            p->q.search);
                return;
            }
            *v = (list_value){.type = LV_TEXT, .s = eq + 1, .len = (size_t)(stop - eq - 1)};
            /* the field's name, from the spec's own strings */
            const qfield *f = c->spec->fields;
            while (f->name && !(strlen(f->name) == (size_t)(eq - t) &&
                                memcmp(f->name, t, (size_t)(eq - t)) == 0))
                f++;
            if (!f->name || !(f->ops & QO(LOP_ILIKE))) {
                search_error(c, NULL, 0);
                return;
            }
            last = &p->q.filters[p->q.nfilters];
            *last = (list_filter){
                .field = f->field ? f->field : f->name, .op = LOP_ILIKE, .nvalues = 1, .values = v};
            p->filter_keys[p->q.nfilters++] = NULL;
        } else if (last) {
            last->values[0].len = (size_t)(stop - last->values[0].s);
        } else {
            search_error(c, NULL, 0); /* text before the first pair */
            return;
        }
        if (!comma) break;
        t = comma + 1;
    }
    p->q.search = NULL;
    p->q.search_len = 0;
}

/* The entry of l equal to s, or NULL. */
static const char *in_list(const char *const *l, const char *s) {
    for (; *l; l++)
        if (strcmp(*l, s) == 0) return *l;
    return NULL;
}

static void enum_error(json_t *errors, const char *name, const char *const *choices,
                       const char *input) {
    char expected[256] = "", msg[300];
    size_t n = 0;
    for (int i = 0; choices[i]; i++) {
        const char *sep = i == 0 ? "" : choices[i + 1] ? ", " : " or ";
        n += (size_t)snprintf(expected + n, sizeof expected - n, "%s'%s'", sep, choices[i]);
        if (n >= sizeof expected) break;
    }
    snprintf(msg, sizeof msg, "Input should be %s", expected);
    json_t *ctx = json_object();
    json_object_set_new(ctx, "expected", json_string(expected));
    qerror(errors, name, "enum", msg, input, ctx);
}

/* ---- cursors ----------------------------------------------------------------
 * "1|<sort>|<a|d>|<n|p>|<row id>|<total>|<value>", base64url. The value is
 * "-" for null, "t<int64>", "n<%.17g>" or "s<text>" (last, so it may hold
 * '|'). The total is the first page's count, carried along so that a deep
 * page costs the same as the first: a walk reports the total as it stood
 * when the walk began. A ranked list (search_name_external_id) writes
 * "2|<sort>|<a|d>|<n|p>|<row id>|<total>|<rank>|<value>", the rank one digit;
 * each kind of cursor belongs to its kind of list. */

char *query_cursor(const list_params *p, const list_result *res, size_t i, bool next) {
    list_value v;
    const char *id;
    bool set = list_sort_value(res, i, p->q.sort, &v, &id);
    size_t vlen = set && v.type == LV_TEXT ? v.len : 0;
    size_t cap = 128 + strlen(p->q.sort) + vlen;
    char *raw = malloc(cap), *out = NULL;
    if (!raw) return NULL;
    bool ranked = p->q.rank_text && res->ranks;
    int n = snprintf(raw, cap, "%s|%s|%c|%c|%s|%lld|", ranked ? CURSOR_RANKED : CURSOR_VERSION,
                     p->q.sort, p->q.desc ? 'd' : 'a', next ? 'n' : 'p', id, (long long)res->total);
    if (n < 0 || (size_t)n >= cap) goto out;
    size_t len = (size_t)n;
    if (ranked) len += (size_t)snprintf(raw + len, cap - len, "%d|", res->ranks[i] % 10);
    if (!set)
        len += (size_t)snprintf(raw + len, cap - len, "-");
    else if (v.type == LV_TIME)
        len += (size_t)snprintf(raw + len, cap - len, "t%lld", (long long)v.t);
    else if (v.type == LV_DEC)
        len += (size_t)snprintf(raw + len, cap - len, "q%lld", (long long)v.d);
    else {
        raw[len++] = 's';
        memcpy(raw + len, v.s, v.len);
        len += v.len;
    }
    out = malloc(B64_ENCODED_LEN(len) + 1);
    if (out) b64_encode(raw, len, out);
out:
    free(raw);
    return out;
}

/* A cursor's integer as the encoder writes it: an optional '-' and digits,
 * within int64 (strtoll alone would take spaces, '+' and clamp overflow). */
static bool cursor_int(const char *s, int64_t *out) {
    const char *d = *s == '-' ? s + 1 : s;
    if (!*d || strspn(d, "0123456789") != strlen(d)) return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno) return false;
    *out = v;
    return true;
}

/* The sort value of a cursor: what list_sort_value() gives for a row of the
 * list, as query_cursor() writes it, and nothing else (issue 13). The store
 * binds it against the sort's column and takes it to be of the column's
 * type: a null for a column without nulls reached PostgreSQL as text
 * against a bigint (a 500), and a value of another type, text that is not
 * UTF-8 (which PostgreSQL text cannot hold) or an integer out of range
 * would make the backends answer differently, if at all. */
static bool read_cursor_value(list_query *q, const char *val, size_t vlen) {
    list_vtype type;
    bool nullable;
    if (!list_sort_type(q->kind, q->sort, &type, &nullable)) return false;
    if (val[0] != 's' && strlen(val) != vlen) return false; /* a NUL past the number */
    if (vlen == 1 && val[0] == '-') {
        q->after_null = true;
        return nullable;
    }
    if (val[0] == 't' && type == LV_TIME) {
        q->after.type = LV_TIME;
        return cursor_int(val + 1, &q->after.t);
    }
    if (val[0] == 'q' && type == LV_DEC) {
        /* a quantity in millionths (dec.h), exact */
        q->after.type = LV_DEC;
        return cursor_int(val + 1, &q->after.d) && q->after.d <= DEC_MAX && q->after.d >= -DEC_MAX;
    }
    if (val[0] == 'n' && type == LV_DEC) {
        /* a cursor made before quantities were decimal: the double's decimal
         * (written with %.17g; strtod alone would take spaces, hex and inf) */
        char *end;
        if (vlen < 2 || strspn(val + 1, "0123456789.eE+-") != vlen - 1) return false;
        double num = strtod(val + 1, &end);
        q->after.type = LV_DEC;
        return !*end && isfinite(num) && dec_from_double(num, &q->after.d) == DEC_OK;
    }
    if (val[0] == 's' && type == LV_TEXT) {
        /* text as the API stores it: UTF-8, NUL characters allowed */
        json_t *js = json_stringn(val + 1, vlen - 1);
        if (!js) return false;
        json_decref(js);
        q->after.type = LV_TEXT;
        q->after.s = val + 1;
        q->after.len = vlen - 1;
        /* an id sort's value is the id itself */
        return strcmp(q->sort, "id") != 0 ||
               (vlen - 1 == strlen(q->after_id) && memcmp(val + 1, q->after_id, vlen - 1) == 0);
    }
    return false;
}

/* Read a cursor into p->q's position; false with an error added. */
static bool read_cursor(parse_ctx *c, const char *text) {
    list_params *p = c->p;
    size_t n = strlen(text);
    char *raw = n <= CURSOR_MAX ? malloc(n * 3 / 4 + 2) : NULL;
    size_t len = raw ? b64_decode(text, n, raw) : (size_t)-1;
    if (len == (size_t)-1 || p->nowned >= sizeof p->owned / sizeof p->owned[0]) {
        free(raw);
        value_error(c->errors, "cursor", "malformed cursor", text);
        return false;
    }
    raw[len] = '\0';
    p->owned[p->nowned++] = raw;
    /* six '|'-separated fields (seven, the rank last, in a ranked one), then
     * the value */
    char *f[8];
    char *s = raw;
    bool ranked = len > 2 && memcmp(raw, CURSOR_RANKED "|", 2) == 0;
    int nf = ranked ? 7 : 6;
    for (int i = 0; i < nf; i++) {
        char *bar = memchr(s, '|', len - (size_t)(s - raw));
        if (!bar || memchr(s, '\0', (size_t)(bar - s))) goto bad; /* read as C strings */
        *bar = '\0';
        f[i] = s;
        s = bar + 1;
    }
    f[nf] = s;
    size_t vlen = len - (size_t)(s - raw);
    if (strcmp(f[0], ranked ? CURSOR_RANKED : CURSOR_VERSION) != 0 || strlen(f[2]) != 1 ||
        strlen(f[3]) != 1 || (f[2][0] != 'a' && f[2][0] != 'd') ||
        (f[3][0] != 'n' && f[3][0] != 'p'))
        goto bad;
    if (ranked && (strlen(f[6]) != 1 || f[6][0] < '0' || f[6][0] > '2')) goto bad;
    char canon[ID_BUF];
    if (uid_canon(f[4], strlen(f[4]), canon) != 0 || strcmp(canon, f[4]) != 0) goto bad;
    if (strcmp(f[1], p->q.sort) != 0 || (f[2][0] == 'd') != p->q.desc ||
        ranked != (p->q.rank_text != NULL)) {
        value_error(c->errors, "cursor", "the cursor belongs to another sort", text);
        return false;
    }
    int64_t total;
    if (!cursor_int(f[5], &total) || total < 0) goto bad;
    p->total = total;
    p->q.skip_total = true;
    memcpy(p->q.after_id, f[4], ID_BUF);
    p->q.backward = f[3][0] == 'p';
    p->q.has_after = true;
    if (ranked) p->q.after_rank = f[6][0] - '0';
    if (read_cursor_value(&p->q, f[nf], vlen)) return true;
bad:
    value_error(c->errors, "cursor", "malformed cursor", text);
    return false;
}

/* http_query_each as a query_args_fn: the request's own arguments. */
static size_t request_args(void *r,
                           bool (*fn)(void *cls, const char *key, const char *value, size_t len),
                           void *cls) {
    return http_query_each(r, fn, cls);
}

json_t *query_parse(http_req *r, const list_spec *spec, int64_t now, list_params *p) {
    return query_parse_args(request_args, r, r->org, spec, now, p);
}

json_t *query_parse_args(query_args_fn each, void *src, const char *org, const list_spec *spec,
                         int64_t now, list_params *p) {
    memset(p, 0, sizeof(*p));
    json_t *errors = json_array();
    parse_ctx c = {.spec = spec, .p = p, .errors = errors};
    p->q.kind = spec->kind;
    p->q.org = org;
    p->q.now = now;
    p->q.sort = spec->sorts[0];
    p->q.desc = spec->default_desc;
    p->q.limit = spec->default_limit;
    p->q.search_customers = spec->search_customers;
    each(src, each_param, &c);
    if (spec->customer_search) search_pairs(&c);
    if (c.rank && c.rank_len) { /* empty: no search, as search= */
        p->q.rank_text = c.rank;
        p->q.rank_len = c.rank_len;
    }

    if (c.limit) {
        int64_t v;
        char msg[96];
        if (!query_int(c.limit, &v)) {
            qerror(errors, "limit", "int_parsing",
                   "Input should be a valid integer, unable to parse string as an integer", c.limit,
                   NULL);
        } else if (v < 1 || v > 100) {
            json_t *ctx = json_object();
            json_object_set_new(ctx, v < 1 ? "ge" : "le", json_integer(v < 1 ? 1 : 100));
            snprintf(msg, sizeof msg, "Input should be %s to %d",
                     v < 1 ? "greater than or equal" : "less than or equal", v < 1 ? 1 : 100);
            qerror(errors, "limit", v < 1 ? "greater_than_equal" : "less_than_equal", msg, c.limit,
                   ctx);
        } else {
            p->q.limit = (int)v;
        }
    }
    if (c.sort_key) {
        /* q.sort is the spec's own string, which outlives the arguments */
        if (in_list(spec->sorts, c.sort_key)) {
            p->q.sort = in_list(spec->sorts, c.sort_key);
            p->q.desc = false; /* sort_type's default: asc */
        } else
            enum_error(errors, "sort_key", spec->sorts, c.sort_key);
    } else if (c.order) {
        const char *k = c.order[0] == '-' ? c.order + 1 : c.order;
        if (in_list(spec->sorts, k)) {
            p->q.sort = in_list(spec->sorts, k);
            p->q.desc = c.order[0] == '-';
        } else {
            value_error(errors, "order",
                        "order must be a sort key, optionally after '-' for descending", c.order);
        }
    }
    if (c.sort_type) {
        static const char *const TYPES[] = {"asc", "desc", NULL};
        if (in_list(TYPES, c.sort_type))
            p->q.desc = strcmp(c.sort_type, "desc") == 0;
        else
            enum_error(errors, "sort_type", TYPES, c.sort_type);
    }
    if (c.populate) {
        /* names, each once or more, between single commas */
        bool ok = *c.populate;
        for (const char *t = c.populate; ok;) {
            size_t n = strcspn(t, ",");
            if (n == 8 && memcmp(t, "customer", n) == 0)
                p->populate_customer = true;
            else if (n == 7 && memcmp(t, "product", n) == 0)
                p->populate_product = true;
            else if (n == 8 && memcmp(t, "contract", n) == 0)
                p->populate_contract = true;
            else if (n == 7 && memcmp(t, "invoice", n) == 0)
                p->populate_invoice = true;
            else
                ok = false;
            if (!t[n]) break;
            t += n + 1;
        }
        if (!ok)
            value_error(errors, "populate",
                        "populate takes customer, product, contract and invoice, comma separated",
                        c.populate);
    }
    /* the cursor last: it must match the sort read above */
    if (c.cursor && json_array_size(errors) == 0 && *c.cursor) {
        p->from_cursor = read_cursor(&c, c.cursor);
    }
    return errors;
}

void list_params_free(list_params *p) {
    for (size_t i = 0; i < p->nowned; i++)
        free(p->owned[i]);
    p->nowned = 0;
}
