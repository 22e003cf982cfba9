/* store_sqlite: the store interface on SQLite.
 *
 * Connections: one per thread that uses the store (libmicrohttpd's pool
 * threads), opened on first use and registered so store close can finish
 * them. Each keeps its prepared statements.
 *
 * Writes: SQLite allows one writer at a time. Rather than let writer threads
 * collide on the file lock and spin in the busy handler, writers of this
 * process take `write_lock` first, so they queue in order and never see
 * SQLITE_BUSY from each other; busy_timeout still covers other processes (the
 * CLI creating a key while the server runs).
 *
 * Durability: journal_mode=WAL with synchronous=FULL syncs the WAL on every
 * commit, so a write answered 200 survives kill -9 and power loss. */
#include "store/store_sqlite.h"

#include "domain/dt.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_ORG_INSERT,
    S_ORG_EXISTS,
    S_KEY_INSERT,
    S_KEY_GET,
    S_CUST_INSERT,
    S_CUST_GET,
    S_ENT_INSERT,
    S_ENT_GET,
    S_GRANT_INSERT,
    S_GRANT_GET,
    S_GRANT_UPDATE,
    S_COUNT
};

#define GRANT_COLS                                                                                 \
    "id, entitlement_id, customer_id, active_from, expiry_at, quantity, quantity_used, "           \
    "contract_id, source_type, source_id, block_amount, invoice_id, event, numeric_value, "        \
    "feature_option_value, status, created_at, updated_at"

static const char *const SQL[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ORG_INSERT] = "INSERT INTO organisations(id, name, created_at) VALUES (?1, ?2, ?3)",
    [S_ORG_EXISTS] = "SELECT 1 FROM organisations WHERE id = ?1",
    [S_KEY_INSERT] = "INSERT INTO api_keys(id, org_id, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
    [S_KEY_GET] = "SELECT org_id, key_hash, created_at, revoked_at FROM api_keys WHERE id = ?1",
    [S_CUST_INSERT] =
        "INSERT INTO customers(id, org_id, customer_name, external_id, email, phone_number, "
        "business_entity_id, communications_enabled, auto_charge_enabled, custom_data, address, "
        "ship_to_address, tax_info, connector, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [S_CUST_GET] = "SELECT id, customer_name, external_id, email, phone_number, business_entity_id, "
                   "communications_enabled, auto_charge_enabled, custom_data, address, "
                   "ship_to_address, tax_info, connector, created_at, updated_at "
                   "FROM customers WHERE id = ?1 AND org_id = ?2",
    [S_ENT_INSERT] = "INSERT INTO entitlements(id, org_id, name, description, entitlement_type, "
                     "units, is_active, product_id, created_at, updated_at) "
                     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_ENT_GET] = "SELECT id, name, description, entitlement_type, units, is_active, product_id, "
                  "created_at, updated_at FROM entitlements WHERE id = ?1 AND org_id = ?2",
    [S_GRANT_INSERT] = "INSERT INTO customer_entitlements(org_id, " GRANT_COLS ") VALUES (?1, ?2, "
                       "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
                       "?19)",
    [S_GRANT_GET] = "SELECT " GRANT_COLS " FROM customer_entitlements "
                    "WHERE id = ?1 AND org_id = ?2 AND entitlement_id = ?3 AND customer_id = ?4",
    [S_GRANT_UPDATE] = "UPDATE customer_entitlements SET active_from = ?1, expiry_at = ?2, "
                       "quantity = ?3, quantity_used = ?4, updated_at = ?5 WHERE id = ?6",
};

/* Versioned migrations: entry i brings the schema to version i+1. Applied in
 * one IMMEDIATE transaction each, recorded in schema_migrations, so two
 * processes starting at once cannot both apply one. Never edit a released
 * entry: append a new one. */
