"""Keys and organisations on every route: 401 for a missing or unknown key or
a missing organisation header, 403 for a valid key of another organisation."""

from harness import ServerTestCase, new_id, patch_body, row_path


class Auth(ServerTestCase):
    extra_tenants = 1  # self.tenants[1] is organisation B

    def setUp(self):
        cls = type(self)
        if not hasattr(cls, "E"):
            cls.E, cls.C, row = self.make_triple(quantity=5)
            cls.R = row["id"]

    def routes(self):
        """(method, path, body) of every route of the issue, valid for org A."""
        E, C, R = self.E, self.C, self.R
        return [
            ("POST", "/customers", {"customer_name": "auth"}),
            ("POST", "/customer", {"customer_name": "auth"}),
            ("GET", "/customers/%s" % C, None),
            ("POST", "/entitlements", {"name": "auth"}),
            ("GET", "/entitlements/%s" % E, None),
            ("POST", "/entitlements/%s/customer" % E, {"customer": C, "quantity": 1}),
            ("GET", row_path(E, C, R), None),
            ("PATCH", row_path(E, C, R), patch_body(E, C, quantity=777)),
        ]

    def check_all(self, headers, statuses):
        for method, path, body in self.routes():
            with self.subTest(method=method, path=path, headers=sorted(headers)):
                r = self.c.request(method, path, body, auth=headers)
                self.assertIn(r.status, statuses, str(r))
                self.assertDetail(r, r.status)
        self.assert_row_unchanged()

    def assert_row_unchanged(self):
        r = self.c.get(row_path(self.E, self.C, self.R))
        self.assertEqual(self.assertJson(r, 200)["quantity"], 5, "row changed by a refused request")

    def test_valid_key_works_everywhere(self):
        for method, path, body in self.routes():
            if method == "PATCH":
                body = patch_body(self.E, self.C)
            with self.subTest(method=method, path=path):
                r = self.c.request(method, path, body)
                self.assertJson(r, 200)

    def test_organisation_header_any_case(self):
        h = {"x-api-key": self.t.key, "organisation": self.t.org.upper()}
        r = self.c.get(row_path(self.E, self.C, self.R), auth=h)
        self.assertJson(r, 200)

    def test_no_headers_401(self):
        self.check_all({}, {401})

    def test_organisation_without_key_401(self):
        self.check_all({"organisation": self.t.org}, {401})

    def test_key_without_organisation_401(self):
        self.check_all({"x-api-key": self.t.key}, {401})

    def test_unknown_key_401(self):
        self.check_all({"x-api-key": "nope-" + new_id(), "organisation": self.t.org}, {401})

    def test_empty_key_401(self):
        self.check_all({"x-api-key": "", "organisation": self.t.org}, {401})

    def test_altered_key_401(self):
        k = self.t.key
        i = len(k) - 1
        ch = "A" if k[i] != "A" else "B"
        self.check_all({"x-api-key": k[:i] + ch, "organisation": self.t.org}, {401})
        self.check_all({"x-api-key": k[:-1], "organisation": self.t.org}, {401})
        self.check_all({"x-api-key": k + "x", "organisation": self.t.org}, {401})

    def test_key_of_another_org_403(self):
        b = self.tenants[1]
        # B's valid key, A's organisation id
        self.check_all({"x-api-key": b.key, "organisation": self.t.org}, {403})
        # A's valid key, B's organisation id
        self.check_all({"x-api-key": self.t.key, "organisation": b.org}, {403})

    def test_key_with_unknown_organisation(self):
        # The key is valid but names no such organisation: refused (401 or 403).
        self.check_all({"x-api-key": self.t.key, "organisation": new_id()}, {401, 403})

    def test_key_with_malformed_organisation(self):
        self.check_all({"x-api-key": self.t.key, "organisation": "not-a-uuid"}, {401, 403, 422})

    def test_auth_before_validation(self):
        # a bad body without a key: 401, not 422
        r = self.c.post("/customers", {"customer_name": 5}, auth={})
        self.assertDetail(r, 401)
        r = self.c.patch(row_path(self.E, self.C, self.R), {"quantity": "x"}, auth={})
        self.assertDetail(r, 401)
        b = self.tenants[1]
        r = self.c.patch(row_path(self.E, self.C, self.R), {"quantity": "x"},
                         auth={"x-api-key": b.key, "organisation": self.t.org})
        self.assertDetail(r, 403)

    def test_refused_on_unknown_ids_too(self):
        # no key: 401 even where the id does not exist (no existence oracle)
        r = self.c.get(row_path(new_id(), new_id(), new_id()), auth={})
        self.assertDetail(r, 401)
        r = self.c.get("/customers/%s" % new_id(), auth={})
        self.assertDetail(r, 401)
