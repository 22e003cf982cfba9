"""Lists (issue 3), the rules every list shares, then GET /entitlements and
GET /customers (and its alias GET /customer): envelope, limit, sorting,
filters, search, cursors and their errors, as docs/API.md "Lists (issue 3)"
says.

Most tests make their own organisation (fresh_client) so that a list holds
exactly the objects the test made."""

import base64
import json

from harness import (ServerTestCase, expected_order, fresh_client, list_items, new_id,
                     parse_dt, url)

# pydantic's errors for the query values the tests send
INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"
FLOAT_PARSING = "Input should be a valid number, unable to parse string as a number"
BOOL_PARSING = "Input should be a valid boolean, unable to interpret input"


def limit_error(value):
    """pydantic's error for limit=value (Annotated[int, Field(ge=1, le=100)])."""
    loc = ["query", "limit"]
    try:
        n = int(value)
    except ValueError:
        return {"type": "int_parsing", "loc": loc, "msg": INT_PARSING, "input": value}
    if n < 1:
        return {"type": "greater_than_equal", "loc": loc,
                "msg": "Input should be greater than or equal to 1", "input": value, "ctx": {"ge": 1}}
    return {"type": "less_than_equal", "loc": loc,
            "msg": "Input should be less than or equal to 100", "input": value, "ctx": {"le": 100}}


def uuid_error(name, value="nope"):
    assert value == "nope"
    return {"type": "uuid_parsing", "loc": ["query", name],
            "msg": "Input should be a valid UUID, invalid character: found `n` at 1",
            "input": value, "ctx": {"error": "invalid character: found `n` at 1"}}


def float_error(name, value="abc"):
    return {"type": "float_parsing", "loc": ["query", name], "msg": FLOAT_PARSING, "input": value}


def bool_error(name, value="maybe"):
    return {"type": "bool_parsing", "loc": ["query", name], "msg": BOOL_PARSING, "input": value}


def datetime_error(name, value="abc"):
    # pydantic 2: TypeAdapter(datetime).validate_python("abc")
    assert value == "abc"
    return {"type": "datetime_from_date_parsing", "loc": ["query", name],
            "msg": "Input should be a valid datetime or date, input is too short",
            "input": value, "ctx": {"error": "input is too short"}}


def enum_msg(values):
    q = ["'%s'" % v for v in values]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " or " + q[-1]


def b64(text):
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


MALFORMED_CURSORS = ["!!!", "abc", "x" * 300, b64("{}"), b64("garbage"), b64('{"k":[1,2,3]}'),
                     b64(json.dumps({"v": None, "id": "nope"})), "%00", "Zm9v=="]


class ListMixin:
    """Assertions on list answers (mixed into ServerTestCase classes)."""

    ENVELOPE = ["results", "next", "previous", "total_count"]

    def get_list(self, client, path, params=(), status=200, **kw):
        r = client.get(url(path, params, **kw))
        body = self.assertJson(r, status)
        return body, r

    def assertEnvelope(self, body, r, keys=None):
        keys = keys or self.ENVELOPE
        self.assertIsInstance(body, dict, str(r))
        self.assertEqual(sorted(body), sorted(keys), "envelope keys\n%s" % r)
        self.assertIsInstance(list_items(body), list, str(r))
        for k in ("next", "previous"):
            self.assertTrue(body[k] is None or (isinstance(body[k], str) and body[k]),
                            "%s is neither null nor a cursor\n%s" % (k, r))
        for k in ("total_count", "total"):
            if k in keys:
                self.assertIsInstance(body[k], int, str(r))
                self.assertNotIsInstance(body[k], bool, str(r))

    def ids(self, body):
        return [it["id"] for it in list_items(body)]

    def assertIds(self, expected_items_or_ids, body, r, msg=""):
        exp = [x if isinstance(x, str) else x["id"] for x in expected_items_or_ids]
        got = self.ids(body)
        self.assertEqual(exp, got, "%s\nexpected ids %s\ngot ids      %s\n%s" % (msg, exp, got, r))

    def assertSet(self, expected_items_or_ids, body, r, msg=""):
        exp = sorted(x if isinstance(x, str) else x["id"] for x in expected_items_or_ids)
        got = sorted(self.ids(body))
        self.assertEqual(exp, got, "%s\n%s" % (msg, r))

    def assertErrors(self, r, expected, msg=""):
        errs = self.assert422(r)
        self.assertSame(expected, errs, "%s\n%s" % (msg, r))

    def assertOneError(self, r, etype, loc, msg=None, inp=None):
        errs = self.assert422(r, loc)
        self.assertEqual(len(errs), 1, str(r))
        self.assertEqual(errs[0]["type"], etype, str(r))
        if msg is not None:
            self.assertEqual(errs[0]["msg"], msg, str(r))
        if inp is not None:
            self.assertEqual(errs[0].get("input"), inp, str(r))
        return errs[0]


# --------------------------------------------------------------------------
# The rules every list shares

