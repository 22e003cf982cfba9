"""Tenancy and auth on the routes of issue 3: organisation B gets 404 for
organisation A's ids on every new route (exactly as for ids that do not
exist), each organisation's lists hold only its own objects, and every new
route refuses a request without a key (401) or with another organisation's
key (403), before it looks at the query or the body."""

from harness import Client, ServerTestCase, list_items, new_id, row_path, url

LIST_PATHS = ["/entitlements", "/customers", "/customer", "/entitlements/customers_balances"]


class TenancyLists(ServerTestCase):
    extra_tenants = 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.c
        cls.b = Client(cls.server.port, cls.tenants[1])
        cls.A = None

    def setUp(self):
        cls = type(self)
        if cls.A is not None:
            return
        full = dict(active_from="2026-01-01T00:00:00Z", expiry_at="2099-01-01T00:00:00Z",
                    quantity=100, quantity_used=10)
        cls.A = [self.make_triple(self.a, contract_id=new_id(), **full) for _ in range(3)]
        cls.B = [self.make_triple(self.b, contract_id=new_id(), **full) for _ in range(2)]
        # the same names in both organisations, for search
        for cl in (self.a, self.b):
            cu = self.make_customer(cl, customer_name="Shared Name", email="same@x.io", external_id="same")
            en = self.make_entitlement(cl, name="Shared Ent")
            self.make_row(en["id"], cu["id"], cl, quantity=1)
        self.snapshot()

    def snapshot(self):
        cls = type(self)
        cls.a_state = self.state()

    def state(self):
        out = []
        for e, c, row in self.A:
            out.append(self.assertJson(self.a.get("/customers/%s" % c), 200))
            out.append(self.assertJson(self.a.get("/entitlements/%s" % e), 200))
            out.append(self.assertJson(self.a.get(row_path(e, c, row["id"])), 200))
        return out

    def assert_a_unchanged(self):
        self.assertSame(self.a_state, self.state(), "A's objects changed")

    def assert_like_unknown(self, theirs, unknown):
        self.assertDetail(theirs, 404)
        self.assertDetail(unknown, 404)
        self.assertEqual(theirs.json, unknown.json,
                         "another organisation's id answers differently from an unknown id:\n%s\n%s"
                         % (theirs, unknown))

    def all_ids(self, client, path):
        """Every id a list gives, walking its cursors."""
        ids, cursor, guard = [], None, 0
        while True:
            r = client.get(url(path, limit=100, cursor=cursor))
            body = self.assertJson(r, 200)
            for it in list_items(body):
                ids.append(it["entitlement"]["id"] if "unique" in path else it["id"])
            cursor = body["next"]
            guard += 1
            if cursor is None or guard > 100:
                return ids, body

    def own_ids(self, triples, path):
        if path == "/entitlements":
            return {t[0] for t in triples}
        if path in ("/customers", "/customer"):
            return {t[1] for t in triples}
        return {t[2]["id"] for t in triples}

    def test_lists_hold_only_own_objects(self):
        for path in LIST_PATHS:
            with self.subTest(path=path):
                a_ids, a_body = self.all_ids(self.a, path)
                b_ids, b_body = self.all_ids(self.b, path)
                self.assertFalse(set(a_ids) & set(b_ids), "an object in both organisations' lists")
                self.assertTrue(self.own_ids(self.A, path) <= set(a_ids), path)
                self.assertTrue(self.own_ids(self.B, path) <= set(b_ids), path)
                self.assertFalse(self.own_ids(self.B, path) & set(a_ids), "B's objects in A's list")
                self.assertFalse(self.own_ids(self.A, path) & set(b_ids), "A's objects in B's list")
                self.assertEqual(len(b_ids), 3, "B has 3 of each\n%s" % b_body)
                total = "total" if "total" in b_body else "total_count"
                self.assertEqual(b_body[total], 3, str(b_body))
                self.assertEqual(a_body[total], len(a_ids), str(a_body))

    def test_filters_on_the_other_organisations_ids(self):
        e, c, row = self.A[0]
        cases = [
            ("/entitlements", {"id": e}), ("/entitlements", {"id__in": e}),
            ("/customers", {"id": c}), ("/customer", {"id__in": c}),
            ("/entitlements/customers_balances", {"customer": c}),
            ("/entitlements/customers_balances", {"entitlement": e}),
            ("/entitlements/customers_balances", {"customer__in": c, "entitlement__in": e}),
            ("/entitlements/customers_balances", {"contract_id": row["contract_id"]}),
        ]
        for path, params in cases:
            with self.subTest(path=path, **params):
                body = self.assertJson(self.b.get(url(path, params)), 200)
                self.assertEqual(list_items(body), [], str(body))
                self.assertEqual(body.get("total_count", body.get("total")), 0, str(body))

    def test_search_stays_in_the_organisation(self):
        for path, n in (("/entitlements", 1), ("/customers", 1), ("/customer", 1),
                        ("/entitlements/customers_balances", 1)):
            with self.subTest(path=path):
                for cl in (self.a, self.b):
                    body = self.assertJson(cl.get(url(path, search="shared")), 200)
                    self.assertEqual(len(list_items(body)), n, str(body))
        bc = self.B[0][1]
        body = self.assertJson(self.b.get(url("/customers", email="same@x.io")), 200)
        self.assertEqual(len(body["data"]), 1, str(body))
        self.assertNotEqual(body["data"][0]["id"], bc)

    def test_customer_lists_of_their_customer(self):
        _e, c, _row = self.A[0]
        for p in ("/entitlements/customer/%s", "/entitlements/customer/unique/%s"):
            with self.subTest(path=p):
                self.assert_like_unknown(self.b.get(p % c), self.b.get(p % new_id()))
                self.assert_like_unknown(self.b.get(url(p % c, limit=5, sort_key="id")),
                                         self.b.get(url(p % new_id(), limit=5, sort_key="id")))
        # B's own customer's list never shows A's rows
        be, bc, brow = self.B[0]
        body = self.assertJson(self.b.get("/entitlements/customer/%s" % bc), 200)
        self.assertEqual([x["id"] for x in body["results"]], [brow["id"]], str(body))
        body = self.assertJson(self.b.get("/entitlements/customer/unique/%s" % bc), 200)
        self.assertEqual([x["entitlement"]["id"] for x in body["results"]], [be], str(body))
        body = self.assertJson(self.b.get(url("/entitlements/customer/%s" % bc,
                                              entitlement=self.A[0][0])), 200)
        self.assertEqual(body["results"], [], str(body))

    def test_total(self):
        e, c, _row = self.A[0]
        be, bc, _brow = self.B[0]
        p = "/entitlements/%s/customer/%s/total"
        self.assert_like_unknown(self.b.get(p % (e, c)), self.b.get(p % (new_id(), new_id())))
        self.assert_like_unknown(self.b.get(p % (be, c)), self.b.get(p % (be, new_id())))
        self.assert_like_unknown(self.b.get(p % (e, bc)), self.b.get(p % (new_id(), bc)))
        body = self.assertJson(self.b.get(p % (be, bc)), 200)
        self.assertSame(100, body["quantity"], str(body))

    def test_patch_entitlement(self):
        e, _c, _row = self.A[0]
        self.assert_like_unknown(self.b.patch("/entitlements/%s" % e, {"name": "hijacked"}),
                                 self.b.patch("/entitlements/%s" % new_id(), {"name": "hijacked"}))
        self.assert_a_unchanged()

    def test_patch_customer(self):
        _e, c, _row = self.A[0]
        body = {"customer_name": "hijacked", "email": None}
        self.assert_like_unknown(self.b.patch("/customers/%s" % c, body),
                                 self.b.patch("/customers/%s" % new_id(), body))
        self.assert_a_unchanged()

    def test_delete_row(self):
        e, c, row = self.A[1]
        be, bc, _brow = self.B[0]
        u = new_id()
        self.assert_like_unknown(self.b.request("DELETE", row_path(e, c, row["id"])),
                                 self.b.request("DELETE", row_path(e, c, u)))
        self.assert_like_unknown(self.b.request("DELETE", row_path(be, bc, row["id"])),
                                 self.b.request("DELETE", row_path(be, bc, u)))
        self.assert_a_unchanged()

    def test_delete_entitlement_and_customer(self):
        # A's entitlement and customer with rows (409 for A) and without (200 for A):
        # B gets 404 for both
        e, c, _row = self.A[2]
        lone_e = self.make_entitlement(self.a)["id"]
        lone_c = self.make_customer(self.a)["id"]
        for path in ("/entitlements/%s" % e, "/entitlements/%s" % lone_e):
            self.assert_like_unknown(self.b.request("DELETE", path),
                                     self.b.request("DELETE", "/entitlements/%s" % new_id()))
        for path in ("/customers/%s" % c, "/customers/%s" % lone_c):
            self.assert_like_unknown(self.b.request("DELETE", path),
                                     self.b.request("DELETE", "/customers/%s" % new_id()))
        self.assertJson(self.a.get("/entitlements/%s" % lone_e), 200)
        self.assertJson(self.a.get("/customers/%s" % lone_c), 200)
        self.assert_a_unchanged()

    def test_b_row_under_a_ids(self):
        e, c, _row = self.A[0]
        _be, _bc, brow = self.B[0]
        self.assertDetail(self.b.request("DELETE", row_path(e, c, brow["id"])), 404)
        self.assertJson(self.b.get(row_path(_be, _bc, brow["id"])), 200)

    def test_zz_a_unchanged_at_end(self):
        self.assert_a_unchanged()


