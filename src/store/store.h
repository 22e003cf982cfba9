/* store: the one interface between the API handlers and a database.
 *
 * A backend fills a `store_ops` table; handlers call the store_* wrappers
 * below and never see SQL. A write is one transaction of its own, or a
 * savepoint of the calling thread's held write (idem_begin to idem_finish),
 * which then commits it. On a thread that does not defer, a write outside
 * a held write, or the idem_finish that commits one, returns STORE_OK once
 * the change is durable. On a thread that defers (defer_begin), STORE_OK
 * only says the change is kept: it is durable when the deferred function
 * says so (the HTTP edge then releases the held answer), or lost when it
 * says that. The rules: docs/internals/store-transactions.md.
 * Every lookup is scoped by the caller's organisation: another
 * organisation's ids are simply not found.
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
    STORE_SHORT,     /* consume: the active rows hold less than asked (409) */
    STORE_DUPLICATE, /* a customer of the organisation has this email already (400) */
    STORE_ERROR,     /* anything else (500), logged by the backend */
    /* A write whose outcome is unknown (503): on SQLite its commit was
     * made but the sync that was to make it durable failed, so it may or
     * may not be on disk, and the store then refuses every later write
     * (STORE_HALTED); on PostgreSQL its COMMIT was sent and no answer came. */
    STORE_UNKNOWN,
    STORE_HALTED, /* writes refused since a failed sync; nothing changed (503) */
    STORE_FULL,   /* the database's disk (or file size limit) is full; nothing changed (507) */
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

typedef enum { LIST_ENTITLEMENTS, LIST_CUSTOMERS, LIST_GRANTS, LIST_UNIQUE, LIST_LEDGER } list_kind;
/* Arrays by list_kind are this long; kept the last kind + 1, apart from the
 * enum so that switches over it stay exhaustive. */
enum { LIST_KIND_COUNT = LIST_LEDGER + 1 };

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
/* as LIST_KIND_COUNT: the last op + 1 */
enum { LIST_OP_COUNT = LOP_LIKE + 1 };

/* LV_NUM: a double as a client sent it (a filter on a quantity, compared
 * exactly by store_sql.c); LV_DEC: a stored quantity (a cursor's position) */
typedef enum { LV_TEXT, LV_NUM, LV_TIME, LV_BOOL, LV_DEC } list_vtype;

typedef struct {
    list_vtype type;
    const char *s; /* LV_TEXT */
    size_t len;
    double n;  /* LV_NUM */
    int64_t t; /* LV_TIME */
    dec d;     /* LV_DEC */
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
    const char *sort;      /* a sortable field; "created_at" by default */
    bool desc;
    /* Read after this position (exclusive), in reading order. */
    bool has_after;
    bool after_null; /* the sort value there is null */
    list_value after;
    char after_id[ID_BUF];
    bool backward; /* read towards the start: the reverse of the sort */
    int limit;
    bool skip_total;             /* the caller knows the total (a cursor carries it) */
    int64_t now;                 /* LIST_UNIQUE: what "expired" is measured against */
    const char *unique_customer; /* LIST_UNIQUE: whose rows */
    /* LIST_CUSTOMERS: only customers whose name or external id contains
     * this text (as LOP_ILIKE matches), ranked before the sort: 0 when one
     * of them equals it (case-insensitively), 1 when one starts with it, 2
     * otherwise. NULL for none. A ranked position carries its rank too. */
    const char *rank_text;
    size_t rank_len;
    int after_rank;
} list_query;

/* A grant with what lists show of its entitlement and customer. */
typedef struct {
    model_grant g;
    char *ent_name, *ent_units, *ent_type, *product_id; /* model strings */
    char *cust_name, *cust_email;
} list_grant;

typedef struct {
    model_entitlement e;
    dec_sum total_quantity, total_quantity_used;
    int64_t expired;
} list_unique;

/* ---- the ledger --------------------------------------------------------------
 * Every change of a customer entitlement row appends one entry per row it
 * changes, in the transaction of the change; entries are never updated or
 * deleted. One change (a request) has one sequence number, per organisation,
 * gapless and in commit order; a consume that draws from three rows writes
 * three entries with that number, ordered by row id. */
