#!/usr/bin/env python3
"""entitled on PostgreSQL for the benchmark: a throwaway PostgreSQL 15 cluster
with durable settings (fsync and full_page_writes on, unlike the test
clusters), seeded with the same rows as bench/seed.py (10,000 rows, plus the
customers with a full page of 50 for bench/list.lua).

bench/bench.py imports this for its `pg` section (start() below). Run alone,
it runs that section only: `bench/pg.py BIN` is `bench/bench.py BIN --only pg`.

Usage: bench/pg.py BIN"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

SEED = """
INSERT INTO entitlements(id, org_id, name, entitlement_type, is_active, created_at, updated_at)
  SELECT 'e0000000-0000-4000-8000-' || lpad(e::text, 12, '0'), '{org}', 'ent ' || e, 'Quantity', 1, 0, 0
  FROM generate_series(0, 99) e;
INSERT INTO customers(id, org_id, customer_name, custom_data, created_at, updated_at)
  SELECT 'c0000000-0000-4000-8000-' || lpad(c::text, 12, '0'), '{org}', 'customer ' || c, '{{}}', 0, 0
  FROM generate_series(0, {customers} - 1) c;
INSERT INTO customers(id, org_id, customer_name, custom_data, created_at, updated_at)
  SELECT 'c1000000-0000-4000-8000-' || lpad(k::text, 12, '0'), '{org}', 'list customer ' || k, '{{}}', 0, 0
  FROM generate_series(0, {list_customers} - 1) k;
INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, active_from, expiry_at,
                                  quantity, quantity_used, created_at, updated_at)
  SELECT '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'), '{org}',
         'e0000000-0000-4000-8000-' || lpad((i % 100)::text, 12, '0'),
         'c0000000-0000-4000-8000-' || lpad((i / 10)::text, 12, '0'),
         1735689600000000, 1767225600000000, {quantity}, 0, i, i
  FROM generate_series(0, {rows} - 1) i;
INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, active_from, expiry_at,
                                  quantity, quantity_used, created_at, updated_at)
  SELECT '01000000-0000-4000-8000-' || lpad(n::text, 12, '0'), '{org}',
         'e0000000-0000-4000-8000-' || lpad((n % {list_rows_or_1} % 100)::text, 12, '0'),
         'c1000000-0000-4000-8000-' || lpad((n / {list_rows_or_1})::text, 12, '0'),
         1735689600000000, 1767225600000000, {quantity}, 0, {rows} + n, {rows} + n
  FROM generate_series(0, {list_customers} * {list_rows} - 1) n;
INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id, quantity_delta,
                   quantity_used_delta, quantity, quantity_used, active_from, expiry_at)
  SELECT org_id, ROW_NUMBER() OVER (ORDER BY created_at, id), id, created_at, 'create',
         entitlement_id, customer_id, quantity, 0, quantity, 0, active_from, expiry_at
  FROM customer_entitlements WHERE org_id = '{org}';
INSERT INTO ledger_seqs(org_id, seq) VALUES ('{org}', {rows} + {list_customers} * {list_rows})
  ON CONFLICT (org_id) DO UPDATE SET seq = EXCLUDED.seq;
ANALYZE;
"""


def start(binary, rows=10000, quantity=100, list_customers=0, list_rows=0):
    """Start a durable cluster and seed it. Returns (cluster, url, org, key);
    the caller destroys the cluster (it also goes at exit)."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "pg"))
    import cluster  # noqa: E402

    c = cluster.Cluster(prefix="entitled-bench-pg-",
                        settings={"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"})
    c.start()
    try:
        url = c.create_db("bench")
        org = subprocess.check_output([binary, "org", "create", "--name", "bench", "--db", url], text=True).strip()
        key = subprocess.check_output([binary, "apikey", "create", "--org", org, "--db", url], text=True).strip()
        c.psql(SEED.format(org=org, rows=rows, customers=(rows + 9) // 10, quantity=quantity,
                           list_customers=list_customers, list_rows=list_rows,
                           list_rows_or_1=max(list_rows, 1)), db="bench")
    except BaseException:
        c.destroy()
        raise
    return c, url, org, key


def postmaster_pid(c):
    """The postmaster's PID (first line of DATA/postmaster.pid)."""
    with open(os.path.join(c.data, "postmaster.pid")) as f:
        return int(f.readline())


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    os.execvp(sys.executable, [sys.executable, os.path.join(HERE, "bench.py"), sys.argv[1], "--only", "pg"])
