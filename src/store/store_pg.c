/* store_pg: the store interface on PostgreSQL (libpq), answering exactly as
 * store_sqlite.c does.
 *
 * Several `entitled serve` processes may share the database, so what SQLite
 * gets from its single writer is asked for explicitly: read-modify-write
 * transactions lock their row (SELECT ... FOR UPDATE), so two writers of one
 * row serialise across processes and no update is lost; migrations take an
 * advisory lock, so two processes starting at once do not both apply one.
 *
 * Connections: a pool of `pool` connections per process, opened on first
 * use; a store call borrows one for its duration, except inside an
 * idempotent request, whose connection and transaction stay with its thread
 * from idem_begin to idem_finish (see "idempotency"). Every statement is
 * prepared once per connection and executed with bound parameters; a list's
 * SQL (store_sql.c) depends on its filters, so those are prepared and cached
 * per connection by their text (PG_LIST_CACHE of them).
 *
 * Time limits: a store call has PG_BUDGET_MS in all, to wait for a free
 * connection (at most PG_POOL_WAIT_MS), connect and run its statements; a
 * connection that overruns it is dropped. The server cancels a statement
 * after statement_timeout as well. A connection that is lost, or closed by
 * the server while idle, is replaced on a later call, so the process
 * recovers by itself when the database returns. Meanwhile calls answer
 * STORE_BUSY (503 with Retry-After).
 *
 * Text: PostgreSQL text cannot hold NUL, which API strings may (SQLite keeps
 * it). Stored text is escaped with a comma-free code (enc_text) that keeps
 * byte order, equality and substring matches exactly, so sorting, filters
 * and search answer as on SQLite.
 *
 * Numbers: doubles are sent with 17 digits and read back with
 * extra_float_digits=3 (the shortest text that reads back exactly).
 * Quantities (dec.h) are numeric(18,6), sent and read as decimal text, and
 * summed by SUM exactly, as SQLite's dec_sum() sums its integers.
 *
 * Lock order: transactions that wait for each other's locks in opposite
 * orders deadlock (PostgreSQL aborts one after deadlock_timeout: a 503), so
 * every transaction takes its locks in this order, and several rows of one
 * table in the order of a key no write changes:
 *   1. an Idempotency-Key's advisory lock (idem_begin; one per transaction);
 *   2. the rows the store call changes: one row by its id (PATCH, deletes,
 *      entitlement and customer updates and deletes), or a pair's active
 *      rows in id order (consume: P_CONSUME_LOCK; a PATCH changes their burn
 *      order, and two consumers locking in the burn order each one's
 *      snapshot saw deadlocked, issue 13), sorted into burn order only once
 *      locked; a create's new row with the KEY SHARE locks its foreign keys
 *      take on the organisation, entitlement and customer (in the fixed
 *      order of the constraint triggers, and shared: they wait only for a
 *      one-row update or delete of those);
 *   3. the organisation's ledger counter (P_LEDGER_NEXT), last, so that it
 *      is held the shortest;
 *   4. the idempotency record's insert (idem_finish), a new row.
 * idempotency prune locks its keys in primary key order; migrations take
 * their advisory lock before anything else. */
#include "store/store_pg.h"

#include "store/store_sql.h"

#include "domain/dt.h"
#include "util/sha256.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_BUDGET_MS 10000         /* a store call, from borrowing to giving back */
#define PG_POOL_WAIT_MS 5000       /* of which waiting for a free connection */
#define PG_CONNECT_TIMEOUT "5"     /* seconds: libpq's connect_timeout */
#define PG_STATEMENT_TIMEOUT "10s" /* the server's side of PG_BUDGET_MS */
#define PG_RECONNECT_PAUSE_MS 1000 /* after a failed connection, fail fast meanwhile */
#define PG_MIGRATE_MS 120000       /* opening: migrations may wait for another process */
#define PG_LIST_CACHE 64           /* list statements prepared per connection */
#define PG_MIGRATION_LOCK "7308907241542542692" /* "entitled" read as an int8 */

/* type oids (catalog/pg_type.h is a server header) */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT4 23
#define OID_TEXT 25
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

/* ---- statements ------------------------------------------------------------ */

enum stmt_id {
    P_BEGIN,
    P_COMMIT,
    P_ROLLBACK,
    P_ORG_INSERT,
    P_ORG_EXISTS,
    P_KEY_INSERT,
    P_KEY_GET,
    P_KEY_LIST,
    P_KEY_REVOKE,
    P_CUST_INSERT,
    P_CUST_GET,
    P_CUST_LOCK,
    P_ENT_INSERT,
    P_ENT_GET,
    P_ENT_LOCK,
    P_GRANT_INSERT,
    P_GRANT_GET,
    P_GRANT_LOCK,
    P_GRANT_UPDATE,
    P_GRANT_DELETE,
    P_GRANT_TOTAL,
    P_ENT_UPDATE,
    P_ENT_DELETE,
    P_ENT_IN_USE,
    P_CUST_UPDATE,
    P_CUST_DELETE,
    P_CUST_IN_USE,
    P_SAVEPOINT,
    P_RELEASE,
    P_ROLLBACK_TO,
    P_LEDGER_NEXT,
    P_LEDGER_INSERT,
    P_CONSUME_LOCK,
    P_CONSUME_UPDATE,
    P_BALANCE,
    P_IDEM_LOCK,
    P_IDEM_GET,
    P_IDEM_INSERT,
    P_IDEM_PRUNE,
    P_COUNT
};

#define GRANT_NCOLS 18
#define GRANT_COLS                                                                                 \
    "id, entitlement_id, customer_id, active_from, expiry_at, quantity, quantity_used, "           \
    "contract_id, source_type, source_id, block_amount, invoice_id, event, numeric_value, "        \
    "feature_option_value, status, created_at, updated_at"
#define CUST_COLS                                                                                  \
    "id, customer_name, external_id, email, phone_number, business_entity_id, "                    \
    "communications_enabled, auto_charge_enabled, custom_data, address, ship_to_address, "         \
    "tax_info, connector, created_at, updated_at"
#define ENT_COLS                                                                                   \
    "id, name, description, entitlement_type, units, is_active, product_id, created_at, "          \
    "updated_at"
#define GRANT_WHERE "WHERE id = $1 AND org_id = $2 AND entitlement_id = $3 AND customer_id = $4"

/* As store_sqlite.c's, statement for statement; *_LOCK read a row to
 * change it. Parameter types are those of the columns they meet. */
