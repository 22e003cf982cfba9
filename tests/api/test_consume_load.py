"""Consume under load (issue 5): 16 clients drain three overlapping grants of
1,000 units exactly; every consume sent twice at once with one
Idempotency-Key counts once; kill -9 in the middle of 16-client consume load
loses no answered consume and half-applies none. Each test makes its own
organisation, so that its ledger's seq must be exactly 1..N.

The amounts are random: the seed is printed (ENTITLED_TEST_SEED=N repeats a
run) and named in every failure message."""

import collections
import http.client
import os
import random
import sys
import threading
import time

import harness
from harness import Client, ServerTestCase, fresh_client
from ledger_check import (balance_path, by_seq, consume_path, entries_of, from_now, row_path,
                          verify)

SEED = int(os.environ.get("ENTITLED_TEST_SEED") or random.SystemRandom().randrange(1, 2 ** 31))
THREADS = 16
JOIN_TIMEOUT = 120


class ConsumeLoad(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sys.stdout.write("ConsumeLoad: seed %d (ENTITLED_TEST_SEED=%d repeats it)\n" % (SEED, SEED))
        sys.stdout.flush()

    def setUp(self):
        if not self.server.alive():  # an earlier test stopped or killed it
            self.restart()

    def restart(self):
        self.server.start()
        type(self).c = Client(self.server.port, self.t)
        self.c = type(self).c

    def msg(self, text):
        return "[seed %d] %s" % (SEED, text)

    def tenant_client(self, name):
        cl = fresh_client(self, name)
        e = self.make_entitlement(cl, entitlement_type="Credits")["id"]
        c = self.make_customer(cl)["id"]
        return cl, e, c

    def verify_db(self):
        """entitled verify passes (on SQLite with the server stopped)."""
        if harness.BACKEND == "sqlite":
            rc = self.server.stop()
            self.assertEqual(rc, 0, self.msg("exit after SIGTERM\n%s" % self.server.stderr_tail()))
        r = verify(self.db)
        self.assertEqual(r.rc, 0, self.msg("verify failed\n%r" % r))
        self.assertTrue(r.out.strip(), self.msg("verify printed nothing\n%r" % r))

    def run_threads(self, target, n):
        threads = [threading.Thread(target=target, args=(k,), daemon=True) for k in range(n)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(JOIN_TIMEOUT)
        self.assertFalse(any(th.is_alive() for th in threads), self.msg("client threads hung"))

    def assertGapless(self, entries):
        seqs = sorted(by_seq(entries))
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)),
                         self.msg("the organisation's seqs are not 1..N: %r" % seqs[:50]))

    def assertDrawsInLedger(self, answer, entries_by_seq, what):
        ents = entries_by_seq.get(answer["ledger_seq"], [])
        got = {x["row_id"]: x["quantity_used_delta"] for x in ents}
        want = {d["id"]: d["quantity_drawn"] for d in answer["draws"]}
        self.assertEqual(got, want, self.msg("%s: ledger entries of seq %d differ from the draws"
                                             % (what, answer["ledger_seq"])))
        self.assertEqual({x["kind"] for x in ents}, {"consume"}, self.msg(what))

    # ------------------------------------------------------------------

    def test_a_sixteen_clients_drain_exactly_1000(self):
        cl, e, c = self.tenant_client("DrainA")
        rows = [self.make_row(e, c, cl, quantity=300, active_from=from_now(days=-1),
                              expiry_at=from_now(days=30))["id"],
                self.make_row(e, c, cl, quantity=500, active_from=from_now(days=-2))["id"],
                self.make_row(e, c, cl, quantity=200, expiry_at=from_now(days=10))["id"]]
        path = consume_path(e, c)
        accepted, refused, errors = [], [], []
        lock = threading.Lock()
        start = threading.Barrier(THREADS, timeout=60)

        def worker(k):
            rng = random.Random(SEED * 1000 + k)
            client = Client(self.server.port, cl.tenant, persistent=True)
            try:
                start.wait()
                for _ in range(1000):
                    q = rng.randint(1, 40)
                    r = client.post(path, {"quantity": q})
                    if r.status == 200:
                        with lock:
                            accepted.append((q, r.json))
                    elif r.status == 409:
                        with lock:
                            refused.append((q, r.json))
                        if r.json.get("available") == 0:
                            return
                    else:
                        with lock:
                            errors.append("thread %d: %s" % (k, r))
                        return
                with lock:
                    errors.append("thread %d: still consuming after 1000 requests" % k)
            except Exception as ex:  # noqa: BLE001 - reported below
                with lock:
                    errors.append("thread %d: %s: %s" % (k, type(ex).__name__, ex))
            finally:
                client.close()

        self.run_threads(worker, THREADS)
        self.assertEqual(errors, [], self.msg("\n".join(errors[:10])))
        self.assertEqual(sum(q for q, _ in accepted), 1000,
                         self.msg("accepted quantities do not add up to 1000"))
        for q, body in accepted:
            self.assertEqual(body["quantity"], q, self.msg(repr(body)))
            self.assertEqual(sum(d["quantity_drawn"] for d in body["draws"]), q, self.msg(repr(body)))
            self.assertTrue(set(d["id"] for d in body["draws"]) <= set(rows), self.msg(repr(body)))
        for q, body in refused:
            self.assertEqual(body["requested"], q, self.msg(repr(body)))
            self.assertLess(body["available"], q, self.msg(repr(body)))
            self.assertEqual(body["detail"], "Not enough remaining: requested %d, available %d"
                             % (q, body["available"]), self.msg(repr(body)))
        seqs = [body["ledger_seq"] for _, body in accepted]
        self.assertEqual(len(set(seqs)), len(seqs), self.msg("ledger_seq repeats"))
        r = cl.post(path, {"quantity": 1})
        self.assertSame({"detail": "Not enough remaining: requested 1, available 0", "requested": 1,
                         "available": 0}, self.assertJson(r, 409))
        for rid in rows:
            row = self.assertJson(cl.get(row_path(e, c, rid)), 200)
            self.assertLessEqual(row["quantity_used"], row["quantity"], self.msg("overdrawn: %r" % row))
            self.assertEqual(row["quantity_used"], row["quantity"], self.msg("not drained: %r" % row))
        entries = entries_of(self, cl, c)
        consumes = [x for x in entries if x["kind"] == "consume"]
        self.assertEqual(sum(x["quantity_used_delta"] for x in consumes), 1000, self.msg("ledger sum"))
        self.assertEqual(len(by_seq(consumes)), len(accepted), self.msg("one seq per accepted consume"))
        bs = by_seq(entries)
        for _q, body in accepted:
            self.assertDrawsInLedger(body, bs, "accepted consume")
        self.assertGapless(entries)
        bal = self.assertJson(cl.get(balance_path(e, c)), 200)
        self.assertEqual((bal["quantity"], bal["quantity_used"], bal["quantity_remaining"]),
                         (1000, 1000, 0), self.msg(repr(bal)))
        self.verify_db()

    def test_b_same_key_twice_at_once_counts_once(self):
        cl, e, c = self.tenant_client("PairsB")
        rows = [self.make_row(e, c, cl, quantity=300, expiry_at=from_now(days=d))["id"]
                for d in (10, 20, 30)]
        path = consume_path(e, c)
        workers, per = THREADS // 2, 12
        answers = {}  # (w, i) -> [response, response]
        amounts = {}
        errors = []
        lock = threading.Lock()
        barriers = [threading.Barrier(2, timeout=60) for _ in range(workers)]

        def side(k):
            w, s = divmod(k, 2)
            rng = random.Random(SEED * 1000 + w)  # both sides draw the same amounts
            client = Client(self.server.port, cl.tenant, persistent=True)
            try:
                for i in range(per):
                    q = rng.randint(1, 10)
                    key = "pair-%d-%d-%d" % (SEED, w, i)
                    barriers[w].wait()
                    r = client.post(path, {"quantity": q}, headers={"Idempotency-Key": key})
                    with lock:
                        amounts[key] = q
                        answers.setdefault(key, [None, None])[s] = r
            except Exception as ex:  # noqa: BLE001
                with lock:
                    errors.append("side %d: %s: %s" % (k, type(ex).__name__, ex))
                for b in barriers:
                    b.abort()
            finally:
                client.close()

        self.run_threads(side, workers * 2)
        self.assertEqual(errors, [], self.msg("\n".join(errors[:10])))
        self.assertEqual(len(answers), workers * per)
        for key, (r0, r1) in answers.items():
            self.assertEqual((r0.status, r1.status), (200, 200), self.msg("%s\n%s\n%s" % (key, r0, r1)))
            self.assertEqual(r0.body, r1.body, self.msg("the two answers of %s differ\n%s\n%s"
                                                        % (key, r0, r1)))
            flags = sorted([r0.header("Idempotent-Replayed") or "", r1.header("Idempotent-Replayed") or ""])
            self.assertEqual(flags, ["", "true"], self.msg("%s: exactly one answer is a replay, got %r"
                                                           % (key, flags)))
            self.assertEqual(r0.json["quantity"], amounts[key])
        entries = entries_of(self, cl, c)
        consumes = [x for x in entries if x["kind"] == "consume"]
        per_key = collections.defaultdict(list)
        for x in consumes:
            per_key[x["idempotency_key"]].append(x)
        self.assertEqual(set(per_key), set(answers), self.msg("keys in the ledger"))
        bs = by_seq(entries)
        for key, ents in per_key.items():
            self.assertEqual(len({x["seq"] for x in ents}), 1, self.msg("%s ran twice: %r" % (key, ents)))
            self.assertEqual(sum(x["quantity_used_delta"] for x in ents), amounts[key], self.msg(key))
            self.assertDrawsInLedger(answers[key][0].json, bs, key)
        total = sum(amounts.values())
        used = sum(self.assertJson(cl.get(row_path(e, c, rid)), 200)["quantity_used"] or 0 for rid in rows)
        self.assertEqual(used, total, self.msg("rows' quantity_used against the amounts sent once"))
        self.assertGapless(entries)
        self.verify_db()

    def test_c_kill9_under_consume_load(self):
        cl, e, c = self.tenant_client("KillC")
        rows = [self.make_row(e, c, cl, quantity=50)["id"] for _ in range(60)]
        rows.append(self.make_row(e, c, cl)["id"])  # no limit: the load never runs dry
        path = consume_path(e, c)
        sent, answered, errors = {}, {}, []
        lock = threading.Lock()
        stop = threading.Event()
        start = threading.Barrier(THREADS + 1, timeout=60)

        def worker(k):
            rng = random.Random(SEED * 1000 + k)
            client = Client(self.server.port, cl.tenant, persistent=True, timeout=30)
            try:
                start.wait()
                i = 0
                while not stop.is_set():
                    q = rng.randint(1, 40)
                    key = "kill-%d-%d-%d" % (SEED, k, i)
                    i += 1
                    with lock:
                        sent[key] = q
                    r = client.post(path, {"quantity": q},
                                    headers={"Idempotency-Key": key, "X-Request-Id": key})
                    if r.status != 200:
                        with lock:
                            errors.append("%s: %s" % (key, r))
                        return
                    with lock:
                        answered[key] = r.json
            except (OSError, http.client.HTTPException):
                pass  # the server was killed under us
            except Exception as ex:  # noqa: BLE001
                with lock:
                    errors.append("thread %d: %s: %s" % (k, type(ex).__name__, ex))
            finally:
                client.close()

        threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(THREADS)]
        for th in threads:
            th.start()
        start.wait()
        time.sleep(1.5)
        self.server.kill9()
        stop.set()
        for th in threads:
            th.join(JOIN_TIMEOUT)
        self.assertFalse(any(th.is_alive() for th in threads), self.msg("client threads hung"))
        self.assertEqual(errors, [], self.msg("\n".join(errors[:10])))
        self.assertTrue(answered, self.msg("no consume was answered before the kill"))

        self.restart()
        cl = Client(self.server.port, cl.tenant)
        entries = entries_of(self, cl, c)
        bs = by_seq(entries)
        consumes = [x for x in entries if x["kind"] == "consume"]
        per_key = collections.defaultdict(list)
        for x in consumes:
            per_key[x["idempotency_key"]].append(x)
        # every answered consume is in the ledger, as answered
        for key, body in answered.items():
            self.assertIn(key, per_key, self.msg("answered consume %s is not in the ledger" % key))
            self.assertDrawsInLedger(body, bs, key)
        # every consume in the ledger was sent, once, whole
        unknown = set(per_key) - set(sent)
        self.assertEqual(unknown, set(), self.msg("entries of keys never sent"))
        for key, ents in per_key.items():
            self.assertEqual(len({x["seq"] for x in ents}), 1, self.msg("%s: several seqs %r" % (key, ents)))
            self.assertEqual(sum(x["quantity_used_delta"] for x in ents), sent[key],
                             self.msg("%s is half-applied: %r" % (key, ents)))
            self.assertEqual({x["request_id"] for x in ents}, {key}, self.msg(key))
        seq_keys = collections.defaultdict(set)
        for x in consumes:
            seq_keys[x["seq"]].add(x["idempotency_key"])
        self.assertTrue(all(len(v) == 1 for v in seq_keys.values()), self.msg("two requests share a seq"))
        self.assertGapless(entries)
        # the rows hold exactly what the ledger says
        used = collections.defaultdict(float)
        for x in consumes:
            used[x["row_id"]] += x["quantity_used_delta"]
        for rid in rows:
            row = self.assertJson(cl.get(row_path(e, c, rid)), 200)
            self.assertEqual(row["quantity_used"] or 0, used[rid], self.msg("row %s" % rid))
            if row["quantity"] is not None:
                self.assertLessEqual(row["quantity_used"] or 0, row["quantity"], self.msg(repr(row)))
        # the requests without an answer: a retry with their key replays what
        # was committed, or runs now if nothing was
        lost = [k for k in sent if k not in answered]
        self.assertLessEqual(len(lost), THREADS, self.msg("more requests in flight than clients"))
        for key in lost:
            r = cl.post(path, {"quantity": sent[key]}, headers={"Idempotency-Key": key, "X-Request-Id": key})
            body = self.assertJson(r, 200)
            if key in per_key:
                self.assertEqual(r.header("Idempotent-Replayed"), "true", self.msg("%s\n%s" % (key, r)))
                self.assertEqual(body["ledger_seq"], per_key[key][0]["seq"], self.msg(key))
            else:
                self.assertIsNone(r.header("Idempotent-Replayed"), self.msg("%s\n%s" % (key, r)))
        entries = entries_of(self, cl, c)
        keys = collections.defaultdict(set)
        for x in entries:
            if x["kind"] == "consume":
                keys[x["idempotency_key"]].add(x["seq"])
        self.assertEqual(set(keys), set(answered) | set(lost))
        self.assertTrue(all(len(v) == 1 for v in keys.values()), self.msg("a retried key ran twice"))
        self.assertGapless(entries)
        sys.stdout.write("ConsumeLoad kill -9: %d answered, %d in flight (%d of them committed)\n"
                         % (len(answered), len(lost), len([k for k in lost if k in per_key])))
        self.verify_db()
