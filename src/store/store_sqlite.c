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
 * Group commit, in two steps (the "durability" section below):
 * - Batches: writers share one open transaction. Each runs its change as a
 *   savepoint inside it (undone alone when it fails), and one COMMIT covers
 *   them all. Pages every change touches (the ledger's last page, index
 *   interior pages) are then written to the WAL once per batch, not once per
 *   change.
 * - One fsync for many commits: journal_mode=WAL with synchronous=NORMAL, so
 *   a COMMIT writes its frames to the WAL without syncing, and the syncer
 *   thread fdatasyncs the WAL once for every commit made before its sync.
 * A write is acknowledged only after both, its batch committed and the WAL
 * synced, so a 200 survives kill -9 and power loss. The writer's thread
 * either waits for that or (store_defer_begin) hands the wait over to a
 * callback, so that the HTTP edge parks a connection, not a thread. */
#include "store/store_sqlite.h"

#include "store/store_sql.h"

#include "domain/dt.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <wctype.h>

/* ---- fault injection (issue 7; test builds only) ------------------------------
 * With ENTITLED_FAULTS every sqlite3_step() below goes through
 * fault_sqlite_step(): while a store fault is armed on this thread (X-Fault:
 * store:N[:ioerr|full|busy], util/fault.h), its Nth step returns the fault's
 * code instead of stepping, the statement untouched, as a failed step would
 * leave it. A production build has none of this. */
#ifdef ENTITLED_FAULTS
#include "util/fault.h"
static int fault_sqlite_step(sqlite3_stmt *st) {
    switch (fault_store_call()) {
    case FAULT_IOERR:
        return SQLITE_IOERR;
    case FAULT_FULL:
        return SQLITE_FULL;
    case FAULT_BUSY:
        return SQLITE_BUSY;
    case FAULT_NONE:
        break;
    }
    return sqlite3_step(st);
}
#define sqlite3_step(st) fault_sqlite_step(st)
#endif
/* ---- end of fault injection ---------------------------------------------------- */

enum stmt_id {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_ORG_INSERT,
    S_ORG_EXISTS,
    S_KEY_INSERT,
    S_KEY_GET,
    S_KEY_LIST,
    S_KEY_REVOKE,
    S_CUST_INSERT,
    S_CUST_GET,
    S_ENT_INSERT,
    S_ENT_GET,
    S_GRANT_INSERT,
    S_GRANT_GET,
    S_GRANT_DELETE,
    S_GRANT_TOTAL,
    S_ENT_UPDATE,
    S_ENT_DELETE,
    S_ENT_IN_USE,
    S_CUST_UPDATE,
    S_CUST_DELETE,
    S_CUST_IN_USE,
    S_SAVEPOINT,
    S_RELEASE,
    S_ROLLBACK_TO,
    S_MEMBER_SAVEPOINT,
    S_MEMBER_RELEASE,
    S_MEMBER_ROLLBACK_TO,
    S_READ_BEGIN,
    S_LEDGER_NEXT,
    S_LEDGER_INSERT,
    S_CONSUME_ROWS,
    S_CONSUME_UPDATE,
    S_BALANCE,
    S_IDEM_GET,
    S_IDEM_INSERT,
    S_IDEM_PRUNE,
    S_COUNT
};

