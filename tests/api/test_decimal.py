"""Exact decimal quantities (issue 13 item 1): quantities, sums and draws are
decimals of at most 6 places below 10^12 (docs/API.md "Numbers"), on both
backends. The issue's cases: a consume of what the server says is left is
allowed and leaves exactly 0, never below, and `entitled verify` passes;
then places and range, list filters, totals and balances, and a random run
of grants and consumes over HTTP (the 100,000-operation property test is
the C unit test tests/unit/test_consume.c; this one is smaller: HTTP costs
a few milliseconds a request).

The random run's seed is printed (ENTITLED_TEST_SEED=N repeats it)."""

import os
import random
import sys
from decimal import Decimal

import harness
from harness import Client, ServerTestCase, number_literal, url
from ledger_check import balance_path, consume_path, verify

SEED = int(os.environ.get("ENTITLED_TEST_SEED") or random.SystemRandom().randrange(1, 2 ** 31))
HTTP_OPS = 2000
PLACES = "Decimal input should have no more than 6 decimal places"
WHOLE = "Decimal input should have no more than 12 digits before the decimal point"


def total_path(e, c):
    return "/entitlements/%s/customer/%s/total" % (e, c)


class ExactDecimals(ServerTestCase):
    def setUp(self):
        if not self.server.alive():
            self.restart()

    def restart(self):
        self.server.start()
        type(self).c = Client(self.server.port, self.t)
        self.c = type(self).c

    def pair(self):
        e = self.make_entitlement(entitlement_type="Credits")["id"]
        c = self.make_customer()["id"]
        return e, c

    def consume(self, e, c, q):
        return self.c.post(consume_path(e, c), {"quantity": q})

    def assertVerifies(self):
        """entitled verify passes (on SQLite with the server stopped)."""
        if harness.BACKEND == "sqlite":
            self.assertEqual(self.server.stop(), 0, self.server.stderr_tail())
        r = verify(self.db)
        self.assertEqual(r.rc, 0, "verify failed\n%r" % (r,))
        if harness.BACKEND == "sqlite":
            self.restart()

    def test_consume_what_is_left_leaves_exactly_zero(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=237.23)["id"]
        r = self.consume(e, c, 63.8)
        self.assertJson(r, 200)
        self.assertEqual(number_literal(r.body, "quantity_remaining"), "173.43", str(r))
        left = r.json["quantity_remaining"]
        r = self.consume(e, c, left)
        self.assertJson(r, 200)
        self.assertEqual(number_literal(r.body, "quantity_used"), "237.23", str(r))
        self.assertEqual(number_literal(r.body, "quantity_remaining"), "0", str(r))
        row = self.c.get("/entitlements/%s/customer/%s/%s" % (e, c, rid))
        self.assertEqual(number_literal(row.body, "quantity_used"), "237.23", str(row))
        self.assertEqual(number_literal(row.body, "quantity_remaining"), "0", str(row))
        r = self.consume(e, c, 0.000001)
        self.assertDetail(r, 409)
        self.assertEqual(number_literal(r.body, "available"), "0", str(r))
        self.assertVerifies()

    def test_a_tenth_three_times_from_three_tenths(self):
        e, c = self.pair()
        self.make_row(e, c, quantity=0.3)
        for i in range(3):
            r = self.consume(e, c, 0.1)
            self.assertJson(r, 200, "consume %d of 3" % (i + 1))
        self.assertEqual(number_literal(r.body, "quantity_remaining"), "0", str(r))
        self.assertEqual(number_literal(r.body, "quantity_used"), "0.3", str(r))
        self.assertDetail(self.consume(e, c, 0.1), 409)
        b = self.c.get(balance_path(e, c))
        self.assertEqual(number_literal(b.body, "quantity_remaining"), "0", str(b))
        self.assertEqual(number_literal(b.body, "quantity_used"), "0.3", str(b))

    def test_ten_tenths_from_one(self):
        e, c = self.pair()
        self.make_row(e, c, quantity=1)
        for i in range(10):
            r = self.consume(e, c, "0.1")
            self.assertJson(r, 200, "consume %d of 10" % (i + 1))
        self.assertEqual(number_literal(r.body, "quantity_remaining"), "0", str(r))
        self.assertEqual(number_literal(r.body, "quantity_used"), "1", str(r))
        self.assertVerifies()

    def test_remaining_and_sums_are_exact(self):
        e, c = self.pair()
        r = self.make_row(e, c, quantity=0.3, quantity_used=0.1)
        self.assertEqual(r["quantity_remaining"], 0.2)  # not 0.19999999999999998
        self.make_row(e, c, quantity=0.2)
        self.make_row(e, c, quantity=0.1)
        t = self.c.get(total_path(e, c))
        self.assertEqual(number_literal(t.body, "quantity"), "0.6", str(t))  # 0.3 + 0.2 + 0.1
        b = self.c.get(balance_path(e, c))
        self.assertEqual(number_literal(b.body, "quantity"), "0.6", str(b))
        self.assertEqual(number_literal(b.body, "quantity_remaining"), "0.5", str(b))
        u = self.c.get("/entitlements/customer/unique/%s" % c)
        self.assertJson(u, 200)
        self.assertIn('"total_quantity":0.6', u.body.decode(), str(u))

    def test_more_places_or_too_large_422(self):
        e, c = self.pair()
        for value, typ, msg, ctx in (
                (1e-7, "decimal_max_places", PLACES, {"decimal_places": 6}),
                (0.1 + 0.2, "decimal_max_places", PLACES, {"decimal_places": 6}),
                ("0.0000001", "decimal_max_places", PLACES, {"decimal_places": 6}),
                (5e-324, "decimal_max_places", PLACES, {"decimal_places": 6}),
                (1e12, "decimal_whole_digits", WHOLE, {"whole_digits": 12}),
                (1e21, "decimal_whole_digits", WHOLE, {"whole_digits": 12})):
            for field in ("quantity", "quantity_used"):
                with self.subTest(value=value, field=field):
                    r = self.c.post("/entitlements/%s/customer" % e, {"customer": c, field: value})
                    got = self.assert422(r)
                    self.assertEqual([(x["type"], x["loc"], x["msg"], x.get("ctx")) for x in got],
                                     [(typ, ["body", field], msg, ctx)], str(r))
            with self.subTest(value=value, field="consume"):
                got = self.assert422(self.consume(e, c, value))
                self.assertEqual([(x["type"], x["loc"]) for x in got],
                                 [(typ, ["body", "quantity"])], "consume %r" % value)
        # the edges of the range are fine and written back as sent
        for value, lit in ((0.000001, "1e-06"), (999999999999, "999999999999"),
                           (123456.789012, "123456.789012"), (999999999.999999, "999999999.999999")):
            with self.subTest(value=value):
                r = self.c.post("/entitlements/%s/customer" % e, {"customer": c, "quantity": value})
                self.assertJson(r, 200)
                self.assertEqual(number_literal(r.body, "quantity"), lit, str(r))

    def test_filters_compare_exactly(self):
        e, c = self.pair()
        ids = {}
        for q in (0.1, 0.2, 0.3, 1.000001):
            ids[q] = self.make_row(e, c, quantity=q)["id"]

        def listed(**params):
            r = self.c.get(url("/entitlements/customers_balances", entitlement=e, limit=100,
                               **params))
            self.assertJson(r, 200)
            return sorted(x["quantity"] for x in r.json["results"])

        self.assertEqual(listed(quantity__gt=0.1), [0.2, 0.3, 1.000001])
        self.assertEqual(listed(quantity__gte=0.1), [0.1, 0.2, 0.3, 1.000001])
        self.assertEqual(listed(quantity__gte="0.1000001"), [0.2, 0.3, 1.000001])
        self.assertEqual(listed(quantity__lt="0.3"), [0.1, 0.2])
        self.assertEqual(listed(quantity__lt="0.2999999"), [0.1, 0.2])
        self.assertEqual(listed(quantity__lte="0.2999999"), [0.1, 0.2])
        self.assertEqual(listed(quantity="0.3"), [0.3])
        self.assertEqual(listed(quantity=0.1 + 0.2), [])  # 0.30000000000000004 is not 0.3
        self.assertEqual(listed(quantity__neq=0.1 + 0.2), [0.1, 0.2, 0.3, 1.000001])
        self.assertEqual(listed(quantity__gt="-1e300"), [0.1, 0.2, 0.3, 1.000001])
        self.assertEqual(listed(quantity__lt="1e300"), [0.1, 0.2, 0.3, 1.000001])
        self.assertEqual(listed(quantity__gt="1e300"), [])
        # sorted by quantity, one a page: the cursor carries the decimal exactly
        got, params = [], {"sort_key": "quantity", "limit": 1}
        for _ in range(6):
            r = self.c.get(url("/entitlements/customers_balances", entitlement=e, **params))
            self.assertJson(r, 200)
            got += [x["quantity"] for x in r.json["results"]]
            nxt = r.json["next"]
            if not nxt:
                break
            params = {"sort_key": "quantity", "cursor": nxt, "limit": 1}
        self.assertEqual(got, [0.1, 0.2, 0.3, 1.000001])

    def test_random_grants_and_consumes(self):
        """HTTP_OPS random grants and consumes of 1 to 6 place amounts on one
        pair: each consume is allowed exactly when it fits, no remainder is
        ever below 0, and verify passes at the end."""
        rng = random.Random(SEED)
        sys.stdout.write("ExactDecimals: seed %d (ENTITLED_TEST_SEED=%d repeats it)\n"
                         % (SEED, SEED))
        e, c = self.pair()

        def amount(whole):
            places = rng.randint(1, 6)
            return Decimal("%d.%0*d" % (rng.randint(0, whole), places,
                                        rng.randrange(10 ** places)))

        left, granted, allowed, refused = Decimal(0), 0, 0, 0
        for op in range(HTTP_OPS):
            if granted == 0 or rng.random() < 0.2:
                q = amount(999)
                self.make_row(e, c, quantity=float(q))
                left += q
                granted += 1
                continue
            kind = rng.random()
            q = left if kind < 0.15 else left + Decimal("0.000001") if kind < 0.25 else amount(20)
            if q <= 0:
                continue
            r = self.consume(e, c, str(q))
            msg = "[seed %d] op %d: consume %s with %s left\n%s" % (SEED, op, q, left, r)
            if q <= left:
                self.assertJson(r, 200, msg)
                left -= q
                allowed += 1
                self.assertEqual(Decimal(repr(r.json["quantity_remaining"])), left, msg)
                for d in r.json["draws"]:
                    self.assertGreaterEqual(Decimal(repr(d["quantity_remaining"])), 0, msg)
            else:
                self.assertEqual(r.status, 409, msg)
                self.assertDetail(r, 409)
                refused += 1
                self.assertEqual(Decimal(number_literal(r.body, "available")), left, msg)
        b = self.c.get(balance_path(e, c))
        self.assertEqual(Decimal(number_literal(b.body, "quantity_remaining")), left, str(b))
        self.assertGreater(allowed, HTTP_OPS // 4)
        self.assertGreater(refused, HTTP_OPS // 20)
        self.assertVerifies()
