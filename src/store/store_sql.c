#include "store/store_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const sql_dialect SQL_SQLITE = {
    .placeholder = '?',
    /* a function of store_sqlite.c: SQLite's LIKE folds ASCII only and
     * stops at a NUL */
    .ci_contains = "ci_contains(%s, %s)",
    /* instr() compares bytes: a case-sensitive substring */
    .cs_contains = "instr(%s, %s) > 0",
    /* store_sqlite.c's too, folding as ci_contains does */
    .ci_rank = "ci_rank(%c, %v)",
    .least = "min",
    /* store_sqlite.c's: exact, in 128 bits (SUM stops at 2^63) */
    .unique_sum = "dec_sum(%s)",
    .sort_key = NULL,
};

/* ---- fields ------------------------------------------------------------- */

static const sql_field ENT_FIELDS[] = {
    {"id", "t.id", false, true},
    {"entitlement", "t.id", false, true},
    {"name", "t.name", false, true},
    {"description", "t.description", true, true},
    {"created_at", "t.created_at", false, false},
    {"entitlement_type", "t.entitlement_type", true, true},
    {"is_active", "t.is_active", true, false},
    {"product_id", "t.product_id", true, true},
    {NULL, NULL, false, false},
};
static const sql_field CUST_FIELDS[] = {
    {"id", "t.id", false, true},
    {"customer_name", "t.customer_name", false, true},
    {"external_id", "t.external_id", true, true},
    {"email", "t.email", true, true},
    {"phone_number", "t.phone_number", true, true},
    {"communications_enabled", "t.communications_enabled", true, false},
    {"auto_charge_enabled", "t.auto_charge_enabled", true, false},
    {"business_entity_id", "t.business_entity_id", true, true},
    {"created_at", "t.created_at", false, false},
    {NULL, NULL, false, false},
};
static const sql_field GRANT_FIELDS[] = {
    {"id", "t.id", false, true},
    {"customer", "t.customer_id", false, true},
    {"entitlement", "t.entitlement_id", false, true},
    {"contract_id", "t.contract_id", true, true},
    {"quantity", "t.quantity", true, false},
    {"quantity_used", "t.quantity_used", true, false},
    {"created_at", "t.created_at", false, false},
    {"active_from", "t.active_from", true, false},
    {"expiry_at", "t.expiry_at", true, false},
    {NULL, NULL, false, false},
};

/* The ledger's entries are keyed by (seq, row_id): its "id" is the row. */
static const sql_field LEDGER_FIELDS[] = {
    {"id", "t.row_id", false, true},
    {"row", "t.row_id", false, true},
    {"customer", "t.customer_id", false, true},
    {"entitlement", "t.entitlement_id", false, true},
    {"kind", "t.kind", false, true},
    {"seq", "t.seq", false, false},
    {"at", "t.at", false, false},
    {NULL, NULL, false, false},
};

const sql_field *sql_field_of(list_kind k, const char *name) {
    const sql_field *f = k == LIST_CUSTOMERS ? CUST_FIELDS
                         : k == LIST_GRANTS  ? GRANT_FIELDS
                         : k == LIST_LEDGER  ? LEDGER_FIELDS
                                             : ENT_FIELDS;
    for (; f->field; f++)
        if (strcmp(f->field, name) == 0) return f;
    return NULL;
}

int sql_ledger_kind(const char *name) {
    for (int k = 0; k < LEDGER_KIND_COUNT; k++)
        if (name && strcmp(name, ledger_kind_names[k]) == 0) return k;
    return -1;
}

/* ---- the builder -------------------------------------------------------- */