static const struct {
    const char *what, *sql;
} STMT[P_COUNT] = {
    [P_BEGIN] = {"begin", "BEGIN"},
    [P_COMMIT] = {"commit", "COMMIT"},
    [P_ROLLBACK] = {"rollback", "ROLLBACK"},
    [P_ORG_INSERT] = {"insert organisation",
                      "INSERT INTO organisations(id, name, created_at) VALUES ($1, $2, $3)"},
    [P_ORG_EXISTS] = {"organisation", "SELECT 1 FROM organisations WHERE id = $1"},
    [P_KEY_INSERT] = {"insert key", "INSERT INTO api_keys(id, org_id, key_hash, created_at) "
                                    "VALUES ($1, $2, $3, $4)"},
    [P_KEY_GET] = {"key", "SELECT org_id, key_hash, created_at, revoked_at FROM api_keys "
                          "WHERE id = $1"},
    [P_KEY_LIST] = {"keys", "SELECT id, created_at, revoked_at FROM api_keys WHERE org_id = $1 "
                            "ORDER BY created_at, id"},
    /* the first revocation time is kept */
    [P_KEY_REVOKE] = {"revoke key", "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) "
                                    "WHERE id = $1 RETURNING org_id, created_at, revoked_at"},
    [P_CUST_INSERT] = {"insert customer",
                       "INSERT INTO customers(" CUST_COLS ", org_id, email_key) VALUES ($1, $2, "
                       "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"},
    [P_CUST_GET] = {"customer",
                    "SELECT " CUST_COLS " FROM customers WHERE id = $1 AND org_id = $2"},
    [P_CUST_LOCK] = {"lock customer", "SELECT " CUST_COLS " FROM customers "
                                      "WHERE id = $1 AND org_id = $2 FOR UPDATE"},
    [P_ENT_INSERT] = {"insert entitlement", "INSERT INTO entitlements(" ENT_COLS ", org_id) "
                                            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"},
    [P_ENT_GET] = {"entitlement",
                   "SELECT " ENT_COLS " FROM entitlements WHERE id = $1 AND org_id = $2"},
    [P_ENT_LOCK] = {"lock entitlement", "SELECT " ENT_COLS " FROM entitlements "
                                        "WHERE id = $1 AND org_id = $2 FOR UPDATE"},
    [P_GRANT_INSERT] = {"insert row", "INSERT INTO customer_entitlements(" GRANT_COLS ", org_id) "
                                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                                      "$13, $14, $15, $16, $17, $18, $19)"},
    [P_GRANT_GET] = {"row", "SELECT " GRANT_COLS " FROM customer_entitlements " GRANT_WHERE},
    [P_GRANT_LOCK] = {"lock row", "SELECT " GRANT_COLS " FROM customer_entitlements " GRANT_WHERE
                                  " FOR UPDATE"},
    [P_GRANT_UPDATE] = {"update row",
                        "UPDATE customer_entitlements SET active_from = $1, expiry_at = $2, "
                        "quantity = $3, quantity_used = $4, updated_at = $5 WHERE id = $6"},
    [P_GRANT_DELETE] = {"delete row", "DELETE FROM customer_entitlements WHERE id = $1"},
    [P_GRANT_TOTAL] = {"total",
                       "SELECT COALESCE(SUM(quantity), 0) "
                       "FROM customer_entitlements "
                       "WHERE org_id = $1 AND entitlement_id = $2 AND customer_id = $3 "
                       "AND ($4::bigint IS NULL OR expiry_at IS NULL OR expiry_at > $4) "
                       "AND ($5::bigint IS NULL OR active_from IS NULL OR active_from < $5) "
                       "AND (active_from IS NULL OR expiry_at IS NULL OR active_from < expiry_at) "
                       "AND ($4 IS NULL OR $5 IS NULL OR $4 < $5)"},
    [P_ENT_UPDATE] = {"update entitlement",
                      "UPDATE entitlements SET name = $3, description = $4, entitlement_type = $5, "
                      "units = $6, is_active = $7, product_id = $8, updated_at = $9 "
                      "WHERE id = $1 AND org_id = $2"},
    [P_ENT_DELETE] = {"delete entitlement",
                      "DELETE FROM entitlements WHERE id = $1 AND org_id = $2"},
    [P_ENT_IN_USE] = {"entitlement in use", "SELECT 1 FROM customer_entitlements "
                                            "WHERE org_id = $2 AND entitlement_id = $1 LIMIT 1"},
    [P_CUST_UPDATE] = {"update customer",
                       "UPDATE customers SET customer_name = $3, external_id = $4, email = $5, "
                       "phone_number = $6, business_entity_id = $7, communications_enabled = $8, "
                       "auto_charge_enabled = $9, custom_data = $10, address = $11, "
                       "ship_to_address = $12, tax_info = $13, connector = $14, updated_at = $15, "
                       /* a key is made when the email changes (see migration 5) */
                       "email_key = CASE WHEN email IS NOT DISTINCT FROM $5 THEN email_key "
                       "ELSE $16 END WHERE id = $1 AND org_id = $2"},
    [P_CUST_DELETE] = {"delete customer", "DELETE FROM customers WHERE id = $1 AND org_id = $2"},
    [P_CUST_IN_USE] = {"customer in use", "SELECT 1 FROM customer_entitlements "
                                          "WHERE org_id = $2 AND customer_id = $1 LIMIT 1"},
    [P_SAVEPOINT] = {"savepoint", "SAVEPOINT op"},
    [P_RELEASE] = {"release savepoint", "RELEASE SAVEPOINT op"},
    [P_ROLLBACK_TO] = {"rollback to savepoint", "ROLLBACK TO SAVEPOINT op"},
    /* The organisation's counter row stays locked until the change commits,
     * so its writers take numbers one after another, in commit order, and a
     * rolled back change gives its number back: gapless. */
    [P_LEDGER_NEXT] = {"ledger seq", "INSERT INTO ledger_seqs(org_id, seq) VALUES ($1, 1) "
                                     "ON CONFLICT (org_id) DO UPDATE SET seq = ledger_seqs.seq + 1 "
                                     "RETURNING seq"},
    [P_LEDGER_INSERT] = {"ledger entry",
                         "INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, "
                         "customer_id, quantity_delta, quantity_used_delta, quantity, "
                         "quantity_used, active_from, expiry_at, request_id, idempotency_key) "
                         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
                         "$15)"},
    /* the pair's rows active at $4, locked in id order (see "lock order"):
     * never in burn order, which a PATCH changes between two consumers'
     * snapshots; lock_active_rows() sorts them into burn order */
    [P_CONSUME_LOCK] = {"consume rows",
                        "SELECT " GRANT_COLS " FROM customer_entitlements "
                        "WHERE org_id = $1 AND entitlement_id = $2 AND customer_id = $3 "
                        "AND (active_from IS NULL OR active_from <= $4) "
                        "AND (expiry_at IS NULL OR $4 < expiry_at) "
                        "ORDER BY id FOR UPDATE"},
    [P_CONSUME_UPDATE] = {"consume row", "UPDATE customer_entitlements SET quantity_used = $1, "
                                         "updated_at = $2 WHERE id = $3"},
    /* each of the pair's rows (its create entry) with its latest entry made
     * at or before $4, in row order (the order SQLite sums them in) */
    [P_BALANCE] = {"balance",
                   "SELECT l.kind, l.quantity, l.quantity_used, l.active_from, l.expiry_at "
                   "FROM ledger c CROSS JOIN LATERAL (SELECT x.kind, x.quantity, "
                   "x.quantity_used, x.active_from, x.expiry_at FROM ledger x "
                   "WHERE x.org_id = c.org_id AND x.row_id = c.row_id AND x.at <= $4 "
                   "ORDER BY x.seq DESC LIMIT 1) l "
                   "WHERE c.org_id = $1 AND c.entitlement_id = $2 AND c.customer_id = $3 "
                   "AND c.kind = 'create' ORDER BY c.row_id"},
    [P_IDEM_LOCK] = {"idempotency lock", "SELECT pg_advisory_xact_lock($1::bigint)"},
    [P_IDEM_GET] = {"idempotency key", "SELECT status, body, fingerprint FROM idempotency_keys "
                                       "WHERE org_id = $1 AND key = $2"},
    [P_IDEM_INSERT] = {"store idempotency key",
                       "INSERT INTO idempotency_keys(org_id, key, fingerprint, status, body, "
                       "request_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"},
    /* keys locked in primary key order (see "lock order") */
    [P_IDEM_PRUNE] = {"prune idempotency keys",
                      "DELETE FROM idempotency_keys WHERE (org_id, key) IN (SELECT org_id, key "
                      "FROM idempotency_keys WHERE created_at < $1 ORDER BY org_id, key "
                      "FOR UPDATE)"},
};

/* Versioned migrations, the same versions as store_sqlite.c's: entry i
 * brings the schema to version i+1, in its own transaction under an
 * advisory lock, recorded in schema_migrations. Never edit a released entry:
 * append a new one. Text sorts and compares byte-wise (COLLATE "C"), like
 * SQLite's BINARY; instants are integer microseconds, quantities doubles
 * (numeric(18,6) from migration 5 on). */
#define TXT " TEXT COLLATE \"C\""
#define NAME_KEY "500"
static const char *const MIGRATIONS[] = {
    /* 1: organisations, keys, customers, entitlements, customer entitlements */
    "CREATE TABLE organisations("
    "  id" TXT " PRIMARY KEY, name" TXT " NOT NULL, created_at BIGINT NOT NULL);"
    "CREATE TABLE api_keys("
    "  id" TXT " PRIMARY KEY, org_id" TXT " NOT NULL REFERENCES organisations(id),"
    "  key_hash BYTEA NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT);"
    "CREATE INDEX api_keys_org ON api_keys(org_id);"
    "CREATE TABLE customers("
    "  id" TXT " PRIMARY KEY, org_id" TXT " NOT NULL REFERENCES organisations(id),"
    "  customer_name" TXT " NOT NULL, external_id" TXT ", email" TXT ", phone_number" TXT ","
    "  business_entity_id" TXT ", communications_enabled SMALLINT, auto_charge_enabled SMALLINT,"
    "  custom_data" TXT " NOT NULL DEFAULT '{}', address" TXT ", ship_to_address" TXT ","
    "  tax_info" TXT ", connector" TXT ", created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);"
    "CREATE INDEX customers_org_created ON customers(org_id, created_at, id);"
    "CREATE TABLE entitlements("
    "  id" TXT " PRIMARY KEY, org_id" TXT " NOT NULL REFERENCES organisations(id),"
    "  name" TXT " NOT NULL, description" TXT ", entitlement_type" TXT ", units" TXT ","
    "  is_active SMALLINT, product_id" TXT ", created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE INDEX entitlements_org_created ON entitlements(org_id, created_at, id);"
    "CREATE TABLE customer_entitlements("
    "  id" TXT " PRIMARY KEY, org_id" TXT " NOT NULL REFERENCES organisations(id),"
    "  entitlement_id" TXT " NOT NULL REFERENCES entitlements(id),"
    "  customer_id" TXT " NOT NULL REFERENCES customers(id),"
    "  active_from BIGINT, expiry_at BIGINT, quantity DOUBLE PRECISION,"
    "  quantity_used DOUBLE PRECISION, contract_id" TXT ", source_type" TXT ", source_id" TXT ","
    "  block_amount DOUBLE PRECISION, invoice_id" TXT ", event" TXT ","
    "  numeric_value DOUBLE PRECISION, feature_option_value" TXT ", status" TXT ","
    "  created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL,"
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
    /* A btree key holds at most 2704 bytes and names are not bounded: the
     * name sorts read these indexes through a prefix (dialect.sort_key),
     * at most 4 * NAME_KEY bytes of UTF-8. */
    "CREATE INDEX customers_org_name ON customers(org_id, left(customer_name, " NAME_KEY "), id);"
    "CREATE INDEX entitlements_org_name ON entitlements(org_id, left(name, " NAME_KEY "), id);",
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
    /* 4: the ledger (append-only: a trigger refuses UPDATE, DELETE and
     * TRUNCATE), each organisation's last sequence number (P_LEDGER_NEXT)
     * and the idempotency keys. Rows made before it get one create entry
     * each, at their created_at, numbered per organisation in creation
     * order. */
    "CREATE TABLE ledger("
    "  org_id" TXT " NOT NULL, seq BIGINT NOT NULL, row_id" TXT " NOT NULL, at BIGINT NOT NULL,"
    "  kind" TXT " NOT NULL CHECK (kind IN ('create', 'update', 'consume', 'delete')),"
    "  entitlement_id" TXT " NOT NULL, customer_id" TXT " NOT NULL,"
    "  quantity_delta DOUBLE PRECISION NOT NULL, quantity_used_delta DOUBLE PRECISION NOT NULL,"
    "  quantity DOUBLE PRECISION, quantity_used DOUBLE PRECISION, active_from BIGINT,"
    "  expiry_at BIGINT, request_id" TXT ", idempotency_key" TXT ","
    "  PRIMARY KEY (org_id, seq, row_id));"
    "CREATE INDEX ledger_row ON ledger(org_id, row_id, seq, at);"
    "CREATE INDEX ledger_customer ON ledger(org_id, customer_id, seq, row_id);"
    "CREATE INDEX ledger_pair_rows ON ledger(org_id, entitlement_id, customer_id, row_id)"
    "  WHERE kind = 'create';"
    "CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS"
    "  $$BEGIN RAISE EXCEPTION 'ledger entries are immutable'; END$$;"
    "CREATE TRIGGER ledger_no_change BEFORE UPDATE OR DELETE ON ledger"
    "  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();"
    "CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger"
    "  FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();"
    "INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id,"
    "  quantity_delta, quantity_used_delta, quantity, quantity_used, active_from, expiry_at)"
    "  SELECT org_id, ROW_NUMBER() OVER (PARTITION BY org_id ORDER BY created_at, id), id,"
    "  created_at, 'create', entitlement_id, customer_id, COALESCE(quantity, 0),"
    "  COALESCE(quantity_used, 0), quantity, quantity_used, active_from, expiry_at"
    "  FROM customer_entitlements;"
    "CREATE TABLE ledger_seqs(org_id" TXT " PRIMARY KEY, seq BIGINT NOT NULL);"
    "INSERT INTO ledger_seqs(org_id, seq)"
    "  SELECT org_id, COUNT(*) FROM customer_entitlements GROUP BY org_id;"
    "CREATE TABLE idempotency_keys("
    "  org_id" TXT " NOT NULL, key" TXT " NOT NULL, fingerprint BYTEA NOT NULL,"
    "  status INTEGER NOT NULL, body BYTEA NOT NULL, request_id" TXT ","
    "  created_at BIGINT NOT NULL, PRIMARY KEY (org_id, key));"
    "CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at);",
    /* 5: a customer's email is unique in its organisation, compared with
     * A-Z lowered (store_email_key(); lower() on COLLATE "C" text lowers
     * ASCII only, as SQLite's does). Where customers made before already
     * share an email, the oldest (created_at, id) gets the key and the
     * others keep their email without one: nothing is lost, and a new
     * customer or a changed email cannot take it again. */
    "ALTER TABLE customers ADD COLUMN email_key" TXT ";"
    "UPDATE customers SET email_key = lower(email) WHERE id IN ("
    "  SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY org_id, lower(email)"
    "    ORDER BY created_at, id) AS k FROM customers WHERE email IS NOT NULL) AS t"
    "  WHERE k = 1);"
    "CREATE UNIQUE INDEX customers_org_email ON customers(org_id, email_key);",
    /* 6: quantities are exact decimals (issue 13): numeric(18,6), the range
     * of dec.h (below 10^12, 6 places). Each double becomes the decimal of
     * its shortest text (float8 text with extra_float_digits > 0; a plain
     * float8 -> numeric cast keeps 15 digits only), rounded to 6 places as
     * SQLite's migration does; a value of 10^12 or more fails it (numeric
     * field overflow). Row triggers do not fire on ALTER TABLE. */
    "SET LOCAL extra_float_digits = 3;"
    "ALTER TABLE customer_entitlements"
    "  ALTER COLUMN quantity TYPE numeric(18,6) USING round(quantity::text::numeric, 6),"
    "  ALTER COLUMN quantity_used TYPE numeric(18,6)"
    "    USING round(quantity_used::text::numeric, 6);"
    "ALTER TABLE ledger"
    "  ALTER COLUMN quantity_delta TYPE numeric(18,6) USING round(quantity_delta::text::numeric, "
    "6),"
    "  ALTER COLUMN quantity_used_delta TYPE numeric(18,6)"
    "    USING round(quantity_used_delta::text::numeric, 6),"
    "  ALTER COLUMN quantity TYPE numeric(18,6) USING round(quantity::text::numeric, 6),"
    "  ALTER COLUMN quantity_used TYPE numeric(18,6)"
    "    USING round(quantity_used::text::numeric, 6);",
};
#define N_MIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))

/* ---- text ---------------------------------------------------------------------
 * NUL, 0x01 and 0x02 are written as four bytes each of 0x01 and 0x02:
 *     0x00 -> 01 01 01 02    0x01 -> 01 01 02 02    0x02 -> 01 02 02 02
 * These three words form a comma-free code: none appears across the
 * boundary of two others, and they use only bytes that are themselves
 * escaped. So the encoding of a needle occurs in the encoding of a text
 * exactly where the needle occurs in the text (substring matches, folded or
 * not: lower() leaves these bytes alone), and the words sort as the bytes
 * they stand for, below every other byte (byte order and equality kept).
 * Every other byte is itself; UTF-8 stays UTF-8. */

static const char CODE[3][4] = {{1, 1, 1, 2}, {1, 1, 2, 2}, {1, 2, 2, 2}};

/* A NUL-terminated encoded copy, or NULL when out of memory. */
static char *enc_text(const char *s, size_t n, size_t *outlen) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (unsigned char)s[i] <= 2;
    char *e = malloc(n + 3 * k + 1), *o = e;
    if (!e) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 2)
            memcpy(o, CODE[c], 4), o += 4;
        else
            *o++ = (char)c;
    }
    *o = '\0';
    if (outlen) *outlen = (size_t)(o - e);
    return e;
}