#define GRANT_NCOLS 18
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
    [S_KEY_INSERT] =
        "INSERT INTO api_keys(id, org_id, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
    [S_KEY_GET] = "SELECT org_id, key_hash, created_at, revoked_at FROM api_keys WHERE id = ?1",
    [S_KEY_LIST] = "SELECT id, created_at, revoked_at FROM api_keys WHERE org_id = ?1 "
                   "ORDER BY created_at, id",
    /* the first revocation time is kept */
    [S_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
    [S_CUST_INSERT] =
        "INSERT INTO customers(id, org_id, customer_name, external_id, email, phone_number, "
        "business_entity_id, communications_enabled, auto_charge_enabled, custom_data, address, "
        "ship_to_address, tax_info, connector, created_at, updated_at, email_key) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [S_CUST_GET] =
        "SELECT id, customer_name, external_id, email, phone_number, business_entity_id, "
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
    [S_GRANT_DELETE] = "DELETE FROM customer_entitlements WHERE id = ?1",
    /* windows [active_from, expiry_at) overlapping [?4, ?5), a null bound open */
    [S_GRANT_TOTAL] = "SELECT dec_sum(quantity) FROM customer_entitlements "
                      "WHERE org_id = ?1 AND entitlement_id = ?2 AND customer_id = ?3 "
                      "AND (?4 IS NULL OR expiry_at IS NULL OR expiry_at > ?4) "
                      "AND (?5 IS NULL OR active_from IS NULL OR active_from < ?5) "
                      /* an empty window, or an empty range, overlaps nothing */
                      "AND (active_from IS NULL OR expiry_at IS NULL OR active_from < expiry_at) "
                      "AND (?4 IS NULL OR ?5 IS NULL OR ?4 < ?5)",
    [S_ENT_UPDATE] = "UPDATE entitlements SET name = ?3, description = ?4, entitlement_type = ?5, "
                     "units = ?6, is_active = ?7, product_id = ?8, updated_at = ?9 "
                     "WHERE id = ?1 AND org_id = ?2",
    [S_ENT_DELETE] = "DELETE FROM entitlements WHERE id = ?1 AND org_id = ?2",
    [S_ENT_IN_USE] =
        "SELECT 1 FROM customer_entitlements WHERE org_id = ?2 AND entitlement_id = ?1 "
        "LIMIT 1",
    [S_CUST_UPDATE] = "UPDATE customers SET customer_name = ?3, external_id = ?4, email = ?5, "
                      "phone_number = ?6, business_entity_id = ?7, communications_enabled = ?8, "
                      "auto_charge_enabled = ?9, custom_data = ?10, address = ?11, "
                      "ship_to_address = ?12, tax_info = ?13, connector = ?14, updated_at = ?15, "
                      /* a key is made when the email changes (see migration 5) */
                      "email_key = CASE WHEN email IS ?5 THEN email_key ELSE ?16 END "
                      "WHERE id = ?1 AND org_id = ?2",
    [S_CUST_DELETE] = "DELETE FROM customers WHERE id = ?1 AND org_id = ?2",
    [S_CUST_IN_USE] = "SELECT 1 FROM customer_entitlements WHERE org_id = ?2 AND customer_id = ?1 "
                      "LIMIT 1",
    [S_SAVEPOINT] = "SAVEPOINT op",
    [S_RELEASE] = "RELEASE op",
    [S_ROLLBACK_TO] = "ROLLBACK TO op",
    [S_MEMBER_SAVEPOINT] = "SAVEPOINT member",
    [S_MEMBER_RELEASE] = "RELEASE member",
    [S_MEMBER_ROLLBACK_TO] = "ROLLBACK TO member",
    [S_READ_BEGIN] = "BEGIN",
    /* writers are serialised (write_lock), so MAX + 1 is gapless and in
     * commit order; the primary key (org_id, seq, row_id) serves it */
    [S_LEDGER_NEXT] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger WHERE org_id = ?1",
    [S_LEDGER_INSERT] =
        "INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id, "
        "quantity_delta, quantity_used_delta, quantity, quantity_used, active_from, expiry_at, "
        "request_id, idempotency_key) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    /* the pair's rows active at ?4, in burn order (NULLs sort first in
     * SQLite, hence the IS NULL terms) */
    [S_CONSUME_ROWS] = "SELECT " GRANT_COLS " FROM customer_entitlements "
                       "WHERE org_id = ?1 AND entitlement_id = ?2 AND customer_id = ?3 "
                       "AND (active_from IS NULL OR active_from <= ?4) "
                       "AND (expiry_at IS NULL OR ?4 < expiry_at) "
                       "ORDER BY quantity IS NULL, expiry_at IS NULL, expiry_at, active_from, "
                       "created_at, id",
    [S_CONSUME_UPDATE] = "UPDATE customer_entitlements SET quantity_used = ?1, updated_at = ?2 "
                         "WHERE id = ?3",
    /* each of the pair's rows (its create entry) with its latest entry made
     * at or before ?4 */
    [S_BALANCE] = "SELECT l.kind, l.quantity, l.quantity_used, l.active_from, l.expiry_at "
                  "FROM ledger c JOIN ledger l ON l.org_id = c.org_id AND l.row_id = c.row_id "
                  "AND l.seq = (SELECT x.seq FROM ledger x WHERE x.org_id = c.org_id "
                  "AND x.row_id = c.row_id AND x.at <= ?4 ORDER BY x.seq DESC LIMIT 1) "
                  "WHERE c.org_id = ?1 AND c.entitlement_id = ?2 AND c.customer_id = ?3 "
                  "AND c.kind = 'create' ORDER BY c.row_id",
    [S_IDEM_GET] = "SELECT status, body, fingerprint FROM idempotency_keys "
                   "WHERE org_id = ?1 AND key = ?2",
    [S_IDEM_INSERT] = "INSERT INTO idempotency_keys(org_id, key, fingerprint, status, body, "
                      "request_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_IDEM_PRUNE] = "DELETE FROM idempotency_keys WHERE created_at < ?1",
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
    /* 2: every sort of the balances list is read from an index */
    "CREATE INDEX ce_org_created ON customer_entitlements(org_id, created_at, id);"
    "CREATE INDEX ce_org_quantity ON customer_entitlements(org_id, quantity, id);"
    "CREATE INDEX ce_org_quantity_used ON customer_entitlements(org_id, quantity_used, id);"
    "CREATE INDEX ce_org_active_from ON customer_entitlements(org_id, active_from, id);"
    "CREATE INDEX ce_org_expiry_at ON customer_entitlements(org_id, expiry_at, id);"
    "CREATE INDEX customers_org_name ON customers(org_id, customer_name, id);"
    "CREATE INDEX entitlements_org_name ON entitlements(org_id, name, id);",
    /* 3: the sorts of a list filtered by entitlement or customer (the
     * balances list, a customer's rows) are read from an index too, so such
     * a page costs the same at any depth. Not quantity_used: every PATCH and
     * consumption changes it, and two more indexes on it cost durable PATCH
     * 3,219 -> 1,868 req/s (bench/run.sh); that sort of a filtered list
     * sorts the filter's rows instead. */
    "CREATE INDEX ce_ent_id ON customer_entitlements(org_id, entitlement_id, id);"
    "CREATE INDEX ce_ent_quantity ON customer_entitlements(org_id, entitlement_id, quantity, id);"
    "CREATE INDEX ce_ent_active_from ON customer_entitlements(org_id, entitlement_id, active_from, "
    "id);"
    "CREATE INDEX ce_ent_expiry_at ON customer_entitlements(org_id, entitlement_id, expiry_at, id);"
    "CREATE INDEX ce_cust_id ON customer_entitlements(org_id, customer_id, id);"
    "CREATE INDEX ce_cust_quantity ON customer_entitlements(org_id, customer_id, quantity, id);"
    "CREATE INDEX ce_cust_active_from ON customer_entitlements(org_id, customer_id, active_from, "
    "id);"
    "CREATE INDEX ce_cust_expiry_at ON customer_entitlements(org_id, customer_id, expiry_at, id);",
    /* 4: the ledger (append-only: triggers refuse UPDATE and DELETE) and the
     * idempotency keys. Rows made before it get one create entry each, at
     * their created_at, numbered per organisation in creation order. */
    "CREATE TABLE ledger("
    "  org_id TEXT NOT NULL, seq INTEGER NOT NULL, row_id TEXT NOT NULL, at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'consume', 'delete')),"
    "  entitlement_id TEXT NOT NULL, customer_id TEXT NOT NULL,"
    "  quantity_delta REAL NOT NULL, quantity_used_delta REAL NOT NULL,"
    "  quantity REAL, quantity_used REAL, active_from INTEGER, expiry_at INTEGER,"
    "  request_id TEXT, idempotency_key TEXT,"
    "  PRIMARY KEY (org_id, seq, row_id)) WITHOUT ROWID;"
    "CREATE INDEX ledger_row ON ledger(org_id, row_id, seq, at);"
    "CREATE INDEX ledger_customer ON ledger(org_id, customer_id, seq, row_id);"
    "CREATE INDEX ledger_pair_rows ON ledger(org_id, entitlement_id, customer_id, row_id)"
    "  WHERE kind = 'create';"
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger"
    "  BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;"
    "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger"
    "  BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;"
    "INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id,"
    "  quantity_delta, quantity_used_delta, quantity, quantity_used, active_from, expiry_at)"
    "  SELECT org_id, ROW_NUMBER() OVER (PARTITION BY org_id ORDER BY created_at, id), id,"
    "  created_at, 'create', entitlement_id, customer_id, COALESCE(quantity, 0),"
    "  COALESCE(quantity_used, 0), quantity, quantity_used, active_from, expiry_at"
    "  FROM customer_entitlements;"
    "CREATE TABLE idempotency_keys("
    "  org_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint BLOB NOT NULL,"
    "  status INTEGER NOT NULL, body BLOB NOT NULL, request_id TEXT,"
    "  created_at INTEGER NOT NULL, PRIMARY KEY (org_id, key)) WITHOUT ROWID;"
    "CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);",
    /* 5: a customer's email is unique in its organisation, compared with
     * A-Z lowered (email_key(), which lower() here and PostgreSQL's lower()
     * on COLLATE "C" text compute alike). Where customers made before
     * already share an email, the oldest (created_at, id) gets the key and
     * the others keep their email without one: nothing is lost, and a new
     * customer or a changed email cannot take it again. */
    "ALTER TABLE customers ADD COLUMN email_key TEXT;"
    "UPDATE customers SET email_key = lower(email) WHERE id IN ("
    "  SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY org_id, lower(email)"
    "    ORDER BY created_at, id) AS k FROM customers WHERE email IS NOT NULL) AS t"
    "  WHERE k = 1);"
    "CREATE UNIQUE INDEX customers_org_email ON customers(org_id, email_key);",
    /* 6: quantities are exact decimals (issue 13), INTEGER millionths
     * (dec.h), no longer REAL: both tables are rebuilt (SQLite cannot change
     * a column's type), each REAL read as the decimal of its shortest text
     * rounded to 6 places (dec_of_real; a value of 10^12 or more fails the
     * migration), and their indexes and triggers made again as 1-4 made
     * them. CHECK bounds the range, so no path stores what dec.h cannot
     * read. */
    "CREATE TABLE ce_new("
    "  id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organisations(id),"
    "  entitlement_id TEXT NOT NULL REFERENCES entitlements(id),"
    "  customer_id TEXT NOT NULL REFERENCES customers(id),"
    "  active_from INTEGER, expiry_at INTEGER, quantity INTEGER, quantity_used INTEGER,"
    "  contract_id TEXT, source_type TEXT, source_id TEXT, block_amount REAL, invoice_id TEXT,"
    "  event TEXT, numeric_value REAL, feature_option_value TEXT, status TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    "  CHECK (quantity IS NULL OR quantity BETWEEN 0 AND 999999999999999999),"
    "  CHECK (quantity_used IS NULL OR quantity_used BETWEEN 0 AND 999999999999999999),"
    "  CHECK (active_from IS NULL OR expiry_at IS NULL OR active_from <= expiry_at));"
    "INSERT INTO ce_new SELECT id, org_id, entitlement_id, customer_id, active_from, expiry_at,"
    "  dec_of_real(quantity), dec_of_real(quantity_used), contract_id, source_type, source_id,"
    "  block_amount, invoice_id, event, numeric_value, feature_option_value, status, created_at,"
    "  updated_at FROM customer_entitlements;"
    "DROP TABLE customer_entitlements;"
    "ALTER TABLE ce_new RENAME TO customer_entitlements;"
    "CREATE INDEX ce_org_customer ON customer_entitlements(org_id, customer_id, created_at, id);"
    "CREATE INDEX ce_org_entitlement ON customer_entitlements(org_id, entitlement_id, created_at,"
    "  id);"
    "CREATE INDEX ce_org_created ON customer_entitlements(org_id, created_at, id);"
    "CREATE INDEX ce_org_quantity ON customer_entitlements(org_id, quantity, id);"
    "CREATE INDEX ce_org_quantity_used ON customer_entitlements(org_id, quantity_used, id);"
    "CREATE INDEX ce_org_active_from ON customer_entitlements(org_id, active_from, id);"
    "CREATE INDEX ce_org_expiry_at ON customer_entitlements(org_id, expiry_at, id);"
    "CREATE INDEX ce_ent_id ON customer_entitlements(org_id, entitlement_id, id);"
    "CREATE INDEX ce_ent_quantity ON customer_entitlements(org_id, entitlement_id, quantity, id);"
    "CREATE INDEX ce_ent_active_from ON customer_entitlements(org_id, entitlement_id, active_from, "
    "id);"
    "CREATE INDEX ce_ent_expiry_at ON customer_entitlements(org_id, entitlement_id, expiry_at, id);"
    "CREATE INDEX ce_cust_id ON customer_entitlements(org_id, customer_id, id);"
    "CREATE INDEX ce_cust_quantity ON customer_entitlements(org_id, customer_id, quantity, id);"
    "CREATE INDEX ce_cust_active_from ON customer_entitlements(org_id, customer_id, active_from, "
    "id);"
    "CREATE INDEX ce_cust_expiry_at ON customer_entitlements(org_id, customer_id, expiry_at, id);"
    "CREATE TABLE ledger_new("
    "  org_id TEXT NOT NULL, seq INTEGER NOT NULL, row_id TEXT NOT NULL, at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind IN ('create', 'update', 'consume', 'delete')),"
    "  entitlement_id TEXT NOT NULL, customer_id TEXT NOT NULL,"
    "  quantity_delta INTEGER NOT NULL, quantity_used_delta INTEGER NOT NULL,"
    "  quantity INTEGER, quantity_used INTEGER, active_from INTEGER, expiry_at INTEGER,"
    "  request_id TEXT, idempotency_key TEXT,"
    "  PRIMARY KEY (org_id, seq, row_id)) WITHOUT ROWID;"
    "INSERT INTO ledger_new SELECT org_id, seq, row_id, at, kind, entitlement_id, customer_id,"
    "  dec_of_real(quantity_delta), dec_of_real(quantity_used_delta), dec_of_real(quantity),"
    "  dec_of_real(quantity_used), active_from, expiry_at, request_id, idempotency_key FROM ledger;"
    "DROP TRIGGER ledger_no_update;"
    "DROP TRIGGER ledger_no_delete;"
    "DROP TABLE ledger;"
    "ALTER TABLE ledger_new RENAME TO ledger;"
    "CREATE INDEX ledger_row ON ledger(org_id, row_id, seq, at);"
    "CREATE INDEX ledger_customer ON ledger(org_id, customer_id, seq, row_id);"
    "CREATE INDEX ledger_pair_rows ON ledger(org_id, entitlement_id, customer_id, row_id)"
    "  WHERE kind = 'create';"
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger"
    "  BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;"
    "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger"
    "  BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;",
};
#define N_MIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    sqlite3_stmt *grant_update[16]; /* by the mask of changed columns, made on first use */
    struct conn *next;
} conn;

typedef struct {
    store base;
    char *path;
    /* group commit (the durability section) */
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cv;
    pthread_cond_t work_cv; /* with sync_lock: the syncer has members to sync, or stops */
    struct member *to_sync; /* committed members for the next sync */
    bool stop;
    pthread_t syncer;
    bool syncer_running;
    uint64_t committed; /* commits made, counted under write_lock */
    uint64_t synced;    /* commits the syncer has synced */
    bool syncing;
    /* A sync failed: what the WAL holds on disk is unknown from then on (the
     * kernel may have dropped the pages it could not write, and a later
     * fdatasync that succeeds says nothing of them), so no write is
     * acknowledged or accepted again by this process; a restart reopens the
     * database from what is on disk. Under sync_lock. */
    bool halted;
    int wal_fd;
    ino_t wal_ino;
    char *wal_path;
    pthread_mutex_t write_lock;
    /* the open batch (under write_lock) */
    bool batch_open;
    unsigned batch_n;
    struct member *members;
    /* The one connection transactions write through, used under write_lock.
     * Each connection's page cache is dropped whenever another connection
     * has written, so with one writer connection its cache stays warm: a
     * PATCH read 27 pages with pread() per request when every pool thread
     * wrote through its own connection. */
    conn *writer;
    pthread_mutex_t conns_lock;
    conn *conns;
    pthread_key_t tls; /* this thread's conn, for reads */
} sq_store;

/* The store whose write_lock this thread holds for an idempotent request
 * (idem_begin to idem_finish): its calls then run on the writer connection,
 * inside that transaction, each write as a savepoint. */
static __thread const void *tls_holding;

static void log_db(sqlite3 *db, const char *what) {
    fprintf(stderr, "store_sqlite: %s: %s (%d)\n", what, db ? sqlite3_errmsg(db) : "no database",
            db ? sqlite3_extended_errcode(db) : 0);
}

