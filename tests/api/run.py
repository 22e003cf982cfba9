#!/usr/bin/env python3
"""Runs the API tests against the real binary.

    python3 tests/api/run.py --bin build/entitled [-k SUBSTRING]... [--keep]
                             [--backend sqlite|postgres]

Every module tests/api/test_*.py is loaded (unittest); each test class starts
its own server on a free port with its own database in a temporary folder.
Prints one line per test, the failures with the server's stderr, and ends with
"N passed, N failed" (", N skipped" when any). Exit code 0 only when nothing
failed. Python 3 standard library only.

With --backend postgres the run starts one throwaway PostgreSQL 15 cluster
(tests/pg/cluster.py: initdb in a temporary folder, a free port on
127.0.0.1), each test class gets a fresh database of it (--db
postgresql://...), and the cluster is removed at the end. PostgreSQL not
installed is a failure, not a skip.

With --faults it runs the fault-injection tests in tests/faults/ instead
(issue 7): they need a binary built with -DENTITLED_FAULTS=ON (`make fault`)
and fail on any other, so a plain run never loads them.
"""

import argparse
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import harness  # noqa: E402


class Result(unittest.TestResult):
    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.passed = 0
        self.failed = []      # (name, text)
        self.skipped_n = 0
        self._t0 = 0.0
        self._sub_failed = False
        self._pg_off = self._pg_log_size()

    def _server_text(self, test):
        srv = getattr(type(test), "server", None) or getattr(test, "server", None)
        text = ""
        if isinstance(srv, harness.Server):
            tail = srv.stderr_tail(25)
            text = "\n--- server stderr (tail, %s) ---\n%s" % (srv.stderr_path, tail)
        return text + self._pg_text()

    def _pg_log_size(self):
        try:
            return os.path.getsize(harness.PG.log) if harness.PG else 0
        except OSError:
            return 0

    def _pg_text(self):
        """What PostgreSQL logged since the test began (tail), if anything."""
        if not harness.PG:
            return ""
        try:
            with open(harness.PG.log, "rb") as f:
                f.seek(self._pg_off)
                new = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        if not new.strip():
            return ""
        return "\n--- postgres log during the test (tail) ---\n%s" % "\n".join(
            new.splitlines()[-25:])

    def _line(self, test, what):
        dt = time.monotonic() - self._t0
        self.stream.write("%s ... %s (%.2fs)\n" % (test.id(), what, dt))
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        self._sub_failed = False
        self._pg_off = self._pg_log_size()

    def addSuccess(self, test):
        super().addSuccess(test)
        if self._sub_failed:
            return  # reported by addSubTest
        self.passed += 1
        self._line(test, "ok")

    def _fail(self, test, err, kind):
        text = "".join(traceback.format_exception(*err))
        name = test.id() if hasattr(test, "id") else str(test)
        self.failed.append((name, "%s: %s\n%s%s" % (kind, name, text, self._server_text(test))))
        if isinstance(test, unittest.TestCase):
            self._line(test, kind)
        else:  # setUpClass / tearDownClass / module errors
            self.stream.write("%s ... %s\n" % (name, kind))
            self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err, "FAIL")

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err, "ERROR")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None and not self._sub_failed:
            self._sub_failed = True
            kind = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._fail(test, err, kind)
        elif err is not None:
            # further failing subtests of the same test: keep the text only
            text = "".join(traceback.format_exception(*err))
            self.failed[-1] = (self.failed[-1][0], self.failed[-1][1] + "\n" + str(subtest) + "\n" + text)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.skipped_n += 1
        self._line(test, "skipped: %s" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._line(test, "ok (expected failure)")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.failed.append((test.id(), "unexpected success: %s" % test.id()))
        self._line(test, "FAIL (unexpected success)")


def flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flatten(t)
        else:
            yield t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, help="path to the entitled binary")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTRING",
                    help="run only tests whose id contains SUBSTRING (repeatable: any)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite",
                    help="the database the servers use (postgres: a throwaway cluster)")
    ap.add_argument("--faults", action="store_true",  # issue 7
                    help="run tests/faults/ (a -DENTITLED_FAULTS=ON binary) instead of tests/api/")
    args = ap.parse_args()

    harness.BIN = os.path.abspath(args.bin)
    harness.KEEP = args.keep
    root = harness.root_dir()
    out = sys.stdout

    if not (os.path.isfile(harness.BIN) and os.access(harness.BIN, os.X_OK)):
        out.write("not an executable file: %s\n0 passed, 1 failed\n" % harness.BIN)
        return 1

    harness.BACKEND = args.backend
    cluster = None
    if args.backend == "postgres":
        sys.path.insert(0, os.path.join(os.path.dirname(HERE), "pg"))
        import cluster as pgcluster
        try:
            cluster = pgcluster.Cluster(keep=args.keep).start()
        except Exception as e:  # PostgreSQL missing or not starting: a failure
            out.write("PostgreSQL cluster: %s: %s\n0 passed, 1 failed\n" % (type(e).__name__, e))
            harness.cleanup_root()
            return 1
        harness.PG = cluster

    loader = unittest.TestLoader()
    tests_dir = os.path.join(os.path.dirname(HERE), "faults") if args.faults else HERE
    suite = loader.discover(tests_dir, pattern="test_*.py", top_level_dir=tests_dir)
    tests = list(flatten(suite))
    # Loader errors (a module that does not import) are kept whatever -k says.
    errors = [t for t in tests if type(t).__name__ == "_FailedTest"]
    if args.k:
        tests = [t for t in tests if t in errors or any(k in t.id() for k in args.k)]
    if not tests:
        out.write("no test matches %r\n0 passed, 0 failed\n" % args.k)
        return 1

    out.write("entitled API tests: %s, %d tests, temp %s, backend %s%s\n" % (
        harness.BIN, len(tests), root, args.backend,
        " (cluster %s, port %d)" % (cluster.top, cluster.port) if cluster else ""))
    out.flush()
    result = Result(out)
    t0 = time.monotonic()
    unittest.TestSuite(tests).run(result)
    dt = time.monotonic() - t0

    if result.failed:
        out.write("\n" + "=" * 70 + "\nFailures\n" + "=" * 70 + "\n")
        for _name, text in result.failed:
            out.write(text.rstrip() + "\n" + "-" * 70 + "\n")
    if args.keep or result.failed:
        out.write("temporary folder: %s%s\n" % (root, "" if args.keep else " (removed)"))
        if cluster:
            out.write("PostgreSQL cluster: %s%s\n" % (cluster.top, "" if args.keep else " (removed)"))
    harness.cleanup_root()
    if cluster:
        cluster.destroy()
    out.write("time %.1fs\n" % dt)
    line = "%d passed, %d failed" % (result.passed, len(result.failed))
    if result.skipped_n:
        line += ", %d skipped" % result.skipped_n
    out.write(line + "\n")
    out.flush()
    return 0 if not result.failed else 1


if __name__ == "__main__":
    sys.exit(main())
