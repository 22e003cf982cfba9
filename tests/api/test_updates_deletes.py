"""PATCH /entitlements/{id}, PATCH /customers/{id}, and DELETE of rows,
entitlements and customers, docs/API.md "Totals, updates and deletes"."""

from harness import ServerTestCase, fresh_client, new_id, row_path, url

ENT_FULL = {"name": "API calls", "description": "Calls per month", "entitlement_type": "Quantity",
            "units": "calls", "is_active": True}

CUST_FULL = {
    "customer_name": "Acme Corporation", "external_id": "sf-1", "email": "billing@acme.com",
    "phone_number": "+1-555-0100", "custom_data": {"tier": "gold", "n": 1},
    "address": {"line1": "1 Main St", "city": "Springfield", "country_code": "US"},
    "ship_to_address": {"line1": "2 Dock Rd", "city": "Shelbyville"},
    "tax_info": [{"country_code": "US", "tax_code": "ein", "tax_id": "12-3456789"}],
    "connector": {"name": "salesforce", "reference_id": "001"},
    "communications_enabled": False, "auto_charge_enabled": False,
}


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


class EntitlementPatch(ServerTestCase):
    def new(self, **fields):
        body = dict(ENT_FULL, product_id=new_id())
        body.update(fields)
        return self.make_entitlement(**body)

    def patch(self, eid, body):
        return self.c.patch("/entitlements/%s" % eid, body)

    def get(self, eid):
        return self.assertJson(self.c.get("/entitlements/%s" % eid), 200)

    def test_full_update(self):
        e = self.new()
        pid = new_id()
        body = {"name": "Renamed", "description": "new", "entitlement_type": "Credits", "units": "cr",
                "is_active": False, "product_id": pid.upper()}
        r = self.patch(e["id"].upper(), body)
        got = self.assertJson(r, 200)
        want = dict(e, **body)
        want["product_id"] = pid
        for k in ("id", "created_at"):
            self.assertEqual(got[k], e[k], str(r))
        for k, v in want.items():
            if k != "updated_at":
                self.assertSame(v, got[k], "%s\n%s" % (k, r))
        self.assertSame(got, self.get(e["id"]), "GET differs from the PATCH answer")

    def test_absent_keeps(self):
        e = self.new()
        r = self.patch(e["id"], {"name": "Only the name"})
        got = self.assertJson(r, 200)
        self.assertSame(dict(without(e, "updated_at"), name="Only the name"), without(got, "updated_at"),
                        "fields absent from the body changed")
        self.assertSame(got, self.get(e["id"]))

    def test_null_clears(self):
        e = self.new()
        r = self.patch(e["id"], {"name": e["name"], "description": None, "entitlement_type": None,
                                 "units": None, "product_id": None})
        got = self.assertJson(r, 200)
        for k in ("description", "entitlement_type", "units", "product_id"):
            self.assertIsNone(got[k], "%s not cleared\n%s" % (k, r))
        self.assertIs(got["is_active"], True, str(r))
        self.assertSame(got, self.get(e["id"]))

    def test_is_active_lax(self):
        e = self.new()
        for v, want in (("no", False), (1, True), ("off", False), (True, True)):
            with self.subTest(is_active=v):
                got = self.assertJson(self.patch(e["id"], {"name": "x", "is_active": v}), 200)
                self.assertIs(got["is_active"], want)

    def test_name_required(self):
        e = self.new()
        for body in ({}, {"description": "x"}):
            with self.subTest(body=body):
                r = self.patch(e["id"], body)
                self.assertSame([{"type": "missing", "loc": ["body", "name"], "msg": "Field required",
                                  "input": body}], self.assert422(r, ["body", "name"]), str(r))
        r = self.patch(e["id"], {"name": None})
        errs = self.assert422(r, ["body", "name"])
        self.assertEqual(errs[0]["type"], "string_type", str(r))
        self.assertSame(e, self.get(e["id"]), "a refused PATCH changed the entitlement")

    def test_empty_body(self):
        e = self.new()
        r = self.c.request("PATCH", "/entitlements/%s" % e["id"])
        self.assertSame([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}],
                        self.assert422(r), str(r))

    def test_enum_checked(self):
        e = self.new()
        r = self.patch(e["id"], {"name": "n", "entitlement_type": "Bogus", "description": "changed"})
        self.assertSame([{"type": "enum", "loc": ["body", "entitlement_type"],
                          "msg": "Input should be 'Feature', 'Quantity' or 'Credits'", "input": "Bogus",
                          "ctx": {"expected": "'Feature', 'Quantity' or 'Credits'"}}],
                        self.assert422(r), str(r))
        self.assertSame(e, self.get(e["id"]), "a refused PATCH changed the entitlement")

    def test_bad_values_all_reported(self):
        e = self.new()
        r = self.patch(e["id"], {"name": 5, "is_active": "maybe", "product_id": "nope"})
        self.assert422(r, ["body", "name"], ["body", "is_active"], ["body", "product_id"])
        self.assertSame(e, self.get(e["id"]))

    def test_unknown_404_malformed_422(self):
        self.assertDetail(self.patch(new_id(), {"name": "x"}), 404)
        self.assert422(self.patch("nope", {"name": "x"}), ["path", "entitlement_id"])

    def test_rows_lists_follow_the_entitlement(self):
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c, name="Before", units="u1", entitlement_type="Feature")["id"]
        row = self.make_row(e, cu, c, quantity=1)
        r = c.patch("/entitlements/%s" % e, {"name": "After", "units": "u2", "entitlement_type": "Credits"})
        self.assertJson(r, 200)
        for path in ("/entitlements/customer/%s" % cu, "/entitlements/customers_balances"):
            with self.subTest(path=path):
                body = self.assertJson(c.get(path), 200)
                it = [x for x in body["results"] if x["id"] == row["id"]]
                self.assertEqual(len(it), 1, str(body))
                self.assertEqual((it[0]["name"], it[0]["units"], it[0]["type"]), ("After", "u2", "Credits"))
        body = self.assertJson(c.get(url("/entitlements", name="After")), 200)
        self.assertEqual([x["id"] for x in body["results"]], [e])


