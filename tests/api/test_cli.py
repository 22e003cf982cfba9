"""The command line: help, errors, org and key creation, keys stored hashed,
environment defaults, creating orgs and keys while the server runs."""

import json
import os
import sqlite3
import subprocess
import time
import unittest

import harness
from harness import UUID_RE, Client, Server, ServerTestCase, cli, new_dir, new_id


def db_strings(path):
    """Every text (and blob, as latin-1) value of every table of the database
    (a SQLite file, or a PostgreSQL database read with psql)."""
    return [v for _t, _c, v in db_cells(path)]


def db_cells(path):
    """(table, column, value) triples of db_strings."""
    if harness.BACKEND == "postgres":
        return pg_cells(path)
    con = sqlite3.connect(path)
    out = []
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for tname in tables:
            q = tname.replace('"', '""')
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % q)]
            for row in con.execute('SELECT * FROM "%s"' % q):
                for col, v in zip(cols, row):
                    if isinstance(v, bytes):
                        v = v.decode("latin-1")
                    if isinstance(v, str):
                        out.append((tname, col, v))
    finally:
        con.close()
    return out


def pg_cells(url):
    """db_cells for a PostgreSQL database: every base table of every schema
    but the system ones, each row read as row_to_json; text-like values
    (text, uuid, date-times... as JSON writes them) are kept as strings and
    bytea values as latin-1 like SQLite blobs."""
    name = url.rsplit("/", 1)[1]
    cols = harness.PG.psql(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE t.table_type = 'BASE TABLE' AND c.table_schema NOT IN "
        "('pg_catalog', 'information_schema') ORDER BY 1, 2, c.ordinal_position", db=name)
    tables = {}
    for schema, table, col, dtype in cols:
        tables.setdefault((schema, table), []).append((col, dtype))
    out = []
    for (schema, table), columns in tables.items():
        q = '"%s"."%s"' % (schema.replace('"', '""'), table.replace('"', '""'))
        for (line,) in harness.PG.psql("SELECT row_to_json(t)::text FROM %s t" % q, db=name):
            row = json.loads(line)
            for col, dtype in columns:
                v = row.get(col)
                if dtype == "bytea" and isinstance(v, str) and v.startswith("\\x"):
                    v = bytes.fromhex(v[2:]).decode("latin-1")
                if isinstance(v, str):
                    out.append((table, col, v))
    return out


def db_files(db, since):
    """The files a database's bytes land in: SQLite's file, WAL and journal;
    PostgreSQL's relation files of the database, the WAL segments written
    since `since` (time.time()) and the server log."""
    if harness.BACKEND == "postgres":
        files = harness.PG.db_files(db.rsplit("/", 1)[1])
        return [f for f in files
                if "pg_wal" not in f or os.path.getmtime(f) >= since - 5]
    return [db + suffix for suffix in ("", "-wal", "-journal") if os.path.exists(db + suffix)]


def db_used(db):
    """The database was written to: the SQLite file exists; the PostgreSQL
    database (created empty beforehand) has tables."""
    if harness.BACKEND == "postgres":
        n = harness.PG.psql(
            "SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
            "AND table_schema NOT IN ('pg_catalog', 'information_schema')",
            db=db.rsplit("/", 1)[1])
        return int(n[0][0]) > 0
    return os.path.exists(db)


class CliHelp(unittest.TestCase):
    def check_help(self, args, must_mention):
        r = cli(*args)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertTrue(r.out.strip(), "no usage on stdout\n%r" % r)
        for word in must_mention:
            self.assertIn(word, r.out, "usage does not mention %r\n%r" % (word, r))

    def test_help(self):
        self.check_help(["--help"], ["serve", "org", "apikey"])

    def test_serve_help(self):
        self.check_help(["serve", "--help"], ["--listen", "--db"])

    def test_org_create_help(self):
        self.check_help(["org", "create", "--help"], ["--name"])

    def test_apikey_create_help(self):
        self.check_help(["apikey", "create", "--help"], ["--org"])

    def test_group_help(self):
        # a group of several commands lists them all, not its first one
        self.check_help(["apikey", "--help"], ["apikey create", "apikey list", "apikey revoke"])
        # a group of one shows that command's flags
        self.check_help(["org", "--help"], ["org create", "--name"])
        self.check_help(["idempotency", "-h"], ["idempotency prune", "--before"])


