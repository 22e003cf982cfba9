"""A throwaway PostgreSQL 15 cluster for the tests. Python 3 standard library
only; the server and the `psql` client come from the Debian packages
`postgresql` and `postgresql-client` (scripts/deps.sh installs them).

    c = Cluster().start()        # initdb in a temporary folder, a free port
    url = c.create_db("t_1")     # postgresql://entitled@127.0.0.1:PORT/t_1
    c.psql("SELECT 1", db="t_1") # rows as lists of strings
    c.restart()                  # pg_ctl restart -m fast (same port)
    c.destroy()                  # stop and remove everything (also at exit)

The cluster listens on 127.0.0.1 only, with its unix socket in its own
folder, trust authentication, and a login role `entitled` that owns the
databases made by create_db (not a superuser). Run as root, initdb and
pg_ctl run as the `postgres` user (runuser), which owns the folder.

Nothing is skipped when PostgreSQL is missing: start() raises
PgMissing, and a caller reports that as a failure.

The cluster goes away when the Python process exits (atexit, SIGTERM and
SIGINT included) and, should the process be killed outright, a detached
watchdog process stops the cluster and removes its folder once the parent
process is gone."""

import atexit
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PG_VERSION = "15"
ROLE = "entitled"
START_TIMEOUT = 60  # seconds for pg_ctl start/stop/restart to finish
PSQL_TIMEOUT = 120


class PgMissing(RuntimeError):
    """PostgreSQL 15 (server or psql) is not installed."""


class PgError(RuntimeError):
    """initdb, pg_ctl or psql failed."""


def find_bindir():
    """The folder of PostgreSQL 15's initdb, pg_ctl, postgres and psql.
    ENTITLED_PG_BINDIR overrides the search."""
    cands = []
    env = os.environ.get("ENTITLED_PG_BINDIR")
    if env:
        cands.append(env)
    cands.append("/usr/lib/postgresql/%s/bin" % PG_VERSION)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, timeout=30).stdout
            cands.append(out.decode().strip())
        except (OSError, subprocess.SubprocessError):
            pass
    need = ("initdb", "pg_ctl", "postgres", "psql")
    for d in cands:
        if d and all(os.access(os.path.join(d, b), os.X_OK) for b in need):
            if _version(os.path.join(d, "postgres")) == PG_VERSION:
                return d
    raise PgMissing(
        "PostgreSQL %s is not installed: no folder among %r holds %s of version %s. "
        "Install the Debian packages postgresql and postgresql-client "
        "(bash scripts/deps.sh does), or set ENTITLED_PG_BINDIR."
        % (PG_VERSION, cands, ", ".join(need), PG_VERSION))


