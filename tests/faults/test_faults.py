"""Fault injection (issue 7): the store failing on its Nth call (I/O error,
disk full, busy) and the allocator failing on its Nth allocation, for every
write operation and every N up to the last call the request makes.

Needs a binary built with -DENTITLED_FAULTS=ON (`make fault`, ctest's
`api-faults`; ARCHITECTURE.md "Fault injection"): such a binary reads the
request header `X-Fault: store:N[:ioerr|full|busy]` or `X-Fault: alloc:N`,
makes the Nth sqlite3_step() / malloc-calloc-realloc of the request fail,
and answers `X-Fault-Fired: true|false`. On any other binary every test here
fails (setUpClass checks for X-Fault-Fired): run.py loads this folder only
with --faults.

For each write operation and each fault kind, N runs 1, 2, 3, ... until the
fault no longer fires (the request makes fewer than N such calls). For every
N that fired:
  - the answer is 500 (503 for busy, 507 for disk full) with a JSON
    {"detail": "<text>"};
  - nothing changed: every table of the database (read directly, after
    PRAGMA integrity_check), the objects and lists the API shows and the
    customer's ledger are exactly as before;
  - the server still serves (GET /healthz).
The first N that does not fire is the request succeeding normally (200, and
the state changed). After each operation `entitled verify` must agree with
the database, and when the class ends the server must exit 0 on SIGTERM:
under ASan (the fault build is sanitized) a leak makes that exit non-zero.

The server runs with --threads 1 so every request runs on the one pool
thread, whose database connections are open already: the calls a request
makes, and so what each N hits, are the same on every run."""

import sqlite3
import sys

import harness
from harness import ServerTestCase, new_id, patch_body, row_path

KINDS = ("store:%d:ioerr", "store:%d:full", "store:%d:busy", "alloc:%d")
MAX_N = 5000  # a request making more calls than this is a bug in itself

# (operation, kind, N) cases run by the whole module; the last test prints them
COUNTS = {}


def kind_name(kind):
    return kind.replace(":%d", "")


def db_dump(path):
    """PRAGMA integrity_check's answer and every row of every table, sorted
    (read directly: the server writes in WAL mode, readers do not block)."""
    con = sqlite3.connect(path, timeout=30)
    try:
        check = [r[0] for r in con.execute("PRAGMA integrity_check")]
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        dump = {}
        for t in tables:
            rows = con.execute('SELECT * FROM "%s"' % t.replace('"', '""')).fetchall()
            dump[t] = sorted(rows, key=repr)
        return check, dump
    finally:
        con.close()


