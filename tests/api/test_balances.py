"""The balances list (GET /entitlements/customers_balances): the envelope with
total_count and total, default limit 50, ascending created_at by default,
every filter of docs/API.md's table, search, sort keys and populate."""

from harness import (ServerTestCase, expected_order, fresh_client, new_id, parse_dt, row_path,
                     url)
from test_lists import ListMixin

PATH = "/entitlements/customers_balances"
BASE_KEYS = ["id", "entitlement", "customer", "expiry_at", "active_from", "quantity",
             "quantity_used", "created_at", "quantity_remaining"]


class Balances(ServerTestCase, ListMixin):
    ENVELOPE = ["results", "next", "previous", "total_count", "total"]

    def world(self):
        """A fresh tenant: customers A (with email) and B, entitlements E1
        (with a product) and E2, five rows with distinct non-null values, some
        with a contract_id (K1, K2) or an invoice_id (I1, I2)."""
        c = fresh_client(self)
        w = {"c": c}
        w["A"] = self.make_customer(c, customer_name="Alice Ltd", email="alice@x.io")
        w["B"] = self.make_customer(c, customer_name="Bob & Co")
        w["P"] = new_id()
        w["E1"] = self.make_entitlement(c, name="Compute hours", units="hrs",
                                        entitlement_type="Quantity", product_id=w["P"])
        w["E2"] = self.make_entitlement(c, name="Storage", units="GB", entitlement_type="Credits")
        w["K1"], w["K2"] = new_id(), new_id()
        w["I1"], w["I2"] = new_id(), new_id()
        A, B, E1, E2 = w["A"]["id"], w["B"]["id"], w["E1"]["id"], w["E2"]["id"]
        specs = [
            (E1, A, dict(quantity=1, quantity_used=0, active_from="2025-01-01T00:00:00Z",
                         expiry_at="2026-01-01T00:00:00Z", contract_id=w["K1"], invoice_id=w["I1"])),
            (E1, B, dict(quantity=2.5, quantity_used=1, active_from="2025-06-01T00:00:00Z",
                         expiry_at="2026-06-01T00:00:00Z", contract_id=w["K2"])),
            (E2, A, dict(quantity=5, quantity_used=2, active_from="2025-06-01T00:00:00.5Z",
                         expiry_at="2027-01-01T00:00:00Z", contract_id=w["K1"])),
            (E2, B, dict(quantity=5, quantity_used=3, active_from="2026-01-01T00:00:00Z",
                         expiry_at="2027-06-01T00:00:00Z", invoice_id=w["I2"])),
            (E1, A, dict(quantity=10, quantity_used=4, active_from="2026-06-01T00:00:00Z",
                         expiry_at="2028-01-01T00:00:00Z")),
        ]
        w["rows"] = [self.make_row(e, cu, c, **f) for e, cu, f in specs]
        return w

    def test_shape_and_default_sort(self):
        w = self.world()
        c = w["c"]
        body, r = self.get_list(c, PATH)
        self.assertEnvelope(body, r)
        self.assertEqual(body["total_count"], 5, str(r))
        self.assertEqual(body["total"], 5, str(r))
        self.assertIsNone(body["next"], str(r))
        self.assertIsNone(body["previous"], str(r))
        self.assertIds(w["rows"], body, r, "default sort is created_at ascending")
        ents = {w["E1"]["id"]: w["E1"], w["E2"]["id"]: w["E2"]}
        for got in body["results"]:
            stored = self.assertJson(c.get(row_path(got["entitlement"], got["customer"], got["id"])), 200)
            for k in BASE_KEYS:
                self.assertIn(k, got, "item lacks %r\n%s" % (k, r))
                self.assertSame(stored[k], got[k], "%s differs from the row\n%s" % (k, r))
            if "contract_id" in got:
                self.assertEqual(got["contract_id"], stored["contract_id"], str(r))
            e = ents[got["entitlement"]]
            self.assertEqual(got.get("name"), e["name"], str(r))
            self.assertEqual(got.get("units"), e["units"], str(r))
            self.assertEqual(got.get("type"), e["entitlement_type"], str(r))
            self.assertIsInstance(got["customer"], str, "customer without populate is its id\n%s" % r)

    def test_empty(self):
        c = fresh_client(self)
        body, r = self.get_list(c, PATH)
        self.assertEnvelope(body, r)
        self.assertEqual((body["results"], body["next"], body["previous"], body["total_count"],
                          body["total"]), ([], None, None, 0, 0), str(r))

    def test_default_limit_50(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c)["id"]
        made = [self.make_row(e, cu, c, quantity=i) for i in range(53)]
        body, r = self.get_list(c, PATH)
        self.assertIds(made[:50], body, r)
        self.assertEqual(body["total_count"], 53, str(r))
        self.assertEqual(body["total"], 53, str(r))
        self.assertIsNotNone(body["next"], str(r))
        body, r = self.get_list(c, PATH, cursor=body["next"])
        self.assertIds(made[50:], body, r)
        self.assertIsNone(body["next"], str(r))

    def test_id_filters(self):
        w = self.world()
        c, rows = w["c"], w["rows"]
        A, B, E1, E2, K1, K2 = (w["A"]["id"], w["B"]["id"], w["E1"]["id"], w["E2"]["id"],
                                w["K1"], w["K2"])
        cases = [
            ({"customer": A}, [0, 2, 4]),
            ({"customer": B.upper()}, [1, 3]),
            ({"customer": new_id()}, []),
            ({"customer__in": "%s,%s" % (A, B)}, [0, 1, 2, 3, 4]),
            ({"customer__in": "%s,%s" % (B, new_id())}, [1, 3]),
            ({"entitlement": E1}, [0, 1, 4]),
            ({"entitlement": new_id()}, []),
            ({"entitlement__in": "%s,%s" % (E2, new_id())}, [2, 3]),
            ({"entitlement__in": "%s,%s" % (E1, E2)}, [0, 1, 2, 3, 4]),
            ({"contract_id": K1}, [0, 2]),
            ({"contract_id": new_id()}, []),
            ({"contract_id__in": "%s,%s" % (K1, K2)}, [0, 1, 2]),
            ({"customer": A, "entitlement": E1}, [0, 4]),
            ({"customer__in": ",".join([new_id() for _ in range(79)] + [B])}, [1, 3]),
            ({"entitlement__in": ",".join([E2] + [new_id() for _ in range(60)])}, [2, 3]),
            ({"contract_id__in": ",".join([new_id() for _ in range(60)] + [K2])}, [1]),
            ({"customer__in": "{%s},urn:uuid:%s" % (A, B.upper())}, [0, 1, 2, 3, 4]),
            ({"customer__in": "%s" % B.replace("-", "").upper()}, [1, 3]),
            ({"customer": B, "contract_id": K1}, []),
        ]
        for params, want in cases:
            with self.subTest(**params):
                body, r = self.get_list(c, PATH, params)
                self.assertIds([rows[i] for i in want], body, r)
                self.assertEqual(body["total_count"], len(want), str(r))
                self.assertEqual(body["total"], len(want), str(r))

    def test_several_in_filters_of_100_values(self):
        # three __in filters at the 100 values each that entitled accepts
        w = self.world()
        c, rows = w["c"], w["rows"]
        A, E1, K1 = w["A"]["id"], w["E1"]["id"], w["K1"]
        params = {"customer__in": ",".join([A] + [new_id() for _ in range(99)]),
                  "entitlement__in": ",".join([new_id() for _ in range(99)] + [E1]),
                  "contract_id__in": ",".join([new_id() for _ in range(50)] + [K1]
                                              + [new_id() for _ in range(49)])}
        body, r = self.get_list(c, PATH, params)
        self.assertIds([rows[0]], body, r)
        self.assertEqual(body["total"], 1, str(r)[:300])

    def test_number_filters(self):
        w = self.world()
        c, rows = w["c"], w["rows"]
        # quantity: 1, 2.5, 5, 5, 10; quantity_used: 0, 1, 2, 3, 4
        cases = [
            ({"quantity": "5"}, [2, 3]),
            ({"quantity": "5.0"}, [2, 3]),
            ({"quantity": "2.5"}, [1]),
            ({"quantity": "7"}, []),
            ({"quantity__gt": "5"}, [4]),
            ({"quantity__gte": "5"}, [2, 3, 4]),
            ({"quantity__lt": "2.5"}, [0]),
            ({"quantity__lte": "2.5"}, [0, 1]),
            ({"quantity__neq": "5"}, [0, 1, 4]),
            ({"quantity__gt": "1", "quantity__lt": "10"}, [1, 2, 3]),
            ({"quantity__gte": "1e1"}, [4]),
            ({"quantity__gt": "-1"}, [0, 1, 2, 3, 4]),
            ({"quantity_used": "0"}, [0]),
            ({"quantity_used__gt": "2"}, [3, 4]),
            ({"quantity_used__gte": "2"}, [2, 3, 4]),
            ({"quantity_used__lt": "1"}, [0]),
            ({"quantity_used__lte": "1"}, [0, 1]),
            ({"quantity_used__neq": "3"}, [0, 1, 2, 4]),
            ({"quantity": "5", "quantity_used__neq": "2"}, [3]),
        ]
        for params, want in cases:
            with self.subTest(**params):
                body, r = self.get_list(c, PATH, params)
                self.assertIds([rows[i] for i in want], body, r)
                self.assertEqual(body["total_count"], len(want), str(r))

    def test_date_time_filters(self):
        w = self.world()
        c, rows = w["c"], w["rows"]
        # active_from: 2025-01-01, 2025-06-01, 2025-06-01T00:00:00.5, 2026-01-01, 2026-06-01
        # expiry_at:   2026-01-01, 2026-06-01, 2027-01-01, 2027-06-01, 2028-01-01
        cases = [
            ({"active_from": "2025-06-01T00:00:00Z"}, [1]),
            ({"active_from": "2025-06-01T02:00:00+02:00"}, [1]),
            ({"active_from": "2025-06-01"}, [1]),
            ({"active_from": "2025-06-01T00:00:00.5Z"}, [2]),
            ({"active_from__gt": "2025-06-01T00:00:00Z"}, [2, 3, 4]),
            ({"active_from__gte": "2025-06-01T00:00:00Z"}, [1, 2, 3, 4]),
            ({"active_from__lt": "2025-06-01T00:00:00.5Z"}, [0, 1]),
            ({"active_from__lte": "2025-06-01T00:00:00.5Z"}, [0, 1, 2]),
            ({"active_from__neq": "2026-01-01T00:00:00Z"}, [0, 1, 2, 4]),
            ({"active_from__gte": "1735689600"}, [0, 1, 2, 3, 4]),   # 2025-01-01 in Unix seconds
            ({"active_from__gt": "1735689600"}, [1, 2, 3, 4]),
            ({"expiry_at": "2027-01-01T00:00:00Z"}, [2]),
            ({"expiry_at__gt": "2027-01-01T00:00:00Z"}, [3, 4]),
            ({"expiry_at__gte": "2027-01-01T00:00:00Z"}, [2, 3, 4]),
            ({"expiry_at__lt": "2026-06-01T00:00:00Z"}, [0]),
            ({"expiry_at__lte": "2026-06-01T00:00:00Z"}, [0, 1]),
            ({"expiry_at__neq": "2028-01-01T00:00:00Z"}, [0, 1, 2, 3]),
            ({"active_from__lte": "2026-01-01", "expiry_at__gt": "2026-01-01"}, [1, 2, 3]),
        ]
        for params, want in cases:
            with self.subTest(**params):
                body, r = self.get_list(c, PATH, params)
                self.assertIds([rows[i] for i in want], body, r)
                self.assertEqual(body["total_count"], len(want), str(r))

    def test_created_at_filters(self):
        w = self.world()
        c, rows = w["c"], w["rows"]
        t = [x["created_at"] for x in rows]
        cases = [
            ({"created_at": t[2]}, [2]),
            ({"created_at__gt": t[2]}, [3, 4]),
            ({"created_at__gte": t[2]}, [2, 3, 4]),
            ({"created_at__lt": t[2]}, [0, 1]),
            ({"created_at__lte": t[2]}, [0, 1, 2]),
            ({"created_at__neq": t[2]}, [0, 1, 3, 4]),
            ({"created_at__gt": t[0], "created_at__lt": t[4]}, [1, 2, 3]),
            ({"created_at__lt": "2000-01-01T00:00:00Z"}, []),
        ]
        for params, want in cases:
            with self.subTest(**params):
                body, r = self.get_list(c, PATH, params)
                self.assertIds([rows[i] for i in want], body, r)

    def test_comparisons_never_match_null(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c)["id"]
        full = self.make_row(e, cu, c, quantity=5, quantity_used=1,
                             active_from="2026-01-01T00:00:00Z", expiry_at="2027-01-01T00:00:00Z")
        self.make_row(e, cu, c)  # every value null
        for params in ({"quantity__gt": "0"}, {"quantity__gte": "0"}, {"quantity_used__gte": "0"},
                       {"quantity": "5"}, {"active_from__gt": "2000-01-01"},
                       {"expiry_at__gte": "2000-01-01"}, {"active_from": "2026-01-01"}):
            with self.subTest(**params):
                body, r = self.get_list(c, PATH, params)
                self.assertIds([full], body, r)

    def test_search(self):
        w = self.world()
        c, rows = w["c"], w["rows"]
        cases = [("compute", [0, 1, 4]), ("STORAGE", [2, 3]), ("alice", [0, 2, 4]), ("bob &", [1, 3]),
                 ("e h", [0, 1, 4]), ("alice@x.io", []), ("hrs", []), ("zzz", [])]
        for term, want in cases:
            with self.subTest(search=term):
                body, r = self.get_list(c, PATH, search=term)
                self.assertIds([rows[i] for i in want], body, r,
                               "search covers the entitlement's and the customer's names")
                self.assertEqual(body["total"], len(want), str(r))

    def test_search_percent_and_underscore_literal(self):
        c = fresh_client(self)
        cu1 = self.make_customer(c, customer_name="100% Corp")["id"]
        cu2 = self.make_customer(c, customer_name="a_b")["id"]
        cu3 = self.make_customer(c, customer_name="axb 1000 Corp")["id"]
        e = self.make_entitlement(c, name="plain")["id"]
        a = self.make_row(e, cu1, c)
        b = self.make_row(e, cu2, c)
        self.make_row(e, cu3, c)
        for term, want in (("%", [a]), ("0%", [a]), ("_", [b]), ("a_b", [b])):
            with self.subTest(search=term):
                body, r = self.get_list(c, PATH, search=term)
                self.assertIds(want, body, r)

    def test_sort_keys(self):
        c = fresh_client(self)
        cus = [self.make_customer(c)["id"] for _ in range(2)]
        e = self.make_entitlement(c)["id"]
        specs = [
            dict(quantity=5, quantity_used=1, active_from="2026-01-01T00:00:00Z"),
            dict(),
            dict(quantity=3, quantity_used=3, active_from="2025-01-01T00:00:00.5Z",
                 expiry_at="2030-01-01T00:00:00Z"),
            dict(quantity=5, active_from="2025-01-01T00:00:00Z", expiry_at="2029-12-31T23:59:59Z"),
            dict(quantity=0, quantity_used=2, expiry_at="2030-01-01T00:00:00Z"),
            dict(quantity_used=1, active_from="2026-01-01T00:00:00Z"),
            dict(quantity=10, quantity_used=0, expiry_at="2030-01-01T00:00:00.000001Z"),
            dict(quantity=3, quantity_used=3),
        ]
        made = [self.make_row(e, cus[i % 2], c, **s) for i, s in enumerate(specs)]
        keys = {
            "id": lambda x: x["id"],
            "created_at": lambda x: parse_dt(x["created_at"]),
            "quantity": lambda x: x["quantity"],
            "quantity_used": lambda x: x["quantity_used"],
            "active_from": lambda x: parse_dt(x["active_from"]),
            "expiry_at": lambda x: parse_dt(x["expiry_at"]),
        }
        for k, f in keys.items():
            for st in ("asc", "desc"):
                with self.subTest(sort_key=k, sort_type=st):
                    body, r = self.get_list(c, PATH, sort_key=k, sort_type=st)
                    self.assertIds(expected_order(made, f, st == "desc"), body, r)
            with self.subTest(sort_key=k, sort_type=None):
                body, r = self.get_list(c, PATH, sort_key=k)
                self.assertIds(expected_order(made, f), body, r, "sort_type defaults to asc")
        body, r = self.get_list(c, PATH, order="-created_at")
        self.assertIds(made[::-1], body, r)

    def test_populate_customer(self):
        w = self.world()
        c, rows = w["c"], w["rows"]
        people = {w["A"]["id"]: w["A"], w["B"]["id"]: w["B"]}
        for params in ({"populate": "customer"}, {"populate": "customer", "customer": w["A"]["id"]}):
            with self.subTest(**params):
                body, r = self.get_list(c, PATH, params)
                self.assertTrue(body["results"], str(r))
                for it in body["results"]:
                    cu = it["customer"]
                    self.assertIsInstance(cu, dict, "populate=customer gives an object\n%s" % r)
                    p = people[cu["id"]]
                    self.assertSame({"id": p["id"], "name": p["customer_name"], "email": p["email"]},
                                    cu, str(r))
                self.assertEqual(len(body["results"]), 3 if "customer" in params else 5, str(r))
        self.assertTrue(rows)

    def test_populate_product(self):
        w = self.world()
        c = w["c"]
        body, r = self.get_list(c, PATH, populate="product")
        for it in body["results"]:
            self.assertIn("product", it, str(r))
            if it["entitlement"] == w["E1"]["id"]:
                self.assertSame({"id": w["P"], "name": None}, it["product"], str(r))
            else:
                self.assertIsNone(it["product"], "no product_id: product is null\n%s" % r)
            self.assertIsInstance(it["customer"], str, "customer not populated\n%s" % r)
            self.assertNotIn("contract", it, str(r))
            self.assertNotIn("invoice", it, str(r))

    def test_populate_contract_and_invoice(self):
        """entitled keeps no contract or invoice catalogue: {"id", "name": null}
        when the row has the id, null when it has none (../shared/API.md)."""
        w = self.world()
        c = w["c"]
        for key, field in (("contract", "contract_id"), ("invoice", "invoice_id")):
            with self.subTest(populate=key):
                body, r = self.get_list(c, PATH, populate=key)
                self.assertEqual(len(body["results"]), 5, str(r))
                seen = 0
                for it, row in zip(body["results"], w["rows"]):
                    self.assertEqual(it["id"], row["id"], str(r))
                    if row[field] is None:
                        self.assertIsNone(it[key], "no %s: %s is null\n%s" % (field, key, r))
                    else:
                        seen += 1
                        self.assertSame({"id": row[field], "name": None}, it[key], str(r))
                    self.assertEqual(it[field], row[field], str(r))
                    self.assertIsInstance(it["customer"], str, str(r))
                    for other in {"product", "contract", "invoice"} - {key}:
                        self.assertNotIn(other, it, str(r))
                self.assertEqual(seen, 3 if key == "contract" else 2, str(r))

    def test_populate_all_four(self):
        """The reference's example value, customer,contract,product,invoice,
        in any order; a name given twice counts once."""
        w = self.world()
        c = w["c"]
        people = {w["A"]["id"]: w["A"], w["B"]["id"]: w["B"]}
        for value in ("customer,contract,product,invoice", "invoice,product,contract,customer",
                      "contract,invoice,contract"):
            with self.subTest(populate=value):
                body, r = self.get_list(c, PATH, populate=value)
                for it, row in zip(body["results"], w["rows"]):
                    for key, field in (("contract", "contract_id"), ("invoice", "invoice_id")):
                        self.assertSame(None if row[field] is None else {"id": row[field], "name": None},
                                        it[key], str(r))
                    if "customer" in value:
                        p = people[row["customer"]]
                        self.assertSame({"id": p["id"], "name": p["customer_name"],
                                         "email": p["email"]}, it["customer"], str(r))
                        prod = {"id": w["P"], "name": None} if row["entitlement"] == w["E1"]["id"] else None
                        self.assertSame(prod, it["product"], str(r))
                    else:
                        self.assertEqual(it["customer"], row["customer"], str(r))
                        self.assertNotIn("product", it, str(r))

    def test_populate_both(self):
        w = self.world()
        c = w["c"]
        for value in ("customer,product", "product,customer"):
            with self.subTest(populate=value):
                body, r = self.get_list(c, PATH, populate=value)
                self.assertEqual(len(body["results"]), 5, str(r))
                for it in body["results"]:
                    self.assertIsInstance(it["customer"], dict, str(r))
                    self.assertEqual(sorted(it["customer"]), ["email", "id", "name"], str(r))
                    self.assertIn("product", it, str(r))
                    if it["entitlement"] == w["E1"]["id"]:
                        self.assertSame({"id": w["P"], "name": None}, it["product"])
                    else:
                        self.assertIsNone(it["product"], str(r))

    def test_populate_follows_a_customer_rename(self):
        w = self.world()
        c = w["c"]
        r = c.patch("/customers/%s" % w["B"]["id"], {"customer_name": "Bob Renamed",
                                                     "email": "bob@new.io"})
        self.assertJson(r, 200)
        body, r = self.get_list(c, PATH, populate="customer", customer=w["B"]["id"])
        for it in body["results"]:
            self.assertSame({"id": w["B"]["id"], "name": "Bob Renamed", "email": "bob@new.io"},
                            it["customer"], str(r))

    def test_populate_bad_value(self):
        for bad in ("bogus", "customer,bogus", "contracts", "Invoice", "customer,", ",customer",
                    "customer,,product", "customer product", "", "customer;invoice"):
            with self.subTest(populate=bad):
                self.assert422(self.c.get(url(PATH, populate=bad)), ["query", "populate"])