/* The model string a stored text stands for; NULL when out of memory. */
static char *dec_text(const char *s, size_t n) {
    char *d = malloc(n + 1);
    size_t k = 0;
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) {
        int c = -1;
        for (int w = 0; w < 3 && s[i] == 1 && i + 4 <= n; w++)
            if (memcmp(s + i, CODE[w], 4) == 0) c = w;
        if (c >= 0)
            d[k++] = (char)c, i += 3;
        else
            d[k++] = s[i];
    }
    char *m = mstr_new(d, k);
    free(d);
    return m;
}

/* The search text as SQLite's ci_contains reads it (sql_decode_loose),
 * written as UTF-8: the same bytes when they are UTF-8, and for other bytes
 * the characters SQLite takes them for. NULL with *never set when it holds a
 * code point no stored text can contain (a surrogate, past U+10FFFF). */
static char *needle_utf8(const char *s, size_t n, size_t *outlen, bool *never) {
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    char *u = malloc(4 * n + 1), *o = u;
    *never = false;
    if (!cp || !u) {
        free(cp);
        free(u);
        return NULL;
    }
    size_t k = sql_decode_loose((const unsigned char *)s, n, cp);
    for (size_t i = 0; i < k && !*never; i++) {
        uint32_t c = cp[i];
        if ((c >= 0xD800 && c < 0xE000) || c > 0x10FFFF)
            *never = true;
        else if (c < 0x80)
            *o++ = (char)c;
        else if (c < 0x800)
            *o++ = (char)(0xC0 | c >> 6), *o++ = (char)(0x80 | (c & 0x3F));
        else if (c < 0x10000)
            *o++ = (char)(0xE0 | c >> 12), *o++ = (char)(0x80 | (c >> 6 & 0x3F)),
            *o++ = (char)(0x80 | (c & 0x3F));
        else
            *o++ = (char)(0xF0 | c >> 18), *o++ = (char)(0x80 | (c >> 12 & 0x3F)),
            *o++ = (char)(0x80 | (c >> 6 & 0x3F)), *o++ = (char)(0x80 | (c & 0x3F));
    }
    free(cp);
    if (*never) {
        free(u);
        return NULL;
    }
    *o = '\0';
    *outlen = (size_t)(o - u);
    return u;
}

/* ---- parameters ------------------------------------------------------------ */

typedef struct {
    int n;
    bool oom;
    const char *val[SQL_MAX_BINDS];
    int len[SQL_MAX_BINDS], fmt[SQL_MAX_BINDS];
    Oid type[SQL_MAX_BINDS];
    char *own[SQL_MAX_BINDS];
    char num[SQL_MAX_BINDS][32];
} params;

static void p_reset(params *p) {
    for (int i = 0; i < p->n; i++)
        free(p->own[i]);
    p->n = 0;
    p->oom = false;
}

/* The next parameter, null until given a value; -1 when there is no room. */
static int p_slot(params *p, Oid type) {
    if (p->n >= SQL_MAX_BINDS) {
        p->oom = true;
        return -1;
    }
    int i = p->n++;
    p->val[i] = NULL;
    p->len[i] = 0;
    p->fmt[i] = 0;
    p->type[i] = type;
    p->own[i] = NULL;
    return i;
}

/* Text of n bytes (NULL: null). `copy`: s[n] may not be a NUL. */
static void p_textn(params *p, const char *s, size_t n, bool copy) {
    int i = p_slot(p, OID_TEXT);
    if (i < 0 || !s) return;
    bool plain = !copy;
    for (size_t k = 0; k < n && plain; k++)
        plain = (unsigned char)s[k] > 2;
    if (plain) {
        p->val[i] = s;
        return;
    }
    if (!(p->own[i] = enc_text(s, n, NULL))) p->oom = true;
    p->val[i] = p->own[i];
}

static void p_str(params *p, const char *s) {
    p_textn(p, s, s ? strlen(s) : 0, false);
}
static void p_mstr(params *p, const char *m) {
    p_textn(p, m, mstr_len(m), false);
}

static void p_printf(params *p, Oid type, bool set, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void p_printf(params *p, Oid type, bool set, const char *fmt, ...) {
    int i = p_slot(p, type);
    if (i < 0 || !set) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->num[i], sizeof p->num[i], fmt, ap);
    va_end(ap);
    p->val[i] = p->num[i];
}

static void p_int(params *p, int64_t v) {
    p_printf(p, OID_INT8, true, "%lld", (long long)v);
}
static void p_time(params *p, opt_time t) {
    p_printf(p, OID_INT8, t.set, "%lld", (long long)t.v);
}
/* 17 digits read back to the same double; -0 is stored as 0, as SQLite
 * stores an integral REAL as an integer */
static void p_num(params *p, opt_num v) {
    p_printf(p, OID_FLOAT8, v.set, "%.17g", v.v == 0 ? 0.0 : v.v);
}
/* a quantity as decimal text, which numeric reads exactly */
static void p_dec(params *p, opt_dec v) {
    char buf[DEC_FORMAT_MAX];
    if (v.set) dec_plain(v.v, buf);
    p_printf(p, OID_NUMERIC, v.set, "%s", v.set ? buf : "");
}
static void p_bool(params *p, opt_bool b) {
    p_printf(p, OID_INT4, b >= 0, "%d", b > 0);
}
static int p_bytes(params *p, const void *b, size_t n) {
    int i = p_slot(p, OID_BYTEA);
    if (i < 0) return -1;
    p->val[i] = b;
    p->len[i] = (int)n;
    p->fmt[i] = 1;
    return i;
}

/* ---- results -------------------------------------------------------------- */

static bool r_null(const PGresult *r, int row, int col) {
    return PQgetisnull(r, row, col);
}
static char *r_text(const PGresult *r, int row, int col, int *oom) {
    if (r_null(r, row, col)) return NULL;
    char *m = dec_text(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
    if (!m) *oom = 1;
    return m;
}
static void r_id(const PGresult *r, int row, int col, char *out) {
    snprintf(out, ID_BUF, "%s", PQgetvalue(r, row, col));
}
static int64_t r_int(const PGresult *r, int row, int col) {
    return strtoll(PQgetvalue(r, row, col), NULL, 10); /* "" when null: 0 */
}
static opt_time r_time(const PGresult *r, int row, int col) {
    opt_time v = {!r_null(r, row, col), 0};
    if (v.set) v.v = r_int(r, row, col);
    return v;
}
static opt_num r_num(const PGresult *r, int row, int col) {
    opt_num v = {!r_null(r, row, col), 0};
    if (v.set) v.v = strtod(PQgetvalue(r, row, col), NULL);
    return v;
}
/* numeric(18,6) text ("12.500000"); a value dec.h cannot hold (only a
 * hand-made one: the column's type bounds it) reads as 0 */
static opt_dec r_dec(const PGresult *r, int row, int col) {
    opt_dec v = {!r_null(r, row, col), 0};
    dec_sum d;
    if (v.set &&
        dec_parse(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col), &d) == DEC_OK &&
        d <= DEC_MAX && d >= -DEC_MAX)
        v.v = (dec)d;
    return v;
}
static opt_bool r_bool(const PGresult *r, int row, int col) {
    return r_null(r, row, col) ? -1 : r_int(r, row, col) != 0;
}

/* The SUM of a numeric column, as text; -1 when it is none */
static int r_sum(const PGresult *r, int row, int col, dec_sum *sum) {
    *sum = 0;
    if (r_null(r, row, col)) return 0;
    return dec_parse(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col), sum) == DEC_OK ? 0
                                                                                               : -1;
}

/* ---- connections and the pool -------------------------------------------- */

typedef struct {
    PGconn *pg; /* NULL: not connected, yet or since a failure */
    bool in_use;
    bool prepared[P_COUNT];
    char *cached[PG_LIST_CACHE]; /* list statements prepared on pg: types, '|', SQL */
    unsigned cache_next;
    int64_t deadline;    /* monotonic ms: the current call's end */
    char sqlstate[6];    /* of the last failure */
    char constraint[64]; /* the constraint it broke, if any */
    char error[256];     /* its message */
    params p;
    bool bound; /* holds an idempotent request's transaction (idem_begin) */
    bool sent;  /* run() handed its statement to libpq (reset by each run()) */
} pconn;

typedef struct {
    store base;
    char *dsn;
    size_t npool;
    pconn *pool; /* npool of them */
    pthread_mutex_t lock;
    pthread_cond_t freed;
    int64_t connect_after; /* monotonic ms; under lock */
    char ci[160];          /* dialect.ci_contains, with the folding collation */
    char rank[400];        /* dialect.ci_rank, likewise */
    sql_dialect dialect;
    pthread_key_t tls; /* the connection bound to this thread by idem_begin, or NULL */
} pg_store;

#define PG(x) ((pg_store *)(x))

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop(pconn *c) {
    PQfinish(c->pg);
    c->pg = NULL;
    memset(c->prepared, 0, sizeof c->prepared);
    for (int i = 0; i < PG_LIST_CACHE; i++) {
        free(c->cached[i]);
        c->cached[i] = NULL;
    }
}

static store_rc lost(pconn *c, const char *what) {
    char msg[200];
    snprintf(msg, sizeof msg, "%s", c->pg ? PQerrorMessage(c->pg) : "");
    msg[strcspn(msg, "\n")] = '\0';
    fprintf(stderr, "store_pg: %s: connection lost: %s\n", what, msg);
    snprintf(c->error, sizeof c->error, "connection lost: %s", msg);
    drop(c);
    return STORE_BUSY;
}

/* Send what libpq has queued and wait until a result can be read without
 * blocking, at most until the call's deadline. */
static store_rc wait_ready(pconn *c, const char *what) {
    for (;;) {
        int f = PQflush(c->pg);
        if (f < 0) return lost(c, what);
        if (f == 0 && !PQisBusy(c->pg)) return STORE_OK;
        int ms = (int)(c->deadline - mono_ms());
        if (ms <= 0) {
            fprintf(stderr, "store_pg: %s: no answer in time; dropping the connection\n", what);
            snprintf(c->error, sizeof c->error, "timed out");
            drop(c);
            return STORE_BUSY;
        }
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN | (f ? POLLOUT : 0)};
        int n = poll(&pfd, 1, ms);
        if (n < 0 && errno != EINTR) return lost(c, what);
        if (n > 0 && !PQconsumeInput(c->pg)) return lost(c, what);
    }
}

static bool state_is(const char *state, const char *prefix) {
    return strncmp(state, prefix, strlen(prefix)) == 0;
}

/* The store_rc of a failed statement; a connection that is going away is
 * dropped. Constraint violations are answers, not failures: not logged. */
static store_rc failure(pconn *c, const char *what, const PGresult *res) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    const char *cons = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    snprintf(c->constraint, sizeof c->constraint, "%s", cons ? cons : "");
    snprintf(c->error, sizeof c->error, "%s", res ? PQresultErrorMessage(res) : "no result");
    c->error[strcspn(c->error, "\n")] = '\0';
    if (!state || PQstatus(c->pg) != CONNECTION_OK || state_is(state, "08") ||
        state_is(state, "57P"))
        return lost(c, what); /* connection exceptions, server shutting down */
    if (state_is(state, "23")) return STORE_CONFLICT; /* as SQLite's SQLITE_CONSTRAINT */
    if (strcmp(state, "53100") == 0) {                /* disk_full */
        fprintf(stderr, "store_pg: %s: %s (%s)\n", what, c->error, state);
        return STORE_FULL;
    }
    fprintf(stderr, "store_pg: %s: %s (%s)\n", what, c->error, state);
    /* serialisation, deadlock, lock or statement timeout, resources */
    if (state_is(state, "40") || state_is(state, "55P03") || state_is(state, "57014") ||
        state_is(state, "53"))
        return STORE_BUSY;
    return STORE_ERROR;
}

/* The result of what was sent: STORE_OK with *out (to PQclear) when out is
 * given, or a code. */