static store_rc rc_of(int rc) {
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return STORE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_CONSTRAINT:
        return STORE_CONFLICT;
    case SQLITE_FULL:
        return STORE_FULL; /* also a write past RLIMIT_FSIZE (SIGXFSZ ignored) */
    default:
        return STORE_ERROR;
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

/* ---- ci_contains(haystack, needle) -------------------------------------------
 * The lists' __ilike and search: a case-insensitive substring test on whole
 * Unicode characters (SQLite's LIKE folds ASCII only, and stops at a NUL),
 * with simple one-to-one case mappings from the C.UTF-8 locale, as
 * PostgreSQL's ILIKE would fold them. */

static locale_t fold_locale;
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_init(void) {
    fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

static uint32_t fold(uint32_t cp) {
    if (cp < 128) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    return fold_locale ? (uint32_t)towlower_l((wint_t)cp, fold_locale) : cp;
}

/* Text as folded code points (store_sql.c decodes it, as PostgreSQL's
 * needles are read too). Returns the count. */
static size_t fold_text(const unsigned char *s, size_t n, uint32_t *out) {
    size_t k = sql_decode_loose(s, n, out);
    for (size_t i = 0; i < k; i++)
        out[i] = fold(out[i]);
    return k;
}

/* Where the folded needle first occurs in the folded haystack: -1 nowhere,
 * -2 out of memory; *equal when the two are the same text. */
static long ci_find(sqlite3_value **argv, bool *equal) {
    const unsigned char *h = sqlite3_value_text(argv[0]), *nd = sqlite3_value_text(argv[1]);
    size_t hn = (size_t)sqlite3_value_bytes(argv[0]), nn = (size_t)sqlite3_value_bytes(argv[1]);
    uint32_t *hb = malloc((hn + 1) * sizeof *hb), *nb = malloc((nn + 1) * sizeof *nb);
    long at = -2;
    if (!hb || !nb || (hn && !h) || (nn && !nd)) goto out;
    size_t hk = fold_text(h, hn, hb), nk = fold_text(nd, nn, nb);
    at = -1;
    for (size_t i = 0; at < 0 && i + nk <= hk; i++)
        if (memcmp(hb + i, nb, nk * sizeof *nb) == 0) at = (long)i;
    *equal = at == 0 && hk == nk;
out:
    free(hb);
    free(nb);
    return at;
}

static void ci_contains(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    bool equal;
    long at = ci_find(argv, &equal);
    if (at == -2)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_int(ctx, at >= 0);
}

/* ci_rank(haystack, needle), the ranked customer search's (store_sql.h):
 * 0 equal, 1 a prefix, 2 contained elsewhere, 3 not contained or null. */
static void ci_rank(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, 3);
        return;
    }
    bool equal = false;
    long at = ci_find(argv, &equal);
    if (at == -2)
        sqlite3_result_error_nomem(ctx);
    else
        sqlite3_result_int(ctx, at < 0 ? 3 : equal ? 0 : at == 0 ? 1 : 2);
}

/* Before SQLite's first use: no memory statistics, which take a global
 * mutex on every sqlite3_malloc and sqlite3_free (pthread_mutex_lock and
 * unlock were 3% of a durable PATCH's profile). Refused (harmlessly) if
 * SQLite was initialised already. */
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static void config_init(void) {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* ---- quantities: dec_sum(x) and dec_of_real(x) ------------------------------
 * Quantities are INTEGER millionths (dec.h). SUM() of them would stop at
 * 2^63 with an error; dec_sum() adds them in 128 bits and answers the sum as
 * decimal text ("12.5"; "0" for no rows or only nulls), as PostgreSQL's SUM
 * of numeric reads. dec_of_real() is migration 5's: a REAL of a database
 * written when quantities were doubles, as millionths. */
static void dec_sum_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    /* SQLite aligns the context to 8 bytes only: copied, not dereferenced */
    unsigned char *acc = sqlite3_aggregate_context(ctx, sizeof(dec_sum));
    if (!acc) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    dec_sum sum;
    memcpy(&sum, acc, sizeof sum);
    sum += sqlite3_value_int64(argv[0]);
    memcpy(acc, &sum, sizeof sum);
}
static void dec_sum_final(sqlite3_context *ctx) {
    unsigned char *acc = sqlite3_aggregate_context(ctx, 0);
    dec_sum sum = 0;
    if (acc) memcpy(&sum, acc, sizeof sum);
    char buf[DEC_FORMAT_MAX];
    size_t n = dec_plain(sum, buf);
    sqlite3_result_text(ctx, buf, (int)n, SQLITE_TRANSIENT);
}
static void dec_of_real(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    double d = sqlite3_value_double(argv[0]);
    dec v;
    if (dec_round_double(d, &v) != DEC_OK) {
        char msg[96];
        snprintf(msg, sizeof msg, "quantity %.17g is beyond the range of a quantity (below 10^12)",
                 d);
        sqlite3_result_error(ctx, msg, -1);
        return;
    }
    sqlite3_result_int64(ctx, v);
}

static sqlite3 *open_db(const char *path, char *err, size_t errcap) {
    pthread_once(&config_once, config_init);
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "cannot open %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    pthread_once(&fold_once, fold_init);
    sqlite3_create_function(db, "ci_contains", 2,
                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                            ci_contains, NULL, NULL);
    sqlite3_create_function(db, "ci_rank", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                            NULL, ci_rank, NULL, NULL);
    sqlite3_create_function(db, "dec_sum", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                            NULL, NULL, dec_sum_step, dec_sum_final);
    sqlite3_create_function(db, "dec_of_real", 1,
                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                            dec_of_real, NULL, NULL);
    sqlite3_extended_result_codes(db, 1);
    /* WAL: readers never block the writer; NORMAL: a commit does not sync,
     * the syncer does, once for every commit made meanwhile.
     * temp_store=MEMORY: statement journals of a write inside a savepoint
     * otherwise went to a temporary file, created and unlinked about every
     * third PATCH under load, and written on every one. */
    if (exec_all(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                     "PRAGMA temp_store=MEMORY;") != SQLITE_OK) {
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
    /* a newer binary's schema: its rows may mean what this one does not know */
    sqlite3_stmt *newest = NULL;
    sqlite3_int64 top = 0;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1,
                           &newest, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(newest) == SQLITE_ROW) top = sqlite3_column_int64(newest, 0);
    sqlite3_finalize(newest);
    if (top > (sqlite3_int64)N_MIGRATIONS) {
        snprintf(err, errcap, STORE_SCHEMA_NEWER, (long long)top, N_MIGRATIONS);
        return -1;
    }
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
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    for (int i = 0; i < 16; i++)
        sqlite3_finalize(c->grant_update[i]);
    sqlite3_close(c->db);
    free(c);
}

/* A new connection with its statements, registered for store close. */
static conn *conn_open(sq_store *s) {
    char err[256];
    conn *c = calloc(1, sizeof(*c));
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
    return c;
}

/* This thread's connection for reads, opened on first use; the writer's
 * while this thread holds the store for an idempotent request. */
