"""Shared helpers of the API tests: the binary, its CLI, a server per test
class, HTTP requests, JSON comparison. Python 3 standard library only.

run.py sets BIN (the entitled binary), ROOT (the run's temporary folder) and
KEEP before the tests are loaded, and with `--backend postgres` BACKEND and
PG (a tests/pg/cluster.py Cluster shared by the run): new_db() then makes a
fresh PostgreSQL database and returns its postgresql:// URL instead of a
SQLite file path."""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid

BIN = os.environ.get("ENTITLED_BIN", "")
ROOT = None  # the run's temporary folder (made by run.py or lazily here)
KEEP = False
BACKEND = "sqlite"  # or "postgres" (run.py --backend)
PG = None           # the run's PostgreSQL cluster when BACKEND is "postgres"

START_TIMEOUT = 20.0   # seconds until GET /healthz must answer 200
STOP_TIMEOUT = 10.0    # seconds until SIGTERM must end the server
HTTP_TIMEOUT = 60.0    # per request; ASan builds are slow, so no tight limits
CLI_TIMEOUT = 60.0

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?Z$")
MIB = 1048576


def root_dir():
    global ROOT
    if ROOT is None:
        ROOT = tempfile.mkdtemp(prefix="entitled-api-")
    return ROOT


def new_dir(name):
    """A fresh folder under the run's temporary folder."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:80]
    return tempfile.mkdtemp(prefix=safe + "-", dir=root_dir())


def new_db(workdir, name="test"):
    """A fresh, empty database for `--db`: DIR/name.db with SQLite, a new
    database of the run's cluster (its URL) with PostgreSQL."""
    if BACKEND == "postgres":
        return PG.create_db()
    return os.path.join(workdir, name + ".db")


def drop_db(db):
    """Remove a database new_db made on PostgreSQL (not with --keep)."""
    if BACKEND == "postgres" and not KEEP and db.startswith("postgresql://"):
        PG.drop_db(db.rsplit("/", 1)[1])


def new_id():
    return str(uuid.uuid4())