static store_rc finish(pconn *c, const char *what, PGresult **out) {
    PGresult *keep = NULL;
    for (;;) {
        store_rc r = wait_ready(c, what);
        if (r != STORE_OK) {
            PQclear(keep);
            return r;
        }
        PGresult *res = PQgetResult(c->pg);
        if (!res) break;
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) { /* keep the first error */
            PQclear(res);
        } else {
            PQclear(keep);
            keep = res;
        }
    }
    ExecStatusType st = PQresultStatus(keep);
    store_rc r = keep && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? STORE_OK
                                                                           : failure(c, what, keep);
    if (r == STORE_OK && out)
        *out = keep;
    else
        PQclear(keep);
    return r;
}

/* Run statement `id` with the parameters gathered in c->p (then cleared). */
static store_rc run(pconn *c, enum stmt_id id, PGresult **out) {
    const char *what = STMT[id].what;
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)id);
    store_rc r = c->p.oom ? STORE_ERROR : c->pg ? STORE_OK : STORE_BUSY;
    c->sent = false;
    if (r == STORE_OK && !c->prepared[id]) {
        r = PQsendPrepare(c->pg, name, STMT[id].sql, 0, NULL) ? finish(c, what, NULL)
                                                              : lost(c, what);
        c->prepared[id] = r == STORE_OK;
    }
    if (r == STORE_OK)
        r = PQsendQueryPrepared(c->pg, name, c->p.n, c->p.val, c->p.len, c->p.fmt, 0)
                ? (c->sent = true, finish(c, what, out))
                : lost(c, what);
    p_reset(&c->p);
    return r;
}

/* Run SQL text made here (not from a client) with c->p, unprepared: the
 * connection's setup and migrations. Several statements when no params. */
static store_rc run_text(pconn *c, const char *what, const char *sql, PGresult **out) {
    store_rc r;
    if (!c->pg)
        r = STORE_BUSY;
    else if (c->p.oom)
        r = STORE_ERROR;
    else if (!(c->p.n ? PQsendQueryParams(c->pg, sql, c->p.n, c->p.type, c->p.val, c->p.len,
                                          c->p.fmt, 0)
                      : PQsendQuery(c->pg, sql)))
        r = lost(c, what);
    else
        r = finish(c, what, out);
    p_reset(&c->p);
    return r;
}

/* Run a list's SQL with c->p, prepared once per connection and text (and
 * parameter types), PG_LIST_CACHE at most: the oldest goes first. */
static store_rc run_cached(pconn *c, const char *sql, PGresult **out) {
    size_t n = strlen(sql);
    char *key = malloc((size_t)c->p.n + 2 + n), name[16];
    store_rc r = !key || c->p.oom ? STORE_ERROR : c->pg ? STORE_OK : STORE_BUSY;
    int slot = -1;
    if (r == STORE_OK) {
        for (int i = 0; i < c->p.n; i++) {
            Oid t = c->p.type[i];
            key[i] = t == OID_TEXT      ? 't'
                     : t == OID_FLOAT8  ? 'f'
                     : t == OID_INT8    ? 'i'
                     : t == OID_INT4    ? 'b'
                     : t == OID_NUMERIC ? 'd'
                                        : 'r';
        }
        key[c->p.n] = '|';
        memcpy(key + c->p.n + 1, sql, n + 1);
        for (int i = 0; i < PG_LIST_CACHE && slot < 0; i++)
            if (c->cached[i] && strcmp(c->cached[i], key) == 0) slot = i;
    }
    if (r == STORE_OK && slot < 0) {
        slot = (int)(c->cache_next++ % PG_LIST_CACHE);
        snprintf(name, sizeof name, "l%d", slot);
        if (c->cached[slot]) {
            char dealloc[32];
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", name);
            free(c->cached[slot]);
            c->cached[slot] = NULL;
            r = PQsendQuery(c->pg, dealloc) ? finish(c, "deallocate", NULL) : lost(c, "deallocate");
        }
        if (r == STORE_OK)
            r = PQsendPrepare(c->pg, name, sql, c->p.n, c->p.type) ? finish(c, "prepare list", NULL)
                                                                   : lost(c, "prepare list");
        if (r == STORE_OK) {
            c->cached[slot] = key;
            key = NULL;
        }
    }
    snprintf(name, sizeof name, "l%d", slot);
    if (r == STORE_OK)
        r = PQsendQueryPrepared(c->pg, name, c->p.n, c->p.val, c->p.len, c->p.fmt, 0)
                ? finish(c, "list", out)
                : lost(c, "list");
    free(key);
    p_reset(&c->p);
    return r;
}

static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message; /* client_min_messages=warning; libpq's own are not for the log */
}

/* Connect c. Fails fast for a while after a failed attempt, so a database
 * that is down costs each request no connect timeout. */
static store_rc conn_open(pg_store *s, pconn *c, char *err, size_t errcap) {
    pthread_mutex_lock(&s->lock);
    bool pause = mono_ms() < s->connect_after;
    pthread_mutex_unlock(&s->lock);
    if (pause) {
        err[0] = '\0'; /* said already */
        return STORE_BUSY;
    }
    /* before dbname: defaults the conninfo may override; after: ours */
    static const char *const keys[] = {
        "connect_timeout",  "keepalives_idle",  "keepalives_interval",
        "keepalives_count", "tcp_user_timeout", "fallback_application_name",
        "dbname",           "client_encoding",  NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT, "10",   "5",    "2", "10000",
                          "entitled",         s->dsn, "UTF8", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errcap, "cannot connect to PostgreSQL: %s",
                 pg ? PQerrorMessage(pg) : "out of memory");
        err[strcspn(err, "\n")] = '\0';
        PQfinish(pg);
        pthread_mutex_lock(&s->lock);
        s->connect_after = mono_ms() + PG_RECONNECT_PAUSE_MS;
        pthread_mutex_unlock(&s->lock);
        return STORE_BUSY;
    }
    PQsetNoticeProcessor(pg, ignore_notice, NULL);
    PQsetnonblocking(pg, 1);
    c->pg = pg;
    /* statement_timeout: the server gives up too; read committed: FOR UPDATE
     * re-reads the locked row's newest version; synchronous_commit: an
     * answered write is durable (raised when the database has it off) */
    store_rc r =
        run_text(c, "session settings",
                 "SELECT set_config('statement_timeout', '" PG_STATEMENT_TIMEOUT "', false), "
                 "set_config('extra_float_digits', '3', false), "
                 "set_config('client_min_messages', 'warning', false), "
                 "set_config('idle_in_transaction_session_timeout', '30s', false), "
                 "set_config('default_transaction_isolation', 'read committed', false), "
                 "CASE WHEN current_setting('synchronous_commit') = 'off' "
                 "THEN set_config('synchronous_commit', 'on', false) END",
                 NULL);
    if (r != STORE_OK) {
        snprintf(err, errcap, "cannot configure the PostgreSQL session: %s", c->error);
        drop(c);
    }
    return r;
}

/* A connection idle in the pool hears from the server only when it goes
 * away (restart, shutdown, idle timeout): look before use, so that a
 * restart costs no request an error. */
static bool idle_alive(pconn *c) {
    for (int i = 0; i < 4; i++) {
        if (PQstatus(c->pg) != CONNECTION_OK) return false;
        struct pollfd pfd = {.fd = PQsocket(c->pg), .events = POLLIN};
        if (poll(&pfd, 1, 0) <= 0) return true;
        if (!PQconsumeInput(c->pg)) return false;
    }
    return PQstatus(c->pg) == CONNECTION_OK;
}

static void give_back(pg_store *s, pconn *c) {
    if (c->bound) { /* the thread keeps it until idem_finish */
        p_reset(&c->p);
        return;
    }
    /* never hand on a transaction (every path ends its own) */
    if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE) drop(c);
    p_reset(&c->p);
    pthread_mutex_lock(&s->lock);
    c->in_use = false;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

/* A free connection, preferably a connected one. Under lock. */
static pconn *pick(pg_store *s) {
    pconn *c = NULL;
    for (size_t i = 0; i < s->npool; i++) {
        pconn *k = &s->pool[i];
        if (!k->in_use && (!c || (k->pg && !c->pg))) c = k;
    }
    return c;
}

/* A connection for one store call: the one bound to this thread, if any (the
 * call then runs inside its transaction), else one from the pool. */
static store_rc borrow(pg_store *s, pconn **out) {
    int64_t start = mono_ms(), until = start + PG_POOL_WAIT_MS;
    pconn *bound = pthread_getspecific(s->tls);
    if (bound) {
        /* never reconnected: the transaction is gone with it (run: busy) */
        bound->deadline = start + PG_BUDGET_MS;
        *out = bound;
        return STORE_OK;
    }
    struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (until % 1000) * 1000000};
    pconn *c;
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    while (!(c = pick(s)) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&s->freed, &s->lock, &ts);
    if (c) c->in_use = true;
    pthread_mutex_unlock(&s->lock);
    if (!c) {
        fprintf(stderr, "store_pg: all %zu connections stayed busy for %d ms (see --pool)\n",
                s->npool, PG_POOL_WAIT_MS);
        return STORE_BUSY;
    }
    c->deadline = start + PG_BUDGET_MS;
    if (c->pg && !idle_alive(c)) drop(c);
    if (!c->pg) {
        char err[512];
        store_rc r = conn_open(s, c, err, sizeof err);
        if (r != STORE_OK) {
            if (err[0]) fprintf(stderr, "store_pg: %s\n", err);
            give_back(s, c);
            return r;
        }
    }
    *out = c;
    return STORE_OK;
}

#define BORROW(c, s)                                                                               \
    pconn *c;                                                                                      \
    do {                                                                                           \
        store_rc b_ = borrow(PG(s), &c);                                                           \
        if (b_ != STORE_OK) return b_;                                                             \
    } while (0)

/* ---- transactions ---------------------------------------------------------- */

/* BEGIN; inside an idempotent request's transaction a savepoint instead, so
 * that a failure undoes this call only (a PostgreSQL error aborts the whole
 * transaction otherwise). */
static store_rc tx_begin(pconn *c) {
    return run(c, c->bound ? P_SAVEPOINT : P_BEGIN, NULL);
}

/* COMMIT when `r` is STORE_OK (which may then fail), else ROLLBACK; or
 * release the savepoint, or undo back to it. */
static store_rc tx_end(pconn *c, store_rc r) {
    p_reset(&c->p);
    if (c->bound) {
        if (r != STORE_OK) run(c, P_ROLLBACK_TO, NULL);
        store_rc rel = run(c, P_RELEASE, NULL);
        return r != STORE_OK ? r : rel;
    }
    if (r == STORE_OK) {
        r = run(c, P_COMMIT, NULL);
        /* A COMMIT sent whose answer never came (the connection lost, the
         * server shutting down, no answer in time: the connection is
         * dropped): the database may have committed it or not, so the
         * client must not be told "retry" as if nothing happened. */
        if (r == STORE_BUSY && c->sent && !c->pg) r = STORE_UNKNOWN;
        return r;
    }
    if (c->pg && PQtransactionStatus(c->pg) != PQTRANS_IDLE) run(c, P_ROLLBACK, NULL);
    return r;
}

/* A single statement is its own transaction; inside an idempotent request's
 * it needs a savepoint, so that its failure (a duplicate id) does not abort
 * the rest. Begin before gathering its parameters. */
static store_rc one_begin(pconn *c) {
    return c->bound ? tx_begin(c) : STORE_OK;
}
static store_rc one_end(pconn *c, store_rc r) {
    return c->bound ? tx_end(c, r) : r;
}

/* A statement that answers one row or none: STORE_NOT_FOUND for none. */
static store_rc run_row(pconn *c, enum stmt_id id, PGresult **out) {
    store_rc r = run(c, id, out);
    if (r == STORE_OK && PQntuples(*out) == 0) {
        PQclear(*out);
        *out = NULL;
        r = STORE_NOT_FOUND;
    }
    return r;
}

/* ---- organisations and keys ------------------------------------------------ */