static conn *get_conn(sq_store *s) {
    if (tls_holding == s) return s->writer;
    conn *c = pthread_getspecific(s->tls);
    if (c) return c;
    c = conn_open(s);
    /* a small cache: any write empties a reader's cache anyway, and there
     * is one reader per HTTP thread (the OS page cache serves them) */
    if (c) exec_all(c->db, "PRAGMA cache_size=-256");
    if (c) pthread_setspecific(s->tls, c);
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
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}
static void bind_num(sqlite3_stmt *st, int i, opt_num v) {
    if (v.set)
        sqlite3_bind_double(st, i, v.v);
    else
        sqlite3_bind_null(st, i);
}
/* a quantity: its millionths (dec.h), an INTEGER */
static void bind_dec(sqlite3_stmt *st, int i, opt_dec v) {
    if (v.set)
        sqlite3_bind_int64(st, i, v.v);
    else
        sqlite3_bind_null(st, i);
}
static void bind_time(sqlite3_stmt *st, int i, opt_time v) {
    if (v.set)
        sqlite3_bind_int64(st, i, v.v);
    else
        sqlite3_bind_null(st, i);
}
static void bind_bool(sqlite3_stmt *st, int i, opt_bool v) {
    if (v >= 0)
        sqlite3_bind_int(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Model strings with their length, NUL characters included. */
static void bind_mstr(sqlite3_stmt *st, int i, const char *v) {
    if (v)
        sqlite3_bind_text64(st, i, v, mstr_len(v), SQLITE_STATIC, SQLITE_UTF8);
    else
        sqlite3_bind_null(st, i);
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
static opt_dec col_dec(sqlite3_stmt *st, int i) {
    opt_dec v = {sqlite3_column_type(st, i) != SQLITE_NULL, 0};
    if (v.set) v.v = sqlite3_column_int64(st, i);
    return v;
}
/* a sum written by dec_sum() (decimal text); false when it is none */
static bool col_sum(sqlite3_stmt *st, int i, dec_sum *out) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t && dec_parse((const char *)t, (size_t)sqlite3_column_bytes(st, i), out) == DEC_OK;
}
static opt_time col_time(sqlite3_stmt *st, int i) {
    opt_time v = {sqlite3_column_type(st, i) != SQLITE_NULL, 0};
    if (v.set) v.v = sqlite3_column_int64(st, i);
    return v;
}
static opt_bool col_bool(sqlite3_stmt *st, int i) {
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int(st, i) != 0;
}

/* The WAL's descriptor, (re)opened when the file is new: SQLite removes the
 * WAL when the last connection to the database closes. */
static int wal_fd(sq_store *s) {
    struct stat st;
    if (stat(s->wal_path, &st) != 0) return -1;
    if (s->wal_fd >= 0 && st.st_ino == s->wal_ino) return s->wal_fd;
    if (s->wal_fd >= 0) close(s->wal_fd);
    s->wal_fd = open(s->wal_path, O_RDWR | O_CLOEXEC);
    s->wal_ino = st.st_ino;
    return s->wal_fd;
}

/* Is there no room for the database to grow: its file system nearly full,
 * or its WAL or file at the process's RLIMIT_FSIZE? */
static bool no_room(sq_store *q) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", q->path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0 && (uint64_t)fs.f_bavail * fs.f_frsize < (4u << 20)) return true;
    struct rlimit lim;
    struct stat st;
    if (getrlimit(RLIMIT_FSIZE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return false;
    const char *files[2] = {q->wal_path, q->path};
    for (int i = 0; i < 2; i++)
        if (stat(files[i], &st) == 0 && (uint64_t)st.st_size + (64u << 10) >= lim.rlim_cur)
            return true;
    return false;
}

/* A failed commit, whose append to the WAL may have found no room: SQLite
 * reports a short write as SQLITE_FULL, but a write refused whole (the
 * file size limit, often a full disk) as SQLITE_IOERR_WRITE, and the errno
 * it keeps is not reliably the write's, so the room is looked at. */
static store_rc rc_of_commit(sq_store *q, int rc) {
    if ((rc & 0xff) == SQLITE_IOERR && no_room(q)) return STORE_FULL;
    return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
}

/* ---- durability: batches, commits and the syncer -------------------------------
 *
 * A writer joins the open batch (batch_enter: BEGIN IMMEDIATE if none is
 * open, then its own savepoint) and leaves it (batch_leave) as a member
 * when its change is kept. The batch is committed when it is full, or when
 * its last writer leaves while the syncer is idle; while the syncer is
 * busy the batch stays open and gathers writers, and the syncer commits it
 * after its sync. So under load the commits follow the fsyncs, and each
 * commit carries every change that arrived during the previous fsync.
 *
 * The syncer (one thread) fdatasyncs the WAL for the committed members and
 * then tells each its outcome: a blocking member (on its writer's stack)
 * by `done` and sync_cv; a deferred one (store_defer_begin: the HTTP edge
 * suspends the connection instead of parking a thread) by calling its
 * function. */

typedef struct member {
    store_rc rc;
    store_rc keep; /* what a blocking member returns once its batch is durable */
    bool done;
    void (*fn)(void *cls, store_rc rc); /* deferred: called once with the outcome */
    void *cls;
    struct member *next;
} member;

/* A bound on a batch, so that a writer's wait for its batch stays short. */
#define BATCH_MAX 64

/* This thread's deferral (store_defer_begin to store_defer_end): the member
 * it will be, allocated up front so that joining a batch cannot fail. */
static __thread struct {
    const void *store;
    member *m; /* NULL once used */
    bool pending;
} tls_defer;

static store_rc run_fixed(conn *c, enum stmt_id id);

/* A member's outcome; sync_lock held. A deferred member is handed back in
 * `*call` (its function runs after the lock is released). */
static void member_finish(sq_store *q, member *m, store_rc rc, member **call) {
    m->rc = rc;
    if (m->fn) {
        m->next = *call;
        *call = m;
    } else {
        m->done = true;
        pthread_cond_broadcast(&q->sync_cv);
    }
}

static void call_deferred(member *m) {
    while (m) {
        member *n = m->next;
        m->fn(m->cls, m->rc);
        free(m);
        m = n;
    }
}

static bool is_halted(sq_store *q) {
    pthread_mutex_lock(&q->sync_lock);
    bool h = q->halted;
    pthread_mutex_unlock(&q->sync_lock);
    return h;
}

static bool syncer_busy(sq_store *q) {
    pthread_mutex_lock(&q->sync_lock);
    bool busy = q->syncing || q->to_sync;
    pthread_mutex_unlock(&q->sync_lock);
    return busy;
}

/* End the open batch (write_lock held): commit it when `r` is STORE_OK and
 * it has members, else roll it back. Committed members go to the syncer;
 * on failure every member learns it now. */
static void batch_close(sq_store *q, conn *c, store_rc r) {
    if (r == STORE_OK && q->batch_n == 0) r = STORE_NOT_FOUND; /* nothing to commit */
    if (r == STORE_OK && is_halted(q)) r = STORE_HALTED;       /* rolled back, never acknowledged */
    if (r == STORE_OK) {
        if (sqlite3_get_autocommit(c->db)) {
            r = STORE_ERROR; /* SQLite rolled the transaction back after an error */
        } else {
            int rc = sqlite3_step(stmt(c, S_COMMIT));
            sqlite3_reset(c->st[S_COMMIT]);
            if (rc != SQLITE_DONE) {
                log_db(c->db, "commit");
                r = rc_of_commit(q, rc);
            }
        }
    }
    if (r != STORE_OK && !sqlite3_get_autocommit(c->db)) {
        sqlite3_step(stmt(c, S_ROLLBACK));
        sqlite3_reset(c->st[S_ROLLBACK]);
    }
    if (r == STORE_NOT_FOUND) r = STORE_OK; /* no members */
    member *call = NULL;
    pthread_mutex_lock(&q->sync_lock);
    if (r == STORE_OK) q->committed++;
    for (member *m = q->members, *n; m; m = n) {
        n = m->next;
        if (r == STORE_OK) {
            m->next = q->to_sync;
            q->to_sync = m;
        } else {
            member_finish(q, m, r, &call);
        }
    }
    if (r == STORE_OK && q->members) pthread_cond_signal(&q->work_cv);
    pthread_mutex_unlock(&q->sync_lock);
    q->members = NULL;
    q->batch_n = 0;
    q->batch_open = false;
    call_deferred(call);
}

/* Take write_lock and join the open batch (or begin one): BEGIN IMMEDIATE
 * when none is open, then this writer's savepoint. */
static store_rc batch_enter(sq_store *q, conn **out) {
    pthread_mutex_lock(&q->write_lock);
    if (is_halted(q)) {
        pthread_mutex_unlock(&q->write_lock);
        return STORE_HALTED;
    }
    if (!q->writer) {
        if (!(q->writer = conn_open(q))) {
            pthread_mutex_unlock(&q->write_lock);
            return STORE_ERROR;
        }
        /* the writer's cache stays valid between writes: let it hold the
         * pages every write touches (8 MiB; the readers add 256 KiB per HTTP
         * thread) */
        exec_all(q->writer->db, "PRAGMA cache_size=-8192");
    }
    conn *c = *out = q->writer;
    if (!q->batch_open) {
        int rc = sqlite3_step(stmt(c, S_BEGIN));
        sqlite3_reset(c->st[S_BEGIN]);
        if (rc != SQLITE_DONE) {
            log_db(c->db, "begin");
            pthread_mutex_unlock(&q->write_lock);
            return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
        }
        q->batch_open = true;
    }
    store_rc r = run_fixed(c, S_MEMBER_SAVEPOINT);
    if (r != STORE_OK) {
        /* the batch is as it was: commit it now unless the syncer will */
        if (!syncer_busy(q)) batch_close(q, c, STORE_OK);
        pthread_mutex_unlock(&q->write_lock);
    }
    return r;
}

/* Were changes made that are not durable yet: in the open batch, or
 * committed and not synced? */
static bool unsynced(sq_store *q) {
    if (q->batch_n > 0) return true;
    pthread_mutex_lock(&q->sync_lock);
    bool u = q->committed > q->synced;
    pthread_mutex_unlock(&q->sync_lock);
    return u;
}

/* Leave the batch: keep this writer's change (r STORE_OK) or undo it; commit
 * the batch if it is full or the syncer is idle; unlock. For a kept change,
 * returns once it is durable, or at once when this thread defers (the
 * outcome then goes to its function).
 * A writer that changed nothing (a refusal, or an idempotent replay) may
 * still have read changes that are not durable yet; it then joins the batch
 * as a member without changes, so that its answer too waits until what it
 * saw is on disk, and becomes an error if that is lost. */
static store_rc batch_leave(sq_store *q, conn *c, store_rc r) {
    if (r == STORE_OK) r = run_fixed(c, S_MEMBER_RELEASE);
    if (r != STORE_OK && !sqlite3_get_autocommit(c->db)) {
        /* undo this writer's change alone; if even that fails the batch
         * cannot be trusted: roll all of it back */
        if (run_fixed(c, S_MEMBER_ROLLBACK_TO) != STORE_OK ||
            run_fixed(c, S_MEMBER_RELEASE) != STORE_OK)
            batch_close(q, c, STORE_ERROR);
    }
    if (q->batch_open && sqlite3_get_autocommit(c->db))
        batch_close(q, c, STORE_ERROR);                   /* SQLite ended the transaction itself */
    if (r == STORE_OK && !q->batch_open) r = STORE_ERROR; /* lost before this change joined */
    member stack_m = {.keep = r}, *me = NULL;
    if (r == STORE_OK || (q->batch_open && unsynced(q))) {
        /* deferred: at most one pending outcome per deferral; any other
         * write waits like a writer that does not defer */
        if (tls_defer.store == q && tls_defer.m) {
            me = tls_defer.m;
            tls_defer.m = NULL;
            tls_defer.pending = true;
            me->keep = r;
        } else {
            me = &stack_m;
        }
        me->next = q->members;
        q->members = me;
        q->batch_n++;
    }
    if (q->batch_open && (q->batch_n >= BATCH_MAX || !syncer_busy(q))) batch_close(q, c, STORE_OK);
    pthread_mutex_unlock(&q->write_lock);
    if (me != &stack_m) return r;
    pthread_mutex_lock(&q->sync_lock);
    while (!stack_m.done)
        pthread_cond_wait(&q->sync_cv, &q->sync_lock);
    pthread_mutex_unlock(&q->sync_lock);
    return stack_m.rc == STORE_OK ? stack_m.keep : stack_m.rc;
}

/* fdatasync(), or in a fault build the failure ENTITLED_FAULT_SYNC asks for. */
static int sync_wal(int fd) {
#ifdef ENTITLED_FAULTS
    if (fault_sync_fails()) {
        errno = EIO;
        return -1;
    }
#endif
    return fdatasync(fd);
}

/* The syncer: fdatasync the WAL for every committed member, tell them, then
 * commit the batch that gathered meanwhile. */
static void *syncer_main(void *arg) {
    sq_store *q = arg;
    pthread_mutex_lock(&q->sync_lock);
    for (;;) {
        while (!q->to_sync && !q->stop)
            pthread_cond_wait(&q->work_cv, &q->sync_lock);
        if (!q->to_sync) break; /* stopping, nothing left */
        member *batch = q->to_sync;
        q->to_sync = NULL;
        q->syncing = true;
        uint64_t target = q->committed;
        int fd = wal_fd(q);
        pthread_mutex_unlock(&q->sync_lock);
        int rc = fd >= 0 ? sync_wal(fd) : -1;
        if (rc != 0)
            fprintf(stderr,
                    "store_sqlite: cannot sync %s: %s; from now on every write is refused (503): "
                    "restart the server to reopen the database from what is on disk\n",
                    q->wal_path, strerror(errno));
        member *call = NULL;
        pthread_mutex_lock(&q->sync_lock);
        /* A failed sync halts the store for good (is_halted): its members'
         * changes were committed and may be on disk or not, so they are
         * told exactly that (STORE_UNKNOWN), and so is any member synced
         * after it, since a later sync that succeeds proves nothing about
         * pages the kernel dropped. Nothing is rolled back: SQLite cannot
         * undo a commit, and a restart finds what the disk kept. */
        if (rc != 0) q->halted = true;
        if (target > q->synced) q->synced = target;
        for (member *m = batch, *n; m; m = n) {
            n = m->next;
            member_finish(q, m, q->halted ? STORE_UNKNOWN : STORE_OK, &call);
        }
        q->syncing = false;
        pthread_mutex_unlock(&q->sync_lock);
        call_deferred(call);
        /* commit what gathered during the sync; an open batch with no
         * member (its writers all failed while a sync ran) is rolled back,
         * so that it does not hold SQLite's write lock against other
         * processes until the next write */
        pthread_mutex_lock(&q->write_lock);
        if (q->batch_open) batch_close(q, q->writer, STORE_OK);
        pthread_mutex_unlock(&q->write_lock);
        pthread_mutex_lock(&q->sync_lock);
    }
    pthread_mutex_unlock(&q->sync_lock);
    return NULL;
}

/* A read transaction on this thread's reader connection: its reads share
 * one WAL read lock (each autocommit read takes and drops its own). Not
 * inside a held write: those read the writer. */
static bool sq_read_begin(store *s) {
    if (tls_holding == s) return false;
    conn *c = get_conn((sq_store *)s);
    return c && run_fixed(c, S_READ_BEGIN) == STORE_OK;
}

static void sq_read_end(store *s) {
    conn *c = pthread_getspecific(((sq_store *)s)->tls);
    if (c && !sqlite3_get_autocommit(c->db)) run_fixed(c, S_COMMIT);
}

static bool sq_defer_begin(store *s, void (*fn)(void *cls, store_rc rc), void *cls) {
    member *m = calloc(1, sizeof *m);
    if (!m) return false;
    m->fn = fn;
    m->cls = cls;
    free(tls_defer.m); /* a deferral never ended (cannot happen in the server) */
    tls_defer.store = s;
    tls_defer.m = m;
    tls_defer.pending = false;
    return true;
}

static bool sq_defer_end(store *s) {
    bool pending = tls_defer.store == s && tls_defer.pending;
    free(tls_defer.m); /* unused: no write joined a batch */
    memset(&tls_defer, 0, sizeof tls_defer);
    return pending;
}

static store_rc tx_begin(sq_store *q, conn **out);
static store_rc tx_end(sq_store *q, conn *c, store_rc r);

/* Step a one-statement write begun with WRITE_BEGIN (on the writer, as a
 * batch member or a savepoint of the held transaction) and end it. */
static store_rc write_one(sq_store *s, conn *c, sqlite3_stmt *st, int64_t *changes) {
    int rc = sqlite3_step(st);
    store_rc out = rc == SQLITE_DONE ? STORE_OK : rc_of(rc);
    if (out != STORE_OK && out != STORE_CONFLICT) log_db(c->db, "write");
    sqlite3_reset(st);
    if (changes) *changes = out == STORE_OK ? sqlite3_changes64(c->db) : 0;
    return tx_end(s, c, out);
}

#define SQ(x) ((sq_store *)(x))
#define CONN_OR_FAIL(c, s)                                                                         \
    conn *c = get_conn(SQ(s));                                                                     \
    if (!c) return STORE_ERROR
/* A one-statement write: `c` is the writer connection, under write_lock. */
#define WRITE_BEGIN(c, s)                                                                          \
    conn *c;                                                                                       \
    do {                                                                                           \
        store_rc begin_ = tx_begin(SQ(s), &c);                                                     \
        if (begin_ != STORE_OK) return begin_;                                                     \
    } while (0)

static store_rc sq_org_create(store *s, const char *id, const char *name, int64_t now) {
    WRITE_BEGIN(c, s);
    sqlite3_stmt *st = stmt(c, S_ORG_INSERT);
    bind_text(st, 1, id);
    bind_text(st, 2, name);
    sqlite3_bind_int64(st, 3, now);
    return write_one(SQ(s), c, st, NULL);
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
    WRITE_BEGIN(c, s);
    sqlite3_stmt *st = stmt(c, S_KEY_INSERT);
    bind_text(st, 1, k->key_id);
    bind_text(st, 2, k->org);
    sqlite3_bind_blob(st, 3, k->hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, k->created_at);
    return write_one(SQ(s), c, st, NULL);
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

static store_rc sq_apikey_list(store *s, const char *org,
                               bool (*fn)(void *cls, const store_apikey *k), void *cls) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_KEY_LIST);
    bind_text(st, 1, org);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_apikey k = {0};
        col_id(st, 0, k.key_id);
        snprintf(k.org, ID_BUF, "%s", org);
        k.created_at = sqlite3_column_int64(st, 1);
        k.revoked_at = sqlite3_column_int64(st, 2);
        if (!fn(cls, &k)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    store_rc r = rc == SQLITE_DONE ? STORE_OK : rc_of(rc);
    sqlite3_reset(st);
    return r;
}

static store_rc sq_apikey_revoke(store *s, const char *key_id, int64_t now, store_apikey *out) {
    store_apikey k;
    store_rc r = sq_apikey_get(s, key_id, &k); /* keys are never deleted */
    if (r != STORE_OK) return r;
    WRITE_BEGIN(c, s);
    sqlite3_stmt *st = stmt(c, S_KEY_REVOKE);
    bind_text(st, 1, key_id);
    sqlite3_bind_int64(st, 2, now);
    r = write_one(SQ(s), c, st, NULL);
    if (r == STORE_OK && out) r = sq_apikey_get(s, key_id, out);
    return r;
}

static store_rc step_done(conn *c, sqlite3_stmt *st, const char *what);

/* The unique index on (org_id, email_key) refused the customer: the only
 * unique constraint of customers besides the id's, a fresh UUID. */
static store_rc duplicate_of(conn *c, store_rc r) {
    if (r == STORE_CONFLICT && sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_UNIQUE)
        return STORE_DUPLICATE;
    return r;
}

static store_rc sq_customer_create(store *s, const char *org, const model_customer *m) {
    WRITE_BEGIN(c, s);
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
    if (m->custom_data)
        bind_mstr(st, 10, m->custom_data);
    else
        bind_text(st, 10, "{}");
    bind_mstr(st, 11, m->address);
    bind_mstr(st, 12, m->ship_to_address);
    bind_mstr(st, 13, m->tax_info);
    bind_mstr(st, 14, m->connector);
    sqlite3_bind_int64(st, 15, m->created_at);
    sqlite3_bind_int64(st, 16, m->updated_at);
    char *key = NULL;
    store_rc r = STORE_OK;
    if (m->email && !(key = store_email_key(m->email))) r = STORE_ERROR;
    bind_text(st, 17, key);
    if (r == STORE_OK)
        r = step_done(c, st, "insert customer");
    else
        sqlite3_reset(st);
    free(key);
    r = duplicate_of(c, r);
    return tx_end(SQ(s), c, r);
}

/* Columns as S_CUST_GET selects them, from column `b`. */
static int read_customer(sqlite3_stmt *st, int b, model_customer *m) {
    int oom = 0;
    memset(m, 0, sizeof(*m));
    col_id(st, b, m->id);
    m->customer_name = col_text(st, b + 1, &oom);
    m->external_id = col_text(st, b + 2, &oom);
    m->email = col_text(st, b + 3, &oom);
    m->phone_number = col_text(st, b + 4, &oom);
    m->business_entity_id = col_text(st, b + 5, &oom);
    m->communications_enabled = col_bool(st, b + 6);
    m->auto_charge_enabled = col_bool(st, b + 7);
    m->custom_data = col_text(st, b + 8, &oom);
    m->address = col_text(st, b + 9, &oom);
    m->ship_to_address = col_text(st, b + 10, &oom);
    m->tax_info = col_text(st, b + 11, &oom);
    m->connector = col_text(st, b + 12, &oom);
    m->created_at = sqlite3_column_int64(st, b + 13);
    m->updated_at = sqlite3_column_int64(st, b + 14);
    if (oom) model_customer_clear(m);
    return oom ? -1 : 0;
}

static store_rc customer_select(conn *c, const char *org, const char *id, model_customer *m) {
    sqlite3_stmt *st = stmt(c, S_CUST_GET);
    bind_text(st, 1, id);
    bind_text(st, 2, org);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
    if (rc == SQLITE_ROW && read_customer(st, 0, m) != 0) r = STORE_ERROR;
    sqlite3_reset(st);
    return r;
}

static store_rc sq_customer_get(store *s, const char *org, const char *id, model_customer *m) {
    CONN_OR_FAIL(c, s);
    return customer_select(c, org, id, m);
}

static store_rc sq_entitlement_create(store *s, const char *org, const model_entitlement *e) {
    WRITE_BEGIN(c, s);
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
    return write_one(SQ(s), c, st, NULL);
}

/* Columns as S_ENT_GET selects them, from column `b`. */
static int read_entitlement(sqlite3_stmt *st, int b, model_entitlement *e) {
    int oom = 0;
    memset(e, 0, sizeof(*e));
    col_id(st, b, e->id);
    e->name = col_text(st, b + 1, &oom);
    e->description = col_text(st, b + 2, &oom);
    e->entitlement_type = col_text(st, b + 3, &oom);
    e->units = col_text(st, b + 4, &oom);
    e->is_active = col_bool(st, b + 5);
    e->product_id = col_text(st, b + 6, &oom);
    e->created_at = sqlite3_column_int64(st, b + 7);
    e->updated_at = sqlite3_column_int64(st, b + 8);
    if (oom) model_entitlement_clear(e);
    return oom ? -1 : 0;
}

static store_rc entitlement_select(conn *c, const char *org, const char *id, model_entitlement *e) {
    sqlite3_stmt *st = stmt(c, S_ENT_GET);
    bind_text(st, 1, id);
    bind_text(st, 2, org);
    int rc = sqlite3_step(st);
    store_rc r = rc == SQLITE_DONE ? STORE_NOT_FOUND : rc_of(rc);
    if (rc == SQLITE_ROW && read_entitlement(st, 0, e) != 0) r = STORE_ERROR;
    sqlite3_reset(st);
    return r;
}

static store_rc sq_entitlement_get(store *s, const char *org, const char *id,
                                   model_entitlement *e) {
    CONN_OR_FAIL(c, s);
    return entitlement_select(c, org, id, e);
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
    g->quantity = col_dec(st, 5);
    g->quantity_used = col_dec(st, 6);
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
    g->updated_at = sqlite3_column_int64(st, 17); /* GRANT_NCOLS columns */
    if (oom) model_grant_clear(g);
    return oom ? -1 : 0;
}

static store_rc tx_begin(sq_store *q, conn **c);
static store_rc tx_end(sq_store *q, conn *c, store_rc r);
static store_rc step_done(conn *c, sqlite3_stmt *st, const char *what);

/* ---- the ledger ------------------------------------------------------------ */

/* The organisation's next sequence number (inside the change's transaction). */
static store_rc ledger_next(conn *c, const char *org, int64_t *seq) {
    sqlite3_stmt *st = stmt(c, S_LEDGER_NEXT);
    bind_text(st, 1, org);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_OK;
    log_db(c->db, "ledger seq");
    return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
}

static dec dec0(opt_dec v) {
    return v.set ? v.v : 0;
}

/* Append the entry of one row's change: `before` NULL for a create, `after`
 * NULL for a delete (store.h's ledger_entry says what each column holds). */
static store_rc ledger_append(conn *c, const char *org, int64_t seq, ledger_kind kind,
                              const model_grant *before, const model_grant *after, dec drawn,
                              int64_t now, const store_meta *m) {
    const model_grant *row = after ? after : before;
    static const model_grant none; /* all null: the "before" of a create, "after" of a delete */
    const model_grant *b = before ? before : &none, *a = after ? after : &none;
    sqlite3_stmt *st = stmt(c, S_LEDGER_INSERT);
    bind_text(st, 1, org);
    sqlite3_bind_int64(st, 2, seq);
    bind_text(st, 3, row->id);
    sqlite3_bind_int64(st, 4, now);
    bind_text(st, 5, ledger_kind_names[kind]);
    bind_text(st, 6, row->entitlement);
    bind_text(st, 7, row->customer);
    sqlite3_bind_int64(st, 8, dec0(a->quantity) - dec0(b->quantity));
    sqlite3_bind_int64(
        st, 9, kind == LEDGER_CONSUME ? drawn : dec0(a->quantity_used) - dec0(b->quantity_used));
    bind_dec(st, 10, a->quantity);
    bind_dec(st, 11, a->quantity_used);
    bind_time(st, 12, a->active_from);
    bind_time(st, 13, a->expiry_at);
    bind_text(st, 14, m && m->request_id && *m->request_id ? m->request_id : NULL);
    bind_text(st, 15, m && m->idem_key && *m->idem_key ? m->idem_key : NULL);
    return step_done(c, st, "ledger entry");
}

/* One change of one row: a sequence number and its entry. */
static store_rc ledger_change(conn *c, const char *org, ledger_kind kind, const model_grant *before,
                              const model_grant *after, int64_t now, const store_meta *m) {
    int64_t seq = 0;
    store_rc r = ledger_next(c, org, &seq);
    if (r == STORE_OK) r = ledger_append(c, org, seq, kind, before, after, 0, now, m);
    return r;
}

static store_rc sq_grant_create(store *s, const char *org, const model_grant *g, int64_t now,
                                const store_meta *m) {
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = stmt(c, S_GRANT_INSERT);
    bind_text(st, 1, org);
    bind_text(st, 2, g->id);
    bind_text(st, 3, g->entitlement);
    bind_text(st, 4, g->customer);
    bind_time(st, 5, g->active_from);
    bind_time(st, 6, g->expiry_at);
    bind_dec(st, 7, g->quantity);
    bind_dec(st, 8, g->quantity_used);
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
    r = step_done(c, st, "insert row");
    /* A foreign key failure means the entitlement or customer vanished
     * between the handler's check and this insert. */
    if (r == STORE_CONFLICT && sqlite3_extended_errcode(c->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
        r = STORE_NOT_FOUND;
    if (r == STORE_OK) r = ledger_change(c, org, LEDGER_CREATE, NULL, g, now, m);
    return tx_end(SQ(s), c, r);
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

/* Which of active_from, expiry_at, quantity, quantity_used (bits 0-3) a
 * PATCH changes. */
static unsigned changed_mask(const model_grant *a, const model_grant *b) {
    unsigned m = 0;
    if (a->active_from.set != b->active_from.set || a->active_from.v != b->active_from.v) m |= 1;
    if (a->expiry_at.set != b->expiry_at.set || a->expiry_at.v != b->expiry_at.v) m |= 2;
    if (a->quantity.set != b->quantity.set || a->quantity.v != b->quantity.v) m |= 4;
    if (a->quantity_used.set != b->quantity_used.set || a->quantity_used.v != b->quantity_used.v)
        m |= 8;
    return m;
}

/* An UPDATE that sets only the changed columns: SQLite rewrites an index
 * only when the UPDATE names one of its columns, and four of the sort
 * indexes hold these columns, so a PATCH of quantity_used touches one index
 * instead of four (bench/run.sh: PATCH 1,443 -> 3,219 req/s median). Parameters keep
 * their numbers (?1-?4 the columns, ?5 updated_at, ?6 the id). */
static sqlite3_stmt *grant_update_stmt(conn *c, unsigned mask) {
    sqlite3_stmt **slot = &c->grant_update[mask & 15];
    if (*slot) {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
        return *slot;
    }
    static const char *const COLS[4] = {"active_from = ?1, ", "expiry_at = ?2, ", "quantity = ?3, ",
                                        "quantity_used = ?4, "};
    char sql[256];
    int n = snprintf(sql, sizeof sql, "UPDATE customer_entitlements SET ");
    for (int i = 0; i < 4; i++)
        if (mask & (1u << i)) n += snprintf(sql + n, sizeof sql - (size_t)n, "%s", COLS[i]);
    snprintf(sql + n, sizeof sql - (size_t)n, "updated_at = ?5 WHERE id = ?6");
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL) != SQLITE_OK) {
        log_db(c->db, sql);
        *slot = NULL;
    }
    return *slot;
}

/* PATCH: read, merge, check, write and commit in one IMMEDIATE transaction,
 * so two writers of one row are serialised and neither's change is lost
 * halfway. */
static store_rc sq_grant_update(store *s, const char *org, const char *ent, const char *cust,
                                const char *id, const model_grant_patch *p, int64_t now,
                                const store_meta *m, model_grant *out) {
    memset(out, 0, sizeof(*out)); /* so every exit may clear it */
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    r = grant_select(c, org, ent, cust, id, out);
    model_grant before = *out; /* shallow: only its numbers are read */
    if (r == STORE_OK) {
        model_grant_apply(out, p);
        if (!model_grant_window_ok(out)) r = STORE_WINDOW;
    }
    if (r == STORE_OK) {
        out->updated_at = now;
        sqlite3_stmt *st = grant_update_stmt(c, changed_mask(&before, out));
        if (!st) {
            r = STORE_ERROR;
        } else {
            bind_time(st, 1, out->active_from);
            bind_time(st, 2, out->expiry_at);
            bind_dec(st, 3, out->quantity);
            bind_dec(st, 4, out->quantity_used);
            sqlite3_bind_int64(st, 5, now);
            bind_text(st, 6, out->id);
            r = step_done(c, st, "update row");
        }
    }
    if (r == STORE_OK) r = ledger_change(c, org, LEDGER_UPDATE, &before, out, now, m);
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK) model_grant_clear(out);
    return r;
}

/* ---- transactions of several statements ---------------------------------- */

/* Run a fixed statement that returns no row. */
static store_rc run_fixed(conn *c, enum stmt_id id) {
    int rc = sqlite3_step(stmt(c, id));
    sqlite3_reset(c->st[id]);
    if (rc == SQLITE_DONE) return STORE_OK;
    log_db(c->db, SQL[id]);
    return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
}

/* Take the write lock and the writer connection, and BEGIN IMMEDIATE; on
 * failure the lock is released. Inside a held transaction: a savepoint. */
static store_rc tx_begin(sq_store *q, conn **out) {
    if (tls_holding == q) {
        *out = q->writer;
        return run_fixed(q->writer, S_SAVEPOINT);
    }
    return batch_enter(q, out);
}

/* Keep the change when `r` is STORE_OK (its batch's commit may then fail),
 * else undo it; return once that is known and, if kept, durable. Inside a
 * held transaction: release the savepoint, or undo back to it. */
static store_rc tx_end(sq_store *q, conn *c, store_rc r) {
    if (tls_holding == q) {
        if (r != STORE_OK) run_fixed(c, S_ROLLBACK_TO);
        store_rc rel = run_fixed(c, S_RELEASE);
        return r != STORE_OK ? r : rel;
    }
    return batch_leave(q, c, r);
}

/* Step a write statement to its end; a store_rc. */
static store_rc step_done(conn *c, sqlite3_stmt *st, const char *what) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_OK;
    /* a duplicate id or email is the client's (a 409 or 400), not the log's */
    int ext = sqlite3_extended_errcode(c->db);
    if (ext != SQLITE_CONSTRAINT_UNIQUE && ext != SQLITE_CONSTRAINT_PRIMARYKEY) log_db(c->db, what);
    return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
}

/* Is the object still used by customer entitlement rows? */
static store_rc in_use(conn *c, enum stmt_id id, const char *org, const char *obj) {
    sqlite3_stmt *st = stmt(c, id);
    bind_text(st, 1, obj);
    bind_text(st, 2, org);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return STORE_CONFLICT;
    return rc == SQLITE_DONE ? STORE_OK : rc_of(rc);
}

static store_rc sq_grant_delete(store *s, const char *org, const char *ent, const char *cust,
                                const char *id, int64_t now, const store_meta *m,
                                model_grant *out) {
    memset(out, 0, sizeof(*out));
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    r = grant_select(c, org, ent, cust, id, out);
    if (r == STORE_OK) {
        sqlite3_stmt *st = stmt(c, S_GRANT_DELETE);
        bind_text(st, 1, out->id);
        r = step_done(c, st, "delete row");
    }
    if (r == STORE_OK) r = ledger_change(c, org, LEDGER_DELETE, out, NULL, now, m);
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK) model_grant_clear(out);
    return r;
}

static store_rc sq_grant_total(store *s, const char *org, const char *ent, const char *cust,
                               bool has_from, int64_t from, bool has_to, int64_t to, dec_sum *sum) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_GRANT_TOTAL);
    bind_text(st, 1, org);
    bind_text(st, 2, ent);
    bind_text(st, 3, cust);
    bind_time(st, 4, (opt_time){has_from, from});
    bind_time(st, 5, (opt_time){has_to, to});
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && !col_sum(st, 0, sum)) rc = SQLITE_ERROR;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? STORE_OK : rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
}