static const char *const MIGRATIONS[] = {
    /* 1: organisations, keys, customers, entitlements, customer entitlements */
    "CREATE TABLE organisations("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE api_keys("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organisations(id),"
    "  key_hash BLOB NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER);"
    "CREATE INDEX api_keys_org ON api_keys(org_id);"
    "CREATE TABLE customers("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organisations(id),"
    "  customer_name TEXT NOT NULL, external_id TEXT, email TEXT, phone_number TEXT,"
    "  business_entity_id TEXT, communications_enabled INTEGER, auto_charge_enabled INTEGER,"
    "  custom_data TEXT NOT NULL DEFAULT '{}', address TEXT, ship_to_address TEXT, tax_info TEXT,"
    "  connector TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX customers_org_created ON customers(org_id, created_at, id);"
    "CREATE TABLE entitlements("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organisations(id),"
    "  name TEXT NOT NULL, description TEXT, entitlement_type TEXT, units TEXT,"
    "  is_active INTEGER, product_id TEXT, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX entitlements_org_created ON entitlements(org_id, created_at, id);"
    "CREATE TABLE customer_entitlements("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organisations(id),"
    "  entitlement_id TEXT NOT NULL REFERENCES entitlements(id),"
    "  customer_id TEXT NOT NULL REFERENCES customers(id),"
    "  active_from INTEGER, expiry_at INTEGER, quantity REAL, quantity_used REAL,"
    "  contract_id TEXT, source_type TEXT, source_id TEXT, block_amount REAL, invoice_id TEXT,"
    "  event TEXT, numeric_value REAL, feature_option_value TEXT, status TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  CHECK (quantity IS NULL OR quantity >= 0),"
    "  CHECK (quantity_used IS NULL OR quantity_used >= 0),"
    "  CHECK (active_from IS NULL OR expiry_at IS NULL OR active_from <= expiry_at));"
    "CREATE INDEX ce_org_customer ON customer_entitlements(org_id, customer_id, created_at, id);"
    "CREATE INDEX ce_org_entitlement ON customer_entitlements(org_id, entitlement_id, created_at,"
    "  id);",
};
#define N_MIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    struct conn *next;
} conn;

typedef struct {
    store base;
    char *path;
    pthread_mutex_t write_lock;
    pthread_mutex_t conns_lock;
    conn *conns;
    pthread_key_t tls; /* this thread's conn */
} sq_store;

static void log_db(sqlite3 *db, const char *what) {
    fprintf(stderr, "store_sqlite: %s: %s (%d)\n", what, db ? sqlite3_errmsg(db) : "no database",
            db ? sqlite3_extended_errcode(db) : 0);
}

static store_rc rc_of(int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return STORE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return STORE_BUSY;
    case SQLITE_CONSTRAINT: return STORE_CONFLICT;
    default: return STORE_ERROR;
    }
}