static store_rc pg_org_create(store *s, const char *id, const char *name, int64_t now) {
    BORROW(c, s);
    store_rc r = one_begin(c);
    if (r == STORE_OK) {
        p_str(&c->p, id);
        p_str(&c->p, name);
        p_int(&c->p, now);
        r = run(c, P_ORG_INSERT, NULL);
    }
    r = one_end(c, r);
    give_back(PG(s), c);
    return r;
}

static store_rc pg_org_exists(store *s, const char *id) {
    BORROW(c, s);
    PGresult *res = NULL;
    p_str(&c->p, id);
    store_rc r = run_row(c, P_ORG_EXISTS, &res);
    PQclear(res);
    give_back(PG(s), c);
    return r;
}

static store_rc pg_apikey_create(store *s, const store_apikey *k) {
    BORROW(c, s);
    store_rc r = one_begin(c);
    if (r == STORE_OK) {
        p_str(&c->p, k->key_id);
        p_str(&c->p, k->org);
        p_bytes(&c->p, k->hash, 32);
        p_int(&c->p, k->created_at);
        r = run(c, P_KEY_INSERT, NULL);
    }
    r = one_end(c, r);
    give_back(PG(s), c);
    return r;
}

static store_rc pg_apikey_get(store *s, const char *key_id, store_apikey *out) {
    BORROW(c, s);
    PGresult *res = NULL;
    p_str(&c->p, key_id);
    store_rc r = run_row(c, P_KEY_GET, &res);
    if (r == STORE_OK) {
        memset(out, 0, sizeof(*out));
        snprintf(out->key_id, ID_BUF, "%s", key_id);
        r_id(res, 0, 0, out->org);
        size_t n = 0;
        unsigned char *h = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 1), &n);
        if (h && n == 32) memcpy(out->hash, h, 32);
        PQfreemem(h);
        out->created_at = r_int(res, 0, 2);
        out->revoked_at = r_int(res, 0, 3);
    }
    PQclear(res);
    give_back(PG(s), c);
    return r;
}

static store_rc pg_apikey_list(store *s, const char *org,
                               bool (*fn)(void *cls, const store_apikey *k), void *cls) {
    BORROW(c, s);
    PGresult *res = NULL;
    p_str(&c->p, org);
    store_rc r = run(c, P_KEY_LIST, &res);
    for (int i = 0; r == STORE_OK && i < PQntuples(res); i++) {
        store_apikey k = {0};
        r_id(res, i, 0, k.key_id);
        snprintf(k.org, ID_BUF, "%s", org);
        k.created_at = r_int(res, i, 1);
        k.revoked_at = r_int(res, i, 2);
        if (!fn(cls, &k)) break;
    }
    PQclear(res);
    give_back(PG(s), c);
    return r;
}

static store_rc pg_apikey_revoke(store *s, const char *key_id, int64_t now, store_apikey *out) {
    BORROW(c, s);
    PGresult *res = NULL;
    store_rc r = one_begin(c);
    if (r == STORE_OK) {
        p_str(&c->p, key_id);
        p_int(&c->p, now);
        r = run_row(c, P_KEY_REVOKE, &res);
    }
    if (r == STORE_OK && out) {
        memset(out, 0, sizeof(*out));
        snprintf(out->key_id, ID_BUF, "%s", key_id);
        r_id(res, 0, 0, out->org);
        out->created_at = r_int(res, 0, 1);
        out->revoked_at = r_int(res, 0, 2);
    }
    PQclear(res);
    r = one_end(c, r);
    give_back(PG(s), c);
    return r;
}

/* ---- customers ----------------------------------------------------------- */

/* Columns as CUST_COLS, from column `b`. */
static int read_customer(const PGresult *r, int row, int b, model_customer *m) {
    int oom = 0;
    memset(m, 0, sizeof(*m));
    r_id(r, row, b, m->id);
    m->customer_name = r_text(r, row, b + 1, &oom);
    m->external_id = r_text(r, row, b + 2, &oom);
    m->email = r_text(r, row, b + 3, &oom);
    m->phone_number = r_text(r, row, b + 4, &oom);
    m->business_entity_id = r_text(r, row, b + 5, &oom);
    m->communications_enabled = r_bool(r, row, b + 6);
    m->auto_charge_enabled = r_bool(r, row, b + 7);
    m->custom_data = r_text(r, row, b + 8, &oom);
    m->address = r_text(r, row, b + 9, &oom);
    m->ship_to_address = r_text(r, row, b + 10, &oom);
    m->tax_info = r_text(r, row, b + 11, &oom);
    m->connector = r_text(r, row, b + 12, &oom);
    m->created_at = r_int(r, row, b + 13);
    m->updated_at = r_int(r, row, b + 14);
    if (oom) model_customer_clear(m);
    return oom ? -1 : 0;
}

/* The customer's columns after id, in CUST_COLS order, then org: the
 * parameters of P_CUST_INSERT from $2 (P_CUST_UPDATE binds them itself). */
static void p_customer(params *p, const model_customer *m) {
    p_mstr(p, m->customer_name);
    p_mstr(p, m->external_id);
    p_mstr(p, m->email);
    p_mstr(p, m->phone_number);
    p_mstr(p, m->business_entity_id);
    p_bool(p, m->communications_enabled);
    p_bool(p, m->auto_charge_enabled);
    if (m->custom_data)
        p_mstr(p, m->custom_data);
    else
        p_str(p, "{}");
    p_mstr(p, m->address);
    p_mstr(p, m->ship_to_address);
    p_mstr(p, m->tax_info);
    p_mstr(p, m->connector);
}

/* The unique index on (org_id, email_key) refused the customer. */
static store_rc duplicate_of(pconn *c, store_rc r) {
    if (r == STORE_CONFLICT && strcmp(c->sqlstate, "23505") == 0 &&
        strcmp(c->constraint, "customers_org_email") == 0)
        return STORE_DUPLICATE;
    return r;
}

static store_rc pg_customer_create(store *s, const char *org, const model_customer *m) {
    char *key = NULL;
    if (m->email && !(key = store_email_key(m->email))) return STORE_ERROR;
    BORROW(c, s);
    store_rc r = one_begin(c);
    if (r == STORE_OK) {
        p_str(&c->p, m->id);
        p_customer(&c->p, m);
        p_int(&c->p, m->created_at);
        p_int(&c->p, m->updated_at);
        p_str(&c->p, org);
        p_str(&c->p, key);
        r = duplicate_of(c, run(c, P_CUST_INSERT, NULL));
    }
    free(key);
    r = one_end(c, r);
    give_back(PG(s), c);
    return r;
}

static store_rc customer_select(pconn *c, enum stmt_id id, const char *org, const char *cid,
                                model_customer *m) {
    PGresult *res = NULL;
    p_str(&c->p, cid);
    p_str(&c->p, org);
    store_rc r = run_row(c, id, &res);
    if (r == STORE_OK && read_customer(res, 0, 0, m) != 0) r = STORE_ERROR;
    PQclear(res);
    return r;
}

static store_rc pg_customer_get(store *s, const char *org, const char *id, model_customer *m) {
    BORROW(c, s);
    store_rc r = customer_select(c, P_CUST_GET, org, id, m);
    give_back(PG(s), c);
    return r;
}

/* ---- entitlements -------------------------------------------------------- */

/* Columns as ENT_COLS, from column `b`. */
static int read_entitlement(const PGresult *r, int row, int b, model_entitlement *e) {
    int oom = 0;
    memset(e, 0, sizeof(*e));
    r_id(r, row, b, e->id);
    e->name = r_text(r, row, b + 1, &oom);
    e->description = r_text(r, row, b + 2, &oom);
    e->entitlement_type = r_text(r, row, b + 3, &oom);
    e->units = r_text(r, row, b + 4, &oom);
    e->is_active = r_bool(r, row, b + 5);
    e->product_id = r_text(r, row, b + 6, &oom);
    e->created_at = r_int(r, row, b + 7);
    e->updated_at = r_int(r, row, b + 8);
    if (oom) model_entitlement_clear(e);
    return oom ? -1 : 0;
}

static store_rc pg_entitlement_create(store *s, const char *org, const model_entitlement *e) {
    BORROW(c, s);
    store_rc r = one_begin(c);
    if (r == STORE_OK) {
        p_str(&c->p, e->id);
        p_mstr(&c->p, e->name);
        p_mstr(&c->p, e->description);
        p_mstr(&c->p, e->entitlement_type);
        p_mstr(&c->p, e->units);
        p_bool(&c->p, e->is_active);
        p_mstr(&c->p, e->product_id);
        p_int(&c->p, e->created_at);
        p_int(&c->p, e->updated_at);
        p_str(&c->p, org);
        r = run(c, P_ENT_INSERT, NULL);
    }
    r = one_end(c, r);
    give_back(PG(s), c);
    return r;
}

static store_rc entitlement_select(pconn *c, enum stmt_id id, const char *org, const char *eid,
                                   model_entitlement *e) {
    PGresult *res = NULL;
    p_str(&c->p, eid);
    p_str(&c->p, org);
    store_rc r = run_row(c, id, &res);
    if (r == STORE_OK && read_entitlement(res, 0, 0, e) != 0) r = STORE_ERROR;
    PQclear(res);
    return r;
}

static store_rc pg_entitlement_get(store *s, const char *org, const char *id,
                                   model_entitlement *e) {
    BORROW(c, s);
    store_rc r = entitlement_select(c, P_ENT_GET, org, id, e);
    give_back(PG(s), c);
    return r;
}

/* ---- customer entitlement rows -------------------------------------------- */

/* A row selected with GRANT_COLS from column 0. */
static int read_grant(const PGresult *r, int row, model_grant *g) {
    int oom = 0;
    memset(g, 0, sizeof(*g));
    r_id(r, row, 0, g->id);
    r_id(r, row, 1, g->entitlement);
    r_id(r, row, 2, g->customer);
    g->active_from = r_time(r, row, 3);
    g->expiry_at = r_time(r, row, 4);
    g->quantity = r_dec(r, row, 5);
    g->quantity_used = r_dec(r, row, 6);
    g->contract_id = r_text(r, row, 7, &oom);
    g->source_type = r_text(r, row, 8, &oom);
    g->source_id = r_text(r, row, 9, &oom);
    g->block_amount = r_num(r, row, 10);
    g->invoice_id = r_text(r, row, 11, &oom);
    g->event = r_text(r, row, 12, &oom);
    g->numeric_value = r_num(r, row, 13);
    g->feature_option_value = r_text(r, row, 14, &oom);
    g->status = r_text(r, row, 15, &oom);
    g->created_at = r_int(r, row, 16);
    g->updated_at = r_int(r, row, 17); /* GRANT_NCOLS columns */
    if (oom) model_grant_clear(g);
    return oom ? -1 : 0;
}

/* ---- the ledger -------------------------------------------------------------- */

/* The organisation's next sequence number, taken as late in the change's
 * transaction as can be: the counter's row lock holds back the
 * organisation's other writers until the commit. */
static store_rc ledger_next(pconn *c, const char *org, int64_t *seq) {
    PGresult *res = NULL;
    p_str(&c->p, org);
    store_rc r = run_row(c, P_LEDGER_NEXT, &res);
    if (r == STORE_OK)
        *seq = r_int(res, 0, 0);
    else if (r == STORE_NOT_FOUND)
        r = STORE_ERROR;
    PQclear(res);
    return r;
}

static dec dec0(opt_dec v) {
    return v.set ? v.v : 0;
}

/* Append the entry of one row's change: `before` NULL for a create, `after`
 * NULL for a delete (store.h's ledger_entry says what each column holds).
 * As store_sqlite.c's, number for number. */
static store_rc ledger_append(pconn *c, const char *org, int64_t seq, ledger_kind kind,
                              const model_grant *before, const model_grant *after, dec drawn,
                              int64_t now, const store_meta *m) {
    const model_grant *row = after ? after : before;
    static const model_grant none; /* all null: the "before" of a create, "after" of a delete */
    const model_grant *b = before ? before : &none, *a = after ? after : &none;
    p_str(&c->p, org);
    p_int(&c->p, seq);
    p_str(&c->p, row->id);
    p_int(&c->p, now);
    p_str(&c->p, ledger_kind_names[kind]);
    p_str(&c->p, row->entitlement);
    p_str(&c->p, row->customer);
    p_dec(&c->p, (opt_dec){true, dec0(a->quantity) - dec0(b->quantity)});
    p_dec(&c->p, (opt_dec){true, kind == LEDGER_CONSUME
                                     ? drawn
                                     : dec0(a->quantity_used) - dec0(b->quantity_used)});
    p_dec(&c->p, a->quantity);
    p_dec(&c->p, a->quantity_used);
    p_time(&c->p, a->active_from);
    p_time(&c->p, a->expiry_at);
    p_str(&c->p, m && m->request_id && *m->request_id ? m->request_id : NULL);
    p_str(&c->p, m && m->idem_key && *m->idem_key ? m->idem_key : NULL);
    return run(c, P_LEDGER_INSERT, NULL);
}

