"""Entitlements: POST /entitlements and GET /entitlements/{id}."""

from harness import UUID_RE, ServerTestCase, new_id

KEYS = ["id", "name", "description", "entitlement_type", "units", "is_active", "product_id",
        "created_at"]


class Entitlements(ServerTestCase):
    def test_create_full_and_get(self):
        pid = new_id()
        body = {"name": "API calls", "description": "Calls per month", "entitlement_type": "Quantity",
                "units": "calls", "is_active": False, "product_id": pid.upper()}
        r = self.c.post("/entitlements", body)
        got = self.assertJson(r, 200)
        for k in KEYS:
            self.assertIn(k, got, "answer lacks %r\n%s" % (k, r))
        self.assertRegex(got["id"], UUID_RE)
        self.assertDateTime(got["created_at"], str(r))
        expected = dict(body, product_id=pid)
        for k, v in expected.items():
            self.assertSame(v, got[k], "%s not stored as given\n%s" % (k, r))
        g = self.c.get("/entitlements/%s" % got["id"])
        self.assertSame(got, self.assertJson(g, 200), "GET differs from the POST answer")
        g = self.c.get("/entitlements/%s" % got["id"].upper())
        self.assertSame(got, self.assertJson(g, 200), "GET with an upper-case id differs")

    def test_defaults(self):
        r = self.c.post("/entitlements", {"name": "Bare"})
        got = self.assertJson(r, 200)
        self.assertIs(got["is_active"], True, str(r))
        for k in ("description", "entitlement_type", "units", "product_id"):
            self.assertIsNone(got[k], "%s should be null\n%s" % (k, r))

    def test_each_type(self):
        for t in ("Feature", "Quantity", "Credits", None):
            with self.subTest(entitlement_type=t):
                r = self.c.post("/entitlements", {"name": "T", "entitlement_type": t})
                got = self.assertJson(r, 200)
                self.assertEqual(got["entitlement_type"], t, str(r))
                g = self.assertJson(self.c.get("/entitlements/%s" % got["id"]), 200)
                self.assertEqual(g["entitlement_type"], t)

    def test_bad_type_422_enum(self):
        r = self.c.post("/entitlements", {"name": "T", "entitlement_type": "Bogus"})
        errs = self.assert422(r, ["body", "entitlement_type"])
        self.assertSame([{"type": "enum", "loc": ["body", "entitlement_type"],
                          "msg": "Input should be 'Feature', 'Quantity' or 'Credits'",
                          "input": "Bogus",
                          "ctx": {"expected": "'Feature', 'Quantity' or 'Credits'"}}], errs, str(r))

    def test_type_is_case_sensitive(self):
        r = self.c.post("/entitlements", {"name": "T", "entitlement_type": "feature"})
        errs = self.assert422(r, ["body", "entitlement_type"])
        self.assertEqual(errs[0]["type"], "enum", str(r))

    def test_missing_name_422(self):
        r = self.c.post("/entitlements", {})
        errs = self.assert422(r, ["body", "name"])
        self.assertSame([{"type": "missing", "loc": ["body", "name"], "msg": "Field required",
                          "input": {}}], errs, str(r))

    def test_bad_product_id_422(self):
        r = self.c.post("/entitlements", {"name": "T", "product_id": "nope"})
        errs = self.assert422(r, ["body", "product_id"])
        self.assertSame([{"type": "uuid_parsing", "loc": ["body", "product_id"],
                          "msg": "Input should be a valid UUID, invalid character: found `n` at 1",
                          "input": "nope", "ctx": {"error": "invalid character: found `n` at 1"}}],
                        errs, str(r))

    def test_all_errors_at_once(self):
        r = self.c.post("/entitlements", {"entitlement_type": "Bogus", "is_active": "maybe"})
        self.assert422(r, ["body", "name"], ["body", "entitlement_type"], ["body", "is_active"])

    def test_get_unknown_404(self):
        self.assertDetail(self.c.get("/entitlements/%s" % new_id()), 404)

    def test_get_malformed_id_422(self):
        self.assert422(self.c.get("/entitlements/nope"), ["path", "entitlement_id"])
