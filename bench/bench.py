#!/usr/bin/env python3
"""`make bench`: entitled against what a user would run instead, on this
machine, in one run (issue 6). See bench/README.md.

Usage: bench/bench.py BIN [--peers DIR] [--only S,S] [--skip S,S] [--deep-rows N] [--out DIR]

Sections, in this order (--only / --skip take their names):
  nginx     nginx answering a fixed JSON row: the HTTP ceiling (GET)
  entitled  entitled on SQLite, fresh database from bench/seed.py: GET one row,
            a page of 50 of a customer's rows, consume, PATCH one row
  fastify   Fastify + better-sqlite3, 1 process (the peers' server.js): GET, PATCH
  fastapi   FastAPI + SQLite, async endpoints, 1 uvicorn worker: GET, PATCH
  pg        entitled on PostgreSQL 15 (bench/pg.py): the same four operations
  deep      bench/deep.py: pages of 50 at any depth and peak memory, 1,000,000 rows

Every operation: wrk -t2 -c64 on 127.0.0.1, an unrecorded warm-up, then RUNS
recorded runs of DUR seconds; the median and min-max of the runs are reported.
For writes, fsync and fdatasync calls of the server's processes are counted
during every recorded run (perf stat on the syscall tracepoints, attached to
the server's process tree; strace -c -f when perf cannot). For entitled on
SQLite, one more run of PROFILE_DUR seconds is sampled with perf record: the
profile printed for a target that is not met.

Environment: DUR (10), RUNS (3), WARMUP (3), THREADS (2), CONNS (64),
PROFILE_DUR (3; 0 for none), BENCH_KEEP=1 keeps the temporary folder.
The server's own settings pass through (ENTITLED_THREADS, ENTITLED_POOL, ...).

Prints the tables and writes them to OUT/latest.md (default bench/results;
OUT/latest-SECTIONS.md for a run of some sections only), with the figures as
JSON in OUT/latest.json and wrk's output and the profiles in OUT/raw/.
Exits 1 if a section could not be measured; a target not met is reported, not
an error (this is not a test)."""
import argparse
import ctypes
import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEBIAN_PY = "/usr/bin/python3"  # the FastAPI peer needs Debian's packages
CLK = os.sysconf("SC_CLK_TCK")

DUR = int(os.environ.get("DUR", "10"))
RUNS = int(os.environ.get("RUNS", "3"))
WARMUP = int(os.environ.get("WARMUP", "3"))
THREADS = int(os.environ.get("THREADS", "2"))
CONNS = int(os.environ.get("CONNS", "64"))
PROFILE_DUR = int(os.environ.get("PROFILE_DUR", "3"))

ROWS = 10000            # rows that GET, PATCH and consume cycle through (the peers' 10,000)
QUANTITY = 1000000      # per row: consume never runs a row dry (10,000 x 1e6 units)
LIST_CUSTOMERS = 20     # customers with a full page of 50 (bench/list.lua) ...
LIST_ROWS = 60          # ... and their rows each

PEER_ORG = "0a000000-0000-4000-8000-000000000001"
PEER_KEY = "pk_test_anchor_key"
ROW5 = ("/entitlements/e0000000-0000-4000-8000-000000000005/customer/c0000000-0000-4000-8000-000000000000"
        "/00000000-0000-4000-8000-000000000005")
SYNC_EVENTS = "syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync"

# Targets of issue 6 (for SQLite)
T_GET_NGINX, T_PATCH_FASTIFY, T_PATCH_FASTAPI = 0.6, 6.0, 10.0
T_FSYNC, T_P99_MS, T_CONSUME_PATCH, T_RSS_MB, T_PAGE_MS = 0.2, 5.0, 0.7, 50.0, 2.0

OPS_LABEL = {"get": "GET one row", "list": "page of 50 (customer's list)", "consume": "consume 1",
             "patch": "PATCH one row"}
SYSTEMS = {"nginx": "nginx, fixed JSON (HTTP ceiling)", "entitled": "entitled, SQLite",
           "fastify": "Fastify + better-sqlite3, 1 process", "fastapi": "FastAPI + SQLite, async, 1 worker",
           "pg": "entitled, PostgreSQL 15"}


def log(msg=""):
    print(msg, flush=True)


# ---- processes ----------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
STARTED = []  # every server process started here: stopped at exit, whatever happens


def _die_with_parent():
    _libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a server never outlives this script