/* ---- consumption ------------------------------------------------------------ */

/* The pair's rows active at `at`, in burn order (heap array). */
static store_rc active_rows(conn *c, const char *org, const char *ent, const char *cust, int64_t at,
                            model_grant **rows, size_t *n) {
    size_t cap = 0;
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(c, S_CONSUME_ROWS);
    bind_text(st, 1, org);
    bind_text(st, 2, ent);
    bind_text(st, 3, cust);
    sqlite3_bind_int64(st, 4, at);
    int rc;
    store_rc r = STORE_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            model_grant *nr = realloc(*rows, cap * sizeof **rows);
            if (!nr) {
                r = STORE_ERROR;
                break;
            }
            *rows = nr;
        }
        if (read_grant(st, &(*rows)[*n]) != 0) {
            r = STORE_ERROR;
            break;
        }
        (*n)++;
    }
    if (r == STORE_OK && rc != SQLITE_DONE) {
        log_db(c->db, "consume rows");
        r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
    }
    sqlite3_reset(st);
    return r;
}

static void rows_free(model_grant *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        model_grant_clear(&rows[i]);
    free(rows);
}

/* Read the active rows, plan, write the drawn rows and their entries, all in
 * one IMMEDIATE transaction: no other writer runs between the read and the
 * write, so two consumers can never both draw the same units. */
