"""The ledger (issue 5): GET /entitlements/customer/{C}/ledger, its entries
for create, update (PATCH), consume and delete with exact deltas and values,
the per-organisation gapless seq, one seq per change, ordering, paging,
filters and their errors, and the request ids recorded in the entries, as
docs/API.md "Consumption, the ledger and idempotency" says.

Tests that count seq from 1 make their own organisation (fresh_client)."""

from harness import (ServerTestCase, UUID_RE, fresh_client, new_id, parse_dt, patch_body, url)
from ledger_check import (CUST_404, ENTRY_KEYS, by_seq, consume_path, delete, entries_of,
                          entry_key, fmt_dt, ledger_path, now_dt, pause, row_path, walk)

INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


def uuid_error(loc_kind, name, value="nope"):
    assert value == "nope"
    return {"type": "uuid_parsing", "loc": [loc_kind, name],
            "msg": "Input should be a valid UUID, invalid character: found `n` at 1",
            "input": value, "ctx": {"error": "invalid character: found `n` at 1"}}


def entry(seq, kind, e, c, rid, qd, qud, q, qu, af, ex, request_id, key=None):
    return {"seq": seq, "at": "{AT}", "kind": kind, "entitlement": e, "customer": c,
            "row_id": rid, "quantity_delta": qd, "quantity_used_delta": qud, "quantity": q,
            "quantity_used": qu, "active_from": af, "expiry_at": ex, "request_id": request_id,
            "idempotency_key": key}


class LedgerCase(ServerTestCase):
    def pair(self, client=None):
        e = self.make_entitlement(client, entitlement_type="Quantity")["id"]
        c = self.make_customer(client)["id"]
        return e, c

    def create(self, e, c, client=None, headers=None, **fields):
        body = {"customer": c}
        body.update(fields)
        r = (client or self.c).post("/entitlements/%s/customer" % e, body, headers=headers)
        self.assertJson(r, 200)
        return r

    def patch(self, e, c, rid, client=None, headers=None, **fields):
        r = (client or self.c).patch(row_path(e, c, rid), patch_body(e, c, **fields), headers=headers)
        self.assertJson(r, 200)
        return r

    def consume(self, e, c, q, client=None, headers=None, **extra):
        body = {"quantity": q}
        body.update(extra)
        r = (client or self.c).post(consume_path(e, c), body, headers=headers)
        self.assertJson(r, 200)
        return r

    def ledger(self, c, client=None, **params):
        return entries_of(self, client or self.c, c, **params)

    def assertEntryShape(self, ent, msg=""):
        self.assertEqual(list(ent.keys()), ENTRY_KEYS, "entry members or their order %s\n%r"
                         % (msg, ent))
        self.assertIsInstance(ent["seq"], int, repr(ent))
        self.assertDateTime(ent["at"], repr(ent))

    def assertEntries(self, want, got, window=None):
        """Entries exactly (`at` checked for format, and within window=(t0, t1)
        when given, then taken from `got`)."""
        self.assertEqual(len(want), len(got), "number of entries\nwant %r\ngot  %r" % (want, got))
        for w, g in zip(want, got):
            self.assertEntryShape(g)
            if window:
                at = parse_dt(g["at"])
                self.assertTrue((window[0] - at).total_seconds() < 2
                                and (at - window[1]).total_seconds() < 2,
                                "entry at %s is not when the change was made (%s .. %s)"
                                % (g["at"], fmt_dt(window[0]), fmt_dt(window[1])))
            w = dict(w, at=g["at"])
            self.assertSame(w, g, "entry of seq %r" % g.get("seq"))