class CliErrors(unittest.TestCase):
    def setUp(self):
        self.dir = new_dir("cli-errors")
        self.db = harness.new_db(self.dir)
        self.addCleanup(harness.drop_db, self.db)

    def check_error(self, args, db=True):
        r = cli(*args, db=self.db if db else None)
        self.assertNotEqual(r.rc, 0, "expected a non-zero exit\n%r" % r)
        self.assertEqual(r.out, "", "expected nothing on stdout\n%r" % r)
        self.assertTrue(r.err.strip(), "expected a message on stderr\n%r" % r)
        return r

    def test_unknown_command(self):
        self.check_error(["frobnicate"], db=False)

    def test_unknown_subcommand(self):
        self.check_error(["org", "frobnicate", "--name", "x"])

    def test_bad_flag_top(self):
        self.check_error(["--frobnicate"], db=False)

    def test_bad_flag_serve(self):
        self.check_error(["serve", "--frobnicate"])

    def test_bad_flag_org_create(self):
        self.check_error(["org", "create", "--name", "x", "--frobnicate"])

    def test_bad_flag_apikey_create(self):
        self.check_error(["apikey", "create", "--org", new_id(), "--frobnicate"])

    def test_org_create_without_name(self):
        self.check_error(["org", "create"])

    def test_apikey_create_without_org(self):
        self.check_error(["apikey", "create"])

    def test_apikey_create_unknown_org(self):
        harness.org_create(self.db, "Exists")  # the db exists and has an org
        self.check_error(["apikey", "create", "--org", new_id()])

    def test_apikey_create_malformed_org(self):
        harness.org_create(self.db, "Exists")
        self.check_error(["apikey", "create", "--org", "not-a-uuid"])

    def test_serve_bad_listen(self):
        argv = [harness.BIN, "serve", "--listen", "127.0.0.1:notaport", "--db", self.db]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertNotEqual(p.returncode, 0, "serve with a bad --listen exited 0: %r" % p)
        self.assertTrue(p.stderr.strip(), "no message on stderr: %r" % p)


class CliCreate(unittest.TestCase):
    def setUp(self):
        self.dir = new_dir("cli-create")
        self.db = harness.new_db(self.dir)
        self.addCleanup(harness.drop_db, self.db)

    def test_org_create_prints_one_uuid(self):
        r = cli("org", "create", "--name", "Acme", db=self.db)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertRegex(r.out, r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n?$",
                         "stdout must be the UUID alone\n%r" % r)

    def test_two_orgs_differ(self):
        a = harness.org_create(self.db, "A")
        b = harness.org_create(self.db, "A")
        self.assertNotEqual(a, b)

    def test_apikey_create_prints_one_line(self):
        org = harness.org_create(self.db)
        r = cli("apikey", "create", "--org", org, db=self.db)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertEqual(r.out.count("\n"), 1, "stdout must be one line\n%r" % r)
        key = r.out.strip()
        self.assertRegex(key, r"^[\x21-\x7e]+$", "key must be printable without spaces")

    def test_apikey_create_accepts_uppercase_org(self):
        org = harness.org_create(self.db)
        r = cli("apikey", "create", "--org", org.upper(), db=self.db)
        self.assertEqual(r.rc, 0, repr(r))
        self.assertTrue(r.out.strip())

    def test_keys_differ_and_carry_128_bits(self):
        org = harness.org_create(self.db)
        keys = [harness.apikey_create(self.db, org) for _ in range(12)]
        self.assertEqual(len(set(keys)), len(keys), "keys repeat: %r" % keys)
        # The secret is what is left of a key once the prefix all keys share
        # and every value the database holds in clear (a lookup id, say) are
        # taken out of it.
        stored = sorted({v for v in db_strings(self.db) if len(v) >= 6}, key=len, reverse=True)
        prefix = os.path.commonprefix(keys)
        secrets = []
        for k in keys:
            rest = k[len(prefix):]
            for v in stored:
                rest = rest.replace(v, "")
            secrets.append(rest)
        chars = set("".join(secrets))
        if chars <= set("0123456789abcdef_-") or chars <= set("0123456789ABCDEF_-"):
            need, alphabet, digits = 32, "hex", set("0123456789abcdefABCDEF")
        else:
            self.assertTrue(chars <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-_+/=."),
                            "unexpected characters in keys: %r" % keys)
            need, alphabet = 22, "base64url"
            digits = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/")
        shortest = min(sum(1 for ch in s if ch in digits) for s in secrets)
        self.assertGreaterEqual(
            shortest, need,
            "secret part too short for 128 bits (%s needs %d chars): keys %r, secret parts %r"
            % (alphabet, need, keys, secrets))

    def test_key_not_stored_in_clear(self):
        t0 = time.time()
        org = harness.org_create(self.db)
        keys = [harness.apikey_create(self.db, org) for _ in range(3)]
        prefix = os.path.commonprefix(keys)
        cells = db_cells(self.db)
        stored = sorted({v for _t, _c, v in cells if len(v) >= 6}, key=len, reverse=True)
        needles = []
        for k in keys:
            rest = k[len(prefix):]
            for v in stored:
                rest = rest.replace(v, "")
            # the key, its part after the shared prefix, its tail, and what is
            # left once stored values (a lookup id) are taken out
            for n in (k, k[len(prefix):], k[-22:], rest.strip("_-.")):
                if len(n) >= 16 and n not in needles:
                    needles.append(n)
        self.assertTrue(cells, "nothing read from %s" % self.db)
        found = [(t, c, n) for t, c, v in cells for n in needles if n in v]
        self.assertEqual(found, [], "a key is stored in clear")
        # And nowhere in the database files, WAL included (with PostgreSQL:
        # the database's relation files, the recent WAL and the server log).
        files = db_files(self.db, t0)
        self.assertTrue(files, "no database file found for %s" % self.db)
        for p in files:
            with open(p, "rb") as f:
                data = f.read()
            for n in needles:
                self.assertNotIn(n.encode(), data, "key bytes found in %s" % p)


