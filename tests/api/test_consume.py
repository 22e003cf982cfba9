"""POST /entitlements/{E}/customer/{C}/consume (issue 5), as docs/API.md
"Consumption, the ledger and idempotency" says: validation, 404s, the
Feature refusal, burn order, windows, unlimited rows, the 409 short answer
that changes nothing, and the answer's shape.

Most tests draw at a fixed instant AT in 2030 from rows whose windows are
written around it, so that the clock does not matter."""

import time

from harness import (ServerTestCase, UUID_RE, fresh_client, new_id, number_literal,
                     parse_dt)
from ledger_check import (CONSUME_KEYS, CUST_404, ENT_404, FEATURE, balance_path,
                          consume_path, entries_of, fmt_dt, from_now, now_dt, row_path)

AT = "2030-06-01T00:00:00Z"
FROM = "2030-01-01T00:00:00Z"

FLOAT_PARSING = "Input should be a valid number, unable to parse string as a number"


def draw(row_id, drawn, quantity, used):
    """A draw as the contract writes it (quantity None: a row without limit)."""
    return {"id": row_id, "quantity_drawn": drawn, "quantity": quantity, "quantity_used": used,
            "quantity_remaining": None if quantity is None else quantity - used}


class ConsumeCase(ServerTestCase):
    def pair(self, etype="Quantity", client=None):
        kw = {} if etype is None else {"entitlement_type": etype}
        e = self.make_entitlement(client, **kw)["id"]
        c = self.make_customer(client)["id"]
        return e, c

    def row(self, e, c, client=None, **fields):
        return self.make_row(e, c, client, **fields)["id"]

    def consume(self, e, c, quantity, at=None, client=None, headers=None, **extra):
        body = {"quantity": quantity}
        if at is not None:
            body["at"] = at
        body.update(extra)
        return (client or self.c).post(consume_path(e, c), body, headers=headers)

    def get_row(self, e, c, rid, client=None):
        return self.assertJson((client or self.c).get(row_path(e, c, rid)), 200)

    def rows(self, e, c, rids, client=None):
        return [self.get_row(e, c, rid, client) for rid in rids]

    def assertConsumed(self, r, e, c, quantity, at, draws, remaining):
        """A 200 consume answer, exactly; returns its ledger_seq."""
        got = self.assertJson(r, 200)
        self.assertIsInstance(got, dict, str(r))
        self.assertEqual(list(got.keys()), CONSUME_KEYS, "members or their order\n%s" % r)
        seq = got["ledger_seq"]
        self.assertIsInstance(seq, int, "ledger_seq is not an integer\n%s" % r)
        self.assertGreaterEqual(seq, 1, str(r))
        for d in got["draws"]:
            self.assertEqual(list(d.keys()),
                             ["id", "quantity_drawn", "quantity", "quantity_used",
                              "quantity_remaining"], "draw members or their order\n%s" % r)
        want = {"entitlement": e, "customer": c, "quantity": quantity, "at": at,
                "ledger_seq": seq, "draws": draws, "quantity_remaining": remaining}
        self.assertSame(want, got, str(r))
        return seq

    def assertShort(self, r, requested, available, requested_text=None, available_text=None):
        """The 409 answer, exactly, numbers written shortest."""
        rq = requested_text or ("%d" % requested if requested == int(requested) else repr(requested))
        av = available_text or ("%d" % available if available == int(available) else repr(available))
        got = self.assertJson(r, 409)
        self.assertSame({"detail": "Not enough remaining: requested %s, available %s" % (rq, av),
                         "requested": requested, "available": available}, got, str(r))
        self.assertEqual(list(got.keys()), ["detail", "requested", "available"], str(r))
        self.assertEqual(number_literal(r.body, "requested"), rq, str(r))
        self.assertEqual(number_literal(r.body, "available"), av, str(r))

    def snapshot(self, e, c, rids):
        return {"rows": self.rows(e, c, rids),
                "ledger": entries_of(self, self.c, c),
                "balance": self.assertJson(self.c.get(balance_path(e, c, at=AT)), 200)}

    def assertUnchanged(self, e, c, rids, before, what):
        after = self.snapshot(e, c, rids)
        self.assertSame(before["rows"], after["rows"], "%s changed a row" % what)
        self.assertSame(before["ledger"], after["ledger"], "%s wrote ledger entries" % what)
        self.assertSame(before["balance"], after["balance"], "%s changed the balance" % what)