class LedgerEntries(LedgerCase):
    def test_entries_of_each_kind(self):
        cl = fresh_client(self, "LedgerKinds")
        e, c = self.pair(cl)
        t0 = now_dt()
        r = self.create(e, c, cl, quantity=10, quantity_used=2, active_from="2026-01-01",
                        expiry_at="2099-01-01T00:00:00Z", contract_id=new_id())
        rid = r.json["id"]
        af, ex = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"
        want = [entry(1, "create", e, c, rid, 10, 2, 10, 2, af, ex, r.header("x-request-id"))]
        r = self.patch(e, c, rid, cl, quantity=4, quantity_used=None)
        want.append(entry(2, "update", e, c, rid, -6, -2, 4, None, af, ex, r.header("x-request-id")))
        r = self.patch(e, c, rid, cl, quantity=4)  # the same value: still an entry
        want.append(entry(3, "update", e, c, rid, 0, 0, 4, None, af, ex, r.header("x-request-id")))
        r = self.patch(e, c, rid, cl, expiry_at=None, quantity_used=1)
        want.append(entry(4, "update", e, c, rid, 0, 1, 4, 1, af, None, r.header("x-request-id")))
        r = self.consume(e, c, 2.5, cl)
        self.assertEqual(r.json["ledger_seq"], 5, str(r))
        want.append(entry(5, "consume", e, c, rid, 0, 2.5, 4, 3.5, af, None, r.header("x-request-id")))
        r = self.create(e, c, cl)  # no quantity at all
        rid2 = r.json["id"]
        want.append(entry(6, "create", e, c, rid2, 0, 0, None, None, None, None,
                          r.header("x-request-id")))
        r = delete(cl, row_path(e, c, rid))
        self.assertJson(r, 200)
        want.append(entry(7, "delete", e, c, rid, -4, -3.5, None, None, None, None,
                          r.header("x-request-id")))
        r = self.patch(e, c, rid2, cl, quantity=8, active_from="2026-02-01T00:00:00+01:00")
        want.append(entry(8, "update", e, c, rid2, 8, 0, 8, None, "2026-01-31T23:00:00Z", None,
                          r.header("x-request-id")))
        t1 = now_dt()
        for w in want:
            self.assertRegex(w["request_id"] or "", r"\S", "an answer without X-Request-Id")
        self.assertEntries(want, self.ledger(c, cl), (t0, t1))

    def test_consume_entry_at_is_when_not_the_consumed_instant(self):
        # `at` of an entry is when the change was made; a consume's own `at`
        # (the instant whose active rows it draws from) is not recorded there
        e, c = self.pair()
        self.create(e, c, quantity=5, active_from="2030-01-01T00:00:00Z")
        t0 = now_dt()
        r = self.consume(e, c, 1, at="2030-06-01T00:00:00Z")
        t1 = now_dt()
        self.assertEqual(r.json["at"], "2030-06-01T00:00:00Z")
        got = self.ledger(c, kind="consume")
        self.assertEqual(len(got), 1, str(got))
        at = parse_dt(got[0]["at"])
        self.assertTrue((t0 - at).total_seconds() < 2 and (at - t1).total_seconds() < 2,
                        "entry at %s is not when the consume was made" % got[0]["at"])
        self.assertEqual(got[0]["active_from"], "2030-01-01T00:00:00Z")

    def test_patch_without_fields_writes_no_entry(self):
        # docs/API.md: a PATCH naming no field is a read: nothing changed, so
        # no entry (and the next change takes the next seq)
        e, c = self.pair()
        rid = self.create(e, c, quantity=3).json["id"]
        r = self.patch(e, c, rid)
        self.assertJson(r, 200)
        got = self.ledger(c)
        self.assertEqual([x["kind"] for x in got], ["create"], "a PATCH with no field wrote:\n%r" % got)
        r = self.patch(e, c, rid, quantity=3)  # the same value, but named: an entry
        got = self.ledger(c)
        self.assertEqual([x["kind"] for x in got], ["create", "update"], str(got))
        self.assertEqual(got[1]["seq"], got[0]["seq"] + 1, str(got))
        self.assertSame([0, 0, 3, None], [got[1][k] for k in ("quantity_delta", "quantity_used_delta",
                                                             "quantity", "quantity_used")])

    def test_entry_at_follows_the_changes(self):
        e, c = self.pair()
        rid = self.create(e, c, quantity=100).json["id"]
        for i in range(4):
            pause()
            self.patch(e, c, rid, quantity=100 + i)
        got = self.ledger(c)
        ats = [parse_dt(x["at"]) for x in got]
        self.assertEqual(ats, sorted(ats), "entries oldest first: %r" % [x["at"] for x in got])
        self.assertEqual(len(set(ats)), len(ats), "20 ms apart but the same at")

    def test_seq_per_organisation_gapless_failures_take_none(self):
        cl = fresh_client(self, "LedgerSeq")
        e1, c1 = self.pair(cl)
        e2, c2 = self.pair(cl)
        r1 = self.create(e1, c1, cl, quantity=10).json["id"]                      # 1
        r2 = self.create(e2, c2, cl, quantity=5).json["id"]                       # 2
        self.assertEqual(cl.post(consume_path(e1, c1), {"quantity": 20}).status, 409)
        self.assertEqual(cl.patch(row_path(e1, c1, new_id()), patch_body(e1, c1, quantity=1)).status, 404)
        self.assertEqual(cl.patch(row_path(e1, c1, r1), patch_body(e1, c1, quantity=-1)).status, 422)
        self.assertEqual(cl.post("/entitlements/%s/customer" % e1,
                                 {"customer": c1, "id": r1, "quantity": 1}).status, 409)
        self.assertEqual(cl.post(consume_path(e1, c1), {"quantity": 0}).status, 422)
        r3 = self.create(e1, c1, cl, quantity=10, expiry_at="2099-01-01T00:00:00Z").json["id"]  # 3
        multi = self.consume(e1, c1, 15, cl)                                      # 4: two rows
        self.assertEqual(multi.json["ledger_seq"], 4, str(multi))
        one = self.consume(e2, c2, 1, cl)                                         # 5
        self.assertEqual(one.json["ledger_seq"], 5, str(one))
        self.assertEqual(delete(cl, row_path(e1, c1, new_id())).status, 404)
        self.assertJson(delete(cl, row_path(e2, c2, r2)), 200)                    # 6
        self.patch(e1, c1, r3, cl, quantity=11)                                   # 7
        l1, l2 = self.ledger(c1, cl), self.ledger(c2, cl)
        seqs = by_seq(l1 + l2)
        self.assertEqual(sorted(seqs), list(range(1, 8)), "seqs of the organisation: %r" % sorted(seqs))
        self.assertEqual([x["seq"] for x in l1], [1, 3, 4, 4, 7], str(l1))
        self.assertEqual([x["seq"] for x in l2], [2, 5, 6], str(l2))
        self.assertEqual(sorted(x["row_id"] for x in seqs[4]), sorted([r1, r3]))
        self.assertEqual({x["kind"] for x in seqs[4]}, {"consume"})
        self.assertEqual([x["kind"] for x in l2], ["create", "consume", "delete"])
        # another organisation counts from 1 too
        other = fresh_client(self, "LedgerSeq2")
        e, c = self.pair(other)
        r = self.create(e, c, other, quantity=1)
        got = self.ledger(c, other)
        self.assertEqual([(x["seq"], x["kind"], x["row_id"]) for x in got],
                         [(1, "create", r.json["id"])])
        r = self.consume(e, c, 1, other)
        self.assertEqual(r.json["ledger_seq"], 2, str(r))

    def test_multi_row_consume_one_seq(self):
        e, c = self.pair()
        rids = [self.create(e, c, quantity=2, quantity_used=i * 0.5,
                            expiry_at="2099-0%d-01T00:00:00Z" % (i + 1)).json["id"] for i in range(4)]
        r = self.consume(e, c, 4)  # 2 + 1.5 + 0.5 of the third
        ans = r.json
        self.assertEqual([d["id"] for d in ans["draws"]], rids[:3], str(r))
        self.assertSame([2, 1.5, 0.5], [d["quantity_drawn"] for d in ans["draws"]], str(r))
        seq = ans["ledger_seq"]
        got = [x for x in self.ledger(c) if x["kind"] == "consume"]
        self.assertEqual({x["seq"] for x in got}, {seq}, str(got))
        self.assertEqual(len(got), 3, str(got))
        draws = {d["id"]: d for d in ans["draws"]}
        for x in got:
            self.assertEntryShape(x)
            d = draws[x["row_id"]]
            self.assertSame(d["quantity_drawn"], x["quantity_used_delta"], repr(x))
            self.assertSame(0, x["quantity_delta"], repr(x))
            self.assertSame(d["quantity_used"], x["quantity_used"], repr(x))
            self.assertSame(d["quantity"], x["quantity"], repr(x))
            self.assertEqual(x["request_id"], r.header("x-request-id"), repr(x))
            self.assertIsNone(x["idempotency_key"], repr(x))
        self.assertEqual(len({x["at"] for x in got}), 1, "one change, several instants: %r" % got)
        # the total of the deltas is what was asked
        self.assertSame(4, sum(x["quantity_used_delta"] for x in got))

    def test_other_customers_entries_not_listed(self):
        e, c1 = self.pair()
        c2 = self.make_customer()["id"]
        a = self.create(e, c1, quantity=1).json["id"]
        self.create(e, c2, quantity=1)
        self.consume(e, c2, 1)
        got = self.ledger(c1)
        self.assertEqual([(x["kind"], x["row_id"], x["customer"]) for x in got],
                         [("create", a, c1)])

    def test_deleted_rows_keep_their_entries(self):
        e, c = self.pair()
        rid = self.create(e, c, quantity=3).json["id"]
        self.consume(e, c, 1)
        self.assertJson(delete(self.c, row_path(e, c, rid)), 200)
        got = self.ledger(c, row=rid)
        self.assertEqual([x["kind"] for x in got], ["create", "consume", "delete"], str(got))
        self.assertSame([None] * 4, [got[-1][k] for k in ("quantity", "quantity_used", "active_from",
                                                         "expiry_at")])
        self.assertSame([-3, -1], [got[-1]["quantity_delta"], got[-1]["quantity_used_delta"]])

    def test_order_oldest_first_and_desc(self):
        e, c = self.pair()
        rids = [self.create(e, c, quantity=1, expiry_at="2099-0%d-01T00:00:00Z" % (i + 1)).json["id"]
                for i in range(3)]
        self.consume(e, c, 3)
        self.patch(e, c, rids[0], quantity=2)
        asc = self.ledger(c)
        desc = self.ledger(c, sort_type="desc")
        seqs = [x["seq"] for x in asc]
        self.assertEqual(seqs, sorted(seqs), "oldest first")
        self.assertEqual([x["seq"] for x in desc], sorted(seqs, reverse=True), "sort_type=desc")
        self.assertEqual(sorted(map(entry_key, asc)), sorted(map(entry_key, desc)))
        self.assertEqual(self.ledger(c, sort_type="asc"), asc)