def free_port():
    """A port that was free a moment ago (bind port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# CLI

class CliResult:
    def __init__(self, args, rc, out, err):
        self.args, self.rc, self.out, self.err = args, rc, out, err

    def __repr__(self):
        return "command %r\nexit %r\nstdout %r\nstderr %r" % (
            self.args, self.rc, self.out[-2000:], self.err[-2000:])


def cli(*args, db=None, env=None, timeout=CLI_TIMEOUT):
    """Run BIN with args (and --db db when given); returns a CliResult."""
    argv = [BIN] + [str(a) for a in args]
    if db is not None:
        argv += ["--db", db]
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=full_env, timeout=timeout)
    return CliResult(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                     p.stderr.decode("utf-8", "replace"))


def org_create(db, name="Acme"):
    r = cli("org", "create", "--name", name, db=db)
    if r.rc != 0:
        raise AssertionError("org create failed:\n%r" % r)
    out = r.out.strip()
    if not UUID_RE.match(out):
        raise AssertionError("org create did not print one lower-case UUID:\n%r" % r)
    return out


def apikey_create(db, org):
    r = cli("apikey", "create", "--org", org, db=db)
    if r.rc != 0:
        raise AssertionError("apikey create failed:\n%r" % r)
    out = r.out.strip()
    if not out or "\n" in out:
        raise AssertionError("apikey create did not print one line:\n%r" % r)
    return out


class Tenant:
    """An organisation and one of its keys."""

    def __init__(self, org, key):
        self.org, self.key = org, key

    def headers(self):
        return {"x-api-key": self.key, "organisation": self.org}


def tenant_create(db, name="Acme"):
    org = org_create(db, name)
    return Tenant(org, apikey_create(db, org))


# --------------------------------------------------------------------------
# Server

_LIVE = []  # every process started, killed at exit if still running


@atexit.register
def _kill_leftovers():
    for p in _LIVE:
        if p.poll() is None:
            p.kill()
            p.wait()

class Server:
    """One `BIN serve` process on a free port, stderr captured in a file."""

    def __init__(self, workdir, db=None, env=None, use_flags=True, args=()):
        self.workdir = workdir
        self.args = list(args)
        self.db = db or new_db(workdir)
        self.env = env
        self.use_flags = use_flags
        self.proc = None
        self.port = None
        self.starts = 0
        self.stderr_path = None
        self._stderr_file = None

    @property
    def listen(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        """Start and wait for GET /healthz = 200. Retries on a taken port."""
        last = None
        for _attempt in range(5):
            self.port = free_port()
            self.starts += 1
            self.stderr_path = os.path.join(
                self.workdir, "server-%d.stderr" % self.starts)
            self._stderr_file = open(self.stderr_path, "wb")
            env = dict(os.environ)
            if self.env:
                env.update(self.env)
            if self.use_flags:
                argv = [BIN, "serve", "--listen", self.listen, "--db", self.db] + self.args
            else:
                argv = [BIN, "serve"] + self.args
                env["ENTITLED_LISTEN"] = self.listen
                env["ENTITLED_DB"] = self.db
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=self._stderr_file,
                                         stderr=self._stderr_file, env=env)
            _LIVE.append(self.proc)
            ok, why = self._wait_ready()
            if ok:
                return self
            last = why
            self._reap()
            err = self.stderr().lower()
            if not any(w in err for w in ("in use", "eaddrinuse", "bind")):
                break
        raise AssertionError("server did not start: %s\n--- server stderr ---\n%s"
                             % (last, self.stderr()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        why = "no answer from GET /healthz within %gs" % START_TIMEOUT
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, "server exited with %r before answering" % rc
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                r.read()
                conn.close()
                if r.status == 200:
                    return True, ""
                why = "GET /healthz answered %d" % r.status
            except (OSError, http.client.HTTPException) as e:
                why = "GET /healthz: %r" % e
            time.sleep(0.05)
        return False, why

    def _reap(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def stderr(self, all_runs=False):
        paths = []
        if all_runs:
            for i in range(1, self.starts + 1):
                paths.append(os.path.join(self.workdir, "server-%d.stderr" % i))
        elif self.stderr_path:
            paths.append(self.stderr_path)
        out = []
        for p in paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def stderr_tail(self, lines=60):
        text = self.stderr()
        return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------
# HTTP

def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def strict_loads(data):
    """json.loads that refuses NaN and Infinity, which are not JSON."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    return json.loads(data, parse_constant=_no_constant)


class Response:
    def __init__(self, method, path, status, headers, body, sent=None):
        self.method, self.path, self.status = method, path, status
        self.headers = headers  # list of (name, value)
        self.body = body
        self.sent = sent
        self._json = None
        self._json_err = None
        try:
            self._json = strict_loads(body) if body else None
        except (ValueError, UnicodeDecodeError) as e:
            self._json_err = e

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        if self._json_err is not None:
            raise AssertionError("answer is not JSON (%s):\n%s" % (self._json_err, self))
        return self._json

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __str__(self):
        sent = self.sent
        if isinstance(sent, (bytes, bytearray)):
            sent = bytes(sent[:600]).decode("utf-8", "replace") + (
                "...(%d bytes)" % len(self.sent) if len(self.sent) > 600 else "")
        return "%s %s%s\n-> %d %s" % (
            self.method, self.path, ("\n   body: %s" % sent) if sent else "",
            self.status, self.text[:1500])

    __repr__ = __str__


def encode_body(body):
    if body is None:
        return None
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


class Client:
    """HTTP to one server. With persistent=True one connection is reused
    (keep-alive); otherwise each request opens its own connection."""

    def __init__(self, port, tenant=None, persistent=False, timeout=HTTP_TIMEOUT):
        self.port = port
        self.tenant = tenant
        self.persistent = persistent
        self.timeout = timeout
        self.conn = None

    def _connection(self):
        if self.persistent:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
            return self.conn
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, auth=True, tenant=None):
        """body: dict/list (sent as JSON), str or bytes (sent as is) or None.
        auth: True (the client's tenant), False/None (no auth headers), or a
        dict of headers to use instead."""
        h = {}
        t = tenant or self.tenant
        if auth is True and t is not None:
            h.update(t.headers())
        elif isinstance(auth, dict):
            h.update(auth)
        data = encode_body(body)
        if data is not None:
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            payload = r.read()
            resp = Response(method, path, r.status, r.getheaders(), payload, data)
        except Exception:
            conn.close()
            if self.persistent:
                self.conn = None
            raise
        if not self.persistent:
            conn.close()
        if SCHEMA_CHECK:
            check_answer(self.port, resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)


