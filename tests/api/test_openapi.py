"""The server's own OpenAPI document (GET /openapi.json) and its page (GET
/docs): a well-formed OpenAPI 3.1 document, naming exactly the routes the
binary serves (`entitled routes`), keeping Zenskar's operationIds, describing
every query parameter the server accepts, served without a key, and a page
that needs no network. harness.py validates every answer of every API test
against this document; the last class checks that machinery itself.

Also here: tests/api/schema.py's own cases, and that docs/openapi.json is
what tools/gen_openapi.py writes and what the binary serves."""

import json
import os
import re
import subprocess
import sys
import unittest
import urllib.parse

import harness
import schema
from harness import Client, Response, ServerTestCase, cli, new_id

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DOC_FILE = os.path.join(ROOT, "docs", "openapi.json")
GEN = os.path.join(ROOT, "tools", "gen_openapi.py")
REFERENCE = os.environ.get("ENTITLED_REFERENCE_SPEC") or os.path.join(
    os.path.dirname(ROOT), "shared", "spec", "zenskar-entitlements.openapi.json")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The reference's operations (shared/spec/zenskar-entitlements.openapi.json),
# kept here so the check runs without the file: a Zenskar client calls these.
ZENSKAR_OPERATIONS = {
    ("GET", "/entitlements"): "List-entitlements",
    ("POST", "/entitlements"): "Create-entitlement",
    ("GET", "/entitlements/{entitlement_id}"): "Get-entitlement",
    ("PATCH", "/entitlements/{entitlement_id}"): "Update-entitlement",
    ("DELETE", "/entitlements/{entitlement_id}"): "Delete-entitlement",
    ("POST", "/entitlements/{entitlement_id}/customer"): "Create-entitlement-customer",
    ("PATCH", "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}"):
        "Update-customer-entitlement",
    ("DELETE", "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}"):
        "Delete-customer-entitlement",
    ("GET", "/entitlements/{entitlement_id}/customer/{customer_id}/total"):
        "Get-total-customer-entitlements",
    ("GET", "/entitlements/customer/{customer_id}"): "List-customer-entitlements",
    ("GET", "/entitlements/customer/unique/{customer_id}"):
        "List-unique-entitlements-for-customer",
    ("GET", "/entitlements/customers_balances"):
        "List-customer-entitlement-balances-with-advanced-filtering",
    ("GET", "/customers"): "List-customers-with-filtering-and-pagination",
    ("POST", "/customers"): "Create-customer",
    ("GET", "/customers/{customer_id}"): "Get-customer-by-ID",
    ("PATCH", "/customers/{customer_id}"): "Update-customer",
    ("DELETE", "/customers/{customer_id}"): "Delete-customer",
    ("GET", "/customer"): "Legacy-list-customers",
    ("POST", "/customer"): "Legacy-create-customer",
}
PUBLIC = {("GET", "/healthz"), ("GET", "/openapi.json"), ("GET", "/docs")}


def operations(doc):
    """(METHOD, path, operation) for every operation of the document."""
    out = []
    for path, item in doc.get("paths", {}).items():
        for m in METHODS:
            if m in item:
                out.append((m.upper(), path, item[m]))
    return out


