#!/usr/bin/env python3
"""Seed a benchmark database: one organisation and key (made with the real
CLI), then 100 entitlements, 1,000 customers and N customer entitlement rows
with the peers' deterministic ids (shared/peers/README.md), written straight
into SQLite in one transaction. Prints `ORG KEY` on stdout.

Usage: bench/seed.py BIN DB [ROWS]"""
import sqlite3
import subprocess
import sys
import time

bin_, db = sys.argv[1], sys.argv[2]
rows = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
org = subprocess.check_output([bin_, "org", "create", "--name", "bench", "--db", db], text=True).strip()
key = subprocess.check_output([bin_, "apikey", "create", "--org", org, "--db", db], text=True).strip()
now = int(time.time() * 1e6)
con = sqlite3.connect(db)
con.execute("BEGIN")
for e in range(100):
    con.execute("INSERT INTO entitlements(id, org_id, name, entitlement_type, is_active, created_at, updated_at)"
                " VALUES (?, ?, ?, 'Quantity', 1, ?, ?)", ("e0000000-0000-4000-8000-%012d" % e, org, "ent %d" % e, now, now))
for c in range((rows + 9) // 10):
    con.execute("INSERT INTO customers(id, org_id, customer_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                ("c0000000-0000-4000-8000-%012d" % c, org, "customer %d" % c, now, now))
for i in range(rows):
    con.execute("INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, active_from, expiry_at,"
                " quantity, quantity_used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 100, 0, ?, ?)",
                ("00000000-0000-4000-8000-%012d" % i, org, "e0000000-0000-4000-8000-%012d" % (i % 100),
                 "c0000000-0000-4000-8000-%012d" % (i // 10), 1735689600000000, 1767225600000000, now, now))
# each row's create entry, as the server would have written it (the ledger
# must hold every row: balances and `entitled verify` read it)
for i in range(rows):
    con.execute("INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id, quantity_delta,"
                " quantity_used_delta, quantity, quantity_used, active_from, expiry_at)"
                " VALUES (?, ?, ?, ?, 'create', ?, ?, 100, 0, 100, 0, ?, ?)",
                (org, i + 1, "00000000-0000-4000-8000-%012d" % i, now, "e0000000-0000-4000-8000-%012d" % (i % 100),
                 "c0000000-0000-4000-8000-%012d" % (i // 10), 1735689600000000, 1767225600000000))
con.commit()
con.close()
print(org, key)