static store_rc sq_consume(store *s, const char *org, const char *ent, const char *cust,
                           dec quantity, int64_t at, int64_t now, const store_meta *m,
                           consume_result *out) {
    memset(out, 0, sizeof(*out));
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    model_grant *rows = NULL;
    size_t n = 0;
    r = active_rows(c, org, ent, cust, at, &rows, &n);
    if (r == STORE_OK && n && !(out->draws = calloc(n, sizeof *out->draws))) r = STORE_ERROR;
    if (r == STORE_OK && !consume_plan(rows, n, quantity, out)) r = STORE_SHORT;
    if (r == STORE_OK) r = ledger_next(c, org, &out->seq);
    for (size_t i = 0, k = 0; r == STORE_OK && i < n && k < out->ndraws; i++) {
        const consume_draw *d = &out->draws[k];
        if (strcmp(d->row, rows[i].id) != 0) continue;
        k++;
        model_grant after = rows[i]; /* shallow: the entry reads ids and numbers */
        after.quantity_used = (opt_dec){true, d->quantity_used};
        sqlite3_stmt *st = stmt(c, S_CONSUME_UPDATE);
        sqlite3_bind_int64(st, 1, d->quantity_used);
        sqlite3_bind_int64(st, 2, now);
        bind_text(st, 3, d->row);
        r = step_done(c, st, "consume row");
        if (r == STORE_OK)
            r = ledger_append(c, org, out->seq, LEDGER_CONSUME, &rows[i], &after, d->drawn, now, m);
    }
    rows_free(rows, n);
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK && r != STORE_SHORT) consume_result_clear(out);
    return r;
}

