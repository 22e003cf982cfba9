"""Rows that existed before the ledger (issue 5): "Rows that existed before
the ledger (a database made before this version) get one create entry each
when the database is migrated, at their created_at, with their values at
migration time" (docs/API.md).

A database made before the ledger is obtained by taking one made by this
version, with rows, and undoing the migration that added the ledger directly
in the database: dropping its tables (and PostgreSQL's trigger function) and
forgetting its version in schema_migrations. ASSUMPTION (not the contract's):
the ledger and the idempotency keys came with schema version 4 and the
objects below are all that migration made; update LEDGER_* when that changes."""

import harness
from harness import Client, ServerTestCase, patch_body, url
from ledger_check import (consume_path, db_exec, delete, entries_of, row_path, verify)

LEDGER_MIGRATION = 4
LEDGER_SQLITE = ["DROP TABLE ledger", "DROP TABLE idempotency_keys"]
LEDGER_PG = ["DROP TABLE ledger", "DROP TABLE ledger_seqs", "DROP TABLE idempotency_keys",
             "DROP FUNCTION ledger_immutable()"]


class LedgerMigration(ServerTestCase):
    def restart(self):
        self.server.start()
        type(self).c = Client(self.server.port, self.t)
        self.c = type(self).c

    def test_rows_made_before_the_ledger_get_one_create_entry(self):
        e = self.make_entitlement(entitlement_type="Quantity")["id"]
        c1 = self.make_customer()["id"]
        c2 = self.make_customer()["id"]
        a = self.make_row(e, c1, quantity=10, quantity_used=1, active_from="2026-01-01")["id"]
        b = self.make_row(e, c1, quantity=5, expiry_at="2099-01-01T00:00:00Z")["id"]
        u = self.make_row(e, c2)["id"]  # no quantity
        gone = self.make_row(e, c2, quantity=1)["id"]
        # values at migration time differ from the values at creation
        self.assertJson(self.c.patch(row_path(e, c1, a), patch_body(e, c1, quantity=12)), 200)
        self.assertJson(self.c.post(consume_path(e, c1), {"quantity": 3}), 200)  # from b
        self.assertJson(delete(self.c, row_path(e, c2, gone)), 200)
        rows = {rid: self.assertJson(self.c.get(row_path(e, cu, rid)), 200)
                for rid, cu in ((a, c1), (b, c1), (u, c2))}
        self.assertEqual(self.server.stop(), 0, self.server.stderr_tail())

        # undo the ledger's migration: a database made before this version
        stmts = LEDGER_PG if harness.BACKEND == "postgres" else LEDGER_SQLITE
        for sql in stmts + ["DELETE FROM schema_migrations WHERE version = %d" % LEDGER_MIGRATION]:
            db_exec(self.db, sql)

        self.restart()  # migrates
        got = entries_of(self, self.c, c1) + entries_of(self, self.c, c2)
        self.assertEqual(sorted(x["row_id"] for x in got), sorted(rows), "one entry per row: %r" % got)
        self.assertEqual(sorted(x["seq"] for x in got), [1, 2, 3], "seq per organisation from 1")
        for x in got:
            row = rows[x["row_id"]]
            with self.subTest(row=x["row_id"]):
                self.assertEqual(x["kind"], "create")
                self.assertEqual(x["at"], row["created_at"], "the entry is at the row's created_at")
                self.assertEqual((x["entitlement"], x["customer"]), (row["entitlement"], row["customer"]))
                for k in ("quantity", "quantity_used", "active_from", "expiry_at"):
                    self.assertSame(row[k], x[k], k)
                self.assertSame(row["quantity"] or 0, x["quantity_delta"])
                self.assertSame(row["quantity_used"] or 0, x["quantity_used_delta"])
                self.assertIsNone(x["idempotency_key"])
        self.assertSame(12, rows[a]["quantity"])
        self.assertSame(3, rows[b]["quantity_used"])
        # the ledger goes on from there
        r = self.c.post(consume_path(e, c1), {"quantity": 1})
        self.assertEqual(self.assertJson(r, 200)["ledger_seq"], 4, str(r))
        bal = self.assertJson(self.c.get(url("/entitlements/%s/customer/%s/balance" % (e, c1))), 200)
        self.assertSame((17, 5, 12), (bal["quantity"], bal["quantity_used"], bal["quantity_remaining"]))
        if harness.BACKEND == "sqlite":
            self.assertEqual(self.server.stop(), 0, self.server.stderr_tail())
        r = verify(self.db)
        self.assertEqual(r.rc, 0, repr(r))