# --------------------------------------------------------------------------
# Every answer a Client receives is held to the server's own OpenAPI document
# (GET /openapi.json, fetched once per server): on a documented path, the
# status must be documented for the operation and the body must validate
# against its schema (tests/api/schema.py), else the test that made the
# request fails. Undocumented paths (deliberate 404s) are exempt.
# ENTITLED_NO_SCHEMA=1 turns the check off.

SCHEMA_CHECK = os.environ.get("ENTITLED_NO_SCHEMA", "") != "1"
_DOCS = {}  # port -> the served document, or None when the server serves none
_DOCS_LOCK = threading.Lock()


def served_document(port):
    """The OpenAPI document the server on `port` serves (cached), or None."""
    with _DOCS_LOCK:
        if port in _DOCS:
            return _DOCS[port]
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
        conn.request("GET", "/openapi.json")
        r = conn.getresponse()
        payload = r.read()
        conn.close()
    except (OSError, http.client.HTTPException):
        return None  # the server is gone or going: nothing to check against now
    doc = None
    if r.status == 200:
        try:
            doc = strict_loads(payload)
        except (ValueError, UnicodeDecodeError):
            doc = None
    with _DOCS_LOCK:
        _DOCS[port] = doc if isinstance(doc, dict) else None
        return _DOCS[port]


def check_answer(port, resp):
    """Raise AssertionError when `resp` is not an answer the document allows."""
    import schema  # tests/api/schema.py
    doc = served_document(port)
    if doc is None:
        return
    errs = schema.answer_errors(doc, resp.method, resp.path, resp.status,
                                resp.header("content-type"), resp.body)
    errs += schema.missing_headers(doc, resp.method, resp.path, resp.status, resp.header)
    if errs:
        raise AssertionError("the answer does not conform to /openapi.json "
                             "(ENTITLED_NO_SCHEMA=1 skips this check):\n  %s\n%s"
                             % ("\n  ".join(errs), resp))