class ConsumeBurnOrder(ConsumeCase):
    def test_earliest_expiry_first_open_ended_last(self):
        e, c = self.pair()
        a = self.row(e, c, quantity=10, active_from=FROM, expiry_at="2031-06-01T00:00:00Z")
        b = self.row(e, c, quantity=10, active_from=FROM, expiry_at="2031-03-01T00:00:00Z")
        o = self.row(e, c, quantity=10, active_from=FROM)
        d = self.row(e, c, quantity=10, active_from=FROM, expiry_at="2031-01-15T00:00:00Z")
        r = self.consume(e, c, 25, AT)
        s1 = self.assertConsumed(r, e, c, 25, AT,
                                 [draw(d, 10, 10, 10), draw(b, 10, 10, 10), draw(a, 5, 10, 5)], 15)
        r = self.consume(e, c, 10, AT)
        s2 = self.assertConsumed(r, e, c, 10, AT, [draw(a, 5, 10, 10), draw(o, 5, 10, 5)], 5)
        self.assertGreater(s2, s1, "ledger_seq of a later consume")
        got = self.rows(e, c, [a, b, o, d])
        self.assertEqual([x["quantity_used"] for x in got], [10, 10, 5, 10], str(got))
        self.assertEqual([x["quantity_remaining"] for x in got], [0, 0, 5, 0], str(got))
        self.assertShort(self.consume(e, c, 6, AT), 6, 5)

    def test_then_earliest_active_from_null_first(self):
        e, c = self.pair()
        exp = "2031-01-01T00:00:00Z"
        x = self.row(e, c, quantity=10, active_from="2030-03-01T00:00:00Z", expiry_at=exp)
        y = self.row(e, c, quantity=10, expiry_at=exp)
        z = self.row(e, c, quantity=10, active_from=FROM, expiry_at=exp)
        r = self.consume(e, c, 25, AT)
        self.assertConsumed(r, e, c, 25, AT,
                            [draw(y, 10, 10, 10), draw(z, 10, 10, 10), draw(x, 5, 10, 5)], 5)

    def test_expiry_before_active_from(self):
        # an earlier expiry wins over an earlier active_from and an older row
        e, c = self.pair()
        old = self.row(e, c, quantity=10, active_from="2029-01-01T00:00:00Z",
                       expiry_at="2032-01-01T00:00:00Z")
        new = self.row(e, c, quantity=10, active_from="2030-05-01T00:00:00Z",
                       expiry_at="2031-01-01T00:00:00Z")
        r = self.consume(e, c, 12, AT)
        self.assertConsumed(r, e, c, 12, AT, [draw(new, 10, 10, 10), draw(old, 2, 10, 2)], 8)

    def test_then_oldest_created_at(self):
        # same window: the older row first, even when its id sorts last
        e, c = self.pair()
        exp = "2031-01-01T00:00:00Z"
        first = self.row(e, c, id="ffffffff-ffff-4fff-bfff-ffffffffffff", quantity=10,
                         active_from=FROM, expiry_at=exp)
        time.sleep(0.01)
        second = self.row(e, c, id="00000000-0000-4000-8000-000000000001", quantity=10,
                          active_from=FROM, expiry_at=exp)
        time.sleep(0.01)
        third = self.row(e, c, id="77777777-7777-4777-b777-777777777777", quantity=10,
                         active_from=FROM, expiry_at=exp)
        r = self.consume(e, c, 15, AT)
        self.assertConsumed(r, e, c, 15, AT, [draw(first, 10, 10, 10), draw(second, 5, 10, 5)], 15)
        r = self.consume(e, c, 10, AT)
        self.assertConsumed(r, e, c, 10, AT, [draw(second, 5, 10, 10), draw(third, 5, 10, 5)], 5)

    def test_unlimited_rows_last(self):
        e, c = self.pair()
        u = self.row(e, c, active_from=FROM, expiry_at="2030-07-01T00:00:00Z")  # no quantity
        lim = self.row(e, c, quantity=10, active_from=FROM)
        r = self.consume(e, c, 15, AT)
        self.assertConsumed(r, e, c, 15, AT, [draw(lim, 10, 10, 10), draw(u, 5, None, 5)], None)
        r = self.consume(e, c, 1000000, AT)
        self.assertConsumed(r, e, c, 1000000, AT, [draw(u, 1000000, None, 1000005)], None)
        got = self.get_row(e, c, u)
        self.assertIsNone(got["quantity"])
        self.assertSame(1000005, got["quantity_used"])
        self.assertIsNone(got["quantity_remaining"])

    def test_unlimited_rows_among_themselves_by_expiry(self):
        e, c = self.pair()
        u1 = self.row(e, c, active_from=FROM, quantity_used=7)
        u2 = self.row(e, c, active_from=FROM, expiry_at="2031-01-01T00:00:00Z")
        r = self.consume(e, c, 3, AT)
        self.assertConsumed(r, e, c, 3, AT, [draw(u2, 3, None, 3)], None)
        self.assertSame(7, self.get_row(e, c, u1)["quantity_used"], "the later unlimited row was drawn")

    def test_top_level_remaining_null_when_an_undrawn_active_row_is_unlimited(self):
        e, c = self.pair()
        lim = self.row(e, c, quantity=10, active_from=FROM)
        self.row(e, c, active_from=FROM)  # unlimited, not drawn from
        r = self.consume(e, c, 4, AT)
        self.assertConsumed(r, e, c, 4, AT, [draw(lim, 4, 10, 4)], None)

    def test_null_quantity_used_counts_as_zero_overdrawn_rows_give_nothing(self):
        e, c = self.pair()
        over = self.row(e, c, quantity=10, quantity_used=15, active_from=FROM,
                        expiry_at="2030-12-01T00:00:00Z")
        full = self.row(e, c, quantity=5, quantity_used=5, active_from=FROM,
                        expiry_at="2030-12-02T00:00:00Z")
        fresh = self.row(e, c, quantity=10, active_from=FROM)  # quantity_used absent
        before = self.snapshot(e, c, [over, full, fresh])
        self.assertShort(self.consume(e, c, 11, AT), 11, 10)
        self.assertUnchanged(e, c, [over, full, fresh], before, "a refused consume")
        r = self.consume(e, c, 4, AT)
        # the overdrawn and the full rows are not drawn from; what the active
        # rows hold after is max(0, quantity - quantity_used) summed: 0 + 0 + 6
        self.assertConsumed(r, e, c, 4, AT, [draw(fresh, 4, 10, 4)], 6)
        self.assertSame(15, self.get_row(e, c, over)["quantity_used"])

    def test_draws_are_the_rows_as_they_stand(self):
        e, c = self.pair()
        rids = [self.row(e, c, quantity=3, active_from=FROM,
                         expiry_at="2031-0%d-01T00:00:00Z" % (i + 1)) for i in range(4)]
        r = self.consume(e, c, 10, AT)
        got = self.assertJson(r, 200)
        self.assertEqual([d["id"] for d in got["draws"]], rids, str(r))
        for d in got["draws"]:
            row = self.get_row(e, c, d["id"])
            for k in ("quantity", "quantity_used", "quantity_remaining"):
                self.assertSame(row[k], d[k], "draw %s of row %s differs from GET" % (k, d["id"]))
        self.assertSame([3, 3, 3, 1], [d["quantity_drawn"] for d in got["draws"]])
        self.assertSame(2, got["quantity_remaining"])

    def test_other_pairs_rows_are_never_drawn(self):
        e, c = self.pair()
        e2, c2 = self.pair()
        others = [self.row(e, c2, quantity=100, active_from=FROM),
                  self.row(e2, c, quantity=100, active_from=FROM)]
        self.assertShort(self.consume(e, c, 1, AT), 1, 0)
        mine = self.row(e, c, quantity=2, active_from=FROM)
        r = self.consume(e, c, 2, AT)
        self.assertConsumed(r, e, c, 2, AT, [draw(mine, 2, 2, 2)], 0)
        self.assertSame(None, self.get_row(e, c2, others[0])["quantity_used"])
        self.assertSame(None, self.get_row(e2, c, others[1])["quantity_used"])


