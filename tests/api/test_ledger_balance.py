"""GET /entitlements/{E}/customer/{C}/balance?at=T (issue 5): the pair's
balance as it stood at instant T, from the ledger alone, as docs/API.md
"Balance at an instant" says. The instants between changes are taken from the
ledger entries' `at` (when each change was made): T = at means the change is
counted, T = at - 1 microsecond means it is not."""

from harness import ServerTestCase, fresh_client, new_id, parse_dt, patch_body
from ledger_check import (BALANCE_KEYS, CUST_404, ENT_404, balance_path, by_seq, consume_path,
                          delete, entries_of, now_dt, pause, row_path, shift)


def bal(e, c, at, quantity, used, remaining, active_rows, unlimited=False):
    return {"entitlement": e, "customer": c, "at": at, "quantity": quantity,
            "quantity_used": used, "quantity_remaining": remaining, "unlimited": unlimited,
            "active_rows": active_rows}


class Balance(ServerTestCase):
    def pair(self, client=None):
        e = self.make_entitlement(client, entitlement_type="Quantity")["id"]
        c = self.make_customer(client)["id"]
        return e, c

    def balance(self, e, c, at=None, client=None):
        r = (client or self.c).get(balance_path(e, c, at=at))
        got = self.assertJson(r, 200)
        self.assertEqual(list(got.keys()), BALANCE_KEYS, "members or their order\n%s" % r)
        self.assertIsInstance(got["unlimited"], bool, str(r))
        self.assertIsInstance(got["active_rows"], int, str(r))
        self.assertDateTime(got["at"], str(r))
        return got

    def assertBalance(self, want, e, c, at):
        self.assertSame(want, self.balance(e, c, at), "balance at %s" % at)

    def row(self, e, c, **fields):
        return self.make_row(e, c, **fields)["id"]

    def consume(self, e, c, q, **extra):
        body = {"quantity": q}
        body.update(extra)
        r = self.c.post(consume_path(e, c), body)
        return self.assertJson(r, 200)

    def patch(self, e, c, rid, **fields):
        return self.assertJson(self.c.patch(row_path(e, c, rid), patch_body(e, c, **fields)), 200)

    def at_of_seq(self, c, seq):
        ents = by_seq(entries_of(self, self.c, c))[seq]
        return ents[0]["at"]

    def last_at(self, c):
        return entries_of(self, self.c, c)[-1]["at"]

    def test_as_of_every_change(self):
        e, c = self.pair()
        steps = []  # (at of the change, balance just after it)

        r1 = self.row(e, c, quantity=100)
        steps.append((self.last_at(c), (100, 0, 100, 1, False)))
        pause()
        r2 = self.row(e, c, quantity=50, expiry_at="2099-01-01T00:00:00Z")
        steps.append((self.last_at(c), (150, 0, 150, 2, False)))
        pause()
        ans = self.consume(e, c, 30)  # all from r2 (the earlier expiry)
        self.assertEqual([d["id"] for d in ans["draws"]], [r2], str(ans))
        steps.append((self.at_of_seq(c, ans["ledger_seq"]), (150, 30, 120, 2, False)))
        pause()
        self.patch(e, c, r1, quantity=80)
        steps.append((self.last_at(c), (130, 30, 100, 2, False)))
        pause()
        ans = self.consume(e, c, 60)  # 20 from r2, 40 from r1
        self.assertEqual([(d["id"], d["quantity_drawn"]) for d in ans["draws"]], [(r2, 20), (r1, 40)])
        steps.append((self.at_of_seq(c, ans["ledger_seq"]), (130, 90, 40, 2, False)))
        pause()
        self.assertJson(delete(self.c, row_path(e, c, r2)), 200)
        steps.append((self.last_at(c), (80, 40, 40, 1, False)))
        pause()
        self.row(e, c, quantity_used=5)  # no limit
        steps.append((self.last_at(c), (80, 45, None, 2, True)))
        pause()
        self.patch(e, c, r1, quantity_used=79.5)
        steps.append((self.last_at(c), (80, 84.5, None, 2, True)))

        ats = [parse_dt(a) for a, _ in steps]
        self.assertEqual(ats, sorted(ats), "changes made in this order")
        self.assertEqual(len(set(ats)), len(ats), "changes 20 ms apart share an instant")
        first = steps[0][0]
        for t in ("2000-01-01T00:00:00Z", shift(first, -1)):
            self.assertBalance(bal(e, c, t, 0, 0, 0, 0), e, c, t)
        prev = None
        for at, (q, u, rem, n, unl) in steps:
            want = bal(e, c, at, q, u, rem, n, unl)
            self.assertBalance(want, e, c, at)
            if prev is not None:
                before = shift(at, -1)
                self.assertBalance(dict(prev, at=before), e, c, before)
            prev = want
        # now, and later: the last state
        got = self.balance(e, c)
        self.assertSame(dict(prev, at=got["at"]), got, "balance now")
        t = "2098-12-31T23:59:59Z"
        self.assertBalance(dict(prev, at=t), e, c, t)

    def test_window_recorded_in_the_entry(self):
        e, c = self.pair()
        rid = self.row(e, c, quantity=10)
        t1 = self.last_at(c)
        pause()
        self.patch(e, c, rid, expiry_at="2000-01-01T00:00:00Z")  # ended long ago
        t2 = self.last_at(c)
        pause()
        self.patch(e, c, rid, expiry_at=None, active_from="2099-01-01T00:00:00Z")
        t3 = self.last_at(c)
        self.assertBalance(bal(e, c, t1, 10, 0, 10, 1), e, c, t1)
        self.assertBalance(bal(e, c, shift(t2, -1), 10, 0, 10, 1), e, c, shift(t2, -1))
        self.assertBalance(bal(e, c, t2, 0, 0, 0, 0), e, c, t2)
        self.assertBalance(bal(e, c, t3, 0, 0, 0, 0), e, c, t3)
        for t, n in (("2098-12-31T23:59:59.999999Z", 0), ("2099-01-01T00:00:00Z", 1),
                     ("2150-01-01T00:00:00Z", 1)):
            self.assertBalance(bal(e, c, t, 10 * n, 0, 10 * n, n), e, c, t)

    def test_windows_contain_at(self):
        e, c = self.pair()
        self.row(e, c, quantity=10, active_from="2030-01-01T00:00:00Z", expiry_at="2031-01-01T00:00:00Z")
        self.row(e, c, quantity=5, quantity_used=1, active_from="2030-06-01T00:00:00Z")
        self.row(e, c, quantity=7, expiry_at="2030-06-01T00:00:00Z")
        self.row(e, c, quantity=100, active_from="2030-03-01T00:00:00Z",
                 expiry_at="2030-03-01T00:00:00Z")  # empty window
        self.row(e, c, quantity=3, quantity_used=5, active_from="2040-01-01T00:00:00Z")  # overdrawn
        for at, want in (
                ("2029-12-31T23:59:59.999999Z", (7, 0, 7, 1)),
                ("2030-01-01T00:00:00Z", (17, 0, 17, 2)),
                ("2030-03-01T00:00:00Z", (17, 0, 17, 2)),
                ("2030-05-31T23:59:59.999999Z", (17, 0, 17, 2)),
                ("2030-06-01T00:00:00Z", (15, 1, 14, 2)),
                ("2030-12-31T23:59:59.999999Z", (15, 1, 14, 2)),
                ("2031-01-01T00:00:00Z", (5, 1, 4, 1)),
                ("2040-01-01T00:00:00Z", (8, 6, 4, 2))):  # max(0, 3 - 5) counts 0
            with self.subTest(at=at):
                self.assertBalance(bal(e, c, at, *want), e, c, at)

    def test_at_spellings_written_back(self):
        e, c = self.pair()
        self.row(e, c, quantity=10, active_from="2030-01-01T00:00:00Z")
        for sent, written in (("2030-06-01T02:00:00+02:00", "2030-06-01T00:00:00Z"),
                              ("2030-06-01", "2030-06-01T00:00:00Z"),
                              ("1906502400", "2030-06-01T00:00:00Z"),
                              ("2030-06-01T00:00:00.25Z", "2030-06-01T00:00:00.250000Z")):
            with self.subTest(at=sent):
                got = self.balance(e, c, sent)
                self.assertEqual(got["at"], written)
                self.assertEqual(got["active_rows"], 1)

    def test_unlimited(self):
        e, c = self.pair()
        self.row(e, c, quantity=10, quantity_used=2)
        self.row(e, c, quantity_used=3)
        got = self.balance(e, c)
        self.assertSame(bal(e, c, got["at"], 10, 5, None, 2, True), got)
        self.assertIs(got["unlimited"], True)

    def test_default_now(self):
        e, c = self.pair()
        self.row(e, c, quantity=10, active_from="2020-01-01T00:00:00Z")
        self.row(e, c, quantity=100, active_from="2099-01-01T00:00:00Z")
        t0 = now_dt()
        got = self.balance(e, c)
        t1 = now_dt()
        at = parse_dt(got["at"])
        self.assertTrue((t0 - at).total_seconds() < 2 and (at - t1).total_seconds() < 2,
                        "at %s is not now" % got["at"])
        self.assertSame(bal(e, c, got["at"], 10, 0, 10, 1), got)

    def test_matches_consume(self):
        e, c = self.pair()
        self.row(e, c, quantity=10, expiry_at="2099-01-01T00:00:00Z")
        self.row(e, c, quantity=7.5, quantity_used=0.25)
        ans = self.consume(e, c, 11)
        got = self.balance(e, c)
        self.assertSame(ans["quantity_remaining"], got["quantity_remaining"])
        self.assertSame(bal(e, c, got["at"], 17.5, 11.25, 6.25, 2), got)
        r = self.c.post(consume_path(e, c), {"quantity": 100})
        self.assertSame(6.25, self.assertJson(r, 409)["available"])

    def test_other_pairs_not_counted(self):
        e, c = self.pair()
        e2, c2 = self.pair()
        self.row(e, c2, quantity=1)
        self.row(e2, c, quantity=2)
        got = self.balance(e, c)
        self.assertSame(bal(e, c, got["at"], 0, 0, 0, 0), got)

    def test_404_and_422(self):
        e, c = self.pair()
        self.row(e, c, quantity=1)
        self.assertSame(ENT_404, self.assertJson(self.c.get(balance_path(new_id(), c)), 404))
        self.assertSame(CUST_404, self.assertJson(self.c.get(balance_path(e, new_id())), 404))
        b = fresh_client(self, "BalanceB")
        be, bc = self.pair(b)
        self.assertSame(ENT_404, self.assertJson(self.c.get(balance_path(be, c)), 404))
        self.assertSame(CUST_404, self.assertJson(self.c.get(balance_path(e, bc)), 404))
        self.assertSame(ENT_404, self.assertJson(b.get(balance_path(e, c)), 404))
        r = self.c.get(balance_path(e, c, foo="1"))
        self.assertSame([{"type": "extra_forbidden", "loc": ["query", "foo"],
                          "msg": "Extra inputs are not permitted", "input": "1"}], self.assert422(r), str(r))
        for name in ("limit", "quantity", "customer"):
            r = self.c.get(balance_path(e, c, **{name: "1"}))
            self.assertEqual(self.assert422(r, ["query", name])[0]["type"], "extra_forbidden", str(r))
        for bad in ("garbage", "2026-13-01"):
            r = self.c.get(balance_path(e, c, at=bad))
            errs = self.assert422(r, ["query", "at"])
            self.assertEqual(len(errs), 1, str(r))
        r = self.c.get(balance_path("nope", "nope"))
        errs = self.assert422(r, ["path", "entitlement_id"], ["path", "customer_id"])
        self.assertEqual(errs[0]["type"], "uuid_parsing", str(r))