def spawn(argv, logpath, cwd=None, env=None):
    with open(logpath, "ab") as lf:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT, cwd=cwd,
                             env=env, preexec_fn=_die_with_parent)
    p.logpath = logpath
    STARTED.append(p)
    return p


def _starttime(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        return s[s.rindex(")") + 2:].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def stop(p, timeout=20):
    """SIGTERM, then SIGKILL after timeout; then any process of its tree that
    is left (same PID and start time as before) gets SIGKILL too."""
    left = {pid: _starttime(pid) for pid in tree([p.pid]) if pid != p.pid}
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    for pid, st in left.items():
        if st is not None and _starttime(pid) == st:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    if p in STARTED:
        STARTED.remove(p)


def stop_all():
    for p in list(STARTED):
        try:
            stop(p, 10)
        except Exception:  # noqa: BLE001 -- at exit: stop the others anyway
            pass


def tree(roots):
    """The PIDs of roots and all their descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s[s.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(children.get(p, []))
    return out


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^%s:\s+(\d+) kB" % field, f.read(), re.M)
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def peak_rss_kb(roots):
    """VmHWM summed over the process tree (nginx: master + workers)."""
    return sum(status_kb(p, "VmHWM") for p in tree(roots))


def proc_cpu(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(port, path, headers=None, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def wait_up(p, port, what, timeout=60):
    t_end = time.time() + timeout
    while time.time() < t_end:
        if p.poll() is not None:
            raise RuntimeError("%s exited (%s) while starting:\n%s" % (what, p.returncode, tail(p.logpath)))
        try:
            http_status(port, "/", timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("%s did not answer on port %d within %d s:\n%s" % (what, port, timeout, tail(p.logpath)))


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.path.getsize(path) - 8192))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return ""


def probe(port, path, headers, what):
    st = http_status(port, path, headers)
    if st != 200:
        raise RuntimeError("%s: GET %s answered %d, not 200" % (what, path, st))


# ---- fsync counting -----------------------------------------------------

def sync_method():
    if shutil.which("perf"):
        r = subprocess.run(["perf", "stat", "-x,", "-e", SYNC_EVENTS, "--", "true"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if r.returncode == 0 and "not supported" not in r.stderr and "<not" not in r.stderr:
            return "perf"
    if shutil.which("strace"):
        return "strace"
    return None


class SyncCounter:
    """Counts fsync + fdatasync calls of a set of processes (their threads and
    the children they start later included) between start() and stop()."""

    def __init__(self, method, pids, tmp):
        self.method, self.pids, self.out, self.p = method, sorted(pids), os.path.join(tmp, "syncs.txt"), None

    def start(self):
        if not self.method:
            return
        if os.path.exists(self.out):
            os.remove(self.out)
        if self.method == "perf":
            argv = ["perf", "stat", "-x,", "-e", SYNC_EVENTS, "-o", self.out, "-p", ",".join(map(str, self.pids))]
        else:
            argv = ["strace", "-c", "-f", "-e", "trace=fsync,fdatasync", "-o", self.out]
            for pid in self.pids:
                argv += ["-p", str(pid)]
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        time.sleep(0.5)  # attached before the load starts

    def stop(self):
        if not self.p:
            return None
        self.p.send_signal(signal.SIGINT)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        n = 0
        try:
            with open(self.out) as f:
                for line in f:
                    if self.method == "perf":
                        parts = line.strip().split(",")
                        if len(parts) > 2 and parts[2].startswith("syscalls:") and parts[0].isdigit():
                            n += int(parts[0])
                    else:
                        t = line.split()
                        if len(t) >= 5 and t[-1] in ("fsync", "fdatasync") and t[3].isdigit():
                            n += int(t[3])
        except OSError:
            return None
        return n


# ---- wrk ----------------------------------------------------------------

UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(tok):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", tok)
    return float(m.group(1)) * UNIT_MS[m.group(2)] if m else None


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % pct, out, re.M)
        r["p%s_ms" % pct] = to_ms(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", out)
    r["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["errors"] = sum(int(x) for x in m.groups()) if m else 0
    return r


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="entitled-bench-")
        self.out = args.out
        os.makedirs(os.path.join(self.out, "raw"), exist_ok=True)
        self.syncs = sync_method()
        self.results = {}   # (system, op) -> result
        self.rss = {}       # system -> kB
        self.notes = {}     # system -> text
        self.failed = {}    # system -> error
        self.profiles = {}  # op -> text (entitled on SQLite)
        self.deep = None

    def wrk(self, url, script, dur, env, latency=True):
        cmd = ["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % dur] + (["--latency"] if latency else [])
        cmd += ["-s", script, url]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                             preexec_fn=_die_with_parent)
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = status
        if status != 0:
            raise RuntimeError("wrk failed (%d): %s\n%s" % (status, " ".join(cmd), out))
        return cmd, out, ru.ru_utime + ru.ru_stime

    def measure(self, system, op, port, script, roots, env=None, write=False):
        url = "http://127.0.0.1:%d" % port
        env = dict(os.environ, **(env or {}))
        log("== %s: %s (wrk -t%d -c%d, warm-up %d s, %d x %d s; load average %s)"
            % (SYSTEMS[system], OPS_LABEL[op], THREADS, CONNS, WARMUP, RUNS, DUR,
               " ".join(open("/proc/loadavg").read().split()[:3])))
        if WARMUP:
            self.wrk(url, script, WARMUP, env, latency=False)
        runs = []
        for i in range(1, RUNS + 1):
            pids = tree(roots)
            counter = SyncCounter(self.syncs if write else None, pids, self.tmp)
            counter.start()
            s0, b0, w0 = proc_cpu(tree(roots)), machine_busy(), time.monotonic()
            cmd, out, wrk_cpu = self.wrk(url, script, DUR, env)
            wall = time.monotonic() - w0
            s1, b1 = proc_cpu(tree(roots) | pids), machine_busy()
            syncs = counter.stop()
            with open(os.path.join(self.out, "raw", "%s-%s-%d.txt" % (system, op, i)), "w") as f:
                f.write(" ".join(cmd) + "\n" + out)
            r = parse_wrk(out)
            if r["rps"] is None:
                raise RuntimeError("could not read wrk's output:\n" + out)
            r.update(server_cores=(s1 - s0) / wall, wrk_cores=wrk_cpu / wall,
                     other_cores=max(0.0, (b1 - b0) - (s1 - s0) - wrk_cpu) / wall, syncs=syncs,
                     syncs_per_req=(syncs / r["requests"]) if syncs is not None and r["requests"] else None)
            runs.append(r)
            log("  run %d: %8.0f req/s  p50 %s  p99 %s  non-2xx %d  socket errors %d  CPU server %.2f wrk %.2f"
                " other %.2f%s" % (i, r["rps"], fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), r["non2xx"], r["errors"],
                                   r["server_cores"], r["wrk_cores"], r["other_cores"],
                                   "  fsyncs/req %.3f" % r["syncs_per_req"] if r["syncs_per_req"] is not None
                                   else ""))
        res = {"runs": runs}
        for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "server_cores", "wrk_cores", "other_cores",
                  "syncs_per_req"):
            vals = [r[k] for r in runs if r[k] is not None]
            res[k] = statistics.median(vals) if vals else None
            res[k + "_min"] = min(vals) if vals else None
            res[k + "_max"] = max(vals) if vals else None
        res["non2xx"] = sum(r["non2xx"] for r in runs)
        res["errors"] = sum(r["errors"] for r in runs)
        res["requests"] = sum(r["requests"] or 0 for r in runs)
        log("  median %.0f req/s (min %.0f, max %.0f)" % (res["rps"], res["rps_min"], res["rps_max"]))
        if res["non2xx"] or res["errors"]:
            log("  WARNING: %d non-2xx answers and %d socket errors in %d requests"
                % (res["non2xx"], res["errors"], res["requests"]))
        self.results[(system, op)] = res
        return url, env

    def profile(self, op, url, script, roots, env):
        """One more run of PROFILE_DUR s, sampled with perf record: where the
        server's CPU goes, for the targets that are not met."""
        if PROFILE_DUR <= 0 or not shutil.which("perf"):
            return
        data = os.path.join(self.tmp, "perf-%s.data" % op)
        rec = subprocess.Popen(["perf", "record", "-F", "999", "-o", data, "-p", ",".join(map(str, tree(roots)))],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               preexec_fn=_die_with_parent)
        time.sleep(0.5)
        try:
            self.wrk(url, script, PROFILE_DUR, env, latency=False)
        finally:
            rec.send_signal(signal.SIGINT)
            try:
                rec.wait(60)
            except subprocess.TimeoutExpired:
                rec.kill()
                rec.wait()
        def report(sort, limit, n):
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", sort,
                                  "--percent-limit", limit], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
            return rep.stdout, [ln.rstrip() for ln in rep.stdout.splitlines()
                                if ln.strip() and not ln.startswith("#")][:n]

        full_by_dso, by_dso = report("comm,dso", "1", 10)
        full_by_sym, by_sym = report("sym", "1", 20)
        path = os.path.join(self.out, "raw", "profile-entitled-%s.txt" % op)
        with open(path, "w") as f:
            f.write(full_by_dso + "\n" + full_by_sym)
        self.profiles[op] = "by thread and object:\n%s\n\nby symbol:\n%s" % ("\n".join(by_dso), "\n".join(by_sym))
        log("  profile (perf record, %d s more of the same load): %s" % (PROFILE_DUR, os.path.relpath(path)))

    # ---- sections -----------------------------------------------------------

    def peers(self, *p):
        return os.path.join(self.args.peers, *p)

    def sec_nginx(self):
        d = os.path.join(self.tmp, "nginx")
        os.makedirs(d, exist_ok=True)
        port = free_port()
        conf = open(self.peers("nginx", "nginx.conf")).read()
        conf = conf.replace("/tmp/peer-nginx/", d + "/").replace("listen 127.0.0.1:8080;", "listen 127.0.0.1:%d;" % port)
        conf = conf.replace("daemon on;", "daemon off;")  # stays our child: stopped by PID, reaped by us
        if "127.0.0.1:%d" % port not in conf:
            raise RuntimeError("could not set the port in the peers' nginx.conf")
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        p = spawn(["nginx", "-c", os.path.join(d, "nginx.conf"), "-p", d + "/"], os.path.join(d, "out.log"))
        try:
            wait_up(p, port, "nginx")
            probe(port, ROW5, {}, "nginx")
            self.measure("nginx", "get", port, self.peers("wrk", "get.lua"), [p.pid])
            self.rss["nginx"] = peak_rss_kb([p.pid])
            self.notes["nginx"] = "%d processes (master + workers), RSS summed" % len(tree([p.pid]))
        finally:
            stop(p)

    def start_entitled(self, db, logname):
        port = free_port()
        p = spawn([self.args.bin, "serve", "--listen", "127.0.0.1:%d" % port, "--db", db],
                  os.path.join(self.tmp, logname))
        wait_up(p, port, "entitled")
        return p, port

    def entitled_ops(self, system, p, port, org, key, extra_roots=(), profile=False):
        env = {"ENTITLED_ORG": org, "ENTITLED_KEY": key, "ROWS": str(ROWS), "LIST_CUSTOMERS": str(LIST_CUSTOMERS)}
        h = {"x-api-key": key, "organisation": org}
        probe(port, ROW5, h, system)
        probe(port, "/entitlements/customer/c1000000-0000-4000-8000-000000000000?limit=50", h, system)
        roots = [p.pid] + list(extra_roots)
        # consume before patch: patch.lua's quantity_used exceeds quantity
        for op in ("get", "list", "consume", "patch"):
            script = os.path.join(HERE, op + ".lua")
            url, wenv = self.measure(system, op, port, script, roots, env, write=op in ("consume", "patch"))
            if profile:
                self.profile(op, url, script, [p.pid], wenv)
        self.rss[system] = peak_rss_kb([p.pid])

    def sec_entitled(self):
        db = os.path.join(self.tmp, "bench.db")
        org, key = subprocess.check_output(
            [sys.executable, os.path.join(HERE, "seed.py"), self.args.bin, db, str(ROWS), "--quantity", str(QUANTITY),
             "--list-customers", str(LIST_CUSTOMERS), "--list-rows", str(LIST_ROWS)], text=True).split()
        p, port = self.start_entitled(db, "entitled-sqlite.log")
        try:
            self.entitled_ops("entitled", p, port, org, key, profile=True)
            self.notes["entitled"] = "the server process"
        finally:
            stop(p)

    def sec_pg(self):
        sys.path.insert(0, HERE)
        import pg  # noqa: E402 -- bench/pg.py
        c, url, org, key = pg.start(self.args.bin, ROWS, QUANTITY, LIST_CUSTOMERS, LIST_ROWS)
        try:
            pm = pg.postmaster_pid(c)
            p, port = self.start_entitled(url, "entitled-pg.log")
            try:
                self.entitled_ops("pg", p, port, org, key, extra_roots=[pm])
                self.notes["pg"] = ("entitled alone (the PostgreSQL processes' VmHWM, summed, shared buffers "
                                    "counted in each: %.0f MB); its fsyncs are those of entitled and of every "
                                    "PostgreSQL process" % (peak_rss_kb([pm]) * 1024 / 1e6))
            finally:
                stop(p)
        finally:
            c.destroy()

    def seed_peer(self, db):
        subprocess.run([DEBIAN_PY, self.peers("seed.py"), db, str(ROWS)], check=True, stdout=subprocess.DEVNULL)

    def peer_ops(self, system, p, port):
        probe(port, ROW5, {"x-api-key": PEER_KEY, "organisation": PEER_ORG}, system)
        self.measure(system, "get", port, self.peers("wrk", "get.lua"), [p.pid])
        self.measure(system, "patch", port, self.peers("wrk", "patch.lua"), [p.pid], write=True)
        self.rss[system] = peak_rss_kb([p.pid])

    def sec_fastify(self):
        if not os.path.isdir(self.peers("fastify_peer", "node_modules")):
            raise RuntimeError("no %s: run scripts/bench-deps.sh --peers %s"
                               % (self.peers("fastify_peer", "node_modules"), self.args.peers))
        db = os.path.join(self.tmp, "fastify.db")
        self.seed_peer(db)
        port = free_port()
        p = spawn(["node", "server.js"], os.path.join(self.tmp, "fastify.log"), cwd=self.peers("fastify_peer"),
                  env=dict(os.environ, PEER_DB=db, PORT=str(port)))
        try:
            wait_up(p, port, "fastify")
            self.peer_ops("fastify", p, port)
            self.notes["fastify"] = "the node process"
        finally:
            stop(p)

    def sec_fastapi(self):
        db = os.path.join(self.tmp, "fastapi.db")
        self.seed_peer(db)
        port = free_port()
        p = spawn([DEBIAN_PY, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                   "--no-access-log", "--log-level", "warning"], os.path.join(self.tmp, "fastapi.log"),
                  cwd=self.peers("fastapi_peer"), env=dict(os.environ, PEER_DB=db, PEER_ASYNC="1"))
        try:
            wait_up(p, port, "fastapi")
            self.peer_ops("fastapi", p, port)
            self.notes["fastapi"] = "the uvicorn process (PEER_ASYNC=1: async def endpoints, no thread pool)"
        finally:
            stop(p)

    def sec_deep(self):
        out = os.path.join(self.tmp, "deep.json")
        log("== bench/deep.py: pages of 50 at any depth over %d rows" % self.args.deep_rows)
        subprocess.run([sys.executable, os.path.join(HERE, "deep.py"), self.args.bin, str(self.args.deep_rows),
                        "--json", out], check=True)
        with open(out) as f:
            self.deep = json.load(f)

    # ---- report -------------------------------------------------------------

    def report(self, t_start, sections):
        R = self.results
        L = []
        L.append("# entitled benchmark, %s" % datetime.datetime.now().strftime("%Y-%m-%d %H:%M"))
        L.append("")
        L.append("%s; %s; wrk -t%d -c%d on 127.0.0.1, warm-up %d s, %d run(s) of %d s: median (min-max). "
                 "Whole run %.0f s; load average at the end %s (the load of the machine besides the bench shows "
                 "in the column 'CPU other')." % (machine(), versions(self.args.bin), THREADS, CONNS, WARMUP, RUNS,
                                                  DUR, time.time() - t_start,
                                                  " ".join(open("/proc/loadavg").read().split()[:3])))
        L.append("")
        L.append("## Measurements")
        L.append("")
        L.append("| system | operation | req/s | p50 ms | p99 ms | peak RSS MB | fsyncs / write "
                 "| CPU server / wrk / other (cores) | non-2xx, socket errors |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        for system in ("nginx", "entitled", "fastify", "fastapi", "pg"):
            if system not in sections:
                continue
            if system in self.failed:
                L.append("| %s | - | not measured: %s | | | | | | |" % (SYSTEMS[system], self.failed[system]))
                continue
            for op in ("get", "list", "consume", "patch"):
                r = R.get((system, op))
                if not r:
                    continue
                L.append("| %s | %s | %s (%s–%s) | %s | %s (%s–%s) | %s | %s | %.2f / %.2f / %.2f | %s |" % (
                    SYSTEMS[system], OPS_LABEL[op], num(r["rps"]), num(r["rps_min"]), num(r["rps_max"]),
                    fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]), fmt_ms(r["p99_ms_min"]), fmt_ms(r["p99_ms_max"]),
                    mb(self.rss.get(system)),
                    ("%.3f" % r["syncs_per_req"]) if r["syncs_per_req"] is not None else "-",
                    r["server_cores"], r["wrk_cores"], r["other_cores"],
                    "%d, %d%s" % (r["non2xx"], r["errors"], bad(r))))
        L.append("")
        L.append("Peak RSS: VmHWM of the server over its whole section (every operation above), in MB of 10^6 "
                 "bytes. " + " ".join("%s: %s." % (SYSTEMS[s], self.notes[s]) for s in
                                       ("nginx", "entitled", "fastify", "fastapi", "pg") if s in self.notes))
        L.append("fsyncs / write: fsync + fdatasync calls of the server's processes during each recorded run "
                 "(%s), divided by the run's requests; the median of the runs." % (
                     {"perf": "perf stat on the syscalls:sys_enter_fsync and sys_enter_fdatasync tracepoints",
                      "strace": "strace -c -f"}.get(self.syncs, "not counted: neither perf nor strace works here")))
        L.append("")

        def rps(s, op):
            r = R.get((s, op))
            return r["rps"] if r and not bad(r) else None

        def ratio(a, b):
            return a / b if a is not None and b else None

        L.append("## entitled's ratio to each alternative (medians, same run)")
        L.append("")
        L.append("| operation | entitled, SQLite | entitled, PostgreSQL |")
        L.append("|---|---|---|")
        rows = [("GET one row / nginx ceiling", "get", "nginx", "get"),
                ("GET one row / Fastify", "get", "fastify", "get"),
                ("GET one row / FastAPI", "get", "fastapi", "get"),
                ("PATCH one row / Fastify", "patch", "fastify", "patch"),
                ("PATCH one row / FastAPI", "patch", "fastapi", "patch"),
                ("consume / PATCH (entitled's own)", "consume", None, "patch")]
        ratios = {}
        for label, op, alt, alt_op in rows:
            cells = []
            for s in ("entitled", "pg"):
                v = ratio(rps(s, op), rps(alt or s, alt_op))
                ratios[(s, label)] = v
                cells.append("%.2fx" % v if v is not None else "-")
            L.append("| %s | %s | %s |" % (label, cells[0], cells[1]))
        L.append("")

        # targets (SQLite)
        E = lambda op: R.get(("entitled", op))  # noqa: E731
        targets = []

        def target(name, measured, ok, profile_ops=()):
            targets.append((name, measured, ok, profile_ops))

        v = ratios[("entitled", "GET one row / nginx ceiling")]
        target("GET one row >= %.1fx nginx" % T_GET_NGINX, fx(v), None if v is None else v >= T_GET_NGINX, ["get"])
        v = ratios[("entitled", "PATCH one row / Fastify")]
        target("PATCH >= %.0fx Fastify" % T_PATCH_FASTIFY, fx(v), None if v is None else v >= T_PATCH_FASTIFY,
               ["patch"])
        v = ratios[("entitled", "PATCH one row / FastAPI")]
        target("PATCH >= %.0fx FastAPI" % T_PATCH_FASTAPI, fx(v), None if v is None else v >= T_PATCH_FASTAPI,
               ["patch"])
        r = E("patch")
        v = r["syncs_per_req"] if r else None
        target("fsyncs per PATCH < %.1f at %d connections" % (T_FSYNC, CONNS),
               "%.3f" % v if v is not None else "-", None if v is None else v < T_FSYNC, ["patch"])
        for op in ("get", "patch"):
            r = E(op)
            v = r["p99_ms"] if r and not bad(r) else None
            target("p99 <= %.0f ms, %s, %d connections" % (T_P99_MS, op.upper(), CONNS),
                   fmt_ms(v) + " ms" if v is not None else "-", None if v is None else v <= T_P99_MS, [op])
        v = ratios[("entitled", "consume / PATCH (entitled's own)")]
        target("consume >= %.1fx PATCH" % T_CONSUME_PATCH, fx(v), None if v is None else v >= T_CONSUME_PATCH,
               ["consume"])
        if self.deep:
            rows_note = "" if self.deep["rows"] == 1000000 else " (at %d rows, not 1,000,000)" % self.deep["rows"]
            kb = self.deep["rss_kb"]["VmHWM"]
            target("peak RSS <= %.0f MB with 1,000,000 rows" % T_RSS_MB, mb(kb) + " MB" + rows_note,
                   (kb * 1024 / 1e6 <= T_RSS_MB) if not rows_note else None, ["rss"])
            worst = max(self.deep["cases"], key=lambda c: c["p99_us"])
            target("a page of 50 at any depth < %.0f ms" % T_PAGE_MS,
                   "worst p99 %.2f ms (%s); worst median %.2f ms, worst max %.2f ms%s" % (
                       worst["p99_us"] / 1000, worst["name"], max(c["median_us"] for c in self.deep["cases"]) / 1000,
                       max(c["max_us"] for c in self.deep["cases"]) / 1000, rows_note),
                   (worst["p99_us"] / 1000 < T_PAGE_MS) if not rows_note else None, ["deep"])
        else:
            target("peak RSS <= %.0f MB with 1,000,000 rows" % T_RSS_MB, "not measured (deep skipped)", None)
            target("a page of 50 at any depth < %.0f ms" % T_PAGE_MS, "not measured (deep skipped)", None)

        L.append("## Targets (issue 6; entitled on SQLite)")
        L.append("")
        L.append("| target | measured | |")
        L.append("|---|---|---|")
        for name, measured, ok, _ in targets:
            L.append("| %s | %s | %s |" % (name, measured, "met" if ok else ("n/a" if ok is None else "**not met**")))
        L.append("")

        missed = [t for t in targets if t[2] is False]
        if missed:
            L.append("## Why: profiles for the targets not met")
            L.append("")
            done = set()
            for name, measured, _, ops in missed:
                L.append("### %s: %s" % (name, measured))
                L.append("")
                for op in ops:
                    if op in ("get", "list", "consume", "patch"):
                        r = E(op)
                        if r:
                            L.append("entitled %s: server used %.2f cores, wrk %.2f, other processes %.2f, of %d"
                                     " (the server and wrk share the machine: a server that leaves a core idle waits,"
                                     " for the disk or a lock, rather than computes)%s."
                                     % (OPS_LABEL[op], r["server_cores"], r["wrk_cores"], r["other_cores"],
                                        os.cpu_count(),
                                        "; %.3f fsyncs per request" % r["syncs_per_req"]
                                        if r["syncs_per_req"] is not None else ""))
                        if op in self.profiles and op not in done:
                            done.add(op)
                            L.append("")
                            L.append("perf record of the server during %d s more of the same load (%% of samples; "
                                     "thread, object, symbol):" % PROFILE_DUR)
                            L.append("")
                            L.append("```")
                            L.append(self.profiles[op])
                            L.append("```")
                        elif op in done:
                            L.append("")
                            L.append("(Its profile is above.)")
                    elif op == "rss" and self.deep:
                        k = self.deep["rss_kb"]
                        L.append("deep.py's server at the end: RSS %s MB = anonymous %s + file-backed %s + shared %s "
                                 "(MB); peak %s MB." % (mb(k["VmRSS"]), mb(k["RssAnon"]), mb(k["RssFile"]),
                                                        mb(k["RssShmem"]), mb(k["VmHWM"])))
                    elif op == "deep" and self.deep:
                        L.append("The lists over the limit (server time from its log, per page):")
                        L.append("")
                        for c in self.deep["cases"]:
                            if c["p99_us"] / 1000 >= T_PAGE_MS:
                                L.append("- %s: %d pages, median %.2f ms, p99 %.2f ms, last page %.2f ms"
                                         % (c["name"], c["pages"], c["median_us"] / 1000, c["p99_us"] / 1000,
                                            c["last_us"] / 1000))
                L.append("")

        if self.deep:
            L.append("## Pages of 50 at any depth (bench/deep.py, %d rows; server time per page from its log)"
                     % self.deep["rows"])
            L.append("")
            L.append("| list | pages | first ms | median ms | p99 ms | max ms | last page ms |")
            L.append("|---|---|---|---|---|---|---|")
            for c in self.deep["cases"]:
                L.append("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f |" % (
                    c["name"], c["pages"], c["first_us"] / 1000, c["median_us"] / 1000, c["p99_us"] / 1000,
                    c["max_us"] / 1000, c["last_us"] / 1000))
            L.append("")
            L.append("Server peak RSS during deep.py: %s MB." % mb(self.deep["rss_kb"]["VmHWM"]))
            L.append("")
        if self.failed:
            L.append("Not measured: " + "; ".join("%s (%s)" % (k, v) for k, v in self.failed.items()))
            L.append("")
        text = "\n".join(L)
        with open(os.path.join(self.out, self.name + ".md"), "w") as f:
            f.write(text)
        with open(os.path.join(self.out, self.name + ".json"), "w") as f:
            json.dump({"config": {"dur": DUR, "runs": RUNS, "warmup": WARMUP, "threads": THREADS, "conns": CONNS,
                                  "sync_counter": self.syncs},
                       "results": {"%s/%s" % k: v for k, v in R.items()}, "peak_rss_kb": self.rss,
                       "deep": self.deep, "failed": self.failed,
                       "targets": [{"target": t[0], "measured": t[1], "met": t[2]} for t in targets]}, f, indent=1)
        return text


