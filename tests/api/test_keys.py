"""API keys (issue 7): `apikey list` and `apikey revoke`, and what a running
server makes of a revoked key.

- `entitled apikey list --org ORG [--db ...]`: one line per key, oldest
  first, `KEY_ID  CREATED_AT  live` or `KEY_ID  CREATED_AT  revoked
  REVOKED_AT` (RFC 3339, UTC); never the key or its secret part.
- `entitled apikey revoke KEY_ID [--db ...]`: a confirmation line; revoking
  a revoked key keeps its first revocation time and exits 0.
- Exit codes: 0 ok, 1 unknown organisation or key (or a database error), 2
  usage (missing or malformed arguments).
- A running server refuses a revoked key (401, exactly as an unknown key)
  from the very next request on, on every thread and connection, while the
  organisation's other keys keep working; keys never reach the server's log
  (test_http.Logs covers a live and a garbage key; here: revoked keys,
  forged secrets on a real id, keys of another organisation)."""

import datetime
import os
import re
import threading
import time
import unittest

import harness
from harness import Client, ServerTestCase, Tenant, cli, new_dir, new_id

LINE_RE = re.compile(r"^([0-9a-f]{16})  (\S+)  (live|revoked (\S+))$")


def key_id(key):
    """The id part of a key: ek_<16 hex>_<secret>."""
    m = re.match(r"^ek_([0-9a-f]{16})_(.+)$", key)
    if not m:
        raise AssertionError("not a key of the form ek_<16 hex>_<secret>: %r" % key)
    return m.group(1)


def key_secret(key):
    return key.split("_", 2)[2]


def parse_dt(s):
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in s else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()


def list_keys(case, db, org):
    """`apikey list` parsed: [(id, created, revoked or None)], exit 0 checked."""
    r = cli("apikey", "list", "--org", org, db=db)
    case.assertEqual(r.rc, 0, repr(r))
    out = []
    for ln in r.out.splitlines():
        m = LINE_RE.match(ln)
        case.assertIsNotNone(m, "line %r is not 'KEY_ID  CREATED_AT  live|revoked AT'\n%r" % (ln, r))
        case.assertRegex(m.group(2), harness.DT_RE, repr(r))
        if m.group(4):
            case.assertRegex(m.group(4), harness.DT_RE, repr(r))
        out.append((m.group(1), m.group(2), m.group(4)))
    return out, r


def revoke(case, db, kid, rc=0):
    r = cli("apikey", "revoke", kid, db=db)
    case.assertEqual(r.rc, rc, repr(r))
    return r


def assert_no_key_text(case, text, keys, where):
    for k in keys:
        case.assertNotIn(k, text, "a key is in %s" % where)
        case.assertNotIn(key_secret(k), text, "a key's secret part is in %s" % where)


