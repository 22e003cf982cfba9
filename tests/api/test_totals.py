"""GET /entitlements/{entitlement_id}/customer/{customer_id}/total: the sum of
quantity over the pair's rows whose half-open window [active_from, expiry_at)
overlaps [start_date, end_date) (Unix seconds), docs/API.md "Totals"."""

import datetime
import time

from harness import ServerTestCase, fresh_client, new_id, url

T = 2_000_000_000  # 2033-05-18T03:33:20Z: the range [T, T + 1000) of most tests
S, E = T, T + 1000


def iso(secs):
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def overlaps(af, ex, start, end):
    """[af, ex) overlaps [start, end); None is open on that side. An empty
    window or an empty range overlaps nothing (docs/API.md)."""
    return ((end is None or af is None or af < end) and (start is None or ex is None or ex > start)
            and (af is None or ex is None or af < ex) and (start is None or end is None or start < end))


INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


class Totals(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.w = None

    def setUp(self):
        cls = type(self)
        if cls.w is not None:
            return
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        other_cu = self.make_customer(c)["id"]
        en = self.make_entitlement(c)["id"]
        other_en = self.make_entitlement(c)["id"]
        now = int(time.time())
        # (name, active_from, expiry_at, quantity)
        windows = [
            ("starts before, ends inside", S - 500, S + 100, 1),
            ("starts inside, ends after", E - 100, E + 1000, 2),
            ("inside", S + 100, S + 200, 4),
            ("contains", S - 1000, E + 1000, 8),
            ("ends exactly at start", S - 500, S, 16),
            ("starts exactly at end", E, E + 500, 32),
            ("wholly before", S - 900, S - 800, 64),
            ("wholly after", E + 2000, E + 3000, 128),
            ("open start, ends just inside", None, S + 1, 256),
            ("starts just inside, open end", E - 1, None, 512),
            ("open both", None, None, 1024),
            ("null quantity inside", S, S + 10, None),
            ("active now", now - 100, now + 100000, 2048),
            ("expired recently", now - 1000, now - 10, 4096),
            ("starts soon", now + 1000, now + 2000, 8192),
            ("one second at start", S, S + 1, 16384),
            ("empty window inside", S + 300, S + 300, 1048576),
            ("one second before start", S - 1, S, 32768),
            ("one second at end", E - 1, E, 65536),
        ]
        for name, af, ex, q in windows:
            body = {"quantity": q}
            if af is not None:
                body["active_from"] = iso(af)
            if ex is not None:
                body["expiry_at"] = iso(ex)
            self.make_row(en, cu, c, **body)
        # rows of other pairs never count
        self.make_row(en, other_cu, c, quantity=1_000_000)
        self.make_row(other_en, cu, c, quantity=2_000_000)
        cls.w = dict(c=c, C=cu, E=en, now=now, windows=windows, other_cu=other_cu, other_en=other_en)

    def path(self, e=None, cu=None):
        return "/entitlements/%s/customer/%s/total" % (e or self.w["E"], cu or self.w["C"])

    def expected(self, start, end):
        total = 0
        for _n, af, ex, q in self.w["windows"]:
            if overlaps(af, ex, start, end):
                total += q or 0
        return total

    def total(self, **params):
        r = self.w["c"].get(url(self.path(), **params))
        body = self.assertJson(r, 200)
        self.assertEqual(sorted(body), ["customer", "entitlement", "quantity"], str(r))
        self.assertEqual(body["entitlement"], self.w["E"], str(r))
        self.assertEqual(body["customer"], self.w["C"], str(r))
        return body["quantity"], r

    def test_both_bounds(self):
        q, r = self.total(start_date=S, end_date=E)
        # starts before, ends after, inside, contains, open start/end/both, null quantity,
        # one second at start, one second at end
        self.assertEqual(self.expected(S, E), 1 + 2 + 4 + 8 + 256 + 512 + 1024 + 16384 + 65536)
        self.assertSame(self.expected(S, E), q, "windows overlapping [start_date, end_date)\n%s" % r)

    def test_each_window(self):
        # one window at a time: a range around it tells which rows count
        for name, af, ex, qty in self.w["windows"]:
            if qty is None or af is None or ex is None or af < T - 10_000:
                continue
            with self.subTest(window=name):
                q, r = self.total(start_date=S, end_date=E)
                bit = qty & int(q)
                self.assertEqual(bool(bit), overlaps(af, ex, S, E),
                                 "%s: counted=%s\n%s" % (name, bool(bit), r))

    def test_half_open_touching(self):
        # a row ending exactly at start_date and one starting exactly at end_date do not count
        q, r = self.total(start_date=S, end_date=E)
        self.assertFalse(int(q) & 16, "a row ending exactly at start_date counted\n%s" % r)
        self.assertFalse(int(q) & 32, "a row starting exactly at end_date counted\n%s" % r)
        self.assertFalse(int(q) & 32768, "a row ending exactly at start_date counted\n%s" % r)
        self.assertTrue(int(q) & 16384, "a row starting exactly at start_date not counted\n%s" % r)
        self.assertTrue(int(q) & 65536, "a row ending exactly at end_date not counted\n%s" % r)
        # shift the range by one second
        q, r = self.total(start_date=S - 1, end_date=E + 1)
        self.assertSame(self.expected(S - 1, E + 1), q, str(r))
        self.assertTrue(int(q) & 16 and int(q) & 32 and int(q) & 32768, str(r))

    def test_only_start_date(self):
        for start in (S, S - 1, E):
            with self.subTest(start_date=start):
                q, r = self.total(start_date=start)
                self.assertSame(self.expected(start, None), q,
                                "only start_date: rows ending after it (or never)\n%s" % r)

    def test_only_end_date(self):
        for end in (E, E + 1, S):
            with self.subTest(end_date=end):
                q, r = self.total(end_date=end)
                self.assertSame(self.expected(None, end), q,
                                "only end_date: rows starting before it (or always)\n%s" % r)

    def test_neither_rows_active_now(self):
        q, r = self.total()
        # open start ending in 2033, open both, active now
        self.assertSame(256 + 1024 + 2048, q, "without bounds: the rows active now\n%s" % r)

    def test_range_far_away(self):
        q, r = self.total(start_date=0, end_date=1)
        self.assertSame(256 + 1024, q, str(r))  # only the rows open at the start

    def test_equal_bounds_not_an_error(self):
        r = self.w["c"].get(url(self.path(), start_date=S, end_date=S))
        self.assertJson(r, 200)

    def test_other_pairs_zero(self):
        c = self.w["c"]
        for e, cu in ((self.w["other_en"], self.w["other_cu"]),):
            r = c.get(url(self.path(e, cu), start_date=0, end_date=4_000_000_000))
            body = self.assertJson(r, 200)
            self.assertSame({"entitlement": e, "customer": cu, "quantity": 0}, body, str(r))

    def test_null_quantities_count_zero(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        en = self.make_entitlement(c)["id"]
        self.make_row(en, cu, c)
        self.make_row(en, cu, c, quantity=None, quantity_used=3)
        r = c.get(self.path(en, cu))
        self.assertSame({"entitlement": en, "customer": cu, "quantity": 0}, self.assertJson(r, 200), str(r))
        self.make_row(en, cu, c, quantity=2.5)
        r = c.get(url(self.path(en, cu), start_date=0, end_date=T))
        self.assertSame(2.5, self.assertJson(r, 200)["quantity"], str(r))

    def test_ids_any_case_answer_lower(self):
        r = self.w["c"].get(url(self.path(self.w["E"].upper(), self.w["C"].upper()), start_date=S, end_date=E))
        body = self.assertJson(r, 200)
        self.assertEqual(body["entitlement"], self.w["E"], str(r))
        self.assertEqual(body["customer"], self.w["C"], str(r))
        self.assertSame(self.expected(S, E), body["quantity"])

    def test_start_after_end_422(self):
        r = self.w["c"].get(url(self.path(), start_date=E, end_date=S))
        errs = self.assert422(r)
        self.assertEqual(len(errs), 1, str(r))
        self.assertEqual(errs[0]["type"], "value_error", str(r))
        self.assertEqual(errs[0]["loc"][0], "query", str(r))
        self.assertTrue(errs[0]["msg"].startswith("Value error, "), str(r))
        r = self.w["c"].get(url(self.path(), start_date=S + 1, end_date=S))
        self.assertEqual(self.assert422(r)[0]["type"], "value_error", str(r))

    def test_non_integer_dates_422(self):
        for name in ("start_date", "end_date"):
            for bad in ("1.5", "abc", "2026-01-01", "2026-01-01T00:00:00Z", "1e9", ""):
                with self.subTest(name=name, value=bad):
                    r = self.w["c"].get(url(self.path(), [(name, bad)]))
                    self.assertSame([{"type": "int_parsing", "loc": ["query", name], "msg": INT_PARSING,
                                      "input": bad}], self.assert422(r, ["query", name]), str(r))

    def test_both_dates_bad_two_errors(self):
        r = self.w["c"].get(url(self.path(), start_date="x", end_date="y"))
        errs = self.assert422(r, ["query", "start_date"], ["query", "end_date"])
        self.assertEqual(len(errs), 2, str(r))

    def test_integer_forms_accepted(self):
        # pydantic's int from a string: sign, leading zeros, surrounding spaces
        for s in (str(S), "+%d" % S, "0%d" % S, "%d.0" % S):
            with self.subTest(start_date=s):
                r = self.w["c"].get(url(self.path(), start_date=s, end_date=E))
                self.assertSame(self.expected(S, E), self.assertJson(r, 200)["quantity"], str(r))

    def test_unknown_entitlement_or_customer_404(self):
        c = self.w["c"]
        self.assertDetail(c.get(self.path(new_id(), self.w["C"])), 404)
        self.assertDetail(c.get(self.path(self.w["E"], new_id())), 404)
        self.assertDetail(c.get(url(self.path(new_id(), new_id()), start_date=S, end_date=E)), 404)

    def test_malformed_ids_422(self):
        c = self.w["c"]
        self.assert422(c.get(self.path("nope", self.w["C"])), ["path", "entitlement_id"])
        self.assert422(c.get(self.path(self.w["E"], "nope")), ["path", "customer_id"])
