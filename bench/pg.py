#!/usr/bin/env python3
"""bench/run.sh on PostgreSQL: a throwaway PostgreSQL 15 cluster with durable
settings (fsync and full_page_writes on, unlike the test clusters), seeded
with the same 10,000 rows as bench/seed.py, then the same wrk runs.

Usage: bench/pg.py BIN"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "pg"))
import cluster  # noqa: E402

SEED = """
INSERT INTO entitlements(id, org_id, name, entitlement_type, is_active, created_at, updated_at)
  SELECT 'e0000000-0000-4000-8000-' || lpad(e::text, 12, '0'), '{org}', 'ent ' || e, 'Quantity', 1, 0, 0
  FROM generate_series(0, 99) e;
INSERT INTO customers(id, org_id, customer_name, custom_data, created_at, updated_at)
  SELECT 'c0000000-0000-4000-8000-' || lpad(c::text, 12, '0'), '{org}', 'customer ' || c, '{{}}', 0, 0
  FROM generate_series(0, 999) c;
INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, active_from, expiry_at,
                                  quantity, quantity_used, created_at, updated_at)
  SELECT '00000000-0000-4000-8000-' || lpad(i::text, 12, '0'), '{org}',
         'e0000000-0000-4000-8000-' || lpad((i % 100)::text, 12, '0'),
         'c0000000-0000-4000-8000-' || lpad((i / 10)::text, 12, '0'),
         1735689600000000, 1767225600000000, 100, 0, i, i
  FROM generate_series(0, 9999) i;
INSERT INTO ledger(org_id, seq, row_id, at, kind, entitlement_id, customer_id, quantity_delta,
                   quantity_used_delta, quantity, quantity_used, active_from, expiry_at)
  SELECT org_id, ROW_NUMBER() OVER (ORDER BY created_at, id), id, created_at, 'create',
         entitlement_id, customer_id, 100, 0, 100, 0, active_from, expiry_at
  FROM customer_entitlements WHERE org_id = '{org}';
INSERT INTO ledger_seqs(org_id, seq) VALUES ('{org}', 10000);
ANALYZE;
"""


def main():
    binary = sys.argv[1]
    c = cluster.Cluster(prefix="entitled-bench-pg-",
                        settings={"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"})
    c.start()
    try:
        url = c.create_db("bench")
        org = subprocess.check_output([binary, "org", "create", "--name", "bench", "--db", url], text=True).strip()
        key = subprocess.check_output([binary, "apikey", "create", "--org", org, "--db", url], text=True).strip()
        c.psql(SEED.format(org=org), db="bench")
        env = dict(os.environ, BENCH_DB=url, BENCH_ORG=org, BENCH_KEY=key)
        subprocess.run(["bash", os.path.join(HERE, "run.sh"), binary], env=env, check=True)
    finally:
        c.destroy()


main()