class LedgerRequestIds(LedgerCase):
    def test_client_request_id_echoed_and_recorded(self):
        e, c = self.pair()
        for sent in ("req-" + new_id(), "x" * 128, "A", "a b!~{}"):
            with self.subTest(sent=sent[:20]):
                r = self.create(e, c, headers={"X-Request-Id": sent}, quantity=1)
                self.assertEqual(r.header("x-request-id"), sent, str(r))
                got = self.ledger(c, row=r.json["id"])
                self.assertEqual([x["request_id"] for x in got], [sent])

    def test_unusable_request_id_replaced_by_a_uuid(self):
        e, c = self.pair()
        for sent in ("x" * 129, "r\u00e9q", "a\tb", None):
            with self.subTest(sent=sent if sent is None else sent[:20]):
                headers = {} if sent is None else {"X-Request-Id": sent}
                r = self.create(e, c, headers=headers, quantity=1)
                rid_hdr = r.header("x-request-id")
                self.assertRegex(rid_hdr or "", UUID_RE, str(r))
                got = self.ledger(c, row=r.json["id"])
                self.assertEqual([x["request_id"] for x in got], [rid_hdr])

    def test_every_answer_has_a_request_id(self):
        e, c = self.pair()
        ids = set()
        for r in (self.c.get("/entitlements/%s" % e), self.c.get(ledger_path(c)),
                  self.c.get(ledger_path(new_id())), self.c.post(consume_path(e, c), {"quantity": 1}),
                  self.c.post(consume_path(e, c), {"quantity": 0})):
            self.assertRegex(r.header("x-request-id") or "", UUID_RE, str(r))
            ids.add(r.header("x-request-id"))
        self.assertEqual(len(ids), 5, "request ids repeat: %r" % ids)

    def test_consume_patch_delete_record_the_request_id(self):
        e, c = self.pair()
        rid = self.create(e, c, quantity=5).json["id"]
        sent = {}
        r = self.consume(e, c, 2, headers={"X-Request-Id": "consume-" + rid})
        sent[r.json["ledger_seq"]] = "consume-" + rid
        self.patch(e, c, rid, headers={"X-Request-Id": "patch-" + rid}, quantity=6)
        self.assertJson(delete(self.c, row_path(e, c, rid), headers={"X-Request-Id": "delete-" + rid}), 200)
        got = self.ledger(c)
        self.assertEqual([(x["kind"], x["request_id"]) for x in got[1:]],
                         [("consume", "consume-" + rid), ("update", "patch-" + rid),
                          ("delete", "delete-" + rid)])