class CustomerPatch(ServerTestCase):
    def new(self, **fields):
        # emails are unique in an organisation
        body = dict(CUST_FULL, email="billing-%s@acme.com" % new_id()[:8])
        body.update(fields)
        return self.make_customer(**body)

    def patch(self, cid, body):
        return self.c.patch("/customers/%s" % cid, body)

    def get(self, cid):
        return self.assertJson(self.c.get("/customers/%s" % cid), 200)

    def test_absent_keeps(self):
        cu = self.new()
        for body in ({"email": "new@acme.com"}, {"customer_name": "New name"},
                     {"communications_enabled": True}, {"phone_number": "1"}):
            with self.subTest(body=body):
                before = self.get(cu["id"])
                r = self.patch(cu["id"], body)
                got = self.assertJson(r, 200)
                self.assertSame(without(dict(before, **body), "updated_at"), without(got, "updated_at"),
                                "only the fields sent change")
                self.assertSame(got, self.get(cu["id"]), "GET differs from the PATCH answer")

    def test_empty_object_changes_nothing(self):
        cu = self.new()
        got = self.assertJson(self.patch(cu["id"], {}), 200)
        self.assertSame(without(cu, "updated_at"), without(got, "updated_at"))

    def test_null_clears(self):
        cu = self.new()
        r = self.patch(cu["id"], {"email": None, "phone_number": None, "external_id": None})
        got = self.assertJson(r, 200)
        for k in ("email", "phone_number", "external_id"):
            self.assertIsNone(got[k], "%s not cleared\n%s" % (k, r))
        self.assertEqual(got["customer_name"], cu["customer_name"])
        self.assertSame(cu["address"], got["address"])
        self.assertSame(got, self.get(cu["id"]))

    def test_customer_name_cannot_be_cleared(self):
        cu = self.new()
        r = self.patch(cu["id"], {"customer_name": None, "email": "changed@x.io"})
        errs = self.assert422(r, ["body", "customer_name"])
        self.assertEqual(len(errs), 1, str(r))
        self.assertEqual(errs[0]["type"], "value_error", str(r))
        self.assertTrue(errs[0]["msg"].startswith("Value error, "), str(r))
        self.assertSame(cu, self.get(cu["id"]), "a refused PATCH changed the customer")

    def test_nested_objects_replaced(self):
        cu = self.new()
        r = self.patch(cu["id"], {"address": {"line1": "9 New Rd"}, "custom_data": {"other": True},
                                  "tax_info": []})
        got = self.assertJson(r, 200)
        # an address is merged (test_customer_email.py), the rest replaced
        self.assertSame(dict(CUST_FULL["address"], line1="9 New Rd"), got["address"],
                        "address is merged")
        self.assertSame({"other": True}, got["custom_data"], "custom_data is replaced, not merged")
        self.assertSame([], got["tax_info"])
        self.assertSame(cu["ship_to_address"], got["ship_to_address"])
        self.assertSame(got, self.get(cu["id"]))

    def test_validation(self):
        cu = self.new()
        cases = [({"customer_name": 5}, "customer_name", "string_type"),
                 ({"external_id": "x" * 256}, "external_id", "string_too_long"),
                 ({"communications_enabled": "maybe"}, "communications_enabled", "bool_parsing"),
                 ({"business_entity_id": "nope"}, "business_entity_id", "uuid_parsing")]
        for body, field, etype in cases:
            with self.subTest(field=field):
                r = self.patch(cu["id"], body)
                errs = self.assert422(r, ["body", field])
                self.assertEqual(errs[0]["type"], etype, str(r))
        r = self.patch(cu["id"], {"address": {"line1": 5}})
        self.assert422(r)
        self.assertSame(cu, self.get(cu["id"]), "a refused PATCH changed the customer")
        r = self.patch(cu["id"], {"external_id": "x" * 255})
        self.assertEqual(self.assertJson(r, 200)["external_id"], "x" * 255)

    def test_body_not_object(self):
        cu = self.new()
        r = self.patch(cu["id"], [1])
        self.assertEqual(self.assert422(r, ["body"])[0]["type"], "model_attributes_type", str(r))

    def test_unknown_404_malformed_422(self):
        self.assertDetail(self.patch(new_id(), {"email": "x@example.com"}), 404)
        self.assert422(self.patch("nope", {"email": "x@example.com"}), ["path", "customer_id"])


