#!/usr/bin/env python3
"""Deep pages: with ROWS customer entitlement rows (default 1,000,000), walk
lists page by page (limit 50) to their end and report the server's own time
per page, read from its request log (one line per request, in microseconds),
grouped by depth. Not a test: it prints figures and asserts nothing.

Usage: bench/deep.py BIN [ROWS] [--json PATH]

--json PATH also writes the figures as JSON (bench/bench.py reads them into
its table of targets)."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ARGS = sys.argv[1:]
JSON_OUT = None
if "--json" in ARGS:
    i = ARGS.index("--json")
    JSON_OUT = ARGS[i + 1]
    del ARGS[i:i + 2]
BIN = ARGS[0]
ROWS = int(ARGS[1]) if len(ARGS) > 1 else 1_000_000
N_ENT, N_CUST = 100, 1000


def seed(db):
    org = subprocess.check_output([BIN, "org", "create", "--name", "deep", "--db", db], text=True).strip()
    key = subprocess.check_output([BIN, "apikey", "create", "--org", org, "--db", db], text=True).strip()
    con = sqlite3.connect(db)
    con.execute("PRAGMA synchronous=OFF")
    # the seed's own page cache (2 GB at most, this connection only): with
    # SQLite's default 2 MB, inserting into the table's many indexes thrashes,
    # and 1,000,000 rows take several times longer
    con.execute("PRAGMA cache_size=-2000000")
    now = int(time.time() * 1e6)
    con.execute("BEGIN")
    con.executemany("INSERT INTO entitlements(id, org_id, name, entitlement_type, is_active, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'Quantity', 1, ?, ?)",
                    (("e0000000-0000-4000-8000-%012d" % e, org, "ent %d" % e, now, now) for e in range(N_ENT)))
    con.executemany("INSERT INTO customers(id, org_id, customer_name, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (("c0000000-0000-4000-8000-%012d" % c, org, "customer %d" % c, now, now) for c in range(N_CUST)))
    con.executemany(
        "INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, active_from, expiry_at,"
        " quantity, quantity_used, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (("00000000-0000-4000-8000-%012d" % i, org, "e0000000-0000-4000-8000-%012d" % (i % N_ENT),
          "c0000000-0000-4000-8000-%012d" % (i % N_CUST), 1735689600000000 + i, None if i % 7 == 0 else 1767225600000000,
          # quantities as INTEGER millionths (src/domain/dec.h)
          (i % 1000) * 1_000_000, (i % 13) * 1_000_000, now - ROWS + i, now) for i in range(ROWS)))
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return org, key


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def walk(conn, headers, path, params, max_pages):
    """Follow next to the end (or max_pages); returns the request paths in order."""
    pages, cursor = 0, None
    while pages < max_pages:
        q = dict(params, limit=50)
        if cursor:
            q["cursor"] = cursor
        conn.request("GET", path + "?" + urllib.parse.urlencode(q), headers=headers)
        r = conn.getresponse()
        body = json.loads(r.read())
        if r.status != 200:
            raise SystemExit("%s -> %d %s" % (path, r.status, body))
        pages += 1
        cursor = body["next"]
        if not cursor:
            break
    return pages


SERVERS = []


def main():
    # the server goes and the database (about 1 GB) is removed on any exit
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: sys.exit(128 + n))
    t = tempfile.mkdtemp(prefix="entitled-deep-")
    try:
        run(t)
    finally:
        for p in SERVERS:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(t, ignore_errors=True)


def run(t):
    db = os.path.join(t, "deep.db")
    t0 = time.time()
    org, key = seed(db)
    print("seeded %d rows in %.1f s (database %.0f MB)" % (ROWS, time.time() - t0, os.path.getsize(db) / 1e6))
    port = free_port()
    log = open(os.path.join(t, "server.log"), "w+")
    srv = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:%d" % port, "--db", db], stderr=log)
    SERVERS.append(srv)
    headers = {"x-api-key": key, "organisation": org}
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    cases = [
        ("balances, filtered by entitlement (10,000 rows), default sort", "/entitlements/customers_balances",
         {"entitlement": "e0000000-0000-4000-8000-000000000042"}, 1000),
        ("balances, filtered by entitlement, sort_key=quantity desc", "/entitlements/customers_balances",
         {"entitlement": "e0000000-0000-4000-8000-000000000042", "sort_key": "quantity", "sort_type": "desc"}, 1000),
        ("balances, filtered by customer (1,000 rows)", "/entitlements/customers_balances",
         {"customer": "c0000000-0000-4000-8000-000000000777"}, 1000),
        ("a customer's rows (1,000 rows)", "/entitlements/customer/c0000000-0000-4000-8000-000000000777", {}, 1000),
        ("balances, all rows, first 2,000 pages (100,000 rows deep)", "/entitlements/customers_balances", {}, 2000),
        ("balances, all rows, sort_key=expiry_at desc, 2,000 pages", "/entitlements/customers_balances",
         {"sort_key": "expiry_at", "sort_type": "desc"}, 2000),
    ]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    results = []
    for name, path, params, maxp in cases:
        log.flush()
        start = log.tell()
        pages = walk(conn, headers, path, params, maxp)
        time.sleep(0.2)
        log.seek(start)
        us = [int(m.group(1)) for m in re.finditer(r"^GET \S+ 200 (\d+)us ", log.read(), re.M)]
        log.seek(0, 2)
        results.append((name, pages, us))
    rss = open("/proc/%d/status" % srv.pid).read()
    srv.terminate()
    srv.wait(30)
    print("| list | pages | first page us | median us | p99 us | max us | last page us |")
    print("|---|---|---|---|---|---|---|")
    for name, pages, us in results:
        us_sorted = sorted(us)
        p99 = us_sorted[min(len(us_sorted) - 1, int(len(us_sorted) * 0.99))]
        print("| %s | %d | %d | %d | %d | %d | %d |" % (name, pages, us[0], statistics.median(us), p99, max(us), us[-1]))
    kb = {k: int(re.search(r"^%s:\s+(\d+) kB" % k, rss, re.M).group(1))
          for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem")}
    print("server peak RSS: %d kB (at the end: RSS %d kB = anonymous %d + file-backed %d + shared %d)"
          % (kb["VmHWM"], kb["VmRSS"], kb["RssAnon"], kb["RssFile"], kb["RssShmem"]))
    if JSON_OUT:
        with open(JSON_OUT, "w") as f:
            json.dump({"rows": ROWS, "rss_kb": kb, "cases": [
                {"name": name, "pages": pages, "first_us": us[0], "median_us": statistics.median(us),
                 "p99_us": sorted(us)[min(len(us) - 1, int(len(us) * 0.99))], "max_us": max(us),
                 "last_us": us[-1]} for name, pages, us in results]}, f, indent=1)


main()