/* The kinds of entry with their names (the ledger's `kind` column, the
 * API's "kind"), listed once: the enum, LEDGER_KIND_COUNT, ledger_kind_names[]
 * and the API's filter choices are made from this list. A new kind is added
 * here, to the migrations' CHECK and to tools/gen_openapi.py. */
#define LEDGER_KINDS(X)                                                                            \
    X(LEDGER_CREATE, "create")                                                                     \
    X(LEDGER_UPDATE, "update")                                                                     \
    X(LEDGER_CONSUME, "consume")                                                                   \
    X(LEDGER_DELETE, "delete")
#define LEDGER_KIND_ID(id, name) id,
#define LEDGER_KIND_ONE(id, name) +1
#define LEDGER_KIND_NAME(id, name) name,
typedef enum { LEDGER_KINDS(LEDGER_KIND_ID) } ledger_kind;
/* not an enumerator of ledger_kind, so that switches over it stay exhaustive */
enum { LEDGER_KIND_COUNT = 0 LEDGER_KINDS(LEDGER_KIND_ONE) };

extern const char *const ledger_kind_names[LEDGER_KIND_COUNT]; /* by ledger_kind */

#define REQUEST_ID_MAX 128
#define IDEM_KEY_MAX 255

typedef struct {
    char org[ID_BUF];
    int64_t seq;
    int64_t at; /* when the change was made */
    ledger_kind kind;
    char row[ID_BUF], entitlement[ID_BUF], customer[ID_BUF];
    /* Resulting values: for create, update and consume the row's values after
     * the change; for delete all four are null (the row is gone). Deltas are
     * after - before with null counted as 0 (create: before is 0; delete:
     * after is 0); a consume's quantity_used_delta is what it drew. All
     * exact decimals: before + delta == after. */
    dec quantity_delta, quantity_used_delta;
    opt_dec quantity, quantity_used;
    opt_time active_from, expiry_at;
    char request_id[REQUEST_ID_MAX + 1]; /* "" when none */
    char idem_key[IDEM_KEY_MAX + 1];     /* "" when none */
} ledger_entry;

/* Who asked for a change: recorded in its ledger entries. Either may be
 * NULL. */
typedef struct {
    const char *request_id;
    const char *idem_key;
} store_meta;

/* The balance of one customer and entitlement at an instant, over the rows
 * active then (active_from <= at < expiry_at, a null bound open). Null
 * quantity_used counts as 0. A row with a null quantity has no limit: then
 * `unlimited` is set and `remaining` means nothing. */
typedef struct {
    dec_sum quantity; /* sum over active rows with a quantity */
    dec_sum quantity_used;
    dec_sum remaining; /* sum of max(0, quantity - quantity_used) over those rows */
    bool unlimited;
    int64_t active_rows;
} store_balance;

typedef struct {
    char row[ID_BUF];
    dec drawn;
    opt_dec quantity;  /* the row's quantity (null: no limit) */
    dec quantity_used; /* after the draw */
} consume_draw;

/* The burn order: earliest expiry_at first (open-ended last), then earliest
 * active_from (null first), then oldest created_at, then id; rows without a
 * quantity (no limit) after all others. */
typedef struct {
    int64_t seq; /* the change's ledger sequence number */
    size_t ndraws;
    consume_draw *draws; /* heap, in burn order; consume_result_clear() */
    store_balance after; /* the active rows once drawn; on STORE_SHORT, before */
} consume_result;

void consume_result_clear(consume_result *r);

/* Shared by the backends, so both draw and sum alike. Add one active row to
 * a balance. */
void store_balance_add(store_balance *b, opt_dec quantity, opt_dec quantity_used);
/* Plan a consume of `quantity` over the active rows, given in burn order:
 * fills out->draws (rows that give something, at most n; the caller
 * allocates them) and out->after, and returns true; false when the rows hold
 * less, with out->after their balance as it is. The rows' quantity_used is
 * not changed. Exact: a draw that fits is made, none leaves a row's
 * quantity_used above its quantity, and a row without a limit takes at
 * most up to DEC_MAX in quantity_used (the range of a quantity). */
