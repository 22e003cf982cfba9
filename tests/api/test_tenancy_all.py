"""Tenancy and revoked keys on EVERY route (issue 7). The routes come from
`entitled routes`, so a route added later is covered without editing this
file (a new POST or PATCH route needs its body in BODIES, and the test says
so); only the public ones (/healthz, /openapi.json, /docs) are skipped.

- Organisation B using organisation A's ids, in the path or named in a valid
  body, is 404 on every route with ids, exactly as for ids that do not
  exist: A's ids alone, and each of A's ids among B's own (A's customer
  under B's entitlement, A's row under B's pair...). B's lists and reads of
  its own objects (filtered by A's ids or not) hold nothing of A's. Nothing
  of A's changes: its customer, entitlement, rows, balance, ledger and lists
  are compared before and after each route's attempts.
- A revoked key of A, with A's organisation and A's real ids, is 401 on
  every route, exactly as an unknown key, and changes nothing."""

import os
import re

import harness
from harness import Client, ServerTestCase, Tenant, cli, list_items, new_id, url

PUBLIC = {"/healthz", "/openapi.json", "/docs"}
PARAM_RE = re.compile(r"\{([A-Za-z_]+)\}")
# the path parameters this file knows how to fill: object kind per name
KINDS = {"entitlement_id": "E", "customer_id": "C", "ec_id": "R"}


def server_routes():
    """[(method, pattern)] of `entitled routes`, the public ones left out."""
    r = cli("routes")
    if r.rc != 0:
        raise AssertionError("entitled routes failed\n%r" % r)
    out = []
    for ln in r.out.splitlines():
        parts = ln.split()
        if len(parts) >= 2 and parts[1] not in PUBLIC:
            out.append((parts[0], parts[1]))
    if len(out) < 10:
        raise AssertionError("too few routes from entitled routes\n%r" % r)
    return out


def fill(pattern, ids):
    return PARAM_RE.sub(lambda m: ids[m.group(1)], pattern)


# Valid bodies of the routes that take one, given the objects they name:
# ids["entitlement_id"], ids["customer_id"], ids["ec_id"] (the path's) and
# ids["body_customer"] (a customer named only by the body).
BODIES = {
    ("POST", "/entitlements"): lambda ids: {"name": "B's entitlement", "entitlement_type": "Quantity"},
    ("PATCH", "/entitlements/{entitlement_id}"): lambda ids: {"name": "changed by B"},
    ("POST", "/entitlements/{entitlement_id}/customer"):
        lambda ids: {"customer": ids["body_customer"], "quantity": 7},
    ("PATCH", "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}"):
        lambda ids: {"entitlement": ids["entitlement_id"], "customer": ids["customer_id"],
                     "quantity": 999, "quantity_used": 0, "active_from": None},
    ("POST", "/entitlements/{entitlement_id}/customer/{customer_id}/consume"):
        lambda ids: {"quantity": 1},
    ("POST", "/customers"): lambda ids: {"customer_name": "B's customer"},
    ("POST", "/customer"): lambda ids: {"customer_name": "B's customer"},
    ("PATCH", "/customers/{customer_id}"): lambda ids: {"customer_name": "changed by B"},
}
# Objects named by a body rather than the path: a slot of its own.
BODY_SLOTS = {("POST", "/entitlements/{entitlement_id}/customer"): {"body_customer": "C"}}

# Query strings naming A's objects on B's own lists and reads: the answer is
# 200 and holds nothing of A's.
QUERIES = {
    "/entitlements": lambda a: [{"id": a["E"]}, {"id__in": a["E"]}, {"search": a["mark"]}],
    "/customers": lambda a: [{"id": a["C"]}, {"search": a["mark"]}],
    "/customer": lambda a: [{"id__in": a["C"]}, {"search": a["mark"]}],
    "/entitlements/customers_balances": lambda a: [
        {"customer": a["C"]}, {"entitlement": a["E"]}, {"customer__in": a["C"]},
        {"entitlement__in": a["E"]}, {"search": a["mark"]}, {"contract_id": a["contract"]}],
    "/entitlements/customer/{customer_id}": lambda a: [{"entitlement": a["E"]}],
    "/entitlements/customer/{customer_id}/ledger": lambda a: [
        {"entitlement": a["E"]}, {"entitlement__in": a["E"]}, {"row": a["R"]}],
}