class CliWithServer(ServerTestCase):
    """Orgs and keys made with the CLI while the server runs work at once."""

    def test_org_and_key_made_while_serving(self):
        t = harness.tenant_create(self.db, "Late")
        c = Client(self.server.port, t)
        r = c.post("/customers", {"customer_name": "Late customer"})
        body = self.assertJson(r, 200)
        r2 = c.get("/customers/%s" % body["id"])
        self.assertJson(r2, 200)
        # and the first tenant's id is not visible to it
        mine = self.make_customer()
        self.assertDetail(c.get("/customers/%s" % mine["id"]), 404)

    def test_second_key_of_existing_org_while_serving(self):
        key2 = harness.apikey_create(self.db, self.t.org)
        t2 = harness.Tenant(self.t.org, key2)
        r = Client(self.server.port, t2).post("/customers", {"customer_name": "Second key"})
        self.assertJson(r, 200)
        # the first key still works
        self.assertJson(self.c.post("/customers", {"customer_name": "First key"}), 200)


class CliEnvironment(unittest.TestCase):
    """ENTITLED_DB and ENTITLED_LISTEN are the defaults of --db and --listen."""

    def test_env_defaults(self):
        d = new_dir("cli-env")
        db = harness.new_db(d, "env")
        r = cli("org", "create", "--name", "EnvOrg", env={"ENTITLED_DB": db})
        self.assertEqual(r.rc, 0, repr(r))
        org = r.out.strip()
        self.assertRegex(org, UUID_RE)
        self.assertTrue(db_used(db), "ENTITLED_DB was not used by org create")
        r = cli("apikey", "create", "--org", org, env={"ENTITLED_DB": db})
        self.assertEqual(r.rc, 0, repr(r))
        key = r.out.strip()
        srv = Server(d, db, use_flags=False).start()
        try:
            c = Client(srv.port, harness.Tenant(org, key))
            r = c.post("/customers", {"customer_name": "Env"})
            self.assertEqual(r.status, 200, str(r))
        finally:
            rc = srv.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM\n%s" % srv.stderr_tail())

    def test_flag_overrides_env(self):
        d = new_dir("cli-env2")
        db_env = harness.new_db(d, "env")
        db_flag = harness.new_db(d, "flag")
        r = cli("org", "create", "--name", "FlagOrg", db=db_flag, env={"ENTITLED_DB": db_env})
        self.assertEqual(r.rc, 0, repr(r))
        org = r.out.strip()
        self.assertTrue(db_used(db_flag), "--db was not used")
        # the org is in the --db file: a key can be made there, not in the env one
        self.assertEqual(cli("apikey", "create", "--org", org, db=db_flag).rc, 0)
        r2 = cli("apikey", "create", "--org", org, db=db_env)
        self.assertNotEqual(r2.rc, 0, "org found in the ENTITLED_DB file too\n%r" % r2)


class CliNewerSchema(unittest.TestCase):
    """A database whose schema a newer binary wrote is refused, naming both
    versions (issue 13, low): its rows may mean what this binary does not
    know. Both backends."""

    def test_newer_schema_refused_by_every_command(self):
        from ledger_check import db_exec
        d = harness.new_dir("CliNewerSchema")
        db = harness.new_db(d)
        harness.org_create(db)  # the schema as this binary makes it
        db_exec(db, "INSERT INTO schema_migrations(version, applied_at) VALUES (999, 0)")
        for args in (("org", "create", "--name", "Late"),
                     ("verify",),
                     ("serve", "--listen", "127.0.0.1:%d" % harness.free_port())):
            with self.subTest(args=args):
                r = harness.cli(*args, db=db, timeout=20)
                self.assertNotEqual(r.rc, 0, repr(r))
                self.assertRegex(r.err, r"schema is version 999, newer than this binary knows "
                                        r"\(version \d+\)", repr(r))
        harness.drop_db(db)