class KeysCli(unittest.TestCase):
    def setUp(self):
        self.dir = new_dir("keys-cli")
        self.db = harness.new_db(self.dir)
        self.addCleanup(harness.drop_db, self.db)

    def usage_error(self, *args, rc=2, secrets=()):
        r = cli(*args, db=self.db)
        self.assertEqual(r.rc, rc, repr(r))
        self.assertEqual(r.out, "", "nothing on stdout\n%r" % r)
        self.assertTrue(r.err.strip(), "a message on stderr\n%r" % r)
        assert_no_key_text(self, r.out + r.err, secrets, "the CLI's output")
        return r

    def test_list_ids_times_states_in_creation_order(self):
        org = harness.org_create(self.db)
        t0 = time.time()
        keys = [harness.apikey_create(self.db, org) for _ in range(4)]
        t1 = time.time()
        rows, r = list_keys(self, self.db, org)
        assert_no_key_text(self, r.out + r.err, keys, "apikey list's output")
        self.assertEqual([x[0] for x in rows], [key_id(k) for k in keys], repr(r))
        created = [parse_dt(x[1]) for x in rows]
        self.assertEqual(created, sorted(created), "not in creation order\n%r" % r)
        for c in created:
            self.assertTrue(t0 - 2 <= c <= t1 + 2, "created_at %r not when it was made\n%r" % (c, r))
        self.assertEqual([x[2] for x in rows], [None] * 4, repr(r))
        # revoke the second and the fourth
        ta = time.time()
        revoke(self, self.db, key_id(keys[1]))
        revoke(self, self.db, key_id(keys[3]))
        tb = time.time()
        rows2, r2 = list_keys(self, self.db, org)
        assert_no_key_text(self, r2.out + r2.err, keys, "apikey list's output")
        self.assertEqual([x[:2] for x in rows2], [x[:2] for x in rows], "ids or created_at changed\n%r" % r2)
        self.assertEqual([x[2] is not None for x in rows2], [False, True, False, True], repr(r2))
        for x in rows2:
            if x[2]:
                self.assertTrue(ta - 2 <= parse_dt(x[2]) <= tb + 2, repr(r2))
                self.assertGreaterEqual(parse_dt(x[2]), parse_dt(x[1]), repr(r2))
        self.assertTrue(all(ln.endswith("  live") for ln in r2.out.splitlines()[0::2]), repr(r2))

    def test_list_only_that_organisation(self):
        a = harness.org_create(self.db, "A")
        b = harness.org_create(self.db, "B")
        ka = [harness.apikey_create(self.db, a) for _ in range(2)]
        kb = [harness.apikey_create(self.db, b) for _ in range(3)]
        rows_a, _ = list_keys(self, self.db, a)
        rows_b, _ = list_keys(self, self.db, b)
        self.assertEqual([x[0] for x in rows_a], [key_id(k) for k in ka])
        self.assertEqual([x[0] for x in rows_b], [key_id(k) for k in kb])
        # the organisation in any case pydantic accepts (as apikey create does)
        rows_a2, _ = list_keys(self, self.db, a.upper())
        self.assertEqual(rows_a2, rows_a)

    def test_list_empty_organisation(self):
        org = harness.org_create(self.db)
        rows, r = list_keys(self, self.db, org)
        self.assertEqual(rows, [], repr(r))
        self.assertEqual(r.out, "", repr(r))

    def test_list_unknown_organisation(self):
        org = harness.org_create(self.db)
        harness.apikey_create(self.db, org)
        self.usage_error("apikey", "list", "--org", new_id(), rc=1)

    def test_list_usage_errors(self):
        org = harness.org_create(self.db)
        harness.apikey_create(self.db, org)
        self.usage_error("apikey", "list")
        self.usage_error("apikey", "list", "--org")
        self.usage_error("apikey", "list", "--org", "not-a-uuid")
        self.usage_error("apikey", "list", "--org", "")
        self.usage_error("apikey", "list", "--org", org, "--frobnicate")
        self.usage_error("apikey", "list", "--org", org, "extra")

    def test_revoke_prints_a_confirmation(self):
        org = harness.org_create(self.db)
        k = harness.apikey_create(self.db, org)
        r = revoke(self, self.db, key_id(k))
        self.assertEqual(r.out.count("\n"), 1, "one line\n%r" % r)
        self.assertIn(key_id(k), r.out, repr(r))
        self.assertIn("revoked", r.out, repr(r))
        assert_no_key_text(self, r.out + r.err, [k], "apikey revoke's output")

    def test_revoke_twice_keeps_the_first_time(self):
        org = harness.org_create(self.db)
        keys = [harness.apikey_create(self.db, org) for _ in range(2)]
        revoke(self, self.db, key_id(keys[0]))
        first, _ = list_keys(self, self.db, org)
        time.sleep(0.01)
        r = revoke(self, self.db, key_id(keys[0]))  # again: exit 0, nothing changes
        self.assertIn(key_id(keys[0]), r.out, repr(r))
        self.assertIn(first[0][2], r.out, "the repeat names the first revocation time\n%r" % r)
        again, _ = list_keys(self, self.db, org)
        self.assertEqual(again, first)
        self.assertIsNone(again[1][2], "the other key stays live")

    def test_revoke_id_in_upper_case(self):
        org = harness.org_create(self.db)
        k = harness.apikey_create(self.db, org)
        revoke(self, self.db, key_id(k).upper())
        rows, _ = list_keys(self, self.db, org)
        self.assertIsNotNone(rows[0][2])

    def test_revoke_unknown_key(self):
        org = harness.org_create(self.db)
        k = harness.apikey_create(self.db, org)
        before, _ = list_keys(self, self.db, org)
        other = "0123456789abcdef" if key_id(k) != "0123456789abcdef" else "fedcba9876543210"
        self.usage_error("apikey", "revoke", other, rc=1)
        self.assertEqual(list_keys(self, self.db, org)[0], before)

    def test_revoke_usage_errors(self):
        org = harness.org_create(self.db)
        k = harness.apikey_create(self.db, org)
        before, _ = list_keys(self, self.db, org)
        kid = key_id(k)
        self.usage_error("apikey", "revoke")                        # no KEY_ID
        self.usage_error("apikey", "revoke", "")                    # empty
        self.usage_error("apikey", "revoke", kid[:-1])              # too short
        self.usage_error("apikey", "revoke", kid + "0")             # too long
        self.usage_error("apikey", "revoke", "g" * 16)              # not hex
        self.usage_error("apikey", "revoke", kid, kid)              # two
        self.usage_error("apikey", "revoke", kid, "--frobnicate")   # unknown flag
        self.usage_error("apikey", "revoke", "--org", org)          # a flag it does not take
        # the whole key instead of its id: refused, and never echoed
        self.usage_error("apikey", "revoke", k, secrets=[k])
        self.usage_error("apikey", "revoke", key_secret(k), secrets=[k])
        self.usage_error("apikey", "revoke", "-" + key_secret(k), secrets=[k])  # reads as a flag
        self.usage_error("apikey", "revoke", "--" + key_secret(k), secrets=[k])
        self.usage_error("apikey", "revoke", kid, k, secrets=[k])
        self.assertEqual(list_keys(self, self.db, org)[0], before, "a usage error revoked something")

    def test_revoke_with_environment_db(self):
        org = harness.org_create(self.db)
        k = harness.apikey_create(self.db, org)
        r = cli("apikey", "revoke", key_id(k), env={"ENTITLED_DB": self.db})
        self.assertEqual(r.rc, 0, repr(r))
        r = cli("apikey", "list", "--org", org, env={"ENTITLED_DB": self.db})
        self.assertEqual(r.rc, 0, repr(r))
        self.assertIn("revoked", r.out, repr(r))

    def test_help(self):
        for args, words in ((("apikey", "list", "--help"), ["--org", "--db"]),
                            (("apikey", "revoke", "--help"), ["KEY_ID", "--db"]),
                            (("--help",), ["apikey list", "apikey revoke"])):
            r = cli(*args)
            self.assertEqual(r.rc, 0, repr(r))
            for w in words:
                self.assertIn(w, r.out, repr(r))