class TenancyAll(ServerTestCase):
    extra_tenants = 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cls.c
        cls.b = Client(cls.server.port, cls.tenants[1])
        cls.routes = server_routes()
        cls.A = None

    def setUp(self):
        cls = type(self)
        if cls.A is not None:
            return
        cls.A = self.objects(self.a, "A")
        cls.B = self.objects(self.b, "B")
        cls.before = self.a_state()

    def objects(self, client, who):
        """An entitlement, a customer, two rows of the pair, a consume: the
        ids, a marker in the names and the row's contract id."""
        mark = "%s-marker-%s" % (who, new_id())
        e = self.make_entitlement(client, name="Ent " + mark, entitlement_type="Quantity")["id"]
        c = self.make_customer(client, customer_name="Cust " + mark, email="%s-%s@x.io" % (who.lower(), new_id()[:8]))["id"]
        contract = new_id()
        full = dict(active_from="2026-01-01T00:00:00Z", expiry_at="2099-01-01T00:00:00Z",
                    quantity=100, quantity_used=10, contract_id=contract)
        r = self.make_row(e, c, client, **full)["id"]
        self.make_row(e, c, client, **full)
        self.assertJson(client.post("/entitlements/%s/customer/%s/consume" % (e, c),
                                    {"quantity": 3}), 200)
        return {"E": e, "C": c, "R": r, "mark": mark, "contract": contract}

    # ---- A's state --------------------------------------------------------

    def walk(self, client, path, params=None):
        """Every item of a list, following `next`; (items, bodies)."""
        items, bodies, cursor = [], [], None
        for _ in range(200):
            p = dict(params or {})
            if cursor:
                p["cursor"] = cursor
            body = self.assertJson(client.get(url(path, p)), 200)
            bodies.append(body)
            items += list_items(body)
            cursor = body.get("next") if isinstance(body, dict) else None
            if not cursor:
                break
        return items, bodies

    def a_state(self):
        A = self.A
        st = {
            "customer": self.assertJson(self.a.get("/customers/%s" % A["C"]), 200),
            "entitlement": self.assertJson(self.a.get("/entitlements/%s" % A["E"]), 200),
            "rows": self.walk(self.a, "/entitlements/customer/%s" % A["C"])[0],
            "ledger": self.walk(self.a, "/entitlements/customer/%s/ledger" % A["C"])[0],
            "balance": self.assertJson(self.a.get(url(
                "/entitlements/%s/customer/%s/balance" % (A["E"], A["C"]),
                at="2050-01-01T00:00:00Z")), 200),
        }
        for path in ("/entitlements", "/customers", "/entitlements/customers_balances"):
            st[path] = sorted(x["id"] for x in self.walk(self.a, path)[0])
        return st

    def assert_a_unchanged(self, what):
        self.assertSame(self.before, self.a_state(), "A changed after %s" % what)

    def assert_nothing_of_a(self, resp, what):
        text = resp.body.decode("utf-8", "replace")
        for name in ("E", "C", "R", "mark", "contract"):
            self.assertNotIn(self.A[name], text, "A's %s in B's answer (%s)\n%s" % (name, what, resp))

    # ---- routes -----------------------------------------------------------

    def slots(self, method, pattern):
        names = PARAM_RE.findall(pattern)
        unknown = [n for n in names if n not in KINDS]
        if unknown:
            self.fail("%s %s: path parameter(s) %r unknown to this test: add them to KINDS"
                      % (method, pattern, unknown))
        out = {n: KINDS[n] for n in names}
        out.update(BODY_SLOTS.get((method, pattern), {}))
        return out

    def body(self, method, pattern, ids):
        if method in ("GET", "DELETE"):
            return None
        make = BODIES.get((method, pattern))
        if make is None:
            self.fail("%s %s takes a body this test does not know: add a valid one to BODIES"
                      % (method, pattern))
        return make(ids)

    def send(self, client, method, pattern, ids, auth=True):
        return client.request(method, fill(pattern, ids), self.body(method, pattern, ids), auth=auth)

    def variants(self, slots):
        """(label, {slot: "A" | "B" | "unknown"}): all of A's; with two slots
        or more, each of A's among B's own."""
        out = [("all of A's", {s: "A" for s in slots})]
        if len(slots) > 1:
            for s in slots:
                out.append(("A's %s among B's" % s, {t: ("A" if t == s else "B") for t in slots}))
        return out

    def ids_of(self, slots, choice):
        """Concrete ids: "A" -> A's object, "B" -> B's, "unknown" -> fresh."""
        ids = {}
        for s, kind in slots.items():
            who = choice[s]
            ids[s] = new_id() if who == "unknown" else (self.A if who == "A" else self.B)[kind]
        return ids

    def test_routes_cover_the_recent_ones(self):
        got = set(self.routes)
        for r in [("POST", "/entitlements/{entitlement_id}/customer/{customer_id}/consume"),
                  ("GET", "/entitlements/{entitlement_id}/customer/{customer_id}/balance"),
                  ("GET", "/entitlements/customer/{customer_id}/ledger")]:
            self.assertIn(r, got)

    def test_other_organisations_ids_404_on_every_route(self):
        checked = 0
        for method, pattern in self.routes:
            slots = self.slots(method, pattern)
            if not slots:
                continue
            for label, choice in self.variants(slots):
                with self.subTest(route="%s %s" % (method, pattern), variant=label):
                    theirs = self.send(self.b, method, pattern, self.ids_of(slots, choice))
                    unknown_choice = {s: ("unknown" if w == "A" else w) for s, w in choice.items()}
                    unknown = self.send(self.b, method, pattern, self.ids_of(slots, unknown_choice))
                    self.assertDetail(theirs, 404)
                    self.assertDetail(unknown, 404)
                    self.assertEqual(theirs.json, unknown.json,
                                     "another organisation's id answers differently from an "
                                     "unknown id:\n%s\n%s" % (theirs, unknown))
                    self.assert_nothing_of_a(theirs, label)
                    checked += 1
            with self.subTest(route="%s %s" % (method, pattern), check="A unchanged"):
                self.assert_a_unchanged("B's %s %s" % (method, pattern))
        self.assertGreaterEqual(checked, 15)

    def test_b_with_its_own_ids_sees_nothing_of_a(self):
        """Every read of B (its own ids in the path) answers 200 with nothing
        of A's in it, also when a query names A's objects; lists walked to
        their end. Also the control of the 404s above: B's own ids work."""
        for method, pattern in self.routes:
            if method != "GET":
                continue
            slots = self.slots(method, pattern)
            ids = self.ids_of(slots, {s: "B" for s in slots})
            path = fill(pattern, ids)
            queries = [{}] + QUERIES.get(pattern, lambda a: [])(self.A)
            for q in queries:
                with self.subTest(route=pattern, query=q):
                    r = self.b.get(url(path, q))
                    self.assertJson(r, 200)
                    self.assert_nothing_of_a(r, "GET %s %r" % (pattern, q))
                    body = r.json
                    if isinstance(body, dict) and (body.get("next") or "results" in body or "data" in body):
                        items, bodies = self.walk(self.b, path, q)
                        for bd in bodies:
                            text = repr(bd)
                            for name in ("E", "C", "R", "mark", "contract"):
                                self.assertNotIn(self.A[name], text, "A's %s in B's list %s %r"
                                                 % (name, pattern, q))
                        if q:
                            self.assertEqual(items, [], "B's list filtered by A's objects is not "
                                             "empty: %s %r" % (pattern, q))

    def test_b_writes_with_its_own_ids_leave_a_alone(self):
        """B's own writes on every write route succeed (the bodies are valid,
        so the 404s above are tenancy) and change nothing of A's. DELETE is
        done last, on objects made for it."""
        for method, pattern in self.routes:
            if method in ("GET", "DELETE"):
                continue
            slots = self.slots(method, pattern)
            ids = self.ids_of(slots, {s: "B" for s in slots})
            with self.subTest(route="%s %s" % (method, pattern)):
                r = self.send(self.b, method, pattern, ids)
                self.assertJson(r, 200)
                self.assert_nothing_of_a(r, "%s %s" % (method, pattern))
        for method, pattern in self.routes:
            if method != "DELETE":
                continue
            spare = self.objects(self.b, "B")  # a fresh pair to delete
            slots = self.slots(method, pattern)
            ids = {s: spare[k] for s, k in slots.items()}
            with self.subTest(route="%s %s" % (method, pattern)):
                r = self.send(self.b, method, pattern, ids)
                self.assertIn(r.status, (200, 409), str(r))  # 409: rows still use it
                self.assert_nothing_of_a(r, "%s %s" % (method, pattern))
        self.assert_a_unchanged("B's own writes")

    def test_create_naming_a_row_id(self):
        """B creates a row of its own pair with the id of A's row: never 200,
        and A's row is untouched."""
        r = self.b.post("/entitlements/%s/customer" % self.B["E"],
                        {"id": self.A["R"], "customer": self.B["C"], "quantity": 1})
        self.assertIn(r.status, (404, 409), str(r))
        self.assertDetail(r, r.status)
        self.assert_a_unchanged("B's create with A's row id")

    def test_revoked_key_401_on_every_route(self):
        key = harness.apikey_create(self.db, self.t.org)
        r = cli("apikey", "revoke", key[3:19], db=self.db)
        self.assertEqual(r.rc, 0, repr(r))
        revoked = Tenant(self.t.org, key)
        unknown_key = "ek_%s_%s" % (os.urandom(8).hex(), "A" * 43)
        b_org = self.tenants[1].org
        for method, pattern in self.routes:
            slots = self.slots(method, pattern)
            ids = self.ids_of(slots, {s: "A" for s in slots})
            for label, headers in (("A's organisation", revoked.headers()),
                                   ("B's organisation", {"x-api-key": key, "organisation": b_org}),
                                   ("no organisation", {"x-api-key": key})):
                with self.subTest(route="%s %s" % (method, pattern), org=label):
                    r = self.send(self.a, method, pattern, ids, auth=headers)
                    self.assertDetail(r, 401)
                    h = dict(headers, **{"x-api-key": unknown_key})
                    u = self.send(self.a, method, pattern, ids, auth=h)
                    self.assertEqual(r.json, u.json, "a revoked key answers differently from an "
                                     "unknown key:\n%s\n%s" % (r, u))
        self.assert_a_unchanged("requests with a revoked key")
        # A's live key still works
        self.assertJson(self.a.get("/customers/%s" % self.A["C"]), 200)

    def test_zz_a_unchanged_at_end(self):
        self.assert_a_unchanged("the whole class")
