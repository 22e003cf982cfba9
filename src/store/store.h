/* store: the one interface between the API handlers and a database.
 *
 * A backend fills a `store_ops` table; handlers call the store_* wrappers
 * below and never see SQL. Every write is one transaction, acknowledged
 * (STORE_OK) only once it is durable. Every lookup is scoped by the caller's
 * organisation: another organisation's ids are simply not found.
 * Codes, not sentences: the HTTP edge maps a store_rc to a status. */
#ifndef ENTITLED_STORE_H
#define ENTITLED_STORE_H

#include "domain/model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    STORE_OK = 0,
    STORE_NOT_FOUND, /* no such object in this organisation */
    STORE_CONFLICT,  /* the id exists already */
    STORE_WINDOW,    /* active_from would be after expiry_at */
    STORE_BUSY,      /* the database is locked or unreachable: retry later (503) */
    STORE_ERROR,     /* anything else (500), logged by the backend */
} store_rc;

typedef struct store store;

typedef struct {
    char key_id[ID_BUF];
    char org[ID_BUF];
    uint8_t hash[32];
    int64_t created_at;
    int64_t revoked_at; /* 0 when live */
} store_apikey;

/* ---- lists ----------------------------------------------------------------
 * A list query is data, not SQL: which list, filters on named fields (the
 * API's names, mapped to columns by each backend's whitelist), a search
 * text, a sort and a keyset position. Backends read limit + 1 rows to tell
 * whether more follow. */

typedef enum { LIST_ENTITLEMENTS, LIST_CUSTOMERS, LIST_GRANTS, LIST_UNIQUE } list_kind;

/* LOP_ILIKE: case-insensitive substring; LOP_LIKE: case-sensitive substring */
typedef enum {
    LOP_EQ,
    LOP_IN,
    LOP_ISNULL,
    LOP_GT,
    LOP_GTE,
    LOP_LT,
    LOP_LTE,
    LOP_NEQ,
    LOP_ILIKE,
    LOP_LIKE
} list_op;

typedef enum { LV_TEXT, LV_NUM, LV_TIME, LV_BOOL } list_vtype;

typedef struct {
    list_vtype type;
    const char *s; /* LV_TEXT */
    size_t len;
    double n;  /* LV_NUM */
    int64_t t; /* LV_TIME */
    int b;     /* LV_BOOL, and LOP_ISNULL's true/false */
} list_value;

#define LIST_MAX_FILTERS 48
#define LIST_MAX_IN 100

typedef struct {
    const char *field; /* "quantity", "customer", "name", ... */
    list_op op;
    size_t nvalues; /* 1, or the count of LOP_IN */
    list_value *values;
} list_filter;

typedef struct {
    list_kind kind;
    const char *org;
    list_filter filters[LIST_MAX_FILTERS];
    size_t nfilters;
    const char *search; /* substring, case-insensitive; NULL for none */
    size_t search_len;
    bool search_customers; /* LIST_GRANTS: search the customer's name too */
    const char *sort;   /* a sortable field; "created_at" by default */
    bool desc;
    /* Read after this position (exclusive), in reading order. */
    bool has_after;
    bool after_null; /* the sort value there is null */
    list_value after;
    char after_id[ID_BUF];
    bool backward; /* read towards the start: the reverse of the sort */
    int limit;
    bool skip_total; /* the caller knows the total (a cursor carries it) */
    int64_t now; /* LIST_UNIQUE: what "expired" is measured against */
    const char *unique_customer; /* LIST_UNIQUE: whose rows */
} list_query;

/* A grant with what lists show of its entitlement and customer. */
typedef struct {
    model_grant g;
    char *ent_name, *ent_units, *ent_type, *product_id; /* model strings */
    char *cust_name, *cust_email;
} list_grant;

typedef struct {
    model_entitlement e;
    double total_quantity, total_quantity_used;
    int64_t expired;
} list_unique;

typedef struct {
    size_t n;       /* rows read, at most limit (in reading order) */
    bool more;      /* another row follows in reading order */
    int64_t total;  /* rows matching the filters, ignoring the position */
    model_entitlement *ents;
    model_customer *custs;
    list_grant *grants;
    list_unique *uniq;
} list_result;

void list_result_clear(list_result *r);

/* The sort value of row i of a result, for cursors: false when null. */
bool list_sort_value(const list_result *r, size_t i, const char *sort, list_value *v,
                     const char **id);