static store_rc sq_balance_at(store *s, const char *org, const char *ent, const char *cust,
                              int64_t at, store_balance *out) {
    memset(out, 0, sizeof(*out));
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = stmt(c, S_BALANCE);
    bind_text(st, 1, org);
    bind_text(st, 2, ent);
    bind_text(st, 3, cust);
    sqlite3_bind_int64(st, 4, at);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *kind = sqlite3_column_text(st, 0);
        if (kind && strcmp((const char *)kind, "delete") == 0) continue;
        opt_time from = col_time(st, 3), to = col_time(st, 4);
        if ((from.set && from.v > at) || (to.set && at >= to.v)) continue;
        store_balance_add(out, col_dec(st, 1), col_dec(st, 2));
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return STORE_OK;
    log_db(c->db, "balance");
    return rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
}

/* ---- idempotency ------------------------------------------------------------- */

/* Begin the request's transaction (write_lock held: a second request with
 * the key waits here) and look the key up. */
static store_rc sq_idem_begin(store *s, const char *org, const char *key, bool *found,
                              store_idem *out) {
    memset(out, 0, sizeof(*out));
    *found = false;
    if (tls_holding == s) return STORE_ERROR; /* one idempotent request per thread at a time */
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    sqlite3_stmt *st = stmt(c, S_IDEM_GET);
    bind_text(st, 1, org);
    bind_text(st, 2, key);
    /* no key (issue 7, api_write_begin): no lookup, only the held transaction */
    int rc = key ? sqlite3_step(st) : SQLITE_DONE;
    if (rc == SQLITE_ROW) {
        *found = true;
        out->status = (unsigned)sqlite3_column_int(st, 0);
        out->body_len = (size_t)sqlite3_column_bytes(st, 1);
        out->body = malloc(out->body_len + 1);
        const void *fp = sqlite3_column_blob(st, 2);
        if (!out->body || !fp || sqlite3_column_bytes(st, 2) != 32) {
            r = STORE_ERROR;
        } else {
            memcpy(out->body, sqlite3_column_blob(st, 1), out->body_len);
            out->body[out->body_len] = '\0';
            memcpy(out->fingerprint, fp, 32);
        }
    } else if (rc != SQLITE_DONE) {
        log_db(c->db, "idempotency key");
        r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
    }
    sqlite3_reset(st);
    if (r != STORE_OK || *found) {
        /* nothing to keep: end the transaction (a rollback: it wrote nothing) */
        tx_end(SQ(s), c, STORE_ERROR);
        if (r != STORE_OK) {
            free(out->body);
            memset(out, 0, sizeof(*out));
            *found = false;
        }
        return r;
    }
    tls_holding = s;
    return STORE_OK;
}

static store_rc sq_idem_finish(store *s, const char *org, const char *key, const store_idem *answer,
                               const char *request_id, int64_t now) {
    if (tls_holding != s) return STORE_ERROR;
    conn *c = SQ(s)->writer;
    store_rc r = STORE_OK;
    if (answer && key) { /* no key (issue 7): commit, nothing to store */
        sqlite3_stmt *st = stmt(c, S_IDEM_INSERT);
        bind_text(st, 1, org);
        bind_text(st, 2, key);
        sqlite3_bind_blob(st, 3, answer->fingerprint, 32, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, (int)answer->status);
        sqlite3_bind_blob64(st, 5, answer->body ? answer->body : "", answer->body_len,
                            SQLITE_STATIC);
        bind_text(st, 6, request_id);
        sqlite3_bind_int64(st, 7, now);
        r = step_done(c, st, "store idempotency key");
    }
    tls_holding = NULL;
    /* no answer to keep: roll everything back (tx_end's ROLLBACK) */
    store_rc end = tx_end(SQ(s), c, answer ? r : STORE_ERROR);
    return answer ? end : STORE_OK;
}

static store_rc sq_idem_prune(store *s, int64_t before, int64_t *deleted) {
    WRITE_BEGIN(c, s);
    sqlite3_stmt *st = stmt(c, S_IDEM_PRUNE);
    sqlite3_bind_int64(st, 1, before);
    return write_one(SQ(s), c, st, deleted);
}

/* ---- scans for verify -------------------------------------------------------- */

static void col_buf(sqlite3_stmt *st, int i, char *out, size_t cap) {
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* A ledger entry from SQL_LEDGER_COLS at column b. */
static void read_ledger(sqlite3_stmt *st, int b, ledger_entry *e) {
    memset(e, 0, sizeof(*e));
    col_id(st, b + 0, e->org);
    e->seq = sqlite3_column_int64(st, b + 1);
    e->at = sqlite3_column_int64(st, b + 2);
    const unsigned char *k = sqlite3_column_text(st, b + 3);
    int kind = sql_ledger_kind((const char *)k);
    e->kind = kind < 0 ? LEDGER_UPDATE : (ledger_kind)kind;
    col_id(st, b + 4, e->row);
    col_id(st, b + 5, e->entitlement);
    col_id(st, b + 6, e->customer);
    e->quantity_delta = sqlite3_column_int64(st, b + 7);
    e->quantity_used_delta = sqlite3_column_int64(st, b + 8);
    e->quantity = col_dec(st, b + 9);
    e->quantity_used = col_dec(st, b + 10);
    e->active_from = col_time(st, b + 11);
    e->expiry_at = col_time(st, b + 12);
    col_buf(st, b + 13, e->request_id, sizeof e->request_id);
    col_buf(st, b + 14, e->idem_key, sizeof e->idem_key);
}

static store_rc sq_scan_ledger(store *s, bool (*fn)(void *cls, const ledger_entry *e), void *cls) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(
            c->db, "SELECT " SQL_LEDGER_COLS " FROM ledger t ORDER BY t.org_id, t.row_id, t.seq",
            -1, &st, NULL) != SQLITE_OK) {
        log_db(c->db, "scan ledger");
        return STORE_ERROR;
    }
    int rc;
    ledger_entry e;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_ledger(st, 0, &e);
        if (!fn(cls, &e)) break;
    }
    store_rc r = rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : rc_of(rc);
    if (r != STORE_OK) log_db(c->db, "scan ledger");
    sqlite3_finalize(st);
    return r;
}

/* PRAGMA integrity_check: its first complaint in `msg`. A corrupt file can
 * still answer every query verify makes, from the pages it reads. */
static store_rc sq_integrity(store *s, char *msg, size_t cap) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
        snprintf(msg, cap, "%s", sqlite3_errmsg(c->db));
        return STORE_ERROR;
    }
    int rc = sqlite3_step(st);
    const char *first = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    snprintf(msg, cap, "%s", first ? first : sqlite3_errmsg(c->db));
    store_rc r = first && strcmp(first, "ok") == 0 ? STORE_OK : STORE_ERROR;
    sqlite3_finalize(st);
    return r;
}

static store_rc sq_scan_rows(store *s, bool (*fn)(void *cls, const char *org, const model_grant *g),
                             void *cls) {
    CONN_OR_FAIL(c, s);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " GRANT_COLS ", org_id FROM customer_entitlements "
                           "ORDER BY org_id, id",
                           -1, &st, NULL) != SQLITE_OK) {
        log_db(c->db, "scan rows");
        return STORE_ERROR;
    }
    int rc;
    store_rc r = STORE_OK;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        model_grant g;
        char org[ID_BUF];
        if (read_grant(st, &g) != 0) {
            r = STORE_ERROR;
            break;
        }
        col_id(st, GRANT_NCOLS, org);
        bool go = fn(cls, org, &g);
        model_grant_clear(&g);
        if (!go) break;
    }
    if (r == STORE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_db(c->db, "scan rows");
        r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
    }
    sqlite3_finalize(st);
    return r;
}

static store_rc sq_entitlement_update(store *s, const char *org, const char *id,
                                      void (*apply)(void *ctx, model_entitlement *e), void *ctx,
                                      int64_t now, model_entitlement *out) {
    memset(out, 0, sizeof(*out));
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    r = entitlement_select(c, org, id, out);
    if (r == STORE_OK) {
        apply(ctx, out);
        out->updated_at = now;
        sqlite3_stmt *st = stmt(c, S_ENT_UPDATE);
        bind_text(st, 1, out->id);
        bind_text(st, 2, org);
        bind_mstr(st, 3, out->name);
        bind_mstr(st, 4, out->description);
        bind_mstr(st, 5, out->entitlement_type);
        bind_mstr(st, 6, out->units);
        bind_bool(st, 7, out->is_active);
        bind_mstr(st, 8, out->product_id);
        sqlite3_bind_int64(st, 9, now);
        r = step_done(c, st, "update entitlement");
    }
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK) model_entitlement_clear(out);
    return r;
}

static store_rc sq_entitlement_delete(store *s, const char *org, const char *id,
                                      model_entitlement *out) {
    memset(out, 0, sizeof(*out));
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    r = entitlement_select(c, org, id, out);
    if (r == STORE_OK) r = in_use(c, S_ENT_IN_USE, org, id);
    if (r == STORE_OK) {
        sqlite3_stmt *st = stmt(c, S_ENT_DELETE);
        bind_text(st, 1, id);
        bind_text(st, 2, org);
        r = step_done(c, st, "delete entitlement");
    }
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK) model_entitlement_clear(out);
    return r;
}

