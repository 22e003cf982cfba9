#!/usr/bin/env python3
"""PostgreSQL-only tests: several `entitled serve` processes on one database,
and the database going away and coming back under a write load.

    python3 tests/pg/test_pg_multi.py --bin build/entitled [-k SUBSTRING]... [--keep]

The run starts its own throwaway PostgreSQL 15 cluster (tests/pg/cluster.py),
separate from the API suite's because these tests stop and restart it, and
removes it at the end. PostgreSQL missing is a failure. Output as
tests/api/run.py: one line per test, the failures, "N passed, N failed".

- TwoServers: two servers on one database, 8 client threads PATCHing a
  shared set of rows (a unique value per request, through both servers in
  turn) and each its own row: every answer 200, every shared row ends as one
  of the writes made to it (all its fields from the same write, the same
  through both servers), each own row holds its thread's last write; a
  write through one server is read at once through the other; concurrent
  creates through both servers all land.
- DatabaseOutage: the database stopped for a few seconds in the middle of a
  write load through two servers, then started again: while it is down the
  servers answer 503 with Retry-After and a JSON detail, no request takes
  more than 15 s, nothing answers 500, no server exits; once it is back both
  servers answer 200 without being restarted, and every write that
  answered 200 (PATCHes and creates) is there. The same through a quick
  `pg_ctl restart -m fast` (every pooled connection broken at once) and
  through `pg_ctl stop -m immediate` (PostgreSQL crashes; recovery at the
  next start), the PostgreSQL counterpart of the suite's kill -9 tests.
- ConsumeLockOrder: consumes of one pair through both servers while PATCHes
  of its rows' expiry_at keep reordering their burn order, for 10 s: every
  answer 200, no "deadlock detected" in PostgreSQL's log, the rows'
  quantity_used the sum of the acknowledged consumes, `verify` ok.
"""

import argparse
import http.client
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
API = os.path.join(os.path.dirname(HERE), "api")
sys.path.insert(0, HERE)
sys.path.insert(0, API)
sys.dont_write_bytecode = True

import cluster as pgcluster  # noqa: E402
import harness  # noqa: E402
import run as apirun  # noqa: E402  (its Result and flatten)
from harness import Client, Server, patch_body, row_path  # noqa: E402

THREADS = 8
REQ_LIMIT = 15.0       # seconds: no request may take longer, outage or not
LOAD_DEADLINE = 240.0  # seconds: every load loop ends by then, whatever happens
T0 = 1700000000        # active_from = T0 + the value written, in Unix seconds
CLUSTER = None


def _now():
    return time.monotonic()


