"""Hostile input (issue 7): a corpus of bad requests across every route.

The corpus is built from the route table (`entitled routes`) and
docs/openapi.json (each operation's path parameters, query parameters and
request body schema), plus hand-written cases, so that every route gets its
share. Every bad request must be answered with a 4xx and a JSON object with a
`detail` member (the exact status where docs/API.md says it: 422 for
validation and malformed JSON, 400 for a body that is not UTF-8 or nests
deeper than 64 levels, 413 above 1 MiB, 405 for a wrong method, 401/403 for
auth), never a 5xx; the server must stay up, and nothing stored may change:
the organisation's objects are snapshotted through the API (entitlements,
customers, balances, each customer's rows, unique totals and ledger, each
object by id) before and after each group, and on SQLite the file passes
`PRAGMA integrity_check` and `PRAGMA foreign_key_check` at the end, after a
SIGTERM that must exit 0, with `entitled verify`.

Payloads that are valid input (a SQL-looking customer name is a legitimate
string) are not in the bad corpus: the "hostile but valid" test stores them
in every text field of a fresh organisation and checks that they come back
exactly, that text filters given them match exactly what Python says they
match (no injection effect), and that the first organisation is untouched.

A few answers are libmicrohttpd's, not entitled's: a header block or URL
larger than the connection memory limit (64 KiB, src/http/server.c) is
refused by the library before any entitled code runs, with its own HTML 431
(headers) or 414 (URL). Those cases are counted apart and only a 431/414 is
required of them (a closed connection is not accepted: the library does
answer). Everything the server itself can see must be a JSON `detail`.

Run the corpus alone with `-k Hostile`; ENTITLED_HOSTILE_VERBOSE=1 prints
each case and its status."""

import http.client
import json
import os
import sqlite3
import sys
import urllib.parse

import harness
import schema
from harness import (MIB, UUID_RE, Response, ServerTestCase, cli, fresh_client, json_diff,
                     raw_exchange, url)
from ledger_check import consume_path, ledger_path, verify

HERE = os.path.dirname(os.path.abspath(__file__))
OPENAPI = os.path.join(HERE, "..", "..", "docs", "openapi.json")
VERBOSE = os.environ.get("ENTITLED_HOSTILE_VERBOSE", "") == "1"

# SQL and format-string payloads. No '/' in them: they also go into path
# segments, where a decoded '/' would change the route.
SQL = [
    "' OR '1'='1",
    "1; DROP TABLE customers; --",
    "\" OR \"\"=\"",
    "' UNION SELECT key_hash, NULL FROM api_keys --",
    "1' AND pg_sleep(5) IS NULL --",
    "'); DELETE FROM ledger; --",
    "x' ESCAPE '\\' --",
]
FMT = [
    "%s%s%s%s%s%s%n",
    "%x%x%x%x%p%p",
    "%99999999999d",
    "%1$s%2$n%3$*4$d",
    "{0}{1}{__class__.__mro__}",
    "${jndi:ldap:x}",
]
# Bytes that are not UTF-8: overlong '/', a UTF-8-encoded surrogate, a code
# point past U+10FFFF, a truncated sequence, a lone continuation byte, 0xFF,
# a 5-byte form.
BAD_UTF8 = [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80", b"\xff",
            b"\xf8\x88\x80\x80\x80"]
PARSE_400 = {"detail": "There was an error parsing the body"}
NOT_FOUND = {"detail": "Not Found"}
# libmicrohttpd answers these itself (src/http/server.c: 64 KiB per connection)
EDGE_HEADER_BYTES = 70000


def enc(s):
    """A value percent-encoded for a URL (path segment or query value)."""
    return urllib.parse.quote(s, safe="")


class Lit(str):
    """A raw JSON literal to splice into a body (1e400, NaN, ...)."""


def dumps(value):
    """JSON text of value, with Lit strings spliced in as raw literals."""
    lits = []

    def sub(v):
        if isinstance(v, Lit):
            lits.append(str(v))
            return "\u0000LIT%d\u0000" % (len(lits) - 1)
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v

    text = json.dumps(sub(value))
    for i, lit in enumerate(lits):
        text = text.replace('"\\u0000LIT%d\\u0000"' % i, lit)
    return text.encode("utf-8")


def py_json_error(data):
    """The 422 item FastAPI gives for a body json.loads refuses, or None when
    Python parses it."""
    try:
        json.loads(data.decode("utf-8"))
    except json.JSONDecodeError as e:
        return {"type": "json_invalid", "loc": ["body", e.pos], "msg": "JSON decode error",
                "input": {}, "ctx": {"error": e.msg}}
    except (ValueError, RecursionError):
        return None
    return None


class Case:
    """One request of the corpus and what its answer must be."""

    def __init__(self, route, cat, method, path, body=None, ctype="application/json",
                 headers=(), auth=True, expect=None, loc=None, detail=None, raw=None,
                 edge=False, allow=None, note=""):
        self.route = route          # "METHOD TEMPLATE" (or "* TEMPLATE" for path-level cases)
        self.cat = cat              # category, for the counts
        self.method = method
        self.path = path
        self.body = body            # bytes or None
        self.ctype = ctype          # Content-Type sent with a body (None: none)
        self.headers = list(headers)
        self.auth = auth            # True: the tenant's headers; False: none; list: these
        self.expect = expect        # int, tuple of ints, or None (any 4xx)
        self.loc = loc              # a 422 must hold an item whose loc starts with this
        self.detail = detail        # the exact JSON answer, when the contract fixes it
        self.raw = raw              # (head, chunks) sent as is with raw_exchange
        self.edge = edge            # answered by libmicrohttpd (431/414, not JSON)
        self.allow = allow          # the set the Allow header of a 405 must list
        self.note = note
        # a NUL somewhere (sent last in its group: a server that cuts the
        # text at the NUL may act on the request, and then the other cases
        # would meet changed data)
        self.nul = "%00" in path or any(
            (b"\x00" if isinstance(v, bytes) else "\x00") in v for _k, v in self.headers) or (
            isinstance(auth, list) and any("\x00" in str(v) for _k, v in auth))

    def label(self):
        body = ""
        if self.body is not None:
            b = self.body if len(self.body) <= 160 else self.body[:160] + b"...(%d bytes)" % len(self.body)
            body = " body=%r" % b
        extra = (" headers=%r" % [(k, v if len(v) < 80 else v[:80] + "...")
                                  for k, v in self.headers]) if self.headers else ""
        ct = " ctype=%r" % self.ctype if self.body is not None and self.ctype != "application/json" else ""
        auth = " (no auth)" if self.auth is False else ""
        p = self.path if len(self.path) < 300 else self.path[:300] + "...(%d chars)" % len(self.path)
        return "[%s | %s] %s %s%s%s%s%s%s" % (self.route, self.cat, self.method, p, body, ct, extra,
                                              auth, (" -- " + self.note) if self.note else "")


# --------------------------------------------------------------------------
# the route table and the document

def route_table():
    r = cli("routes")
    if r.rc != 0:
        raise AssertionError("entitled routes failed\n%r" % r)
    routes = []
    for line in r.out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            routes.append((parts[0], parts[1]))
    if not routes:
        raise AssertionError("entitled routes printed no route\n%r" % r)
    return routes


def load_doc():
    with open(OPENAPI, encoding="utf-8") as f:
        return json.load(f)