static store_rc sq_customer_update(store *s, const char *org, const char *id,
                                   void (*apply)(void *ctx, model_customer *m), void *ctx,
                                   int64_t now, model_customer *out) {
    memset(out, 0, sizeof(*out));
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    r = customer_select(c, org, id, out);
    if (r == STORE_OK) {
        apply(ctx, out);
        out->updated_at = now;
        sqlite3_stmt *st = stmt(c, S_CUST_UPDATE);
        bind_text(st, 1, out->id);
        bind_text(st, 2, org);
        bind_mstr(st, 3, out->customer_name);
        bind_mstr(st, 4, out->external_id);
        bind_mstr(st, 5, out->email);
        bind_mstr(st, 6, out->phone_number);
        bind_mstr(st, 7, out->business_entity_id);
        bind_bool(st, 8, out->communications_enabled);
        bind_bool(st, 9, out->auto_charge_enabled);
        if (out->custom_data)
            bind_mstr(st, 10, out->custom_data);
        else
            bind_text(st, 10, "{}");
        bind_mstr(st, 11, out->address);
        bind_mstr(st, 12, out->ship_to_address);
        bind_mstr(st, 13, out->tax_info);
        bind_mstr(st, 14, out->connector);
        sqlite3_bind_int64(st, 15, now);
        char *key = NULL;
        if (out->email && !(key = store_email_key(out->email))) r = STORE_ERROR;
        bind_text(st, 16, key);
        if (r == STORE_OK)
            r = step_done(c, st, "update customer");
        else
            sqlite3_reset(st);
        free(key);
        r = duplicate_of(c, r);
    }
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK) model_customer_clear(out);
    return r;
}

static store_rc sq_customer_delete(store *s, const char *org, const char *id, model_customer *out) {
    memset(out, 0, sizeof(*out));
    conn *c;
    store_rc r = tx_begin(SQ(s), &c);
    if (r != STORE_OK) return r;
    r = customer_select(c, org, id, out);
    if (r == STORE_OK) r = in_use(c, S_CUST_IN_USE, org, id);
    if (r == STORE_OK) {
        sqlite3_stmt *st = stmt(c, S_CUST_DELETE);
        bind_text(st, 1, id);
        bind_text(st, 2, org);
        r = step_done(c, st, "delete customer");
    }
    r = tx_end(SQ(s), c, r);
    if (r != STORE_OK) model_customer_clear(out);
    return r;
}

/* ---- lists ------------------------------------------------------------------
 * The SQL is built by store_sql.c (shared with PostgreSQL); here it is bound,
 * stepped and read. */

static int bind_all(sqlite3_stmt *st, const sql_builder *b) {
    for (int i = 0; i < b->nbinds; i++) {
        const list_value *v = &b->binds[i];
        int rc;
        if (v->type == LV_TEXT)
            rc = sqlite3_bind_text64(st, i + 1, v->s, v->len, SQLITE_STATIC, SQLITE_UTF8);
        else if (v->type == LV_NUM)
            rc = sqlite3_bind_double(st, i + 1, v->n);
        else if (v->type == LV_DEC)
            rc = sqlite3_bind_int64(st, i + 1, v->d);
        else if (v->type == LV_TIME)
            rc = sqlite3_bind_int64(st, i + 1, v->t);
        else
            rc = sqlite3_bind_int(st, i + 1, v->b);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

static store_rc run_count(conn *c, const list_query *q, int64_t *total) {
    sql_builder b = {0};
    sql_list_count(&b, &SQL_SQLITE, q);
    store_rc r = STORE_ERROR;
    sqlite3_stmt *st = NULL;
    if (!b.failed && sqlite3_prepare_v2(c->db, b.buf, -1, &st, NULL) == SQLITE_OK &&
        bind_all(st, &b) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *total = sqlite3_column_int64(st, 0);
            r = STORE_OK;
        } else {
            r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
        }
    }
    if (r != STORE_OK) log_db(c->db, "list count");
    sqlite3_finalize(st);
    sql_builder_free(&b);
    return r;
}

/* Read up to `want` rows of one segment, appending to `out`. */
static store_rc list_segment(conn *c, const list_query *q, const sql_field *sf, sql_segment seg,
                             bool from_position, size_t want, list_result *out, size_t cap) {
    sql_builder b = {0};
    sql_list_rows(&b, &SQL_SQLITE, q, sf, seg, from_position, want);
    store_rc r = STORE_ERROR;
    sqlite3_stmt *st = NULL;
    if (b.failed) goto done;
    if (sqlite3_prepare_v2(c->db, b.buf, -1, &st, NULL) != SQLITE_OK ||
        bind_all(st, &b) != SQLITE_OK) {
        log_db(c->db, "list");
        goto done;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            out->more = true;
            break;
        }
        int bad = 0;
        size_t i = out->n;
        switch (q->kind) {
        case LIST_ENTITLEMENTS:
            bad = read_entitlement(st, 0, &out->ents[i]);
            break;
        case LIST_CUSTOMERS:
            bad = read_customer(st, 0, &out->custs[i]);
            if (out->ranks) out->ranks[i] = sqlite3_column_int(st, SQL_CUST_NCOLS);
            break;
        case LIST_UNIQUE:
            bad = read_entitlement(st, 0, &out->uniq[i].e);
            if (!col_sum(st, 9, &out->uniq[i].total_quantity) ||
                !col_sum(st, 10, &out->uniq[i].total_quantity_used))
                bad = 1;
            out->uniq[i].expired = sqlite3_column_int64(st, 11);
            break;
        case LIST_GRANTS: {
            list_grant *g = &out->grants[i];
            int oom = 0;
            bad = read_grant(st, &g->g);
            g->ent_name = col_text(st, GRANT_NCOLS, &oom);
            g->ent_units = col_text(st, GRANT_NCOLS + 1, &oom);
            g->ent_type = col_text(st, GRANT_NCOLS + 2, &oom);
            g->product_id = col_text(st, GRANT_NCOLS + 3, &oom);
            g->cust_name = col_text(st, GRANT_NCOLS + 4, &oom);
            g->cust_email = col_text(st, GRANT_NCOLS + 5, &oom);
            bad |= oom;
            break;
        }
        case LIST_LEDGER:
            read_ledger(st, 0, &out->entries[i]);
            break;
        }
        out->n++; /* counted even when bad, so clear() frees what was read */
        if (bad) goto done;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_db(c->db, "list step");
        r = rc_of(rc) == STORE_OK ? STORE_ERROR : rc_of(rc);
        goto done;
    }
    r = STORE_OK;
done:
    sqlite3_finalize(st);
    sql_builder_free(&b);
    return r;
}

static store_rc sq_list(store *s, const list_query *q, list_result *out) {
    memset(out, 0, sizeof(*out));
    CONN_OR_FAIL(c, s);
    const sql_field *sf =
        sql_field_of(q->kind == LIST_UNIQUE ? LIST_ENTITLEMENTS : q->kind, q->sort);
    if (!sf || q->limit < 1) return STORE_ERROR;
    if (!list_result_alloc(q, out)) return STORE_ERROR;
    size_t cap = (size_t)q->limit;
    /* the segments in reading order, from the one holding the position */
    sql_segment seg[2];
    int nseg = sql_segments(q, sf, seg);
    store_rc r = STORE_OK;
    for (int k = 0; k < nseg && r == STORE_OK && !out->more; k++)
        r = list_segment(c, q, sf, seg[k], q->has_after && k == 0, cap + 1 - out->n, out, cap);
    if (r == STORE_OK && !q->skip_total) r = run_count(c, q, &out->total);
    if (r != STORE_OK) list_result_clear(out);
    return r;
}

static void sq_close(store *base) {
    sq_store *s = SQ(base);
    /* whatever is still open is committed and synced before the end */
    pthread_mutex_lock(&s->write_lock);
    if (s->batch_open) batch_close(s, s->writer, STORE_OK);
    pthread_mutex_unlock(&s->write_lock);
    if (s->syncer_running) {
        pthread_mutex_lock(&s->sync_lock);
        s->stop = true;
        pthread_cond_signal(&s->work_cv);
        pthread_mutex_unlock(&s->sync_lock);
        pthread_join(s->syncer, NULL);
    }
    conn *c = s->conns;
    while (c) {
        conn *n = c->next;
        conn_free(c);
        c = n;
    }
    pthread_key_delete(s->tls);
    pthread_mutex_destroy(&s->write_lock);
    pthread_mutex_destroy(&s->conns_lock);
    pthread_mutex_destroy(&s->sync_lock);
    pthread_cond_destroy(&s->sync_cv);
    pthread_cond_destroy(&s->work_cv);
    if (s->wal_fd >= 0) close(s->wal_fd);
    free(s->wal_path);
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
    .apikey_list = sq_apikey_list,
    .apikey_revoke = sq_apikey_revoke,
    .customer_create = sq_customer_create,
    .customer_get = sq_customer_get,
    .entitlement_create = sq_entitlement_create,
    .entitlement_get = sq_entitlement_get,
    .grant_create = sq_grant_create,
    .grant_get = sq_grant_get,
    .grant_update = sq_grant_update,
    .grant_delete = sq_grant_delete,
    .grant_total = sq_grant_total,
    .entitlement_update = sq_entitlement_update,
    .entitlement_delete = sq_entitlement_delete,
    .customer_update = sq_customer_update,
    .customer_delete = sq_customer_delete,
    .list = sq_list,
    .consume = sq_consume,
    .balance_at = sq_balance_at,
    .idem_begin = sq_idem_begin,
    .idem_finish = sq_idem_finish,
    .defer_begin = sq_defer_begin,
    .defer_end = sq_defer_end,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .idem_prune = sq_idem_prune,
    .scan_ledger = sq_scan_ledger,
    .scan_rows = sq_scan_rows,
    .integrity = sq_integrity,
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
    size_t n = strlen(path);
    if (!s || !(s->path = strdup(path)) || !(s->wal_path = malloc(n + 5))) {
        if (s) free(s->path);
        free(s);
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    memcpy(s->wal_path, path, n);
    memcpy(s->wal_path + n, "-wal", 5);
    s->wal_fd = -1;
    s->base.ops = &SQLITE_OPS;
    pthread_mutex_init(&s->sync_lock, NULL);
    pthread_cond_init(&s->sync_cv, NULL);
    pthread_cond_init(&s->work_cv, NULL);
    pthread_mutex_init(&s->write_lock, NULL);
    pthread_mutex_init(&s->conns_lock, NULL);
    pthread_key_create(&s->tls, NULL);
    int rc = pthread_create(&s->syncer, NULL, syncer_main, s);
    if (rc != 0) {
        snprintf(err, errcap, "cannot start the syncer thread: %s", strerror(rc));
        s->syncer_running = false;
        sq_close(&s->base);
        return NULL;
    }
    s->syncer_running = true;
    return &s->base;
}
