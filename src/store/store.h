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
} store_ops;

struct store {
    const store_ops *ops;
};

/* Open the database named by `dsn` (a file path means SQLite), creating or
 * migrating its schema. On failure returns NULL with `err` filled. */
store *store_open(const char *dsn, char *err, size_t errcap);
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

#endif