bool consume_plan(const model_grant *rows, size_t n, dec quantity, consume_result *out);
/* The burn order as a qsort() comparator of model_grant (PostgreSQL locks
 * rows by id and sorts them with it; SQLite's S_CONSUME_ROWS sorts alike). */
int consume_burn_cmp(const void *a, const void *b);

/* An idempotent request's stored answer. */
typedef struct {
    unsigned status;
    char *body; /* heap (free()), body_len bytes */
    size_t body_len;
    uint8_t fingerprint[32]; /* SHA-256 of method, path and body */
} store_idem;

typedef struct {
    size_t n;      /* rows read, at most limit (in reading order) */
    bool more;     /* another row follows in reading order */
    int64_t total; /* rows matching the filters, ignoring the position */
    model_entitlement *ents;
    model_customer *custs;
    list_grant *grants;
    list_unique *uniq;
    ledger_entry *entries;
    int *ranks; /* with list_query.rank_text: each row's rank */
} list_result;

void list_result_clear(list_result *r);
/* Allocate a page of q->limit (> 0) entries of q's kind, and its ranks when
 * q ranks: false when memory ran out (nothing is left allocated). */
bool list_result_alloc(const list_query *q, list_result *out);

/* The sort value of row i of a result, for cursors: false when null. */
bool list_sort_value(const list_result *r, size_t i, const char *sort, list_value *v,
                     const char **id);
/* The values list_sort_value() gives for sort `sort` of list `k`: their
 * type (LV_TEXT, LV_TIME or LV_DEC) and whether a row may have none (null),
 * so that a cursor can hold only those; false when the list has no such
 * sort. */
bool list_sort_type(list_kind k, const char *sort, list_vtype *type, bool *nullable);

