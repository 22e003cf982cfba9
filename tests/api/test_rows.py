"""Customer entitlement rows: POST /entitlements/{E}/customer and
GET /entitlements/{E}/customer/{C}/{R}: every field stored and returned,
ids lower-cased, date-times and numbers written as the contract says."""

import datetime

from harness import (UUID_RE, ServerTestCase, new_id, number_literal, row_path)

ROW_KEYS = ["id", "entitlement", "customer", "expiry_at", "active_from", "quantity",
            "quantity_used", "created_at", "quantity_remaining"]

# (input, expected output) of date-times
DATES = [
    ("2026-01-31T12:00:00Z", "2026-01-31T12:00:00Z"),
    ("2026-01-31T12:00:00+02:00", "2026-01-31T10:00:00Z"),
    ("2026-01-31T01:30:00-05:30", "2026-01-31T07:00:00Z"),
    ("2026-01-31T23:30:00-01:00", "2026-02-01T00:30:00Z"),
    ("2026-01-31T12:00:00", "2026-01-31T12:00:00Z"),
    ("2026-01-31 12:00:00Z", "2026-01-31T12:00:00Z"),
    ("2026-01-31", "2026-01-31T00:00:00Z"),
    ("2026-01-31T12:00:00.5Z", "2026-01-31T12:00:00.500000Z"),
    ("2026-01-31T12:00:00.000Z", "2026-01-31T12:00:00Z"),
    ("2026-01-31T12:00:00.123456Z", "2026-01-31T12:00:00.123456Z"),
    ("2026-01-31T12:00:00.000001+00:00", "2026-01-31T12:00:00.000001Z"),
    ("2026-01-31T12:00:00.1234567Z", "2026-01-31T12:00:00.123456Z"),
    (1769860800, "2026-01-31T12:00:00Z"),
    ("1769860800", "2026-01-31T12:00:00Z"),
    (1769860800.25, "2026-01-31T12:00:00.250000Z"),
    (1769860800000, "2026-01-31T12:00:00Z"),
]

# (input, expected literal in the answer)
NUMBERS = [
    (500, "500"),
    (500.0, "500"),
    (12.5, "12.5"),
    (0.1, "0.1"),
    (0, "0"),
    (1e3, "1000"),
    ("42", "42"),
    (1234567.875, "1234567.875"),
    (3.333333, "3.333333"),
    (0.000001, "1e-06"),
    (999999999999.5, "999999999999.5"),
]