def bad(r):
    """A figure from runs with errors: marked, and kept out of the ratios."""
    return " (INVALID)" if r["non2xx"] + r["errors"] > 0.001 * max(r["requests"], 1) else ""


def num(v):
    return "{:,.0f}".format(v) if v is not None else "-"


def fx(v):
    return "%.2fx" % v if v is not None else "-"


def mb(kb):
    return "%.1f" % (kb * 1024 / 1e6) if kb else "-"


def fmt_ms(v):
    if v is None:
        return "-"
    return "%.3f" % v if v < 1 else ("%.2f" % v if v < 10 else "%.1f" % v)


def machine():
    model = ""
    try:
        m = re.search(r"^model name\s*:\s*(.+)$", open("/proc/cpuinfo").read(), re.M)
        model = m.group(1).strip() if m else ""
    except OSError:
        pass
    return "%d cores (%s), Linux %s" % (os.cpu_count(), model, platform.release())


def versions(binary):
    def first(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=10)
            return r.stdout.strip().splitlines()[0] if r.stdout.strip() else "?"
        except (OSError, subprocess.SubprocessError):
            return "?"
    return "binary %s (%s); %s; %s; node %s" % (
        binary, build_type(binary), first(["wrk", "-v"]).split(" [")[0], first(["nginx", "-v"]).replace(
            "nginx version: ", ""), first(["node", "--version"]))