class ListRules(ServerTestCase, ListMixin):
    """One tenant with 12 customers, 12 entitlements, one customer C holding
    a row of each entitlement plus 45 more rows: every list has more items
    than its default limit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ready = False

    def setUp(self):
        cls = type(self)
        if cls.ready:
            return
        cls.customers = [self.make_customer(email="c%d@x.io" % i) for i in range(12)]
        cls.C = cls.customers[0]["id"]
        cls.ents = [self.make_entitlement(name="ent %02d" % i, units="u") for i in range(12)]
        for e in cls.ents:
            self.make_row(e["id"], cls.C, quantity=1)
        for i in range(45):
            self.make_row(cls.ents[0]["id"], cls.C, quantity=i, contract_id=new_id())
        cls.ready = True

    def lists(self):
        """(path, default limit, envelope keys, sort keys, number of items)"""
        C = self.C
        std = ["results", "next", "previous", "total_count"]
        cus = ["data", "next", "previous", "total"]
        rows = ["id", "created_at", "quantity", "quantity_used", "active_from", "expiry_at"]
        return [
            ("/entitlements", 10, std, ["id", "created_at", "name"], 12),
            ("/customers", 10, cus, ["id", "created_at", "customer_name"], 12),
            ("/customer", 10, cus, ["id", "created_at", "customer_name"], 12),
            ("/entitlements/customer/%s" % C, 10, std, rows, 57),
            ("/entitlements/customer/unique/%s" % C, 10, std, ["id", "created_at", "name"], 12),
            ("/entitlements/customers_balances", 50, std + ["total"], rows, 57),
        ]

    def test_envelope_and_default_limit(self):
        for path, default, keys, _sk, n in self.lists():
            with self.subTest(path=path):
                body, r = self.get_list(self.c, path)
                self.assertEnvelope(body, r, keys)
                self.assertEqual(len(list_items(body)), default, "default limit\n%s" % r)
                self.assertIsNotNone(body["next"], "next is null though more items exist\n%s" % r)
                self.assertIsNone(body["previous"], "previous on the first page\n%s" % r)
                for k in ("total_count", "total"):
                    if k in keys:
                        self.assertEqual(body[k], n, "%s\n%s" % (k, r))
                if "total" in keys and "total_count" in keys:
                    self.assertEqual(body["total"], body["total_count"], str(r))

    def test_limit_bounds_accepted(self):
        for path, _d, _keys, _sk, n in self.lists():
            for limit, want in (("1", 1), ("100", min(100, n)), ("7", 7), ("+5", 5), ("05", 5),
                                ("3.0", 3), (" 4", 4), ("1_0", 10), ("10.00", 10)):
                with self.subTest(path=path, limit=limit):
                    body, r = self.get_list(self.c, path, limit=limit)
                    self.assertEqual(len(list_items(body)), want, str(r))

    def test_limit_refused(self):
        for path, *_rest in self.lists():
            for limit in ("0", "101", "x", "-1", "1.5", "1000000000000000000000", "1e2", "1__0",
                          "0x10", "-99999999999999999999999"):
                with self.subTest(path=path, limit=limit):
                    r = self.c.get(url(path, limit=limit))
                    self.assertErrors(r, [limit_error(limit)])

    def test_unknown_parameter(self):
        for path, *_rest in self.lists():
            for name, value in (("bogus", "1"), ("Limit", "5"), ("offset", "10"), ("page", "2"),
                                ("name__like", "x"), ("quantity__foo", "1")):
                with self.subTest(path=path, name=name):
                    r = self.c.get(url(path, [(name, value)]))
                    self.assertErrors(r, [{"type": "extra_forbidden", "loc": ["query", name],
                                           "msg": "Extra inputs are not permitted", "input": value}])

    def test_reference_parameters_of_the_customer_lists_accepted(self):
        # Every filter of the reference's customer list and of a customer's
        # rows list is served (docs/API.md), so a Zenskar client's query works.
        C = self.C
        for path, name, value in [("/customers", "expand", "contacts"), ("/customers", "apiversion", "2"),
                                  ("/customers", "phone_number__ilike", "x"),
                                  ("/customers", "external_id__like", "x"),
                                  ("/customers", "email__isnull", "true"),
                                  ("/customers", "created_at__neq", "2026-01-01T00:00:00Z"),
                                  ("/customers", "communications_enabled", "true"),
                                  ("/entitlements/customer/%s" % C, "customer", C),
                                  ("/entitlements/customer/%s" % C, "id__isnull", "false")]:
            with self.subTest(path=path, name=name):
                self.assertJson(self.c.get(url(path, [(name, value)])), 200)

    def test_reference_parameters_outside_the_table(self):
        # Parameters no list of entitled serves: refused as unknown
        # parameters ("Unknown parameters are refused").
        C = self.C
        cases = [("/entitlements", "id__isnull", "true"), ("/entitlements", "name__in", "a,b"),
                 ("/entitlements", "expand", "x"),
                 ("/entitlements/customer/unique/%s" % C, "contract_id", new_id()),
                 ("/entitlements/customers_balances", "populate_all", "1"),
                 ("/entitlements/customers_balances", "contract_id__isnull", "true"),
                 ("/entitlements/customers_balances", "quantity__in", "1,2"),
                 ("/entitlements/customers_balances", "customer__ilike", "x")]
        for path, name, value in cases:
            with self.subTest(path=path, name=name):
                r = self.c.get(url(path, [(name, value)]))
                self.assertErrors(r, [{"type": "extra_forbidden", "loc": ["query", name],
                                       "msg": "Extra inputs are not permitted", "input": value}])

    def test_unknown_parameter_with_other_errors(self):
        for path, *_rest in self.lists():
            with self.subTest(path=path):
                r = self.c.get(url(path, [("limit", "0"), ("bogus", "y")]))
                errs = self.assert422(r, ["query", "limit"], ["query", "bogus"])
                self.assertEqual(len(errs), 2, str(r))

    def test_unknown_sort_key(self):
        for path, _d, _k, sort_keys, _n in self.lists():
            for bad in ("bogus", "ID", "-created_at", "units"):
                with self.subTest(path=path, sort_key=bad):
                    r = self.c.get(url(path, sort_key=bad, sort_type="asc"))
                    e = self.assertOneError(r, "enum", ["query", "sort_key"], inp=bad)
                    expected = e.get("ctx", {}).get("expected", "")
                    for k in sort_keys:
                        self.assertIn("'%s'" % k, expected, "ctx.expected lacks %r\n%s" % (k, r))
                        self.assertIn("'%s'" % k, e["msg"], str(r))
                    self.assertTrue(e["msg"].startswith("Input should be "), str(r))
                    self.assertEqual(e["msg"], "Input should be " + expected, str(r))

    def test_known_sort_keys_accepted(self):
        for path, _d, _k, sort_keys, _n in self.lists():
            for k in sort_keys:
                for st in ("asc", "desc"):
                    with self.subTest(path=path, sort_key=k, sort_type=st):
                        body, r = self.get_list(self.c, path, sort_key=k, sort_type=st)
                        self.assertTrue(list_items(body), str(r))

    def test_unknown_sort_type(self):
        for path, _d, _k, sort_keys, _n in self.lists():
            for bad in ("up", "ASC", "descending", ""):
                with self.subTest(path=path, sort_type=bad):
                    r = self.c.get(url(path, sort_key=sort_keys[0], sort_type=bad))
                    self.assertErrors(r, [{"type": "enum", "loc": ["query", "sort_type"],
                                           "msg": "Input should be 'asc' or 'desc'", "input": bad,
                                           "ctx": {"expected": "'asc' or 'desc'"}}])

    def test_order(self):
        for path, *_rest in self.lists():
            with self.subTest(path=path):
                asc, r1 = self.get_list(self.c, path, order="created_at", limit=100)
                desc, r2 = self.get_list(self.c, path, order="-created_at", limit=100)
                key = (lambda it: parse_dt(it["entitlement"]["created_at"])) if "unique" in path \
                    else (lambda it: parse_dt(it["created_at"]))
                items = list_items(asc)
                if "unique" in path:
                    items = [dict(it, id=it["entitlement"]["id"]) for it in items]
                    got_asc = [it["entitlement"]["id"] for it in list_items(asc)]
                    got_desc = [it["entitlement"]["id"] for it in list_items(desc)]
                else:
                    got_asc, got_desc = self.ids(asc), self.ids(desc)
                want = [it["id"] for it in expected_order(items, key)]
                self.assertEqual(want, got_asc, "order=created_at is not ascending\n%s" % r1)
                self.assertEqual(want[::-1], got_desc, "order=-created_at is not descending\n%s" % r2)

    def test_malformed_order(self):
        for path, *_rest in self.lists():
            for bad in ("bogus", "--created_at", "+created_at", "created_at,id", ""):
                with self.subTest(path=path, order=bad):
                    r = self.c.get(url(path, order=bad))
                    self.assert422(r, ["query", "order"])

    def test_malformed_cursor(self):
        for path, *_rest in self.lists():
            for bad in MALFORMED_CURSORS:
                with self.subTest(path=path, cursor=bad):
                    r = self.c.get(url(path, cursor=bad))
                    e = self.assertOneError(r, "value_error", ["query", "cursor"],
                                            msg="Value error, malformed cursor")
                    self.assertEqual(e.get("input"), bad, str(r))

    def test_cursor_from_another_sort(self):
        for path, _d, _k, sort_keys, _n in self.lists():
            with self.subTest(path=path):
                body, r = self.get_list(self.c, path, sort_key="created_at", sort_type="asc", limit=2)
                cur = body["next"]
                self.assertIsNotNone(cur, str(r))
                # the same sort accepts it
                self.get_list(self.c, path, sort_key="created_at", sort_type="asc", limit=2, cursor=cur)
                for other in ({"sort_key": "created_at", "sort_type": "desc"},
                              {"sort_key": "id", "sort_type": "asc"},
                              {"sort_key": sort_keys[-1], "sort_type": "asc"}):
                    r = self.c.get(url(path, other, limit=2, cursor=cur))
                    self.assertOneError(r, "value_error", ["query", "cursor"],
                                        msg="Value error, the cursor belongs to another sort", inp=cur)

    def test_unknown_customer_404(self):
        for path in ("/entitlements/customer/%s", "/entitlements/customer/unique/%s"):
            with self.subTest(path=path):
                self.assertDetail(self.c.get(path % new_id()), 404)
                self.assertDetail(self.c.get(url(path % new_id(), limit=5, sort_key="id")), 404)

    def test_malformed_customer_id_422(self):
        for path in ("/entitlements/customer/%s", "/entitlements/customer/unique/%s"):
            with self.subTest(path=path):
                self.assert422(self.c.get(path % "nope"), ["path", "customer_id"])

    def test_bad_filter_values(self):
        C = self.C
        cases = [
            ("/entitlements", "id", uuid_error("id")),
            ("/entitlements", "product_id", uuid_error("product_id")),
            ("/entitlements", "is_active", bool_error("is_active")),
            ("/entitlements", "created_at__gte", datetime_error("created_at__gte")),
            ("/entitlements", "created_at__lte", datetime_error("created_at__lte")),
            ("/customers", "id", uuid_error("id")),
            ("/customers", "created_at__gte", datetime_error("created_at__gte")),
            ("/customers", "created_at__lte", datetime_error("created_at__lte")),
            ("/customer", "id", uuid_error("id")),
            ("/entitlements/customer/%s" % C, "id", uuid_error("id")),
            ("/entitlements/customer/%s" % C, "entitlement", uuid_error("entitlement")),
            ("/entitlements/customer/%s" % C, "contract_id", uuid_error("contract_id")),
            ("/entitlements/customer/%s" % C, "contract_id__isnull", bool_error("contract_id__isnull")),
            ("/entitlements/customer/unique/%s" % C, "entitlement", uuid_error("entitlement")),
            ("/entitlements/customers_balances", "customer", uuid_error("customer")),
            ("/entitlements/customers_balances", "entitlement", uuid_error("entitlement")),
            ("/entitlements/customers_balances", "contract_id", uuid_error("contract_id")),
        ]
        for f in ("quantity", "quantity_used"):
            for sfx in ("", "__gt", "__gte", "__lt", "__lte", "__neq"):
                cases.append(("/entitlements/customers_balances", f + sfx, float_error(f + sfx)))
        for f in ("created_at", "active_from", "expiry_at"):
            for sfx in ("", "__gt", "__gte", "__lt", "__lte", "__neq"):
                cases.append(("/entitlements/customers_balances", f + sfx, datetime_error(f + sfx)))
        for path, name, err in cases:
            with self.subTest(path=path, name=name):
                r = self.c.get(url(path, [(name, err["input"])]))
                self.assertErrors(r, [err])

    def test_bad_in_values(self):
        C = self.C
        for path, name in (("/entitlements", "id__in"), ("/customers", "id__in"),
                           ("/entitlements/customer/%s" % C, "id__in"),
                           ("/entitlements/customer/%s" % C, "entitlement__in"),
                           ("/entitlements/customer/%s" % C, "contract_id__in"),
                           ("/entitlements/customer/unique/%s" % C, "entitlement__in"),
                           ("/entitlements/customers_balances", "customer__in"),
                           ("/entitlements/customers_balances", "entitlement__in"),
                           ("/entitlements/customers_balances", "contract_id__in")):
            with self.subTest(path=path, name=name):
                r = self.c.get(url(path, [(name, "%s,nope" % new_id())]))
                self.assert422(r, ["query", name])

    def test_several_bad_values_reported_at_once(self):
        r = self.c.get(url("/entitlements/customers_balances",
                           [("limit", "0"), ("customer", "nope"), ("quantity__gt", "abc"),
                            ("sort_type", "up")]))
        self.assert422(r, ["query", "limit"], ["query", "customer"], ["query", "quantity__gt"],
                       ["query", "sort_type"])

    def test_lists_are_read_only(self):
        for path, *_rest in self.lists():
            for method in ("PUT",):
                with self.subTest(path=path, method=method):
                    r = self.c.request(method, path)
                    self.assertDetail(r, 405, "Method Not Allowed")
                    self.assertIn("GET", r.header("allow") or "", str(r))


# --------------------------------------------------------------------------
# GET /entitlements

class EntitlementsList(ServerTestCase, ListMixin):
    def new(self, c, **fields):
        return self.make_entitlement(c, **fields)

    def test_shape_items_are_the_entitlements(self):
        c = fresh_client(self)
        body, r = self.get_list(c, "/entitlements")
        self.assertEnvelope(body, r)
        self.assertEqual((body["results"], body["next"], body["previous"], body["total_count"]),
                         ([], None, None, 0), str(r))
        made = [self.new(c, name="e%d" % i, description="d", entitlement_type="Quantity",
                         units="calls", is_active=bool(i % 2), product_id=new_id()) for i in range(3)]
        body, r = self.get_list(c, "/entitlements")
        self.assertEnvelope(body, r)
        self.assertEqual(body["total_count"], 3, str(r))
        self.assertIsNone(body["next"], str(r))
        self.assertIsNone(body["previous"], str(r))
        by_id = {it["id"]: it for it in body["results"]}
        for e in made:
            self.assertIn(e["id"], by_id, str(r))
            got = self.assertJson(c.get("/entitlements/%s" % e["id"]), 200)
            self.assertSame(got, by_id[e["id"]], "list item differs from GET /entitlements/{id}")

    def test_default_sort_newest_first(self):
        c = fresh_client(self)
        made = [self.new(c, name="n%d" % i) for i in range(5)]
        body, r = self.get_list(c, "/entitlements")
        self.assertIds(made[::-1], body, r, "default sort is not newest first")
        body, r = self.get_list(c, "/entitlements", order="-created_at")
        self.assertIds(made[::-1], body, r)
        body, r = self.get_list(c, "/entitlements", order="created_at")
        self.assertIds(made, body, r)

    def test_sort_keys(self):
        c = fresh_client(self)
        names = ["delta", "alpha", "charlie", "alpha", "bravo", "delta", "alpha"]
        made = [self.new(c, name=n) for n in names]
        keys = {"id": lambda e: e["id"], "created_at": lambda e: parse_dt(e["created_at"]),
                "name": lambda e: e["name"]}
        for k, f in keys.items():
            for st in ("asc", "desc"):
                with self.subTest(sort_key=k, sort_type=st):
                    body, r = self.get_list(c, "/entitlements", sort_key=k, sort_type=st, limit=100)
                    self.assertIds(expected_order(made, f, st == "desc"), body, r)

    def test_sort_key_default_type(self):
        # sort_key without sort_type: the reference's default, ascending
        c = fresh_client(self)
        made = [self.new(c, name=n) for n in ("b", "c", "a")]
        body, r = self.get_list(c, "/entitlements", sort_key="name")
        self.assertIds(expected_order(made, lambda e: e["name"]), body, r,
                       "ASSUMPTION: sort_key alone sorts ascending (sort_type's default)")

    def test_filter_id_and_id_in(self):
        c = fresh_client(self)
        made = [self.new(c) for _ in range(5)]
        body, r = self.get_list(c, "/entitlements", id=made[2]["id"])
        self.assertIds([made[2]], body, r)
        self.assertEqual(body["total_count"], 1, str(r))
        body, r = self.get_list(c, "/entitlements", id=made[2]["id"].upper())
        self.assertIds([made[2]], body, r, "id filter in upper case")
        body, r = self.get_list(c, "/entitlements", id=new_id())
        self.assertIds([], body, r)
        self.assertEqual(body["total_count"], 0, str(r))
        sel = [made[0], made[3], made[4]]
        body, r = self.get_list(c, "/entitlements", id__in=",".join(e["id"] for e in sel))
        self.assertSet(sel, body, r)
        self.assertEqual(body["total_count"], 3, str(r))
        body, r = self.get_list(c, "/entitlements", id__in="%s,%s" % (made[1]["id"], new_id()))
        self.assertSet([made[1]], body, r)
        body, r = self.get_list(c, "/entitlements", id__in=made[1]["id"])
        self.assertSet([made[1]], body, r, "id__in with one value")

    def test_id_in_many_values(self):
        # up to 100 values (the cap entitled's 422 names); every value counts
        c = fresh_client(self)
        made = [self.new(c) for _ in range(3)]
        for n in (30, 60, 99):
            with self.subTest(values=n + 1):
                ids = [new_id() for _ in range(n)] + [made[1]["id"]]
                body, r = self.get_list(c, "/entitlements", id__in=",".join(ids))
                self.assertSet([made[1]], body, r, "id__in with %d values" % (n + 1))
                self.assertEqual(body["total_count"], 1, str(r)[:300])

    def test_filter_name_and_name_ilike(self):
        c = fresh_client(self)
        a = self.new(c, name="Gold Plan")
        b = self.new(c, name="gold plan extra")
        pct = self.new(c, name="50% off")
        und = self.new(c, name="a_b")
        plain = self.new(c, name="axb")
        other = self.new(c, name="Silver")
        body, r = self.get_list(c, "/entitlements", name="Gold Plan")
        self.assertSet([a], body, r, "name is an equality filter")
        body, r = self.get_list(c, "/entitlements", name="Gold")
        self.assertSet([], body, r, "name is an equality filter, not a substring")
        body, r = self.get_list(c, "/entitlements", name__ilike="GOLD")
        self.assertSet([a, b], body, r, "name__ilike is a case-insensitive substring")
        body, r = self.get_list(c, "/entitlements", name__ilike="d pl")
        self.assertSet([a, b], body, r)
        body, r = self.get_list(c, "/entitlements", name__ilike="%")
        self.assertSet([pct], body, r, "%% is a plain character in __ilike")
        body, r = self.get_list(c, "/entitlements", name__ilike="_")
        self.assertSet([und], body, r, "_ is a plain character in __ilike")
        body, r = self.get_list(c, "/entitlements", name__ilike="a_b")
        self.assertSet([und], body, r, "_ is a plain character in __ilike")
        body, r = self.get_list(c, "/entitlements", name__ilike="zzz")
        self.assertSet([], body, r)
        body, r = self.get_list(c, "/entitlements", name__ilike="ILVE")
        self.assertSet([other], body, r)
        self.assertTrue(plain)

    def test_filter_entitlement_type(self):
        c = fresh_client(self)
        f = self.new(c, entitlement_type="Feature")
        q = self.new(c, entitlement_type="Quantity")
        q2 = self.new(c, entitlement_type="Quantity")
        cr = self.new(c, entitlement_type="Credits")
        self.new(c)
        for t, want in (("Feature", [f]), ("Quantity", [q, q2]), ("Credits", [cr])):
            with self.subTest(entitlement_type=t):
                body, r = self.get_list(c, "/entitlements", entitlement_type=t)
                self.assertSet(want, body, r)
                self.assertEqual(body["total_count"], len(want), str(r))

    def test_filter_entitlement_type_bad_value(self):
        # ASSUMPTION: "Values are validated like bodies": the body's enum
        r = self.c.get(url("/entitlements", entitlement_type="Bogus"))
        e = self.assertOneError(r, "enum", ["query", "entitlement_type"], inp="Bogus")
        self.assertEqual(e["msg"], "Input should be 'Feature', 'Quantity' or 'Credits'", str(r))

    def test_filter_is_active(self):
        c = fresh_client(self)
        on = [self.new(c), self.new(c, is_active=True)]
        off = [self.new(c, is_active=False)]
        for v, want in (("true", on), ("false", off), ("1", on), ("0", off), ("yes", on),
                        ("off", off), ("True", on), ("FALSE", off)):
            with self.subTest(is_active=v):
                body, r = self.get_list(c, "/entitlements", is_active=v)
                self.assertSet(want, body, r)

    def test_filter_product_id(self):
        c = fresh_client(self)
        p1, p2 = new_id(), new_id()
        a = self.new(c, product_id=p1)
        b = self.new(c, product_id=p1)
        self.new(c, product_id=p2)
        self.new(c)
        body, r = self.get_list(c, "/entitlements", product_id=p1)
        self.assertSet([a, b], body, r)
        body, r = self.get_list(c, "/entitlements", product_id=p1.upper())
        self.assertSet([a, b], body, r)
        body, r = self.get_list(c, "/entitlements", product_id=new_id())
        self.assertSet([], body, r)

    def test_filter_created_at_range(self):
        c = fresh_client(self)
        made = [self.new(c) for _ in range(6)]
        t2, t4 = made[2]["created_at"], made[4]["created_at"]
        body, r = self.get_list(c, "/entitlements", created_at__gte=t2)
        self.assertSet(made[2:], body, r, "created_at__gte includes its bound")
        body, r = self.get_list(c, "/entitlements", created_at__lte=t4)
        self.assertSet(made[:5], body, r, "created_at__lte includes its bound")
        body, r = self.get_list(c, "/entitlements", created_at__gte=t2, created_at__lte=t4)
        self.assertSet(made[2:5], body, r)
        self.assertEqual(body["total_count"], 3, str(r))
        body, r = self.get_list(c, "/entitlements", created_at__gte="2000-01-01",
                                created_at__lte="2000-01-02T00:00:00+05:00")
        self.assertSet([], body, r)
        # Unix seconds are date-times too
        body, r = self.get_list(c, "/entitlements", created_at__gte="946684800")
        self.assertSet(made, body, r)

    def test_search(self):
        c = fresh_client(self)
        a = self.new(c, name="Zebra Calls", description="per month")
        b = self.new(c, name="Other", description="includes zebra crossings")
        d = self.new(c, name="100% done_x", description=None)
        self.new(c, name="Lion", description="none")
        body, r = self.get_list(c, "/entitlements", search="ZEBRA")
        self.assertSet([a, b], body, r, "search covers name and description, case-insensitive")
        body, r = self.get_list(c, "/entitlements", search="bra cal")
        self.assertSet([a], body, r)
        body, r = self.get_list(c, "/entitlements", search="%")
        self.assertSet([d], body, r)
        body, r = self.get_list(c, "/entitlements", search="_")
        self.assertSet([d], body, r)
        body, r = self.get_list(c, "/entitlements", search="nothing-like-this")
        self.assertSet([], body, r)
        self.assertEqual(body["total_count"], 0, str(r))

    def test_nul_in_filter_values(self):
        # "\u0000" is a valid character of a name (test_robustness); %00 in a
        # query value is that character, not the end of the value
        c = fresh_client(self)
        nul = self.new(c, name="a\u0000b")
        a = self.new(c, name="a")
        self.new(c, name="xyz")
        for params, want in (({"name": "a\u0000b"}, [nul]), ({"name": "a"}, [a]),
                             ({"search": "\u0000"}, [nul]), ({"name__ilike": "\u0000b"}, [nul]),
                             ({"name__ilike": "a\u0000"}, [nul]), ({"name": "a\u0000"}, [])):
            with self.subTest(**params):
                body, r = self.get_list(c, "/entitlements", params)
                self.assertSet(want, body, r)

    def test_ilike_and_search_fold_non_ascii_case(self):
        # ASSUMPTION: "case-insensitive" covers letters beyond ASCII (simple
        # one-to-one case mappings such as Ä/ä, É/é, Ω/ω), as PostgreSQL's ILIKE does
        c = fresh_client(self)
        a = self.new(c, name="Äpfel Énergie Ωmega")
        self.new(c, name="apfel energie omega")
        for params in ({"name__ilike": "äpfel"}, {"name__ilike": "ÄPFEL"}, {"search": "énergie"},
                       {"search": "ωMEGA"}, {"name__ilike": "äPfEl éNERGIE"}):
            with self.subTest(**params):
                body, r = self.get_list(c, "/entitlements", params)
                self.assertSet([a], body, r)

    def test_filters_combine(self):
        c = fresh_client(self)
        a = self.new(c, name="combo one", entitlement_type="Quantity", is_active=False)
        self.new(c, name="combo two", entitlement_type="Quantity", is_active=True)
        self.new(c, name="combo three", entitlement_type="Feature", is_active=False)
        body, r = self.get_list(c, "/entitlements", entitlement_type="Quantity", is_active="false",
                                name__ilike="combo")
        self.assertSet([a], body, r, "filters are ANDed")
        self.assertEqual(body["total_count"], 1, str(r))

    def test_total_count_counts_filtered_rows_not_page(self):
        c = fresh_client(self)
        for i in range(13):
            self.new(c, name="tc %d" % i, is_active=(i % 3 != 0))
        body, r = self.get_list(c, "/entitlements", is_active="true", limit=4)
        self.assertEqual(len(body["results"]), 4, str(r))
        self.assertEqual(body["total_count"], 8, str(r))


# --------------------------------------------------------------------------
# GET /customers and GET /customer

class CustomersList(ServerTestCase, ListMixin):
    ENVELOPE = ["data", "next", "previous", "total"]
    PATHS = ("/customers", "/customer")

    def new(self, c, **fields):
        return self.make_customer(c, **fields)

    def test_like_is_case_sensitive_and_more_reference_filters(self):
        c = fresh_client(self)
        a = self.new(c, external_id="xAbc", phone_number="+1-555", communications_enabled=False)
        b = self.new(c, external_id="xabc", auto_charge_enabled=False)
        for params, want in (({"external_id__like": "Ab"}, [a]), ({"external_id__ilike": "Ab"}, [a, b]),
                             ({"phone_number__like": "555"}, [a]), ({"phone_number__isnull": "true"}, [b]),
                             ({"communications_enabled": "false"}, [a]),
                             ({"auto_charge_enabled": "false"}, [b]),
                             ({"external_id__like": "ab", "expand": "contacts"}, [b])):
            with self.subTest(**params):
                body, r = self.get_list(c, "/customers", params)
                self.assertSet(want, body, r)

    def test_shape_items_are_the_customers(self):
        c = fresh_client(self)
        for p in self.PATHS:
            body, r = self.get_list(c, p)
            self.assertEnvelope(body, r)
            self.assertEqual((body["data"], body["next"], body["previous"], body["total"]),
                             ([], None, None, 0), str(r))
        made = [self.new(c, email="m%d@x.io" % i, external_id="ext-%d" % i,
                         address={"line1": "1 Main"}) for i in range(3)]
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p)
                self.assertEnvelope(body, r)
                self.assertEqual(body["total"], 3, str(r))
                self.assertIsNone(body["next"], str(r))
                by_id = {it["id"]: it for it in body["data"]}
                for cu in made:
                    got = self.assertJson(c.get("/customers/%s" % cu["id"]), 200)
                    self.assertIn(cu["id"], by_id, str(r))
                    self.assertSame(got, by_id[cu["id"]], "list item differs from GET /customers/{id}")

    def test_default_sort_newest_first_and_order(self):
        c = fresh_client(self)
        made = [self.new(c) for _ in range(5)]
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p)
                self.assertIds(made[::-1], body, r, "default sort is not newest first")
                body, r = self.get_list(c, p, order="created_at")
                self.assertIds(made, body, r)
                body, r = self.get_list(c, p, order="-created_at")
                self.assertIds(made[::-1], body, r)

    def test_sort_keys(self):
        c = fresh_client(self)
        names = ["mike", "kilo", "lima", "kilo", "mike", "juliet"]
        made = [self.new(c, customer_name=n) for n in names]
        keys = {"id": lambda e: e["id"], "created_at": lambda e: parse_dt(e["created_at"]),
                "customer_name": lambda e: e["customer_name"]}
        for p in self.PATHS:
            for k, f in keys.items():
                for st in ("asc", "desc"):
                    with self.subTest(path=p, sort_key=k, sort_type=st):
                        body, r = self.get_list(c, p, sort_key=k, sort_type=st, limit=100)
                        self.assertIds(expected_order(made, f, st == "desc"), body, r)

    def test_filter_id(self):
        c = fresh_client(self)
        made = [self.new(c) for _ in range(4)]
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p, id=made[1]["id"])
                self.assertIds([made[1]], body, r)
                self.assertEqual(body["total"], 1, str(r))
                body, r = self.get_list(c, p, id=new_id())
                self.assertIds([], body, r)
                body, r = self.get_list(c, p, id__in="%s,%s,%s" % (made[0]["id"], made[3]["id"].upper(),
                                                                   new_id()))
                self.assertSet([made[0], made[3]], body, r)
                self.assertEqual(body["total"], 2, str(r))

    def test_id_in_many_values(self):
        c = fresh_client(self)
        made = [self.new(c) for _ in range(3)]
        for p in self.PATHS:
            with self.subTest(path=p):
                ids = [new_id() for _ in range(70)] + [made[2]["id"]]
                body, r = self.get_list(c, p, id__in=",".join(ids))
                self.assertSet([made[2]], body, r, "id__in with 71 values")

    def test_filter_external_id(self):
        c = fresh_client(self)
        a = self.new(c, external_id="SF-001")
        b = self.new(c, external_id="sf-002")
        d = self.new(c, external_id="HS_100%")
        self.new(c, external_id="HSx100")
        self.new(c)
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p, external_id="SF-001")
                self.assertSet([a], body, r)
                body, r = self.get_list(c, p, external_id="SF-00")
                self.assertSet([], body, r, "external_id is equality, not substring")
                body, r = self.get_list(c, p, external_id__ilike="sf-00")
                self.assertSet([a, b], body, r)
                body, r = self.get_list(c, p, external_id__ilike="_")
                self.assertSet([d], body, r, "_ is a plain character in __ilike")
                body, r = self.get_list(c, p, external_id__ilike="0%")
                self.assertSet([d], body, r, "%% is a plain character in __ilike")
                body, r = self.get_list(c, p, external_id__in="SF-001,sf-002,nothing")
                self.assertSet([a, b], body, r)
                body, r = self.get_list(c, p, external_id__in="HS_100%")
                self.assertSet([d], body, r)

    def test_filter_email(self):
        c = fresh_client(self)
        a = self.new(c, email="Billing@Acme.com")
        b = self.new(c, email="ops@acme.com")
        d = self.new(c, email="x_y@other.org")
        self.new(c, email="xzy@other.org")
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p, email="ops@acme.com")
                self.assertSet([b], body, r)
                body, r = self.get_list(c, p, email="acme.com")
                self.assertSet([], body, r)
                body, r = self.get_list(c, p, email__ilike="ACME.COM")
                self.assertSet([a, b], body, r)
                body, r = self.get_list(c, p, email__ilike="x_y")
                self.assertSet([d], body, r)
                body, r = self.get_list(c, p, email__in="ops@acme.com,x_y@other.org")
                self.assertSet([b, d], body, r)
                self.assertEqual(body["total"], 2, str(r))

    def test_filter_customer_name_ilike(self):
        c = fresh_client(self)
        a = self.new(c, customer_name="Acme Corporation")
        b = self.new(c, customer_name="ACME labs")
        d = self.new(c, customer_name="100% Acme_")
        self.new(c, customer_name="Other")
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p, customer_name__ilike="acme")
                self.assertSet([a, b, d], body, r)
                body, r = self.get_list(c, p, customer_name__ilike="%")
                self.assertSet([d], body, r)
                body, r = self.get_list(c, p, customer_name__ilike="e_")
                self.assertSet([d], body, r)
                body, r = self.get_list(c, p, customer_name__ilike="me co")
                self.assertSet([a], body, r)

    def test_filter_created_at_range(self):
        c = fresh_client(self)
        made = [self.new(c) for _ in range(5)]
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p, created_at__gte=made[1]["created_at"],
                                        created_at__lte=made[3]["created_at"])
                self.assertSet(made[1:4], body, r)
                self.assertEqual(body["total"], 3, str(r))
                body, r = self.get_list(c, p, created_at__gte=made[4]["created_at"])
                self.assertSet(made[4:], body, r)
                body, r = self.get_list(c, p, created_at__lte=made[0]["created_at"])
                self.assertSet(made[:1], body, r)

    def test_search(self):
        c = fresh_client(self)
        a = self.new(c, customer_name="Quokka Inc")
        b = self.new(c, customer_name="Other", email="team@QUOKKA.io")
        d = self.new(c, customer_name="Third", external_id="quokka-7")
        e = self.new(c, customer_name="50% off_x")
        self.new(c, customer_name="Nothing", phone_number="quokka")
        for p in self.PATHS:
            with self.subTest(path=p):
                body, r = self.get_list(c, p, search="quokka")
                self.assertSet([a, b, d], body, r,
                               "search covers customer_name, email, external_id (not phone_number)")
                self.assertEqual(body["total"], 3, str(r))
                body, r = self.get_list(c, p, search="%")
                self.assertSet([e], body, r)
                body, r = self.get_list(c, p, search="f_")
                self.assertSet([e], body, r)



def fold(text):
    """Case folded as the lists fold (simple one-to-one lower-casing)."""
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text or "")


SEARCH_FIELDS_MSG = ("Value error, unknown search field '%s'; the fields are customer_name, email, "
                     "external_id and phone_number")
SEARCH_PAIRS_MSG = ("Value error, search takes field=value pairs, comma separated, of "
                    "customer_name, email, external_id and phone_number")


class CustomerSearch(ServerTestCase, ListMixin):
    """search=field=value[,field=value] on the customer lists (docs/API.md,
    ../shared/API.md "Customers: what Zenskar's own client relies on"): each
    pair a case-insensitive contains of customer_name, email, external_id or
    phone_number, all required; text without '=' keeps the plain meaning.
    The reference documents the form by its example, `customer_name=Acme`;
    what an unknown field does it does not say: entitled answers 422
    value_error at ["query", "search"], as FastAPI does for a value its
    validator refuses."""

    ENVELOPE = ["data", "next", "previous", "total"]
    PATHS = ("/customers", "/customer")

    def world(self):
        c = fresh_client(self)
        w = {"c": c}
        w["a"] = self.make_customer(c, customer_name="Acme Corp", email="billing@acme.com",
                                    external_id="SF-1", phone_number="+1 555 0100")
        w["b"] = self.make_customer(c, customer_name="ACME Labs", email="ops@other.io",
                                    external_id="acme-2")
        w["d"] = self.make_customer(c, customer_name="Other", email="x@ACME.com",
                                    phone_number="555-acme")
        w["e"] = self.make_customer(c, customer_name="Zed")
        return w

    def test_pairs(self):
        """The reference's example, search=customer_name=Acme, finds the
        Acme customers (before: 200 with none, the text read as a substring)."""
        w = self.world()
        a, b, d, e = w["a"], w["b"], w["d"], w["e"]
        cases = [
            ("customer_name=Acme", [a, b]),
            ("customer_name=acme,email=ACME", [a]),
            ("email=acme", [a, d]),
            ("external_id=acme", [b]),
            ("external_id=sf-", [a]),
            ("phone_number=555", [a, d]),
            ("phone_number=acme", [d]),
            ("customer_name=Acme,external_id=SF", [a]),
            ("email=acme,customer_name=Other", [d]),
            ("customer_name=acme,customer_name=labs", [b]),
            ("customer_name=acme,phone_number=0100,email=billing,external_id=1", [a]),
            ("customer_name=Nobody", []),
            # an empty value: the field holds some text (as field__ilike= does)
            ("customer_name=", [a, b, d, e]),
            ("email=", [a, b, d]),
            ("phone_number=", [a, d]),
            # plain text: name, email or external id (not the phone number)
            ("acme", [a, b, d]),
            ("555", []),
        ]
        for p in self.PATHS:
            for text, want in cases:
                with self.subTest(path=p, search=text):
                    body, r = self.get_list(w["c"], p, search=text)
                    self.assertSet(want, body, r)
                    self.assertEqual(body["total"], len(want), str(r))

    def test_pair_equals_ilike_filter(self):
        """A pair field=value selects what field__ilike=value selects."""
        w = self.world()
        for field in ("customer_name", "email", "external_id", "phone_number"):
            for value in ("acme", "ACME", "5", "", "-", "zzz"):
                with self.subTest(field=field, value=value):
                    want, _ = self.get_list(w["c"], "/customers", {field + "__ilike": value})
                    body, r = self.get_list(w["c"], "/customers", search="%s=%s" % (field, value))
                    self.assertSet(self.ids(want), body, r)

    def test_commas_and_equals_in_values(self):
        c = fresh_client(self)
        f = self.make_customer(c, customer_name="Acme, Inc")
        g = self.make_customer(c, customer_name="a=b Ltd", external_id="k=v,w")
        h = self.make_customer(c, customer_name="x,y=z")
        cases = [
            ("customer_name=Acme, Inc", [f]),       # a part without '=' continues the value
            ("customer_name=acme,", [f]),           # so does an empty one
            ("customer_name=a=b", [g]),             # the value runs past its first '='
            ("customer_name==", [g, h]),            # the value is "="
            ("external_id=k=v,w", [g]),
            ("external_id=k=v,w,customer_name=ltd", [g]),
            ("customer_name=,", [f, h]),
            ("Acme, Inc", [f]),                     # no '=': plain text, comma and all
        ]
        for text, want in cases:
            with self.subTest(search=text):
                body, r = self.get_list(c, "/customers", search=text)
                self.assertSet(want, body, r)

    def test_percent_underscore_and_case_folding(self):
        c = fresh_client(self)
        pct = self.make_customer(c, customer_name="100% Acme_", external_id="Äpfel-ΩMEGA")
        self.make_customer(c, customer_name="1000 AcmeX", external_id="apfel-omega")
        nul = self.make_customer(c, customer_name="nul\u0000here")
        cases = [
            ("customer_name=%", [pct]),
            ("customer_name=e_", [pct]),
            ("customer_name=0%", [pct]),
            ("external_id=äPFEL", [pct]),
            ("external_id=ωmega", [pct]),
            ("external_id=ÄPFEL-Ω,customer_name=ACME_", [pct]),
            ("customer_name=\u0000h", [nul]),
        ]
        for p in self.PATHS:
            for text, want in cases:
                with self.subTest(path=p, search=text):
                    body, r = self.get_list(c, p, search=text)
                    self.assertSet(want, body, r)

    def test_bad_pairs_422(self):
        w = self.world()
        cases = [
            ("foo=bar", SEARCH_FIELDS_MSG % "foo"),
            ("customer_name=a,bogus=1", SEARCH_FIELDS_MSG % "bogus"),
            ("custom_data.users=abc@dev.in", SEARCH_FIELDS_MSG % "custom_data.users"),
            ("Customer_Name=Acme", SEARCH_FIELDS_MSG % "Customer_Name"),
            ("customer_name__ilike=Acme", SEARCH_FIELDS_MSG % "customer_name__ilike"),
            ("id=1", SEARCH_FIELDS_MSG % "id"),
            # no field name, or one that does not print as itself
            ("=", SEARCH_PAIRS_MSG),
            ("=x", SEARCH_PAIRS_MSG),
            ("customer_name=a, email=b", SEARCH_PAIRS_MSG),
            ("' OR '1'='1", SEARCH_PAIRS_MSG),
            # text before the first pair
            ("Acme,customer_name=x", SEARCH_PAIRS_MSG),
            (",email=x", SEARCH_PAIRS_MSG),
        ]
        for p in self.PATHS:
            for text, msg in cases:
                with self.subTest(path=p, search=text):
                    r = w["c"].get(url(p, search=text))
                    self.assertErrors(r, [{"type": "value_error", "loc": ["query", "search"],
                                           "msg": msg, "input": text}])
        # not UTF-8: the string error every list gives
        r = w["c"].get("/customers?search=customer_name=%ff")
        self.assertOneError(r, "string_unicode", ["query", "search"])
        # more pairs than a query holds filters
        text = ",".join("email=x%d" % i for i in range(60))
        self.assertOneError(w["c"].get(url("/customers", search=text)), "value_error",
                            ["query", "search"], "Value error, too many filters")

    def test_other_lists_keep_plain_search(self):
        """The contract speaks of the customer lists: elsewhere search stays a
        plain substring, '=' and ',' included."""
        c = fresh_client(self)
        x = self.make_entitlement(c, name="name=gold,tier")
        self.make_entitlement(c, name="gold")
        cu = self.make_customer(c)
        self.make_row(x["id"], cu["id"], c)
        body, r = self.get_list(c, "/entitlements", search="name=gold")
        self.assertSet([x], body, r)
        body, r = self.get_list(c, "/entitlements", search="foo=bar")
        self.assertSet([], body, r)
        for path in ("/entitlements/customer/%s" % cu["id"], "/entitlements/customers_balances"):
            with self.subTest(path=path):
                body, r = self.get_list(c, path, search="name=gold,t")
                self.assertEqual([it["entitlement"] for it in body["results"]], [x["id"]], str(r))
        body, r = self.get_list(c, "/entitlements/customer/unique/%s" % cu["id"], search="=gold,")
        self.assertEqual([it["entitlement"]["id"] for it in body["results"]], [x["id"]], str(r))


def rank_of(cust, text):
    """search_name_external_id's rank: 0 exact, 1 prefix, 2 contains, None."""
    t = fold(text)
    ranks = []
    for v in (cust["customer_name"], cust["external_id"]):
        if v is None or t not in fold(v):
            continue
        ranks.append(0 if fold(v) == t else 1 if fold(v).startswith(t) else 2)
    return min(ranks) if ranks else None