/* One change of one row: a sequence number and its entry. */
static store_rc ledger_change(pconn *c, const char *org, ledger_kind kind,
                              const model_grant *before, const model_grant *after, int64_t now,
                              const store_meta *m) {
    int64_t seq = 0;
    store_rc r = ledger_next(c, org, &seq);
    if (r == STORE_OK) r = ledger_append(c, org, seq, kind, before, after, 0, now, m);
    return r;
}

static store_rc pg_grant_create(store *s, const char *org, const model_grant *g, int64_t now,
                                const store_meta *m) {
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r != STORE_OK) {
        give_back(PG(s), c);
        return r;
    }
    p_str(&c->p, g->id);
    p_str(&c->p, g->entitlement);
    p_str(&c->p, g->customer);
    p_time(&c->p, g->active_from);
    p_time(&c->p, g->expiry_at);
    p_dec(&c->p, g->quantity);
    p_dec(&c->p, g->quantity_used);
    p_mstr(&c->p, g->contract_id);
    p_mstr(&c->p, g->source_type);
    p_mstr(&c->p, g->source_id);
    p_num(&c->p, g->block_amount);
    p_mstr(&c->p, g->invoice_id);
    p_mstr(&c->p, g->event);
    p_num(&c->p, g->numeric_value);
    p_mstr(&c->p, g->feature_option_value);
    p_mstr(&c->p, g->status);
    p_int(&c->p, g->created_at);
    p_int(&c->p, g->updated_at);
    p_str(&c->p, org);
    r = run(c, P_GRANT_INSERT, NULL);
    /* A foreign key failure means the entitlement or customer vanished
     * between the handler's check and this insert. */
    if (r == STORE_CONFLICT && strcmp(c->sqlstate, "23503") == 0) r = STORE_NOT_FOUND;
    if (r == STORE_OK) r = ledger_change(c, org, LEDGER_CREATE, NULL, g, now, m);
    r = tx_end(c, r);
    give_back(PG(s), c);
    return r;
}

static store_rc grant_select(pconn *c, enum stmt_id sid, const char *org, const char *ent,
                             const char *cust, const char *id, model_grant *out) {
    PGresult *res = NULL;
    p_str(&c->p, id);
    p_str(&c->p, org);
    p_str(&c->p, ent);
    p_str(&c->p, cust);
    store_rc r = run_row(c, sid, &res);
    if (r == STORE_OK && read_grant(res, 0, out) != 0) r = STORE_ERROR;
    PQclear(res);
    return r;
}

static store_rc pg_grant_get(store *s, const char *org, const char *ent, const char *cust,
                             const char *id, model_grant *out) {
    BORROW(c, s);
    store_rc r = grant_select(c, P_GRANT_GET, org, ent, cust, id, out);
    give_back(PG(s), c);
    return r;
}

/* PATCH: lock the row, merge, check, write and commit in one transaction;
 * a second writer of the row (in any process) waits for the lock and then
 * reads this one's result, so neither change is lost. */
static store_rc pg_grant_update(store *s, const char *org, const char *ent, const char *cust,
                                const char *id, const model_grant_patch *p, int64_t now,
                                const store_meta *m, model_grant *out) {
    memset(out, 0, sizeof(*out)); /* so every exit may clear it */
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = grant_select(c, P_GRANT_LOCK, org, ent, cust, id, out);
    model_grant before = *out; /* shallow: only its numbers are read */
    if (r == STORE_OK) {
        model_grant_apply(out, p);
        if (!model_grant_window_ok(out)) r = STORE_WINDOW;
    }
    if (r == STORE_OK) {
        out->updated_at = now;
        p_time(&c->p, out->active_from);
        p_time(&c->p, out->expiry_at);
        p_dec(&c->p, out->quantity);
        p_dec(&c->p, out->quantity_used);
        p_int(&c->p, now);
        p_str(&c->p, out->id);
        r = run(c, P_GRANT_UPDATE, NULL);
    }
    if (r == STORE_OK) r = ledger_change(c, org, LEDGER_UPDATE, &before, out, now, m);
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK) model_grant_clear(out);
    return r;
}

static store_rc pg_grant_delete(store *s, const char *org, const char *ent, const char *cust,
                                const char *id, int64_t now, const store_meta *m,
                                model_grant *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = grant_select(c, P_GRANT_LOCK, org, ent, cust, id, out);
    if (r == STORE_OK) {
        p_str(&c->p, out->id);
        r = run(c, P_GRANT_DELETE, NULL);
    }
    if (r == STORE_OK) r = ledger_change(c, org, LEDGER_DELETE, out, NULL, now, m);
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK) model_grant_clear(out);
    return r;
}

static store_rc pg_grant_total(store *s, const char *org, const char *ent, const char *cust,
                               bool has_from, int64_t from, bool has_to, int64_t to, dec_sum *sum) {
    BORROW(c, s);
    PGresult *res = NULL;
    p_str(&c->p, org);
    p_str(&c->p, ent);
    p_str(&c->p, cust);
    p_time(&c->p, (opt_time){has_from, from});
    p_time(&c->p, (opt_time){has_to, to});
    store_rc r = run(c, P_GRANT_TOTAL, &res);
    if (r == STORE_OK && (PQntuples(res) != 1 || r_sum(res, 0, 0, sum) != 0)) r = STORE_ERROR;
    PQclear(res);
    give_back(PG(s), c);
    return r;
}

/* ---- updates and deletes of entitlements and customers --------------------- */

/* Is the object still used by customer entitlement rows? */
static store_rc in_use(pconn *c, enum stmt_id id, const char *org, const char *obj) {
    PGresult *res = NULL;
    p_str(&c->p, obj);
    p_str(&c->p, org);
    store_rc r = run_row(c, id, &res);
    PQclear(res);
    return r == STORE_OK ? STORE_CONFLICT : r == STORE_NOT_FOUND ? STORE_OK : r;
}

static store_rc pg_entitlement_update(store *s, const char *org, const char *id,
                                      void (*apply)(void *ctx, model_entitlement *e), void *ctx,
                                      int64_t now, model_entitlement *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = entitlement_select(c, P_ENT_LOCK, org, id, out);
    if (r == STORE_OK) {
        apply(ctx, out);
        out->updated_at = now;
        p_str(&c->p, out->id);
        p_str(&c->p, org);
        p_mstr(&c->p, out->name);
        p_mstr(&c->p, out->description);
        p_mstr(&c->p, out->entitlement_type);
        p_mstr(&c->p, out->units);
        p_bool(&c->p, out->is_active);
        p_mstr(&c->p, out->product_id);
        p_int(&c->p, now);
        r = run(c, P_ENT_UPDATE, NULL);
    }
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK) model_entitlement_clear(out);
    return r;
}

/* The entitlement's row lock also waits for a row being inserted with it
 * (the insert's foreign key check locks it), so "in use" sees that row. */
static store_rc pg_entitlement_delete(store *s, const char *org, const char *id,
                                      model_entitlement *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = entitlement_select(c, P_ENT_LOCK, org, id, out);
    if (r == STORE_OK) r = in_use(c, P_ENT_IN_USE, org, id);
    if (r == STORE_OK) {
        p_str(&c->p, id);
        p_str(&c->p, org);
        r = run(c, P_ENT_DELETE, NULL);
    }
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK) model_entitlement_clear(out);
    return r;
}

static store_rc pg_customer_update(store *s, const char *org, const char *id,
                                   void (*apply)(void *ctx, model_customer *m), void *ctx,
                                   int64_t now, model_customer *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = customer_select(c, P_CUST_LOCK, org, id, out);
    if (r == STORE_OK) {
        apply(ctx, out);
        out->updated_at = now;
        p_str(&c->p, out->id);
        p_str(&c->p, org);
        p_customer(&c->p, out);
        p_int(&c->p, now);
        char *key = NULL;
        if (out->email && !(key = store_email_key(out->email))) r = STORE_ERROR;
        p_str(&c->p, key);
        if (r == STORE_OK) r = duplicate_of(c, run(c, P_CUST_UPDATE, NULL));
        free(key);
    }
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK) model_customer_clear(out);
    return r;
}

static store_rc pg_customer_delete(store *s, const char *org, const char *id, model_customer *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = customer_select(c, P_CUST_LOCK, org, id, out);
    if (r == STORE_OK) r = in_use(c, P_CUST_IN_USE, org, id);
    if (r == STORE_OK) {
        p_str(&c->p, id);
        p_str(&c->p, org);
        r = run(c, P_CUST_DELETE, NULL);
    }
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK) model_customer_clear(out);
    return r;
}

/* ---- consumption -------------------------------------------------------------- */

static void rows_free(model_grant *rows, size_t n) {
    for (size_t i = 0; i < n; i++)
        model_grant_clear(&rows[i]);
    free(rows);
}

/* Lock the pair's rows active at `at` (in id order) and return them in
 * burn order (heap array). A row changed by a writer we waited for is read
 * as it is now, so the burn order is the rows' once all are locked. */
static store_rc lock_active_rows(pconn *c, const char *org, const char *ent, const char *cust,
                                 int64_t at, model_grant **rows, size_t *n) {
    PGresult *res = NULL;
    *rows = NULL;
    *n = 0;
    p_str(&c->p, org);
    p_str(&c->p, ent);
    p_str(&c->p, cust);
    p_int(&c->p, at);
    store_rc r = run(c, P_CONSUME_LOCK, &res);
    size_t k = r == STORE_OK ? (size_t)PQntuples(res) : 0;
    if (k && !(*rows = calloc(k, sizeof **rows))) r = STORE_ERROR;
    for (size_t i = 0; r == STORE_OK && i < k; i++, (*n)++)
        if (read_grant(res, (int)i, &(*rows)[i]) != 0) r = STORE_ERROR;
    PQclear(res);
    if (r == STORE_OK && k > 1) qsort(*rows, k, sizeof **rows, consume_burn_cmp);
    return r;
}

/* Lock, plan (consume_plan, shared with SQLite), write the drawn rows and
 * their entries, in one transaction: a second consumer of the pair waits
 * for the row locks and then reads what this one left. */
static store_rc pg_consume(store *s, const char *org, const char *ent, const char *cust,
                           dec quantity, int64_t at, int64_t now, const store_meta *m,
                           consume_result *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    model_grant *rows = NULL;
    size_t n = 0;
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = lock_active_rows(c, org, ent, cust, at, &rows, &n);
    if (r == STORE_OK && n && !(out->draws = calloc(n, sizeof *out->draws))) r = STORE_ERROR;
    if (r == STORE_OK && !consume_plan(rows, n, quantity, out)) r = STORE_SHORT;
    for (size_t i = 0, k = 0; r == STORE_OK && i < n && k < out->ndraws; i++) {
        const consume_draw *d = &out->draws[k];
        if (strcmp(d->row, rows[i].id) != 0) continue;
        k++;
        p_dec(&c->p, (opt_dec){true, d->quantity_used});
        p_int(&c->p, now);
        p_str(&c->p, d->row);
        r = run(c, P_CONSUME_UPDATE, NULL);
    }
    /* the number after the row writes: the counter is locked the shortest */
    if (r == STORE_OK) r = ledger_next(c, org, &out->seq);
    for (size_t i = 0, k = 0; r == STORE_OK && i < n && k < out->ndraws; i++) {
        const consume_draw *d = &out->draws[k];
        if (strcmp(d->row, rows[i].id) != 0) continue;
        k++;
        model_grant after = rows[i]; /* shallow: the entry reads ids and numbers */
        after.quantity_used = (opt_dec){true, d->quantity_used};
        r = ledger_append(c, org, out->seq, LEDGER_CONSUME, &rows[i], &after, d->drawn, now, m);
    }
    rows_free(rows, n);
    r = tx_end(c, r);
    give_back(PG(s), c);
    if (r != STORE_OK && r != STORE_SHORT) consume_result_clear(out);
    return r;
}