def raw_exchange(port, head, body_chunks=(), timeout=HTTP_TIMEOUT, pause=0.0):
    """Send raw bytes (head, then each chunk from another thread, so that a
    server answering early is still read) and parse one HTTP answer.
    Returns (Response, send_error)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    send_error = []

    def sender():
        try:
            sock.sendall(head)
            for c in body_chunks:
                if pause:
                    time.sleep(pause)
                sock.sendall(c)
        except OSError as e:
            send_error.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        r = http.client.HTTPResponse(sock, method="POST")
        try:
            r.begin()
            payload = r.read()
        except (OSError, http.client.HTTPException) as e:
            raise AssertionError(
                "no answer could be read: %s: %s (while sending: %r)\nrequest head: %r"
                % (type(e).__name__, e, send_error[0] if send_error else None, head[:300]))
        resp = Response("RAW", head.split(b"\r\n", 1)[0].decode("latin-1"),
                        r.status, r.getheaders(), payload, None)
    finally:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # unblocks a sender the server stopped reading
        except OSError:
            pass
        t.join(10)
        sock.close()
    return resp, (send_error[0] if send_error else None)


# --------------------------------------------------------------------------
# JSON comparison: ints and floats are equal numbers, bools are not numbers.

def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def json_diff(expected, actual, where="$"):
    """A list of differences (empty when equal)."""
    if _is_num(expected) and _is_num(actual):
        return [] if expected == actual else ["%s: expected %r, got %r" % (where, expected, actual)]
    if type(expected) is not type(actual):
        if not (isinstance(expected, str) and isinstance(actual, str)):
            return ["%s: expected %r, got %r" % (where, expected, actual)]
    if isinstance(expected, dict):
        out = []
        for k in expected:
            if k not in actual:
                out.append("%s: missing key %r (expected %r)" % (where, k, expected[k]))
            else:
                out += json_diff(expected[k], actual[k], "%s.%s" % (where, k))
        for k in actual:
            if k not in expected:
                out.append("%s: unexpected key %r = %r" % (where, k, actual[k]))
        return out
    if isinstance(expected, list):
        if len(expected) != len(actual):
            return ["%s: expected %d items, got %d:\n    expected %s\n    got      %s" % (
                where, len(expected), len(actual), json.dumps(expected), json.dumps(actual))]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            out += json_diff(e, a, "%s[%d]" % (where, i))
        return out
    return [] if expected == actual else ["%s: expected %r, got %r" % (where, expected, actual)]


def substitute(value, mapping):
    """Replace placeholders (e.g. {E}) in every string of a JSON value."""
    if isinstance(value, str):
        for k, v in mapping.items():
            value = value.replace(k, v)
        return value
    if isinstance(value, list):
        return [substitute(v, mapping) for v in value]
    if isinstance(value, dict):
        return {substitute(k, mapping): substitute(v, mapping) for k, v in value.items()}
    return value


def number_literal(body, key):
    """The literal text of the number at "key" in a JSON answer (first match)."""
    m = re.search(r'"%s"\s*:\s*(-?[0-9][0-9.eE+-]*)' % re.escape(key), body.decode("utf-8"))
    return m.group(1) if m else None


# --------------------------------------------------------------------------
# Test base class

class ServerTestCase(unittest.TestCase):
    """Starts one server per class on its own db with one tenant (cls.t) made
    by the CLI before the server starts; cls.c is a Client for that tenant."""

    extra_tenants = 0  # more tenants made before start: cls.tenants[1:]
    server_args = ()   # more flags for `serve`
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.dir = new_dir(cls.__name__)
        cls.db = new_db(cls.dir)
        cls.tenants = [tenant_create(cls.db, "Org %s %d" % (cls.__name__, i))
                       for i in range(1 + cls.extra_tenants)]
        cls.t = cls.tenants[0]
        cls.server = Server(cls.dir, cls.db, args=cls.server_args)
        cls.server.start()
        cls.c = Client(cls.server.port, cls.t)

    @classmethod
    def tearDownClass(cls):
        srv = getattr(cls, "server", None)
        if srv is not None and srv.proc is not None and srv.proc.returncode is None:
            rc = srv.stop()
            if rc != 0:
                raise AssertionError(
                    "server did not exit 0 within %gs of SIGTERM (exit %r)\n"
                    "--- server stderr (tail) ---\n%s" % (STOP_TIMEOUT, rc, srv.stderr_tail()))
        if getattr(cls, "db", None) and (srv is None or not srv.alive()):
            drop_db(cls.db)

    # ---- assertions ----

    def assertJson(self, resp, status, msg=None):
        """Status, content-type application/json, a JSON body; returns it."""
        self.assertEqual(resp.status, status, "%s%s" % (msg + "\n" if msg else "", resp))
        ctype = resp.header("content-type") or ""
        self.assertTrue(ctype.split(";")[0].strip().lower() == "application/json",
                        "content-type %r is not application/json\n%s" % (ctype, resp))
        return resp.json

    def assertDetail(self, resp, status, detail=None):
        """An error answer {"detail": "<sentence>"}."""
        body = self.assertJson(resp, status)
        self.assertIsInstance(body, dict, str(resp))
        self.assertIn("detail", body, str(resp))
        self.assertIsInstance(body["detail"], str, str(resp))
        self.assertTrue(body["detail"], "empty detail\n%s" % resp)
        if detail is not None:
            self.assertEqual(body["detail"], detail, str(resp))
        return body

    def assert422(self, resp, *locs):
        """A FastAPI validation answer; each loc given must be among the errors.
        Returns the list of errors."""
        body = self.assertJson(resp, 422)
        self.assertIsInstance(body, dict, str(resp))
        errs = body.get("detail")
        self.assertIsInstance(errs, list, str(resp))
        self.assertTrue(errs, "empty error list\n%s" % resp)
        for e in errs:
            for k in ("type", "loc", "msg"):
                self.assertIn(k, e, "error without %r\n%s" % (k, resp))
            self.assertIsInstance(e["loc"], list, str(resp))
        got = [e["loc"] for e in errs]
        for loc in locs:
            self.assertIn(list(loc), got, "no error at loc %r\n%s" % (loc, resp))
        return errs

    def assertSame(self, expected, actual, msg=""):
        d = json_diff(expected, actual)
        if d:
            self.fail("%s\n%s" % (msg, "\n".join(d)))

    def assertDateTime(self, value, msg=""):
        self.assertIsInstance(value, str, msg)
        self.assertRegex(value, DT_RE, msg)
        if "." in value:
            self.assertNotEqual(value[-7:-1], "000000", "zero fraction written: %r %s" % (value, msg))

    # ---- helpers making objects through the API ----

    def make_customer(self, client=None, **fields):
        body = {"customer_name": "Customer %s" % new_id()[:8]}
        body.update(fields)
        r = (client or self.c).post("/customers", body)
        out = self.assertJson(r, 200)
        self.assertRegex(out.get("id", ""), UUID_RE, str(r))
        return out

    def make_entitlement(self, client=None, **fields):
        body = {"name": "Ent %s" % new_id()[:8]}
        body.update(fields)
        r = (client or self.c).post("/entitlements", body)
        out = self.assertJson(r, 200)
        self.assertRegex(out.get("id", ""), UUID_RE, str(r))
        return out

    def make_row(self, ent_id, cust_id, client=None, **fields):
        body = {"customer": cust_id}
        body.update(fields)
        r = (client or self.c).post("/entitlements/%s/customer" % ent_id, body)
        out = self.assertJson(r, 200)
        self.assertRegex(out.get("id", ""), UUID_RE, str(r))
        return out

    def make_triple(self, client=None, **row_fields):
        """A customer, an entitlement and a row of the pair: (E, C, row)."""
        cu = self.make_customer(client)
        en = self.make_entitlement(client)
        row = self.make_row(en["id"], cu["id"], client, **row_fields)
        return en["id"], cu["id"], row


def row_path(e, c, r):
    return "/entitlements/%s/customer/%s/%s" % (e, c, r)


def patch_body(e, c, **fields):
    body = {"entitlement": e, "customer": c}
    body.update(fields)
    return body


def cleanup_root():
    if ROOT and not KEEP:
        shutil.rmtree(ROOT, ignore_errors=True)


# --------------------------------------------------------------------------
# Lists (issue 3)

def url(path, params=(), **kw):
    """path?query from a dict or a list of (name, value) pairs plus keywords;
    None values are left out, so url(p, cursor=None) is p."""
    import urllib.parse
    pairs = list(params.items()) if isinstance(params, dict) else list(params)
    pairs += list(kw.items())
    pairs = [(k, v) for k, v in pairs if v is not None]
    return path + ("?" + urllib.parse.urlencode(pairs) if pairs else "")


def fresh_client(case, name="Fresh"):
    """A new organisation and key, made with the CLI while case's server runs,
    and a Client for it: a tenant whose lists are empty."""
    srv = type(case)
    t = tenant_create(srv.db, "%s %s" % (name, new_id()[:8]))
    return Client(srv.server.port, t)


def list_items(body):
    """The items of a list answer (results, or data for the customers lists)."""
    return body["data"] if isinstance(body, dict) and "data" in body else body["results"]


def parse_dt(s):
    """A date-time as entitled writes it (2026-01-31T12:00:00[.ffffff]Z), as
    an aware datetime; None stays None."""
    import datetime
    if s is None:
        return None
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in s else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc)


def expected_order(items, key, desc=False):
    """items sorted as docs/API.md says lists sort: by key(item), nulls first
    ascending and last descending, ties broken by id in the same direction."""
    def k(it):
        v = key(it)
        return (v is not None, v if v is not None else 0, it["id"])
    out = sorted(items, key=k)
    return out[::-1] if desc else out