class PgCase(unittest.TestCase):
    """Two servers (cls.a, cls.b) on one fresh database of the run's
    cluster, with one tenant made by the CLI before they start."""

    maxDiff = None
    servers = 2

    @classmethod
    def setUpClass(cls):
        cls.dir = harness.new_dir(cls.__name__)
        cls.db = CLUSTER.create_db()
        cls.t = harness.tenant_create(cls.db, "Org %s" % cls.__name__)
        cls.srvs = []
        for _ in range(cls.servers):
            cls.srvs.append(Server(cls.dir, cls.db).start())
        cls.server = cls.srvs[0]  # run.Result shows its stderr on failure
        cls.a, cls.b = cls.srvs[0], cls.srvs[-1]

    @classmethod
    def tearDownClass(cls):
        bad = []
        for s in getattr(cls, "srvs", []):
            if s.proc is not None and s.proc.returncode is None:
                rc = s.stop()
                if rc != 0:
                    bad.append("server on port %d: exit %r after SIGTERM\n%s"
                               % (s.port, rc, s.stderr_tail()))
            elif s.proc is not None:
                bad.append("server on port %d had exited with %r\n%s"
                           % (s.port, s.proc.returncode, s.stderr_tail()))
        if bad:
            raise AssertionError("\n".join(bad))

    def setUp(self):
        if not CLUSTER.running:  # an earlier test left it stopped
            CLUSTER.start_again()

    # ---- helpers ---------------------------------------------------------

    def stderrs(self):
        return "".join("\n--- server %d stderr (port %s, tail) ---\n%s"
                       % (i, s.port, s.stderr_tail(30)) for i, s in enumerate(self.srvs))

    def client(self, srv, persistent=True):
        return Client(srv.port, self.t, persistent=persistent, timeout=REQ_LIMIT + 15)

    def ok(self, resp):
        self.assertEqual(resp.status, 200, "%s%s" % (resp, self.stderrs()))
        return resp.json

    def seed(self, n_rows):
        c = self.client(self.a)
        try:
            cu = self.ok(c.post("/customers", {"customer_name": "Multi %s" % harness.new_id()[:8]}))
            en = self.ok(c.post("/entitlements", {"name": "Ent %s" % harness.new_id()[:8]}))
            rows = [self.ok(c.post("/entitlements/%s/customer" % en["id"],
                                   {"customer": cu["id"], "quantity": 0}))["id"]
                    for _ in range(n_rows)]
        finally:
            c.close()
        return en["id"], cu["id"], rows

    def assert_alive(self):
        for i, s in enumerate(self.srvs):
            self.assertTrue(s.alive(), "server %d exited with %r%s"
                            % (i, s.proc.returncode, self.stderrs()))

    def check_503(self, resp):
        """An outage answer: 503, Retry-After, {"detail": "<sentence>"}."""
        problems = []
        if resp.status != 503:
            problems.append("status %d" % resp.status)
        if not resp.header("retry-after"):
            problems.append("no Retry-After")
        ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            problems.append("content-type %r" % ctype)
        try:
            body = harness.strict_loads(resp.body)
            if not (isinstance(body, dict) and isinstance(body.get("detail"), str)
                    and body["detail"]):
                problems.append("no detail sentence")
        except (ValueError, UnicodeDecodeError):
            problems.append("body is not JSON")
        return problems