static int exec_all(sqlite3 *db, const char *sql) {
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "store_sqlite: %s\n", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

static sqlite3 *open_db(const char *path, char *err, size_t errcap) {
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    /* WAL: readers never block the writer; FULL: fsync at every commit. */
    if (exec_all(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") !=
        SQLITE_OK) {
        snprintf(err, errcap, "cannot configure %s: %s", path, sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int migrate(sqlite3 *db, char *err, size_t errcap) {
    if (exec_all(db, "CREATE TABLE IF NOT EXISTS schema_migrations("
                     "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)") != SQLITE_OK)
        goto fail;
    for (size_t v = 1; v <= N_MIGRATIONS; v++) {
        if (exec_all(db, "BEGIN IMMEDIATE") != SQLITE_OK) goto fail;
        sqlite3_stmt *q = NULL;
        int have = 0;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &q,
                               NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, (sqlite3_int64)v);
            have = sqlite3_step(q) == SQLITE_ROW;
        }
        sqlite3_finalize(q);
        if (!have) {
            char rec[128];
            snprintf(rec, sizeof rec, "INSERT INTO schema_migrations VALUES (%zu, %lld)", v,
                     (long long)dt_now());
            if (exec_all(db, MIGRATIONS[v - 1]) != SQLITE_OK || exec_all(db, rec) != SQLITE_OK) {
                exec_all(db, "ROLLBACK");
                goto fail;
            }
        }
        if (exec_all(db, "COMMIT") != SQLITE_OK) {
            exec_all(db, "ROLLBACK");
            goto fail;
        }
    }
    return 0;
fail:
    snprintf(err, errcap, "schema migration failed: %s", sqlite3_errmsg(db));
    return -1;
}

static void conn_free(conn *c) {
    if (!c) return;
    for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

/* This thread's connection, opened on first use. */
static conn *get_conn(sq_store *s) {
    conn *c = pthread_getspecific(s->tls);
    if (c) return c;
    char err[256];
    c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->db = open_db(s->path, err, sizeof err);
    if (!c->db) {
        fprintf(stderr, "store_sqlite: %s\n", err);
        free(c);
        return NULL;
    }
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(c->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &c->st[i], NULL) !=
            SQLITE_OK) {
            log_db(c->db, SQL[i]);
            conn_free(c);
            return NULL;
        }
    }
    pthread_mutex_lock(&s->conns_lock);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->conns_lock);
    pthread_setspecific(s->tls, c);
    return c;
}

/* A statement ready to bind: reset and cleared. */
static sqlite3_stmt *stmt(conn *c, enum stmt_id id) {
    sqlite3_stmt *st = c->st[id];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
}
static void bind_num(sqlite3_stmt *st, int i, opt_num v) {
    if (v.set) sqlite3_bind_double(st, i, v.v);
    else sqlite3_bind_null(st, i);
}
static void bind_time(sqlite3_stmt *st, int i, opt_time v) {
    if (v.set) sqlite3_bind_int64(st, i, v.v);
    else sqlite3_bind_null(st, i);
}
static void bind_bool(sqlite3_stmt *st, int i, opt_bool v) {
    if (v >= 0) sqlite3_bind_int(st, i, v);
    else sqlite3_bind_null(st, i);
}

/* Model strings with their length, NUL characters included. */
static void bind_mstr(sqlite3_stmt *st, int i, const char *v) {
    if (v) sqlite3_bind_text64(st, i, v, mstr_len(v), SQLITE_STATIC, SQLITE_UTF8);
    else sqlite3_bind_null(st, i);
}

/* Column readers; a failed allocation leaves NULL and sets *oom. */
static char *col_text(sqlite3_stmt *st, int i, int *oom) {
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *d = mstr_new((const char *)t, (size_t)sqlite3_column_bytes(st, i));
    if (!d) *oom = 1;
    return d;
}
static void col_id(sqlite3_stmt *st, int i, char *out) {
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, ID_BUF, "%s", t ? (const char *)t : "");
}
static opt_num col_num(sqlite3_stmt *st, int i) {
    opt_num v = {sqlite3_column_type(st, i) != SQLITE_NULL, 0};
    if (v.set) v.v = sqlite3_column_double(st, i);
    return v;
}
static opt_time col_time(sqlite3_stmt *st, int i) {
    opt_time v = {sqlite3_column_type(st, i) != SQLITE_NULL, 0};
    if (v.set) v.v = sqlite3_column_int64(st, i);
    return v;
}
static opt_bool col_bool(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int(st, i) != 0;
}

/* Run a one-statement write in its own transaction under the write lock. */
static store_rc write_one(sq_store *s, conn *c, sqlite3_stmt *st) {
    pthread_mutex_lock(&s->write_lock);
    int rc = sqlite3_step(st);
    store_rc out = rc == SQLITE_DONE ? STORE_OK : rc_of(rc);
    if (out != STORE_OK && out != STORE_CONFLICT) log_db(c->db, "write");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->write_lock);
    return out;
}

#define SQ(x) ((sq_store *)(x))
#define CONN_OR_FAIL(c, s)                                                                         \
    conn *c = get_conn(SQ(s));                                                                     \
    if (!c) return STORE_ERROR

static store_rc sq_org_create(store *s, const char *id, const char *name, int64_t now) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_ORG_INSERT);
    bind_text(st, 1, id);
    bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, now);
    return write_one(SQ(s), c, st);
}