class ConsumeWindows(ConsumeCase):
    def test_rows_outside_their_window_are_never_drawn(self):
        e, c = self.pair()
        future = self.row(e, c, quantity=10, active_from="2030-07-01T00:00:00Z")
        expired = self.row(e, c, quantity=10, active_from=FROM, expiry_at=AT)  # expiry == at
        starts = self.row(e, c, quantity=3, active_from=AT)                      # active_from == at
        ends = self.row(e, c, quantity=2, active_from=FROM, expiry_at="2030-06-01T00:00:00.000001Z")
        empty = self.row(e, c, quantity=100, active_from=AT, expiry_at=AT)      # an empty window
        rids = [future, expired, starts, ends, empty]
        before = self.snapshot(e, c, rids)
        self.assertShort(self.consume(e, c, 6, AT), 6, 5)
        self.assertUnchanged(e, c, rids, before, "a refused consume")
        r = self.consume(e, c, 5, AT)
        self.assertConsumed(r, e, c, 5, AT, [draw(ends, 2, 2, 2), draw(starts, 3, 3, 3)], 0)
        for rid in (future, expired, empty):
            self.assertIsNone(self.get_row(e, c, rid)["quantity_used"], "a row outside its window")
        self.assertShort(self.consume(e, c, 1, AT), 1, 0)
        # a month later the future row is active, the others are spent or expired
        later = "2030-07-01T00:00:00Z"
        r = self.consume(e, c, 10, later)
        self.assertConsumed(r, e, c, 10, later, [draw(future, 10, 10, 10)], 0)

    def test_at_one_microsecond_before_a_window(self):
        e, c = self.pair()
        self.row(e, c, quantity=10, active_from=AT)
        self.assertShort(self.consume(e, c, 1, "2030-05-31T23:59:59.999999Z"), 1, 0)

    def test_default_at_is_now(self):
        e, c = self.pair()
        now_row = self.row(e, c, quantity=10, active_from=from_now(days=-1),
                           expiry_at=from_now(days=30))
        self.row(e, c, quantity=100, active_from=from_now(days=2))        # not yet active
        self.row(e, c, quantity=100, expiry_at=from_now(seconds=-3600))    # expired
        for body_at in ("absent", None):
            with self.subTest(at=body_at):
                t0 = now_dt()
                if body_at == "absent":
                    r = self.c.post(consume_path(e, c), {"quantity": 2})
                else:
                    r = self.c.post(consume_path(e, c), {"quantity": 2, "at": None})
                t1 = now_dt()
                got = self.assertJson(r, 200)
                self.assertEqual([d["id"] for d in got["draws"]], [now_row], str(r))
                at = parse_dt(got["at"])
                self.assertTrue((t0 - at).total_seconds() < 2 and (at - t1).total_seconds() < 2,
                                "at %s is not now (%s .. %s)" % (got["at"], fmt_dt(t0), fmt_dt(t1)))
        self.assertShort(self.consume(e, c, 7), 7, 6)

    def test_at_spellings(self):
        e, c = self.pair()
        rid = self.row(e, c, quantity=100, active_from=FROM)
        import calendar
        unix = calendar.timegm((2030, 6, 1, 0, 0, 0))
        for sent, written in (("2030-06-01T02:00:00+02:00", AT), (unix, AT), (str(unix), AT),
                              ("2030-06-01", AT), ("2030-06-01 00:00:00.5", "2030-06-01T00:00:00.500000Z"),
                              ("2030-06-01T00:00:00", AT)):
            with self.subTest(at=sent):
                r = self.consume(e, c, 1, sent)
                got = self.assertJson(r, 200)
                self.assertEqual(got["at"], written, str(r))
                self.assertEqual([d["id"] for d in got["draws"]], [rid], str(r))


