"""Keyset paging (docs/API.md "Lists (issue 3)"): next and previous cursors
walk forward and back over every list and every sort, previous of page 2 is
page 1 exactly, next is null on the last page and previous on the first,
total_count is the number of matching rows; and a walk over 1,000 rows while
other threads insert and delete rows returns every row that existed
throughout exactly once, and no row twice."""

import base64
import random
import threading
import time

from harness import (Client, ServerTestCase, expected_order, fresh_client, list_items, new_id,
                     parse_dt, row_path, url)
from test_lists import ListMixin

ROW_SORTS = ["id", "created_at", "quantity", "quantity_used", "active_from", "expiry_at"]


def item_id(path, it):
    return it["entitlement"]["id"] if "/unique/" in path else it["id"]


class PagingMixin(ListMixin):
    def walk(self, client, path, params, limit, start=None, backward=False, pause=None, max_pages=2000):
        """Pages (bodies) from a first request (or the body start), following
        next (or previous when backward) until it is null."""
        pages = []
        if start is None:
            r = client.get(url(path, params, limit=limit))
            start = self.assertJson(r, 200)
        pages.append(start)
        key = "previous" if backward else "next"
        while pages[-1][key] is not None:
            if pause:
                pause()
            r = client.get(url(path, params, limit=limit, cursor=pages[-1][key]))
            pages.append(self.assertJson(r, 200, "following %s" % key))
            self.assertLess(len(pages), max_pages, "the walk does not end")
        return pages