def deref(doc, s):
    for _ in range(20):
        if isinstance(s, dict) and "$ref" in s:
            node = doc
            for part in s["$ref"][2:].split("/"):
                node = node[part]
            s = node
        else:
            break
    return s


def non_null(doc, prop):
    """(schema without the null alternative, nullable)."""
    prop = deref(doc, prop)
    if "anyOf" in prop:
        alts = [deref(doc, a) for a in prop["anyOf"]]
        nullable = any(a.get("type") == "null" for a in alts)
        rest = [a for a in alts if a.get("type") != "null"]
        merged = dict(rest[0]) if rest else {}
        for k in ("minimum", "exclusiveMinimum", "maxLength"):
            if k in prop:
                merged[k] = prop[k]
        return merged, nullable
    return prop, False


def body_field_kind(doc, tpl, name, prop):
    s, nullable = non_null(doc, prop)
    t, fmt = s.get("type"), s.get("format")
    if tpl.startswith("/entitlements/{entitlement_id}/customer") and name in ("entitlement", "customer"):
        return "ref", nullable
    if "enum" in s:
        return "enum", nullable
    if t == "string" and fmt == "uuid":
        return "uuid", nullable
    if t == "string" and fmt == "date-time":
        return "dt", nullable
    if t == "string":
        return ("text255" if s.get("maxLength") == 255 else "text"), nullable
    if t == "number":
        if "exclusiveMinimum" in s:
            return "num_gt0", nullable
        if "minimum" in s:
            return "num_ge0", nullable
        return "num", nullable
    if t == "boolean":
        return "bool", nullable
    if t == "object":
        return ("model" if s.get("properties") else "dict"), nullable
    if t == "array":
        return "array", nullable
    return "other", nullable


# Bad values of a body field, by kind: each is a 422 at ["body", field, ...].
NUMBER_BAD = ["NaN", "nan", "Infinity", "-inf", "1e400", Lit("1e400"), Lit("-1e400"),
              Lit("1" + "0" * 400), SQL[0], FMT[0], "", [], {"n": 1}]
BODY_BAD = {
    "text": [12345, True, ["a"], {"a": 1}, Lit("1e400")],
    "text255": [12345, ["a"], "x" * 256, "\U0001f389" * 256],
    "ref": [123, SQL[0], FMT[0], ["x"]],
    "uuid": [SQL[0], SQL[1], FMT[0], "", "00000000-0000-0000-0000-00000000000g", 123, ["x"]],
    "dt": [SQL[0], FMT[0], "NaN", "2026-02-30", "9999-12-31T23:59:59-01:00", "0000-01-01",
           True, {"a": 1}, Lit("1e400"), Lit("-1e400"), "1e400"],
    "enum": [SQL[0], FMT[0], "feature", "", 1],
    "num": NUMBER_BAD,
    "num_ge0": NUMBER_BAD + [-1, "-1", -1e-300, Lit("-1e400")],
    "num_gt0": NUMBER_BAD + [0, Lit("-0.0"), Lit("1e-400"), -5, "0"],
    "bool": ["maybe", SQL[0], 2, -1, 0.5, [], {}],
    "model": ["str", 1, [], True],
    "dict": ["str", 1, [], True],
    "array": ["str", {}, [1], [{"tax_id": 1}], [[]]],
}


def query_kind(op, name, schema, doc):
    if name == "cursor":
        return "cursor"
    if name == "limit":
        return "limit"
    if name in ("order", "populate"):
        return name
    if name in ("expand", "apiversion"):
        return None  # accepted and ignored (docs/API.md)
    s = deref(doc, schema)
    t, fmt = s.get("type"), s.get("format")
    if "enum" in s:
        return "enum"
    if name.endswith("__in"):
        base = name[:-4]
        for p in op.get("parameters", []):
            if p["in"] == "query" and p["name"] == base:
                bk = query_kind(op, base, p["schema"], doc)
                return {"uuid": "uuid_in", "enum": "enum_in"}.get(bk, "text_in")
        return "text_in"
    if t == "string" and fmt == "uuid":
        return "uuid"
    if t == "string" and fmt == "date-time":
        return "dt"
    if t == "boolean":
        return "bool"
    if t == "integer":
        return "int"
    if t == "number":
        return "num"
    if t == "string":
        return "text"
    return None


