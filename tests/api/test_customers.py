"""Customers: POST /customers (and the alias POST /customer), GET /customers/{id}."""

import datetime

from harness import UUID_RE, ServerTestCase, new_id

FULL = {
    "customer_name": "Acme Corporation",
    "external_id": "sf-0012345",
    "email": "billing@acme.com",
    "phone_number": "+1-555-0100",
    "custom_data": {"tier": "gold", "seats": 12, "nested": {"a": [1, 2.5, None, True]}},
    "address": {"line1": "1 Main St", "line2": "Suite 2", "city": "Springfield",
                "state": "IL", "zipCode": "62701", "country": "United States",
                "country_code": "US"},
    "ship_to_address": {"line1": "2 Dock Rd", "city": "Shelbyville", "country_code": "US"},
    "tax_info": [{"country_code": "US", "tax_code": "ein", "tax_id": "12-3456789"}],
    "connector": {"name": "salesforce", "reference_id": "001xx000003DGb2AAG"},
    "communications_enabled": False,
    "auto_charge_enabled": False,
}

REQUIRED_KEYS = ["id", "customer_name", "external_id", "email", "phone_number", "custom_data",
                 "address", "tax_info", "communications_enabled", "auto_charge_enabled",
                 "created_at"]


def subset_diff(expected, actual, where="$"):
    """Keys of expected (recursively, for objects) must be in actual with equal values."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for k, v in expected.items():
            if k not in actual:
                out.append("%s.%s missing" % (where, k))
            else:
                out += subset_diff(v, actual[k], "%s.%s" % (where, k))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += subset_diff(e, a, "%s[%d]" % (where, i))
        return out
    from harness import json_diff
    return json_diff(expected, actual, where)


class Customers(ServerTestCase):
    def check_customer(self, sent, got, r):
        for k in REQUIRED_KEYS:
            self.assertIn(k, got, "answer lacks %r\n%s" % (k, r))
        self.assertRegex(got["id"], UUID_RE)
        self.assertDateTime(got["created_at"], str(r))
        created = datetime.datetime.strptime(got["created_at"][:19], "%Y-%m-%dT%H:%M:%S")
        now = datetime.datetime.utcnow()
        self.assertLess(abs((now - created).total_seconds()), 3600, "created_at is not now: %s" % r)
        d = subset_diff({k: v for k, v in sent.items() if k in got or k in REQUIRED_KEYS}, got)
        self.assertEqual(d, [], "fields not stored as given\n%s" % r)

    def test_create_full_and_get(self):
        full = dict(FULL, email="billing-%s@acme.com" % new_id()[:8])  # emails are unique
        r = self.c.post("/customers", full)
        got = self.assertJson(r, 200)
        self.check_customer(full, got, r)
        g = self.c.get("/customers/%s" % got["id"])
        self.assertSame(got, self.assertJson(g, 200), "GET differs from the POST answer")

    def test_ship_to_address_and_connector_returned_when_shown(self):
        full = dict(FULL, email="ship-%s@acme.com" % new_id()[:8])
        got = self.assertJson(self.c.post("/customers", full), 200)
        for k in ("ship_to_address", "connector"):
            if k in got:
                self.assertEqual(subset_diff(FULL[k], got[k]), [], "%s not stored as given" % k)

    def test_alias_post_customer(self):
        full = dict(FULL, email="legacy-%s@acme.com" % new_id()[:8])
        r = self.c.post("/customer", full)
        got = self.assertJson(r, 200)
        self.check_customer(full, got, r)
        self.assertSame(got, self.assertJson(self.c.get("/customers/%s" % got["id"]), 200))

    def test_minimal_defaults(self):
        r = self.c.post("/customers", {"customer_name": "Minimal"})
        got = self.assertJson(r, 200)
        self.check_customer({"customer_name": "Minimal"}, got, r)
        self.assertIs(got["communications_enabled"], True, str(r))
        self.assertIs(got["auto_charge_enabled"], True, str(r))
        self.assertIsNone(got["external_id"], str(r))
        self.assertIsNone(got["email"], str(r))
        self.assertIsNone(got["phone_number"], str(r))

    def test_ids_differ(self):
        a = self.make_customer()
        b = self.make_customer()
        self.assertNotEqual(a["id"], b["id"])

    def test_business_entity_id_lower_cased(self):
        be = new_id()
        r = self.c.post("/customers", {"customer_name": "BE", "business_entity_id": be.upper()})
        got = self.assertJson(r, 200)
        if "business_entity_id" in got:
            self.assertEqual(got["business_entity_id"], be, str(r))

    def test_get_with_uppercase_id(self):
        cu = self.make_customer()
        self.assertSame(cu, self.assertJson(self.c.get("/customers/%s" % cu["id"].upper()), 200))

    def test_missing_name_422(self):
        body = {"email": "x@acme.com"}
        r = self.c.post("/customers", body)
        errs = self.assert422(r, ["body", "customer_name"])
        self.assertSame([{"type": "missing", "loc": ["body", "customer_name"],
                          "msg": "Field required", "input": body}], errs, str(r))

    def test_name_wrong_type_422(self):
        r = self.c.post("/customers", {"customer_name": 5})
        errs = self.assert422(r, ["body", "customer_name"])
        self.assertSame([{"type": "string_type", "loc": ["body", "customer_name"],
                          "msg": "Input should be a valid string", "input": 5}], errs, str(r))

    def test_get_unknown_404(self):
        self.assertDetail(self.c.get("/customers/%s" % new_id()), 404)

    def test_get_malformed_id_422(self):
        r = self.c.get("/customers/nope")
        self.assert422(r, ["path", "customer_id"])