def ranked_order(customers, text, key, desc):
    """Rank first, then the list's sort (key, then id, in its direction)."""
    out = []
    for rank in (0, 1, 2):
        out += expected_order([c for c in customers if rank_of(c, text) == rank], key, desc)
    return out


class RankedCustomerSearch(ServerTestCase, ListMixin):
    """search_name_external_id=text (mcp-zenskar's listCustomers sends it;
    the reference spec does not list it, the client's tool describes it):
    name or external id contains the text, case-insensitive; an exact match
    first, then starts-with, then contains, then the list's order."""

    ENVELOPE = ["data", "next", "previous", "total"]
    PATHS = ("/customers", "/customer")

    def world(self):
        c = fresh_client(self)
        specs = [("The ACME co", None), ("Acme", "zz"), ("acme corp", None), ("Zed", "ACME"),
                 ("Beta", "acme-9"), ("Gamma", "x-acme"), ("Nothing", None), ("Acm", "acm"),
                 ("ACME", None), ("Acme", "acme"), ("acmeacme", "1acme")]
        return c, [self.make_customer(c, customer_name=n, external_id=x) for n, x in specs]

    def test_rank_then_sort(self):
        c, made = self.world()
        keys = {"id": lambda e: e["id"], "created_at": lambda e: parse_dt(e["created_at"]),
                "customer_name": lambda e: e["customer_name"]}
        sorts = [({}, "created_at", True), ({"order": "created_at"}, "created_at", False)]
        sorts += [({"sort_key": k, "sort_type": st}, k, st == "desc") for k in keys
                  for st in ("asc", "desc")]
        for p in self.PATHS:
            for text in ("acme", "ACME", "Acme corp", "cme", "zz", "nothing-like-it"):
                for params, key, desc in sorts:
                    with self.subTest(path=p, text=text, **params):
                        body, r = self.get_list(c, p, params, search_name_external_id=text,
                                                limit=100)
                        want = ranked_order(made, text, keys[key], desc)
                        self.assertIds(want, body, r)
                        self.assertEqual(body["total"], len(want), str(r))

    def test_no_longer_extra_forbidden(self):
        """The issue's case: a 422 extra_forbidden before; now the ranked list."""
        c, made = self.world()
        for p in self.PATHS:
            body, r = self.get_list(c, p, search_name_external_id="Acme")
            self.assertEnvelope(body, r)
            self.assertEqual(body["data"][0]["customer_name"], "Acme", str(r))

    def test_with_search_and_filters(self):
        c, made = self.world()
        body, r = self.get_list(c, "/customers", search_name_external_id="acme",
                                search="external_id=acme", limit=100)
        want = [m for m in ranked_order(made, "acme", lambda e: parse_dt(e["created_at"]), True)
                if "acme" in fold(m["external_id"])]
        self.assertIds(want, body, r)
        body, r = self.get_list(c, "/customers", search_name_external_id="acme",
                                external_id__isnull="true", limit=100)
        want = [m for m in ranked_order(made, "acme", lambda e: parse_dt(e["created_at"]), True)
                if m["external_id"] is None]
        self.assertIds(want, body, r)

    def test_hostile_and_plain_characters(self):
        c = fresh_client(self)
        pct = self.make_customer(c, customer_name="50%_off", external_id="Äpfel")
        other = self.make_customer(c, customer_name="500 off", external_id="apfelx")
        nul = self.make_customer(c, customer_name="a\u0000b")
        eq = self.make_customer(c, customer_name="k=v,w")
        for text, want in (("%", [pct]), ("_", [pct]), ("0%_", [pct]), ("äPFEL", [pct]), ("apfel", [other]),
                           ("\u0000", [nul]), ("=", [eq]), ("k=v,w", [eq]), (",", [eq]),
                           ("customer_name=k", [])):
            with self.subTest(text=text):
                body, r = self.get_list(c, "/customers", search_name_external_id=text)
                self.assertIds(want, body, r)
        # empty: no condition, the list's own order
        body, r = self.get_list(c, "/customers", search_name_external_id="")
        self.assertIds([eq, nul, other, pct], body, r)
        r = c.get("/customers?search_name_external_id=%ff")
        self.assertOneError(r, "string_unicode", ["query", "search_name_external_id"])

    def test_ranks_fold_every_script(self):
        """Equal and starts-with are case-insensitive as the contains is:
        Ä/ä, Ω/ω fold on both backends."""
        c = fresh_client(self)
        contains = self.make_customer(c, customer_name="x ΩMEGA Äpfel")
        prefix = self.make_customer(c, customer_name="zz", external_id="ωmega äpfel!")
        exact = self.make_customer(c, customer_name="Ωmega ÄPFEL")
        self.make_customer(c, customer_name="omega apfel")
        for text in ("ωMEGA äpfel", "ΩMEGA ÄPFEL"):
            for params in ({}, {"order": "created_at"}):
                with self.subTest(text=text, **params):
                    body, r = self.get_list(c, "/customers", params, search_name_external_id=text)
                    self.assertIds([exact, prefix, contains], body, r)

    def test_other_lists_refuse_it(self):
        c = fresh_client(self)
        cu = self.make_customer(c)
        for path in ("/entitlements", "/entitlements/customer/%s" % cu["id"],
                     "/entitlements/customer/unique/%s" % cu["id"],
                     "/entitlements/customers_balances"):
            with self.subTest(path=path):
                r = c.get(url(path, search_name_external_id="x"))
                self.assertOneError(r, "extra_forbidden", ["query", "search_name_external_id"])

    def test_cursor_of_another_kind_422(self):
        c, made = self.world()
        ranked = self.assertJson(c.get(url("/customers", search_name_external_id="acme", limit=2)),
                                 200)
        plain = self.assertJson(c.get(url("/customers", limit=2)), 200)
        msg = "Value error, the cursor belongs to another sort"
        r = c.get(url("/customers", limit=2, cursor=ranked["next"]))
        self.assertOneError(r, "value_error", ["query", "cursor"], msg)
        r = c.get(url("/customers", search_name_external_id="acme", limit=2, cursor=plain["next"]))
        self.assertOneError(r, "value_error", ["query", "cursor"], msg)


class LargePages(ServerTestCase, ListMixin):
    """A page whose items are large (customers with ~1 MB of custom_data):
    the list still answers (never a 500); a server may give fewer items than
    the limit on such a page, as long as the cursors then lead to the rest."""

    ENVELOPE = ["data", "next", "previous", "total"]

    def test_page_of_large_customers(self):
        c = fresh_client(self)
        blob = "x" * 1_000_000
        made = [self.make_customer(c, customer_name="big %02d" % i, custom_data={"b": blob})
                for i in range(20)]
        seen, cursor, pages = [], None, 0
        while True:
            r = c.get(url("/customers", limit=20, cursor=cursor))
            self.assertEqual(r.status, 200, "GET %s -> %d %s" % (r.path[:120], r.status, r.text[:300]))
            body = r.json
            self.assertEqual(body["total"], 20, r.text[:300])
            for it in body["data"]:
                self.assertEqual(len(it["custom_data"]["b"]), 1_000_000)
            seen += [it["id"] for it in body["data"]]
            cursor = body["next"]
            pages += 1
            if cursor is None or pages > 25:
                break
        self.assertEqual([m["id"] for m in made[::-1]], seen)
