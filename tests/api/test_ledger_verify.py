"""`entitled verify --db DB` (issue 5): it replays the ledger and exits 0 on
a consistent database, 1 naming the row when a row was changed behind the
ledger's back, 2 when it cannot read; and the databases refuse to update or
delete ledger entries (triggers). Tampering is done directly in the database:
Python's sqlite3 module on SQLite, psql (as the cluster's superuser) on
PostgreSQL. On SQLite the server is stopped before each verify (and started
again by the next test), so that nothing is in flight."""

import os

import harness
from harness import Client, ServerTestCase, new_id, patch_body
from ledger_check import (consume_path, db_exec, db_refusal_types, delete, entries_of, ledger_path,
                          row_path, sql_str, verify, verify_text, db_quantity)


class VerifyBase(ServerTestCase):
    def setUp(self):
        if not self.server.alive():
            self.server.start()
            type(self).c = Client(self.server.port, self.t)
            self.c = type(self).c

    def quiesce(self):
        """Stop the server on SQLite (verify then reads a closed database)."""
        if harness.BACKEND == "sqlite":
            rc = self.server.stop()
            self.assertEqual(rc, 0, "exit after SIGTERM\n%s" % self.server.stderr_tail())

    def seed(self):
        """A pair with three rows, consumed from, patched, one deleted."""
        e = self.make_entitlement(entitlement_type="Quantity")["id"]
        c = self.make_customer()["id"]
        a = self.make_row(e, c, quantity=10, expiry_at="2099-01-01T00:00:00Z")["id"]
        b = self.make_row(e, c, quantity=5, quantity_used=1)["id"]
        gone = self.make_row(e, c, quantity=2)["id"]
        self.assertJson(self.c.post(consume_path(e, c), {"quantity": 12}), 200)  # a: 10, b: 2
        self.assertJson(self.c.patch(row_path(e, c, b), patch_body(e, c, quantity=6)), 200)
        self.assertJson(delete(self.c, row_path(e, c, gone)), 200)
        self.assertJson(self.c.post(consume_path(e, c), {"quantity": 1.5}), 200)  # b
        return e, c, a, b, gone

    def assertVerifies(self, why=""):
        r = verify(self.db)
        self.assertEqual(r.rc, 0, "verify failed on a consistent database %s\n%r" % (why, r))
        self.assertTrue(r.out.strip(), "verify printed nothing on stdout\n%r" % r)
        return r

    def assertMismatch(self, row_id, what):
        r = verify(self.db)
        self.assertEqual(r.rc, 1, "verify did not fail after %s\n%r" % (what, r))
        self.assertIn(row_id, verify_text(r), "verify did not name row %s after %s\n%r"
                      % (row_id, what, r))
        return r



