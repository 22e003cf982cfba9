"""Crash loop (issue 7): while 8 clients write (PATCH a row, create a
customer, create a row, consume) and record what the server acknowledged,
the server is killed with kill -9 at random moments and restarted, 20 times
(ENTITLED_CRASH_KILLS). Then every acknowledged write is present, exactly as
acknowledged:

- a PATCHed row holds its last acknowledged value, or a value sent after it
  whose answer was lost in a kill (that request may have committed);
- an acknowledged customer exists once, with its fields; an unanswered one
  exists at most once;
- an acknowledged row exists with its quantity; an unanswered one exists
  with it or not at all;
- every acknowledged consume is in the ledger under its Idempotency-Key (also
  its X-Request-Id), at the seq it was answered with, with the answered
  draws; every consume in the ledger was sent, once and whole; every
  acknowledged PATCH and row create is in the ledger under its X-Request-Id;
- the organisation's ledger seq is 1..N without gaps;
- each row's quantity_used is the sum of its consume entries.

On SQLite `PRAGMA integrity_check` is run after every restart (read-only,
while the clients write) and at the end with `PRAGMA foreign_key_check`; on
both backends `entitled verify` replays the ledger at the end. A client's
request is "unanswered" when its connection failed (the kill) or the server
answered 503 (busy; nothing written, docs/API.md); any other status than 200
fails the test.

The kill moments and the clients' operations are random: the seed is printed
(ENTITLED_TEST_SEED=N repeats the choices; the timing of a real run never
repeats exactly, but every assertion holds for any timing)."""

import collections
import http.client
import os
import random
import sqlite3
import sys
import threading
import time
import uuid

import harness
from harness import Client, ServerTestCase, url
from ledger_check import consume_path, ledger_path, row_path, verify

SEED = int(os.environ.get("ENTITLED_TEST_SEED") or random.SystemRandom().randrange(1, 2 ** 31))
KILLS = int(os.environ.get("ENTITLED_CRASH_KILLS") or 20)
CLIENTS = 8
REQUEST_TIMEOUT = 20.0
JOIN_TIMEOUT = 120.0


class ClientState:
    """What one client sent and what the server acknowledged."""

    def __init__(self, k, customer, patch_row):
        self.k = k
        self.customer = customer
        self.patch_row = patch_row
        self.patch_acked = 0          # last acknowledged quantity of patch_row (0: the initial one)
        self.patch_acked_rid = None
        self.patch_pending = set()    # quantities sent after the last ack, answer lost
        self.patches_acked = {}       # request id -> quantity
        self.customers_acked = {}     # external_id -> (id, name)
        self.customers_lost = {}      # external_id -> name
        self.rows_acked = {}          # row id -> (quantity, request id)
        self.rows_lost = {}           # row id -> quantity
        self.consumes_acked = {}      # key -> answer
        self.consumes_sent = {}       # key -> quantity
        self.unanswered = 0           # sent, answer lost in a kill
        self.refused = 0              # connection refused: the server was down
        self.busy = 0
        self.errors = []