static void sb_addn(sql_builder *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_add(sql_builder *b, const char *s) {
    sb_addn(b, s, strlen(s));
}

/* Append the next placeholder, bound to `v`. */
static void sb_bind(sql_builder *b, const sql_dialect *d, const list_value *v) {
    if (b->nbinds >= SQL_MAX_BINDS) {
        b->failed = true;
        return;
    }
    b->binds[b->nbinds] = *v;
    b->nbinds++;
    char p[16];
    snprintf(p, sizeof p, "%c%d", d->placeholder, b->nbinds);
    sb_add(b, p);
}

static void sb_bind_text(sql_builder *b, const sql_dialect *d, const char *s) {
    list_value v = {.type = LV_TEXT, .s = s, .len = strlen(s)};
    sb_bind(b, d, &v);
}

/* Append a dialect template: its first "%s" is `col`, the next `v` bound
 * (without a column, the first is `v`). */
static void sb_template(sql_builder *b, const sql_dialect *d, const char *tmpl, const char *col,
                        const list_value *v) {
    for (const char *p; (p = strstr(tmpl, "%s")); tmpl = p + 2) {
        sb_addn(b, tmpl, (size_t)(p - tmpl));
        if (col)
            sb_add(b, col);
        else
            sb_bind(b, d, v);
        col = NULL;
    }
    sb_add(b, tmpl);
}

/* Append a template in which "%c" is `col` and each "%v" a bind of `v`. */
static void sb_ctemplate(sql_builder *b, const sql_dialect *d, const char *tmpl, const char *col,
                         const list_value *v) {
    for (const char *p; (p = strchr(tmpl, '%')); tmpl = p + 2) {
        sb_addn(b, tmpl, (size_t)(p - tmpl));
        if (p[1] == 'c')
            sb_add(b, col);
        else if (p[1] == 'v')
            sb_bind(b, d, v);
        else {
            b->failed = true; /* the dialects hold no other */
            return;
        }
    }
    sb_add(b, tmpl);
}

/* ---- the ranked customer search ---------------------------------------------
 * search_name_external_id: the customers whose name or external id contains
 * the text, ordered by rank (exact, prefix, contains) and then by the sort.
 * Keyset reading wants one direction for the whole key, so the key is
 * (k, sort value, id) with k the rank for an ascending sort and minus the
 * rank for a descending one: ordering k descending is the rank ascending. */

static const char *const RANK_COLS[] = {"t.customer_name", "t.external_id"};

/* The row's rank: the better of the two columns'. */
static void sb_rank(sql_builder *b, const sql_dialect *d, const list_query *q) {
    list_value v = {.type = LV_TEXT, .s = q->rank_text, .len = q->rank_len};
    sb_add(b, d->least);
    sb_add(b, "(");
    for (size_t i = 0; i < sizeof RANK_COLS / sizeof RANK_COLS[0]; i++) {
        if (i) sb_add(b, ", ");
        sb_ctemplate(b, d, d->ci_rank, RANK_COLS[i], &v);
    }
    sb_add(b, ")");
}

/* k, the first member of a ranked list's key. */
static void sb_rank_key(sql_builder *b, const sql_dialect *d, const list_query *q) {
    sb_add(b, q->desc ? "(-" : "(");
    sb_rank(b, d, q);
    sb_add(b, ")");
}

void sql_builder_free(sql_builder *b) {
    free(b->buf);
    b->buf = NULL;
}

static const char *op_sql(list_op op) {
    switch (op) {
    case LOP_GT:
        return " > ";
    case LOP_GTE:
        return " >= ";
    case LOP_LT:
        return " < ";
    case LOP_LTE:
        return " <= ";
    case LOP_NEQ:
        return " <> ";
    default:
        return " = ";
    }
}

/* The columns that hold quantities (dec.h) */
static bool is_quantity(const sql_field *col) {
    return strcmp(col->field, "quantity") == 0 || strcmp(col->field, "quantity_used") == 0;
}

/* A filter on a quantity: the column holds exact decimals (dec.h), the
 * client's value is a double, which may have more places or lie beyond the
 * range. Compared exactly through the largest decimal f <= value: x > v is
 * x > f; x >= v is x >= f when v == f, else x > f; x < v is x < f when
 * v == f, else x <= f; x <= v is x <= f; x = v matches nothing unless v == f
 * (and x <> v then keeps every row). */
static void sb_dec_filter(sql_builder *b, const sql_dialect *d, const char *col, list_op op,
                          const list_filter *f) {
    if (op == LOP_IN) {
        sb_add(b, "(1 = 0");
        for (size_t k = 0; k < f->nvalues; k++) {
            bool exact;
            list_value v = {.type = LV_DEC, .d = dec_floor_of_double(f->values[k].n, &exact)};
            if (!exact) continue;
            sb_add(b, " OR ");
            sb_add(b, col);
            sb_add(b, " = ");
            sb_bind(b, d, &v);
        }
        sb_add(b, ")");
        return;
    }
    bool exact;
    list_value v = {.type = LV_DEC, .d = dec_floor_of_double(f->values[0].n, &exact)};
    const char *cmp = NULL;
    switch (op) {
    case LOP_GT:
        cmp = " > ";
        break;
    case LOP_GTE:
        cmp = exact ? " >= " : " > ";
        break;
    case LOP_LT:
        cmp = exact ? " < " : " <= ";
        break;
    case LOP_LTE:
        cmp = " <= ";
        break;
    case LOP_NEQ:
        if (!exact) {
            sb_add(b, "1 = 1");
            return;
        }
        /* SQL's <> drops nulls; "not equal" keeps them */
        sb_add(b, "(");
        sb_add(b, col);
        sb_add(b, " IS NULL OR ");
        sb_add(b, col);
        sb_add(b, " <> ");
        sb_bind(b, d, &v);
        sb_add(b, ")");
        return;
    default:
        if (!exact) {
            sb_add(b, "1 = 0");
            return;
        }
        cmp = " = ";
    }
    sb_add(b, col);
    sb_add(b, cmp);
    sb_bind(b, d, &v);
}

/* WHERE conditions of the filters and search (each "AND ..."). */
static void sb_filters(sql_builder *b, const sql_dialect *d, const list_query *q) {
    for (size_t i = 0; i < q->nfilters; i++) {
        const list_filter *f = &q->filters[i];
        const sql_field *col = sql_field_of(q->kind, f->field);
        if (!col) {
            b->failed = true;
            return;
        }
        sb_add(b, " AND ");
        if (is_quantity(col) && f->op != LOP_ISNULL && f->nvalues && f->values[0].type == LV_NUM) {
            sb_dec_filter(b, d, col->sql, f->op, f);
            continue;
        }
        switch (f->op) {
        case LOP_ISNULL:
            sb_add(b, col->sql);
            sb_add(b, f->values[0].b ? " IS NULL" : " IS NOT NULL");
            break;
        case LOP_IN:
            sb_add(b, col->sql);
            sb_add(b, " IN (");
            for (size_t k = 0; k < f->nvalues; k++) {
                if (k) sb_add(b, ", ");
                sb_bind(b, d, &f->values[k]);
            }
            sb_add(b, ")");
            break;
        case LOP_LIKE:
            sb_template(b, d, d->cs_contains, col->sql, &f->values[0]);
            break;
        case LOP_ILIKE:
            sb_template(b, d, d->ci_contains, col->sql, &f->values[0]);
            break;
        case LOP_NEQ:
            /* SQL's <> drops nulls; "not equal" keeps them */
            sb_add(b, "(");
            sb_add(b, col->sql);
            sb_add(b, " IS NULL OR ");
            sb_add(b, col->sql);
            sb_add(b, " <> ");
            sb_bind(b, d, &f->values[0]);
            sb_add(b, ")");
            break;
        default:
            sb_add(b, col->sql);
            sb_add(b, op_sql(f->op));
            sb_bind(b, d, &f->values[0]);
        }
    }
    if (q->rank_text) {
        list_value v = {.type = LV_TEXT, .s = q->rank_text, .len = q->rank_len};
        if (q->kind != LIST_CUSTOMERS) b->failed = true;
        sb_add(b, " AND (");
        for (size_t i = 0; i < sizeof RANK_COLS / sizeof RANK_COLS[0]; i++) {
            if (i) sb_add(b, " OR ");
            sb_template(b, d, d->ci_contains, RANK_COLS[i], &v);
        }
        sb_add(b, ")");
    }
    if (q->search && q->search_len) {
        static const char *const SEARCH[LIST_KIND_COUNT] = {
            [LIST_ENTITLEMENTS] = "t.name\\t.description",
            [LIST_CUSTOMERS] = "t.customer_name\\t.email\\t.external_id",
            [LIST_GRANTS] = "e.name",
            [LIST_UNIQUE] = "t.name",
            [LIST_LEDGER] = "t.kind",
        };
        char cols[128];
        snprintf(cols, sizeof cols, "%s%s", SEARCH[q->kind],
                 q->kind == LIST_GRANTS && q->search_customers ? "\\c.customer_name" : "");
        sb_add(b, " AND (");
        int first = 1;
        for (char *save = NULL, *c = strtok_r(cols, "\\", &save); c;
             c = strtok_r(NULL, "\\", &save)) {
            if (!first) sb_add(b, " OR ");
            first = 0;
            list_value v = {.type = LV_TEXT, .s = q->search, .len = q->search_len};
            sb_template(b, d, d->ci_contains, c, &v);
        }
        sb_add(b, ")");
    }
}

bool sql_reading_asc(const list_query *q) {
    return q->desc == q->backward;
}

int sql_segments(const list_query *q, const sql_field *sf, sql_segment out[2]) {
    bool asc = sql_reading_asc(q);
    if (!sf->nullable) {
        out[0] = SQL_SEG_VALUES;
        return 1;
    }
    out[0] = asc ? SQL_SEG_NULLS : SQL_SEG_VALUES;
    out[1] = asc ? SQL_SEG_VALUES : SQL_SEG_NULLS;
    if (q->has_after && (q->after_null ? SQL_SEG_NULLS : SQL_SEG_VALUES) != out[0]) {
        out[0] = out[1];
        return 1;
    }
    return 2;
}

/* The column that breaks ties and makes a position unique. */
static const char *tie_col(const list_query *q) {
    return q->kind == LIST_LEDGER ? "t.row_id" : "t.id";
}

/* The segment's condition, and the position's when it lies in it. */
static void sb_segment(sql_builder *b, const sql_dialect *d, const list_query *q,
                       const sql_field *s, sql_segment seg, bool from_position) {
    list_value idv = {.type = LV_TEXT, .s = q->after_id, .len = strlen(q->after_id)};
    const char *gt = sql_reading_asc(q) ? " > " : " < ";
    if (s->nullable) {
        sb_add(b, " AND ");
        sb_add(b, s->sql);
        sb_add(b, seg == SQL_SEG_NULLS ? " IS NULL" : " IS NOT NULL");
    }
    if (!from_position) return;
    const char *tie = tie_col(q);
    bool by_tie = seg == SQL_SEG_NULLS || strcmp(s->sql, tie) == 0;
    if (by_tie && !q->rank_text) {
        sb_add(b, " AND ");
        sb_add(b, tie);
        sb_add(b, gt);
        sb_bind(b, d, &idv);
        return;
    }
    /* a row value comparison, which the index serves as a range (the
     * position's value is of the column's type: api/query.c checks it) */
    bool key = !by_tie && d->sort_key && s->text;
    /* a ranked list's k; an integer, bound as instants are */
    list_value k = {.type = LV_TIME, .t = q->desc ? -q->after_rank : q->after_rank};
    sb_add(b, " AND (");
    if (q->rank_text) {
        sb_rank_key(b, d, q);
        sb_add(b, ", ");
    }
    if (key) {
        sb_template(b, d, d->sort_key, s->sql, NULL);
        sb_add(b, ", ");
    }
    if (!by_tie) {
        sb_add(b, s->sql);
        sb_add(b, ", ");
    }
    sb_add(b, tie);
    sb_add(b, ")");
    sb_add(b, gt);
    sb_add(b, "(");
    if (q->rank_text) {
        sb_bind(b, d, &k);
        sb_add(b, ", ");
    }
    if (key) {
        sb_template(b, d, d->sort_key, NULL, &q->after);
        sb_add(b, ", ");
    }
    if (!by_tie) {
        sb_bind(b, d, &q->after);
        sb_add(b, ", ");
    }
    sb_bind(b, d, &idv);
    sb_add(b, ")");
}

static void sb_from(sql_builder *b, const sql_dialect *d, const list_query *q, bool count) {
    list_value org = {.type = LV_TEXT, .s = q->org, .len = strlen(q->org)};
    switch (q->kind) {
    case LIST_ENTITLEMENTS:
        sb_add(b, count ? "SELECT COUNT(*)"
                        : "SELECT t.id, t.name, t.description, "
                          "t.entitlement_type, t.units, t.is_active, t.product_id, t.created_at, "
                          "t.updated_at");
        sb_add(b, " FROM entitlements t WHERE t.org_id = ");
        sb_bind(b, d, &org);
        break;
    case LIST_CUSTOMERS:
        sb_add(b, count ? "SELECT COUNT(*)"
                        : "SELECT t.id, t.customer_name, t.external_id, "
                          "t.email, t.phone_number, t.business_entity_id, "
                          "t.communications_enabled, t.auto_charge_enabled, t.custom_data, "
                          "t.address, t.ship_to_address, t.tax_info, t.connector, t.created_at, "
                          "t.updated_at");
        if (!count && q->rank_text) {
            sb_add(b, ", ");
            sb_rank(b, d, q);
        }
        sb_add(b, " FROM customers t WHERE t.org_id = ");
        sb_bind(b, d, &org);
        break;
    case LIST_GRANTS:
        if (count && !(q->search && q->search_len)) {
            /* every row has its entitlement and customer (foreign keys):
             * counting needs no join, and reads only an index */
            sb_add(b, "SELECT COUNT(*) FROM customer_entitlements t WHERE t.org_id = ");
            sb_bind(b, d, &org);
            break;
        }
        sb_add(b, count ? "SELECT COUNT(*)"
                        : "SELECT t.id, t.entitlement_id, t.customer_id, t.active_from, "
                          "t.expiry_at, t.quantity, t.quantity_used, t.contract_id, "
                          "t.source_type, t.source_id, t.block_amount, t.invoice_id, t.event, "
                          "t.numeric_value, t.feature_option_value, t.status, t.created_at, "
                          "t.updated_at, e.name, e.units, e.entitlement_type, e.product_id, "
                          "c.customer_name, c.email");
        sb_add(b, " FROM customer_entitlements t JOIN entitlements e ON e.id = t.entitlement_id"
                  " JOIN customers c ON c.id = t.customer_id WHERE t.org_id = ");
        sb_bind(b, d, &org);
        break;
    case LIST_UNIQUE: {
        list_value now = {.type = LV_TIME, .t = q->now};
        if (count) {
            sb_add(b, "SELECT COUNT(*)");
        } else {
            sb_add(b, "SELECT t.id, t.name, t.description, t.entitlement_type, t.units, "
                      "t.is_active, t.product_id, t.created_at, t.updated_at, (SELECT ");
            sb_template(b, d, d->unique_sum, "x.quantity", NULL);
            sb_add(b, " FROM customer_entitlements x WHERE x.org_id = t.org_id AND "
                      "x.entitlement_id = t.id AND x.customer_id = ");
            sb_bind_text(b, d, q->unique_customer);
            sb_add(b, " AND (x.expiry_at IS NULL OR x.expiry_at > ");
            sb_bind(b, d, &now);
            sb_add(b, ")), (SELECT ");
            sb_template(b, d, d->unique_sum, "x.quantity_used", NULL);
            sb_add(b, " FROM customer_entitlements x WHERE x.org_id = t.org_id AND "
                      "x.entitlement_id = t.id AND x.customer_id = ");
            sb_bind_text(b, d, q->unique_customer);
            sb_add(b, " AND (x.expiry_at IS NULL OR x.expiry_at > ");
            sb_bind(b, d, &now);
            sb_add(b, ")), (SELECT COUNT(*) FROM customer_entitlements x WHERE x.org_id = "
                      "t.org_id AND x.entitlement_id = t.id AND x.customer_id = ");
            sb_bind_text(b, d, q->unique_customer);
            sb_add(b, " AND x.expiry_at IS NOT NULL AND x.expiry_at <= ");
            sb_bind(b, d, &now);
            sb_add(b, ")");
        }
        sb_add(b, " FROM entitlements t WHERE t.org_id = ");
        sb_bind(b, d, &org);
        sb_add(b, " AND EXISTS (SELECT 1 FROM customer_entitlements x WHERE x.org_id = t.org_id"
                  " AND x.customer_id = ");
        sb_bind_text(b, d, q->unique_customer);
        sb_add(b, " AND x.entitlement_id = t.id)");
        break;
    }
    case LIST_LEDGER:
        sb_add(b, count ? "SELECT COUNT(*)" : "SELECT " SQL_LEDGER_COLS);
        sb_add(b, " FROM ledger t WHERE t.org_id = ");
        sb_bind(b, d, &org);
        break;
    }
}

void sql_list_rows(sql_builder *b, const sql_dialect *d, const list_query *q, const sql_field *sf,
                   sql_segment seg, bool from_position, size_t want) {
    bool asc = sql_reading_asc(q);
    /* a rank before a nullable sort would need a null segment per rank; the
     * customers' sorts are never null */
    if (q->rank_text && sf->nullable) b->failed = true;
    sb_from(b, d, q, false);
    sb_filters(b, d, q);
    sb_segment(b, d, q, sf, seg, from_position);
    sb_add(b, " ORDER BY ");
    if (q->rank_text) {
        sb_rank_key(b, d, q);
        sb_add(b, asc ? " ASC, " : " DESC, ");
    }
    const char *tie = tie_col(q);
    if (seg == SQL_SEG_VALUES && strcmp(sf->sql, tie) != 0) {
        if (d->sort_key && sf->text) {
            sb_template(b, d, d->sort_key, sf->sql, NULL);
            sb_add(b, asc ? " ASC, " : " DESC, ");
        }
        sb_add(b, sf->sql);
        sb_add(b, asc ? " ASC, " : " DESC, ");
    }
    sb_add(b, tie);
    sb_add(b, asc ? " ASC" : " DESC");
    char lim[32];
    snprintf(lim, sizeof lim, " LIMIT %zu", want);
    sb_add(b, lim);
}

void sql_list_count(sql_builder *b, const sql_dialect *d, const list_query *q) {
    sb_from(b, d, q, true);
    sb_filters(b, d, q);
}

/* ---- text and numbers --------------------------------------------------- */

size_t sql_decode_loose(const unsigned char *s, size_t n, uint32_t *out) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = s[i];
        size_t len = 1;
        if (cp >= 0xC0 && cp < 0xE0 && i + 1 < n)
            cp = (cp & 0x1F) << 6 | (s[i + 1] & 0x3F), len = 2;
        else if (cp >= 0xE0 && cp < 0xF0 && i + 2 < n)
            cp = (cp & 0x0F) << 12 | (uint32_t)(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F), len = 3;
        else if (cp >= 0xF0 && i + 3 < n)
            cp = (cp & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3F) << 12 |
                 (uint32_t)(s[i + 2] & 0x3F) << 6 | (s[i + 3] & 0x3F),
            len = 4;
        out[k++] = cp;
        i += len;
    }
    return k;
}