typedef struct store_ops {
    const char *name;
    void (*close)(store *s);
    store_rc (*org_create)(store *s, const char *id, const char *name, int64_t now);
    store_rc (*org_exists)(store *s, const char *id);
    store_rc (*apikey_create)(store *s, const store_apikey *k);
    store_rc (*apikey_get)(store *s, const char *key_id, store_apikey *out);
    /* The organisation's keys in creation order (created_at, then id):
     * fn(cls, key) for each, false to stop (hash left zero: callers need
     * none). The caller checks that the organisation exists. */
    store_rc (*apikey_list)(store *s, const char *org, bool (*fn)(void *cls, const store_apikey *k),
                            void *cls);
    /* Revoke a key from `now` on: STORE_NOT_FOUND for an unknown id. A key
     * revoked already keeps its first revocation time and STORE_OK is
     * answered; `out` (may be NULL) is the key as stored afterwards (its
     * hash need not be filled), so out->revoked_at != now tells a repeat.
     * Takes effect on the very next
     * request (keys are read on every request, never cached). */
    store_rc (*apikey_revoke)(store *s, const char *key_id, int64_t now, store_apikey *out);
    store_rc (*customer_create)(store *s, const char *org, const model_customer *c);
    store_rc (*customer_get)(store *s, const char *org, const char *id, model_customer *out);
    store_rc (*entitlement_create)(store *s, const char *org, const model_entitlement *e);
    store_rc (*entitlement_get)(store *s, const char *org, const char *id, model_entitlement *out);
    /* grant_create, grant_update, grant_delete and consume append their
     * ledger entries in their transaction; `m` may be NULL. */
    store_rc (*grant_create)(store *s, const char *org, const model_grant *g, int64_t now,
                             const store_meta *m);
    store_rc (*grant_get)(store *s, const char *org, const char *ent, const char *cust,
                          const char *id, model_grant *out);
    store_rc (*grant_update)(store *s, const char *org, const char *ent, const char *cust,
                             const char *id, const model_grant_patch *p, int64_t now,
                             const store_meta *m, model_grant *out);
    store_rc (*grant_delete)(store *s, const char *org, const char *ent, const char *cust,
                             const char *id, int64_t now, const store_meta *m, model_grant *out);
    /* Sum of quantity over the pair's rows whose window overlaps [from, to);
     * has_from/has_to false leave that side open. */
    store_rc (*grant_total)(store *s, const char *org, const char *ent, const char *cust,
                            bool has_from, int64_t from, bool has_to, int64_t to, dec_sum *sum);
    /* Read, apply(ctx, row), write, in one transaction: no lost update
     * between two writers of one object. `out` is the row as written. */
    store_rc (*entitlement_update)(store *s, const char *org, const char *id,
                                   void (*apply)(void *ctx, model_entitlement *e), void *ctx,
                                   int64_t now, model_entitlement *out);
    /* STORE_CONFLICT while rows use it */
    store_rc (*entitlement_delete)(store *s, const char *org, const char *id,
                                   model_entitlement *out);
    store_rc (*customer_update)(store *s, const char *org, const char *id,
                                void (*apply)(void *ctx, model_customer *c), void *ctx, int64_t now,
                                model_customer *out);
    store_rc (*customer_delete)(store *s, const char *org, const char *id, model_customer *out);
    store_rc (*list)(store *s, const list_query *q, list_result *out);

    /* Draw `quantity` (> 0) from the pair's rows active at `at`, in burn
     * order, in one transaction that also appends the ledger entries (kind
     * consume, at = now). STORE_SHORT when the active rows hold less: nothing
     * changes and out->after is the balance they hold. The caller checks
     * that the entitlement and customer exist. */
    store_rc (*consume)(store *s, const char *org, const char *ent, const char *cust, dec quantity,
                        int64_t at, int64_t now, const store_meta *m, consume_result *out);
    /* The pair's balance at `at` from the ledger: for each of the pair's rows
     * its latest entry made at or before `at` (unless a delete), counted
     * when its recorded window contains `at`. */
    store_rc (*balance_at)(store *s, const char *org, const char *ent, const char *cust, int64_t at,
                           store_balance *out);

    /* Idempotency. idem_begin opens a transaction bound to the calling
     * thread and takes the key's lock (a second request with the key waits
     * here until the first has finished). If the key has an answer, the
     * transaction is closed, *found is true and `out` holds the answer.
     * Otherwise the transaction stays open: every store call this thread
     * makes until idem_finish runs inside it (each as a savepoint, so a
     * failed call undoes only itself), and idem_finish either stores
     * `answer` and commits it with everything done in between (durable as
     * any write is: see the top of this file), or (answer NULL) rolls all
     * of it back.
     * With key NULL (issue 7: api_write_begin(), a write without a key)
     * nothing is looked up or stored: idem_begin only opens the held
     * transaction, and idem_finish commits it (answer non-NULL) or rolls it
     * back, so the answer is built before the change is committed. */
    store_rc (*idem_begin)(store *s, const char *org, const char *key, bool *found,
                           store_idem *out);
    store_rc (*idem_finish)(store *s, const char *org, const char *key, const store_idem *answer,
                            const char *request_id, int64_t now);

    /* Deferred durability (optional: NULL when every write is durable as it
     * returns). defer_begin arms the calling thread: until defer_end, a
     * write that returns STORE_OK is kept but may not be on disk yet, and
     * no thread waits for it. defer_end returns true when such a write was
     * made; `fn(cls, rc)` is then called exactly once, from any thread (this
     * one too, even before defer_end), with STORE_OK once the write is
     * durable or with the error that lost it (nothing of it is kept).
     * defer_begin returns false, arming nothing, when memory ran out. */
    bool (*defer_begin)(store *s, void (*fn)(void *cls, store_rc rc), void *cls);
    bool (*defer_end)(store *s);

    /* A read transaction on the calling thread's connection (optional):
     * the reads until read_end see one snapshot. read_begin returns false
     * when it opened none. */
    bool (*read_begin)(store *s);
    void (*read_end)(store *s);
    /* Delete the keys stored before `before`; *deleted counts them. */
    store_rc (*idem_prune)(store *s, int64_t before, int64_t *deleted);

    /* For `entitled verify`: every ledger entry ordered by (org, row, seq),
     * and every row ordered by (org, id); fn returns false to stop early. */
    store_rc (*scan_ledger)(store *s, bool (*fn)(void *cls, const ledger_entry *e), void *cls);
    store_rc (*scan_rows)(store *s, bool (*fn)(void *cls, const char *org, const model_grant *g),
                          void *cls);
    /* The database's own consistency check, before verify trusts what it
     * reads (optional: PostgreSQL checksums its pages itself). STORE_ERROR
     * with the first complaint in `msg` when it fails. */
    store_rc (*integrity)(store *s, char *msg, size_t cap);
} store_ops;

