"""Idempotency-Key (issue 5), as docs/API.md "Idempotency" says: on every
POST, PATCH and DELETE a replay gets the stored status and body byte for
byte with `Idempotent-Replayed: true` and changes nothing; the key with
another request is 422; keys are per organisation; refusals are stored too;
answers before the handler and GETs ignore the key; the header is validated;
`entitled idempotency prune --before DATE` deletes keys made before DATE."""

import datetime

from harness import (Client, ServerTestCase, Tenant, apikey_create, cli, new_id, patch_body,
                     url)
from ledger_check import (FEATURE, MISMATCH, consume_path, delete, entries_of, fmt_dt, now_dt,
                          pause, row_path)

REPLAYED = "Idempotent-Replayed"
HDR_LOC = ["header", "idempotency-key"]


class IdemCase(ServerTestCase):
    extra_tenants = 1

    def key(self, tag="k"):
        return "%s-%s" % (tag, new_id())

    def send(self, method, path, body=None, key=None, client=None, headers=None):
        h = {}
        if key is not None:
            h["Idempotency-Key"] = key
        if headers:
            h.update(headers)
        return (client or self.c).request(method, path, body, headers=h)

    def pair(self, client=None, etype="Quantity"):
        e = self.make_entitlement(client, entitlement_type=etype)["id"]
        c = self.make_customer(client)["id"]
        return e, c

    def assertFirst(self, r, status=200):
        body = self.assertJson(r, status)
        self.assertIsNone(r.header(REPLAYED), "a first answer says %s\n%s" % (REPLAYED, r))
        return body

    def assertReplay(self, first, again):
        self.assertEqual(again.status, first.status, "replayed status\n%s\n%s" % (first, again))
        self.assertEqual(again.body, first.body, "replayed body differs\n%s\n%s" % (first, again))
        self.assertEqual(again.header(REPLAYED), "true", "no %s: true on a replay\n%s" % (REPLAYED, again))
        self.assertJson(again, first.status)

    def assertMismatch(self, r):
        self.assertSame(MISMATCH, self.assertJson(r, 422), str(r))
        self.assertIsNone(r.header(REPLAYED), str(r))

    def ledger(self, c, client=None, **params):
        return entries_of(self, client or self.c, c, **params)