static store_rc sq_org_exists(store *s, const char *id) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_ORG_EXISTS);
    bind_text(st, 1, id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
}

static store_rc sq_apikey_create(store *s, const store_apikey *k) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_KEY_INSERT);
    bind_text(st, 1, k->key_id);
    bind_text(st, 2, k->org);
    sqlite3_bind_blob(st, 3, k->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, k->created_at);
    return write_one(SQ(s), c, st);
}

static store_rc sq_apikey_get(store *s, const char *key_id, store_apikey *out) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_KEY_GET);
    bind_text(st, 1, key_id);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof(*out));
        snprintf(out->key_id, ID_BUF, "%s", key_id);
        col_id(st, 0, out->org);
        if (sqlite3_column_bytes(st, 1) == 32) memcpy(out->hash, sqlite3_column_blob(st, 1), 32);
        out->created_at = sqlite3_column_int64(st, 2);
        out->revoked_at = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    return r;
}

static store_rc sq_customer_create(store *s, const char *org, const model_customer *m) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_CUST_INSERT);
    bind_text(st, 1, m->id);
    bind_text(st, 2, org);
    bind_mstr(st, 3, m->customer_name);
    bind_mstr(st, 4, m->external_id);
    bind_mstr(st, 5, m->email);
    bind_mstr(st, 6, m->phone_number);
    bind_mstr(st, 7, m->business_entity_id);
    bind_bool(st, 8, m->communications_enabled);
    bind_bool(st, 9, m->auto_charge_enabled);
    if (m->custom_data) bind_mstr(st, 10, m->custom_data);
    else bind_text(st, 10, "{}");
    bind_mstr(st, 11, m->address);
    bind_mstr(st, 12, m->ship_to_address);
    bind_mstr(st, 13, m->tax_info);
    bind_mstr(st, 14, m->connector);
    sqlite3_bind_int64(st, 15, m->created_at);
    sqlite3_bind_int64(st, 16, m->updated_at);
    return write_one(SQ(s), c, st);
}

static store_rc sq_customer_get(store *s, const char *org, const char *id, model_customer *m) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_CUST_GET);
    bind_text(st, 1, id);
    bind_text(st, 2, org);
    int rc = sqlite3_step(st), oom = 0;
    store_rc r = rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
    if (rc == SQLITE_ROW) {
        memset(m, 0, sizeof(*m));
        col_id(st, 0, m->id);
        m->customer_name = col_text(st, 1, &oom);
        m->external_id = col_text(st, 2, &oom);
        m->email = col_text(st, 3, &oom);
        m->phone_number = col_text(st, 4, &oom);
        m->business_entity_id = col_text(st, 5, &oom);
        m->communications_enabled = col_bool(st, 6);
        m->auto_charge_enabled = col_bool(st, 7);
        m->custom_data = col_text(st, 8, &oom);
        m->address = col_text(st, 9, &oom);
        m->ship_to_address = col_text(st, 10, &oom);
        m->tax_info = col_text(st, 11, &oom);
        m->connector = col_text(st, 12, &oom);
        m->created_at = sqlite3_column_int64(st, 13);
        m->updated_at = sqlite3_column_int64(st, 14);
        if (oom) {
            model_customer_clear(m);
            r = STORE_ERROR;
        }
    }
    sqlite3_reset(st);
    return r;
}

static store_rc sq_entitlement_create(store *s, const char *org, const model_entitlement *e) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_ENT_INSERT);
    bind_text(st, 1, e->id);
    bind_text(st, 2, org);
    bind_mstr(st, 3, e->name);
    bind_mstr(st, 4, e->description);
    bind_mstr(st, 5, e->entitlement_type);
    bind_mstr(st, 6, e->units);
    bind_bool(st, 7, e->is_active);
    bind_mstr(st, 8, e->product_id);
    sqlite3_bind_int64(st, 9, e->created_at);
    sqlite3_bind_int64(st, 10, e->updated_at);
    return write_one(SQ(s), c, st);
}

