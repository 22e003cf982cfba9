#!/usr/bin/env python3
"""Seed a benchmark database: one organisation and key (made with the real
CLI), then 100 entitlements, 1,000 customers and N customer entitlement rows
with the peers' deterministic ids (shared/peers/README.md), written straight
into SQLite in one transaction. Prints `ORG KEY` on stdout.

Usage: bench/seed.py BIN DB [ROWS] [--quantity Q] [--list-customers K] [--list-rows M]

Row i (0 <= i < ROWS): id 00000000-0000-4000-8000-<i>, entitlement e...-<i % 100>,
customer c...-<i // 10> (10 rows per customer, one per (entitlement, customer)
pair), quantity Q (default 100, the peers' figure; the bench seeds more so that
consume never runs a row dry), quantity_used 0, window 2025-01-01 to 2026-01-01.

--list-customers K --list-rows M add K more customers, c1000000-0000-4000-8000-<k>,
with M rows each (ids 01000000-0000-4000-8000-<k * M + j>, entitlement
e...-<j % 100>): the customers whose list has a full page of 50 (bench/list.lua).
They are apart from the ROWS rows, which the GET/PATCH/consume scripts cycle
through."""
import sqlite3
import subprocess
import sys
import time

LIST_CUSTOMER = "c1000000-0000-4000-8000-%012d"
LIST_ROW = "01000000-0000-4000-8000-%012d"
ENT = "e0000000-0000-4000-8000-%012d"
CUST = "c0000000-0000-4000-8000-%012d"
ROW = "00000000-0000-4000-8000-%012d"
ACTIVE_FROM, EXPIRY_AT = 1735689600000000, 1767225600000000  # 2025-01-01, 2026-01-01 (µs)


def parse(argv):
    pos, opts = [], {"--quantity": 100.0, "--list-customers": 0, "--list-rows": 0}
    it = iter(argv)
    for a in it:
        if a in opts:
            v = next(it, None)
            if v is None:
                raise SystemExit("%s needs a value\n%s" % (a, __doc__))
            opts[a] = float(v) if a == "--quantity" else int(v)
        elif a.startswith("--"):
            raise SystemExit("unknown option %s\n%s" % (a, __doc__))
        else:
            pos.append(a)
    if len(pos) not in (2, 3):
        raise SystemExit(__doc__)
    rows = int(pos[2]) if len(pos) > 2 else 10000
    return pos[0], pos[1], rows, opts["--quantity"], opts["--list-customers"], opts["--list-rows"]


def rows_of(rows, list_customers, list_rows):
    """(id, entitlement, customer) of every row, in creation order."""
    for i in range(rows):
        yield ROW % i, ENT % (i % 100), CUST % (i // 10)
    for k in range(list_customers):
        for j in range(list_rows):
            yield LIST_ROW % (k * list_rows + j), ENT % (j % 100), LIST_CUSTOMER % k


def main():
    bin_, db, rows, quantity, list_customers, list_rows = parse(sys.argv[1:])
    org = subprocess.check_output([bin_, "org", "create", "--name", "bench", "--db", db], text=True).strip()
    key = subprocess.check_output([bin_, "apikey", "create", "--org", org, "--db", db], text=True).strip()
    now = int(time.time() * 1e6)
    # SQLite stores quantities as INTEGER millionths (src/domain/dec.h)
    quantity = int(round(quantity * 1_000_000))
    con = sqlite3.connect(db)
    con.execute("BEGIN")
    con.executemany("INSERT INTO entitlements(id, org_id, name, entitlement_type, is_active, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'Quantity', 1, ?, ?)", ((ENT % e, org, "ent %d" % e, now, now) for e in range(100)))
    customers = [CUST % c for c in range((rows + 9) // 10)] + [LIST_CUSTOMER % k for k in range(list_customers)]
    con.executemany("INSERT INTO customers(id, org_id, customer_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    ((c, org, "customer %d" % n, now, now) for n, c in enumerate(customers)))
    # created_at rises with the row number, so a list's default order is the seed order
    con.executemany("INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, active_from, expiry_at,"
                    " quantity, quantity_used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    ((rid, org, e, c, ACTIVE_FROM, EXPIRY_AT, quantity, now + n, now + n)
                     for n, (rid, e, c) in enumerate(rows_of(rows, list_customers, list_rows))))
    # each row's create entry, as the server would have written it (the ledger
    # must hold every row: balances and `entitled verify` read it)
    con.executemany("INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id, quantity_delta,"
                    " quantity_used_delta, quantity, quantity_used, active_from, expiry_at)"
                    " VALUES (?, ?, ?, ?, 'create', ?, ?, ?, 0, ?, 0, ?, ?)",
                    ((org, n + 1, rid, now + n, e, c, quantity, quantity, ACTIVE_FROM, EXPIRY_AT)
                     for n, (rid, e, c) in enumerate(rows_of(rows, list_customers, list_rows))))
    con.commit()
    con.close()
    print(org, key)


main()