def build_type(binary):
    cache = os.path.join(os.path.dirname(os.path.abspath(binary)), "CMakeCache.txt")
    try:
        m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", open(cache).read(), re.M)
        return "CMAKE_BUILD_TYPE=" + m.group(1) if m else "?"
    except OSError:
        return "build type unknown"


ALL = ["nginx", "entitled", "fastify", "fastapi", "pg", "deep"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin")
    ap.add_argument("--peers", default=os.environ.get("BENCH_PEERS", "/var/tmp/entitled-bench/peers"),
                    help="working copy of shared/peers with npm install done (scripts/bench-deps.sh --peers)")
    ap.add_argument("--only", default="", help="comma-separated sections: " + ",".join(ALL))
    ap.add_argument("--skip", default="")
    ap.add_argument("--deep-rows", type=int, default=int(os.environ.get("DEEP_ROWS", "1000000")))
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    args.peers = os.path.abspath(args.peers)
    sections = [s for s in (args.only.split(",") if args.only else ALL) if s]
    skip = [s for s in args.skip.split(",") if s]
    for s in sections + skip:
        if s not in ALL:
            raise SystemExit("unknown section %r (sections: %s)" % (s, ", ".join(ALL)))
    sections = [s for s in ALL if s in sections and s not in skip]

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: sys.exit(128 + n))
    b = Bench(args)
    # a run of some sections only does not overwrite the whole run's latest.md
    b.name = "latest" if sections == ALL else "latest-" + "-".join(sections)
    t0 = time.time()
    log("entitled benchmark: %s; sections %s; fsyncs counted with %s; temporary folder %s"
        % (args.bin, ", ".join(sections), b.syncs or "nothing (no perf, no strace)", b.tmp))
    try:
        for s in sections:
            try:
                getattr(b, "sec_" + s)()
            except (Exception, subprocess.SubprocessError) as e:  # noqa: BLE001 -- report, go on with the rest
                traceback.print_exc()
                b.failed[s] = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                log("!! section %s failed: %s" % (s, b.failed[s]))
            finally:
                stop_all()
        text = b.report(t0, sections)
        log("")
        log(text)
        log("(written to %s)" % os.path.relpath(os.path.join(args.out, b.name + ".md"), os.getcwd()))
    finally:
        stop_all()
        if os.environ.get("BENCH_KEEP") == "1":
            log("kept %s" % b.tmp)
        else:
            shutil.rmtree(b.tmp, ignore_errors=True)
    sys.exit(1 if b.failed else 0)


if __name__ == "__main__":
    main()