struct store {
    const store_ops *ops;
};

typedef struct {
    unsigned pool; /* PostgreSQL: connections kept by this process; 0 for 8 */
} store_config;

/* Open the database named by `dsn`, creating or migrating its schema: a
 * postgresql:// (or postgres://) URI or a key=value conninfo (any '=')
 * means PostgreSQL, anything else is a SQLite file path. `cfg` may be NULL
 * (the defaults). On failure returns NULL with `err` filled. */
store *store_open_config(const char *dsn, const store_config *cfg, char *err, size_t errcap);
void store_close(store *s);

const char *store_rc_name(store_rc rc);

/* The error of a database whose schema a newer binary wrote (its version,
 * then this binary's): refused, since its rows may mean what this binary
 * does not know. */
#define STORE_SCHEMA_NEWER                                                                         \
    "the database's schema is version %lld, newer than this binary knows (version %zu): run "      \
    "the entitled that wrote it, or a newer one"

/* The key two customers' emails share when they are one: the address with
 * A-Z lowered, nothing else (SQLite's lower() and PostgreSQL's lower() on
 * COLLATE "C" text agree on exactly that, so migrations compute it in SQL).
 * The address is already normalised (a lower-case domain), so this compares
 * local parts case-insensitively in ASCII; other letters compare exactly.
 * malloc'd; NULL when memory ran out. */
char *store_email_key(const char *email);

/* ---- typed calls ---------------------------------------------------------------
 * One static inline function per entry of store_ops, so that a call site is
 * type-checked and a breakpoint can be set on it (Redis's connWrite() and
 * friends). What each does is said at its entry in store_ops above. */

/* organisations and keys */
static inline store_rc store_org_create(store *s, const char *id, const char *name, int64_t now) {
    return s->ops->org_create(s, id, name, now);
}
static inline store_rc store_org_exists(store *s, const char *id) {
    return s->ops->org_exists(s, id);
}
static inline store_rc store_apikey_create(store *s, const store_apikey *k) {
    return s->ops->apikey_create(s, k);
}
static inline store_rc store_apikey_get(store *s, const char *key_id, store_apikey *out) {
    return s->ops->apikey_get(s, key_id, out);
}
static inline store_rc store_apikey_list(store *s, const char *org,
                                         bool (*fn)(void *cls, const store_apikey *k), void *cls) {
    return s->ops->apikey_list(s, org, fn, cls);
}
static inline store_rc store_apikey_revoke(store *s, const char *key_id, int64_t now,
                                           store_apikey *out) {
    return s->ops->apikey_revoke(s, key_id, now, out);
}

/* customers and entitlements */
static inline store_rc store_customer_create(store *s, const char *org, const model_customer *c) {
    return s->ops->customer_create(s, org, c);
}
static inline store_rc store_customer_get(store *s, const char *org, const char *id,
                                          model_customer *out) {
    return s->ops->customer_get(s, org, id, out);
}
static inline store_rc store_customer_update(store *s, const char *org, const char *id,
                                             void (*apply)(void *ctx, model_customer *c), void *ctx,
                                             int64_t now, model_customer *out) {
    return s->ops->customer_update(s, org, id, apply, ctx, now, out);
}
static inline store_rc store_customer_delete(store *s, const char *org, const char *id,
                                             model_customer *out) {
    return s->ops->customer_delete(s, org, id, out);
}
static inline store_rc store_entitlement_create(store *s, const char *org,
                                                const model_entitlement *e) {
    return s->ops->entitlement_create(s, org, e);
}
static inline store_rc store_entitlement_get(store *s, const char *org, const char *id,
                                             model_entitlement *out) {
    return s->ops->entitlement_get(s, org, id, out);
}
static inline store_rc store_entitlement_update(store *s, const char *org, const char *id,
                                                void (*apply)(void *ctx, model_entitlement *e),
                                                void *ctx, int64_t now, model_entitlement *out) {
    return s->ops->entitlement_update(s, org, id, apply, ctx, now, out);
}
static inline store_rc store_entitlement_delete(store *s, const char *org, const char *id,
                                                model_entitlement *out) {
    return s->ops->entitlement_delete(s, org, id, out);
}