class TwoServers(PgCase):
    SHARED = 6
    ITER = 120  # per thread: ITER PATCHes of shared rows and ITER of its own

    def test_eight_clients_write_the_same_rows_through_two_servers(self):
        E, C, rows = self.seed(self.SHARED + THREADS)
        shared, own = rows[:self.SHARED], rows[self.SHARED:]
        written = {r: set() for r in shared}   # every value sent to each shared row
        last_own = [None] * THREADS
        errors = []
        lock = threading.Lock()
        deadline = _now() + LOAD_DEADLINE

        def worker(k):
            clients = [self.client(self.a), self.client(self.b)]
            try:
                for i in range(self.ITER):
                    if _now() > deadline or len(errors) > 20:
                        errors.append("thread %d: stopped at %d of %d (deadline or errors)"
                                      % (k, i, self.ITER))
                        return
                    c = clients[(k + i) % 2]
                    rid = shared[(k * 7 + i) % self.SHARED]
                    v = k * 100000 + i + 1  # unique per request
                    with lock:
                        written[rid].add(v)
                    t0 = _now()
                    r = c.patch(row_path(E, C, rid), patch_body(
                        E, C, quantity=v, quantity_used=2 * v, active_from=T0 + v))
                    dt = _now() - t0
                    if r.status != 200 or r.json.get("quantity") != v or dt > REQ_LIMIT:
                        errors.append("thread %d, shared row %s (%.1fs): %s" % (k, rid, dt, r))
                        continue
                    c2 = clients[(k + i + 1) % 2]
                    r = c2.patch(row_path(E, C, own[k]), patch_body(E, C, quantity=v))
                    if r.status != 200 or r.json.get("quantity") != v:
                        errors.append("thread %d, own row %s: %s" % (k, own[k], r))
                        continue
                    last_own[k] = v
            except Exception as e:  # noqa: BLE001 - reported as the test's failure
                errors.append("thread %d: %s: %s" % (k, type(e).__name__, e))
            finally:
                for c in clients:
                    c.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(LOAD_DEADLINE + 60)
        self.assertFalse(any(th.is_alive() for th in threads), "a writer thread hangs")
        self.assert_alive()
        self.assertEqual(errors[:10], [], "%d failed requests%s" % (len(errors), self.stderrs()))

        ca, cb = self.client(self.a, False), self.client(self.b, False)
        for rid in shared:
            ga = self.ok(ca.get(row_path(E, C, rid)))
            gb = self.ok(cb.get(row_path(E, C, rid)))
            self.assertEqual(ga, gb, "the two servers read row %s differently" % rid)
            q = ga["quantity"]
            self.assertIn(q, written[rid], "row %s holds %r, never written to it" % (rid, q))
            af = harness.parse_dt(ga["active_from"]).timestamp()
            self.assertEqual((ga["quantity_used"], af), (2 * q, T0 + q),
                             "row %s mixes two writes: %r" % (rid, ga))
        for k, rid in enumerate(own):
            got = self.ok(cb.get(row_path(E, C, rid)))
            self.assertEqual(got["quantity"], last_own[k],
                             "thread %d's own row lost its last write" % k)
        # no row was added or lost
        lst = self.ok(ca.get(harness.url("/entitlements/customer/%s" % C, limit=100)))
        self.assertEqual(lst["total_count"], len(rows), str(lst)[:500])

    def test_write_through_one_is_read_through_the_other(self):
        E, C, rows = self.seed(1)
        ca, cb = self.client(self.a), self.client(self.b)
        try:
            for i in range(60):
                w, r = (ca, cb) if i % 2 == 0 else (cb, ca)
                self.ok(w.patch(row_path(E, C, rows[0]), patch_body(E, C, quantity=i + 1)))
                got = self.ok(r.get(row_path(E, C, rows[0])))
                self.assertEqual(got["quantity"], i + 1, "write %d not read through the "
                                 "other server" % i)
                cu = self.ok(w.post("/customers", {"customer_name": "Seen %d" % i}))
                self.ok(r.get("/customers/%s" % cu["id"]))
        finally:
            ca.close()
            cb.close()

    def test_concurrent_creates_through_both_servers(self):
        made = [[] for _ in range(THREADS)]
        errors = []
        deadline = _now() + LOAD_DEADLINE
        tag = harness.new_id()[:8]

        def worker(k):
            c = self.client(self.a if k % 2 else self.b)
            try:
                for i in range(40):
                    if _now() > deadline:
                        errors.append("thread %d: deadline" % k)
                        return
                    r = c.post("/customers", {"customer_name": "C %s %d %d" % (tag, k, i),
                                              "external_id": "x-%s-%d-%d" % (tag, k, i)})
                    if r.status != 200:
                        errors.append(str(r))
                        continue
                    made[k].append(r.json["id"])
            except Exception as e:  # noqa: BLE001
                errors.append("thread %d: %s: %s" % (k, type(e).__name__, e))
            finally:
                c.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(LOAD_DEADLINE + 60)
        self.assertEqual(errors[:10], [], "%d failed creates%s" % (len(errors), self.stderrs()))
        ids = [i for m in made for i in m]
        self.assertEqual(len(set(ids)), len(ids), "an id was given twice")
        c = self.client(self.b, False)
        for cid in ids:
            self.ok(c.get("/customers/%s" % cid))
        got = self.ok(c.get(harness.url("/customers", customer_name__ilike="C %s " % tag,
                                        limit=1)))
        self.assertEqual(got["total"], len(ids), str(got)[:500])