def all_refs(node, where="$"):
    """(where, $ref) of every $ref in a JSON value."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                out.append((where, v))
            else:
                out += all_refs(v, "%s.%s" % (where, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += all_refs(v, "%s[%d]" % (where, i))
    return out


def schemas_of(doc):
    """(where, schema) of every schema the document holds."""
    out = [("#/components/schemas/" + k, s)
           for k, s in doc.get("components", {}).get("schemas", {}).items()]
    for method, path, o in operations(doc):
        for p in o.get("parameters", []):
            out.append(("%s %s parameter %s" % (method, path, p.get("name")), p.get("schema")))
        for ct, c in o.get("requestBody", {}).get("content", {}).items():
            out.append(("%s %s body %s" % (method, path, ct), c.get("schema")))
        for st, r in o.get("responses", {}).items():
            for ct, c in r.get("content", {}).items():
                out.append(("%s %s %s %s" % (method, path, st, ct), c.get("schema")))
            for h, hd in r.get("headers", {}).items():
                out.append(("%s %s %s header %s" % (method, path, st, h), hd.get("schema")))
    return out


def load_file_doc():
    with open(DOC_FILE, encoding="utf-8") as f:
        return json.load(f)


class Document(ServerTestCase):
    """The document as served, and as committed."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = Client(cls.server.port).get("/openapi.json", auth=False)
        cls.resp = r
        try:
            cls.doc = r.json if r.status == 200 else None
        except AssertionError:
            cls.doc = None

    def setUp(self):
        if self.doc is None:
            self.fail("GET /openapi.json did not answer a JSON document:\n%s" % self.resp)

    def test_served_without_key(self):
        for auth in (False, {"x-api-key": "nope", "organisation": new_id()}):
            r = self.c.get("/openapi.json", auth=auth)
            body = self.assertJson(r, 200)
            self.assertEqual(body.get("openapi"), "3.1.0", str(r)[:300])

    def test_top_level(self):
        d = self.doc
        self.assertEqual(d.get("openapi"), "3.1.0")
        info = d.get("info", {})
        self.assertEqual(info.get("title"), "entitled")
        self.assertEqual(info.get("version"), "0.1.0")
        self.assertTrue(info.get("description"), "info.description is empty")
        self.assertEqual(d.get("servers"), [{"url": "http://127.0.0.1:8080"}])
        self.assertTrue(d.get("paths"), "no paths")
        schemes = d.get("components", {}).get("securitySchemes", {})
        self.assertEqual(schemes.get("ApiTokenAuth", {}).get("name"), "x-api-key")
        self.assertEqual(schemes.get("ApiTokenAuth", {}).get("in"), "header")
        self.assertEqual(schemes.get("OrganisationAuth", {}).get("name"), "organisation")
        self.assertEqual(schemes.get("OrganisationAuth", {}).get("in"), "header")
        self.assertEqual(d.get("security"), [{"ApiTokenAuth": [], "OrganisationAuth": []}])

    def test_every_ref_resolves(self):
        bad = []
        for where, ref in all_refs(self.doc):
            try:
                schema.resolve(self.doc, ref)
            except KeyError as e:
                bad.append("%s: %s" % (where, e))
        self.assertEqual(bad, [], "\n".join(bad))

    def test_operations_are_complete(self):
        bad, ids = [], {}
        for method, path, o in operations(self.doc):
            name = "%s %s" % (method, path)
            for k in ("operationId", "summary", "description", "responses"):
                if not o.get(k):
                    bad.append("%s: no %s" % (name, k))
            ids.setdefault(o.get("operationId"), []).append(name)
            rs = o.get("responses", {})
            if "200" not in rs:
                bad.append("%s: no 200 answer" % name)
            for st, r in rs.items():
                if not re.fullmatch(r"[1-5]\d\d", st):
                    bad.append("%s: response key %r" % (name, st))
                r = schema._deref(self.doc, r)
                if not r.get("description"):
                    bad.append("%s %s: no description" % (name, st))
                if not r.get("content"):
                    bad.append("%s %s: no content" % (name, st))
            # path parameters: exactly the template's
            declared = {p["name"] for p in o.get("parameters", []) if p.get("in") == "path"}
            in_template = set(re.findall(r"\{([^}]+)\}", path))
            if declared != in_template:
                bad.append("%s: path parameters %s, template has %s"
                           % (name, sorted(declared), sorted(in_template)))
            for p in o.get("parameters", []):
                if p.get("in") == "path" and p.get("required") is not True:
                    bad.append("%s: path parameter %s not required" % (name, p.get("name")))
                if not p.get("schema"):
                    bad.append("%s: parameter %s without schema" % (name, p.get("name")))
            names = [(p.get("in"), p.get("name")) for p in o.get("parameters", [])]
            if len(names) != len(set(names)):
                bad.append("%s: a parameter is listed twice" % name)
            public = (method, path) in PUBLIC
            if public and o.get("security") != []:
                bad.append("%s: public, but not `security: []`" % name)
            if not public:
                if "security" in o:
                    bad.append("%s: needs the key, but overrides security" % name)
                for st in ("401", "403", "422"):
                    if st not in rs:
                        bad.append("%s: no %s answer" % (name, st))
            if public and (set(rs) & {"401", "403"}):
                bad.append("%s: public, but documents 401/403" % name)
        for op_id, where in ids.items():
            if op_id and len(where) > 1:
                bad.append("operationId %r used by %s" % (op_id, where))
        self.assertEqual(bad, [], "\n".join(bad))

    def test_error_answers_have_their_shapes(self):
        """422 is HTTPValidationError, every other error ErrorDetail; but the
        422 of a POST, PATCH or DELETE may also be ErrorDetail (an
        Idempotency-Key reused with another request; a Feature consumed),
        and a short consume's 409 is ConsumeShort."""
        def r_(name):
            return {"$ref": "#/components/schemas/" + name}
        bad = []
        for method, path, o in operations(self.doc):
            for st, r in o.get("responses", {}).items():
                if st == "200":
                    continue
                r = schema._deref(self.doc, r)
                s = r.get("content", {}).get("application/json", {}).get("schema")
                if st == "422" and method in ("POST", "PATCH", "DELETE"):
                    want = {"anyOf": [r_("HTTPValidationError"), r_("ErrorDetail")]}
                elif st == "422":
                    want = r_("HTTPValidationError")
                elif st == "409" and o.get("operationId") == "Consume-customer-entitlement":
                    want = r_("ConsumeShort")
                else:
                    want = r_("ErrorDetail")
                if s != want:
                    bad.append("%s %s %s: schema %s, expected %s" % (method, path, st, s, want))
            if "503" in o.get("responses", {}):
                r = schema._deref(self.doc, o["responses"]["503"])
                if "Retry-After" not in r.get("headers", {}):
                    bad.append("%s %s 503: no Retry-After header" % (method, path))
        self.assertEqual(bad, [], "\n".join(bad))

    def test_schemas_use_only_what_the_validator_checks(self):
        bad = []
        for where, s in schemas_of(self.doc):
            if s is None:
                bad.append("%s: no schema" % where)
                continue
            bad += ["%s: %s" % (where, k) for k in schema.unsupported_keywords(s)]
        self.assertEqual(bad, [], "keywords tests/api/schema.py does not check:\n"
                         + "\n".join(bad))

    def test_zenskar_operation_ids_kept(self):
        ref_ops = dict(ZENSKAR_OPERATIONS)
        if os.path.isfile(REFERENCE):
            with open(REFERENCE, encoding="utf-8") as f:
                ref = json.load(f)
            ref_ops.update({(m, p): o.get("operationId") for m, p, o in operations(ref)})
        ours = {(m, p): o.get("operationId") for m, p, o in operations(self.doc)}
        bad = ["%s %s: %r, the reference says %r" % (m, p, ours.get((m, p)), op_id)
               for (m, p), op_id in sorted(ref_ops.items()) if ours.get((m, p)) != op_id]
        self.assertEqual(bad, [], "\n".join(bad))

    def test_served_document_is_the_committed_file(self):
        self.assertEqual(self.resp.body.decode("utf-8"), open(DOC_FILE, encoding="utf-8").read(),
                         "GET /openapi.json is not docs/openapi.json: rebuild the binary")

