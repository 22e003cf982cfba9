"""A full disk is a 507 that says so, never a kill or a 500 (issue 13, low):
the server runs under RLIMIT_FSIZE (prlimit, util-linux), so that its
database's WAL reaches the limit after a few large writes. Without SIGXFSZ
ignored, the kernel would kill the process at the first write past it."""

import os
import stat
import unittest

import harness
from harness import ServerTestCase

LIMIT = 1 << 20  # bytes any file of the server may reach


@unittest.skipIf(harness.BACKEND != "sqlite", "RLIMIT_FSIZE bounds the server's own files")
class DiskFull(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        # the server under prlimit: a wrapper in place of the binary, for
        # this class's start only
        wrapper = os.path.join(harness.new_dir("prlimit"), "entitled")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec prlimit --fsize=%d:%d "%s" "$@"\n' % (LIMIT, LIMIT, harness.BIN))
        os.chmod(wrapper, stat.S_IRWXU)
        real, harness.BIN = harness.BIN, wrapper
        try:
            super().setUpClass()
        finally:
            harness.BIN = real

    def test_writes_past_the_limit_are_507_and_nothing_changes(self):
        big = {"blob": "x" * (200 * 1024)}
        made, refused = [], None
        for i in range(40):
            r = self.c.post("/customers", {"customer_name": "Big %d" % i, "custom_data": big})
            if r.status != 200:
                refused = r
                break
            made.append(r.json["id"])
        self.assertIsNotNone(refused, "40 writes of 200 KiB fit under a 1 MiB file limit?")
        self.assertDetail(refused, 507)
        self.assertIn("disk is full", refused.json["detail"])
        self.assertIn("nothing was changed", refused.json["detail"])
        self.assertTrue(self.server.alive(), "killed by SIGXFSZ?\n%s" % self.server.stderr_tail())
        # still serving; what was acknowledged is there, the refused write is not
        self.assertEqual(self.c.get("/healthz").status, 200)
        got = self.assertJson(self.c.get("/customers?limit=100"), 200)
        self.assertEqual(sorted(x["id"] for x in got["data"]), sorted(made))
        self.assertEqual(got["total"], len(made))
        self.assertEqual(self.server.stop(), 0, self.server.stderr_tail())
        res = harness.cli("verify", db=self.db)
        self.assertEqual(res.rc, 0, repr(res))