typedef struct store_ops {
    const char *name;
    void (*close)(store *s);
    store_rc (*org_create)(store *s, const char *id, const char *name, int64_t now);
    store_rc (*org_exists)(store *s, const char *id);
    store_rc (*apikey_create)(store *s, const store_apikey *k);
    store_rc (*apikey_get)(store *s, const char *key_id, store_apikey *out);
    store_rc (*customer_create)(store *s, const char *org, const model_customer *c);
    store_rc (*customer_get)(store *s, const char *org, const char *id, model_customer *out);
    store_rc (*entitlement_create)(store *s, const char *org, const model_entitlement *e);
    store_rc (*entitlement_get)(store *s, const char *org, const char *id, model_entitlement *out);
    store_rc (*grant_create)(store *s, const char *org, const model_grant *g);
    store_rc (*grant_get)(store *s, const char *org, const char *ent, const char *cust,
                          const char *id, model_grant *out);
    store_rc (*grant_update)(store *s, const char *org, const char *ent, const char *cust,
                             const char *id, const model_grant_patch *p, int64_t now,
                             model_grant *out);
    store_rc (*grant_delete)(store *s, const char *org, const char *ent, const char *cust,
                             const char *id, model_grant *out);
    /* Sum of quantity over the pair's rows whose window overlaps [from, to);
     * has_from/has_to false leave that side open. */
    store_rc (*grant_total)(store *s, const char *org, const char *ent, const char *cust,
                            bool has_from, int64_t from, bool has_to, int64_t to, double *sum);
    /* Read, apply(ctx, row), write, in one transaction: no lost update
     * between two writers of one object. `out` is the row as written. */
    store_rc (*entitlement_update)(store *s, const char *org, const char *id,
                                   void (*apply)(void *ctx, model_entitlement *e), void *ctx,
                                   int64_t now, model_entitlement *out);
    /* STORE_CONFLICT while rows use it */
    store_rc (*entitlement_delete)(store *s, const char *org, const char *id,
                                   model_entitlement *out);
    store_rc (*customer_update)(store *s, const char *org, const char *id,
                                void (*apply)(void *ctx, model_customer *c), void *ctx,
                                int64_t now, model_customer *out);
    store_rc (*customer_delete)(store *s, const char *org, const char *id, model_customer *out);
    store_rc (*list)(store *s, const list_query *q, list_result *out);
} store_ops;

struct store {
    const store_ops *ops;
};

/* Open the database named by `dsn`, creating or migrating its schema: a
 * postgresql:// (or postgres://) URI or a key=value conninfo (any '=')
 * means PostgreSQL, anything else is a SQLite file path. On failure returns
 * NULL with `err` filled. */
store *store_open(const char *dsn, char *err, size_t errcap);

typedef struct {
    unsigned pool; /* PostgreSQL: connections kept by this process; 0 for 8 */
} store_config;

store *store_open_config(const char *dsn, const store_config *cfg, char *err, size_t errcap);
void store_close(store *s);

const char *store_rc_name(store_rc rc);

#define store_org_create(s, ...) ((s)->ops->org_create((s), __VA_ARGS__))
#define store_org_exists(s, ...) ((s)->ops->org_exists((s), __VA_ARGS__))
#define store_apikey_create(s, ...) ((s)->ops->apikey_create((s), __VA_ARGS__))
#define store_apikey_get(s, ...) ((s)->ops->apikey_get((s), __VA_ARGS__))
#define store_customer_create(s, ...) ((s)->ops->customer_create((s), __VA_ARGS__))
#define store_customer_get(s, ...) ((s)->ops->customer_get((s), __VA_ARGS__))
#define store_entitlement_create(s, ...) ((s)->ops->entitlement_create((s), __VA_ARGS__))
#define store_entitlement_get(s, ...) ((s)->ops->entitlement_get((s), __VA_ARGS__))
#define store_grant_create(s, ...) ((s)->ops->grant_create((s), __VA_ARGS__))
#define store_grant_get(s, ...) ((s)->ops->grant_get((s), __VA_ARGS__))
#define store_grant_update(s, ...) ((s)->ops->grant_update((s), __VA_ARGS__))
#define store_grant_delete(s, ...) ((s)->ops->grant_delete((s), __VA_ARGS__))
#define store_grant_total(s, ...) ((s)->ops->grant_total((s), __VA_ARGS__))
#define store_entitlement_update(s, ...) ((s)->ops->entitlement_update((s), __VA_ARGS__))
#define store_entitlement_delete(s, ...) ((s)->ops->entitlement_delete((s), __VA_ARGS__))
#define store_customer_update(s, ...) ((s)->ops->customer_update((s), __VA_ARGS__))
#define store_customer_delete(s, ...) ((s)->ops->customer_delete((s), __VA_ARGS__))
#define store_list(s, ...) ((s)->ops->list((s), __VA_ARGS__))

#endif