static store_rc sq_entitlement_get(store *s, const char *org, const char *id,
                                   model_entitlement *e) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_ENT_GET);
    bind_text(st, 1, id);
    bind_text(st, 2, org);
    int rc = sqlite3_step(st), oom = 0;
    store_rc r = rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
    if (rc == SQLITE_ROW) {
        memset(e, 0, sizeof(*e));
        col_id(st, 0, e->id);
        e->name = col_text(st, 1, &oom);
        e->description = col_text(st, 2, &oom);
        e->entitlement_type = col_text(st, 3, &oom);
        e->units = col_text(st, 4, &oom);
        e->is_active = col_bool(st, 5);
        e->product_id = col_text(st, 6, &oom);
        e->created_at = sqlite3_column_int64(st, 7);
        e->updated_at = sqlite3_column_int64(st, 8);
        if (oom) {
            model_entitlement_clear(e);
            r = STORE_ERROR;
        }
    }
    sqlite3_reset(st);
    return r;
}

/* Read a row selected with GRANT_COLS starting at column 0. */
static int read_grant(sqlite3_stmt *st, model_grant *g) {
    int oom = 0;
    memset(g, 0, sizeof(*g));
    col_id(st, 0, g->id);
    col_id(st, 1, g->entitlement);
    col_id(st, 2, g->customer);
    g->active_from = col_time(st, 3);
    g->expiry_at = col_time(st, 4);
    g->quantity = col_num(st, 5);
    g->quantity_used = col_num(st, 6);
    g->contract_id = col_text(st, 7, &oom);
    g->source_type = col_text(st, 8, &oom);
    g->source_id = col_text(st, 9, &oom);
    g->block_amount = col_num(st, 10);
    g->invoice_id = col_text(st, 11, &oom);
    g->event = col_text(st, 12, &oom);
    g->numeric_value = col_num(st, 13);
    g->feature_option_value = col_text(st, 14, &oom);
    g->status = col_text(st, 15, &oom);
    g->created_at = sqlite3_column_int64(st, 16);
    g->updated_at = sqlite3_column_int64(st, 17);
    if (oom) model_grant_clear(g);
    return oom ? -1 : 0;
}

static store_rc sq_grant_create(store *s, const char *org, const model_grant *g) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_GRANT_INSERT);
    bind_text(st, 1, org);
    bind_text(st, 2, g->id);
    bind_text(st, 3, g->entitlement);
    bind_text(st, 4, g->customer);
    bind_time(st, 5, g->active_from);
    bind_time(st, 6, g->expiry_at);
    bind_num(st, 7, g->quantity);
    bind_num(st, 8, g->quantity_used);
    bind_mstr(st, 9, g->contract_id);
    bind_mstr(st, 10, g->source_type);
    bind_mstr(st, 11, g->source_id);
    bind_num(st, 12, g->block_amount);
    bind_mstr(st, 13, g->invoice_id);
    bind_mstr(st, 14, g->event);
    bind_num(st, 15, g->numeric_value);
    bind_mstr(st, 16, g->feature_option_value);
    bind_mstr(st, 17, g->status);
    sqlite3_bind_int64(st, 18, g->created_at);
    sqlite3_bind_int64(st, 19, g->updated_at);
    store_rc r = write_one(SQ(s), c, st);
    /* A foreign key failure means the entitlement or customer vanished
     * between the handler's check and this insert. */
    if (r == STORE_CONFLICT &&
        sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        r = STORE_NOT_FOUND;
    return r;
}

static store_rc grant_select(conn *c, const char *org, const char *ent, const char *cust,
                             const char *id, model_grant *out) {
    sqlite3_stmt *st = stmt(c, S_GRANT_GET);
    bind_text(st, 1, id);
    bind_text(st, 2, org);
    bind_text(st, 3, ent);
    bind_text(st, 4, cust);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
    if (rc == SQLITE_ROW && read_grant(st, out) != 0) r = STORE_ERROR;
    sqlite3_reset(st);
    return r;
}