class AuthNewRoutes(ServerTestCase):
    extra_tenants = 1

    def setUp(self):
        cls = type(self)
        if not hasattr(cls, "E"):
            cls.E, cls.C, row = self.make_triple(quantity=5)
            cls.R = row["id"]

    def routes(self):
        E, C, R = self.E, self.C, self.R
        return [
            ("GET", "/entitlements", None),
            ("GET", "/customers", None),
            ("GET", "/customer", None),
            ("GET", "/entitlements/customer/%s" % C, None),
            ("GET", "/entitlements/customer/unique/%s" % C, None),
            ("GET", "/entitlements/customers_balances", None),
            ("GET", "/entitlements/%s/customer/%s/total" % (E, C), None),
            ("PATCH", "/entitlements/%s" % E, {"name": "auth"}),
            ("PATCH", "/customers/%s" % C, {"customer_name": "auth"}),
            ("DELETE", row_path(E, C, R), None),
            ("DELETE", "/entitlements/%s" % E, None),
            ("DELETE", "/customers/%s" % C, None),
        ]

    def check_all(self, headers, status):
        for method, path, body in self.routes():
            with self.subTest(method=method, path=path, headers=sorted(headers)):
                r = self.c.request(method, path, body, auth=headers)
                self.assertDetail(r, status)
        self.assertJson(self.c.get(row_path(self.E, self.C, self.R)), 200)
        self.assertJson(self.c.get("/entitlements/%s" % self.E), 200)
        self.assertJson(self.c.get("/customers/%s" % self.C), 200)

    def test_no_headers_401(self):
        self.check_all({}, 401)

    def test_key_without_organisation_401(self):
        self.check_all({"x-api-key": self.t.key}, 401)

    def test_unknown_key_401(self):
        self.check_all({"x-api-key": "ek_0000000000000000_" + "A" * 43, "organisation": self.t.org}, 401)

    def test_other_organisations_key_403(self):
        b = self.tenants[1]
        self.check_all({"x-api-key": b.key, "organisation": self.t.org}, 403)
        self.check_all({"x-api-key": self.t.key, "organisation": b.org}, 403)

    def test_auth_before_validation(self):
        bad = [("GET", url("/entitlements", limit="0", bogus="1")),
               ("GET", url("/entitlements/customers_balances", cursor="!!", populate="x")),
               ("GET", "/entitlements/customer/nope"),
               ("GET", url("/entitlements/%s/customer/%s/total" % (self.E, self.C), start_date="x")),
               ("PATCH", "/entitlements/nope"),
               ("DELETE", "/customers/nope")]
        for method, path in bad:
            with self.subTest(method=method, path=path):
                self.assertDetail(self.c.request(method, path, {"name": 5}, auth={}), 401)
                b = self.tenants[1]
                self.assertDetail(self.c.request(method, path, {"name": 5},
                                                 auth={"x-api-key": b.key, "organisation": self.t.org}), 403)

    def test_unknown_ids_still_401(self):
        for path in ("/entitlements/customer/%s" % new_id(), "/customers/%s" % new_id()):
            self.assertDetail(self.c.request("DELETE" if path.startswith("/customers") else "GET",
                                             path, auth={}), 401)
