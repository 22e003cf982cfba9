"""The PATCH vectors of tests/vectors/patch.json, expected answers computed with
pydantic v2 / FastAPI: each is sent against a seeded row reset to all-null
fields, and its status and detail (or the fields of a 200) must match exactly.

Format (the file's "about" says it in full): {"about", "vectors": [{"name",
"path": {"entitlement_id", "customer_id", "ec_id"}, "body" (text with {E} {C}
{R} placeholders, and {X:upper} {X:simple} {X:urn} {X:braced} spellings) or
"body_b64" (bytes sent as they are), "status", "detail" | "detail_text" (JSON
text), "expect" (fields of a 200), "note"}]}."""

import base64
import json
import os
import urllib.parse

from harness import ServerTestCase, json_diff, patch_body, row_path, strict_loads, substitute

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.normpath(os.path.join(HERE, "..", "vectors", "patch.json"))
NULLS = {"active_from": None, "expiry_at": None, "quantity": None, "quantity_used": None}


def placeholders(E, C, R):
    ph = {}
    for name, value in (("E", E), ("C", C), ("R", R)):
        ph["{%s}" % name] = value
        ph["{%s:upper}" % name] = value.upper()
        ph["{%s:simple}" % name] = value.replace("-", "")
        ph["{%s:urn}" % name] = "urn:uuid:" + value
        ph["{%s:braced}" % name] = "{" + value + "}"
    return ph


def load_vectors():
    with open(VECTORS, "rb") as f:
        doc = json.load(f)
    return doc["vectors"] if isinstance(doc, dict) else doc


class PatchVectors(ServerTestCase):
    def test_vector_file(self):
        self.assertTrue(os.path.exists(VECTORS), "no vector file at %s" % VECTORS)
        vectors = load_vectors()
        self.assertIsInstance(vectors, list)
        self.assertTrue(vectors, "the vector file holds no vector")
        names = [v.get("name") for v in vectors]
        self.assertEqual(len(names), len(set(names)), "vector names repeat")

    def test_patch_vectors(self):
        if not os.path.exists(VECTORS):
            self.fail("no vector file at %s" % VECTORS)
        vectors = load_vectors()
        E, C, row = self.make_triple(**NULLS)
        R = row["id"]
        ph = placeholders(E, C, R)
        seeded_path = row_path(E, C, R)
        failures = []
        for i, v in enumerate(vectors):
            name = v.get("name", "#%d" % i)
            try:
                problem = self.run_vector(v, ph, seeded_path)
            except Exception as e:  # a broken connection etc.: note and go on
                problem = "%s: %s" % (type(e).__name__, e)
            if problem:
                failures.append("- %s: %s" % (name, problem))
        if failures:
            self.fail("%d of %d vectors failed:\n%s" % (len(failures), len(vectors),
                                                         "\n".join(failures)))

    def run_vector(self, v, ph, seeded_path):
        E, C, R = ph["{E}"], ph["{C}"], ph["{R}"]
        reset = self.c.patch(seeded_path, patch_body(E, C, **NULLS))
        if reset.status != 200:
            return "reset of the row failed:\n  %s" % reset
        p = v.get("path") or {}
        segs = []
        for key, default in (("entitlement_id", E), ("customer_id", C), ("ec_id", R)):
            seg = substitute(p.get(key, default), ph)
            segs.append(urllib.parse.quote(seg, safe=""))
        path = row_path(*segs)
        if "body_b64" in v:
            body = base64.b64decode(v["body_b64"])  # as it is: no placeholders
        else:
            body = substitute(v.get("body", ""), ph).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if not body:
            body = None  # an empty body means no body at all
        for k, val in (v.get("headers") or {}).items():
            headers[k] = substitute(val, ph)
        r = self.c.request(v.get("method", "PATCH"), path, body, headers=headers)
        want_status = v.get("status", 200)
        sent = (body or b"")[:300].decode("utf-8", "replace")
        if r.status != want_status:
            return "status %d, expected %d\n    PATCH %s\n    body %s\n    answer %s" % (
                r.status, want_status, path, sent, r.text[:800])
        ctype = (r.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return "content-type %r" % ctype
        try:
            got = strict_loads(r.body)
        except ValueError as e:
            return "answer is not JSON (%s): %r" % (e, r.body[:300])
        diffs = []
        if "detail_text" in v:
            expected = json.loads(substitute(v["detail_text"], ph))
            diffs += json_diff(expected, got.get("detail") if isinstance(got, dict) else got)
        elif "detail" in v:
            diffs += json_diff(substitute(v["detail"], ph),
                               got.get("detail") if isinstance(got, dict) else got)
        if "expect" in v:
            expect = substitute(v["expect"], ph)
            if not isinstance(got, dict):
                diffs.append("answer is not an object")
            else:
                for k, val in expect.items():
                    if k not in got:
                        diffs.append("$.%s missing (expected %r)" % (k, val))
                    else:
                        diffs += json_diff(val, got[k], "$.%s" % k)
        if diffs:
            return "answer differs\n    PATCH %s\n    body %s\n    answer %s\n    %s" % (
                path, sent, r.text[:800], "\n    ".join(diffs))
        if want_status != 200:
            # a refused PATCH changes nothing
            now = self.c.get(seeded_path)
            if now.status != 200:
                return "GET after it: %s" % now
            changed = [k for k in NULLS if now.json.get(k) is not None]
            if changed:
                return "refused with %d but changed %s: %s" % (want_status, changed, now.text)
        return None