/* customer entitlement rows, consume and the balance */
static inline store_rc store_grant_create(store *s, const char *org, const model_grant *g,
                                          int64_t now, const store_meta *m) {
    return s->ops->grant_create(s, org, g, now, m);
}
static inline store_rc store_grant_get(store *s, const char *org, const char *ent, const char *cust,
                                       const char *id, model_grant *out) {
    return s->ops->grant_get(s, org, ent, cust, id, out);
}
static inline store_rc store_grant_update(store *s, const char *org, const char *ent,
                                          const char *cust, const char *id,
                                          const model_grant_patch *p, int64_t now,
                                          const store_meta *m, model_grant *out) {
    return s->ops->grant_update(s, org, ent, cust, id, p, now, m, out);
}
static inline store_rc store_grant_delete(store *s, const char *org, const char *ent,
                                          const char *cust, const char *id, int64_t now,
                                          const store_meta *m, model_grant *out) {
    return s->ops->grant_delete(s, org, ent, cust, id, now, m, out);
}
static inline store_rc store_grant_total(store *s, const char *org, const char *ent,
                                         const char *cust, bool has_from, int64_t from, bool has_to,
                                         int64_t to, dec_sum *sum) {
    return s->ops->grant_total(s, org, ent, cust, has_from, from, has_to, to, sum);
}
static inline store_rc store_consume(store *s, const char *org, const char *ent, const char *cust,
                                     dec quantity, int64_t at, int64_t now, const store_meta *m,
                                     consume_result *out) {
    return s->ops->consume(s, org, ent, cust, quantity, at, now, m, out);
}
static inline store_rc store_balance_at(store *s, const char *org, const char *ent,
                                        const char *cust, int64_t at, store_balance *out) {
    return s->ops->balance_at(s, org, ent, cust, at, out);
}

/* lists */
static inline store_rc store_list(store *s, const list_query *q, list_result *out) {
    return s->ops->list(s, q, out);
}

/* idempotency and the held write (docs/internals/store-transactions.md) */
static inline store_rc store_idem_begin(store *s, const char *org, const char *key, bool *found,
                                        store_idem *out) {
    return s->ops->idem_begin(s, org, key, found, out);
}
static inline store_rc store_idem_finish(store *s, const char *org, const char *key,
                                         const store_idem *answer, const char *request_id,
                                         int64_t now) {
    return s->ops->idem_finish(s, org, key, answer, request_id, now);
}
static inline store_rc store_idem_prune(store *s, int64_t before, int64_t *deleted) {
    return s->ops->idem_prune(s, before, deleted);
}

/* One read transaction around several reads (optional: false when none was
 * opened, and the reads run one by one; store_read_end() only after true). */
static inline bool store_read_begin(store *s) {
    return s->ops->read_begin ? s->ops->read_begin(s) : false;
}
static inline void store_read_end(store *s) {
    s->ops->read_end(s);
}

/* Deferred durability: false in a backend whose writes are durable when
 * they return (store_defer_begin/end must then not be called). */
static inline bool store_can_defer(const store *s) {
    return s->ops->defer_begin != NULL;
}
static inline bool store_defer_begin(store *s, void (*fn)(void *cls, store_rc rc), void *cls) {
    return s->ops->defer_begin(s, fn, cls);
}
static inline bool store_defer_end(store *s) {
    return s->ops->defer_end(s);
}

/* for `entitled verify` */
static inline store_rc store_scan_ledger(store *s, bool (*fn)(void *cls, const ledger_entry *e),
                                         void *cls) {
    return s->ops->scan_ledger(s, fn, cls);
}
static inline store_rc
store_scan_rows(store *s, bool (*fn)(void *cls, const char *org, const model_grant *g), void *cls) {
    return s->ops->scan_rows(s, fn, cls);
}
/* STORE_OK when the backend has no check of its own (PostgreSQL). */
static inline store_rc store_integrity(store *s, char *msg, size_t cap) {
    return s->ops->integrity ? s->ops->integrity(s, msg, cap) : STORE_OK;
}

#endif