class ConsumeQuantities(ConsumeCase):
    def test_integers_written_as_integers(self):
        e, c = self.pair()
        rid = self.row(e, c, quantity=10, active_from=FROM)
        r = self.consume(e, c, 5, AT)
        self.assertConsumed(r, e, c, 5, AT, [draw(rid, 5, 10, 5)], 5)
        for key in ("quantity", "quantity_drawn", "quantity_used", "quantity_remaining"):
            lit = number_literal(r.body, key)
            self.assertNotIn(".", lit or "", "%s written %r\n%s" % (key, lit, r))

    def test_fractions_and_numeric_strings(self):
        e, c = self.pair()
        rid = self.row(e, c, quantity=10, active_from=FROM)
        r = self.consume(e, c, 2.5, AT)
        self.assertConsumed(r, e, c, 2.5, AT, [draw(rid, 2.5, 10, 2.5)], 7.5)
        r = self.consume(e, c, "0.5", AT)
        self.assertConsumed(r, e, c, 0.5, AT, [draw(rid, 0.5, 10, 3)], 7)
        self.assertEqual(number_literal(r.body, "quantity_remaining"), "7", str(r))
        r = self.consume(e, c, "7", AT)
        self.assertConsumed(r, e, c, 7, AT, [draw(rid, 7, 10, 10)], 0)

    def test_short_answer_and_nothing_changes(self):
        e, c = self.pair()
        a = self.row(e, c, quantity=2, active_from=FROM, expiry_at="2031-01-01T00:00:00Z")
        b = self.row(e, c, quantity=5, quantity_used=4, active_from=FROM)
        before = self.snapshot(e, c, [a, b])
        self.assertShort(self.consume(e, c, 5, AT), 5, 3)
        self.assertUnchanged(e, c, [a, b], before, "a 409 consume")
        self.assertShort(self.consume(e, c, 3.5, AT), 3.5, 3)
        self.assertShort(self.consume(e, c, "1000", AT), 1000, 3)
        self.assertUnchanged(e, c, [a, b], before, "a 409 consume")
        # exactly what they hold is fine
        r = self.consume(e, c, 3, AT)
        self.assertConsumed(r, e, c, 3, AT, [draw(a, 2, 2, 2), draw(b, 1, 5, 5)], 0)

    def test_short_with_fractions(self):
        e, c = self.pair()
        self.row(e, c, quantity=2.25, active_from=FROM)
        self.assertShort(self.consume(e, c, 2.5, AT), 2.5, 2.25)

    def test_short_without_rows(self):
        e, c = self.pair()
        self.assertShort(self.consume(e, c, 1, AT), 1, 0)
        self.assertShort(self.consume(e, c, 1), 1, 0)

    def test_entitlement_without_type_and_credits_consume(self):
        for etype in (None, "Credits", "Quantity"):
            with self.subTest(entitlement_type=etype):
                e, c = self.pair(etype)
                rid = self.row(e, c, quantity=4, active_from=FROM)
                r = self.consume(e, c, 4, AT)
                self.assertConsumed(r, e, c, 4, AT, [draw(rid, 4, 4, 4)], 0)