class Rows(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.E = None

    def setUp(self):
        cls = type(self)
        if cls.E is None:
            cls.E = self.make_entitlement(entitlement_type="Quantity")["id"]
            cls.C = self.make_customer()["id"]

    def post_row(self, body, e=None):
        return self.c.post("/entitlements/%s/customer" % (e or self.E), body)

    def test_full_row_round_trip(self):
        rid, contract, source, invoice = new_id(), new_id(), new_id(), new_id()
        body = {
            "id": rid.upper(), "entitlement": self.E.upper(), "customer": self.C.upper(),
            "expiry_at": "2027-01-01T00:00:00Z", "active_from": "2026-01-01T00:00:00Z",
            "quantity": 500, "quantity_used": 12.5,
            "contract_id": contract.upper(), "source_type": "Grant", "source_id": source.upper(),
            "block_amount": 123, "invoice_id": invoice.upper(), "event": "manual",
            "numeric_value": 7.25, "feature_option_value": "gold", "status": "draft",
        }
        r = self.post_row(body)
        got = self.assertJson(r, 200)
        for k in ROW_KEYS + list(body):
            self.assertIn(k, got, "answer lacks %r\n%s" % (k, r))
        expected = dict(body, id=rid, entitlement=self.E, customer=self.C, contract_id=contract,
                        source_id=source, invoice_id=invoice, quantity_remaining=487.5)
        for k, v in expected.items():
            self.assertSame(v, got[k], "%s not stored as given\n%s" % (k, r))
        self.assertDateTime(got["created_at"], str(r))
        created = datetime.datetime.strptime(got["created_at"][:19], "%Y-%m-%dT%H:%M:%S")
        self.assertLess(abs((datetime.datetime.utcnow() - created).total_seconds()), 3600)
        g = self.c.get(row_path(self.E, self.C, rid))
        self.assertSame(got, self.assertJson(g, 200), "GET differs from the POST answer")
        g = self.c.get(row_path(self.E.upper(), self.C.upper(), rid.upper()))
        self.assertSame(got, self.assertJson(g, 200), "GET with upper-case ids differs")

    def test_minimal_row(self):
        r = self.post_row({"customer": self.C})
        got = self.assertJson(r, 200)
        self.assertRegex(got["id"], UUID_RE)
        self.assertEqual(got["entitlement"], self.E)
        self.assertEqual(got["customer"], self.C)
        for k in ("expiry_at", "active_from", "quantity", "quantity_used", "quantity_remaining"):
            self.assertIsNone(got[k], "%s should be null\n%s" % (k, r))
        self.assertSame(got, self.assertJson(self.c.get(row_path(self.E, self.C, got["id"])), 200))

    def test_entitlement_in_path_any_case(self):
        r = self.c.post("/entitlements/%s/customer" % self.E.upper(),
                        {"customer": self.C, "entitlement": self.E})
        got = self.assertJson(r, 200)
        self.assertEqual(got["entitlement"], self.E)

    def test_quantity_remaining(self):
        # exact decimals (issue 13): 0.3 - 0.1 is 0.2, not 0.19999999999999998
        for q, used, rem in [(10, 3, 7), (10, 0, 10), (0.3, 0.1, 0.2), (5, 5, 0), (None, 2, None)]:
            with self.subTest(quantity=q, quantity_used=used):
                r = self.post_row({"customer": self.C, "quantity": q, "quantity_used": used})
                got = self.assertJson(r, 200)
                self.assertSame(rem, got["quantity_remaining"], str(r))
                if rem is not None:
                    self.assertEqual(float(number_literal(r.body, "quantity_remaining")), rem)

    def test_date_formats(self):
        for value, want in DATES:
            for field in ("expiry_at", "active_from"):
                with self.subTest(field=field, value=value):
                    r = self.post_row({"customer": self.C, field: value})
                    got = self.assertJson(r, 200)
                    self.assertEqual(got[field], want, str(r))
                    g = self.assertJson(self.c.get(row_path(self.E, self.C, got["id"])), 200)
                    self.assertEqual(g[field], want)

    def test_number_formats(self):
        for value, lit in NUMBERS:
            with self.subTest(value=value):
                r = self.post_row({"customer": self.C, "quantity": value, "quantity_used": 0})
                self.assertJson(r, 200)
                self.assertEqual(number_literal(r.body, "quantity"), lit, str(r))
                self.assertEqual(number_literal(r.body, "quantity_remaining"), lit, str(r))
                g = self.c.get(row_path(self.E, self.C, r.json["id"]))
                self.assertEqual(number_literal(g.body, "quantity"), lit, str(g))

    def test_shortest_round_trip_numbers(self):
        # quantities are decimals of at most 6 places below 10^12 (issue 13):
        # test_decimal.py has the values beyond them
        for v in (0.1, 1e-6, 123456.789, 2.5e-5, 999999999999.999, 1e11):
            with self.subTest(value=v):
                r = self.post_row({"customer": self.C, "quantity": v})
                self.assertJson(r, 200)
                lit = number_literal(r.body, "quantity")
                self.assertIsNotNone(lit, str(r))
                self.assertEqual(float(lit), v, "does not read back\n%s" % r)
                self.assertLessEqual(len(lit.replace("e+", "e").replace("e-0", "e-")),
                                     len(repr(v).replace("e+", "e").replace("e-0", "e-")),
                                     "not the shortest form: %s (python: %r)" % (lit, v))
                self.assertFalse(lit.endswith(".0"), lit)

    def test_window_violation_422(self):
        r = self.post_row({"customer": self.C, "active_from": "2026-06-01T00:00:00Z",
                           "expiry_at": "2026-01-01T00:00:00Z"})
        self.assert422(r)

    def test_equal_bounds_ok(self):
        r = self.post_row({"customer": self.C, "active_from": "2026-06-01T00:00:00Z",
                           "expiry_at": "2026-06-01T02:00:00+02:00"})
        got = self.assertJson(r, 200)
        self.assertEqual(got["active_from"], got["expiry_at"])

    def test_own_id_twice_409(self):
        rid = new_id()
        self.assertJson(self.post_row({"id": rid, "customer": self.C, "quantity": 1}), 200)
        r = self.post_row({"id": rid.upper(), "customer": self.C, "quantity": 2})
        self.assertDetail(r, 409)
        g = self.assertJson(self.c.get(row_path(self.E, self.C, rid)), 200)
        self.assertEqual(g["quantity"], 1, "the first row was changed by the refused create")

    def test_entitlement_mismatch_422(self):
        other = self.make_entitlement()["id"]
        r = self.post_row({"customer": self.C, "entitlement": other})
        self.assert422(r, ["body", "entitlement"])
        r = self.post_row({"customer": self.C, "entitlement": "not-an-id"})
        self.assert422(r, ["body", "entitlement"])

    def test_entitlement_match_any_case(self):
        r = self.post_row({"customer": self.C, "entitlement": self.E.upper()})
        self.assertEqual(self.assertJson(r, 200)["entitlement"], self.E)

    def test_unknown_customer_404(self):
        self.assertDetail(self.post_row({"customer": new_id()}), 404)

    def test_unknown_entitlement_404(self):
        self.assertDetail(self.post_row({"customer": self.C}, e=new_id()), 404)

    def test_missing_customer_422(self):
        r = self.post_row({"quantity": 1})
        errs = self.assert422(r, ["body", "customer"])
        self.assertSame([{"type": "missing", "loc": ["body", "customer"], "msg": "Field required",
                          "input": {"quantity": 1}}], errs, str(r))

    def test_negative_quantities_422(self):
        for field in ("quantity", "quantity_used"):
            with self.subTest(field=field):
                self.assert422(self.post_row({"customer": self.C, field: -1}), ["body", field])

    def test_bad_fields_422_all_at_once(self):
        r = self.post_row({"customer": self.C, "id": "nope", "expiry_at": "garbage", "quantity": "abc"})
        errs = self.assert422(r)
        self.assertSame([
            {"type": "uuid_parsing", "loc": ["body", "id"],
             "msg": "Input should be a valid UUID, invalid character: found `n` at 1",
             "input": "nope", "ctx": {"error": "invalid character: found `n` at 1"}},
            {"type": "datetime_from_date_parsing", "loc": ["body", "expiry_at"],
             "msg": "Input should be a valid datetime or date, input is too short",
             "input": "garbage", "ctx": {"error": "input is too short"}},
            {"type": "float_parsing", "loc": ["body", "quantity"],
             "msg": "Input should be a valid number, unable to parse string as a number",
             "input": "abc"},
        ], errs, str(r))

    def test_get_row_wrong_pair_404(self):
        row = self.assertJson(self.post_row({"customer": self.C, "quantity": 1}), 200)
        other_c = self.make_customer()["id"]
        other_e = self.make_entitlement()["id"]
        self.assertDetail(self.c.get(row_path(self.E, other_c, row["id"])), 404)
        self.assertDetail(self.c.get(row_path(other_e, self.C, row["id"])), 404)
        self.assertDetail(self.c.get(row_path(self.E, self.C, new_id())), 404)

    def test_get_row_malformed_ids_422(self):
        r = self.c.get(row_path("nope", self.C, new_id()))
        self.assert422(r, ["path", "entitlement_id"])
        r = self.c.get(row_path(self.E, "nope", new_id()))
        self.assert422(r, ["path", "customer_id"])
