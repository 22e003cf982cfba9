"""A failed fsync of the WAL is never answered as "nothing changed" (issue 13,
item 3).

The fault build's ENTITLED_FAULT_SYNC=N makes the Nth fdatasync of the WAL
fail with EIO, once, as a disk reports a lost write once (fsyncgate). The
change of that sync was committed, so it may be on disk or not: its answer
must say the outcome is unknown (503), the server must accept no more
writes (503, nothing changed) until it is restarted, and after the restart
a retry with the same Idempotency-Key must learn what was kept (here the
simulated failure lost nothing, so: a 200 replay, counted once), while the
stored idempotency record never claims a failure for a kept change."""

import sqlite3
import unittest

import harness
from harness import Client, Server, new_dir, new_db, row_path, tenant_create
from ledger_check import verify, verify_text


class SyncFailure(unittest.TestCase):
    def setUp(self):
        self.dir = new_dir(type(self).__name__)
        self.db = new_db(self.dir)
        self.t = tenant_create(self.db, "Org SyncFailure")
        self.server = None

    def tearDown(self):
        if self.server and self.server.alive():
            self.server.stop()

    def start(self, env=None):
        # one pool thread and one client at a time: each write is one commit
        # and one sync, so the Nth sync is the Nth write
        self.server = Server(self.dir, self.db, env=env, args=("--threads", "1")).start()
        return Client(self.server.port, self.t)

    def ok(self, resp, what):
        self.assertEqual(resp.status, 200, "%s: %s" % (what, resp))
        return resp.json

    def test_failed_sync_is_unknown_then_writes_halt_until_restart(self):
        c = self.start(env={"ENTITLED_FAULT_SYNC": "4"})
        e = self.ok(c.post("/entitlements", {"name": "Calls", "type": "Quantity"}), "sync 1")["id"]
        cu = self.ok(c.post("/customers", {"customer_name": "Acme"}), "sync 2")["id"]
        row = self.ok(c.post("/entitlements/%s/customer" % e,
                             {"customer": cu, "quantity": 100}), "sync 3")["id"]
        consume = "/entitlements/%s/customer/%s/consume" % (e, cu)

        # sync 4 fails: the consume was committed, its fate on disk unknown
        r = c.post(consume, {"quantity": 10}, headers={"Idempotency-Key": "k1"})
        self.assertEqual(r.status, 503, str(r))
        detail = r.json["detail"]
        self.assertIn("may or may not have been kept", detail)
        self.assertNotIn("nothing was changed", detail)
        self.assertIsNone(r.header("Idempotent-Replayed"))
        self.assertIn("cannot sync", self.server.stderr())

        # from now on every write is refused, and changes nothing
        for attempt in [(consume, {"quantity": 20}, {}),
                        (consume, {"quantity": 10}, {"Idempotency-Key": "k1"}),
                        ("/customers", {"customer_name": "Late"}, {})]:
            r = c.post(attempt[0], attempt[1], headers=attempt[2])
            self.assertEqual(r.status, 503, "%s: %s" % (attempt, r))
            self.assertIn("refused until the server is restarted", r.json["detail"])
            self.assertIn("nothing was changed", r.json["detail"])
        r = c.patch(row_path(e, cu, row), {"entitlement": e, "customer": cu, "quantity": 5})
        self.assertEqual(r.status, 503, str(r))
        # reads go on, and show the last committed state
        self.assertEqual(self.ok(c.get(row_path(e, cu, row)), "read")["quantity_used"], 10)
        self.assertEqual(self.server.stop(), 0, self.server.stderr_tail())

        # the restart reopens what the disk holds: here the change was kept,
        # so the retry with its key is the stored 200, and counts once
        c = self.start()
        r = c.post(consume, {"quantity": 10}, headers={"Idempotency-Key": "k1"})
        self.assertEqual(r.status, 200, str(r))
        self.assertEqual(r.header("Idempotent-Replayed"), "true")
        self.assertEqual(self.ok(c.get(row_path(e, cu, row)), "read")["quantity_used"], 10)
        led = self.ok(c.get("/entitlements/customer/%s/ledger?limit=100" % cu), "ledger")
        self.assertEqual([x["kind"] for x in led["results"]].count("consume"), 1, led)
        # writes are accepted again
        self.ok(c.post(consume, {"quantity": 20}), "after restart")
        self.assertEqual(self.server.stop(), 0, self.server.stderr_tail())

        con = sqlite3.connect(self.db)
        try:
            stored = con.execute("SELECT key, status FROM idempotency_keys").fetchall()
        finally:
            con.close()
        self.assertEqual(stored, [("k1", 200)], "no record claims a failure for a kept change")
        res = verify(self.db)
        self.assertEqual(res.rc, 0, verify_text(res))


if __name__ == "__main__":
    unittest.main()