class Committed(unittest.TestCase):
    """docs/openapi.json against its generator and the binary's route table
    (no server needed; the served copy is checked against this file above)."""

    def test_committed_file_is_generated(self):
        p = subprocess.run([sys.executable, GEN, "--check"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 0, "tools/gen_openapi.py --check: %s%s"
                         % (p.stdout.decode(), p.stderr.decode()))

    def test_matches_the_binary_routes(self):
        r = cli("routes")
        self.assertEqual(r.rc, 0, repr(r))
        served = set()
        for line in r.out.splitlines():
            parts = line.split()
            if parts:
                self.assertEqual(len(parts), 3, "routes line %r is not METHOD PATH ID" % line)
                served.add(tuple(parts))
        documented = {(m, p, o.get("operationId")) for m, p, o in operations(load_file_doc())}
        only_served = sorted(served - documented)
        only_doc = sorted(documented - served)
        msg = []
        if only_served:
            msg.append("served (`entitled routes`) but not in docs/openapi.json:\n  "
                       + "\n  ".join(" ".join(x) for x in only_served))
        if only_doc:
            msg.append("in docs/openapi.json but not served (`entitled routes`):\n  "
                       + "\n  ".join(" ".join(x) for x in only_doc))
        if msg:
            self.fail("\n".join(msg))


class Parameters(ServerTestCase):
    """Every query parameter the document names is one the server takes (no
    422 naming it), and a parameter it does not name is refused."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.doc = load_file_doc()

    def fixtures(self):
        cu = self.make_customer()
        en = self.make_entitlement()
        row = self.make_row(en["id"], cu["id"], quantity=5)
        return {"entitlement_id": en["id"], "customer_id": cu["id"], "ec_id": row["id"]}

    @staticmethod
    def sample(s, doc):
        """A valid query value for a parameter schema."""
        s = schema._deref(doc, s)
        if "enum" in s:
            return str(s["enum"][0])
        if "examples" in s:
            return urllib.parse.quote(str(s["examples"][0]), safe="")
        fmt, t = s.get("format"), s.get("type")
        if fmt == "uuid":
            return new_id()
        if fmt == "date-time":
            return "2026-01-31T12:00:00Z"
        if t == "integer":
            return str(s.get("minimum", 1))
        if t == "number":
            return "1.5"
        if t == "boolean":
            return "true"
        return "x"

    def test_documented_query_parameters_are_accepted(self):
        ids = self.fixtures()
        bad = []
        for method, path, o in operations(self.doc):
            qs = [p for p in o.get("parameters", []) if p.get("in") == "query"]
            if not qs or (method, path) in PUBLIC:
                continue
            url = path
            for k, v in ids.items():
                url = url.replace("{%s}" % k, v)
            for p in qs:
                if p["name"] == "cursor":
                    continue  # a cursor must come from an answer
                base = {x["name"]: x for x in qs}.get(p["name"][:-len("__in")])
                if p["name"] == "end_date":
                    value = "99999999999"  # after start_date's sample
                elif p["name"].endswith("__in") and base:
                    value = self.sample(base["schema"], self.doc)  # a list of one
                else:
                    value = self.sample(p["schema"], self.doc)
                r = self.c.request(method, "%s?%s=%s" % (url, p["name"], value))
                if r.status != 200:
                    bad.append("%s %s?%s=%s -> %d %s" % (method, path, p["name"], value,
                                                         r.status, r.text[:300]))
        self.assertEqual(bad, [], "\n".join(bad))

    def test_undocumented_query_parameter_is_refused(self):
        ids = self.fixtures()
        bad = []
        for method, path, o in operations(self.doc):
            if not any(p.get("in") == "query" for p in o.get("parameters", [])):
                continue
            url = path
            for k, v in ids.items():
                url = url.replace("{%s}" % k, v)
            r = self.c.request(method, url + "?not_a_parameter=1")
            want = {"type": "extra_forbidden", "loc": ["query", "not_a_parameter"],
                    "msg": "Extra inputs are not permitted", "input": "1"}
            if r.status != 422 or want not in (r.json or {}).get("detail", []):
                bad.append("%s %s -> %d %s" % (method, path, r.status, r.text[:300]))
        self.assertEqual(bad, [], "\n".join(bad))


class DocsPage(ServerTestCase):
    def test_served_without_key_as_html(self):
        for auth in (False, {"x-api-key": "nope", "organisation": new_id()}):
            r = self.c.get("/docs", auth=auth)
            self.assertEqual(r.status, 200, str(r)[:500])
            ctype = (r.header("content-type") or "").lower()
            self.assertEqual(ctype.split(";")[0].strip(), "text/html", ctype)
            self.assertIn("charset=utf-8", ctype.replace(" ", ""))
            self.assertTrue(r.text.lstrip().lower().startswith("<!doctype html>"), r.text[:200])

    def test_needs_no_network(self):
        text = self.c.get("/docs", auth=False).text
        own = {"127.0.0.1", "localhost", "127.0.0.1:%d" % self.server.port,
               "localhost:%d" % self.server.port}
        foreign = [m.group(0) for m in re.finditer(r"https?://([^/\"'\s<>)]+)", text, re.I)
                   if m.group(1).lower() not in own]
        self.assertEqual(foreign, [], "the page refers to other hosts")
        # protocol-relative URLs and external resources of any kind
        for pat in (r"""(src|href)\s*=\s*["']?//""", r"url\(\s*['\"]?//", r"@import",
                    r"<script[^>]*\bsrc\s*=", r"<link[^>]*\brel\s*=\s*[\"']?stylesheet"):
            self.assertIsNone(re.search(pat, text, re.I), "the page matches %r" % pat)

    def test_renders_the_document(self):
        text = self.c.get("/docs", auth=False).text
        self.assertIn("openapi.json", text, "the page does not fetch the document")
        self.assertIn("<script", text)


class SchemaValidator(ServerTestCase):
    """tests/api/schema.py's own cases, and the harness hook using it."""

    def test_types(self):
        v = schema.validate
        self.assertEqual(v(1, {"type": "integer"}), [])
        self.assertEqual(v(1.0, {"type": "integer"}), [])
        self.assertTrue(v(1.5, {"type": "integer"}))
        self.assertEqual(v(1, {"type": "number"}), [])
        self.assertTrue(v(True, {"type": "number"}))
        self.assertTrue(v(True, {"type": "integer"}))
        self.assertTrue(v(0, {"type": "boolean"}))
        self.assertEqual(v(None, {"type": ["string", "null"]}), [])
        self.assertTrue(v("1", {"type": "number"}))

    def test_formats(self):
        v = schema.validate
        u = {"type": "string", "format": "uuid"}
        self.assertEqual(v("0190a3b2-7c4e-7d00-8a00-0123456789ab", u), [])
        self.assertTrue(v("0190A3B2-7C4E-7D00-8A00-0123456789AB", u))
        self.assertTrue(v("0190a3b27c4e7d008a000123456789ab", u))
        d = {"type": "string", "format": "date-time"}
        self.assertEqual(v("2026-01-31T12:00:00Z", d), [])
        self.assertEqual(v("2026-01-31T12:00:00.000500Z", d), [])
        for bad in ("2026-01-31T12:00:00.000000Z", "2026-01-31T12:00:00+00:00",
                    "2026-02-30T12:00:00Z", "2026-01-31 12:00:00Z", "2026-01-31T12:00:00.5Z"):
            self.assertTrue(v(bad, d), bad)

    def test_structure(self):
        root = {"components": {"schemas": {
            "A": {"type": "object", "properties": {"x": {"type": "integer", "minimum": 0}},
                  "required": ["x"], "additionalProperties": False}}}}
        a = {"$ref": "#/components/schemas/A"}
        v = schema.validate
        self.assertEqual(v({"x": 1}, a, root), [])
        errs = v({"x": -1, "y": 2}, a, root)
        self.assertEqual(len(errs), 2, errs)
        self.assertTrue(errs[0].startswith("$.x: ") or errs[1].startswith("$.x: "), errs)
        self.assertTrue(v({}, a, root))
        arr = {"type": "array", "items": a, "minItems": 1}
        errs = v([{"x": 1}, {"x": "no"}], arr, root)
        self.assertEqual(len(errs), 1, errs)
        self.assertTrue(errs[0].startswith("$[1].x: "), errs)
        self.assertTrue(v([], arr, root))
        nullable = {"anyOf": [a, {"type": "null"}]}
        self.assertEqual(v(None, nullable, root), [])
        self.assertTrue(v(5, nullable, root))
        one = {"oneOf": [{"type": "number"}, {"type": "integer"}]}
        self.assertTrue(v(3, one))  # both match
        self.assertEqual(v(3.5, one), [])
        self.assertEqual(v("ok", {"const": "ok"}), [])
        self.assertTrue(v("no", {"const": "ok"}))
        self.assertEqual(v(1, {"enum": [1.0, "a"]}), [])
        self.assertTrue(v(True, {"enum": [1]}))
        self.assertTrue(v("abcd", {"type": "string", "maxLength": 3}))
        self.assertTrue(v({"a": 1}, {"allOf": [{"required": ["a"]}, {"required": ["b"]}]}))
        self.assertTrue(v(1, {"$ref": "#/components/schemas/Nope"}, root))
        self.assertTrue(v(1, {"type": "integer", "multipleOf": 2}))  # unsupported keyword

    def test_routes_are_matched_like_the_router(self):
        doc = load_file_doc()
        m = schema.match_operation
        self.assertEqual(m(doc, "GET", "/entitlements/customers_balances?limit=1")[1]["operationId"],
                         "List-customer-entitlement-balances-with-advanced-filtering")
        self.assertEqual(m(doc, "PATCH", "/entitlements/customers_balances")[1]["operationId"],
                         "Update-entitlement")
        self.assertEqual(m(doc, "GET", "/entitlements/a/customer/b/total")[1]["operationId"],
                         "Get-total-customer-entitlements")
        self.assertEqual(m(doc, "GET", "/entitlements/a/customer/b/c")[1]["operationId"],
                         "Get-customer-entitlement")
        self.assertEqual(m(doc, "PUT", "/customers"), ("/customers", None))
        self.assertIsNone(m(doc, "GET", "/entitlements/"))
        self.assertIsNone(m(doc, "GET", "/nope"))
        self.assertIsNone(m(doc, "GET", "/customers/" + "a" * 300))

    def test_hook_fails_a_wrong_answer(self):
        port = self.server.port
        if harness.served_document(port) is None:
            self.fail("the server serves no /openapi.json")
        ok = Response("GET", "/healthz", 200, [("Content-Type", "application/json")],
                      b'{"status":"ok"}')
        harness.check_answer(port, ok)
        cases = [
            Response("GET", "/healthz", 200, [("Content-Type", "application/json")],
                     b'{"status":"ok","extra":1}'),
            Response("GET", "/healthz", 418, [("Content-Type", "application/json")],
                     b'{"detail":"teapot"}'),
            Response("GET", "/healthz", 200, [("Content-Type", "text/plain")], b'ok'),
            Response("PUT", "/healthz", 404, [("Content-Type", "application/json")],
                     b'{"detail":"Not Found"}'),
            Response("GET", "/entitlements/" + new_id(), 200,
                     [("Content-Type", "application/json")], b'{"id":"X"}'),
            Response("GET", "/entitlements", 503, [("Content-Type", "application/json")],
                     b'{"detail":"busy"}'),  # no Retry-After
        ]
        for resp in cases:
            with self.subTest(resp=str(resp)):
                with self.assertRaises(AssertionError):
                    harness.check_answer(port, resp)
        # headers: one not `required` may be absent, but a present one must match
        doc = load_file_doc()
        hdrs = lambda d: (lambda h: d.get(h.lower()))
        mh = schema.missing_headers
        self.assertEqual(mh(doc, "POST", "/entitlements", 200, hdrs({})), [])
        self.assertEqual(mh(doc, "POST", "/entitlements", 200,
                            hdrs({"idempotent-replayed": "true", "x-request-id": "r-1"})), [])
        self.assertTrue(mh(doc, "POST", "/entitlements", 200,
                           hdrs({"idempotent-replayed": "yes"})))
        self.assertTrue(mh(doc, "GET", "/entitlements", 200, hdrs({"x-request-id": "x" * 129})))
        self.assertTrue(mh(doc, "GET", "/entitlements", 503, hdrs({})))
        self.assertTrue(mh(doc, "GET", "/entitlements", 503, hdrs({"retry-after": "soon"})))
        self.assertEqual(mh(doc, "GET", "/entitlements", 503, hdrs({"retry-after": "1"})), [])
        # an undocumented path is exempt
        harness.check_answer(port, Response("GET", "/nope", 404,
                                            [("Content-Type", "application/json")], b"{}"))

    def test_switch(self):
        self.assertEqual(harness.SCHEMA_CHECK, os.environ.get("ENTITLED_NO_SCHEMA", "") != "1")