class IdempotencyReplays(IdemCase):
    def test_create_entitlement(self):
        k, name = self.key(), "Ent %s" % new_id()
        body = {"name": name, "entitlement_type": "Quantity", "units": "calls"}
        r1 = self.send("POST", "/entitlements", body, k)
        self.assertFirst(r1)
        for _ in range(2):
            self.assertReplay(r1, self.send("POST", "/entitlements", body, k))
        listed = self.assertJson(self.c.get(url("/entitlements", name=name)), 200)
        self.assertEqual(listed["total_count"], 1, str(listed))
        self.assertEqual(listed["results"][0]["id"], r1.json["id"])

    def test_create_customer(self):
        k, ext = self.key(), "ext-%s" % new_id()
        body = {"customer_name": "Idem", "external_id": ext}
        r1 = self.send("POST", "/customers", body, k)
        self.assertFirst(r1)
        self.assertReplay(r1, self.send("POST", "/customers", body, k))
        listed = self.assertJson(self.c.get(url("/customers", external_id=ext)), 200)
        self.assertEqual(listed["total"], 1, str(listed))

    def test_create_row(self):
        e, c = self.pair()
        k = self.key()
        body = {"customer": c, "quantity": 10}
        r1 = self.send("POST", "/entitlements/%s/customer" % e, body, k)
        self.assertFirst(r1)
        self.assertReplay(r1, self.send("POST", "/entitlements/%s/customer" % e, body, k))
        rows = self.assertJson(self.c.get("/entitlements/customer/%s" % c), 200)
        self.assertEqual(rows["total_count"], 1, str(rows))
        got = self.ledger(c)
        self.assertEqual([(x["kind"], x["row_id"], x["idempotency_key"]) for x in got],
                         [("create", r1.json["id"], k)])
        self.assertEqual(got[0]["request_id"], r1.header("x-request-id"))

    def test_consume(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=10)["id"]
        k = self.key()
        r1 = self.send("POST", consume_path(e, c), {"quantity": 3}, k)
        ans = self.assertFirst(r1)
        for _ in range(3):
            self.assertReplay(r1, self.send("POST", consume_path(e, c), {"quantity": 3}, k))
        self.assertSame(3, self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity_used"])
        got = [x for x in self.ledger(c) if x["kind"] == "consume"]
        self.assertEqual([(x["seq"], x["idempotency_key"], x["quantity_used_delta"]) for x in got],
                         [(ans["ledger_seq"], k, 3)])

    def test_patch_row(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=1)["id"]
        k = self.key()
        r1 = self.send("PATCH", row_path(e, c, rid), patch_body(e, c, quantity=7), k)
        self.assertEqual(self.assertFirst(r1)["quantity"], 7)
        self.assertJson(self.c.patch(row_path(e, c, rid), patch_body(e, c, quantity=8)), 200)
        self.assertReplay(r1, self.send("PATCH", row_path(e, c, rid), patch_body(e, c, quantity=7), k))
        self.assertEqual(self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity"], 8,
                         "a replay changed the row")
        got = self.ledger(c, kind="update")
        self.assertEqual([(x["quantity"], x["idempotency_key"]) for x in got], [(7, k), (8, None)])

    def test_delete_row(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=1)["id"]
        k = self.key()
        r1 = self.send("DELETE", row_path(e, c, rid), None, k)
        self.assertFirst(r1)
        self.assertReplay(r1, self.send("DELETE", row_path(e, c, rid), None, k))
        self.assertJson(self.c.get(row_path(e, c, rid)), 404)
        got = self.ledger(c, kind="delete")
        self.assertEqual([(x["row_id"], x["idempotency_key"]) for x in got], [(rid, k)])

    def test_patch_entitlement_and_customer(self):
        e, c = self.pair()
        k1, k2 = self.key(), self.key()
        r1 = self.send("PATCH", "/entitlements/%s" % e, {"name": "A"}, k1)
        self.assertFirst(r1)
        self.assertJson(self.c.patch("/entitlements/%s" % e, {"name": "B"}), 200)
        self.assertReplay(r1, self.send("PATCH", "/entitlements/%s" % e, {"name": "A"}, k1))
        self.assertEqual(self.assertJson(self.c.get("/entitlements/%s" % e), 200)["name"], "B")
        r1 = self.send("PATCH", "/customers/%s" % c, {"customer_name": "A"}, k2)
        self.assertFirst(r1)
        self.assertJson(self.c.patch("/customers/%s" % c, {"customer_name": "B"}), 200)
        self.assertReplay(r1, self.send("PATCH", "/customers/%s" % c, {"customer_name": "A"}, k2))
        self.assertEqual(self.assertJson(self.c.get("/customers/%s" % c), 200)["customer_name"], "B")

    def test_delete_entitlement_and_customer(self):
        e, c = self.pair()
        for path in ("/entitlements/%s" % e, "/customers/%s" % c):
            with self.subTest(path=path):
                k = self.key()
                r1 = self.send("DELETE", path, None, k)
                self.assertFirst(r1)
                self.assertReplay(r1, self.send("DELETE", path, None, k))
                self.assertJson(self.c.get(path), 404)
                # without the key it is gone
                self.assertJson(delete(self.c, path), 404)

    def test_key_recorded_in_every_kind_of_entry(self):
        e, c = self.pair()
        keys = [self.key(t) for t in ("create", "patch", "consume", "delete")]
        r = self.send("POST", "/entitlements/%s/customer" % e, {"customer": c, "quantity": 5}, keys[0])
        rid = self.assertFirst(r)["id"]
        self.assertFirst(self.send("PATCH", row_path(e, c, rid), patch_body(e, c, quantity=6), keys[1]))
        self.assertFirst(self.send("POST", consume_path(e, c), {"quantity": 2}, keys[2]))
        self.assertFirst(self.send("DELETE", row_path(e, c, rid), None, keys[3]))
        got = self.ledger(c)
        self.assertEqual([(x["kind"], x["idempotency_key"]) for x in got],
                         list(zip(["create", "update", "consume", "delete"], keys)))

    def test_key_of_255_printable_characters(self):
        e, c = self.pair()
        self.make_row(e, c, quantity=10)
        printable = "".join(chr(i) for i in range(0x21, 0x7F))
        for k in (("x" * 200 + printable)[:255], "a b", "!", printable):
            with self.subTest(key=k[:20]):
                r1 = self.send("POST", consume_path(e, c), {"quantity": 1}, k)
                self.assertFirst(r1)
                self.assertReplay(r1, self.send("POST", consume_path(e, c), {"quantity": 1}, k))
                got = [x for x in self.ledger(c, kind="consume") if x["idempotency_key"] == k]
                self.assertEqual(len(got), 1, "key %r: %r" % (k, got))


class IdempotencyMismatch(IdemCase):
    def test_other_body(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=10)["id"]
        k = self.key()
        r1 = self.send("POST", consume_path(e, c), {"quantity": 1}, k)
        self.assertFirst(r1)
        for other in ({"quantity": 2}, '{"quantity":1}', '{"quantity": 1, "at": null}', {"quantity": "1"}):
            with self.subTest(body=other):
                self.assertMismatch(self.send("POST", consume_path(e, c), other, k))
                # not stored: the same again is the same refusal, and the first request still replays
                self.assertMismatch(self.send("POST", consume_path(e, c), other, k))
                self.assertReplay(r1, self.send("POST", consume_path(e, c), {"quantity": 1}, k))
        self.assertSame(1, self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity_used"])
        self.assertEqual(len(self.ledger(c, kind="consume")), 1)

    def test_other_path(self):
        e, c = self.pair()
        c2 = self.make_customer()["id"]
        r2 = self.make_row(e, c2, quantity=10)["id"]
        self.make_row(e, c, quantity=10)
        k = self.key()
        r1 = self.send("POST", consume_path(e, c), {"quantity": 1}, k)
        self.assertFirst(r1)
        self.assertMismatch(self.send("POST", consume_path(e, c2), {"quantity": 1}, k))
        self.assertIsNone(self.assertJson(self.c.get(row_path(e, c2, r2)), 200)["quantity_used"])
        self.assertMismatch(self.send("POST", "/customers", {"quantity": 1}, k))
        self.assertReplay(r1, self.send("POST", consume_path(e, c), {"quantity": 1}, k))

    def test_other_method(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=10)["id"]
        k = self.key()
        body = patch_body(e, c, quantity=3)
        r1 = self.send("PATCH", row_path(e, c, rid), body, k)
        self.assertFirst(r1)
        self.assertMismatch(self.send("DELETE", row_path(e, c, rid), None, k))
        self.assertJson(self.c.get(row_path(e, c, rid)), 200)
        self.assertMismatch(self.send("POST", consume_path(e, c), {"quantity": 1}, k))
        self.assertIsNone(self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity_used"])
        self.assertReplay(r1, self.send("PATCH", row_path(e, c, rid), body, k))
        self.assertEqual(len(self.ledger(c, kind="delete")), 0)

    def test_per_organisation(self):
        b = Client(self.server.port, self.tenants[1])
        k = self.key()
        body = {"name": "Same %s" % new_id()}
        ra = self.send("POST", "/entitlements", body, k)
        rb = self.send("POST", "/entitlements", body, k, client=b)
        self.assertFirst(ra)
        self.assertFirst(rb)
        self.assertNotEqual(ra.json["id"], rb.json["id"])
        self.assertReplay(ra, self.send("POST", "/entitlements", body, k))
        self.assertReplay(rb, self.send("POST", "/entitlements", body, k, client=b))
        # B's key with another body is B's business only
        k2 = self.key()
        self.assertFirst(self.send("POST", "/entitlements", {"name": "x"}, k2, client=b))
        self.assertFirst(self.send("POST", "/entitlements", {"name": "y"}, k2))

    def test_another_key_of_the_same_organisation_replays(self):
        t2 = Tenant(self.t.org, apikey_create(self.db, self.t.org))
        c2 = Client(self.server.port, t2)
        k = self.key()
        body = {"customer_name": "two keys"}
        r1 = self.send("POST", "/customers", body, k)
        self.assertFirst(r1)
        self.assertReplay(r1, self.send("POST", "/customers", body, k, client=c2))


class IdempotencyRefusals(IdemCase):
    def test_404_stored(self):
        e, c = self.pair()
        rid = new_id()
        k = self.key()
        body = patch_body(e, c, quantity=99)
        r1 = self.send("PATCH", row_path(e, c, rid), body, k)
        self.assertFirst(r1, 404)
        self.make_row(e, c, id=rid, quantity=1)
        self.assertReplay(r1, self.send("PATCH", row_path(e, c, rid), body, k))
        self.assertEqual(self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity"], 1)
        self.assertEqual(len(self.ledger(c, kind="update")), 0)

    def test_404_consume_stored(self):
        e, c = self.pair()
        k = self.key()
        r1 = self.send("POST", consume_path(e, new_id()), {"quantity": 1}, k)
        self.assertFirst(r1, 404)
        self.assertReplay(r1, self.send("POST", r1.path, {"quantity": 1}, k))

    def test_409_short_consume_stored(self):
        e, c = self.pair()
        k = self.key()
        r1 = self.send("POST", consume_path(e, c), {"quantity": 5}, k)
        self.assertFirst(r1, 409)
        rid = self.make_row(e, c, quantity=10)["id"]
        self.assertReplay(r1, self.send("POST", consume_path(e, c), {"quantity": 5}, k))
        self.assertIsNone(self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity_used"])
        self.assertEqual(self.ledger(c, kind="consume"), [])
        r = self.send("POST", consume_path(e, c), {"quantity": 5}, self.key())
        self.assertFirst(r, 200)

    def test_409_duplicate_row_id_stored(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=1)["id"]
        k = self.key()
        body = {"customer": c, "id": rid, "quantity": 2}
        r1 = self.send("POST", "/entitlements/%s/customer" % e, body, k)
        self.assertFirst(r1, 409)
        self.assertJson(delete(self.c, row_path(e, c, rid)), 200)
        self.assertReplay(r1, self.send("POST", "/entitlements/%s/customer" % e, body, k))
        self.assertJson(self.c.get(row_path(e, c, rid)), 404)

    def test_422_validation_stored(self):
        e, c = self.pair()
        self.make_row(e, c, quantity=10)
        for body in ({"quantity": 0}, {"quantity": 1, "extra": True}, {}, '{"quantity": ', "[1]"):
            with self.subTest(body=body):
                k = self.key()
                r1 = self.send("POST", consume_path(e, c), body, k)
                self.assertFirst(r1, 422)
                self.assertReplay(r1, self.send("POST", consume_path(e, c), body, k))
        k = self.key()
        r1 = self.send("PATCH", "/entitlements/%s" % e, {"description": "no name"}, k)
        self.assertFirst(r1, 422)
        self.assertReplay(r1, self.send("PATCH", "/entitlements/%s" % e, {"description": "no name"}, k))
        self.assertEqual(self.ledger(c, kind="consume"), [])

    def test_422_feature_stored(self):
        e, c = self.pair(etype="Feature")
        self.make_row(e, c, quantity=10)
        k = self.key()
        r1 = self.send("POST", consume_path(e, c), {"quantity": 1}, k)
        self.assertSame(FEATURE, self.assertFirst(r1, 422))
        self.assertReplay(r1, self.send("POST", consume_path(e, c), {"quantity": 1}, k))

    def test_answers_before_the_handler_ignore_the_key(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=10)["id"]
        k = self.key()
        body = {"quantity": 1}
        path = consume_path(e, c)
        # 401 and 403: nothing stored, the key is then free
        r = self.c.request("POST", path, body, auth=False, headers={"Idempotency-Key": k})
        self.assertEqual(r.status, 401, str(r))
        self.assertIsNone(r.header(REPLAYED))
        r = self.c.request("POST", path, body, auth={"x-api-key": self.t.key,
                                                     "organisation": self.tenants[1].org},
                           headers={"Idempotency-Key": k})
        self.assertEqual(r.status, 403, str(r))
        r = self.c.request("POST", path, body, auth=False, headers={"Idempotency-Key": ""})
        self.assertEqual(r.status, 401, "a bad key before auth\n%s" % r)
        r1 = self.send("POST", path, body, k)
        self.assertFirst(r1)
        # unknown path and unknown method: never stored, never replayed
        for method, p in (("POST", "/no/such/path"), ("PUT", row_path(e, c, rid)),
                          ("PUT", path)):
            with self.subTest(method=method, path=p):
                k2 = self.key()
                for _ in range(2):
                    r = self.send(method, p, body, k2)
                    self.assertIn(r.status, (404, 405), str(r))
                    self.assertIsNone(r.header(REPLAYED), str(r))
                r = self.send(method, p, body, "")
                self.assertIn(r.status, (404, 405), "the key was looked at\n%s" % r)

    def test_get_ignores_the_key(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=10)["id"]
        k = self.key()
        for path in (row_path(e, c, rid), "/entitlements/customer/%s/ledger" % c,
                     "/entitlements/%s/customer/%s/balance" % (e, c)):
            with self.subTest(path=path):
                for key in (k, k, "", "x" * 300, "k\u00e9y"):
                    r = self.send("GET", path, None, key)
                    self.assertJson(r, 200)
                    self.assertIsNone(r.header(REPLAYED), str(r))
        # the GETs stored nothing under k
        self.assertFirst(self.send("POST", consume_path(e, c), {"quantity": 1}, k))


class IdempotencyHeader(IdemCase):
    def assertHeaderError(self, r, etype):
        errs = self.assert422(r, HDR_LOC)
        self.assertEqual(len(errs), 1, str(r))
        self.assertEqual(errs[0]["type"], etype, str(r))
        self.assertEqual(errs[0]["loc"], HDR_LOC, str(r))

    def test_invalid_keys_422(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=10)["id"]
        cases = (("", "string_too_short"), ("x" * 256, "string_too_long"),
                 ("x" * 1000, "string_too_long"), ("a\tb", "string_pattern_mismatch"),
                 ("k\u00e9y", "string_pattern_mismatch"), ("\u00ff", "string_pattern_mismatch"))
        for key, etype in cases:
            with self.subTest(key=key[:20], method="POST"):
                self.assertHeaderError(self.send("POST", consume_path(e, c), {"quantity": 1}, key), etype)
            with self.subTest(key=key[:20], method="PATCH"):
                self.assertHeaderError(self.send("PATCH", row_path(e, c, rid),
                                                 patch_body(e, c, quantity=1), key), etype)
            with self.subTest(key=key[:20], method="DELETE"):
                self.assertHeaderError(self.send("DELETE", row_path(e, c, rid), None, key), etype)
            with self.subTest(key=key[:20], method="POST /customers"):
                self.assertHeaderError(self.send("POST", "/customers", {"customer_name": "n"}, key), etype)
        row = self.assertJson(self.c.get(row_path(e, c, rid)), 200)
        self.assertEqual((row["quantity"], row["quantity_used"]), (10, None), str(row))
        self.assertEqual([x["kind"] for x in self.ledger(c)], ["create"])

    def test_255_ok_256_refused(self):
        e, c = self.pair()
        self.make_row(e, c, quantity=10)
        self.assertFirst(self.send("POST", consume_path(e, c), {"quantity": 1}, "y" * 255))
        self.assertHeaderError(self.send("POST", consume_path(e, c), {"quantity": 1}, "y" * 256),
                               "string_too_long")


class IdempotencyPrune(IdemCase):
    def prune(self, before, expect):
        r = cli("idempotency", "prune", "--before", before, db=self.db)
        self.assertEqual(r.rc, 0, repr(r))
        text = r.out.replace(before, " ")
        self.assertRegex(text, r"(?<![\w.:-])%d(?![\w.:-])" % expect,
                         "prune --before %s did not print %d\n%r" % (before, expect, r))
        return r

    def test_prune(self):
        e, c = self.pair()
        rid = self.make_row(e, c, quantity=1000)["id"]
        k_old, k_cust, k_new = self.key("old"), self.key("cust"), self.key("new")
        old = self.send("POST", consume_path(e, c), {"quantity": 1}, k_old)
        self.assertFirst(old)
        cust = self.send("POST", "/customers", {"customer_name": "pruned"}, k_cust)
        self.assertFirst(cust)
        pause(0.1)
        boundary = fmt_dt(now_dt())
        pause(0.1)
        new = self.send("POST", consume_path(e, c), {"quantity": 2}, k_new)
        self.assertFirst(new)

        self.prune("2000-01-01", 0)
        self.prune("2000-01-01T00:00:00Z", 0)
        self.assertReplay(old, self.send("POST", consume_path(e, c), {"quantity": 1}, k_old))
        self.assertReplay(new, self.send("POST", consume_path(e, c), {"quantity": 2}, k_new))

        self.prune(boundary, 2)
        # the pruned key runs again; the newer one still replays
        again = self.send("POST", consume_path(e, c), {"quantity": 1}, k_old)
        self.assertFirst(again)
        self.assertGreater(again.json["ledger_seq"], new.json["ledger_seq"])
        self.assertReplay(new, self.send("POST", consume_path(e, c), {"quantity": 2}, k_new))
        cust2 = self.send("POST", "/customers", {"customer_name": "pruned"}, k_cust)
        self.assertFirst(cust2)
        self.assertNotEqual(cust2.json["id"], cust.json["id"])
        self.assertSame(4, self.assertJson(self.c.get(row_path(e, c, rid)), 200)["quantity_used"])

        day = datetime.date.fromordinal(now_dt().date().toordinal() + 1).isoformat()
        self.prune(day, 3)  # k_new, k_old and k_cust as stored again
        self.assertFirst(self.send("POST", consume_path(e, c), {"quantity": 2}, k_new))
        self.prune(day, 1)
        self.prune(day, 0)
        got = [x["idempotency_key"] for x in self.ledger(c, kind="consume")]
        self.assertEqual(got, [k_old, k_new, k_old, k_new])

    def test_prune_bad_date(self):
        r = cli("idempotency", "prune", "--before", "not-a-date", db=self.db)
        self.assertNotEqual(r.rc, 0, repr(r))
        r = cli("idempotency", "prune", db=self.db)
        self.assertNotEqual(r.rc, 0, "prune without --before\n%r" % r)