class Deletes(ServerTestCase):
    def delete(self, path, client=None):
        return (client or self.c).request("DELETE", path)

    def test_delete_row(self):
        e, cu, row = self.make_triple(quantity=5, quantity_used=1, active_from="2026-01-01",
                                      contract_id=new_id())
        p = row_path(e, cu, row["id"])
        before = self.assertJson(self.c.get(p), 200)
        sibling = self.make_row(e, cu, quantity=9)
        r = self.delete(p)
        self.assertSame(before, self.assertJson(r, 200), "the answer is the row as it was")
        self.assertDetail(self.c.get(p), 404)
        self.assertDetail(self.delete(p), 404)
        self.assertJson(self.c.get(row_path(e, cu, sibling["id"])), 200)
        body = self.assertJson(self.c.get("/entitlements/customer/%s" % cu), 200)
        self.assertEqual([x["id"] for x in body["results"]], [sibling["id"]], str(body))
        self.assertEqual(body["total_count"], 1)
        body = self.assertJson(self.c.get(url("/entitlements/customers_balances", entitlement=e)), 200)
        self.assertEqual([x["id"] for x in body["results"]], [sibling["id"]], str(body))

    def test_delete_row_ids_any_case(self):
        e, cu, row = self.make_triple(quantity=1)
        r = self.delete(row_path(e.upper(), cu.upper(), row["id"].upper()))
        self.assertEqual(self.assertJson(r, 200)["id"], row["id"], str(r))
        self.assertDetail(self.c.get(row_path(e, cu, row["id"])), 404)

    def test_delete_row_wrong_pair_404(self):
        e, cu, row = self.make_triple(quantity=1)
        e2 = self.make_entitlement()["id"]
        cu2 = self.make_customer()["id"]
        for p in (row_path(e2, cu, row["id"]), row_path(e, cu2, row["id"]), row_path(e, cu, new_id())):
            with self.subTest(path=p):
                self.assertDetail(self.delete(p), 404)
        self.assertJson(self.c.get(row_path(e, cu, row["id"])), 200)

    def test_delete_row_malformed_ids_422(self):
        e, cu, row = self.make_triple()
        self.assert422(self.delete(row_path(e, cu, "nope")), ["path", "ec_id"])
        self.assert422(self.delete(row_path("nope", cu, row["id"])), ["path", "entitlement_id"])

    def test_delete_entitlement(self):
        e, cu, row = self.make_triple(quantity=3)
        e_before = self.assertJson(self.c.get("/entitlements/%s" % e), 200)
        r = self.delete("/entitlements/%s" % e)
        self.assertDetail(r, 409)
        self.assertSame(e_before, self.assertJson(self.c.get("/entitlements/%s" % e), 200),
                        "the refused delete changed the entitlement")
        self.assertJson(self.c.get(row_path(e, cu, row["id"])), 200)
        self.assertJson(self.delete(row_path(e, cu, row["id"])), 200)
        r = self.delete("/entitlements/%s" % e)
        self.assertSame(e_before, self.assertJson(r, 200), "the answer is the entitlement as it was")
        self.assertDetail(self.c.get("/entitlements/%s" % e), 404)
        self.assertDetail(self.delete("/entitlements/%s" % e), 404)
        body = self.assertJson(self.c.get(url("/entitlements", id=e)), 200)
        self.assertEqual(body["results"], [], str(body))
        # its customer stays
        self.assertJson(self.c.get("/customers/%s" % cu), 200)
        # and a row can no longer be made for it
        self.assertDetail(self.c.post("/entitlements/%s/customer" % e, {"customer": cu}), 404)

    def test_delete_entitlement_without_rows(self):
        e = self.make_entitlement(description="d")
        r = self.delete("/entitlements/%s" % e["id"].upper())
        self.assertSame(self.assertJson(r, 200), e)
        self.assertDetail(self.c.get("/entitlements/%s" % e["id"]), 404)

    def test_delete_entitlement_with_another_customers_row(self):
        e, _cu, _row = self.make_triple()
        cu2 = self.make_customer()["id"]
        row2 = self.make_row(e, cu2)
        self.assertDetail(self.delete("/entitlements/%s" % e), 409)
        self.assertJson(self.delete(row_path(e, _cu, _row["id"])), 200)
        self.assertDetail(self.delete("/entitlements/%s" % e), 409, None)
        self.assertJson(self.delete(row_path(e, cu2, row2["id"])), 200)
        self.assertJson(self.delete("/entitlements/%s" % e), 200)

    def test_delete_customer(self):
        e, cu, row = self.make_triple(quantity=3)
        c_before = self.assertJson(self.c.get("/customers/%s" % cu), 200)
        self.assertDetail(self.delete("/customers/%s" % cu), 409)
        self.assertSame(c_before, self.assertJson(self.c.get("/customers/%s" % cu), 200))
        self.assertJson(self.c.get(row_path(e, cu, row["id"])), 200)
        self.assertJson(self.delete(row_path(e, cu, row["id"])), 200)
        r = self.delete("/customers/%s" % cu)
        self.assertSame(c_before, self.assertJson(r, 200), "the answer is the customer as it was")
        self.assertDetail(self.c.get("/customers/%s" % cu), 404)
        self.assertDetail(self.delete("/customers/%s" % cu), 404)
        body = self.assertJson(self.c.get(url("/customers", id=cu)), 200)
        self.assertEqual(body["data"], [], str(body))
        self.assertDetail(self.c.get("/entitlements/customer/%s" % cu), 404)
        self.assertDetail(self.c.get("/entitlements/customer/unique/%s" % cu), 404)
        self.assertDetail(self.c.get("/entitlements/%s/customer/%s/total" % (e, cu)), 404)
        self.assertJson(self.c.get("/entitlements/%s" % e), 200)
        self.assertDetail(self.c.post("/entitlements/%s/customer" % e, {"customer": cu}), 404)

    def test_delete_customer_without_rows(self):
        cu = self.make_customer(email="z@z.io")
        r = self.delete("/customers/%s" % cu["id"].upper())
        self.assertSame(cu, self.assertJson(r, 200))
        self.assertDetail(self.c.get("/customers/%s" % cu["id"]), 404)

    def test_unknown_and_malformed(self):
        self.assertDetail(self.delete("/entitlements/%s" % new_id()), 404)
        self.assertDetail(self.delete("/customers/%s" % new_id()), 404)
        self.assert422(self.delete("/entitlements/nope"), ["path", "entitlement_id"])
        self.assert422(self.delete("/customers/nope"), ["path", "customer_id"])
        self.assertDetail(self.delete(row_path(new_id(), new_id(), new_id())), 404)

    def test_delete_with_body_ignored(self):
        cu = self.make_customer()
        r = self.c.request("DELETE", "/customers/%s" % cu["id"], {"anything": 1})
        self.assertSame(cu, self.assertJson(r, 200))