static store_rc pg_balance_at(store *s, const char *org, const char *ent, const char *cust,
                              int64_t at, store_balance *out) {
    memset(out, 0, sizeof(*out));
    BORROW(c, s);
    PGresult *res = NULL;
    p_str(&c->p, org);
    p_str(&c->p, ent);
    p_str(&c->p, cust);
    p_int(&c->p, at);
    store_rc r = run(c, P_BALANCE, &res);
    for (int i = 0; r == STORE_OK && i < PQntuples(res); i++) {
        if (strcmp(PQgetvalue(res, i, 0), "delete") == 0) continue;
        opt_time from = r_time(res, i, 3), to = r_time(res, i, 4);
        if ((from.set && from.v > at) || (to.set && at >= to.v)) continue;
        store_balance_add(out, r_dec(res, i, 1), r_dec(res, i, 2));
    }
    PQclear(res);
    give_back(PG(s), c);
    return r;
}

/* ---- idempotency ------------------------------------------------------------------
 * idem_begin borrows a connection for the whole request and binds it to the
 * calling thread (s->tls, c->bound): until idem_finish, the thread's store
 * calls borrow that one and run inside its transaction, each as a
 * savepoint. The key's lock is a transaction advisory lock, so a second
 * request with the key, in any process, waits until the first has
 * committed (and then finds its answer) or rolled back (and runs). */

/* The key's advisory lock: SHA-256 of org, NUL, key, its first 8 bytes.
 * (Two keys may share a lock: they then wait for each other, no more.) */
static int64_t idem_lock_id(const char *org, const char *key) {
    char buf[ID_BUF + IDEM_KEY_MAX];
    size_t no = strnlen(org, ID_BUF - 1), nk = strnlen(key, IDEM_KEY_MAX);
    uint8_t h[32];
    memcpy(buf, org, no);
    buf[no] = '\0';
    memcpy(buf + no + 1, key, nk);
    sha256(buf, no + 1 + nk, h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[i];
    return (int64_t)v;
}

/* A bytea column as heap bytes (NUL-terminated, free()), or NULL. */
static char *r_bytes(const PGresult *r, int row, int col, size_t *n) {
    unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), n);
    char *b = u ? malloc(*n + 1) : NULL;
    if (b) {
        memcpy(b, u, *n);
        b[*n] = '\0';
    }
    PQfreemem(u);
    return b;
}

static store_rc idem_read(const PGresult *res, store_idem *out) {
    size_t n = 0;
    char *fp = r_bytes(res, 0, 2, &n);
    out->status = (unsigned)r_int(res, 0, 0);
    out->body = r_bytes(res, 0, 1, &out->body_len);
    if (fp && n == 32) memcpy(out->fingerprint, fp, 32);
    store_rc r = out->body && fp && n == 32 ? STORE_OK : STORE_ERROR;
    free(fp);
    if (r != STORE_OK) {
        free(out->body);
        memset(out, 0, sizeof(*out));
    }
    return r;
}

static store_rc pg_idem_begin(store *s, const char *org, const char *key, bool *found,
                              store_idem *out) {
    memset(out, 0, sizeof(*out));
    *found = false;
    if (pthread_getspecific(PG(s)->tls)) return STORE_ERROR; /* one at a time per thread */
    BORROW(c, s);
    PGresult *res = NULL;
    store_rc r = tx_begin(c);
    /* no key (issue 7, api_write_begin): no lock, no lookup, only the held transaction */
    if (r == STORE_OK && key) {
        p_int(&c->p, idem_lock_id(org, key));
        r = run(c, P_IDEM_LOCK, NULL);
    }
    if (r == STORE_OK && key) {
        p_str(&c->p, org);
        p_str(&c->p, key);
        r = run(c, P_IDEM_GET, &res);
    }
    if (r == STORE_OK && res && PQntuples(res) == 1) {
        r = idem_read(res, out);
        *found = r == STORE_OK;
    }
    PQclear(res);
    if (r == STORE_OK && !*found && pthread_setspecific(PG(s)->tls, c) == 0) {
        c->bound = true;
        return STORE_OK;
    }
    /* an answer, or a failure: nothing to keep (a rollback: nothing written) */
    tx_end(c, STORE_ERROR);
    give_back(PG(s), c);
    return r == STORE_OK && !*found ? STORE_ERROR : r;
}

static store_rc pg_idem_finish(store *s, const char *org, const char *key, const store_idem *answer,
                               const char *request_id, int64_t now) {
    pconn *c = pthread_getspecific(PG(s)->tls);
    if (!c) return STORE_ERROR;
    c->deadline = mono_ms() + PG_BUDGET_MS;
    store_rc r = STORE_OK;
    if (answer && key) { /* into the transaction itself: a failure fails the commit;
                          * no key (issue 7): commit, nothing to store */
        p_str(&c->p, org);
        p_str(&c->p, key);
        p_bytes(&c->p, answer->fingerprint, 32);
        p_int(&c->p, (int64_t)answer->status);
        p_bytes(&c->p, answer->body ? answer->body : "", answer->body_len);
        p_str(&c->p, request_id);
        p_int(&c->p, now);
        r = run(c, P_IDEM_INSERT, NULL);
    }
    c->bound = false;
    pthread_setspecific(PG(s)->tls, NULL);
    /* no answer to keep: roll everything back */
    store_rc end = tx_end(c, answer ? r : STORE_ERROR);
    give_back(PG(s), c);
    return answer ? end : STORE_OK;
}

static store_rc pg_idem_prune(store *s, int64_t before, int64_t *deleted) {
    *deleted = 0;
    BORROW(c, s);
    PGresult *res = NULL;
    store_rc r = one_begin(c);
    if (r == STORE_OK) {
        p_int(&c->p, before);
        r = run(c, P_IDEM_PRUNE, &res);
    }
    if (r == STORE_OK) *deleted = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    r = one_end(c, r);
    give_back(PG(s), c);
    return r;
}

/* ---- scans for verify ---------------------------------------------------------- */

/* A ledger entry selected with SQL_LEDGER_COLS from column `b`. */
static int read_ledger(const PGresult *r, int row, int b, ledger_entry *e) {
    memset(e, 0, sizeof(*e));
    r_id(r, row, b, e->org);
    e->seq = r_int(r, row, b + 1);
    e->at = r_int(r, row, b + 2);
    int kind = sql_ledger_kind(PQgetvalue(r, row, b + 3));
    if (kind < 0) return -1; /* the table's CHECK allows no other kind */
    e->kind = (ledger_kind)kind;
    r_id(r, row, b + 4, e->row);
    r_id(r, row, b + 5, e->entitlement);
    r_id(r, row, b + 6, e->customer);
    e->quantity_delta = r_dec(r, row, b + 7).v;
    e->quantity_used_delta = r_dec(r, row, b + 8).v;
    e->quantity = r_dec(r, row, b + 9);
    e->quantity_used = r_dec(r, row, b + 10);
    e->active_from = r_time(r, row, b + 11);
    e->expiry_at = r_time(r, row, b + 12);
    snprintf(e->request_id, sizeof e->request_id, "%s", PQgetvalue(r, row, b + 13));
    snprintf(e->idem_key, sizeof e->idem_key, "%s", PQgetvalue(r, row, b + 14));
    return 0;
}

#define SCAN_CURSOR "DECLARE scan NO SCROLL CURSOR FOR "
#define SCAN_CHUNK "10000"

/* Run `declare` (SCAN_CURSOR and a query), reading SCAN_CHUNK rows at a time
 * (a whole table in one result would be held in memory at once), calling
 * row(cls, res, i, &r) until it returns false; one transaction, so one
 * snapshot throughout. Each chunk has the time of a store call. */
static store_rc scan(store *s, const char *declare,
                     bool (*row)(void *cls, const PGresult *res, int i, store_rc *r), void *cls) {
    BORROW(c, s);
    store_rc r = tx_begin(c);
    if (r == STORE_OK) r = run_text(c, "scan", declare, NULL);
    for (bool go = true; r == STORE_OK && go;) {
        PGresult *res = NULL;
        c->deadline = mono_ms() + PG_BUDGET_MS;
        r = run_text(c, "scan", "FETCH " SCAN_CHUNK " FROM scan", &res);
        int n = r == STORE_OK ? PQntuples(res) : 0;
        go = n > 0;
        for (int i = 0; i < n && go; i++)
            go = row(cls, res, i, &r);
        PQclear(res);
    }
    /* the cursor closes with the transaction (read only: commit or not) */
    r = tx_end(c, r);
    give_back(PG(s), c);
    return r;
}

typedef struct {
    bool (*fn)(void *cls, const ledger_entry *e);
    void *cls;
} scan_ledger_ctx;

static bool scan_ledger_row(void *cls, const PGresult *res, int i, store_rc *r) {
    scan_ledger_ctx *x = cls;
    ledger_entry e;
    if (read_ledger(res, i, 0, &e) != 0) {
        *r = STORE_ERROR;
        return false;
    }
    return x->fn(x->cls, &e);
}

static store_rc pg_scan_ledger(store *s, bool (*fn)(void *cls, const ledger_entry *e), void *cls) {
    scan_ledger_ctx x = {fn, cls};
    return scan(s,
                SCAN_CURSOR "SELECT " SQL_LEDGER_COLS " FROM ledger t "
                            "ORDER BY t.org_id, t.row_id, t.seq",
                scan_ledger_row, &x);
}

typedef struct {
    bool (*fn)(void *cls, const char *org, const model_grant *g);
    void *cls;
} scan_rows_ctx;

static bool scan_rows_row(void *cls, const PGresult *res, int i, store_rc *r) {
    scan_rows_ctx *x = cls;
    model_grant g;
    char org[ID_BUF];
    if (read_grant(res, i, &g) != 0) {
        *r = STORE_ERROR;
        return false;
    }
    r_id(res, i, GRANT_NCOLS, org);
    bool go = x->fn(x->cls, org, &g);
    model_grant_clear(&g);
    return go;
}

static store_rc pg_scan_rows(store *s, bool (*fn)(void *cls, const char *org, const model_grant *g),
                             void *cls) {
    scan_rows_ctx x = {fn, cls};
    return scan(s,
                SCAN_CURSOR "SELECT " GRANT_COLS ", org_id FROM customer_entitlements "
                            "ORDER BY org_id, id",
                scan_rows_row, &x);
}

/* ---- lists ------------------------------------------------------------------
 * The SQL is store_sql.c's, in this store's dialect; here it is bound, run
 * and read. */

/* Bind the builder's values into c->p. */
static void p_built(params *p, const sql_builder *b) {
    for (int i = 0; i < b->nbinds; i++) {
        const list_value *v = &b->binds[i];
        if (v->type == LV_TEXT) {
            p_textn(p, v->s, v->len, true);
        } else if (v->type == LV_NUM) {
            p_num(p, (opt_num){true, v->n});
        } else if (v->type == LV_DEC) {
            p_dec(p, (opt_dec){true, v->d});
        } else if (v->type == LV_TIME) {
            p_int(p, v->t);
        } else {
            p_bool(p, v->b);
        }
    }
}

static store_rc run_built(pconn *c, const sql_builder *b, PGresult **out) {
    if (b->failed) return STORE_ERROR;
    p_built(&c->p, b);
    return run_cached(c, b->buf, out);
}