class Verify(VerifyBase):
    def test_consistent_database_passes(self):
        self.seed()
        self.quiesce()
        r = self.assertVerifies()
        # and again: verify changes nothing
        self.assertEqual(verify(self.db).out, r.out)

    def test_changed_quantity_used_fails_and_names_the_row(self):
        _e, _c, a, b, _gone = self.seed()
        self.quiesce()
        self.assertVerifies("before tampering")
        for rid in (a, b):
            with self.subTest(row=rid):
                where = " WHERE id = %s" % sql_str(rid)
                db_exec(self.db, "UPDATE customer_entitlements SET quantity_used = quantity_used + 1"
                        + where)
                try:
                    self.assertMismatch(rid, "quantity_used + 1 on row %s" % rid)
                finally:
                    db_exec(self.db, "UPDATE customer_entitlements SET quantity_used = quantity_used - 1"
                            + where)
                self.assertVerifies("once quantity_used was put back")

    def test_changed_quantity_or_window_fails(self):
        _e, _c, a, b, _gone = self.seed()
        self.quiesce()
        for rid, change, undo in (
                (a, "quantity = quantity + 1", "quantity = quantity - 1"),
                (b, "quantity = quantity * 2", "quantity = quantity / 2"),
                (a, "expiry_at = expiry_at + 1", "expiry_at = expiry_at - 1"),
                (b, "active_from = 0", "active_from = NULL"),
                (b, "quantity_used = NULL", "quantity_used = " + db_quantity(4.5))):
            with self.subTest(change=change):
                where = " WHERE id = %s" % sql_str(rid)
                db_exec(self.db, "UPDATE customer_entitlements SET " + change + where)
                try:
                    self.assertMismatch(rid, change)
                finally:
                    db_exec(self.db, "UPDATE customer_entitlements SET " + undo + where)
                self.assertVerifies("once %s was undone" % change)

    def test_row_without_entries_fails(self):
        _e, _c, a, _b, _gone = self.seed()
        self.quiesce()
        stray = new_id()
        db_exec(self.db, "INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, "
                "quantity, quantity_used, created_at, updated_at) SELECT %s, org_id, entitlement_id, "
                "customer_id, 5, 0, created_at, updated_at FROM customer_entitlements WHERE id = %s"
                % (sql_str(stray), sql_str(a)))
        try:
            self.assertMismatch(stray, "a row inserted without ledger entries")
        finally:
            db_exec(self.db, "DELETE FROM customer_entitlements WHERE id = %s" % sql_str(stray))
        self.assertVerifies("once the stray row was removed")

    def test_deleted_row_still_present_fails(self):
        _e, _c, a, _b, gone = self.seed()
        self.quiesce()
        db_exec(self.db, "INSERT INTO customer_entitlements(id, org_id, entitlement_id, customer_id, "
                "quantity, quantity_used, created_at, updated_at) SELECT %s, org_id, entitlement_id, "
                "customer_id, NULL, NULL, created_at, updated_at FROM customer_entitlements WHERE id = %s"
                % (sql_str(gone), sql_str(a)))
        try:
            self.assertMismatch(gone, "a deleted row put back")
        finally:
            db_exec(self.db, "DELETE FROM customer_entitlements WHERE id = %s" % sql_str(gone))
        self.assertVerifies("once the deleted row was removed again")

    def test_ledger_entries_are_immutable(self):
        _e, c, _a, _b, _gone = self.seed()
        before = entries_of(self, self.c, c)
        self.quiesce()
        cust = sql_str(c)
        extra = ["TRUNCATE ledger"] if harness.BACKEND == "postgres" else []
        for sql in extra + ["UPDATE ledger SET quantity_used = 0 WHERE customer_id = %s" % cust,
                    "UPDATE ledger SET kind = 'update' WHERE kind = 'consume' AND customer_id = %s" % cust,
                    "DELETE FROM ledger WHERE customer_id = %s" % cust,
                    "DELETE FROM ledger WHERE kind = 'delete' AND customer_id = %s" % cust]:
            with self.subTest(sql=sql):
                with self.assertRaises(db_refusal_types(), msg="the database accepted: %s" % sql) as cm:
                    db_exec(self.db, sql)
                if harness.BACKEND == "sqlite":
                    self.assertIn("ledger entries are immutable", str(cm.exception))
        self.assertVerifies("after the refused statements")
        self.setUp()  # serving again on SQLite
        self.assertEqual(entries_of(self, self.c, c), before, "the ledger changed")

    def test_cannot_read_exits_2(self):
        if harness.BACKEND == "postgres":
            db = harness.PG.url("no_such_database_%s" % new_id()[:8])
        else:
            db = os.path.join(self.dir, "no-such-folder", "x.db")
        r = verify(db)
        self.assertEqual(r.rc, 2, repr(r))

    def test_verify_after_many_changes(self):
        e, c, a, b, _gone = self.seed()
        for i in range(20):
            self.assertJson(self.c.patch(row_path(e, c, a), patch_body(e, c, quantity=100 + i)), 200)
            self.assertJson(self.c.post(consume_path(e, c), {"quantity": 1}), 200)
        got = entries_of(self, self.c, c)
        self.assertGreater(len(got), 40)
        self.assertJson(self.c.get(ledger_path(c)), 200)
        self.quiesce()
        self.assertVerifies()

    def test_patch_may_exceed_quantity(self):
        # quantity_used > quantity through PATCH is allowed (docs/API.md);
        # verify holds only consume entries to quantity_used <= quantity
        e, c, a, _b, _gone = self.seed()
        self.assertJson(self.c.patch(row_path(e, c, a), patch_body(e, c, quantity_used=15)), 200)
        self.quiesce()
        self.assertVerifies("after a PATCH that set quantity_used above quantity")


COLS = ("org_id, seq, row_id, at, kind, entitlement_id, customer_id, quantity_delta, "
        "quantity_used_delta, quantity, quantity_used, active_from, expiry_at")


