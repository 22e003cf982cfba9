"""PostgreSQL: a COMMIT whose answer never comes is an unknown outcome, not
"busy, retry" (issue 13, the PostgreSQL side of item 3). A deferred
constraint trigger makes the COMMIT sleep; the backend is terminated while
it does, so entitled sees its connection lost after sending COMMIT. The
answer must say the change may or may not have been kept; the server must
reconnect and serve; what the database holds must verify. (SQLite's failed
fsync is tests/faults/test_sync_failure.py.)"""

import threading
import time
import unittest

import harness
from harness import ServerTestCase
from ledger_check import consume_path, db_name, verify, verify_text

SLOW = """
CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_sleep(3); RETURN NULL; END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON ledger
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();
"""
FAST = "DROP TRIGGER slow_commit ON ledger; DROP FUNCTION slow_commit();"
KILL = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event = 'PgSleep'")


@unittest.skipIf(harness.BACKEND != "postgres", "a PostgreSQL connection lost at COMMIT")
class CommitLost(ServerTestCase):
    def psql(self, sql):
        return harness.PG.psql(sql, db=db_name(self.db))

    def test_connection_lost_at_commit_is_an_unknown_outcome(self):
        e, c, row = self.make_triple(quantity=100)
        self.psql(SLOW)
        got = {}

        def consume():
            got["r"] = self.c.post(consume_path(e, c), {"quantity": 10})

        t = threading.Thread(target=consume)
        t.start()
        killed = []
        deadline = time.monotonic() + 10
        while not killed and time.monotonic() < deadline:  # the COMMIT is sleeping
            time.sleep(0.1)
            killed = self.psql(KILL)
        t.join(30)
        self.psql(FAST)
        self.assertTrue(killed, "no backend was seen sleeping in the COMMIT")
        r = got["r"]
        self.assertEqual(r.status, 503, str(r))
        self.assertIn("may or may not have been kept", r.json["detail"])
        self.assertIn("lost at the commit", r.json["detail"])
        self.assertIsNotNone(r.header("Retry-After"))
        # the server reconnects; the pair reads as the database decided
        # (here: the backend died before its commit, so nothing was kept)
        deadline = time.monotonic() + 15
        while True:
            again = self.c.post(consume_path(e, c), {"quantity": 1})
            if again.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(again.status, 200, str(again))
        self.assertIn(again.json["draws"][0]["quantity_used"], (1, 11), str(again))
        res = verify(self.db)
        self.assertEqual(res.rc, 0, verify_text(res))