def _version(postgres):
    try:
        out = subprocess.run([postgres, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"\b(\d+)(?:\.\d+)?", out)
    return m.group(1) if m else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_CLUSTERS = []


def _cleanup_all():
    for c in list(_CLUSTERS):
        c.destroy()


atexit.register(_cleanup_all)


def _on_signal(signum, _frame):
    # SIGTERM/SIGINT end the process through atexit, so the cluster goes too.
    raise SystemExit(128 + signum)


_handlers_installed = False


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    for s in (signal.SIGTERM, signal.SIGHUP):
        try:
            if signal.getsignal(s) in (signal.SIG_DFL, None):
                signal.signal(s, _on_signal)
        except (ValueError, OSError):
            pass  # not the main thread


_WATCHDOG = r"""
import os, shutil, subprocess, sys, time
parent, pg_ctl, data, top, user = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
while True:
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        break
    except PermissionError:
        pass
    if not os.path.isdir(top):
        sys.exit(0)
    time.sleep(1)
if os.path.exists(os.path.join(data, "postmaster.pid")):
    argv = [pg_ctl, "stop", "-D", data, "-m", "immediate", "-w", "-t", "30"]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(top, ignore_errors=True)
"""


class Cluster:
    def __init__(self, prefix="entitled-pg-", keep=False, settings=None):
        self.prefix = prefix
        self.keep = keep
        self.settings = dict(settings or {})
        self.bindir = None
        self.top = None       # the temporary folder (data, socket, log)
        self.data = None
        self.log = None
        self.port = None
        self.user = None      # run initdb/pg_ctl as this user (None: as ourselves)
        self.running = False
        self._watchdog = None
        self._n = 0

    # ---- paths and commands -------------------------------------------

    def bin(self, name):
        return os.path.join(self.bindir, name)

    def _as_owner(self, argv):
        return (["runuser", "-u", self.user, "--"] + argv) if self.user else argv

    def _run(self, argv, timeout=START_TIMEOUT, check=True):
        p = subprocess.run(self._as_owner(argv), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout, cwd=self.top)
        out = p.stdout.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise PgError("%s exited %d:\n%s\n--- postgres log (tail) ---\n%s"
                          % (" ".join(argv), p.returncode, out.strip(), self.log_tail()))
        return p.returncode, out

    def log_tail(self, lines=40):
        try:
            with open(self.log, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ---- lifecycle -----------------------------------------------------

    def start(self):
        """initdb in a fresh temporary folder and start on a free port."""
        self.bindir = find_bindir()
        if os.geteuid() == 0:
            for u in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(u)
                    self.user = u
                    break
                except KeyError:
                    continue
            if self.user is None or not shutil.which("runuser"):
                raise PgMissing("running as root, but there is no postgres user or no "
                                "runuser to run initdb as another user")
        # The socket path must stay short (107 bytes): a short TMPDIR or /tmp.
        base = tempfile.gettempdir()
        if len(base) > 40:
            base = "/tmp"
        self.top = tempfile.mkdtemp(prefix=self.prefix, dir=base)
        _CLUSTERS.append(self)
        _install_handlers()
        self.data = os.path.join(self.top, "data")
        self.log = os.path.join(self.top, "postgres.log")
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.top, pw.pw_uid, pw.pw_gid)
        os.chmod(self.top, 0o755)  # root (psql, the tests) reads the log and data
        self._start_watchdog()
        self._run([self.bin("initdb"), "-D", self.data, "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync"], timeout=180)
        last = None
        for _attempt in range(5):
            self.port = free_port()
            self._write_conf()
            rc, out = self._run([self.bin("pg_ctl"), "start", "-D", self.data, "-l", self.log,
                                 "-w", "-t", str(START_TIMEOUT)], check=False)
            if rc == 0:
                self.running = True
                break
            last = out + "\n" + self.log_tail()
            if "in use" not in last and "could not bind" not in last:
                break
        if not self.running:
            raise PgError("PostgreSQL did not start:\n%s" % last)
        self.psql("CREATE ROLE %s LOGIN CREATEDB" % ROLE)
        return self

    def _write_conf(self):
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": "'%s'" % self.top,
            "max_connections": "300",
            "fsync": "off",                # the machine does not crash in tests;
            "full_page_writes": "off",     # a killed postgres keeps its writes
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %d '",
            "lc_messages": "'C'",
            "timezone": "'UTC'",
        }
        conf.update({k: str(v) for k, v in self.settings.items()})
        path = os.path.join(self.data, "postgresql.auto.conf")
        with open(path, "w") as f:
            f.write("# written by tests/pg/cluster.py\n")
            for k, v in conf.items():
                f.write("%s = %s\n" % (k, v))
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _start_watchdog(self):
        argv = [sys.executable, "-c", _WATCHDOG, str(os.getpid()), self.bin("pg_ctl"),
                self.data, self.top, self.user or ""]
        self._watchdog = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL,
                                          start_new_session=True)

    def stop(self, mode="fast"):
        """pg_ctl stop -m MODE (fast: clients are disconnected, a clean
        shutdown; immediate: like a crash, recovery at the next start)."""
        self._run([self.bin("pg_ctl"), "stop", "-D", self.data, "-m", mode, "-w",
                   "-t", str(START_TIMEOUT)])
        self.running = False

    def start_again(self):
        """Start the stopped cluster again on the same port."""
        self._run([self.bin("pg_ctl"), "start", "-D", self.data, "-l", self.log,
                   "-w", "-t", str(START_TIMEOUT)])
        self.running = True

    def restart(self, mode="fast"):
        self._run([self.bin("pg_ctl"), "restart", "-D", self.data, "-l", self.log,
                   "-m", mode, "-w", "-t", str(START_TIMEOUT)])
        self.running = True

    def destroy(self):
        """Stop the server (immediate) and remove the folder unless keep."""
        if self.top is None:
            return
        try:
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self._run([self.bin("pg_ctl"), "stop", "-D", self.data, "-m", "immediate",
                           "-w", "-t", "30"], check=False)
        except (OSError, subprocess.SubprocessError):
            pass
        self.running = False
        if self._watchdog is not None:
            if self.keep:
                # the watchdog would remove the folder once we are gone
                try:
                    self._watchdog.kill()
                    self._watchdog.wait(10)
                except OSError:
                    pass
            self._watchdog = None
        if not self.keep:
            shutil.rmtree(self.top, ignore_errors=True)
        if self in _CLUSTERS:
            _CLUSTERS.remove(self)
        self.top = None

    # ---- databases and queries ----------------------------------------

    def url(self, db, user=ROLE):
        return "postgresql://%s@127.0.0.1:%d/%s" % (user, self.port, db)

    def create_db(self, name=None):
        """CREATE DATABASE name OWNER entitled; returns its URL."""
        if name is None:
            self._n += 1
            name = "t_%d" % self._n
        if not re.match(r"^[a-z_][a-z0-9_]*$", name):
            raise ValueError("database name %r" % name)
        self.psql("CREATE DATABASE %s OWNER %s" % (name, ROLE))
        return self.url(name)

    def drop_db(self, name):
        self.psql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)

    def psql(self, sql, db="postgres", user="postgres", timeout=PSQL_TIMEOUT, check=True):
        """Run sql with psql (ON_ERROR_STOP); rows as lists of strings
        (unaligned, fields separated by \\x1f, rows by \\x1e)."""
        argv = [self.bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", "\x1f", "-R", "\x1e", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", user, "-d", db, "-c", sql]
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout,
                           env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
        if check and p.returncode != 0:
            raise PgError("psql -d %s -c %r exited %d: %s" % (
                db, sql, p.returncode, p.stderr.decode("utf-8", "replace").strip()))
        out = p.stdout.decode("utf-8")
        if out.endswith("\n"):
            out = out[:-1]
        return [r.split("\x1f") for r in out.split("\x1e") if r != ""]

    def db_oid(self, name):
        return self.psql("SELECT oid FROM pg_database WHERE datname = '%s'" % name)[0][0]

    def db_files(self, name):
        """The files that hold database name's data, the WAL and the server log."""
        files = glob.glob(os.path.join(self.data, "base", self.db_oid(name), "*"))
        files += glob.glob(os.path.join(self.data, "pg_wal", "0*"))
        files.append(self.log)
        return [f for f in files if os.path.isfile(f)]


def dbname_of(url):
    """The database name of a postgresql:// URL."""
    return url.rsplit("/", 1)[1].split("?", 1)[0]


if __name__ == "__main__":
    # A smoke test: python3 tests/pg/cluster.py
    c = Cluster().start()
    u = c.create_db()
    print("cluster at", c.top, "url", u)
    print(c.psql("SELECT version()"))
    c.psql("CREATE TABLE x (a text, b bytea)", db=dbname_of(u), user=ROLE)
    c.psql("INSERT INTO x VALUES ('hello', '\\x00ff')", db=dbname_of(u), user=ROLE)
    print(c.psql("SELECT row_to_json(x) FROM x", db=dbname_of(u)))
    c.restart()
    print(c.psql("SELECT count(*) FROM x", db=dbname_of(u)))
    top = c.top
    c.destroy()
    print("removed" if not os.path.exists(top) else "NOT removed", top)