class StaticPaging(ServerTestCase, PagingMixin):
    """One tenant: 23 customers and 23 entitlements; customer C0 holds a row
    of each entitlement and 3 more rows, with nulls and ties in every sort key."""

    N = 23

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ready = False

    def setUp(self):
        cls = type(self)
        if cls.ready:
            return
        names = ["n%02d" % (i % 7) for i in range(self.N)]  # ties
        cls.custs = [self.make_customer(customer_name=names[i]) for i in range(self.N)]
        cls.C = cls.custs[0]["id"]
        cls.ents = [self.make_entitlement(name=names[(i * 3) % self.N]) for i in range(self.N)]
        qs = [None, 1, 1, 2, None, 3, 0.5]
        days = [None, "2026-01-01", "2026-01-01", "2025-06-01T00:00:00.5Z", "2027-01-01", None]
        cls.rows = []
        for i in range(self.N + 3):
            e = cls.ents[i % self.N]["id"]
            fields = {"quantity": qs[i % len(qs)], "quantity_used": qs[(i + 3) % len(qs)],
                      "active_from": days[i % len(days)]}
            if days[(i + 2) % len(days)] is not None:
                fields["expiry_at"] = "2030-0%d-01" % (1 + i % 5)
            cls.rows.append(self.make_row(e, cls.C, **fields))
        cls.ready = True

    def lists(self):
        C = self.C
        return [
            ("/entitlements", ["id", "created_at", "name"], self.N),
            ("/customers", ["id", "created_at", "customer_name"], self.N),
            ("/customer", ["id", "created_at", "customer_name"], self.N),
            ("/entitlements/customer/%s" % C, ROW_SORTS, self.N + 3),
            ("/entitlements/customer/unique/%s" % C, ["id", "created_at", "name"], self.N),
            ("/entitlements/customers_balances", ROW_SORTS, self.N + 3),
        ]

    def sorts(self, keys):
        yield {}
        yield {"order": "created_at"}
        yield {"order": "-created_at"}
        for k in keys:
            for st in ("asc", "desc"):
                yield {"sort_key": k, "sort_type": st}

    def expected_ids(self, path, params, items):
        """The ids of items in the order docs/API.md gives for params."""
        if "/unique/" in path:
            items = [it["entitlement"] for it in items]
        key = params.get("sort_key")
        desc = params.get("sort_type") == "desc"
        if "order" in params:
            key, desc = "created_at", params["order"].startswith("-")
        elif key is None:
            key, desc = "created_at", "customers_balances" not in path
        if key in ("created_at", "active_from", "expiry_at"):
            f = lambda it: parse_dt(it[key])  # noqa: E731
        else:
            f = lambda it: it[key]  # noqa: E731
        return [it["id"] for it in expected_order(items, f, desc)]

    def check_walk(self, path, params, n, limit):
        everything = self.assertJson(self.c.get(url(path, params, limit=100)), 200)
        all_ids = [item_id(path, it) for it in list_items(everything)]
        self.assertEqual(len(all_ids), n, str(everything)[:500])
        self.assertEqual(self.expected_ids(path, params, list_items(everything)), all_ids,
                         "the list is not in the order of %r" % (params,))
        fwd = self.walk(self.c, path, params, limit)
        ids = [item_id(path, it) for p in fwd for it in list_items(p)]
        self.assertEqual(all_ids, ids, "a forward walk differs from the whole list")
        self.assertEqual(len(fwd), -(-n // limit), "number of pages (a last page with no rows?)")
        for i, p in enumerate(fwd):
            total = p.get("total_count", p.get("total"))
            self.assertEqual(total, n, "total on page %d" % i)
            self.assertEqual(p["previous"] is None, i == 0, "previous on page %d: %r" % (i, p["previous"]))
            self.assertEqual(p["next"] is None, i == len(fwd) - 1, "next on page %d: %r" % (i, p["next"]))
            self.assertEqual(len(list_items(p)), limit if i < len(fwd) - 1 else n - limit * i)
        back = self.walk(self.c, path, params, limit, start=fwd[-1], backward=True)
        self.assertEqual(len(back), len(fwd), "a backward walk has another number of pages")
        for i, (pb, pf) in enumerate(zip(back, fwd[::-1])):
            self.assertSame(list_items(pf), list_items(pb), "backward page %d differs" % i)
            self.assertEqual(pb["previous"] is None, pf["previous"] is None, "previous on backward page %d" % i)
            self.assertEqual(pb["next"] is None, pf["next"] is None, "next on backward page %d" % i)
        # the first page reached backward leads forward to page 2 again
        if len(fwd) > 1:
            r = self.c.get(url(path, params, limit=limit, cursor=back[-1]["next"]))
            self.assertSame(list_items(fwd[1]), list_items(self.assertJson(r, 200)),
                            "next of page 1 (reached backward) is not page 2")

    def test_walk_every_list_every_sort(self):
        for path, keys, n in self.lists():
            for params in self.sorts(keys):
                with self.subTest(path=path, **params):
                    self.check_walk(path, params, n, 5)

    def test_limits(self):
        for path, _keys, n in self.lists():
            for limit in (1, 2, 7, n - 1, n, n + 1):
                with self.subTest(path=path, limit=limit):
                    self.check_walk(path, {}, n, limit)

    def test_previous_of_page_2_is_page_1(self):
        for path, keys, _n in self.lists():
            for params in ({}, {"sort_key": keys[-1], "sort_type": "desc"}):
                with self.subTest(path=path, **params):
                    p1 = self.assertJson(self.c.get(url(path, params, limit=4)), 200)
                    p2 = self.assertJson(self.c.get(url(path, params, limit=4, cursor=p1["next"])), 200)
                    r = self.c.get(url(path, params, limit=4, cursor=p2["previous"]))
                    again = self.assertJson(r, 200)
                    self.assertSame(p1, again, "previous of page 2 is not page 1 exactly")

    def test_limit_may_change_between_pages(self):
        for path, keys, n in self.lists():
            with self.subTest(path=path):
                whole = self.assertJson(self.c.get(url(path, limit=100)), 200)
                want = [item_id(path, it) for it in list_items(whole)]
                p1 = self.assertJson(self.c.get(url(path, limit=3)), 200)
                p2 = self.assertJson(self.c.get(url(path, limit=8, cursor=p1["next"])), 200)
                self.assertEqual(want[3:11], [item_id(path, it) for it in list_items(p2)])
                p0 = self.assertJson(self.c.get(url(path, limit=2, cursor=p2["previous"])), 200)
                self.assertEqual(want[1:3], [item_id(path, it) for it in list_items(p0)],
                                 "previous with a smaller limit: the rows just before")
                self.assertIsNotNone(p0["previous"], "rows remain before; previous must not be null")

    def test_long_sort_values(self):
        # names of a few thousand characters: the cursors of a name sort must
        # still be accepted back
        c = fresh_client(self)
        cus = [self.make_customer(c, customer_name=ch * 3000) for ch in "dbca"]
        ents = [self.make_entitlement(c, name=ch * 3000) for ch in "zyx"]
        for e in ents:
            self.make_row(e["id"], cus[0]["id"], c)
        cases = [("/customers", "customer_name", cus), ("/entitlements", "name", ents),
                 ("/entitlements/customer/unique/%s" % cus[0]["id"], "name", ents)]
        for path, key, made in cases:
            for st in ("asc", "desc"):
                with self.subTest(path=path[:40], sort_type=st):
                    params = {"sort_key": key, "sort_type": st}
                    pages = [self.assertJson(c.get(url(path, params, limit=1)), 200)]
                    while pages[-1]["next"] and len(pages) < 10:
                        r = c.get(url(path, params, limit=1, cursor=pages[-1]["next"]))
                        self.assertEqual(r.status, 200, "following next: %d %s" % (r.status, r.text[:300]))
                        pages.append(r.json)
                    got = [item_id(path, it) for p in pages for it in list_items(p)]
                    want = [m["id"] for m in expected_order(made, lambda m: m[key], st == "desc")]
                    self.assertEqual(want, got)
                    r = c.get(url(path, params, limit=1, cursor=pages[-1]["previous"]))
                    self.assertEqual(r.status, 200, "following previous: %d %s" % (r.status, r.text[:300]))

    def test_exact_multiple_of_limit(self):
        c = fresh_client(self)
        made = [self.make_entitlement(c) for _ in range(20)]
        p1 = self.assertJson(c.get(url("/entitlements", limit=10)), 200)
        p2 = self.assertJson(c.get(url("/entitlements", limit=10, cursor=p1["next"])), 200)
        self.assertEqual(len(p2["results"]), 10)
        self.assertIsNone(p2["next"], "next on the last page of 20 rows by 10")
        self.assertEqual({e["id"] for e in made},
                         {x["id"] for x in p1["results"] + p2["results"]})

    def test_filtered_walk(self):
        e0 = self.ents[0]["id"]
        path = "/entitlements/customers_balances"
        params = {"quantity__gte": "1", "sort_key": "quantity", "sort_type": "desc"}
        want = [r for r in self.rows if r["quantity"] is not None and r["quantity"] >= 1]
        want = expected_order(want, lambda r: r["quantity"], True)
        pages = self.walk(self.c, path, params, 3)
        self.assertEqual([r["id"] for r in want], [x["id"] for p in pages for x in p["results"]])
        for p in pages:
            self.assertEqual(p["total_count"], len(want))
        pages = self.walk(self.c, "/entitlements/customer/%s" % self.C, {"entitlement": e0}, 1)
        self.assertEqual(len(pages), 2, "customer C0 holds 2 rows of entitlement 0")
        self.assertTrue(all(p["results"][0]["entitlement"] == e0 for p in pages))

    def test_cursor_keeps_working_after_its_row_is_deleted(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c)["id"]
        made = [self.make_row(e, cu, c, quantity=i % 3) for i in range(9)]
        path = "/entitlements/customers_balances"
        params = {"sort_key": "quantity", "sort_type": "asc"}
        p1 = self.assertJson(c.get(url(path, params, limit=3)), 200)
        last = p1["results"][-1]
        self.assertJson(c.request("DELETE", row_path(e, cu, last["id"])), 200)
        rest = self.walk(c, path, params, 3, start=self.assertJson(
            c.get(url(path, params, limit=3, cursor=p1["next"])), 200))
        ids = [x["id"] for x in p1["results"]] + [x["id"] for p in rest for x in p["results"]]
        want = [r["id"] for r in expected_order(made, lambda r: r["quantity"])]
        self.assertEqual(want, ids, "a cursor whose row was deleted must still name its position")



class RankedPaging(ServerTestCase, PagingMixin):
    """search_name_external_id pages by cursor like the rest: the key is the
    rank, then the sort, then the id, so a walk forward or back, at any page
    size, gives every match once, in rank order, with ties inside a rank."""

    ENVELOPE = ["data", "next", "previous", "total"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.made = None

    def setUp(self):
        cls = type(self)
        if cls.made is not None:
            return
        # exact, prefix and contains matches, by name and by external id, with
        # tied names inside each rank; and customers that do not match
        specs = []
        for i in range(7):
            specs += [("Kiwi", "k-%d" % i), ("kiwi-%d" % (i % 3), None), ("a kiwi %d" % (i % 2), None),
                      ("n%d" % (i % 2), "KIWI" if i % 2 else "kiwi%d" % i), ("plain %d" % i, "x%d" % i)]
        cls.made = [self.make_customer(customer_name=n, external_id=x) for n, x in specs]

    def expected(self, params):
        from test_lists import ranked_order
        key = params.get("sort_key", "created_at")
        desc = params.get("sort_type") == "desc" if "sort_key" in params else True
        if "order" in params:
            key, desc = params["order"].lstrip("-"), params["order"].startswith("-")
        f = (lambda m: parse_dt(m["created_at"])) if key == "created_at" else (lambda m: m[key])
        return [m["id"] for m in ranked_order(self.made, "kiwi", f, desc)]

    def check(self, params, limit):
        want = self.expected(params)
        self.assertEqual(len(want), 28)
        params = dict(params, search_name_external_id="kiwi")
        fwd = self.walk(self.c, "/customers", params, limit)
        got = [it["id"] for p in fwd for it in p["data"]]
        self.assertEqual(want, got, "a forward walk (limit %d) differs from rank then sort" % limit)
        self.assertEqual(len(fwd), -(-len(want) // limit))
        for i, p in enumerate(fwd):
            self.assertEqual(p["total"], len(want))
            self.assertEqual(p["previous"] is None, i == 0)
            self.assertEqual(p["next"] is None, i == len(fwd) - 1)
        back = self.walk(self.c, "/customers", params, limit, start=fwd[-1], backward=True)
        self.assertEqual([[it["id"] for it in p["data"]] for p in back[::-1]],
                         [[it["id"] for it in p["data"]] for p in fwd],
                         "a backward walk (limit %d) gives other pages" % limit)
        if len(fwd) > 1:
            r = self.c.get(url("/customers", params, limit=limit, cursor=back[-1]["next"]))
            self.assertSame(fwd[1]["data"], self.assertJson(r, 200)["data"],
                            "next of page 1 (reached backward) is not page 2")

    def test_walk_every_sort(self):
        sorts = [{}, {"order": "created_at"}, {"order": "-customer_name"}]
        sorts += [{"sort_key": k, "sort_type": st} for k in ("id", "created_at", "customer_name")
                  for st in ("asc", "desc")]
        for params in sorts:
            with self.subTest(**params):
                self.check(params, 3)

    def test_walk_every_limit(self):
        for limit in (1, 2, 5, 7, 27, 28, 29):
            for params in ({}, {"sort_key": "customer_name", "sort_type": "asc"}):
                with self.subTest(limit=limit, **params):
                    self.check(params, limit)

    def test_previous_of_page_2_is_page_1(self):
        params = {"search_name_external_id": "kiwi", "sort_key": "customer_name",
                  "sort_type": "desc"}
        p1 = self.assertJson(self.c.get(url("/customers", params, limit=4)), 200)
        p2 = self.assertJson(self.c.get(url("/customers", params, limit=4, cursor=p1["next"])), 200)
        again = self.assertJson(self.c.get(url("/customers", params, limit=4,
                                               cursor=p2["previous"])), 200)
        self.assertSame(p1, again, "previous of page 2 is not page 1 exactly")


class ConcurrentWalk(ServerTestCase, PagingMixin):
    """1,000 rows; walks with limit 37 while threads insert and delete rows."""

    ROWS = 1000
    LIMIT = 37
    MUTATORS = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ready = False

    def setUp(self):
        cls = type(self)
        if cls.ready:
            return
        cls.C = self.make_customer()["id"]
        cls.C2 = self.make_customer()["id"]
        cls.E = self.make_entitlement()["id"]
        cls.E2 = self.make_entitlement()["id"]
        # 900 rows (E, C), 50 (E, C2), 50 (E2, C): the filters matter
        pairs = [(cls.E, cls.C)] * (self.ROWS - 100) + [(cls.E, cls.C2)] * 50 + [(cls.E2, cls.C)] * 50
        random.Random(7).shuffle(pairs)
        cls.live = {}      # id -> (entitlement, customer)
        cls.lock = threading.Lock()
        errors = []
        chunks = [pairs[i::8] for i in range(8)]

        def make(chunk):
            cl = Client(self.server.port, self.t, persistent=True)
            rnd = random.Random(len(chunk))
            try:
                for e, cu in chunk:
                    q = rnd.choice([None, 1, 2, 3, 5, 8])
                    r = cl.post("/entitlements/%s/customer" % e, {"customer": cu, "quantity": q})
                    if r.status != 200:
                        errors.append(str(r))
                        continue
                    with cls.lock:
                        cls.live[r.json["id"]] = (e, cu)
            finally:
                cl.close()

        ths = [threading.Thread(target=make, args=(ch,)) for ch in chunks]
        for t in ths:
            t.start()
        for t in ths:
            t.join(600)
        self.assertEqual(errors, [], "creating the rows failed")
        self.assertEqual(len(cls.live), self.ROWS)
        cls.ready = True

    def mutate(self, stop, touched, inserted, errors, seed):
        """Insert and delete rows until stop is set. Ids are recorded before
        the request is sent."""
        cls = type(self)
        cl = Client(self.server.port, self.t, persistent=True)
        rnd = random.Random(seed)
        pairs = [(self.E, self.C), (self.E, self.C2), (self.E2, self.C)]
        n = 0
        try:
            while not stop.is_set() and n < 1000:
                n += 1
                e, cu = rnd.choice(pairs)
                rid = new_id()
                with cls.lock:
                    inserted.add(rid)
                r = cl.post("/entitlements/%s/customer" % e,
                            {"id": rid, "customer": cu, "quantity": rnd.choice([None, 1, 2, 3, 5, 8])})
                if r.status != 200:
                    errors.append("insert: %s" % r)
                    continue
                with cls.lock:
                    cls.live[rid] = (e, cu)
                    victim = rnd.choice(sorted(cls.live))
                    ve, vc = cls.live.pop(victim)
                    touched.add(victim)
                r = cl.request("DELETE", row_path(ve, vc, victim))
                if r.status != 200:
                    errors.append("delete: %s" % r)
                with cls.lock:
                    self.mutations += 1
                time.sleep(0.002)
        except Exception as ex:  # noqa: BLE001
            errors.append("%s: %s" % (type(ex).__name__, ex))
        finally:
            cl.close()

    def concurrent_walk(self, path, params, belongs, sort_value=None, desc=None):
        """Walk forward then back while mutators run; check both walks."""
        cls = type(self)
        walker = Client(self.server.port, self.t, persistent=True)
        stop = threading.Event()
        touched, inserted, errors = set(), set(), []
        with cls.lock:
            at_start = {i for i, pair in cls.live.items() if belongs(pair)}
        ths = [threading.Thread(target=self.mutate, args=(stop, touched, inserted, errors, s))
               for s in range(self.MUTATORS)]
        self.mutations = 0
        mark = [0]

        def pause():
            # let at least 2 mutations land between two pages (at most 2 s)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and self.mutations < mark[0] + 2 and not errors:
                time.sleep(0.001)
            mark[0] = self.mutations

        for t in ths:
            t.start()
        try:
            pause()
            fwd = self.walk(walker, path, params, self.LIMIT, pause=pause)
            with cls.lock:
                touched_fwd = set(touched)
            back = self.walk(walker, path, params, self.LIMIT, start=fwd[-1], backward=True, pause=pause)
        finally:
            stop.set()
            for t in ths:
                t.join(120)
            walker.close()
        self.assertEqual(errors, [], "a mutation failed")
        self.assertGreater(len(touched_fwd), 20, "too few mutations during the walk to test anything")
        if desc is None:
            desc = params.get("sort_type") == "desc"
        # Backward: the rows that existed before the forward walk began and
        # were never deleted (a row inserted after the last page was fetched
        # lies beyond it, so the backward walk rightly never sees it).
        for name, pages, stable in (("forward", fwd, at_start - touched_fwd),
                                    ("backward", back[::-1], at_start - touched)):
            items = [it for p in pages for it in p["results"]]
            ids = [it["id"] for it in items]
            dups = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
            self.assertEqual(dups, set(), "%s walk returned rows twice" % name)
            missing = stable - set(ids)
            self.assertEqual(missing, set(), "%s walk missed %d rows that existed throughout (of %d)"
                             % (name, len(missing), len(stable)))
            foreign = set(ids) - at_start - inserted
            self.assertEqual(foreign, set(), "%s walk returned rows that never matched" % name)
            for it in items:
                self.assertTrue(belongs((it["entitlement"], it["customer"])),
                                "%s walk returned a row outside the filter: %r" % (name, it))
            if sort_value is not None:
                keys = [((sort_value(it) is not None), sort_value(it) if sort_value(it) is not None else 0,
                         it["id"]) for it in items]
                want = sorted(keys, reverse=desc)
                self.assertEqual(keys, want, "%s walk is not in sort order" % name)
            for p in pages:
                self.assertLessEqual(len(p["results"]), self.LIMIT)

    def by_created(self, it):
        return parse_dt(it["created_at"])

    def test_balances_by_entitlement_asc(self):
        self.concurrent_walk("/entitlements/customers_balances",
                             {"entitlement": self.E, "sort_key": "created_at", "sort_type": "asc"},
                             lambda p: p[0] == self.E, self.by_created)

    def test_balances_by_entitlement_desc(self):
        self.concurrent_walk("/entitlements/customers_balances",
                             {"entitlement": self.E, "sort_key": "created_at", "sort_type": "desc"},
                             lambda p: p[0] == self.E, self.by_created)

    def test_balances_by_entitlement_default_sort(self):
        self.concurrent_walk("/entitlements/customers_balances", {"entitlement": self.E},
                             lambda p: p[0] == self.E, self.by_created, desc=False)

    def test_balances_by_quantity_with_ties_and_nulls(self):
        for st in ("asc", "desc"):
            with self.subTest(sort_type=st):
                self.concurrent_walk("/entitlements/customers_balances",
                                     {"entitlement": self.E, "sort_key": "quantity", "sort_type": st},
                                     lambda p: p[0] == self.E, lambda it: it["quantity"])

    def test_customer_rows_asc(self):
        self.concurrent_walk("/entitlements/customer/%s" % self.C,
                             {"sort_key": "created_at", "sort_type": "asc"},
                             lambda p: p[1] == self.C, self.by_created)

    def test_customer_rows_desc(self):
        self.concurrent_walk("/entitlements/customer/%s" % self.C,
                             {"sort_key": "created_at", "sort_type": "desc"},
                             lambda p: p[1] == self.C, self.by_created)

    def test_customer_rows_default_sort(self):
        self.concurrent_walk("/entitlements/customer/%s" % self.C, {},
                             lambda p: p[1] == self.C, self.by_created, desc=True)

    def test_customer_rows_by_quantity(self):
        for st in ("asc", "desc"):
            with self.subTest(sort_type=st):
                self.concurrent_walk("/entitlements/customer/%s" % self.C,
                                     {"sort_key": "quantity", "sort_type": st},
                                     lambda p: p[1] == self.C, lambda it: it["quantity"])


def raw_cursor(raw):
    """A cursor as the lists write them: the payload (bytes) in base64url
    without padding (src/api/query.c)."""
    if isinstance(raw, str):
        raw = raw.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# the value kinds of each sort key (src/api/query.c: "s<text>", "t<int64>",
# "q<millionths>", "n<double>" of old cursors, "-" null)
TEXT_SORTS = ("name", "customer_name")
TIME_SORTS = ("created_at", "seq")
NULL_TIME_SORTS = ("active_from", "expiry_at")
QTY_SORTS = ("quantity", "quantity_used")


class ForgedCursors(ServerTestCase):
    """Issue 13: cursors a client forged (well-formed base64url, fields in
    place, but nothing the server can have written) get the same 422 on
    both backends, never a 500 (PostgreSQL used to take some as bad
    parameters) nor a page that differs from one backend to the other: a
    sort value of another type than the sort's, null where the sort has no
    nulls, an id sort whose value is not the id, text that is not UTF-8,
    integers out of range or not plain digits. And the cursors the server
    can have written, forged alike, still answer 200 with the same page."""

    ID = "0f8e1c2a-4b3d-4e5f-8a9b-0c1d2e3f4a5b"
    OTHER = "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ready = False

    def setUp(self):
        cls = type(self)
        if cls.ready:
            return
        cu = self.make_customer(customer_name="acme forged")
        en = self.make_entitlement(name="forged")
        self.make_row(en["id"], cu["id"], quantity=5, expiry_at="2100-01-01T00:00:00Z")
        self.make_row(en["id"], cu["id"])
        r = self.c.post("/entitlements/%s/customer/%s/consume" % (en["id"], cu["id"]),
                        {"quantity": 1})
        self.assertJson(r, 200)
        cls.C = cu["id"]
        cls.ready = True

    def lists(self):
        C = self.C
        grant = ["id", "created_at", "quantity", "quantity_used", "active_from", "expiry_at"]
        return [
            ("/entitlements", {}, ["id", "created_at", "name"], "1"),
            ("/customers", {}, ["id", "created_at", "customer_name"], "1"),
            ("/customer", {}, ["id", "created_at", "customer_name"], "1"),
            ("/customers", {"search_name_external_id": "acme"},
             ["id", "created_at", "customer_name"], "2"),
            ("/entitlements/customer/%s" % C, {}, grant, "1"),
            ("/entitlements/customer/unique/%s" % C, {}, ["id", "created_at", "name"], "1"),
            ("/entitlements/customers_balances", {}, grant, "1"),
            ("/entitlements/customer/%s/ledger" % C, {}, ["seq"], "1"),
        ]

    def values(self, sort):
        """(the values the server can write for sort, the forged ones)."""
        text = ["sabc", "s", "sa|b", "sa\x00b", "s\u00c4\u03a9\U0001f600"]
        times = ["t0", "t1767225600000000", "t-5", "t9223372036854775807"]
        qtys = ["q0", "q1500000", "q999999999999999999", "n1.5", "n0"]
        bad_text = [b"s\xff", b"s\xc3", b"s\xed\xa0\x80", b"s\xc0\x80", b"sa\xf4\x90\x80\x80"]
        bad_times = ["t", "t1.5", "t+5", "t 5", "t5 ", "t5\x00", "t0x10", "t9223372036854775808",
                     "t-9223372036854775809", "t99999999999999999999"]
        bad_qtys = ["q", "q1.5", "q+5", "q 5", "q5\x001", "q1000000000000000000",
                    "q99999999999999999999",
                    "n", "nnan", "ninf", "n-inf", "n1e300", "n0x10", "n1.5 "]
        if sort == "id":
            ok = ["s" + self.ID]
            bad = ["s" + self.OTHER, "s" + self.ID.upper(), "s", "-", "t5", "q5", "n5"] + text
        elif sort in TEXT_SORTS:
            ok = text
            bad = ["-"] + times[:2] + qtys[:2] + bad_text
        elif sort in TIME_SORTS:
            ok = times
            bad = ["-"] + text[:2] + qtys[:2] + bad_times
        elif sort in NULL_TIME_SORTS:
            ok = ["-"] + times
            bad = text[:2] + qtys[:2] + bad_times
        else:
            self.assertIn(sort, QTY_SORTS)
            ok = ["-"] + qtys
            bad = text[:2] + times[:2] + bad_qtys
        return ok, bad

    def check(self, path, params, sort, desc, version, value, want_ok, problems):
        """One cursor; what is wrong with its answer goes to problems."""
        rank = "1|" if version == "2" else ""
        head = "%s|%s|%s|n|%s|5|%s" % (version, sort, "d" if desc else "a", self.ID, rank)
        cur = raw_cursor(head.encode() + (value if isinstance(value, bytes) else value.encode()))
        q = dict(params, sort_key=sort, sort_type="desc" if desc else "asc", limit=2, cursor=cur)
        r = self.c.get(url(path, q))
        where = "%s %s %s %r -> %d %s" % (path, sort, "desc" if desc else "asc", value, r.status,
                                         r.body[:200])
        if want_ok:
            # the page after the position, with the total the cursor carries
            if r.status != 200 or r.json.get("total_count", r.json.get("total")) != 5:
                problems.append(("accepted", r.status, where))
            return
        errs = r.json.get("detail") if r.status == 422 else None
        if errs != [{"type": "value_error", "loc": ["query", "cursor"],
                     "msg": "Value error, malformed cursor", "input": cur}]:
            problems.append(("forged", r.status, where))

    def report(self, problems, n):
        counts = {}
        for kind, status, _ in problems:
            counts["%s %d" % (kind, status)] = counts.get("%s %d" % (kind, status), 0) + 1
        self.assertEqual(problems, [], "%d of %d cursors answered wrongly %r:\n%s"
                         % (len(problems), n, counts, "\n".join(w for _, _, w in problems[:40])))

    def test_forged_cursors_on_every_list(self):
        n, problems = 0, []
        for path, params, sorts, version in self.lists():
            for sort in sorts:
                ok, bad = self.values(sort)
                for desc in (False, True):
                    for v in ok:
                        self.check(path, params, sort, desc, version, v, True, problems)
                        n += 1
                    for v in bad:
                        self.check(path, params, sort, desc, version, v, False, problems)
                        n += 1
        self.assertGreater(n, 500)
        self.report(problems, n)

    def test_forged_heads(self):
        """The fields before the value: the version, direction, id and
        total as the server writes them, and nothing else."""
        n, problems = 0, []
        for path, params, sorts, version in self.lists():
            sort = sorts[0]
            value = self.values(sort)[0][0]
            rank = "1|" if version == "2" else ""
            for head in ("%s|%s|a|n|%s|+5|" % (version, sort, self.ID),
                         "%s|%s|a|n|%s| 5|" % (version, sort, self.ID),
                         "%s|%s|a|n|%s|99999999999999999999|" % (version, sort, self.ID),
                         "%s|%s|a|n|%s|0x5|" % (version, sort, self.ID),
                         "%s|%s|a|x|%s|5|" % (version, sort, self.ID),
                         "%s|%s|ad|n|%s|5|" % (version, sort, self.ID),
                         "%s|%s|a|n|%s|5\x007|" % (version, sort, self.ID),
                         "%s|%s|a\x00|n|%s|5|" % (version, sort, self.ID),
                         "%s|%s|a|n|%s|5|" % (version, sort, self.ID.upper()),
                         "%s|%s|a|n|%s|5|" % (version, sort, self.ID[:-1])):
                cur = raw_cursor(head + rank + value)
                q = dict(params, sort_key=sort, sort_type="asc", cursor=cur)
                r = self.c.get(url(path, q))
                n += 1
                errs = r.json.get("detail") if r.status == 422 else None
                if not errs or errs[0].get("msg") != "Value error, malformed cursor":
                    problems.append(("forged", r.status, "%s %r -> %d %s"
                                     % (path, head, r.status, r.body[:200])))
        self.report(problems, n)

    def test_cursors_of_other_lists_sorts(self):
        """A cursor naming a sort this list does not have (another list's,
        or none), or a ranked cursor where the list is not ranked: the
        cursor belongs to another sort, on both backends."""
        n, problems = 0, []
        all_sorts = {s for _, _, sorts, _ in self.lists() for s in sorts} | {"bogus", ""}
        for path, params, sorts, version in self.lists():
            others = [(version, s) for s in sorted(all_sorts - set(sorts))]
            others += [("2" if version == "1" else "1", s) for s in sorts]
            for v, sort in others:
                value = self.values(sort)[0][0] if sort in all_sorts - {"bogus", ""} else "sx"
                rank = "1|" if v == "2" else ""
                cur = raw_cursor("%s|%s|a|n|%s|5|%s%s" % (v, sort, self.ID, rank, value))
                r = self.c.get(url(path, dict(params, cursor=cur)))
                n += 1
                errs = r.json.get("detail") if r.status == 422 else None
                if errs != [{"type": "value_error", "loc": ["query", "cursor"],
                             "msg": "Value error, the cursor belongs to another sort",
                             "input": cur}]:
                    problems.append(("other", r.status, "%s %s|%s -> %d %s"
                                     % (path, v, sort, r.status, r.body[:200])))
        self.assertGreater(n, 40)
        self.report(problems, n)