class VerifyForgedEntries(VerifyBase):
    """Entries can be inserted (only UPDATE and DELETE are refused): forged
    entries that break the ledger's rules must fail verify. Each test uses
    its own organisation and makes no change through the API after forging.
    The ledger's column names are the databases' (an assumption beyond the
    contract, as for any tampering)."""

    def forge(self, rid, select):
        """INSERT INTO ledger SELECT <select> FROM ledger WHERE row_id = rid
        AND seq = its last seq (the row's latest entry as `l`)."""
        db_exec(self.db, "INSERT INTO ledger(%s) SELECT %s FROM ledger l WHERE l.row_id = %s AND "
                "l.seq = (SELECT max(seq) FROM ledger WHERE row_id = %s)"
                % (COLS, select, sql_str(rid), sql_str(rid)))

    def fresh(self, **row):
        cl = harness.fresh_client(self, "Forged")
        e = self.make_entitlement(cl, entitlement_type="Quantity")["id"]
        c = self.make_customer(cl)["id"]
        rid = self.make_row(e, c, cl, **row)["id"]
        return cl, e, c, rid

    def test_entry_after_a_delete(self):
        cl, e, c, rid = self.fresh(quantity=3)
        self.assertJson(delete(cl, row_path(e, c, rid)), 200)
        self.quiesce()
        self.forge(rid, "org_id, seq + 1, row_id, at + 1, 'update', entitlement_id, customer_id, "
                   "0, 0, NULL, NULL, NULL, NULL")
        self.assertMismatch(rid, "an entry after a delete")

    def test_consume_delta_does_not_add_up(self):
        cl, e, c, rid = self.fresh(quantity=10)
        self.assertJson(cl.post(consume_path(e, c), {"quantity": 2}), 200)
        self.quiesce()
        self.forge(rid, "org_id, seq + 1, row_id, at + 1, 'consume', entitlement_id, customer_id, "
                   "0, 1, quantity, 5, active_from, expiry_at")
        db_exec(self.db, "UPDATE customer_entitlements SET quantity_used = 5 WHERE id = %s" % sql_str(rid))
        self.assertMismatch(rid, "a consume entry whose delta does not add up (2 + 1 -> 5)")

    def test_consume_over_quantity(self):
        cl, e, c, rid = self.fresh(quantity=10)
        self.assertJson(cl.post(consume_path(e, c), {"quantity": 2}), 200)
        self.quiesce()
        self.forge(rid, "org_id, seq + 1, row_id, at + 1, 'consume', entitlement_id, customer_id, "
                   "0, 10, quantity, 12, active_from, expiry_at")
        db_exec(self.db, "UPDATE customer_entitlements SET quantity_used = 12 WHERE id = %s" % sql_str(rid))
        self.assertMismatch(rid, "a consume entry leaving quantity_used 12 above quantity 10")

    def test_first_entry_not_a_create(self):
        cl, e, c, rid = self.fresh(quantity=4)
        self.quiesce()
        self.forge(rid, "org_id, 0, row_id, at - 1, 'update', entitlement_id, customer_id, "
                   "0, 0, quantity, quantity_used, active_from, expiry_at")
        self.assertMismatch(rid, "an update entry before the row's create")


class VerifyCorruptFile(VerifyBase):
    """A file SQLite itself reports as corrupt fails verify (issue 13, low),
    even where the ledger and the rows still agree: an index whose entries
    no longer match its definition (made with writable_schema) answers
    every query verify makes, and only PRAGMA integrity_check sees it."""

    def test_integrity_check_runs_first(self):
        if harness.BACKEND != "sqlite":
            self.skipTest("PostgreSQL checks its own pages")
        e, c, *_ = self.seed()
        self.assertJson(self.c.post(consume_path(e, c), {"quantity": 1},
                                    headers={"Idempotency-Key": "corrupt-1"}), 200)
        self.quiesce()
        self.assertVerifies("before the corruption")
        import sqlite3
        con = sqlite3.connect(self.db)
        try:
            con.execute("PRAGMA writable_schema=ON")
            con.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX idempotency_keys_created "
                        "ON idempotency_keys(status)' WHERE name = 'idempotency_keys_created'")
            con.commit()
        finally:
            con.close()
        r = verify(self.db)
        self.assertEqual(r.rc, 1, verify_text(r))
        self.assertIn("corrupt", r.out)
        self.assertIn("idempotency_keys_created", r.out)