class DatabaseOutage(PgCase):
    OUTAGE = 3.0  # seconds the database stays down

    def run_load(self, E, C, own, during):
        """8 threads writing through both servers (a PATCH of their own row
        and a create, in turn) while during() runs; then 2 s more of load
        after it returns. Returns the load's record."""
        rec = {
            "acked_patch": [None] * THREADS,   # last PATCH value answered 200
            "last_status": [None] * THREADS,   # status of each thread's last PATCH
            "acked_creates": [],               # (id, name) answered 200
            "n200": 0, "n503": 0, "bad": [], "slow": [], "errors": [],
            "statuses": {},
        }
        lock = threading.Lock()
        stop = threading.Event()
        deadline = _now() + LOAD_DEADLINE

        def worker(k):
            clients = [self.client(self.a), self.client(self.b)]
            v = 0
            try:
                for i in range(100000):
                    if stop.is_set() or _now() > deadline:
                        return
                    c = clients[(k + i) % 2]
                    if i % 2 == 0:
                        v += 1
                        method, path = "PATCH", row_path(E, C, own[k])
                        body = patch_body(E, C, quantity=v)
                    else:
                        name = "Load %d %d" % (k, i)
                        method, path, body = "POST", "/customers", {"customer_name": name}
                    t0 = _now()
                    try:
                        r = c.request(method, path, body)
                    except (OSError, http.client.HTTPException) as e:
                        with lock:
                            rec["errors"].append("%s %s: %s: %s after %.1fs"
                                                 % (method, path, type(e).__name__, e,
                                                    _now() - t0))
                        time.sleep(0.2)
                        continue
                    dt = _now() - t0
                    with lock:
                        rec["statuses"][r.status] = rec["statuses"].get(r.status, 0) + 1
                        if dt > REQ_LIMIT:
                            rec["slow"].append("%.1fs: %s" % (dt, r))
                        if method == "PATCH":
                            rec["last_status"][k] = r.status
                        if r.status == 200:
                            rec["n200"] += 1
                            if method == "PATCH":
                                if r.json.get("quantity") != v:
                                    rec["bad"].append(str(r))
                                rec["acked_patch"][k] = v
                            else:
                                rec["acked_creates"].append((r.json["id"], name))
                        elif r.status == 503:
                            rec["n503"] += 1
                            p = self.check_503(r)
                            if p:
                                rec["bad"].append("%s: %s" % (", ".join(p), r))
                        else:
                            rec["bad"].append(str(r))
                    if r.status != 200:
                        time.sleep(0.1)
            except Exception as e:  # noqa: BLE001
                with lock:
                    rec["errors"].append("thread %d: %s: %s" % (k, type(e).__name__, e))
            finally:
                for c in clients:
                    c.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
        for th in threads:
            th.start()
        try:
            time.sleep(1.5)
            with lock:
                before = rec["n200"]
            self.assertGreater(before, 0, "no write succeeded before the outage%s" % self.stderrs())
            during()
            time.sleep(2.0)
        finally:
            stop.set()
            for th in threads:
                th.join(REQ_LIMIT + 30)
        self.assertFalse(any(th.is_alive() for th in threads), "a load thread hangs")
        return rec

    def probe_until_200(self, E, C, rid, limit=30.0):
        """After the database is back: both servers must answer a PATCH with
        200 within `limit` seconds, without being restarted."""
        for i, s in enumerate(self.srvs):
            c = self.client(s, persistent=False)
            t_end = _now() + limit
            last = None
            for n in range(int(limit / 0.2) + 1):
                last = c.patch(row_path(E, C, rid), patch_body(E, C, quantity=n))
                if last.status == 200:
                    break
                self.assertEqual(last.status, 503, "server %d after the database came back: %s%s"
                                 % (i, last, self.stderrs()))
                if _now() > t_end:
                    break
                time.sleep(0.2)
            self.assertEqual(last.status, 200, "server %d did not recover within %gs: %s%s"
                             % (i, limit, last, self.stderrs()))

    def report(self, rec, extra=""):
        sys.stdout.write("    %s: statuses %r, %d acknowledged creates checked%s\n"
                         % (self.id().rsplit(".", 1)[1], rec["statuses"],
                            len(rec["acked_creates"]), "; " + extra if extra else ""))
        sys.stdout.flush()

    def check_record(self, E, C, own, rec, expect_503):
        self.assert_alive()
        self.assertEqual(rec["errors"][:10], [], "requests failed without an answer "
                         "(%d)%s" % (len(rec["errors"]), self.stderrs()))
        self.assertEqual(rec["slow"][:5], [], "requests took longer than %gs" % REQ_LIMIT)
        self.assertEqual(rec["bad"][:10], [], "answers other than 200 or a proper 503 "
                         "(%d); statuses %r%s" % (len(rec["bad"]), rec["statuses"], self.stderrs()))
        if expect_503:
            self.assertGreater(rec["n503"], 0, "no 503 while the database was down: %r"
                               % rec["statuses"])
        # every thread's last PATCH answered 200 (the load ran on after recovery)
        self.assertEqual(rec["last_status"], [200] * THREADS,
                         "load still failing after recovery: %r" % rec["statuses"])
        c = self.client(self.b, persistent=True)
        try:
            for k, rid in enumerate(own):
                got = self.ok(c.get(row_path(E, C, rid)))
                self.assertEqual(got["quantity"], rec["acked_patch"][k],
                                 "thread %d: last acknowledged PATCH lost" % k)
            missing = []
            for cid, name in rec["acked_creates"]:
                r = c.get("/customers/%s" % cid)
                if r.status != 200 or r.json.get("customer_name") != name:
                    missing.append(str(r))
            self.assertEqual(missing[:5], [], "%d of %d acknowledged creates lost"
                             % (len(missing), len(rec["acked_creates"])))
        finally:
            c.close()

    def test_database_down_for_seconds_under_load(self):
        E, C, rows = self.seed(THREADS + 1)
        own, probe = rows[:THREADS], rows[THREADS]
        outage = {}

        def during():
            CLUSTER.stop("fast")
            t_down = _now()
            # While it is down: both servers answer 503 promptly.
            for i, s in enumerate(self.srvs):
                c = self.client(s, persistent=False)
                for path, body in ((row_path(E, C, probe), patch_body(E, C, quantity=1)),
                                   ("/customers", {"customer_name": "while down"})):
                    t0 = _now()
                    r = c.request("PATCH" if body.get("entitlement") else "POST", path, body)
                    dt = _now() - t0
                    self.assertLess(dt, REQ_LIMIT, "server %d took %.1fs while the database "
                                    "was down" % (i, dt))
                    p = self.check_503(r)
                    self.assertEqual(p, [], "server %d while the database was down: %s%s"
                                     % (i, r, self.stderrs()))
            time.sleep(max(0.0, self.OUTAGE - (_now() - t_down)))
            self.assert_alive()
            CLUSTER.start_again()
            outage["back"] = _now()
            self.probe_until_200(E, C, probe)
            outage["recovered"] = _now() - outage["back"]

        rec = self.run_load(E, C, own, during)
        self.report(rec, "recovered %.1fs after the database was back" % outage["recovered"])
        self.check_record(E, C, own, rec, expect_503=True)

    def test_fast_restart_under_load(self):
        """pg_ctl restart -m fast: every pooled connection is broken at once;
        requests answer 200 or 503, and soon 200 again."""
        E, C, rows = self.seed(THREADS + 1)
        own, probe = rows[:THREADS], rows[THREADS]

        def during():
            CLUSTER.restart("fast")
            self.probe_until_200(E, C, probe)

        rec = self.run_load(E, C, own, during)
        self.report(rec)
        self.check_record(E, C, own, rec, expect_503=False)

    def test_database_crash_keeps_acknowledged_writes(self):
        """pg_ctl stop -m immediate (PostgreSQL dies without a checkpoint,
        like kill -9) under load, then started again (crash recovery):
        every write that answered 200 is there."""
        E, C, rows = self.seed(THREADS + 1)
        own, probe = rows[:THREADS], rows[THREADS]

        def during():
            CLUSTER.stop("immediate")
            time.sleep(1.0)
            self.assert_alive()
            CLUSTER.start_again()
            self.probe_until_200(E, C, probe)

        rec = self.run_load(E, C, own, during)
        self.report(rec)
        self.check_record(E, C, own, rec, expect_503=False)