class DeleteRaces(ServerTestCase):
    """A delete of an entitlement (or a customer) racing with the creation
    and deletion of its rows: the delete either answers 409 and removes
    nothing, or 200 and then no row of it is left anywhere (no orphans)."""

    def race(self, kind):
        import random
        import threading
        import time
        from harness import Client
        c = fresh_client(self)
        cu = self.make_customer(c)["id"]
        e = self.make_entitlement(c)["id"]
        target = "/entitlements/%s" % e if kind == "entitlement" else "/customers/%s" % cu
        stop = threading.Event()
        errors, made, gone, outcome = [], [], [], []
        lock = threading.Lock()

        def creator(seed):
            cl = Client(self.server.port, c.tenant, persistent=True)
            rnd = random.Random(seed)
            try:
                while not stop.is_set():
                    r = cl.post("/entitlements/%s/customer" % e, {"customer": cu, "quantity": 1})
                    if r.status == 404:
                        return
                    if r.status == 503:
                        continue
                    if r.status != 200:
                        errors.append("create: %s" % r)
                        return
                    with lock:
                        made.append(r.json["id"])
                    time.sleep(rnd.random() * 0.003)
                    d = cl.request("DELETE", row_path(e, cu, r.json["id"]))
                    if d.status == 200:
                        with lock:
                            gone.append(r.json["id"])
                    elif d.status not in (404, 503):
                        errors.append("delete row: %s" % d)
                    time.sleep(rnd.random() * 0.004)
            except Exception as ex:  # noqa: BLE001
                errors.append("%s: %s" % (type(ex).__name__, ex))
            finally:
                cl.close()

        def deleter():
            cl = Client(self.server.port, c.tenant, persistent=True)
            try:
                deadline = time.monotonic() + 10
                while len(made) < 5 and time.monotonic() < deadline:
                    time.sleep(0.001)
                while time.monotonic() < deadline:
                    r = cl.request("DELETE", target)
                    if r.status == 200:
                        outcome.append(r)
                        return
                    if r.status not in (409, 503):
                        errors.append("delete %s: %s" % (kind, r))
                        return
                    time.sleep(0.001)
            finally:
                stop.set()
                cl.close()

        ths = [threading.Thread(target=creator, args=(i,)) for i in range(3)]
        ths.append(threading.Thread(target=deleter))
        for t in ths:
            t.start()
        for t in ths:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(len(made), 0)
        left = sorted(set(made) - set(gone))
        if outcome:
            # deleted: no row of it may remain
            self.assertDetail(c.get(target), 404)
            body = self.assertJson(c.get(url("/entitlements/customers_balances",
                                             **({"entitlement": e} if kind == "entitlement"
                                                else {"customer": cu}))), 200)
            self.assertEqual(body["results"], [], "rows left behind by a 200 delete: %s" % body)
            self.assertEqual(left, [], "rows created (200) and never deleted, yet the %s was deleted" % kind)
        else:
            self.assertJson(c.get(target), 200)

    def test_delete_entitlement_racing_rows(self):
        self.race("entitlement")

    def test_delete_customer_racing_rows(self):
        self.race("customer")