static store_rc sq_grant_get(store *s, const char *org, const char *ent, const char *cust,
                             const char *id, model_grant *out) {
    CONN_OR_FAIL(c, s);
    return grant_select(c, org, ent, cust, id, out);
}

/* PATCH: read, merge, check, write and commit in one IMMEDIATE transaction,
 * so two writers of one row are serialised and neither's change is lost
 * halfway. */
static store_rc sq_grant_update(store *s, const char *org, const char *ent, const char *cust,
                                const char *id, const model_grant_patch *p, int64_t now,
                                model_grant *out) {
    memset(out, 0, sizeof(*out)); /* so every exit may clear it */
    CONN_OR_FAIL(c, s);
    sq_store *q = SQ(s);
    store_rc r;
    pthread_mutex_lock(&q->write_lock);
    int rc = sqlite3_step(stmt(c, S_BEGIN));
    sqlite3_reset(c->st[S_BEGIN]);
    if (rc != SQLITE_DONE) {
        log_db(c->db, "begin");
        pthread_mutex_unlock(&q->write_lock);
        return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
    }
    r = grant_select(c, org, ent, cust, id, out);
    if (r != STORE_OK) goto rollback;
    model_grant_apply(out, p);
    if (!model_grant_window_ok(out)) {
        r = STORE_WINDOW;
        goto rollback;
    }
    out->updated_at = now;
    sqlite3_stmt *st = stmt(c, S_GRANT_UPDATE);
    bind_time(st, 1, out->active_from);
    bind_time(st, 2, out->expiry_at);
    bind_num(st, 3, out->quantity);
    bind_num(st, 4, out->quantity_used);
    sqlite3_bind_int64(st, 5, now);
    bind_text(st, 6, out->id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_db(c->db, "update");
        r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
        goto rollback;
    }
    rc = sqlite3_step(stmt(c, S_COMMIT));
    sqlite3_reset(c->st[S_COMMIT]);
    if (rc != SQLITE_DONE) {
        log_db(c->db, "commit");
        r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
        goto rollback;
    }
    pthread_mutex_unlock(&q->write_lock);
    return STORE_OK;
rollback:
    if (!sqlite3_get_autocommit(c->db)) {
        sqlite3_step(stmt(c, S_ROLLBACK));
        sqlite3_reset(c->st[S_ROLLBACK]);
    }
    pthread_mutex_unlock(&q->write_lock);
    if (r != STORE_OK) model_grant_clear(out);
    return r;
}

static void sq_close(store *base) {
    sq_store *s = SQ(base);
    conn *c = s->conns;
    while (c) {
        conn *n = c->next;
        conn_free(c);
        c = n;
    }
    pthread_key_delete(s->tls);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->conns_lock);
    free(s->path);
    free(s);
}

static const store_ops SQLITE_OPS = {
    .name = "sqlite",
    .close = sq_close,
    .org_create = sq_org_create,
    .org_exists = sq_org_exists,
    .apikey_create = sq_apikey_create,
    .apikey_get = sq_apikey_get,
    .customer_create = sq_customer_create,
    .customer_get = sq_customer_get,
    .entitlement_create = sq_entitlement_create,
    .entitlement_get = sq_entitlement_get,
    .grant_create = sq_grant_create,
    .grant_get = sq_grant_get,
    .grant_update = sq_grant_update,
};

store *store_sqlite_open(const char *path, char *err, size_t errcap) {
    if (sqlite3_threadsafe() == 0) {
        snprintf(err, errcap, "the SQLite library was built without thread support");
        return NULL;
    }
    sqlite3 *db = open_db(path, err, errcap);
    if (!db) return NULL;
    if (migrate(db, err, errcap) != 0) {
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_close(db);
    sq_store *s = calloc(1, sizeof(*s));
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->base.ops = &SQLITE_OPS;
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->conns_lock, NULL);
    pthread_key_create(&s->tls, NULL);
    return &s->base;
}
