"""Tenancy: organisation B sees none of A's customers, entitlements or rows:
each of A's ids answers B exactly as an id that does not exist, and B's
attempts change nothing of A's."""

from harness import Client, ServerTestCase, new_id, patch_body, row_path


class Tenancy(ServerTestCase):
    extra_tenants = 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.c
        cls.b = Client(cls.server.port, cls.tenants[1])

    def setUp(self):
        cls = type(self)
        if hasattr(cls, "A"):
            return
        full = dict(active_from="2026-01-01T00:00:00Z", expiry_at="2027-01-01T00:00:00Z",
                    quantity=100, quantity_used=10)
        cls.A = self.make_triple(self.a, **full)
        cls.B = self.make_triple(self.b, **full)
        self.snapshot()

    def snapshot(self):
        cls = type(self)
        e, c, row = cls.A
        cls.a_state = {
            "customer": self.assertJson(self.a.get("/customers/%s" % c), 200),
            "entitlement": self.assertJson(self.a.get("/entitlements/%s" % e), 200),
            "row": self.assertJson(self.a.get(row_path(e, c, row["id"])), 200),
        }

    def assert_a_unchanged(self):
        e, c, row = self.A
        self.assertSame(self.a_state["customer"],
                        self.assertJson(self.a.get("/customers/%s" % c), 200), "A's customer changed")
        self.assertSame(self.a_state["entitlement"],
                        self.assertJson(self.a.get("/entitlements/%s" % e), 200), "A's entitlement changed")
        self.assertSame(self.a_state["row"],
                        self.assertJson(self.a.get(row_path(e, c, row["id"])), 200), "A's row changed")

    def assert_like_unknown(self, theirs, unknown):
        """theirs: B's answer on A's id; unknown: B's answer on a fresh id."""
        self.assertDetail(theirs, 404)
        self.assertDetail(unknown, 404)
        self.assertEqual(theirs.json, unknown.json,
                         "another organisation's id answers differently from an unknown id:\n%s\n%s"
                         % (theirs, unknown))

    def test_get_customer(self):
        _e, c, _row = self.A
        self.assert_like_unknown(self.b.get("/customers/%s" % c),
                                 self.b.get("/customers/%s" % new_id()))

    def test_get_entitlement(self):
        e, _c, _row = self.A
        self.assert_like_unknown(self.b.get("/entitlements/%s" % e),
                                 self.b.get("/entitlements/%s" % new_id()))

    def test_get_row(self):
        e, c, row = self.A
        be, bc, brow = self.B
        u = new_id()
        self.assert_like_unknown(self.b.get(row_path(e, c, row["id"])),
                                 self.b.get(row_path(new_id(), new_id(), u)))
        # A's row under B's own entitlement and customer
        self.assert_like_unknown(self.b.get(row_path(be, bc, row["id"])),
                                 self.b.get(row_path(be, bc, u)))
        # B's row under A's entitlement / customer
        self.assertDetail(self.b.get(row_path(e, bc, brow["id"])), 404)
        self.assertDetail(self.b.get(row_path(be, c, brow["id"])), 404)

    def test_patch_row(self):
        e, c, row = self.A
        be, bc, _brow = self.B
        u = new_id()
        self.assert_like_unknown(
            self.b.patch(row_path(e, c, row["id"]), patch_body(e, c, quantity=999, active_from=None)),
            self.b.patch(row_path(e, c, u), patch_body(e, c, quantity=999)))
        self.assert_like_unknown(
            self.b.patch(row_path(be, bc, row["id"]), patch_body(be, bc, quantity=999, expiry_at=None)),
            self.b.patch(row_path(be, bc, u), patch_body(be, bc, quantity=999)))
        self.assert_a_unchanged()

    def test_post_row_on_their_entitlement(self):
        e, _c, _row = self.A
        _be, bc, _brow = self.B
        self.assert_like_unknown(
            self.b.post("/entitlements/%s/customer" % e, {"customer": bc, "quantity": 1}),
            self.b.post("/entitlements/%s/customer" % new_id(), {"customer": bc, "quantity": 1}))
        self.assert_a_unchanged()

    def test_post_row_for_their_customer(self):
        _e, c, _row = self.A
        be, _bc, _brow = self.B
        self.assert_like_unknown(
            self.b.post("/entitlements/%s/customer" % be, {"customer": c, "quantity": 1}),
            self.b.post("/entitlements/%s/customer" % be, {"customer": new_id(), "quantity": 1}))
        self.assert_a_unchanged()

    def test_post_row_with_their_row_id(self):
        # B reuses the id of A's row for a new row of its own: never a 200,
        # and A's row is untouched.
        e, c, row = self.A
        be, bc, _brow = self.B
        r = self.b.post("/entitlements/%s/customer" % be, {"id": row["id"], "customer": bc, "quantity": 3})
        self.assertIn(r.status, (404, 409), str(r))
        self.assertDetail(r, r.status)
        self.assert_a_unchanged()

    def test_b_sees_its_own(self):
        be, bc, brow = self.B
        self.assertJson(self.b.get(row_path(be, bc, brow["id"])), 200)
        self.assertJson(self.b.get("/customers/%s" % bc), 200)
        self.assertJson(self.b.get("/entitlements/%s" % be), 200)

    def test_zz_a_unchanged_at_end(self):
        self.assert_a_unchanged()