class ConsumeLockOrder(PgCase):
    """Issue 13 item 10: consumes of one pair and PATCHes of its rows'
    expiry_at that keep swapping their burn order. Consume used to lock the
    pair's rows in burn order, as each statement's snapshot sorted them; two
    consumers that read the order before and after a PATCH then locked the
    rows in opposite orders and deadlocked (PostgreSQL aborts one after its
    deadlock_timeout; the server answered 503). Every answer must now be
    200, PostgreSQL must log no deadlock, and the rows must hold exactly
    what the acknowledged consumes drew."""

    ROWS = 3
    CONSUMERS = 6
    PATCHERS = 2
    SECONDS = 10.0
    AMOUNTS = ("0.25", "1", "0.5", "2.125")  # exact in binary and in millionths
    EXPIRY = 4102444800  # 2100-01-01T00:00:00Z: each PATCH moves a row around it

    def expiry(self, s):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.EXPIRY + s))

    def test_consumes_and_expiry_patches_never_deadlock(self):
        from decimal import Decimal
        c = self.client(self.a)
        try:
            cu = self.ok(c.post("/customers", {"customer_name": "Lock %s" % harness.new_id()[:8]}))
            en = self.ok(c.post("/entitlements", {"name": "Lock %s" % harness.new_id()[:8],
                                                  "entitlement_type": "Quantity"}))
            E, C = en["id"], cu["id"]
            rows = [self.ok(c.post("/entitlements/%s/customer" % E, {
                "customer": C, "quantity": 1000000, "expiry_at": self.expiry(3600 * i)}))["id"]
                for i in range(self.ROWS)]
        finally:
            c.close()
        with open(CLUSTER.log, "rb") as f:
            log_start = len(f.read())

        lock = threading.Lock()
        rec = {"consumed": Decimal(0), "consumes": 0, "patches": 0, "statuses": {},
               "bad": [], "errors": []}
        stop = _now() + self.SECONDS

        def note(r, what):
            with lock:
                rec["statuses"][r.status] = rec["statuses"].get(r.status, 0) + 1
                if r.status != 200:
                    rec["bad"].append("%s: %s" % (what, r))
            return r.status == 200

        def consumer(k):
            clients = [self.client(self.a), self.client(self.b)]
            try:
                i = 0
                while _now() < stop:
                    q = self.AMOUNTS[(k + i) % len(self.AMOUNTS)]
                    r = clients[i % 2].post("/entitlements/%s/customer/%s/consume" % (E, C),
                                            {"quantity": float(q)})
                    if note(r, "consume %s" % q):
                        with lock:
                            rec["consumed"] += Decimal(q)
                            rec["consumes"] += 1
                    i += 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    rec["errors"].append("consumer %d: %s: %s" % (k, type(e).__name__, e))
            finally:
                for cl in clients:
                    cl.close()

        def patcher(k):
            clients = [self.client(self.a), self.client(self.b)]
            try:
                i = 0
                while _now() < stop:
                    # each PATCH sends one row from the front of the burn
                    # order to the back or the other way round
                    rid = rows[(k + i) % self.ROWS]
                    at = self.expiry((-1 if (i // self.ROWS + k) % 2 else 1) * (i % 7200 + 1))
                    r = clients[i % 2].patch(row_path(E, C, rid), patch_body(E, C, expiry_at=at))
                    if note(r, "PATCH expiry_at %s" % at):
                        with lock:
                            rec["patches"] += 1
                    i += 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    rec["errors"].append("patcher %d: %s: %s" % (k, type(e).__name__, e))
            finally:
                for cl in clients:
                    cl.close()

        threads = [threading.Thread(target=consumer, args=(k,)) for k in range(self.CONSUMERS)]
        threads += [threading.Thread(target=patcher, args=(k,)) for k in range(self.PATCHERS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(self.SECONDS + 2 * REQ_LIMIT + 30)
        self.assertFalse(any(th.is_alive() for th in threads), "a client thread hangs")
        with open(CLUSTER.log, "rb") as f:
            log = f.read()[log_start:].decode("utf-8", "replace")
        deadlocks = log.count("deadlock detected")
        sys.stdout.write("    %s: %d consumes, %d PATCHes in %gs; statuses %r; %d deadlocks "
                         "in the PostgreSQL log\n"
                         % (self.id().rsplit(".", 1)[1], rec["consumes"], rec["patches"],
                            self.SECONDS, rec["statuses"], deadlocks))
        sys.stdout.flush()
        self.assert_alive()
        self.assertEqual(rec["errors"][:5], [], "requests without an answer%s" % self.stderrs())
        self.assertEqual((len(rec["bad"]), rec["bad"][:5]), (0, []),
                         "answers other than 200: %r" % rec["statuses"])
        self.assertEqual(deadlocks, 0, "PostgreSQL logged deadlocks:\n%s" % log[-3000:])
        self.assertGreater(rec["consumes"], 0)
        self.assertGreater(rec["patches"], 0)

        # the rows hold exactly what the acknowledged consumes drew
        c = self.client(self.b, persistent=False)
        used = Decimal(0)
        for rid in rows:
            got = self.ok(c.get(row_path(E, C, rid)))
            used += Decimal(repr(got["quantity_used"] or 0))
        self.assertEqual(used, rec["consumed"], "quantity_used of the pair's rows against the "
                         "sum of the acknowledged consumes")
        v = harness.cli("verify", db=self.db)
        self.assertEqual(v.rc, 0, "entitled verify: %r" % v)


def main():
    global CLUSTER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="path to the entitled binary")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = ap.parse_args()
    out = sys.stdout
    harness.BIN = os.path.abspath(args.bin)
    harness.KEEP = args.keep
    harness.BACKEND = "postgres"
    if not (os.path.isfile(harness.BIN) and os.access(harness.BIN, os.X_OK)):
        out.write("not an executable file: %s\n0 passed, 1 failed\n" % harness.BIN)
        return 1
    root = harness.root_dir()
    try:
        CLUSTER = pgcluster.Cluster(keep=args.keep).start()
    except Exception as e:  # noqa: BLE001 - PostgreSQL missing is a failure
        out.write("PostgreSQL cluster: %s: %s\n0 passed, 1 failed\n" % (type(e).__name__, e))
        harness.cleanup_root()
        return 1
    harness.PG = CLUSTER

    suite = unittest.TestLoader().loadTestsFromModule(sys.modules[__name__])
    tests = list(apirun.flatten(suite))
    if args.k:
        tests = [t for t in tests if any(k in t.id() for k in args.k)]
    out.write("entitled PostgreSQL tests: %s, %d tests, temp %s, cluster %s port %d\n"
              % (harness.BIN, len(tests), root, CLUSTER.top, CLUSTER.port))
    out.flush()
    result = apirun.Result(out)
    t0 = time.monotonic()
    unittest.TestSuite(tests).run(result)
    dt = time.monotonic() - t0
    if result.failed:
        out.write("\n" + "=" * 70 + "\nFailures\n" + "=" * 70 + "\n")
        for _name, text in result.failed:
            out.write(text.rstrip() + "\n" + "-" * 70 + "\n")
    if args.keep or result.failed:
        out.write("temporary folders: %s, %s%s\n" % (root, CLUSTER.top,
                                                     "" if args.keep else " (removed)"))
    harness.cleanup_root()
    CLUSTER.destroy()
    out.write("time %.1fs\n" % dt)
    line = "%d passed, %d failed" % (result.passed, len(result.failed))
    if result.skipped_n:
        line += ", %d skipped" % result.skipped_n
    out.write(line + "\n")
    out.flush()
    return 0 if not (result.failed or not tests) else 1


if __name__ == "__main__":
    sys.exit(main())
