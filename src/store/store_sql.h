/* store_sql: the SQL of the lists, shared by the SQL backends.
 *
 * A list query (store.h) becomes SQL here, once for every backend: fields
 * are looked up in each list's whitelist (nothing a client sends reaches the
 * SQL text) and every value is a bound parameter, recorded in the builder
 * for the backend to bind. What differs between SQLite and PostgreSQL is a
 * small `sql_dialect`. */
#ifndef ENTITLED_STORE_SQL_H
#define ENTITLED_STORE_SQL_H

#include "store/store.h"

/* Templates: each "%s" in turn is the column, then the bound value. */
typedef struct {
    char placeholder;        /* '?' numbers values ?1, ?2 (SQLite); '$' gives $1 (PostgreSQL) */
    const char *ci_contains; /* case-insensitive substring test, "ci_contains(%s, %s)" */
    const char *cs_contains; /* case-sensitive substring test, "instr(%s, %s) > 0" */
    /* The rank of a text column against a needle, folded as ci_contains
     * folds: 0 equal, 1 a prefix, 2 contained elsewhere, 3 not contained or
     * null. Here "%c" is the column and each "%v" a bind of the needle. */
    const char *ci_rank;
    const char *least; /* the smaller of its arguments: "min" (SQLite), "LEAST" */
    /* The unique list's totals: one "%s", a quantity column of the
     * customer's rows `x`, summed exactly, read as decimal text. */
    const char *unique_sum;
    /* One "%s": for a text sort column, an expression ordered as the column
     * is, read from an index: rows are ordered by it, then by the column
     * (PostgreSQL bounds the size of index keys; names are not bounded).
     * NULL to order by the column alone (SQLite). */
    const char *sort_key;
} sql_dialect;

extern const sql_dialect SQL_SQLITE;

/* A customer's columns in the list's SELECT; a ranked list (list_query's
 * rank_text) reads the row's rank after them. */
#define SQL_CUST_NCOLS 15

/* A ledger entry's columns, in the order both backends read them. */
#define SQL_LEDGER_COLS                                                                            \
    "t.org_id, t.seq, t.at, t.kind, t.row_id, t.entitlement_id, t.customer_id, "                   \
    "t.quantity_delta, t.quantity_used_delta, t.quantity, t.quantity_used, t.active_from, "        \
    "t.expiry_at, t.request_id, t.idempotency_key"
#define SQL_LEDGER_NCOLS 15

/* "create" -> LEDGER_CREATE ...; -1 when unknown */
int sql_ledger_kind(const char *name);

typedef struct {
    const char *field; /* the API's name */
    const char *sql;   /* its column */
    bool nullable;
    bool text;
} sql_field;

/* The field `name` of list `k` (LIST_UNIQUE: ask for LIST_ENTITLEMENTS), or NULL. */
const sql_field *sql_field_of(list_kind k, const char *name);

/* every filter value (api/query.h caps them at QUERY_MAX_VALUES = 400),
 * the position, the organisation, the search and the customer */
#define SQL_MAX_BINDS (400 + LIST_MAX_FILTERS * 2 + 32)

typedef struct {
    char *buf; /* the SQL text, NUL-terminated */
    size_t len, cap;
    bool failed; /* out of memory, too many values or an unknown field */
    list_value binds[SQL_MAX_BINDS];
    int nbinds;
} sql_builder;

void sql_builder_free(sql_builder *b);

/* Keyset reading, one segment at a time. A nullable sort field orders its
 * rows in two segments, nulls first ascending and last descending; each
 * segment is read by its own query, which an index on (org, field, id) serves
 * as a plain range (an OR across the two segments would defeat it). */
typedef enum { SQL_SEG_VALUES, SQL_SEG_NULLS } sql_segment;

/* The reading direction: ascending unless the sort is descending, reversed
 * when reading backward. */
bool sql_reading_asc(const list_query *q);

/* The segments to read, in reading order, starting with the one that holds
 * the position; returns their count (1 or 2). Only the first is read from
 * the position (when q->has_after). */
int sql_segments(const list_query *q, const sql_field *sf, sql_segment out[2]);

/* SELECT of up to `want` rows of one segment, with filters, search, position
 * and order. Columns: the list's object (as the backends' get statements
 * read them), then LIST_CUSTOMERS with rank_text: the rank; LIST_GRANTS: e.name, e.units,
 * e.entitlement_type, e.product_id, c.customer_name, c.email; LIST_UNIQUE: unique_sum of quantity
 * and of quantity_used, and the count of expired rows. */
void sql_list_rows(sql_builder *b, const sql_dialect *d, const list_query *q, const sql_field *sf,
                   sql_segment seg, bool from_position, size_t want);
/* SELECT COUNT(*) of the rows matching the filters and search. */
void sql_list_count(sql_builder *b, const sql_dialect *d, const list_query *q);

/* Text as the case-insensitive match reads it: UTF-8 decoded into code
 * points, a byte that starts no sequence standing for itself (no check of
 * continuation bytes). `out` holds n entries; returns the count. */
size_t sql_decode_loose(const unsigned char *s, size_t n, uint32_t *out);

#endif