class ConsumeRefusals(ConsumeCase):
    def test_feature_entitlement_422(self):
        e, c = self.pair("Feature")
        rid = self.row(e, c, quantity=100, active_from=FROM)
        before = self.snapshot(e, c, [rid])
        for q in (1, 1000):
            r = self.consume(e, c, q, AT)
            got = self.assertJson(r, 422)
            self.assertSame(FEATURE, got, str(r))
        self.assertUnchanged(e, c, [rid], before, "a Feature consume")

    def test_unknown_entitlement_or_customer_404(self):
        e, c = self.pair()
        self.row(e, c, quantity=100, active_from=FROM)
        for path_e, path_c, want in ((new_id(), c, ENT_404), (e, new_id(), CUST_404),
                                     (new_id(), new_id(), ENT_404)):
            with self.subTest(e=path_e, c=path_c):
                r = self.consume(path_e, path_c, 1, AT)
                self.assertSame(want, self.assertJson(r, 404), str(r))

    def test_another_organisations_ids_404(self):
        b = fresh_client(self, "ConsumeB")
        e, c = self.pair()
        mine = self.row(e, c, quantity=100, active_from=FROM)
        be, bc = self.pair(client=b)
        theirs = self.row(be, bc, client=b, quantity=100, active_from=FROM)
        for path_e, path_c, want in ((be, c, ENT_404), (e, bc, CUST_404), (be, bc, ENT_404)):
            with self.subTest(e=path_e, c=path_c):
                r = self.consume(path_e, path_c, 1, AT)
                self.assertSame(want, self.assertJson(r, 404), str(r))
        self.assertIsNone(self.get_row(be, bc, theirs, client=b)["quantity_used"])
        self.assertIsNone(self.get_row(e, c, mine)["quantity_used"])
        # and B's own consume works on B's rows
        r = self.consume(be, bc, 1, AT, client=b)
        self.assertEqual(self.assertJson(r, 200)["draws"][0]["id"], theirs, str(r))

    def test_validation_422(self):
        e, c = self.pair()
        rid = self.row(e, c, quantity=100, active_from=FROM)
        before = self.snapshot(e, c, [rid])
        loc = ["body", "quantity"]
        cases = [
            ({}, [{"type": "missing", "loc": loc, "msg": "Field required", "input": {}}]),
            ({"at": AT}, [{"type": "missing", "loc": loc, "msg": "Field required",
                           "input": {"at": AT}}]),
            ({"quantity": 0}, [{"type": "greater_than", "loc": loc,
                                "msg": "Input should be greater than 0", "input": 0,
                                "ctx": {"gt": 0}}]),
            ({"quantity": -1.5}, [{"type": "greater_than", "loc": loc,
                                   "msg": "Input should be greater than 0", "input": -1.5,
                                   "ctx": {"gt": 0}}]),
            ({"quantity": "0"}, [{"type": "greater_than", "loc": loc,
                                  "msg": "Input should be greater than 0", "input": "0",
                                  "ctx": {"gt": 0}}]),
            ({"quantity": "abc"}, [{"type": "float_parsing", "loc": loc, "msg": FLOAT_PARSING,
                                    "input": "abc"}]),
            ({"quantity": None}, [{"type": "float_type", "loc": loc,
                                   "msg": "Input should be a valid number", "input": None}]),
            ({"quantity": [1]}, [{"type": "float_type", "loc": loc,
                                  "msg": "Input should be a valid number", "input": [1]}]),
            ({"quantity": 1, "foo": 2}, [{"type": "extra_forbidden", "loc": ["body", "foo"],
                                          "msg": "Extra inputs are not permitted", "input": 2}]),
            ({"quantity": 1, "entitlement_id": e},
             [{"type": "extra_forbidden", "loc": ["body", "entitlement_id"],
               "msg": "Extra inputs are not permitted", "input": e}]),
            ({"quantity": 1, "at": "2026-13-01"},
             [{"type": "datetime_from_date_parsing", "loc": ["body", "at"],
               "msg": "Input should be a valid datetime or date, month value is outside expected range of 1-12",
               "input": "2026-13-01", "ctx": {"error": "month value is outside expected range of 1-12"}}]),
        ]
        for body, want in cases:
            with self.subTest(body=body):
                r = self.c.post(consume_path(e, c), body)
                errs = self.assert422(r)
                self.assertSame(want, errs, str(r))
        for raw, value in (('{"quantity": "inf"}', "inf"), ('{"quantity": "nan"}', "nan"),
                           ('{"quantity": 1e400}', float("inf"))):
            with self.subTest(body=raw):
                r = self.c.post(consume_path(e, c), raw)
                self.assertSame([{"type": "finite_number", "loc": loc,
                                  "msg": "Input should be a finite number", "input": value}],
                                self.assert422(r), str(r))
        r = self.c.post(consume_path(e, c), '{"quantity": NaN}')  # not JSON
        errs = self.assert422(r)
        self.assertEqual([x["type"] for x in errs], ["json_invalid"], str(r))
        self.assertUnchanged(e, c, [rid], before, "a refused consume")

    def test_errors_in_the_schema_field_order(self):
        # docs/API.md: all errors at once, body errors in the schema's field
        # order (quantity, at); pydantic reports extra members after the fields
        e, c = self.pair()
        for body in ({"quantity": 0, "at": "x", "bar": 1}, {"bar": 1, "at": "x", "quantity": 0}):
            with self.subTest(body=body):
                r = self.c.post(consume_path(e, c), body)
                errs = self.assert422(r, ["body", "quantity"], ["body", "at"], ["body", "bar"])
                self.assertEqual([x["loc"] for x in errs],
                                 [["body", "quantity"], ["body", "at"], ["body", "bar"]], str(r))

    def test_body_not_an_object_or_empty(self):
        e, c = self.pair()
        r = self.c.post(consume_path(e, c), [1])
        errs = self.assert422(r, ["body"])
        self.assertEqual(errs[0]["type"], "model_attributes_type", str(r))
        r = self.c.post(consume_path(e, c), 5)
        errs = self.assert422(r, ["body"])
        self.assertEqual(errs[0]["type"], "model_attributes_type", str(r))
        r = self.c.request("POST", consume_path(e, c))
        self.assertSame([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}],
                        self.assert422(r), str(r))
        r = self.c.post(consume_path(e, c), "null")
        self.assertSame([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}],
                        self.assert422(r), str(r))

    def test_bad_path_ids_422_all_at_once(self):
        e, c = self.pair()
        r = self.c.post(consume_path("nope", c), {"quantity": 1})
        self.assertSame([{"type": "uuid_parsing", "loc": ["path", "entitlement_id"],
                          "msg": "Input should be a valid UUID, invalid character: found `n` at 1",
                          "input": "nope", "ctx": {"error": "invalid character: found `n` at 1"}}],
                        self.assert422(r), str(r))
        r = self.c.post(consume_path(e, "nope"), {"quantity": 1})
        self.assertSame([{"type": "uuid_parsing", "loc": ["path", "customer_id"],
                          "msg": "Input should be a valid UUID, invalid character: found `n` at 1",
                          "input": "nope", "ctx": {"error": "invalid character: found `n` at 1"}}],
                        self.assert422(r), str(r))
        r = self.c.post(consume_path("nope", "nope"), {"quantity": 0, "x": 1})
        errs = self.assert422(r)
        self.assertEqual([x["loc"] for x in errs],
                         [["path", "entitlement_id"], ["path", "customer_id"], ["body", "quantity"],
                          ["body", "x"]], str(r))

    def test_validation_before_404(self):
        r = self.c.post(consume_path(new_id(), new_id()), {"quantity": 0})
        self.assert422(r, ["body", "quantity"])

    def test_path_ids_in_any_spelling(self):
        e, c = self.pair()
        rid = self.row(e, c, quantity=10, active_from=FROM)
        r = self.c.post(consume_path(e.upper(), "urn:uuid:" + c), {"quantity": 1, "at": AT})
        self.assertConsumed(r, e, c, 1, AT, [draw(rid, 1, 10, 1)], 9)
        self.assertRegex(e, UUID_RE)
