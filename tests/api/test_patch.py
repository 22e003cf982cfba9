"""PATCH /entitlements/{E}/customer/{C}/{R}, the seed operation: absent keeps,
null clears, path and body ids must agree, the row must belong to the path,
quantities are never negative, and the window is checked after merging."""

from harness import ServerTestCase, new_id, patch_body, row_path

FULL = {"active_from": "2026-01-01T00:00:00Z", "expiry_at": "2027-01-01T00:00:00Z",
        "quantity": 100, "quantity_used": 10}
OTHER = {"active_from": "2026-02-01T00:00:00Z", "expiry_at": "2026-12-01T00:00:00Z",
         "quantity": 50, "quantity_used": 5}
FIELDS = ["active_from", "expiry_at", "quantity", "quantity_used"]
# Fields a write may move besides the ones it sets (not in the contract).
VOLATILE = ("updated_at",)


def stable(row):
    return {k: v for k, v in row.items() if k not in VOLATILE}


class Patch(ServerTestCase):
    def setUp(self):
        self.E, self.C, self.row = self.make_triple(**FULL)
        self.R = self.row["id"]
        self.path = row_path(self.E, self.C, self.R)

    def get(self):
        return self.assertJson(self.c.get(self.path), 200)

    def patch(self, **fields):
        return self.c.patch(self.path, patch_body(self.E, self.C, **fields))

    def assert_unchanged(self):
        self.assertSame(self.row, self.get(), "the row changed")

    def test_empty_patch_keeps_everything(self):
        r = self.patch()
        got = self.assertJson(r, 200)
        self.assertSame(stable(self.row), stable(got), "a PATCH without fields changed the row")
        self.assertSame(stable(self.row), stable(self.get()), "the row changed")

    def test_answer_is_the_row_as_it_stands(self):
        r = self.patch(quantity=42)
        got = self.assertJson(r, 200)
        self.assertSame(got, self.get(), "the answer differs from a GET after it")
        for k in ("id", "entitlement", "customer", "created_at"):
            self.assertEqual(got[k], self.row[k], k)

    def test_each_field_alone(self):
        for f in FIELDS:
            with self.subTest(field=f):
                before = self.get()
                got = self.assertJson(self.patch(**{f: OTHER[f]}), 200)
                want = dict(before)
                want[f] = OTHER[f]
                want["quantity_remaining"] = want["quantity"] - want["quantity_used"]
                self.assertSame(stable(want), stable(got), "PATCH of %s alone" % f)
                self.assertSame(got, self.get())

    def test_each_field_cleared_alone(self):
        for f in FIELDS:
            with self.subTest(field=f):
                self.assertJson(self.c.patch(self.path, patch_body(self.E, self.C, **FULL)), 200)
                got = self.assertJson(self.patch(**{f: None}), 200)
                self.assertIsNone(got[f], "%s not cleared" % f)
                for g in FIELDS:
                    if g != f:
                        self.assertSame(self.row[g], got[g], "%s changed when clearing %s" % (g, f))
                self.assertSame(got, self.get())

    def test_clear_all_then_set_all(self):
        got = self.assertJson(self.patch(**{f: None for f in FIELDS}), 200)
        for f in FIELDS + ["quantity_remaining"]:
            self.assertIsNone(got[f], f)
        got = self.assertJson(self.patch(**OTHER), 200)
        for f in FIELDS:
            self.assertSame(OTHER[f], got[f], f)
        self.assertSame(45, got["quantity_remaining"])

    def test_quantity_remaining_follows(self):
        got = self.assertJson(self.patch(quantity=10, quantity_used=3), 200)
        self.assertSame(7, got["quantity_remaining"])
        got = self.assertJson(self.patch(quantity=None), 200)
        self.assertIsNone(got["quantity_remaining"])

    def test_uppercase_path_and_body_ids(self):
        path = row_path(self.E.upper(), self.C.upper(), self.R.upper())
        r = self.c.patch(path, patch_body(self.E.upper(), self.C.upper(), quantity=77))
        got = self.assertJson(r, 200)
        self.assertEqual(got["quantity"], 77)
        self.assertEqual(got["id"], self.R)
        self.assertEqual(got["entitlement"], self.E)
        self.assertEqual(got["customer"], self.C)

    def test_mixed_case_body_ids(self):
        r = self.c.patch(self.path, patch_body(self.E.upper(), self.C, quantity=78))
        self.assertEqual(self.assertJson(r, 200)["quantity"], 78)

    def test_body_entitlement_mismatch_422(self):
        other = self.make_entitlement()["id"]
        r = self.c.patch(self.path, patch_body(other, self.C, quantity=1))
        self.assert422(r, ["body", "entitlement"])
        self.assert_unchanged()

    def test_body_customer_mismatch_422(self):
        other = self.make_customer()["id"]
        r = self.c.patch(self.path, patch_body(self.E, other, quantity=1))
        self.assert422(r, ["body", "customer"])
        self.assert_unchanged()

    def test_body_ids_not_uuids_422(self):
        r = self.c.patch(self.path, patch_body("x", "y", quantity=1))
        self.assert422(r)
        self.assert_unchanged()

    def test_missing_body_ids_422(self):
        r = self.c.patch(self.path, {"quantity": 1})
        errs = self.assert422(r)
        self.assertSame([
            {"type": "missing", "loc": ["body", "entitlement"], "msg": "Field required",
             "input": {"quantity": 1}},
            {"type": "missing", "loc": ["body", "customer"], "msg": "Field required",
             "input": {"quantity": 1}},
        ], errs, str(r))
        self.assert_unchanged()

    def test_row_of_another_customer_404(self):
        c2 = self.make_customer()["id"]
        self.make_row(self.E, c2, quantity=1)
        r = self.c.patch(row_path(self.E, c2, self.R), patch_body(self.E, c2, quantity=1))
        self.assertDetail(r, 404)
        self.assert_unchanged()

    def test_row_of_another_entitlement_404(self):
        e2 = self.make_entitlement()["id"]
        self.make_row(e2, self.C, quantity=1)
        r = self.c.patch(row_path(e2, self.C, self.R), patch_body(e2, self.C, quantity=1))
        self.assertDetail(r, 404)
        self.assert_unchanged()

    def test_unknown_row_404(self):
        r = self.c.patch(row_path(self.E, self.C, new_id()), patch_body(self.E, self.C, quantity=1))
        self.assertDetail(r, 404)
        r = self.c.patch(row_path(new_id(), new_id(), new_id()), {"entitlement": "a", "customer": "b"})
        self.assertIn(r.status, (404, 422), str(r))

    def test_negative_quantity_422(self):
        for f in ("quantity", "quantity_used"):
            with self.subTest(field=f):
                r = self.patch(**{f: -1})
                self.assert422(r, ["body", f])
                r = self.patch(**{f: -0.000001})
                self.assert422(r, ["body", f])
                self.assert_unchanged()

    def test_zero_quantity_ok(self):
        got = self.assertJson(self.patch(quantity=0, quantity_used=0), 200)
        self.assertSame(0, got["quantity"])
        self.assertSame(0, got["quantity_used"])

    def test_window_violation_after_merge_active_from(self):
        # stored expiry_at 2027-01-01; new active_from after it
        r = self.patch(active_from="2027-06-01T00:00:00Z")
        self.assert422(r, ["body", "active_from"])
        self.assert_unchanged()

    def test_window_violation_after_merge_expiry_at(self):
        # stored active_from 2026-01-01; new expiry_at before it: the error
        # names the bound the client sent (docs/API.md)
        r = self.patch(expiry_at="2025-06-01T00:00:00Z")
        self.assert422(r, ["body", "expiry_at"])
        self.assert_unchanged()

    def test_instant_outside_years_1_to_9999_refused(self):
        # pydantic accepts these offsets, but in UTC they fall in year 10000 / year 0
        for field, value in (("expiry_at", "9999-12-31T23:59:59-01:00"),
                             ("active_from", "0001-01-01T00:00:00+00:01")):
            r = self.patch(**{field: value})
            errs = self.assert422(r, ["body", field])
            self.assertEqual(errs[0]["type"], "value_error", str(r))
            self.assert_unchanged()

    def test_window_violation_both_in_body(self):
        r = self.patch(active_from="2026-06-01T00:00:00Z", expiry_at="2026-05-01T00:00:00Z")
        self.assert422(r, ["body", "active_from"])
        self.assert_unchanged()

    def test_window_violation_with_other_fields_changes_nothing(self):
        r = self.patch(active_from="2027-06-01T00:00:00Z", quantity=1, quantity_used=1)
        self.assert422(r, ["body", "active_from"])
        self.assert_unchanged()

    def test_window_by_one_microsecond(self):
        r = self.patch(active_from="2027-01-01T00:00:00.000001Z")
        self.assert422(r, ["body", "active_from"])
        self.assert_unchanged()

    def test_equal_bounds_ok(self):
        got = self.assertJson(self.patch(active_from="2027-01-01T01:00:00+01:00"), 200)
        self.assertEqual(got["active_from"], "2027-01-01T00:00:00Z")
        self.assertEqual(got["expiry_at"], "2027-01-01T00:00:00Z")

    def test_clearing_a_bound_allows_the_other(self):
        got = self.assertJson(self.patch(active_from="2028-01-01T00:00:00Z", expiry_at=None), 200)
        self.assertEqual(got["active_from"], "2028-01-01T00:00:00Z")
        self.assertIsNone(got["expiry_at"])

    def test_date_inputs_normalised(self):
        got = self.assertJson(self.patch(active_from="2026-03-01T12:00:00+05:00",
                                         expiry_at=1798761600), 200)
        self.assertEqual(got["active_from"], "2026-03-01T07:00:00Z")
        self.assertEqual(got["expiry_at"], "2027-01-01T00:00:00Z")
        got = self.assertJson(self.patch(active_from="2026-03-01T07:00:00.250000Z"), 200)
        self.assertEqual(got["active_from"], "2026-03-01T07:00:00.250000Z")

    def test_unknown_fields_ignored(self):
        r = self.c.patch(self.path, dict(patch_body(self.E, self.C), created_at="2000-01-01",
                                         id=new_id(), foo=1))
        got = self.assertJson(r, 200)
        self.assertSame(stable(self.row), stable(got))

    def test_bad_values_422(self):
        r = self.patch(quantity="abc", active_from="2026-13-01")
        errs = self.assert422(r)
        self.assertSame([
            {"type": "datetime_from_date_parsing", "loc": ["body", "active_from"],
             "msg": "Input should be a valid datetime or date, month value is outside expected range of 1-12",
             "input": "2026-13-01", "ctx": {"error": "month value is outside expected range of 1-12"}},
            {"type": "float_parsing", "loc": ["body", "quantity"],
             "msg": "Input should be a valid number, unable to parse string as a number", "input": "abc"},
        ], errs, str(r))
        self.assert_unchanged()