class KeysServer(ServerTestCase):
    """Revocation seen by a running server at once."""

    extra_tenants = 1

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cust = None

    def setUp(self):
        cls = type(self)
        if cls.cust is None:
            cls.cust = self.make_customer()["id"]

    def second_key(self):
        return Tenant(self.t.org, harness.apikey_create(self.db, self.t.org))

    def unknown_key_answer(self, path):
        forged = "ek_%s_%s" % (os.urandom(8).hex(), "A" * 43)
        return self.c.get(path, auth={"x-api-key": forged, "organisation": self.t.org})

    def test_revoked_on_the_very_next_request(self):
        t2 = self.second_key()
        path = "/customers/%s" % self.cust
        kept = Client(self.server.port, t2, persistent=True)  # one keep-alive connection
        try:
            for _ in range(3):
                self.assertJson(kept.get(path), 200)
            revoke(self, self.db, key_id(t2.key))
            r = kept.get(path)  # the same connection, the next request
            self.assertDetail(r, 401)
            self.assertEqual(r.json, self.unknown_key_answer(path).json,
                             "a revoked key answers differently from an unknown key")
            # on fresh connections too, and whatever organisation it names
            for _ in range(5):
                self.assertDetail(Client(self.server.port, t2).get(path), 401)
            b = self.tenants[1]
            self.assertDetail(self.c.get(path, auth={"x-api-key": t2.key, "organisation": b.org}), 401)
            self.assertDetail(self.c.get(path, auth={"x-api-key": t2.key}), 401)
        finally:
            kept.close()
        # the organisation's first key still works, and a write with the
        # revoked key changed nothing
        before = self.assertJson(self.c.get("/customers/%s" % self.cust), 200)
        r = Client(self.server.port, t2).request("PATCH", path, {"customer_name": "revoked wrote"})
        self.assertDetail(r, 401)
        self.assertSame(before, self.assertJson(self.c.get(path), 200))
        self.assertJson(self.c.post("/customers", {"customer_name": "first key"}), 200)

    def test_revoked_under_load_on_every_thread(self):
        """Clients hammer the server with a key from several connections;
        every request sent after `apikey revoke` returned is 401 (the server
        has several threads and, on SQLite, a connection each)."""
        t2 = self.second_key()
        path = "/customers/%s" % self.cust
        stop = threading.Event()
        log, errors = [], []

        def worker():
            cl = Client(self.server.port, t2, persistent=True)
            try:
                while not stop.is_set():
                    t = time.monotonic()
                    r = cl.get(path)
                    log.append((t, r.status))
            except Exception as e:  # reported below
                errors.append(e)
            finally:
                cl.close()

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for th in threads:
            th.start()
        try:
            time.sleep(0.3)
            t_start = time.monotonic()
            revoke(self, self.db, key_id(t2.key))
            t_done = time.monotonic()
            time.sleep(0.5)
        finally:
            stop.set()
            for th in threads:
                th.join(30)
        self.assertEqual(errors, [])
        before = [s for t, s in log if t < t_start]
        after = [s for t, s in log if t > t_done]
        self.assertTrue(before and after, "too few requests: %d before, %d after" % (len(before), len(after)))
        self.assertEqual(set(before), {200}, "the key was refused before it was revoked")
        self.assertEqual(set(after), {401}, "%d of %d requests sent after the revocation were served"
                         % (sum(1 for s in after if s != 401), len(after)))
        self.assertJson(self.c.get(path), 200)  # the other key still works

    def test_list_while_serving(self):
        t2 = self.second_key()
        rows, r = list_keys(self, self.db, self.t.org)
        ids = [x[0] for x in rows]
        self.assertIn(key_id(self.t.key), ids, repr(r))
        self.assertEqual(ids[-1], key_id(t2.key), repr(r))
        assert_no_key_text(self, r.out + r.err, [self.t.key, t2.key], "apikey list's output")

    def test_keys_never_logged(self):
        t2 = self.second_key()
        b = self.tenants[1]
        path = "/customers/%s" % self.cust
        self.assertJson(Client(self.server.port, t2).get(path), 200)
        revoke(self, self.db, key_id(t2.key))
        forged = "ek_%s_%s" % (key_id(self.t.key), "B" * 43)  # a real id, a wrong secret
        for _ in range(2):
            self.assertDetail(Client(self.server.port, t2).get(path), 401)          # revoked
            self.assertDetail(self.c.get(path, auth={"x-api-key": forged, "organisation": self.t.org}), 401)
            self.assertDetail(self.c.get(path, auth={"x-api-key": b.key, "organisation": self.t.org}), 403)
            self.assertJson(self.c.get(path), 200)
            self.assertJson(self.c.post("/customers", {"customer_name": "log"}), 200)
        marker = new_id()
        self.c.get("/customers/%s" % marker)
        deadline = time.monotonic() + 10
        text = self.server.stderr()
        while marker not in text and time.monotonic() < deadline:
            time.sleep(0.1)
            text = self.server.stderr()
        self.assertIn(marker, text, "the request log did not show up")
        assert_no_key_text(self, text, [self.t.key, t2.key, b.key, forged], "the server's stderr")
        if harness.BACKEND == "postgres" and harness.PG is not None:
            with open(harness.PG.log, "rb") as f:
                pglog = f.read().decode("utf-8", "replace")
            assert_no_key_text(self, pglog, [self.t.key, t2.key, b.key, forged], "PostgreSQL's log")