class FaultCase(ServerTestCase):
    server_args = ("--threads", "1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A fault build answers X-Fault-Fired; anything else is the wrong binary.
        r = harness.Client(cls.server.port).get("/healthz", headers={"X-Fault": "store:1"})
        if r.status != 200 or r.header("X-Fault-Fired") not in ("true", "false"):
            cls.server.stop()  # tearDownClass does not run after a failed setUpClass
            raise AssertionError(
                "%s is not a fault-injection build (no X-Fault-Fired in the answer to an "
                "X-Fault request): build it with -DENTITLED_FAULTS=ON (make fault)\n%s"
                % (harness.BIN, r))

    # ---- state ----

    def state(self, fx):
        """Everything a failed request must leave as it was: the database's
        tables, and what the API shows of the fixture's objects, lists and the
        customer's ledger."""
        check, dump = db_dump(self.db)
        self.assertEqual(check, ["ok"], "PRAGMA integrity_check")
        api = {}
        paths = ["/entitlements?limit=100", "/customers?limit=100"]
        if fx.get("E"):
            paths.append("/entitlements/%s" % fx["E"])
        if fx.get("C"):
            paths += ["/customers/%s" % fx["C"],
                      "/entitlements/customer/%s?limit=100" % fx["C"],
                      "/entitlements/customer/%s/ledger?limit=100" % fx["C"]]
        if fx.get("E") and fx.get("C"):
            paths.append("/entitlements/%s/customer/%s/balance" % (fx["E"], fx["C"]))
        for rid in fx.get("rows", ()):
            paths.append(row_path(fx["E"], fx["C"], rid))
        for p in paths:
            r = self.c.get(p)
            if p.endswith("/balance"):  # its `at` is now: compare the rest
                body = self.assertJson(r, 200)
                body.pop("at", None)
                api[p] = (r.status, body)
            else:
                api[p] = (r.status, r.body)
        return {"db": dump, "api": api}

    def assertSameState(self, before, after, what):
        if before["api"] != after["api"]:
            diff = ["%s:\n    before %r\n    after  %r" % (p, before["api"].get(p), after["api"].get(p))
                    for p in sorted(set(before["api"]) | set(after["api"]))
                    if before["api"].get(p) != after["api"].get(p)]
            self.fail("%s: the API shows a change:\n%s" % (what, "\n".join(diff)))
        if before["db"] != after["db"]:
            diff = []
            for t in sorted(set(before["db"]) | set(after["db"])):
                b, a = before["db"].get(t, []), after["db"].get(t, [])
                if b != a:
                    diff.append("table %s:\n    gone  %r\n    new   %r" % (
                        t, [x for x in b if x not in a][:5], [x for x in a if x not in b][:5]))
            self.fail("%s: the database changed:\n%s" % (what, "\n".join(diff)))

    def verify(self, what):
        r = harness.cli("verify", db=self.db)
        self.assertEqual(r.rc, 0, "%s: entitled verify disagrees with the database:\n%r" % (what, r))

    # ---- the loop ----

    def run_faults(self, name, setup, request, check_ok=None):
        """For each fault kind: a fresh fixture (setup() -> dict), then
        request(fx, headers) with X-Fault for N = 1, 2, ... until it no longer
        fires; check_ok(fx, response) judges that last, normal answer."""
        for kind in KINDS:
            fx = setup()
            before = self.state(fx)
            n = 0
            while True:
                n += 1
                self.assertLessEqual(n, MAX_N, "%s %s: still firing at N=%d" % (name, kind, n))
                spec = kind % n
                what = "%s with X-Fault: %s" % (name, spec)
                r = request(fx, {"X-Fault": spec})
                fired = r.header("X-Fault-Fired")
                self.assertIn(fired, ("true", "false"), "%s: no X-Fault-Fired\n%s" % (what, r))
                if fired == "false":
                    break
                COUNTS[(name, kind_name(kind))] = n
                want = {":busy": 503, ":full": 507}.get(kind[kind.rfind(":"):], 500)
                self.assertDetail(r, want)
                if want == 503:
                    self.assertEqual(r.header("Retry-After"), "1", "%s\n%s" % (what, r))
                self.assertSameState(before, self.state(fx), what)
                h = self.c.get("/healthz")
                self.assertEqual(h.status, 200, "%s: the server no longer serves\n%s" % (what, h))
            # past every call: the request as it would run without a fault
            self.assertEqual(r.status, 200, "%s: N past every call, yet\n%s" % (what, r))
            if check_ok:
                check_ok(fx, r)
            after = self.state(fx)
            self.assertNotEqual(before["db"], after["db"], "%s: succeeded, nothing changed" % what)
            self.verify("%s %s" % (name, kind_name(kind)))
            self.assertIn((name, kind_name(kind)), COUNTS, "%s: no fault ever fired" % what)

    # ---- fixtures ----

    def entitlement(self):
        return self.make_entitlement(description="fault fixture", entitlement_type="Quantity",
                                     units="calls")["id"]

    def customer(self):
        return self.make_customer(external_id="ext-%s" % new_id()[:8],
                                  email="f-%s@example.com" % new_id()[:8],
                                  custom_data={"tier": "gold", "n": [1, 2]},
                                  address={"line1": "1 Main St", "city": "Paris"})["id"]

    def row(self, e, c, **fields):
        body = dict(quantity=10, quantity_used=1)
        body.update(fields)
        return self.make_row(e, c, **body)["id"]

    def pair_with_rows(self, nrows=1):
        e, c = self.entitlement(), self.customer()
        rows = [self.row(e, c, quantity=5 + i, expiry_at="2099-01-0%dT00:00:00Z" % (i + 1))
                for i in range(nrows)]
        return {"E": e, "C": c, "rows": rows}


class TestFaults(FaultCase):

    def test_00_malformed_spec_is_400(self):
        for spec in ("", "store", "store:0", "store:x", "store:1:nope", "alloc:1:busy",
                     "disk:1", "store:-1", "alloc: 1"):
            r = self.c.post("/entitlements", {"name": "never"}, headers={"X-Fault": spec})
            self.assertDetail(r, 400)
        self.assertEqual(self.c.get("/entitlements?limit=100").json["results"], [],
                         "a refused X-Fault request made an entitlement")

    def test_create_entitlement(self):
        self.run_faults(
            "POST /entitlements",
            lambda: {},
            lambda fx, h: self.c.post("/entitlements", {
                "name": "Ent", "description": "d", "entitlement_type": "Credits",
                "units": "u", "is_active": False, "product_id": new_id()}, headers=h))

    def test_create_customer(self):
        self.run_faults(
            "POST /customers",
            # emails are unique per organisation: one per fault kind
            lambda: {"email": "c-%s@example.com" % new_id()[:8]},
            lambda fx, h: self.c.post("/customers", {
                "customer_name": "Cust", "external_id": "x-1", "email": fx["email"],
                "phone_number": "+331", "business_entity_id": new_id(),
                "custom_data": {"a": {"b": [1, "two", None]}},
                "address": {"line1": "1 Main St", "city": "Paris", "country": "FR"},
                "ship_to_address": {"line1": "2 Side St"},
                "tax_info": [{"country_code": "FR", "tax_code": "vat", "tax_id": "1"}],
                "connector": {"name": "stripe", "reference_id": "cus_1"},
                "communications_enabled": False}, headers=h))

    def test_create_row(self):
        def setup():
            return {"E": self.entitlement(), "C": self.customer(), "rows": []}

        def check_ok(fx, r):
            fx["rows"].append(r.json["id"])

        self.run_faults(
            "POST /entitlements/{e}/customer",
            setup,
            lambda fx, h: self.c.post("/entitlements/%s/customer" % fx["E"], {
                "customer": fx["C"], "quantity": 100, "quantity_used": 5,
                "active_from": "2020-01-01T00:00:00Z", "expiry_at": "2099-01-01T00:00:00Z",
                "contract_id": new_id(), "source_type": "order", "source_id": new_id(),
                "block_amount": 3.5, "invoice_id": new_id(), "event": "ev",
                "numeric_value": 2, "feature_option_value": "opt", "status": "active"},
                headers=h),
            check_ok)

    def test_patch_row(self):
        self.run_faults(
            "PATCH row",
            self.pair_with_rows,
            lambda fx, h: self.c.patch(row_path(fx["E"], fx["C"], fx["rows"][0]), patch_body(
                fx["E"], fx["C"], quantity=50, quantity_used=7,
                active_from="2021-01-01T00:00:00Z"), headers=h))

    def test_delete_row(self):
        self.run_faults(
            "DELETE row",
            self.pair_with_rows,
            lambda fx, h: self.c.request("DELETE", row_path(fx["E"], fx["C"], fx["rows"][0]),
                                         headers=h))

    def test_consume(self):
        # 8 drawn from two rows (5 and 6, 1 used each): two updates, two entries
        self.run_faults(
            "POST consume",
            lambda: self.pair_with_rows(2),
            lambda fx, h: self.c.post("/entitlements/%s/customer/%s/consume" % (fx["E"], fx["C"]),
                                      {"quantity": 8}, headers=h),
            lambda fx, r: self.assertEqual(len(r.json["draws"]), 2, str(r)))

    def test_patch_entitlement(self):
        self.run_faults(
            "PATCH /entitlements/{id}",
            lambda: {"E": self.entitlement()},
            lambda fx, h: self.c.patch("/entitlements/%s" % fx["E"], {
                "name": "Renamed", "description": None, "units": "tokens",
                "entitlement_type": "Credits", "product_id": new_id()}, headers=h))

    def test_patch_customer(self):
        self.run_faults(
            "PATCH /customers/{id}",
            lambda: {"C": self.customer()},
            lambda fx, h: self.c.patch("/customers/%s" % fx["C"], {
                "customer_name": "Renamed", "email": None, "custom_data": {"x": 1},
                "address": None, "tax_info": [{"country_code": "DE", "tax_code": "vat",
                                               "tax_id": "9"}],
                "auto_charge_enabled": False}, headers=h))

    def test_delete_entitlement(self):
        self.run_faults(
            "DELETE /entitlements/{id}",
            lambda: {"E": self.entitlement()},
            lambda fx, h: self.c.request("DELETE", "/entitlements/%s" % fx["E"], headers=h))

    def test_delete_customer(self):
        self.run_faults(
            "DELETE /customers/{id}",
            lambda: {"C": self.customer()},
            lambda fx, h: self.c.request("DELETE", "/customers/%s" % fx["C"], headers=h))

    def test_idempotent_consume(self):
        """With an Idempotency-Key the effect and the stored answer are one
        transaction: a failed attempt stores neither, so every retry with the
        same key runs afresh, and the final success is stored (its replay
        comes back byte for byte)."""
        def setup():
            fx = self.pair_with_rows(2)
            fx["key"] = "fault-%s" % new_id()
            return fx

        def send(fx, h):
            h = dict(h, **{"Idempotency-Key": fx["key"]})
            return self.c.post("/entitlements/%s/customer/%s/consume" % (fx["E"], fx["C"]),
                               {"quantity": 8}, headers=h)

        def check_ok(fx, r):
            self.assertIsNone(r.header("Idempotent-Replayed"),
                              "a failed attempt was stored: the last one was a replay\n%s" % r)
            again = send(fx, {})
            self.assertEqual((again.status, again.body), (r.status, r.body), str(again))
            self.assertEqual(again.header("Idempotent-Replayed"), "true", str(again))

        self.run_faults("POST consume with Idempotency-Key", setup, send, check_ok)

    def test_zz_counts(self):
        """Not a check: prints how many (operation, kind, N) cases ran."""
        self.verify("the end")
        total = sum(COUNTS.values())
        lines = ["  %-40s %-12s N=1..%d" % (op, k, n) for (op, k), n in sorted(COUNTS.items())]
        sys.stdout.write("\nfault cases (operation, kind, N that fired): %d, plus %d normal "
                         "runs\n%s\n" % (total, len(COUNTS), "\n".join(lines)))
        sys.stdout.flush()