class CrashLoop(ServerTestCase):
    def msg(self, text):
        return "[seed %d] %s" % (SEED, text)

    def integrity(self):
        """PRAGMA integrity_check on the SQLite file, read-only, while the
        server runs (WAL: a reader does not disturb the writers)."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        try:
            ic = con.execute("PRAGMA integrity_check").fetchall()
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            con.close()
        return ic, fk

    def test_crash_loop(self):
        sys.stdout.write("CrashLoop: seed %d (ENTITLED_TEST_SEED=%d repeats it), %d kills, %d clients\n"
                         % (SEED, SEED, KILLS, CLIENTS))
        sys.stdout.flush()
        rng = random.Random(SEED)
        c = self.c
        e_consume = self.make_entitlement(name="crash consume", entitlement_type="Credits")["id"]
        e_patch = self.make_entitlement(name="crash patch", entitlement_type="Quantity")["id"]
        e_create = self.make_entitlement(name="crash create", entitlement_type="Quantity")["id"]
        states = []
        for k in range(CLIENTS):
            cu = self.make_customer(customer_name="crash client %d" % k)["id"]
            self.make_row(e_consume, cu, quantity=10 ** 9)  # never runs dry
            pr = self.make_row(e_patch, cu, quantity=0)["id"]
            states.append(ClientState(k, cu, pr))

        port = {"value": self.server.port}
        stop = threading.Event()
        lock = threading.Lock()
        acks = [0]

        def worker(st):
            r = random.Random(SEED * 1000 + st.k)
            i = 0
            while not stop.is_set():
                i += 1
                op = r.random()
                rid = "crash-%d-%d-%d" % (SEED, st.k, i)
                cl = Client(port["value"], self.t, timeout=REQUEST_TIMEOUT)
                undo = []  # how to forget the request if it never reached the server
                try:
                    if op < 0.3:
                        q = i
                        with lock:
                            st.patch_pending.add(q)
                        undo.append(lambda: st.patch_pending.discard(q))
                        resp = cl.patch(row_path(e_patch, st.customer, st.patch_row),
                                        {"entitlement": e_patch, "customer": st.customer, "quantity": q},
                                        headers={"X-Request-Id": rid})
                        if resp.status == 200:
                            with lock:
                                st.patch_acked, st.patch_acked_rid = q, rid
                                st.patch_pending.clear()
                                st.patches_acked[rid] = q
                    elif op < 0.45:
                        ext, name = rid, "crash customer %d %d" % (st.k, i)
                        with lock:
                            st.customers_lost[ext] = name
                        undo.append(lambda: st.customers_lost.pop(ext))
                        resp = cl.post("/customers", {"customer_name": name, "external_id": ext},
                                       headers={"X-Request-Id": rid})
                        if resp.status == 200:
                            with lock:
                                del st.customers_lost[ext]
                                st.customers_acked[ext] = (resp.json["id"], name)
                    elif op < 0.6:
                        row_id = str(uuid.UUID(int=r.getrandbits(128), version=4))
                        q = i
                        with lock:
                            st.rows_lost[row_id] = q
                        undo.append(lambda: st.rows_lost.pop(row_id))
                        resp = cl.post("/entitlements/%s/customer" % e_create,
                                       {"id": row_id, "customer": st.customer, "quantity": q},
                                       headers={"X-Request-Id": rid})
                        if resp.status == 200:
                            with lock:
                                del st.rows_lost[row_id]
                                st.rows_acked[row_id] = (q, rid)
                    else:
                        q = r.randint(1, 9)
                        with lock:
                            st.consumes_sent[rid] = q
                        undo.append(lambda: st.consumes_sent.pop(rid))
                        resp = cl.post(consume_path(e_consume, st.customer), {"quantity": q},
                                       headers={"Idempotency-Key": rid, "X-Request-Id": rid})
                        if resp.status == 200:
                            with lock:
                                st.consumes_acked[rid] = resp.json
                    if resp.status == 200:
                        with lock:
                            acks[0] += 1
                    elif resp.status == 503:
                        with lock:
                            st.busy += 1
                    else:
                        with lock:
                            st.errors.append("%s: %s" % (rid, resp))
                        return
                except ConnectionRefusedError:
                    with lock:  # never reached a server: certainly not applied
                        for f in undo:
                            f()
                        st.refused += 1
                    time.sleep(0.01)  # the server is down or coming back on a new port
                except (OSError, http.client.HTTPException):
                    with lock:  # sent, answer lost: may have committed
                        st.unanswered += 1
                    time.sleep(0.01)
                except Exception as ex:  # noqa: BLE001 - reported below
                    with lock:
                        st.errors.append("%s: %s: %s" % (rid, type(ex).__name__, ex))
                    return

        threads = [threading.Thread(target=worker, args=(st,), daemon=True) for st in states]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        kills, integrity_problems, acks_between = 0, [], []
        try:
            for n in range(KILLS):
                before = acks[0]
                # let some writes through, then kill at a random moment
                deadline = time.monotonic() + 10
                while acks[0] - before < 5 and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.05, 0.8))
                self.assertTrue(self.server.alive(), self.msg("the server died by itself before kill %d\n%s"
                                                              % (n + 1, self.server.stderr_tail())))
                self.server.kill9()
                kills += 1
                acks_between.append(acks[0] - before)
                self.server.start()
                port["value"] = self.server.port
                if harness.BACKEND == "sqlite":
                    ic, fk = self.integrity()
                    if ic != [("ok",)] or fk:
                        integrity_problems.append("after kill %d: integrity_check %r, foreign_key_check %r"
                                                  % (n + 1, ic[:5], fk[:5]))
            time.sleep(0.3)
        finally:
            stop.set()
            for th in threads:
                th.join(JOIN_TIMEOUT)
        loop_time = time.monotonic() - t0
        self.assertFalse(any(th.is_alive() for th in threads), self.msg("client threads hung"))
        errors = [e for st in states for e in st.errors]
        self.assertEqual(errors, [], self.msg("answers other than 200 or 503:\n" + "\n".join(errors[:10])))
        self.assertEqual(integrity_problems, [], self.msg("\n".join(integrity_problems)))
        self.assertEqual(kills, KILLS)
        self.assertTrue(all(a >= 5 for a in acks_between),
                        self.msg("too few writes between kills: %r" % acks_between))

        c = Client(self.server.port, self.t)
        self.c = c
        problems = []

        # customers: acknowledged ones once, as acknowledged; lost ones at most once
        by_ext = collections.defaultdict(list)
        for cu in self.walk(c, "/customers", "data"):
            by_ext[cu["external_id"]].append(cu)
        for st in states:
            for ext, (cid, name) in st.customers_acked.items():
                got = by_ext.get(ext, [])
                if [(x["id"], x["customer_name"]) for x in got] != [(cid, name)]:
                    problems.append("acknowledged customer %s (%s): found %r" % (ext, cid, got))
            for ext in st.customers_lost:
                if len(by_ext.get(ext, [])) > 1:
                    problems.append("unanswered customer %s made %d times" % (ext, len(by_ext[ext])))

        # the org's ledger, all customers together
        entries = []
        for st in states:
            entries += self.walk(c, ledger_path(st.customer), "results")
        seqs = sorted({x["seq"] for x in entries})
        if seqs != list(range(1, len(seqs) + 1)):
            problems.append("the ledger's seqs are not 1..N: %d seqs, first gaps %r" % (
                len(seqs), sorted(set(range(1, (seqs[-1] if seqs else 0) + 1)) - set(seqs))[:10]))
        by_rid = collections.defaultdict(list)
        by_key = collections.defaultdict(list)
        for x in entries:
            by_rid[x["request_id"]].append(x)
            if x["kind"] == "consume":
                by_key[x["idempotency_key"]].append(x)

        counts = collections.Counter()
        for st in states:
            rows = {r["id"]: r for r in self.walk(c, "/entitlements/customer/%s" % st.customer, "results")}
            # PATCH: the last acknowledged value or one sent after it
            allowed = {st.patch_acked} | st.patch_pending
            got = rows[st.patch_row]["quantity"]
            if got not in allowed:
                problems.append("client %d: PATCHed row holds %r; last acknowledged %r, unanswered after it %r"
                                % (st.k, got, st.patch_acked, sorted(st.patch_pending)))
            for rid, q in st.patches_acked.items():
                ups = [x for x in by_rid.get(rid, []) if x["kind"] == "update" and x["row_id"] == st.patch_row]
                if [x["quantity"] for x in ups] != [q]:
                    problems.append("acknowledged PATCH %s (quantity %r) in the ledger as %r" % (rid, q, ups))
            # rows made
            for row_id, (q, rid) in st.rows_acked.items():
                if row_id not in rows or rows[row_id]["quantity"] != q:
                    problems.append("acknowledged row %s (quantity %r): found %r" % (row_id, q, rows.get(row_id)))
                cr = [x for x in by_rid.get(rid, []) if x["kind"] == "create" and x["row_id"] == row_id]
                if len(cr) != 1:
                    problems.append("acknowledged row %s: %d create entries under %s" % (row_id, len(cr), rid))
            for row_id, q in st.rows_lost.items():
                if row_id in rows and rows[row_id]["quantity"] != q:
                    problems.append("unanswered row %s holds %r, sent %r" % (row_id, rows[row_id]["quantity"], q))
            # consumes: acknowledged ones as answered; the ledger's all sent, once, whole
            for key, ans in st.consumes_acked.items():
                ents = by_key.get(key, [])
                got_draws = {x["row_id"]: x["quantity_used_delta"] for x in ents}
                want = {d["id"]: d["quantity_drawn"] for d in ans["draws"]}
                if {x["seq"] for x in ents} != {ans["ledger_seq"]} or got_draws != want:
                    problems.append("acknowledged consume %s (seq %d, draws %r) in the ledger as %r"
                                    % (key, ans["ledger_seq"], want, ents))
                if any(x["request_id"] != key for x in ents):
                    problems.append("consume %s: request_id %r" % (key, [x["request_id"] for x in ents]))
            for key, ents in by_key.items():
                if not key.startswith("crash-%d-%d-" % (SEED, st.k)):
                    continue
                if key not in st.consumes_sent:
                    problems.append("consume %s in the ledger was never sent" % key)
                    continue
                whole = sum(x["quantity_used_delta"] for x in ents) == st.consumes_sent[key]
                if len({x["seq"] for x in ents}) != 1 or not whole:
                    problems.append("consume %s ran more than once or in part: %r (sent %r)"
                                    % (key, ents, st.consumes_sent[key]))
            # every row's quantity_used is what its consume entries add up to
            used = collections.defaultdict(float)
            for x in entries:
                if x["kind"] == "consume" and x["customer"] == st.customer:
                    used[x["row_id"]] += x["quantity_used_delta"]
            for row_id, row in rows.items():
                if row["entitlement"] == e_consume and (row["quantity_used"] or 0) != used[row_id]:
                    problems.append("row %s: quantity_used %r, consume entries add up to %r"
                                    % (row_id, row["quantity_used"], used[row_id]))
            counts["patches acknowledged"] += len(st.patches_acked)
            counts["customers acknowledged"] += len(st.customers_acked)
            counts["rows acknowledged"] += len(st.rows_acked)
            counts["consumes acknowledged"] += len(st.consumes_acked)
            counts["consumes unanswered"] += len(set(st.consumes_sent) - set(st.consumes_acked))
            counts["unanswered requests"] += st.unanswered
            counts["refused connections"] += st.refused
            counts["customers unanswered"] += len(st.customers_lost)
            counts["rows unanswered"] += len(st.rows_lost)
            counts["patches unanswered after the last ack"] += len(st.patch_pending)
            counts["503 answers"] += st.busy
        sys.stdout.write("CrashLoop: %d kills in %.1fs; %s; ledger %d entries, seq 1..%d\n" % (
            kills, loop_time, ", ".join("%s %d" % kv for kv in sorted(counts.items())), len(entries),
            seqs[-1] if seqs else 0))
        sys.stdout.flush()
        self.assertEqual(problems, [], self.msg("%d problems:\n%s" % (len(problems), "\n".join(problems[:40]))))
        self.assertGreater(sum(len(st.consumes_acked) for st in states), 0, self.msg("no consume acknowledged"))

        # a clean stop, then the database itself
        rc = self.server.stop()
        self.assertEqual(rc, 0, self.msg("exit after SIGTERM\n%s" % self.server.stderr_tail()))
        if harness.BACKEND == "sqlite":
            ic, fk = self.integrity()
            self.assertEqual(ic, [("ok",)], self.msg("PRAGMA integrity_check at the end"))
            self.assertEqual(fk, [], self.msg("PRAGMA foreign_key_check at the end"))
        r = verify(self.db)
        self.assertEqual(r.rc, 0, self.msg("entitled verify\n%r" % r))

    def walk(self, client, path, key):
        items, cursor = [], None
        for _ in range(10000):
            body = self.assertJson(client.get(url(path, limit=100, cursor=cursor)), 200)
            items += body[key]
            cursor = body["next"]
            if not cursor:
                return items
        self.fail("list %s does not end" % path)
