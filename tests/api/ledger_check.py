"""Helpers shared by the issue-5 tests (test_consume*, test_ledger*,
test_idempotency*): paths, date-time arithmetic, ledger walks, direct
database access for tampering, `entitled verify`. Python 3 standard library
only. docs/API.md "Consumption, the ledger and idempotency (issue 5)" is the
contract these helpers serve."""

import datetime
import sqlite3
import time

import harness
from harness import cli, parse_dt, url

UTC = datetime.timezone.utc

# The members of a ledger entry, in the contract's order.
ENTRY_KEYS = ["seq", "at", "kind", "entitlement", "customer", "row_id",
              "quantity_delta", "quantity_used_delta", "quantity", "quantity_used",
              "active_from", "expiry_at", "request_id", "idempotency_key"]

# The members of a balance answer.
BALANCE_KEYS = ["entitlement", "customer", "at", "quantity", "quantity_used",
                "quantity_remaining", "unlimited", "active_rows"]

# The members of a consume answer.
CONSUME_KEYS = ["entitlement", "customer", "quantity", "at", "ledger_seq", "draws",
                "quantity_remaining"]

MISMATCH = {"detail": "Idempotency-Key was already used with a different request"}
FEATURE = {"detail": "A Feature entitlement has nothing to consume"}
ENT_404 = {"detail": "Entitlement not found"}
CUST_404 = {"detail": "Customer not found"}


# --------------------------------------------------------------------------
# paths

def consume_path(e, c):
    return "/entitlements/%s/customer/%s/consume" % (e, c)


def balance_path(e, c, at=None, **params):
    return url("/entitlements/%s/customer/%s/balance" % (e, c), at=at, **params)


def ledger_path(c, params=(), **kw):
    return url("/entitlements/customer/%s/ledger" % c, params, **kw)


def row_path(e, c, r):
    return "/entitlements/%s/customer/%s/%s" % (e, c, r)


def delete(client, path, **kw):
    return client.request("DELETE", path, **kw)


# --------------------------------------------------------------------------
# date-times

def fmt_dt(dt):
    """An aware datetime written as entitled writes date-times."""
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def shift(s, microseconds=0, seconds=0, days=0):
    """The date-time string s moved by the given amount, written as entitled
    writes it."""
    return fmt_dt(parse_dt(s) + datetime.timedelta(microseconds=microseconds, seconds=seconds,
                                                   days=days))


def now_dt():
    return datetime.datetime.now(UTC)


def from_now(seconds=0, days=0):
    return fmt_dt(now_dt().replace(microsecond=0) + datetime.timedelta(seconds=seconds, days=days))


def pause(seconds=0.02):
    """Let the clock move between two changes (their ledger `at` differ)."""
    time.sleep(seconds)


# --------------------------------------------------------------------------
# ledger walks

def walk(case, client, cid, params=(), limit=100, max_pages=1000):
    """Every entry of a customer's ledger (with the filters `params`),
    following `next` from the first page. Returns (entries, pages)."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    entries, pages = [], []
    cursor = None
    for _ in range(max_pages):
        r = client.get(ledger_path(cid, pairs + [("limit", limit), ("cursor", cursor)]))
        body = case.assertJson(r, 200)
        pages.append(body)
        entries += body["results"]
        cursor = body["next"]
        if cursor is None:
            return entries, pages
    case.fail("the ledger walk did not end after %d pages" % max_pages)
    return None


def entries_of(case, client, cid, **params):
    return walk(case, client, cid, params)[0]


def entry_key(e):
    return (e["seq"], e["row_id"])


def by_seq(entries):
    out = {}
    for e in entries:
        out.setdefault(e["seq"], []).append(e)
    return out


# --------------------------------------------------------------------------
# the database itself (tampering, immutability)

def db_name(db):
    return db.rsplit("/", 1)[1]


def db_exec(db, sql):
    """Run one statement on the database directly (as its owner on SQLite, as
    the cluster's superuser on PostgreSQL). Raises sqlite3.DatabaseError or
    cluster.PgError when the database refuses it."""
    if harness.BACKEND == "postgres":
        return harness.PG.psql(sql, db=db_name(db))
    con = sqlite3.connect(db, timeout=30)
    try:
        cur = con.execute(sql)
        rows = cur.fetchall()
        con.commit()
        return rows
    finally:
        con.close()


def db_refusal_types():
    """The exceptions db_exec raises when the database refuses a statement."""
    if harness.BACKEND == "postgres":
        import cluster  # tests/pg/cluster.py, on sys.path with --backend postgres
        return (cluster.PgError,)
    return (sqlite3.DatabaseError,)


def db_quantity(x):
    """A quantity as a SQL literal of the database's own column (issue 13):
    SQLite stores INTEGER millionths, PostgreSQL numeric(18,6)."""
    if harness.BACKEND == "postgres":
        return repr(x)
    return str(round(x * 1000000))


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


# --------------------------------------------------------------------------
# verify

def verify(db):
    return cli("verify", db=db)


def verify_text(res):
    return res.out + res.err
