"""A customer's rows (GET /entitlements/customer/{customer_id}) and the same
summed per entitlement (GET /entitlements/customer/unique/{customer_id}),
docs/API.md "Lists (issue 3)"."""

import datetime

from harness import (ServerTestCase, expected_order, fresh_client, new_id, parse_dt, row_path,
                     url)
from test_lists import ListMixin

BASE_KEYS = ["id", "entitlement", "customer", "expiry_at", "active_from", "quantity",
             "quantity_used", "created_at", "quantity_remaining"]
OPTIONAL_KEYS = ["contract_id", "source_type", "source_id", "block_amount", "invoice_id", "event",
                 "numeric_value", "feature_option_value", "status"]

PAST = "2020-01-01T00:00:00Z"
FUTURE = "2099-01-01T00:00:00Z"


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class CustomerRows(ServerTestCase, ListMixin):
    def path(self, cust):
        return "/entitlements/customer/%s" % cust

    def test_items_are_rows_with_entitlement_fields(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        other = self.make_customer(c)["id"]
        e1 = self.make_entitlement(c, name="API calls", units="calls", entitlement_type="Quantity")
        e2 = self.make_entitlement(c, name="SSO", entitlement_type="Feature")
        r1 = self.make_row(e1["id"], cu, c, quantity=100, quantity_used=25, active_from=PAST,
                           expiry_at=FUTURE, contract_id=new_id(), source_type="Grant",
                           source_id=new_id(), invoice_id=new_id(), event="manual",
                           status="draft", block_amount=5, numeric_value=1.5,
                           feature_option_value="gold")
        r2 = self.make_row(e2["id"], cu, c)
        self.make_row(e1["id"], other, c, quantity=7)
        body, r = self.get_list(c, self.path(cu))
        self.assertEnvelope(body, r)
        self.assertEqual(body["total_count"], 2, str(r))
        self.assertIds([r2, r1], body, r, "the customer's rows, newest first")
        items = {it["id"]: it for it in body["results"]}
        for row, ent in ((r1, e1), (r2, e2)):
            got = items[row["id"]]
            stored = self.assertJson(c.get(row_path(ent["id"], cu, row["id"])), 200)
            for k in BASE_KEYS:
                self.assertIn(k, got, "item lacks %r\n%s" % (k, r))
                self.assertSame(stored[k], got[k], "%s differs from the row\n%s" % (k, r))
            for k in OPTIONAL_KEYS:
                if k in got:
                    self.assertSame(stored.get(k), got[k], "%s differs from the row\n%s" % (k, r))
            self.assertEqual(got.get("name"), ent["name"], "name comes from the entitlement\n%s" % r)
            self.assertIn("units", got, str(r))
            self.assertEqual(got["units"], ent["units"], "units come from the entitlement\n%s" % r)
            self.assertIn("type", got, str(r))
            self.assertEqual(got["type"], ent["entitlement_type"],
                             "type is the entitlement's entitlement_type\n%s" % r)
        self.assertSame(25, items[r1["id"]]["quantity_used"])
        self.assertSame(75, items[r1["id"]]["quantity_remaining"])

    def test_other_customer_and_empty(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        body, r = self.get_list(c, self.path(cu))
        self.assertEqual((body["results"], body["next"], body["previous"], body["total_count"]),
                         ([], None, None, 0), str(r))
        body, r = self.get_list(c, self.path(cu.upper()))
        self.assertEqual(body["total_count"], 0, str(r))

    def test_unknown_customer_404(self):
        self.assertDetail(self.c.get(self.path(new_id())), 404)

    def test_default_sort_and_sort_keys(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c)["id"]
        specs = [
            dict(quantity=5, quantity_used=1, active_from="2026-01-01T00:00:00Z", expiry_at=FUTURE),
            dict(quantity=None, quantity_used=None),
            dict(quantity=3, quantity_used=3, active_from="2025-01-01T00:00:00.5Z",
                 expiry_at="2030-01-01T00:00:00Z"),
            dict(quantity=5, quantity_used=None, active_from="2025-01-01T00:00:00Z"),
            dict(quantity=0.5, quantity_used=2, expiry_at="2030-01-01T00:00:00Z"),
            dict(quantity=None, quantity_used=1, active_from="2026-01-01T00:00:00Z"),
            dict(quantity=10, quantity_used=0, expiry_at="2027-06-01T12:00:00.000001Z"),
        ]
        made = [self.make_row(e, cu, c, **s) for s in specs]
        body, r = self.get_list(c, self.path(cu), limit=100)
        self.assertIds(made[::-1], body, r, "default sort is newest first")
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
                    body, r = self.get_list(c, self.path(cu), sort_key=k, sort_type=st, limit=100)
                    self.assertIds(expected_order(made, f, st == "desc"), body, r)
        body, r = self.get_list(c, self.path(cu), order="created_at", limit=100)
        self.assertIds(made, body, r)

    def test_filters(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        other = self.make_customer(c)["id"]
        e1 = self.make_entitlement(c)["id"]
        e2 = self.make_entitlement(c)["id"]
        e3 = self.make_entitlement(c)["id"]
        k1, k2 = new_id(), new_id()
        a = self.make_row(e1, cu, c, contract_id=k1)
        b = self.make_row(e1, cu, c, contract_id=k2)
        d = self.make_row(e2, cu, c, contract_id=k1)
        f = self.make_row(e2, cu, c)
        g = self.make_row(e3, cu, c)
        self.make_row(e1, other, c, contract_id=k1)
        p = self.path(cu)
        cases = [
            ({"id": a["id"]}, [a]),
            ({"id": a["id"].upper()}, [a]),
            ({"id": new_id()}, []),
            ({"id__in": "%s,%s" % (a["id"], g["id"])}, [a, g]),
            ({"id__in": "%s,%s" % (b["id"], new_id())}, [b]),
            ({"entitlement": e1}, [a, b]),
            ({"entitlement": e3.upper()}, [g]),
            ({"entitlement": new_id()}, []),
            ({"entitlement__in": "%s,%s" % (e1, e3)}, [a, b, g]),
            ({"entitlement__in": e2}, [d, f]),
            ({"contract_id": k1}, [a, d]),
            ({"contract_id": new_id()}, []),
            ({"contract_id__in": "%s,%s" % (k1, k2)}, [a, b, d]),
            ({"contract_id__isnull": "true"}, [f, g]),
            ({"contract_id__isnull": "false"}, [a, b, d]),
            ({"contract_id__isnull": "1"}, [f, g]),
            ({"contract_id__isnull": "off"}, [a, b, d]),
            ({"entitlement": e1, "contract_id": k2}, [b]),
            ({"entitlement": e2, "contract_id__isnull": "true"}, [f]),
        ]
        for params, want in cases:
            with self.subTest(**params):
                body, r = self.get_list(c, p, params)
                self.assertSet(want, body, r)
                self.assertEqual(body["total_count"], len(want), str(r))

    def test_search_over_entitlement_name(self):
        c = fresh_client(self)
        cu = self.make_customer(c, customer_name="Searchable Customer")["id"]
        e1 = self.make_entitlement(c, name="Premium Support", description="gold")["id"]
        e2 = self.make_entitlement(c, name="API 100% calls_x")["id"]
        a = self.make_row(e1, cu, c)
        b = self.make_row(e2, cu, c)
        p = self.path(cu)
        for term, want in (("premium", [a]), ("SUPPORT", [a]), ("m su", [a]), ("%", [b]),
                           ("_", [b]), ("gold", []), ("searchable", []), ("zzz", [])):
            with self.subTest(search=term):
                body, r = self.get_list(c, p, search=term)
                self.assertSet(want, body, r)


class UniquePerEntitlement(ServerTestCase, ListMixin):
    def path(self, cust):
        return "/entitlements/customer/unique/%s" % cust

    def by_ent(self, body):
        out = {}
        for it in body["results"]:
            self.assertIsInstance(it.get("entitlement"), dict,
                                  "entitlement is not the entitlement object: %r" % (it,))
            out[it["entitlement"]["id"]] = it
        return out

    def test_totals(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        other = self.make_customer(c)["id"]
        e1 = self.make_entitlement(c, name="calls", units="calls", entitlement_type="Quantity")
        e2 = self.make_entitlement(c, name="seats")
        e3 = self.make_entitlement(c, name="all expired")
        e4 = self.make_entitlement(c, name="not held")
        now = datetime.datetime.now(datetime.timezone.utc)
        soon = iso(now + datetime.timedelta(days=1))
        gone = iso(now - datetime.timedelta(days=1))
        # e1: live rows 100/10 + 50/null + null/5 + future 7/0; expired 1000/1000, 3/0
        self.make_row(e1["id"], cu, c, quantity=100, quantity_used=10, expiry_at=soon)
        self.make_row(e1["id"], cu, c, quantity=50)
        self.make_row(e1["id"], cu, c, quantity_used=5, active_from=PAST, expiry_at=FUTURE)
        self.make_row(e1["id"], cu, c, quantity=7, quantity_used=0, active_from="2098-01-01T00:00:00Z")
        self.make_row(e1["id"], cu, c, quantity=1000, quantity_used=1000, expiry_at=gone)
        self.make_row(e1["id"], cu, c, quantity=3, quantity_used=0, active_from=PAST,
                      expiry_at="2021-01-01T00:00:00Z")
        self.make_row(e1["id"], other, c, quantity=999999, quantity_used=1)
        # e2: one live row with fractions
        self.make_row(e2["id"], cu, c, quantity=2.5, quantity_used=0.25)
        # e3: expired only
        self.make_row(e3["id"], cu, c, quantity=10, quantity_used=10, expiry_at=gone)
        self.make_row(e4["id"], other, c, quantity=1)
        body, r = self.get_list(c, self.path(cu))
        self.assertEnvelope(body, r)
        self.assertEqual(body["total_count"], 3, "one item per entitlement the customer holds\n%s" % r)
        items = self.by_ent(body)
        self.assertEqual(sorted(items), sorted([e1["id"], e2["id"], e3["id"]]), str(r))
        for e in (e1, e2, e3):
            got = items[e["id"]]
            self.assertEqual(sorted(got), sorted(["entitlement", "total_quantity",
                                                  "total_quantity_used",
                                                  "total_expired_entitlements"]), str(r))
            self.assertSame(self.assertJson(c.get("/entitlements/%s" % e["id"]), 200),
                            got["entitlement"], "entitlement differs from GET /entitlements/{id}")
        want = {e1["id"]: (157, 15, 2), e2["id"]: (2.5, 0.25, 0), e3["id"]: (0, 0, 1)}
        for eid, (q, u, n) in want.items():
            got = items[eid]
            self.assertSame(q, got["total_quantity"], "total_quantity of %s\n%s" % (eid, r))
            self.assertSame(u, got["total_quantity_used"], "total_quantity_used of %s\n%s" % (eid, r))
            self.assertSame(n, got["total_expired_entitlements"],
                            "total_expired_entitlements of %s\n%s" % (eid, r))

    def test_all_nulls_sum_to_zero(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c)["id"]
        self.make_row(e, cu, c)
        self.make_row(e, cu, c)
        body, r = self.get_list(c, self.path(cu))
        it = self.by_ent(body)[e]
        self.assertSame(0, it["total_quantity"], str(r))
        self.assertSame(0, it["total_quantity_used"], str(r))
        self.assertSame(0, it["total_expired_entitlements"], str(r))

    def test_no_rows_empty_and_unknown_404(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        body, r = self.get_list(c, self.path(cu))
        self.assertEqual((body["results"], body["next"], body["previous"], body["total_count"]),
                         ([], None, None, 0), str(r))
        self.assertDetail(c.get(self.path(new_id())), 404)

    def test_filters(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        es = [self.make_entitlement(c)["id"] for _ in range(4)]
        for e in es:
            self.make_row(e, cu, c, quantity=1)
            self.make_row(e, cu, c, quantity=2)
        p = self.path(cu)
        for params, want in (({"entitlement": es[1]}, [es[1]]),
                             ({"entitlement": es[2].upper()}, [es[2]]),
                             ({"entitlement": new_id()}, []),
                             ({"entitlement__in": "%s,%s,%s" % (es[0], es[3], new_id())}, [es[0], es[3]])):
            with self.subTest(**params):
                body, r = self.get_list(c, p, params)
                self.assertEqual(sorted(self.by_ent(body)), sorted(want), str(r))
                self.assertEqual(body["total_count"], len(want), str(r))
                for it in body["results"]:
                    self.assertSame(3, it["total_quantity"], str(r))

    def test_sort_and_search(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        names = ["delta", "Bravo plan", "alpha", "charlie", "alpha"]
        ents = [self.make_entitlement(c, name=n) for n in names]
        for e in ents[::-1]:  # rows made in the reverse order of the entitlements
            self.make_row(e["id"], cu, c, quantity=1)
        p = self.path(cu)

        def order(body):
            return [it["entitlement"]["id"] for it in body["results"]]

        keys = {"id": lambda e: e["id"], "created_at": lambda e: parse_dt(e["created_at"]),
                "name": lambda e: e["name"]}
        for k, f in keys.items():
            for st in ("asc", "desc"):
                with self.subTest(sort_key=k, sort_type=st):
                    body, r = self.get_list(c, p, sort_key=k, sort_type=st)
                    want = [e["id"] for e in expected_order(ents, f, st == "desc")]
                    self.assertEqual(want, order(body),
                                     "sorted by the entitlement's %s (ties by its id)\n%s" % (k, r))
        body, r = self.get_list(c, p)
        self.assertEqual([e["id"] for e in ents[::-1]], order(body),
                         "default: newest entitlement first\n%s" % r)
        for term, want in (("ALPHA", [ents[2], ents[4]]), ("o pl", [ents[1]]), ("zzz", [])):
            with self.subTest(search=term):
                body, r = self.get_list(c, p, search=term)
                self.assertEqual(sorted(e["id"] for e in want), sorted(order(body)), str(r))
                self.assertEqual(body["total_count"], len(want), str(r))