/* Read up to `want` rows of one segment, appending to `out`. */
static store_rc list_segment(pg_store *s, pconn *c, const list_query *q, const sql_field *sf,
                             sql_segment seg, bool from_position, size_t want, list_result *out,
                             size_t cap) {
    sql_builder b = {0};
    PGresult *res = NULL;
    sql_list_rows(&b, &s->dialect, q, sf, seg, from_position, want);
    store_rc r = run_built(c, &b, &res);
    sql_builder_free(&b);
    for (int row = 0; r == STORE_OK && row < PQntuples(res); row++) {
        if (out->n == cap) {
            out->more = true;
            break;
        }
        int bad = 0;
        size_t i = out->n;
        switch (q->kind) {
        case LIST_ENTITLEMENTS:
            bad = read_entitlement(res, row, 0, &out->ents[i]);
            break;
        case LIST_CUSTOMERS:
            bad = read_customer(res, row, 0, &out->custs[i]);
            if (out->ranks) out->ranks[i] = (int)r_int(res, row, SQL_CUST_NCOLS);
            break;
        case LIST_UNIQUE:
            bad = read_entitlement(res, row, 0, &out->uniq[i].e);
            bad |= r_sum(res, row, 9, &out->uniq[i].total_quantity);
            bad |= r_sum(res, row, 10, &out->uniq[i].total_quantity_used);
            out->uniq[i].expired = r_int(res, row, 11);
            break;
        case LIST_GRANTS: {
            list_grant *g = &out->grants[i];
            int oom = 0;
            bad = read_grant(res, row, &g->g);
            g->ent_name = r_text(res, row, GRANT_NCOLS, &oom);
            g->ent_units = r_text(res, row, GRANT_NCOLS + 1, &oom);
            g->ent_type = r_text(res, row, GRANT_NCOLS + 2, &oom);
            g->product_id = r_text(res, row, GRANT_NCOLS + 3, &oom);
            g->cust_name = r_text(res, row, GRANT_NCOLS + 4, &oom);
            g->cust_email = r_text(res, row, GRANT_NCOLS + 5, &oom);
            bad |= oom;
            break;
        }
        case LIST_LEDGER:
            bad = read_ledger(res, row, 0, &out->entries[i]);
            break;
        }
        out->n++; /* counted even when bad, so clear() frees what was read */
        if (bad) r = STORE_ERROR;
    }
    PQclear(res);
    return r;
}

static store_rc list_count(pg_store *s, pconn *c, const list_query *q, int64_t *total) {
    sql_builder b = {0};
    PGresult *res = NULL;
    sql_list_count(&b, &s->dialect, q);
    store_rc r = run_built(c, &b, &res);
    sql_builder_free(&b);
    if (r == STORE_OK && PQntuples(res) == 1)
        *total = r_int(res, 0, 0);
    else if (r == STORE_OK)
        r = STORE_ERROR;
    PQclear(res);
    return r;
}

static store_rc pg_list(store *s, const list_query *q0, list_result *out) {
    memset(out, 0, sizeof(*out));
    const sql_field *sf =
        sql_field_of(q0->kind == LIST_UNIQUE ? LIST_ENTITLEMENTS : q0->kind, q0->sort);
    if (!sf || q0->limit < 1) return STORE_ERROR;
    if (!list_result_alloc(q0, out)) return STORE_ERROR;
    size_t cap = (size_t)q0->limit;
    list_query q = *q0;
    char *needle = NULL;
    bool never = false;
    if (q.search && q.search_len) {
        needle = needle_utf8(q.search, q.search_len, &q.search_len, &never);
        if (!needle && !never) {
            list_result_clear(out);
            return STORE_ERROR;
        }
        q.search = needle;
    }
    pconn *c;
    store_rc r = borrow(PG(s), &c);
    if (r != STORE_OK) {
        free(needle);
        list_result_clear(out);
        return r;
    }
    /* the segments in reading order, from the one holding the position */
    sql_segment seg[2];
    int nseg = never ? 0 : sql_segments(&q, sf, seg);
    for (int k = 0; k < nseg && r == STORE_OK && !out->more; k++)
        r = list_segment(PG(s), c, &q, sf, seg[k], q.has_after && k == 0, cap + 1 - out->n, out,
                         cap);
    if (r == STORE_OK && !q.skip_total && !never) r = list_count(PG(s), c, &q, &out->total);
    give_back(PG(s), c);
    free(needle);
    if (r != STORE_OK) list_result_clear(out);
    return r;
}

/* ---- opening ----------------------------------------------------------------- */

/* The collation lower() folds with: SQLite's ci_contains folds with
 * towlower() of C.UTF-8, and so does PostgreSQL's lower() under a libc
 * C.UTF-8 collation. The columns' own "C" would fold ASCII only. */
static int choose_folding(pg_store *s, pconn *c, char *err, size_t errcap) {
    PGresult *res = NULL;
    store_rc r = run_text(c, "database settings",
                          "SELECT current_setting('server_encoding'), "
                          "(SELECT collname FROM pg_collation WHERE collprovider = 'c' "
                          "AND collname IN ('C.utf8', 'C.UTF-8') AND collencoding IN "
                          "(-1, pg_char_to_encoding('UTF8')) ORDER BY collname DESC LIMIT 1), "
                          "(SELECT datctype FROM pg_database WHERE datname = current_database())",
                          &res);
    if (r != STORE_OK) {
        snprintf(err, errcap, "cannot read the database's settings: %s", c->error);
        return -1;
    }
    const char *enc = PQgetvalue(res, 0, 0), *coll = PQgetvalue(res, 0, 1);
    const char *ctype = PQgetvalue(res, 0, 2);
    if (strcmp(enc, "UTF8") != 0) {
        snprintf(err, errcap,
                 "the database's encoding is %s; entitled needs UTF8 "
                 "(CREATE DATABASE ... ENCODING 'UTF8')",
                 enc);
        PQclear(res);
        return -1;
    }
    const char *use = strcmp(coll, "C.utf8") == 0    ? "\"C.utf8\""
                      : strcmp(coll, "C.UTF-8") == 0 ? "\"C.UTF-8\""
                                                     : "\"default\"";
    if (use[1] == 'd')
        fprintf(stderr,
                "store_pg: no C.utf8 collation; case-insensitive matching folds with the "
                "database's LC_CTYPE (%s)%s\n",
                ctype,
                strcmp(ctype, "C") == 0 || strcmp(ctype, "POSIX") == 0 ? ": ASCII only" : "");
    PQclear(res);
    snprintf(s->ci, sizeof s->ci, "strpos(lower(%%s COLLATE %s), lower(%%s COLLATE %s)) > 0", use,
             use);
    /* ci_contains's strpos: the first occurrence at 1 is a prefix, and an
     * equal text is the prefix of the same length */
    snprintf(s->rank, sizeof s->rank,
             "CASE COALESCE(strpos(lower(%%c COLLATE %s), lower(%%v COLLATE %s)), 0) "
             "WHEN 0 THEN 3 WHEN 1 THEN CASE WHEN lower(%%c COLLATE %s) = lower(%%v COLLATE %s) "
             "THEN 0 ELSE 1 END ELSE 2 END",
             use, use, use, use);
    return 0;
}

static int migrate(pconn *c, char *err, size_t errcap) {
    static const char LOCK[] = "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")";
    /* the schema_migrations table itself under the lock too: two CREATE
     * TABLE IF NOT EXISTS at once can both try to create it */
    store_rc r = run_text(c, "migrate", "BEGIN", NULL);
    if (r == STORE_OK) r = run_text(c, "migration lock", LOCK, NULL);
    if (r == STORE_OK)
        r = run_text(c, "schema_migrations",
                     "CREATE TABLE IF NOT EXISTS schema_migrations("
                     "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
                     NULL);
    /* a newer binary's schema: its rows may mean what this one does not know */
    PGresult *top = NULL;
    if (r == STORE_OK)
        r = run_text(c, "schema version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                     &top);
    long long have = r == STORE_OK && PQntuples(top) == 1 ? atoll(PQgetvalue(top, 0, 0)) : 0;
    PQclear(top);
    r = tx_end(c, r);
    if (r == STORE_OK && have > (long long)N_MIGRATIONS) {
        snprintf(err, errcap, STORE_SCHEMA_NEWER, have, N_MIGRATIONS);
        return -1;
    }
    for (size_t v = 1; v <= N_MIGRATIONS && r == STORE_OK; v++) {
        PGresult *res = NULL;
        r = run_text(c, "migrate", "BEGIN", NULL);
        /* another process may hold the lock for its own migration */
        if (r == STORE_OK) r = run_text(c, "migrate", "SET LOCAL statement_timeout = '120s'", NULL);
        if (r == STORE_OK) r = run_text(c, "migration lock", LOCK, NULL);
        if (r == STORE_OK) {
            p_int(&c->p, (int64_t)v);
            r = run_text(c, "migration version",
                         "SELECT 1 FROM schema_migrations WHERE version = $1", &res);
        }
        if (r == STORE_OK && PQntuples(res) == 0) {
            r = run_text(c, "migration", MIGRATIONS[v - 1], NULL);
            p_int(&c->p, (int64_t)v);
            p_int(&c->p, dt_now());
            if (r == STORE_OK)
                r = run_text(c, "migration record",
                             "INSERT INTO schema_migrations(version, applied_at) VALUES ($1, $2)",
                             NULL);
        }
        PQclear(res);
        r = tx_end(c, r);
        if (r != STORE_OK) {
            snprintf(err, errcap, "schema migration %zu failed: %s", v, c->error);
            return -1;
        }
    }
    if (r != STORE_OK) snprintf(err, errcap, "schema migration failed: %s", c->error);
    return r == STORE_OK ? 0 : -1;
}

static void pg_close(store *base) {
    pg_store *s = PG(base);
    for (size_t i = 0; s->pool && i < s->npool; i++) {
        drop(&s->pool[i]);
        p_reset(&s->pool[i].p);
    }
    free(s->pool);
    pthread_key_delete(s->tls);
    pthread_cond_destroy(&s->freed);
    pthread_mutex_destroy(&s->lock);
    free(s->dsn);
    free(s);
}

static const store_ops PG_OPS = {
    .name = "postgresql",
    .close = pg_close,
    .org_create = pg_org_create,
    .org_exists = pg_org_exists,
    .apikey_create = pg_apikey_create,
    .apikey_get = pg_apikey_get,
    .apikey_list = pg_apikey_list,
    .apikey_revoke = pg_apikey_revoke,
    .customer_create = pg_customer_create,
    .customer_get = pg_customer_get,
    .entitlement_create = pg_entitlement_create,
    .entitlement_get = pg_entitlement_get,
    .grant_create = pg_grant_create,
    .grant_get = pg_grant_get,
    .grant_update = pg_grant_update,
    .grant_delete = pg_grant_delete,
    .grant_total = pg_grant_total,
    .entitlement_update = pg_entitlement_update,
    .entitlement_delete = pg_entitlement_delete,
    .customer_update = pg_customer_update,
    .customer_delete = pg_customer_delete,
    .list = pg_list,
    .consume = pg_consume,
    .balance_at = pg_balance_at,
    .idem_begin = pg_idem_begin,
    .idem_finish = pg_idem_finish,
    .idem_prune = pg_idem_prune,
    .scan_ledger = pg_scan_ledger,
    .scan_rows = pg_scan_rows,
};

store *store_pg_open(const char *conninfo, unsigned pool, char *err, size_t errcap) {
    pg_store *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->base.ops = &PG_OPS;
    s->npool = pool ? pool : 1;
    if (pthread_key_create(&s->tls, NULL) != 0) {
        snprintf(err, errcap, "out of thread-specific keys");
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->freed, &ca);
    pthread_condattr_destroy(&ca);
    s->dsn = strdup(conninfo);
    s->pool = calloc(s->npool, sizeof *s->pool);
    if (!s->dsn || !s->pool) {
        snprintf(err, errcap, "out of memory");
        pg_close(&s->base);
        return NULL;
    }
    s->dialect = (sql_dialect){
        .placeholder = '$',
        .ci_contains = s->ci,
        .cs_contains = "strpos(%s, %s) > 0",
        .ci_rank = s->rank,
        .least = "LEAST",
        .unique_sum = "COALESCE(SUM(%s), 0)",
        /* ordered as the name is (a prefix never sorts after its text) */
        .sort_key = "left(%s, " NAME_KEY ")",
    };
    pconn *c = &s->pool[0];
    c->in_use = true;
    c->deadline = mono_ms() + PG_MIGRATE_MS;
    if (conn_open(s, c, err, errcap) != STORE_OK || choose_folding(s, c, err, errcap) != 0 ||
        migrate(c, err, errcap) != 0) {
        pg_close(&s->base);
        return NULL;
    }
    give_back(s, c);
    return &s->base;
}