class LedgerPaging(LedgerCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ready = False

    def setUp(self):
        cls = type(self)
        if cls.ready:
            return
        # two entitlements, 6 rows, multi-row consumes, patches and deletes
        e1, c = self.pair()
        e2 = self.make_entitlement(entitlement_type="Credits")["id"]
        rows1 = [self.create(e1, c, quantity=3, expiry_at="2099-0%d-01T00:00:00Z" % (i + 1)).json["id"]
                 for i in range(4)]
        rows2 = [self.create(e2, c, quantity=10).json["id"] for _ in range(2)]
        pause()
        self.consume(e1, c, 5)          # two rows
        self.consume(e2, c, 12)         # two rows
        pause()
        self.consume(e1, c, 4)          # two rows
        self.patch(e1, c, rows1[3], quantity=9)
        self.assertJson(delete(self.c, row_path(e2, c, rows2[0])), 200)
        pause()
        self.consume(e1, c, 1)
        self.patch(e2, c, rows2[1], quantity_used=0)
        cls.e1, cls.e2, cls.cust, cls.rows1, cls.rows2 = e1, e2, c, rows1, rows2
        r = self.c.get(ledger_path(c, limit=100))
        cls.full = self.assertJson(r, 200)["results"]
        cls.ready = True

    def test_full_list(self):
        self.assertEqual(len(self.full), 6 + 2 + 2 + 2 + 1 + 1 + 1 + 1, str(self.full))
        keys = [entry_key(x) for x in self.full]
        self.assertEqual(len(set(keys)), len(keys), "duplicate entries")
        self.assertEqual([k[0] for k in keys], sorted(k[0] for k in keys))
        for x in self.full:
            self.assertEntryShape(x)

    def test_walk_every_limit(self):
        for limit in (1, 2, 3, 4, 7, 17, 18, 100):
            with self.subTest(limit=limit):
                got, pages = walk(self, self.c, self.cust, limit=limit)
                self.assertEqual(got, self.full, "walk with limit %d" % limit)
                self.assertIsNone(pages[0]["previous"])
                self.assertIsNone(pages[-1]["next"])
                for p in pages:
                    self.assertEqual(p["total_count"], len(self.full))
                    self.assertLessEqual(len(p["results"]), limit)
                self.assertEqual(len(pages), -(-len(self.full) // limit))

    def test_previous_cursor_goes_back(self):
        got, pages = walk(self, self.c, self.cust, limit=4)
        for k in range(1, len(pages)):
            prev = pages[k]["previous"]
            self.assertIsNotNone(prev, "page %d has no previous" % (k + 1))
            r = self.c.get(ledger_path(self.cust, limit=4, cursor=prev))
            body = self.assertJson(r, 200)
            self.assertEqual(body["results"], pages[k - 1]["results"], "previous of page %d" % (k + 1))

    def test_walk_desc(self):
        full_desc = self.assertJson(self.c.get(ledger_path(self.cust, limit=100, sort_type="desc")),
                                    200)["results"]
        self.assertEqual(sorted(map(entry_key, full_desc)), sorted(map(entry_key, self.full)))
        self.assertEqual([x["seq"] for x in full_desc], sorted((x["seq"] for x in self.full), reverse=True))
        got, pages = walk(self, self.c, self.cust, {"sort_type": "desc"}, limit=3)
        self.assertEqual(got, full_desc)
        for k in range(1, len(pages)):
            r = self.c.get(ledger_path(self.cust, limit=3, sort_type="desc", cursor=pages[k]["previous"]))
            self.assertEqual(self.assertJson(r, 200)["results"], pages[k - 1]["results"])

    def test_filters(self):
        full = self.full
        mid = full[len(full) // 2]
        s, at = mid["seq"], mid["at"]
        e1, e2 = self.e1, self.e2
        cases = [
            ({"entitlement": e1}, lambda x: x["entitlement"] == e1),
            ({"entitlement": e2.upper()}, lambda x: x["entitlement"] == e2),
            ({"entitlement": new_id()}, lambda x: False),
            ({"entitlement__in": "%s,%s" % (e1, e2)}, lambda x: True),
            ({"entitlement__in": "%s,%s" % (e2, new_id())}, lambda x: x["entitlement"] == e2),
            ({"row": self.rows1[0]}, lambda x: x["row_id"] == self.rows1[0]),
            ({"row": self.rows2[0]}, lambda x: x["row_id"] == self.rows2[0]),
            ({"kind": "consume"}, lambda x: x["kind"] == "consume"),
            ({"kind": "update"}, lambda x: x["kind"] == "update"),
            ({"kind__in": "create,delete"}, lambda x: x["kind"] in ("create", "delete")),
            ({"seq__gt": s}, lambda x: x["seq"] > s),
            ({"seq__gte": s}, lambda x: x["seq"] >= s),
            ({"seq__lt": s}, lambda x: x["seq"] < s),
            ({"seq__lte": s}, lambda x: x["seq"] <= s),
            ({"seq__gte": s, "seq__lte": s}, lambda x: x["seq"] == s),
            ({"at__gt": at}, lambda x: parse_dt(x["at"]) > parse_dt(at)),
            ({"at__gte": at}, lambda x: parse_dt(x["at"]) >= parse_dt(at)),
            ({"at__lt": at}, lambda x: parse_dt(x["at"]) < parse_dt(at)),
            ({"at__lte": at}, lambda x: parse_dt(x["at"]) <= parse_dt(at)),
            ({"entitlement": e1, "kind": "consume", "seq__gte": s},
             lambda x: x["entitlement"] == e1 and x["kind"] == "consume" and x["seq"] >= s),
        ]
        for params, keep in cases:
            with self.subTest(params=params):
                want = [x for x in full if keep(x)]
                r = self.c.get(ledger_path(self.cust, params, limit=100))
                body = self.assertJson(r, 200)
                self.assertEqual(body["results"], want, str(r))
                self.assertEqual(body["total_count"], len(want), str(r))
                got, _pages = walk(self, self.c, self.cust, params, limit=2)
                self.assertEqual(got, want, "walk of %r" % params)
        # each filter narrows something here (the data is not degenerate)
        self.assertTrue(0 < len([x for x in full if x["seq"] > s]) < len(full))
        self.assertTrue(0 < len([x for x in full if parse_dt(x["at"]) < parse_dt(at)]) < len(full))

    def test_default_limit_50(self):
        e, c = self.pair()
        rid = self.create(e, c, quantity=0).json["id"]
        for i in range(54):
            self.patch(e, c, rid, quantity=i + 1)
        r = self.c.get(ledger_path(c))
        body = self.assertJson(r, 200)
        self.assertEqual(len(body["results"]), 50)
        self.assertEqual(body["total_count"], 55)
        self.assertIsNotNone(body["next"])
        self.assertIsNone(body["previous"])
        self.assertEqual([x["seq"] for x in body["results"]], sorted(x["seq"] for x in body["results"]))
        r = self.c.get(ledger_path(c, cursor=body["next"]))
        body2 = self.assertJson(r, 200)
        self.assertEqual(len(body2["results"]), 5)
        self.assertIsNone(body2["next"])
        self.assertSame(54, body2["results"][-1]["quantity"])
        self.assertEqual(len(self.ledger(c)), 55)

    def test_limit_errors(self):
        loc = ["query", "limit"]
        for value, want in (
                ("0", {"type": "greater_than_equal", "loc": loc,
                       "msg": "Input should be greater than or equal to 1", "input": "0", "ctx": {"ge": 1}}),
                ("101", {"type": "less_than_equal", "loc": loc,
                         "msg": "Input should be less than or equal to 100", "input": "101",
                         "ctx": {"le": 100}}),
                ("x", {"type": "int_parsing", "loc": loc, "msg": INT_PARSING, "input": "x"})):
            with self.subTest(limit=value):
                r = self.c.get(ledger_path(self.cust, limit=value))
                self.assertSame([want], self.assert422(r), str(r))

    def test_parameter_errors(self):
        c = self.cust
        r = self.c.get(ledger_path(c, foo="1"))
        self.assertSame([{"type": "extra_forbidden", "loc": ["query", "foo"],
                          "msg": "Extra inputs are not permitted", "input": "1"}], self.assert422(r), str(r))
        # the ledger sorts by seq alone and has no search
        for name in ("customer", "quantity__gt", "entitlement__isnull", "row__in", "kind__neq",
                     "search"):
            with self.subTest(param=name):
                r = self.c.get(ledger_path(c, {name: "1"}))
                errs = self.assert422(r, ["query", name])
                self.assertEqual(errs[0]["type"], "extra_forbidden", str(r))
        for name, value in (("kind", "bogus"), ("kind__in", "create,bogus"), ("seq__gt", "abc"),
                            ("seq__lte", "x1"), ("at__gte", "garbage"), ("at__lt", "2026-13-01"),
                            ("sort_type", "sideways"), ("sort_key", "at"), ("order", "at"), ("cursor", "!!!")):
            with self.subTest(param=name, value=value):
                r = self.c.get(ledger_path(c, {name: value}))
                errs = self.assert422(r, ["query", name])
                self.assertEqual(len(errs), 1, str(r))
        # seq is an integer; the lists validate number filters as numbers:
        # either pydantic error is taken
        r = self.c.get(ledger_path(c, seq__gt="abc"))
        errs = self.assert422(r, ["query", "seq__gt"])
        self.assertIn(errs[0]["type"], ("int_parsing", "float_parsing"), str(r))
        self.assertEqual(errs[0]["input"], "abc", str(r))
        for name in ("entitlement", "row"):
            r = self.c.get(ledger_path(c, {name: "nope"}))
            self.assertSame([uuid_error("query", name)], self.assert422(r), str(r))

    def test_unknown_customer_404_malformed_422(self):
        r = self.c.get(ledger_path(new_id()))
        self.assertSame(CUST_404, self.assertJson(r, 404), str(r))
        other = fresh_client(self, "LedgerOther")
        r = other.get(ledger_path(self.cust))
        self.assertSame(CUST_404, self.assertJson(r, 404), str(r))
        theirs = self.make_customer(other)["id"]
        r = self.c.get(ledger_path(theirs))
        self.assertSame(CUST_404, self.assertJson(r, 404), str(r))
        r = self.c.get(ledger_path("nope"))
        self.assertSame([uuid_error("path", "customer_id")], self.assert422(r), str(r))

    def test_customer_without_entries(self):
        c = self.make_customer()["id"]
        body = self.assertJson(self.c.get(ledger_path(c)), 200)
        self.assertSame({"results": [], "next": None, "previous": None, "total_count": 0}, body)

    def test_customer_id_any_spelling(self):
        r = self.c.get(url(ledger_path(self.cust.upper()), limit=100))
        self.assertEqual(self.assertJson(r, 200)["results"], self.full)