class Corpus:
    """Builds the bad requests from the route table, the document and the
    fixtures (ids that exist, so that only the hostile part is wrong)."""

    def __init__(self, fx, routes, doc):
        self.fx = fx
        self.routes = routes
        self.doc = doc
        self.cases = []
        self.templates = []
        for _m, tpl in routes:
            if tpl not in self.templates:
                self.templates.append(tpl)

    # ---- helpers ----

    def op(self, method, tpl):
        return self.doc["paths"].get(tpl, {}).get(method.lower())

    def ids(self, method, tpl):
        fx = self.fx
        ids = {"entitlement_id": fx["E1"], "customer_id": fx["C1"], "ec_id": fx["R1"]}
        if method == "DELETE":  # objects nobody uses: a wrongful delete would succeed
            if tpl == "/entitlements/{entitlement_id}":
                ids["entitlement_id"] = fx["E_del"]
            elif tpl == "/customers/{customer_id}":
                ids["customer_id"] = fx["C_del"]
            elif tpl.endswith("{ec_id}"):
                ids["ec_id"] = fx["R_del"]
        return ids

    def fill(self, method, tpl, override=None):
        ids = self.ids(method, tpl)
        if override:
            ids.update(override)
        out = tpl
        for k, v in ids.items():
            out = out.replace("{%s}" % k, v)
        return out

    def base_body(self, method, tpl):
        """A valid body that would change stored data if a bad request
        carrying it were wrongly accepted."""
        fx = self.fx
        bodies = {
            ("POST", "/entitlements"): {"name": "made by a bad request", "entitlement_type": "Quantity"},
            ("PATCH", "/entitlements/{entitlement_id}"): {"name": "renamed by a bad request"},
            ("POST", "/entitlements/{entitlement_id}/customer"): {"customer": fx["C1"], "quantity": 5},
            ("PATCH", "/entitlements/{entitlement_id}/customer/{customer_id}/{ec_id}"):
                {"entitlement": fx["E1"], "customer": fx["C1"], "quantity": 77},
            ("POST", "/entitlements/{entitlement_id}/customer/{customer_id}/consume"): {"quantity": 1},
            ("POST", "/customers"): {"customer_name": "made by a bad request"},
            ("POST", "/customer"): {"customer_name": "made by a bad request"},
            ("PATCH", "/customers/{customer_id}"): {"customer_name": "renamed by a bad request"},
        }
        return bodies.get((method, tpl))

    def route_of(self, method, path):
        """The template the router picks for method and path (None: none;
        the template alone when the path is known without this method)."""
        m = schema.match_operation(self.doc, method, path)
        return m[0] if m else None

    def methods_of(self, path):
        """Every method some template matching the path allows."""
        segs = schema._segments(path)
        out = set()
        for m, tpl in self.routes:
            if schema._specificity(tpl, segs) is not None:
                out.add(m)
        return out

    def has_body(self, method, tpl):
        o = self.op(method, tpl)
        return bool(o and o.get("requestBody"))

    def add(self, *a, **kw):
        self.cases.append(Case(*a, **kw))

    def auth_headers(self):
        return [("x-api-key", self.fx["key"]), ("organisation", self.fx["org"])]

    # ---- generators ----

    def build(self):
        for method, tpl in self.routes:
            route = "%s %s" % (method, tpl)
            o = self.op(method, tpl)
            if o is None:
                raise AssertionError("route %s is not in docs/openapi.json" % route)
            public = tpl in ("/healthz", "/openapi.json", "/docs")
            if not public:
                self.gen_auth(route, method, tpl)
            self.gen_oversize(route, method, tpl, public)
            self.gen_path_params(route, method, tpl, o)
            self.gen_query(route, method, tpl, o)
            if self.has_body(method, tpl):
                if self.base_body(method, tpl) is None:
                    raise AssertionError("no base body for %s: add one to Corpus.base_body" % route)
                self.gen_body_generic(route, method, tpl)
                self.gen_body_fields(route, method, tpl, o)
            if method in ("POST", "PATCH", "DELETE"):
                self.gen_idempotency(route, method, tpl)
        for tpl in self.templates:
            self.gen_methods(tpl)
            self.gen_paths(tpl)
            self.gen_edge(tpl)
        return self.cases

    def body_args(self, method, tpl):
        b = self.base_body(method, tpl)
        return dumps(b) if b is not None else None

    def gen_auth(self, route, method, tpl):
        path = self.fill(method, tpl)
        body = self.body_args(method, tpl)
        key, org = self.fx["key"], self.fx["org"]
        variants = [
            ("no headers", [], 401),
            ("SQL key", [("x-api-key", SQL[0]), ("organisation", org)], 401),
            ("format key", [("x-api-key", FMT[0]), ("organisation", org)], 401),
            ("non-UTF-8 key", [("x-api-key", b"ek_\xff\xfe" + BAD_UTF8[1]), ("organisation", org)], 401),
            ("48 KB key", [("x-api-key", "ek_" + "k" * 48000), ("organisation", org)], 401),
            # (no NUL inside a header value: libmicrohttpd 0.9.75 ends a header
            # value at a NUL byte before entitled sees it, so "KEY\0x" reads as
            # KEY; docs/API.md says so. It grants nothing the key does not.)
            ("no organisation", [("x-api-key", key)], 401),
            ("SQL organisation", [("x-api-key", key), ("organisation", SQL[1])], 403),
            ("format organisation", [("x-api-key", key), ("organisation", FMT[0])], 403),
            ("non-UTF-8 organisation", [("x-api-key", key), ("organisation", b"\xff" + org.encode())], 403),
            ("another organisation", [("x-api-key", key), ("organisation", self.fx["other_org"])], 403),
        ]
        for note, hdrs, status in variants:
            self.add(route, "auth", method, path, body=body, headers=hdrs, auth=False, expect=status,
                     note=note)

    def gen_oversize(self, route, method, tpl, public):
        """413 from Content-Length, decided before the body; and for body routes a
        chunked upload that passes 1 MiB."""
        path = self.fill(method, tpl)
        auth = "" if public else "x-api-key: %s\r\norganisation: %s\r\n" % (self.fx["key"], self.fx["org"])
        head = ("%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % (method, path, auth, MIB + 1)).encode()
        # the body is sent: a refusal is answered once the body it announced
        # has been read (and thrown away), so that a client still writing
        # reads the answer instead of a reset (server.c, drain_first)
        pad = b" " * (MIB + 1)
        self.add(route, "size", method, path, raw=(head, [pad[i:i + 65536] for i in range(0, len(pad), 65536)]),
                 expect=413, note="Content-Length 1 MiB + 1")
        if self.has_body(method, tpl):
            b = self.base_body(method, tpl)
            first = next(iter(b))
            big = dict(b)
            big[first] = "x" * (MIB + 10) if isinstance(b[first], str) else b[first]
            if not isinstance(b[first], str):
                big["zz_padding"] = "x" * (MIB + 10)
            data = dumps(big)
            chunks = []
            for i in range(0, len(data), 65536):
                part = data[i:i + 65536]
                chunks.append(b"%x\r\n" % len(part) + part + b"\r\n")
            chunks.append(b"0\r\n\r\n")
            head = ("%s %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" % (method, path, auth)).encode()
            self.add(route, "size", method, path, raw=(head, chunks), expect=413,
                     note="chunked upload past 1 MiB")

    def gen_path_params(self, route, method, tpl, o):
        params = [p for p in o.get("parameters", []) if p["in"] == "path"]
        body = self.body_args(method, tpl)
        for p in params:
            name = p["name"]
            valid = self.ids(method, tpl)[name]
            values = [
                (enc(SQL[0]), None), (enc(SQL[1]), None), (enc(SQL[2]), None), (enc(FMT[0]), None),
                (enc(FMT[3]), None),
                (valid + "%00x", "valid id + NUL + suffix"),
                ("%ff" + valid[2:], "not UTF-8"), (valid[:8] + "%01" + valid[9:], "control char"),
                ("a" * 200, "200 chars"), ("00000000-0000-0000-0000-00000000000g", None),
                (valid + "0", "one hex digit too many"), (enc("１２３"), "fullwidth digits"),
            ]
            for v, note in values:
                path = self.fill(method, tpl, {name: v})
                if self.route_of(method, path) != tpl:
                    continue  # the value makes the path another route's
                if "%00" in v:
                    # docs/API.md: a path holding %00 names nothing, 404
                    self.add(route, "path-param", method, path, body=body, expect=404,
                             detail=NOT_FOUND, note=note or "")
                    continue
                self.add(route, "path-param", method, path, body=body, expect=422, loc=["path", name],
                         note=note or "")
            # a segment of 256 bytes or more matches no {param} (src/http/http.h
            # HTTP_PARAM_MAX, tests/api/schema.py PARAM_MAX): 404 Not Found
            path = self.fill(method, tpl, {name: "a" * 1000})
            self.add(route, "path-param", method, path, body=body, expect=404, detail=NOT_FOUND,
                     note="1000 chars")

    QUERY_BAD = {
        "uuid": lambda fx: [enc(SQL[0]), enc(FMT[0]), fx["E1"] + "%00x", "%ff", "1e400"],
        "uuid_in": lambda fx: [enc(fx["E1"] + "," + SQL[1]), enc(",".join([fx["E1"]] * 101)),
                               enc(FMT[1]), enc(fx["E1"] + ",")],
        "enum_in": lambda fx: [enc("create," + SQL[0]), enc(FMT[0]), "create%00x"],
        "text_in": lambda fx: [enc(",".join(["a"] * 101)), "a,%ff"],
        "dt": lambda fx: [enc(SQL[0]), enc(FMT[0]), "NaN", "2026-02-30", enc("9999-12-31T23:59:59-01:00"),
                          "%ff", "1e400", "2026-01-01%00x"],
        "bool": lambda fx: ["maybe", enc(SQL[0]), "2", "true%00x", "%ff"],
        "int": lambda fx: [enc(SQL[0]), "NaN", "1.5", "1e400", "1%00x", enc(FMT[2])],
        "limit": lambda fx: ["0", "101", "-1", "1e400", "NaN", enc(SQL[0]), "5%00x", ""],
        "num": lambda fx: ["NaN", "inf", "-Infinity", "1e400", enc(SQL[0]), "1%00x"],
        "enum": None,  # from the schema's values
        "order": None,
        "populate": lambda fx: [enc(SQL[0]), "customer%00x", enc(FMT[0])],
        "cursor": lambda fx: [enc(SQL[0]), enc(FMT[0]), "AAAA", "%00", "%ff"],
        "text": lambda fx: ["%ff"],
    }

    def gen_query(self, route, method, tpl, o):
        qparams = [p for p in o.get("parameters", []) if p["in"] == "query"]
        if not qparams:
            return
        path = self.fill(method, tpl)
        for p in qparams:
            name = p["name"]
            kind = query_kind(o, name, p["schema"], self.doc)
            if kind is None:
                continue
            if kind in ("enum", "order"):
                first = deref(self.doc, p["schema"])["enum"][0]
                values = [enc(SQL[0]), enc(FMT[0]), enc(first) + "%00x", enc(first.upper() + "x")]
                if kind == "order":
                    values.append(enc("--" + first.lstrip("-")))
            else:
                values = self.QUERY_BAD[kind](self.fx)
            for v in values:
                note = "NUL" if "%00" in v else ("not UTF-8" if "%ff" in v else "")
                self.add(route, "query", method, "%s?%s=%s" % (path, name, v), expect=422,
                         loc=["query", name], note=note)
        # unknown parameters (every list refuses them; so do balance and total)
        for v in (enc(SQL[0]), enc(FMT[0]), "limit%00x", "x%00y", enc("limit "), "LIMIT"):
            self.add(route, "query", method, "%s?%s=1" % (path, v), expect=422, note="unknown parameter")

    def gen_body_generic(self, route, method, tpl):
        path = self.fill(method, tpl)
        base = self.base_body(method, tpl)
        B = dumps(base)
        first = next(iter(base))

        def add_body(cat, data, expect, loc=None, detail=None, note="", ctype="application/json"):
            self.add(route, cat, method, path, body=data, expect=expect, loc=loc, detail=detail,
                     note=note, ctype=ctype)

        broken = [b"{", b"}", b"{\"a\"", b"{\"a\":}", b"{\"a\" 1}", b"{'a': 1}", b"{a: 1}", b"[1, 2",
                  b"{\"a\": 1}}", b"{\"a\": \"unterminated}", b"{\"a\": tru}", b"{\"a\": nul}",
                  b"{\"a\": 01}", b"{\"a\": 1.}", b"{\"a\": .5}", b"{\"a\": +1}", b"{\"a\": 0x10}",
                  b"{\"a\": \"\\x41\"}", b"{\"a\": \"\\u12\"}", b"/*c*/{}", b"{}//c", b"   ", b"\x00",
                  b"{\"a\": 1}\x00", b"{\"a\": 1} x", b"{\"a\": 1,}", b"{,}", b"{\"a\": [1,]}",
                  B[:len(B) // 2], B[:-1], B + b"}", B[:-1] + b",}", B + B, B.replace(b":", b"=", 1)]
        for data in broken:
            item = py_json_error(data)
            assert item is not None, data
            add_body("broken-json", data, 422, detail={"detail": [item]})
        # NaN and infinities: not JSON (RFC 8259), refused as "Expecting value"
        for lit in (b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf", b"-NaN", b"+Infinity"):
            data = B[:-1] + b", \"zz\": " + lit + b"}"
            pos = len(B[:-1] + b", \"zz\": ")
            item = {"type": "json_invalid", "loc": ["body", pos], "msg": "JSON decode error",
                    "input": {}, "ctx": {"error": "Expecting value"}}
            add_body("nan-literal", data, 422, detail={"detail": [item]}, note=lit.decode())
        # nesting deeper than 64 levels: 400
        deep = [b"[" * 65 + b"]" * 65,
                B[:-1] + b", \"zz\": " + b"[" * 64 + b"]" * 64 + b"}",
                B[:-1] + b", \"zz\": " + b"{\"a\": " * 64 + b"1" + b"}" * 64 + b"}",
                B[:-1] + b", \"zz\": " + b"[" * 1000 + b"]" * 1000 + b"}",
                b"[" * 100000,
                b"{\"a\": " * 100000]
        for data in deep:
            add_body("deep-nesting", data, 400, detail=PARSE_400, note="%d bytes" % len(data))
        # not UTF-8: 400
        for bad in BAD_UTF8:
            add_body("invalid-utf8", B[:-1] + b", \"zz\": \"a" + bad + b"b\"}", 400, detail=PARSE_400,
                     note="in a string")
        add_body("invalid-utf8", B + b"\xff", 400, detail=PARSE_400, note="after the document")
        add_body("invalid-utf8", B[:-1] + b", \"k\xffey\": 1}", 400, detail=PARSE_400, note="in a key")
        if isinstance(base[first], str):
            add_body("invalid-utf8", dumps(dict(base, **{first: "\u0001"})).replace(b"\\u0001", b"ok\xe2\x82ok"),
                     400, detail=PARSE_400, note="in %s" % first)
        # raw control characters inside strings: json_invalid
        for c in (b"\x00", b"\x01", b"\x08", b"\x0a", b"\x0d", b"\x1f", b"\x09"):
            data = B[:-1] + b", \"zz\": \"a" + c + b"b\"}"
            add_body("control-char", data, 422, detail={"detail": [py_json_error(data)]},
                     note="raw 0x%02x" % c[0])
        if isinstance(base[first], str):
            data = dumps(dict(base, **{first: "\u0001"})).replace(b"\\u0001", b"a\x01b")
            add_body("control-char", data, 422, detail={"detail": [py_json_error(data)]},
                     note="raw 0x01 in %s" % first)
        # \u escapes that leave a lone surrogate
        for esc in (b"\\ud800", b"\\udfff", b"\\ud800\\u0041", b"\\udc00\\ud800", b"\\ud83d"):
            add_body("lone-surrogate", B[:-1] + b", \"zz\": \"" + esc + b"\"}", 422, loc=["body"],
                     note=esc.decode())
        # bodies that are not an object
        for data in (b"[]", b"\"str\"", b"1", b"true", b"[" + B + b"]", b"\"" + B.replace(b"\"", b"'") + b"\""):
            add_body("not-object", data, 422, loc=["body"])
        for data in (b"", b"null", b" null "):
            add_body("not-object", data, 422,
                     detail={"detail": [{"type": "missing", "loc": ["body"], "msg": "Field required",
                                         "input": None}]})
        # wrong content types: the body's text is validated as a string
        for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz",
                   "application/xml", "text/html; charset=utf-8", "application/octet-stream", "text/json",
                   SQL[1], FMT[0], "application/jsonx", "json"):
            add_body("content-type", B, 422,
                     detail={"detail": [{"type": "model_attributes_type", "loc": ["body"],
                                         "msg": "Input should be a valid dictionary or object to extract "
                                                "fields from",
                                         "input": B.decode()}]},
                     ctype=ct, note=ct)
        # duplicate keys: the last one counts (json.loads), and here it is bad
        for last in (b"{\"dup\": true}", b"[]", b"12345" if isinstance(base[first], str) else b"\"x\""):
            add_body("duplicate-key", B[:-1] + b", \"" + first.encode() + b"\": " + last + b"}", 422,
                     loc=["body", first])

    def gen_body_fields(self, route, method, tpl, o):
        path = self.fill(method, tpl)
        schema = deref(self.doc, o["requestBody"]["content"]["application/json"]["schema"])
        base = self.base_body(method, tpl)
        required = schema.get("required", [])
        for name in required:
            body = {k: v for k, v in base.items() if k != name}
            self.add(route, "missing-field", method, path, body=dumps(body), expect=422,
                     loc=["body", name])
        for name, prop in schema.get("properties", {}).items():
            kind, nullable = body_field_kind(self.doc, tpl, name, prop)
            values = list(BODY_BAD.get(kind, []))
            if not nullable:
                values.append(None)  # (customer_name of a PATCH: cannot be cleared)
            if kind == "model":
                sub = deref(self.doc, non_null(self.doc, prop)[0])
                for sname in list(sub.get("properties", {}))[:2]:
                    values.append({sname: 1})
            for v in values:
                body = dict(base)
                body[name] = v
                self.add(route, "body-field", method, path, body=dumps(body), expect=422,
                         loc=["body", name], note="%s (%s)" % (name, kind))
        if tpl == "/entitlements/{entitlement_id}/customer":
            body = dict(base, id=self.fx["R1"])
            self.add(route, "body-field", method, path, body=dumps(body), expect=409,
                     note="id that exists already")

    def gen_idempotency(self, route, method, tpl):
        path = self.fill(method, tpl)
        body = self.body_args(method, tpl)
        for v, typ in (("k" * 256, "string_too_long"), ("", "string_too_short"),
                       ("a\x01b", "string_pattern_mismatch"), ("a\x7fb", "string_pattern_mismatch"),
                       (b"caf\xc3\xa9", "string_pattern_mismatch"), (b"\xff\xfe", "string_pattern_mismatch")):
            note = "Idempotency-Key %r" % (v[:20] if isinstance(v, str) else v)
            self.add(route, "idempotency-key", method, path, body=body, headers=[("Idempotency-Key", v)],
                     expect=422, loc=["header", "idempotency-key"], note=note)

    def gen_methods(self, tpl):
        first = sorted({m for m, t in self.routes if t == tpl})[0]
        path = self.fill(first, tpl)
        # the Allow header lists the methods of every template the path
        # matches (/entitlements/customers_balances is also an
        # /entitlements/{entitlement_id}); those methods are other routes
        allowed = self.methods_of(path)
        for m in ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "TRACE", "FOO", "get"]:
            if m in allowed:
                continue
            self.add("* " + tpl, "method", m, path, body=b"{}" if m in ("POST", "PATCH", "PUT") else None,
                     expect=405, detail={"detail": "Method Not Allowed"}, allow=allowed)

    def gen_paths(self, tpl):
        """Paths one step off a route: 404 (an extra segment, or a NUL that
        must not cut the path short)."""
        allowed = {m for m, t in self.routes if t == tpl}
        m = "GET" if "GET" in allowed else sorted(allowed)[0]
        path = self.fill(m, tpl)
        body = self.body_args(m, tpl)
        route = "%s %s" % (m, tpl)
        for p, note in ((path + "/x", "extra segment"), (path + "%00/x", "NUL, then an extra segment"),
                        (path + "%00", "trailing NUL"), (path + "/" + enc(SQL[1]), "SQL segment"),
                        (path + "%2F..%2F..", "encoded ../..")):
            if tpl.endswith("}") and p == path + "%00":
                continue  # a NUL in the last id: the path-param cases
            if self.methods_of(p):
                continue  # another route's path
            self.add(route, "unknown-path", m, p, body=body, expect=404, detail=NOT_FOUND, note=note)

    def gen_edge(self, tpl):
        """A header block over libmicrohttpd's limit: its own 431."""
        allowed = {m for m, t in self.routes if t == tpl}
        m = "GET" if "GET" in allowed else sorted(allowed)[0]
        path = self.fill(m, tpl)
        head = ("%s %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\nX-Junk: %s\r\n\r\n"
                % (m, path, self.fx["key"], self.fx["org"], "j" * EDGE_HEADER_BYTES)).encode()
        self.add("%s %s" % (m, tpl), "oversized-headers", m, path, raw=(head, []), expect=431, edge=True,
                 note="70 KB header (libmicrohttpd's 431)")
        many = "".join("X-H%d: %s\r\n" % (i, "v" * 20) for i in range(3000))
        head = ("%s %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n%s\r\n"
                % (m, path, self.fx["key"], self.fx["org"], many)).encode()
        self.add("%s %s" % (m, tpl), "oversized-headers", m, path, raw=(head, []), expect=431, edge=True,
                 note="3000 headers (libmicrohttpd's 431)")
        if m == "GET":
            long_path = path + "?search=" + "s" * EDGE_HEADER_BYTES
            head = ("GET %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n\r\n"
                    % (long_path, self.fx["key"], self.fx["org"])).encode()
            self.add("%s %s" % (m, tpl), "oversized-headers", m, long_path, raw=(head, []), expect=414,
                     edge=True, note="70 KB URL (libmicrohttpd's 414)")


# --------------------------------------------------------------------------
# sending and judging

def send(port, case, fx):
    """Send a case; returns a harness.Response (method and path the case's)."""
    if case.raw is not None:
        head, chunks = case.raw
        resp, _err = raw_exchange(port, head, chunks, timeout=harness.HTTP_TIMEOUT)
        return Response(case.method, case.path, resp.status, resp.headers, resp.body, None)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=harness.HTTP_TIMEOUT)
    try:
        conn.putrequest(case.method, case.path, skip_accept_encoding=True)
        hdrs = []
        if case.auth is True:
            hdrs += [("x-api-key", fx["key"]), ("organisation", fx["org"])]
        elif isinstance(case.auth, list):
            hdrs += case.auth
        hdrs += case.headers
        if case.body is not None:
            if case.ctype is not None:
                hdrs.append(("Content-Type", case.ctype))
            hdrs.append(("Content-Length", str(len(case.body))))
        for k, v in hdrs:
            conn.putheader(k, v)
        conn.endheaders(case.body)
        r = conn.getresponse()
        data = r.read()
        return Response(case.method, case.path, r.status, r.getheaders(), data, case.body)
    finally:
        conn.close()


def judge(case, resp, port):
    """What is wrong with the answer to a case: a list of strings."""
    out = []
    s = resp.status
    if s >= 500:
        out.append("5xx")
    if isinstance(case.expect, int):
        if s != case.expect:
            out.append("status %d, expected %d" % (s, case.expect))
    elif isinstance(case.expect, tuple):
        if s not in case.expect:
            out.append("status %d, expected one of %s" % (s, case.expect))
    elif not 400 <= s < 500:
        out.append("status %d, expected a 4xx" % s)
    if case.edge:
        return out
    ctype = (resp.header("content-type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        out.append("content-type %r" % ctype)
    try:
        body = harness.strict_loads(resp.body)
    except (ValueError, UnicodeDecodeError) as e:
        return out + ["answer is not JSON (%s)" % e]
    if not isinstance(body, dict) or "detail" not in body:
        return out + ["no JSON object with a detail member"]
    d = body["detail"]
    if not (isinstance(d, str) and d) and not (isinstance(d, list) and d):
        out.append("detail is neither a sentence nor a list of errors")
    if not resp.header("x-request-id"):
        out.append("no X-Request-Id")
    if case.detail is not None and s == (case.expect if isinstance(case.expect, int) else s):
        diff = json_diff(case.detail, body)
        if diff:
            out.append("answer differs from the contract's: " + "; ".join(diff)[:600])
    if case.loc is not None and s == 422 and not isinstance(d, list):
        out.append("a 422 without a list of errors (expected one at loc %r)" % (case.loc,))
    if s == 422 and isinstance(d, list):
        for item in d:
            if not isinstance(item, dict) or not all(k in item for k in ("type", "loc", "msg")):
                out.append("422 item without type/loc/msg: %r" % (item,))
                break
        if case.loc is not None and not any(
                isinstance(i, dict) and isinstance(i.get("loc"), list) and i["loc"][:len(case.loc)] == case.loc
                for i in d):
            out.append("no 422 item at loc %r" % (case.loc,))
    if s == 405 and case.allow is not None:
        allow = {m.strip() for m in (resp.header("allow") or "").split(",") if m.strip()}
        if allow != case.allow:
            out.append("Allow %r, expected %r" % (resp.header("allow"), sorted(case.allow)))
    if harness.SCHEMA_CHECK and case.method.isupper():  # (schema.py reads methods case-blind)
        try:
            harness.check_answer(port, resp)
        except AssertionError as e:
            out.append(str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e))
    return out


# --------------------------------------------------------------------------

LIST_KEYS = [  # (path template, items key, sort_key)
    ("/entitlements", "results", "id"),
    ("/customers", "data", "id"),
    ("/entitlements/customers_balances", "results", "id"),
]


def snapshot(case, client):
    """Everything an organisation holds, read through the API: the lists
    (sorted by id, every page), each customer's rows, unique totals and
    ledger, and each object by id."""
    def walk(path, key, sort_key):
        items, cursor = [], None
        for _ in range(1000):
            body = case.assertJson(client.get(url(path, limit=100, sort_key=sort_key, cursor=cursor)), 200)
            items += body[key]
            cursor = body["next"]
            if not cursor:
                return items
        case.fail("list %s does not end" % path)
    snap = {}
    for path, key, sk in LIST_KEYS:
        snap[path] = walk(path, key, sk)
    for cu in snap["/customers"]:
        cid = cu["id"]
        snap["GET customer " + cid] = case.assertJson(client.get("/customers/%s" % cid), 200)
        snap["rows of " + cid] = walk("/entitlements/customer/%s" % cid, "results", "id")
        snap["unique of " + cid] = walk("/entitlements/customer/unique/%s" % cid, "results", "id")
        snap["ledger of " + cid] = walk(ledger_path(cid), "results", "seq")
    for en in snap["/entitlements"]:
        snap["GET entitlement " + en["id"]] = case.assertJson(client.get("/entitlements/%s" % en["id"]), 200)
    for row in snap["/entitlements/customers_balances"]:
        p = "/entitlements/%s/customer/%s/%s" % (row["entitlement"], row["customer"], row["id"])
        snap["GET row " + row["id"]] = case.assertJson(client.get(p), 200)
    return snap


def assert_unchanged(case, before, after, what):
    diff = json_diff(before, after)
    if diff:
        case.fail("%s changed stored data:\n  %s" % (what, "\n  ".join(diff[:40])))


class Hostile(ServerTestCase):
    """The bad corpus, sent group by group; the stored data must not change."""

    extra_tenants = 1  # another organisation, for 403s
    # the categories each test sends
    GROUPS = {
        "test_a_auth": {"auth"},
        "test_b_methods_and_paths": {"method", "unknown-path"},
        "test_c_sizes_and_edge": {"size", "oversized-headers"},
        "test_d_path_params": {"path-param"},
        "test_e_query": {"query"},
        "test_f_body_syntax": {"broken-json", "nan-literal", "deep-nesting", "invalid-utf8", "control-char",
                               "lone-surrogate", "not-object", "content-type", "duplicate-key"},
        "test_g_body_fields": {"missing-field", "body-field"},
        "test_h_idempotency_key": {"idempotency-key"},
    }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        self = cls("test_a_auth")  # an instance, to use the assertion helpers
        fx = {"key": cls.t.key, "org": cls.t.org, "other_org": cls.tenants[1].org}
        e1 = self.make_entitlement(name="Hostile E1", entitlement_type="Credits")["id"]
        e2 = self.make_entitlement(name="Hostile E2", entitlement_type="Feature")["id"]
        fx["E_del"] = self.make_entitlement(name="Hostile unused")["id"]
        c1 = self.make_customer(customer_name="Hostile C1", external_id="c1")["id"]
        c2 = self.make_customer(customer_name="Hostile C2")["id"]
        fx["C_del"] = self.make_customer(customer_name="Hostile unused")["id"]
        fx["R1"] = self.make_row(e1, c1, quantity=100, quantity_used=10, active_from="2020-01-01T00:00:00Z",
                                 expiry_at="2099-01-01T00:00:00Z")["id"]
        self.make_row(e1, c2, quantity=50)
        fx["R_del"] = self.make_row(e2, c1)["id"]
        r = cls.c.post(consume_path(e1, c1), {"quantity": 5, "at": "2026-01-01T00:00:00Z"})
        self.assertJson(r, 200)
        fx.update(E1=e1, E2=e2, C1=c1, C2=c2)
        cls.fx = fx
        cls.routes = route_table()
        cls.corpus = Corpus(fx, cls.routes, load_doc()).build()
        cls.start_snapshot = self.snapshot(cls.c)

    # ---- helpers ----

    def snapshot(self, client):
        return snapshot(self, client)

    def assertUnchanged(self, before, after, what):
        assert_unchanged(self, before, after, what)

    def run_cases(self):
        cats = self.GROUPS[self._testMethodName]
        cases = sorted((c for c in self.corpus if c.cat in cats), key=lambda c: c.nul)
        self.assertTrue(cases, "no case in %r" % (cats,))
        before = self.snapshot(self.c)
        failures = []
        port = self.server.port
        for i, case in enumerate(cases):
            try:
                resp = send(port, case, self.fx)
            except (OSError, http.client.HTTPException, AssertionError) as e:
                alive = self.server.alive()
                failures.append("%s\n    -> no answer: %s: %s%s" % (
                    case.label(), type(e).__name__, str(e)[:300], "" if alive else " (THE SERVER DIED)"))
                if not alive:
                    break
                continue
            problems = judge(case, resp, port)
            if VERBOSE:
                sys.stdout.write("  %d %s\n" % (resp.status, case.label()[:200]))
            if problems:
                failures.append("%s\n    -> %s\n    -> %s" % (case.label(), "; ".join(problems),
                                                            resp.text[:300].replace("\n", " ")))
        self.assertTrue(self.server.alive(), "the server died\n%s" % self.server.stderr_tail())
        self.assertJson(self.c.get("/healthz", auth=False), 200)
        after = self.snapshot(self.c)
        msg = []
        if failures:
            msg.append("%d of %d bad requests were answered wrongly:\n%s" % (
                len(failures), len(cases), "\n".join(failures[:120])))
            if len(failures) > 120:
                msg.append("... and %d more" % (len(failures) - 120))
        diff = json_diff(before, after)
        if diff:
            msg.append("stored data changed:\n  " + "\n  ".join(diff[:40]))
        if msg:
            self.fail("\n".join(msg))

    # ---- the groups ----

    def test_a_auth(self):
        self.run_cases()

    def test_b_methods_and_paths(self):
        self.run_cases()

    def test_c_sizes_and_edge(self):
        self.run_cases()

    def test_d_path_params(self):
        self.run_cases()

    def test_e_query(self):
        self.run_cases()

    def test_f_body_syntax(self):
        self.run_cases()

    def test_g_body_fields(self):
        self.run_cases()

    def test_h_idempotency_key(self):
        self.run_cases()

    def test_y_corpus_size(self):
        """At least 300 bad requests the server itself must answer with a
        JSON detail; every route has its share. Prints the counts."""
        json_cases = [c for c in self.corpus if not c.edge]
        by_route, by_cat = {}, {}
        for c in self.corpus:
            by_route.setdefault(c.route, {}).setdefault(c.cat, 0)
            by_route[c.route][c.cat] += 1
            by_cat[c.cat] = by_cat.get(c.cat, 0) + 1
        lines = ["Hostile corpus: %d bad requests (%d answered by entitled with a JSON detail, "
                 "%d by libmicrohttpd)" % (len(self.corpus), len(json_cases), len(self.corpus) - len(json_cases)),
                 "  by category: " + ", ".join("%s %d" % kv for kv in sorted(by_cat.items()))]
        for route in sorted(by_route):
            n = sum(by_route[route].values())
            per_cat = ", ".join("%s %d" % kv for kv in sorted(by_route[route].items()))
            lines.append("  %-70s %4d  (%s)" % (route, n, per_cat))
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        self.assertGreaterEqual(len(json_cases), 300)
        for m, tpl in self.routes:
            n = sum(by_route.get("%s %s" % (m, tpl), {}).values())
            self.assertGreaterEqual(n, 3, "route %s %s has only %d cases" % (m, tpl, n))
        sent = set().union(*self.GROUPS.values())
        self.assertEqual({c.cat for c in self.corpus} - sent, set(), "categories no test sends")

    def test_z_nothing_changed_and_clean_exit(self):
        after = self.snapshot(self.c)
        self.assertJson(self.c.get("/healthz", auth=False), 200)
        rc = self.server.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM\n%s" % self.server.stderr_tail())
        check_database(self, self.db)
        self.assertUnchanged(self.start_snapshot, after, "the corpus")


def check_database(case, db):
    """integrity_check and foreign_key_check (SQLite), and entitled verify."""
    if harness.BACKEND == "sqlite":
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
        try:
            ic = con.execute("PRAGMA integrity_check").fetchall()
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            con.close()
        case.assertEqual(ic, [("ok",)], "PRAGMA integrity_check")
        case.assertEqual(fk, [], "PRAGMA foreign_key_check")
    r = verify(db)
    case.assertEqual(r.rc, 0, "entitled verify\n%r" % r)


# --------------------------------------------------------------------------
# hostile but valid

HOSTILE_VALID = SQL + FMT + [
    "\u0000", "a\u0000b", "".join(chr(i) for i in range(1, 32)), "\u007f\u0080\u009f",
    "\\", "\"", "'", "`", "''", "\\'", "\\\"", "\\u0000", "\\x00", "%00", "%", "_", "%%", "\\%", "\\_", "*",
    "?", "[a-z]", "NULL", "null", "None", "true", "0", "-1", "1e400", "NaN", "   ", " lead and trail ",
    "</script><script>alert(1)</script>", "{{7*7}}", "$where", "'; EXEC xp_cmdshell('dir'); --",
    "\r\n\r\nHTTP/1.1 200 OK\r\nX-Injected: 1", "\u2028\u2029", "\ufeff", "\u202emirror", "\U0001f389",
    "\U0010ffff", "\ud7ff\ue000\ufffd\uffff", "Zoë 日本 Ωω", "x" * 4000,
]


SEARCH_FIELDS = ("customer_name", "email", "external_id", "phone_number")


def search_pairs(text):
    """search on the customer lists as docs/API.md reads it: [] for plain
    text (no '='), the [field, value] pairs, or None when it is a 422."""
    if "=" not in text:
        return []
    pairs = []
    for part in text.split(","):
        if "=" in part:
            field, value = part.split("=", 1)
            if field not in SEARCH_FIELDS:
                return None
            pairs.append([field, value])
        elif pairs:
            pairs[-1][1] += "," + part
        else:
            return None
    return pairs


class HostileValid(ServerTestCase):
    """Hostile strings that are valid input: stored and returned exactly in
    every text field, matched exactly by the text filters, nothing else
    changed (the class's own organisation is the witness)."""

    def setUp(self):
        self.witness_client = self.c
        if not hasattr(type(self), "witness"):
            e = self.make_entitlement(name="witness")["id"]
            cu = self.make_customer(customer_name="witness", external_id="witness")["id"]
            self.make_row(e, cu, quantity=3)
            type(self).witness = snapshot(self, self.c)

    def assertExact(self, sent, got, what):
        self.assertEqual(type(got), type(sent), "%s: %r came back as %r" % (what, sent, got))
        self.assertEqual(got, sent, "%s: %r came back as %r" % (what, sent, got))

    def test_round_trip_and_filters(self):
        cl = fresh_client(self, "HostileValid")
        customers, ents = [], []
        for i, s in enumerate(HOSTILE_VALID):
            ascii_only = i % 2 == 0  # half sent with \u escapes, half as raw UTF-8
            ext = s if len(s) <= 255 else s[:255]
            # email is an EmailStr (test_customer_email.py), so a plain address here
            body = {"customer_name": s, "external_id": ext, "email": "h%d@example.com" % i,
                    "phone_number": s,
                    "custom_data": {s: s, "n": [s]}, "address": {"line1": s, "city": s},
                    "connector": {"name": s}, "tax_info": [{"tax_id": s}]}
            r = cl.post("/customers", json.dumps(body, ensure_ascii=ascii_only).encode())
            got = self.assertJson(r, 200)
            for k in body:
                want = body[k]
                if k in ("address", "connector"):
                    want = {kk: vv for kk, vv in got[k].items() if kk in body[k]}
                    self.assertExact(body[k], want, "customer %d %s" % (i, k))
                elif k == "tax_info":
                    self.assertExact(s, got[k][0]["tax_id"], "customer %d tax_id" % i)
                else:
                    self.assertExact(want, got[k], "customer %d %s" % (i, k))
            again = self.assertJson(cl.get("/customers/%s" % got["id"]), 200)
            self.assertSame(got, again, "GET of customer %d" % i)
            customers.append(got)
            eb = {"name": s, "description": s, "units": s}
            en = self.assertJson(cl.post("/entitlements", json.dumps(eb, ensure_ascii=ascii_only).encode()), 200)
            for k in eb:
                self.assertExact(s, en[k], "entitlement %d %s" % (i, k))
            ents.append(en)
            rb = {"customer": got["id"], "feature_option_value": s, "source_type": s, "event": s, "status": s,
                  "quantity": 10}
            row = self.assertJson(cl.post("/entitlements/%s/customer" % en["id"],
                                          json.dumps(rb, ensure_ascii=ascii_only).encode()), 200)
            for k in ("feature_option_value", "source_type", "event", "status"):
                self.assertExact(s, row[k], "row %d %s" % (i, k))
            p = "/entitlements/%s/customer/%s/%s" % (en["id"], got["id"], row["id"])
            self.assertSame(row, self.assertJson(cl.get(p), 200), "GET of row %d" % i)
            # PATCH with the string again, changed: absent keeps, the sent field is exact
            pe = self.assertJson(cl.patch("/entitlements/%s" % en["id"],
                                          json.dumps({"name": s + "#"}, ensure_ascii=ascii_only).encode()), 200)
            self.assertExact(s + "#", pe["name"], "patched entitlement %d" % i)
            self.assertExact(s, pe["description"], "patched entitlement %d description" % i)
            en["name"] = s + "#"
            pc = self.assertJson(cl.patch("/customers/%s" % got["id"],
                                          json.dumps({"phone_number": s + "@"}, ensure_ascii=ascii_only).encode()), 200)
            self.assertExact(s + "@", pc["phone_number"], "patched customer %d" % i)
            got["phone_number"] = s + "@"

        # the lists hold exactly what was made
        allc = self.walk(cl, "/customers", "data")
        self.assertEqual(sorted(c["id"] for c in allc), sorted(c["id"] for c in customers))
        alle = self.walk(cl, "/entitlements", "results")
        self.assertEqual(sorted(e["id"] for e in alle), sorted(e["id"] for e in ents))

        # text filters given hostile strings match exactly what they should
        fold = lambda t: "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in t)  # noqa: E731
        problems = []
        for s in HOSTILE_VALID:
            if not s:
                continue
            checks = [
                ("/customers", "data", {"external_id": s[:255]}, lambda c: c["external_id"] == s[:255]),
                ("/customers", "data", {"customer_name__ilike": s}, lambda c: fold(s) in fold(c["customer_name"])),
                ("/customers", "data", {"email__like": s}, lambda c: s in (c["email"] or "")),
                ("/customers", "data", {"search_name_external_id": s}, lambda c: any(
                    fold(s) in fold(c[k] or "") for k in ("customer_name", "external_id"))),
                ("/entitlements", "results", {"name": s + "#"}, lambda e: e["name"] == s + "#"),
                ("/entitlements", "results", {"name__ilike": s}, lambda e: fold(s) in fold(e["name"])),
            ]
            # search: plain text, or field=value pairs (a 422 where they are malformed)
            for text in (s, "customer_name=" + s, "email=%s,external_id=" % s):
                pairs = search_pairs(text)
                if pairs is None:
                    r = cl.get(url("/customers", search=text))
                    if r.status != 422 or [e["loc"] for e in r.json["detail"]] != [["query", "search"]]:
                        problems.append("/customers search=%r: %d, expected a 422 at search" % (text, r.status))
                    continue
                if pairs:
                    pred = lambda c, pairs=pairs: all(  # noqa: E731
                        c[f] is not None and fold(v) in fold(c[f]) for f, v in pairs)
                else:
                    pred = lambda c, text=text: any(  # noqa: E731
                        fold(text) in fold(c[k] or "") for k in ("customer_name", "email", "external_id"))
                checks.append(("/customers", "data", {"search": text}, pred))
            for path, key, params, pred in checks:
                items = self.walk(cl, path, key, params)
                pool = customers if path == "/customers" else ents
                want = sorted(x["id"] for x in pool if pred(x))
                got = sorted(x["id"] for x in items)
                if got != want:
                    problems.append("%s %r: %d results, expected %d" % (path, params, len(got), len(want)))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertUnchanged(self.witness, snapshot(self, self.c), "hostile valid strings")

    def test_headers_round_trip(self):
        """X-Request-Id and Idempotency-Key are printable ASCII: SQL and
        format strings are valid ones, recorded exactly in the ledger."""
        cl = fresh_client(self, "HostileHeaders")
        e = self.make_entitlement(cl, entitlement_type="Credits")["id"]
        c = self.make_customer(cl)["id"]
        self.make_row(e, c, cl, quantity=1000)
        sent = []
        for i, s in enumerate(SQL + FMT):
            rid, key = s, ("%d " % i) + s
            r = cl.post(consume_path(e, c), {"quantity": 1}, headers={"X-Request-Id": rid, "Idempotency-Key": key})
            body = self.assertJson(r, 200)
            self.assertEqual(r.header("X-Request-Id"), rid)
            again = cl.post(consume_path(e, c), {"quantity": 1}, headers={"Idempotency-Key": key})
            self.assertEqual(again.header("Idempotent-Replayed"), "true", str(again))
            self.assertEqual(again.body, r.body)
            sent.append((body["ledger_seq"], rid, key))
        entries = {x["seq"]: x for x in self.walk(cl, ledger_path(c), "results", {"kind": "consume"})}
        for seq, rid, key in sent:
            self.assertEqual((entries[seq]["request_id"], entries[seq]["idempotency_key"]), (rid, key))
        # X-Request-Id values that are not 1 to 128 printable ASCII get a new UUID
        problems = []
        for bad in ("r" * 129, "", "a\x01b", "a\x7fb", b"caf\xc3\xa9"):
            r = cl.get("/customers/%s" % c, headers={"X-Request-Id": bad})
            self.assertJson(r, 200)
            if not UUID_RE.match(r.header("X-Request-Id") or ""):
                problems.append("X-Request-Id %r answered with X-Request-Id %r, not a new UUID"
                                % (bad, r.header("X-Request-Id")))
        self.assertUnchanged(self.witness, snapshot(self, self.c), "hostile headers")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_valid_edges(self):
        """Just inside the limits: 64 levels of nesting, external_id of 255
        characters (not UTF-16 units, not bytes), duplicate keys (the last
        wins, as json.loads), a BOM-less body with no content-type, the JSON
        content-types FastAPI reads."""
        cl = fresh_client(self, "HostileEdges")
        deep = 1
        for _ in range(63):  # the body object + custom_data's 63 levels = 64
            deep = {"a": deep}
        got = self.assertJson(cl.post("/customers", {"customer_name": "deep64", "custom_data": deep}), 200)
        self.assertEqual(got["custom_data"], deep)
        for ext in ("\U0001f389" * 255, "é" * 255, "x" * 255):
            got = self.assertJson(cl.post("/customers", {"customer_name": "ext", "external_id": ext}), 200)
            self.assertEqual(got["external_id"], ext)
        r = cl.post("/customers", b'{"customer_name": 5, "customer_name": "last wins"}')
        self.assertEqual(self.assertJson(r, 200)["customer_name"], "last wins")
        for ct in (None, "application/json; charset=utf-8", "application/merge-patch+json", "APPLICATION/JSON"):
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=harness.HTTP_TIMEOUT)
            try:
                h = dict(cl.tenant.headers())
                if ct:
                    h["Content-Type"] = ct
                conn.request("POST", "/customers", body=b'{"customer_name": "ctype ok"}', headers=h)
                resp = conn.getresponse()
                data = resp.read()
            finally:
                conn.close()
            self.assertEqual(resp.status, 200, "content-type %r: %s" % (ct, data[:300]))
        self.assertUnchanged(self.witness, snapshot(self, self.c), "valid edges")

    def walk(self, cl, path, key, params=None):
        items, cursor = [], None
        for _ in range(1000):
            r = cl.get(url(path, dict(params or {}), limit=100, cursor=cursor))
            body = self.assertJson(r, 200)
            items += body[key]
            cursor = body["next"]
            if not cursor:
                return items
        self.fail("list does not end")

    def assertUnchanged(self, before, after, what):
        assert_unchanged(self, before, after, what)

    def test_z_clean_exit(self):
        self.assertJson(self.c.get("/healthz", auth=False), 200)
        rc = self.server.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM\n%s" % self.server.stderr_tail())
        check_database(self, self.db)
