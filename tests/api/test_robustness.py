"""Clients that misbehave or are merely unusual: garbage on the wire, slow and
idle connections, Expect: 100-continue, query strings, header-name case,
text that C string handling gets wrong."""

import http.client
import json
import socket
import time
import unittest

import harness

from harness import (MIB, Client, ServerTestCase, new_id, patch_body, raw_exchange,
                     row_path)


class Wire(ServerTestCase):
    def assert_alive(self):
        self.assertTrue(self.server.alive(), "server died\n%s" % self.server.stderr_tail())
        self.assertJson(self.c.get("/healthz", auth=False), 200)

    def send_raw(self, data, timeout=30):
        """Send bytes, read until the server closes or answers; returns the bytes read."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout)
        try:
            try:
                s.sendall(data)
            except OSError:
                pass
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
                    if b"\r\n\r\n" in out:
                        head, _, rest = out.partition(b"\r\n\r\n")
                        for line in head.split(b"\r\n"):
                            if line.lower().startswith(b"content-length:"):
                                if len(rest) >= int(line.split(b":")[1]):
                                    return out
            except (socket.timeout, ConnectionResetError):
                pass
            return out
        finally:
            s.close()

    def assert_refused_or_4xx(self, data):
        out = self.send_raw(data)
        if out:
            status_line = out.split(b"\r\n", 1)[0]
            self.assertRegex(status_line.decode("latin-1"), r"^HTTP/1\.[01] 4\d\d",
                             "answer to a malformed request: %r" % out[:300])
        self.assert_alive()

    def test_garbage_request_line(self):
        self.assert_refused_or_4xx(b"GARBAGE\r\n\r\n")

    def test_binary_noise(self):
        self.assert_refused_or_4xx(bytes(range(256)) * 8 + b"\r\n\r\n")

    def test_huge_url(self):
        self.assert_refused_or_4xx(b"GET /customers/" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")

    def test_huge_header(self):
        self.assert_refused_or_4xx(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 200000
                                   + b"\r\n\r\n")

    def test_many_headers(self):
        hdrs = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
        self.assert_refused_or_4xx(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")

    def test_bad_content_length(self):
        self.assert_refused_or_4xx(b"POST /customers HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        self.assert_refused_or_4xx(b"POST /customers HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")

    def test_bad_chunked_encoding(self):
        self.assert_refused_or_4xx(b"POST /customers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                   b"\r\nzz\r\nabc\r\n0\r\n\r\n")


class SlowClients(ServerTestCase):
    def test_idle_connections_do_not_starve_others(self):
        idle = []
        try:
            for _ in range(40):
                c = Client(self.server.port, self.t, persistent=True)
                self.assertJson(c.get("/healthz", auth=False), 200)
                idle.append(c)  # kept open, idle
            t0 = time.monotonic()
            r = self.c.post("/customers", {"customer_name": "while 40 sit idle"})
            self.assertJson(r, 200)
            self.assertLess(time.monotonic() - t0, 10, "answer delayed by idle connections")
        finally:
            for c in idle:
                c.close()

    def test_stalled_requests_do_not_block_others(self):
        socks = []
        try:
            for i in range(40):
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
                if i % 2:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never end
                else:
                    s.sendall(("PATCH /customers HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"
                               ).encode())  # body never ends
                socks.append(s)
            time.sleep(0.3)
            t0 = time.monotonic()
            r = self.c.post("/customers", {"customer_name": "while 40 stall"})
            self.assertJson(r, 200)
            self.assertLess(time.monotonic() - t0, 10, "answer delayed by stalled connections")
        finally:
            for s in socks:
                s.close()

    def test_expect_100_continue(self):
        e, c, row = self.make_triple(quantity=1)
        body = json.dumps(patch_body(e, c, quantity=99)).encode()
        head = ("PATCH %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                % (row_path(e, c, row["id"]), self.t.key, self.t.org, len(body))).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        try:
            s.sendall(head)
            s.settimeout(5)
            try:
                first = s.recv(4096)  # "HTTP/1.1 100 Continue" (curl waits 1 s for it)
            except socket.timeout:
                first = b""
            if first:
                self.assertTrue(first.startswith(b"HTTP/1.1 100"), "expected 100 Continue: %r" % first)
            s.settimeout(30)
            s.sendall(body)
            resp = http.client.HTTPResponse(s, method="PATCH")
            resp.begin()
            data = resp.read()
        finally:
            s.close()
        self.assertEqual(resp.status, 200, data)
        self.assertEqual(json.loads(data)["quantity"], 99)

    def test_expect_100_continue_oversize_is_413(self):
        head = ("POST /customers HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                % (self.t.key, self.t.org, 8 * MIB)).encode()
        r, _err = raw_exchange(self.server.port, head, [], timeout=30)
        if r.status == 100:
            self.fail("100 Continue to a body that will be refused")
        self.assertDetail(r, 413)


class Unusual(ServerTestCase):
    def test_header_names_any_case(self):
        h = {"X-API-KEY": self.t.key, "ORGANISATION": self.t.org}
        self.assertJson(self.c.post("/customers", {"customer_name": "caps"}, auth=h), 200)
        h = {"X-Api-Key": self.t.key, "Organisation": self.t.org}
        self.assertJson(self.c.post("/customers", {"customer_name": "title"}, auth=h), 200)

    def test_query_string_ignored(self):
        cu = self.make_customer()
        self.assertJson(self.c.get("/customers/%s?foo=bar&x" % cu["id"]), 200)
        self.assertJson(self.c.get("/healthz?probe=1", auth=False), 200)
        e, c, row = self.make_triple()
        r = self.c.patch(row_path(e, c, row["id"]) + "?dry_run=1", patch_body(e, c, quantity=3))
        self.assertEqual(self.assertJson(r, 200)["quantity"], 3)

    def test_percent_encoded_ids(self):
        cu = self.make_customer()
        self.assertJson(self.c.get("/customers/%%7B%s%%7D" % cu["id"]), 200)
        self.assertJson(self.c.get("/customers/%s" % cu["id"].replace("-", "%2D")), 200)

    def test_text_round_trip(self):
        tricky = "Zoë 日本 🎉 \"q\" back\\slash \t tab \n nl \u001f \u2028 \u007f </script> \\u0000"
        body = {"customer_name": tricky, "external_id": tricky, "email": "zoë@acme.com",
                "custom_data": {"k\u00e9y": tricky, "emoji": "🎉" * 100}}
        r = self.c.post("/customers", body)
        got = self.assertJson(r, 200)
        for k in ("customer_name", "external_id", "email", "custom_data"):
            self.assertSame(body[k], got[k], k)
        self.assertSame(got, self.assertJson(self.c.get("/customers/%s" % got["id"]), 200))

    def test_nul_in_strings_round_trip(self):
        # "\u0000" is a valid JSON string character: stored and returned whole
        v = "a\u0000b"
        r = self.c.post("/customers", {"customer_name": v, "external_id": v,
                                       "custom_data": {"k": v, "n\u0000k": 1}})
        got = self.assertJson(r, 200)
        self.assertEqual([got["customer_name"], got["external_id"], got["custom_data"]],
                         [v, v, {"k": v, "n\u0000k": 1}], str(r))
        r = self.c.post("/entitlements", {"name": v, "description": v, "units": v})
        en = self.assertJson(r, 200)
        self.assertEqual([en["name"], en["description"], en["units"]], [v, v, v], str(r))
        r = self.c.post("/entitlements/%s/customer" % en["id"],
                        {"customer": got["id"], "feature_option_value": v, "source_type": v,
                         "event": v, "status": v})
        row = self.assertJson(r, 200)
        self.assertEqual([row["feature_option_value"], row["source_type"], row["event"], row["status"]],
                         [v, v, v, v], str(r))

    def test_long_strings(self):
        name = "n" * 300000
        r = self.c.post("/customers", {"customer_name": name, "custom_data": {"blob": "b" * 300000}})
        got = self.assertJson(r, 200)
        self.assertEqual(got["customer_name"], name)
        g = self.assertJson(self.c.get("/customers/%s" % got["id"]), 200)
        self.assertEqual(len(g["custom_data"]["blob"]), 300000)

    def test_deep_custom_data(self):
        # 25 levels of {"d": [...]}: depth 52 with the body and custom_data,
        # under the 64 the server's JSON reader allows
        deep = {"v": 1}
        for _ in range(25):
            deep = {"d": [deep]}
        got = self.assertJson(self.c.post("/customers", {"customer_name": "deep", "custom_data": deep}), 200)
        self.assertSame(deep, got["custom_data"])

    def test_row_id_in_other_spellings(self):
        e = self.make_entitlement()["id"]
        c = self.make_customer()["id"]
        for spelled in ("{%s}", "urn:uuid:%s", "%s"):
            rid = new_id()
            arg = spelled % rid
            if spelled == "%s":
                arg = rid.replace("-", "").upper()
            with self.subTest(id=arg):
                r = self.c.post("/entitlements/%s/customer" % e, {"id": arg, "customer": c})
                self.assertEqual(self.assertJson(r, 200)["id"], rid)
                self.assertJson(self.c.get(row_path(e, c, rid)), 200)


def abort_uploads(port, tenant, n):
    """n clients that send the headers and part of a body, then hang up."""
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(("POST /customers HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"customer_name\""
                   % (tenant.key, tenant.org)).encode())
        s.close()


class AbortedUploads(ServerTestCase):
    """A client that hangs up in the middle of its body is gone: its
    connection must not stay counted as in flight."""

    server_args = ("--max-connections", "4")

    @classmethod
    def setUpClass(cls):
        r = harness.cli("serve", "--help")
        if "--max-connections" not in r.out:
            raise unittest.SkipTest("serve has no --max-connections flag")
        super().setUpClass()

    def test_aborted_uploads_free_their_connections(self):
        abort_uploads(self.server.port, self.t, 6)
        time.sleep(1.0)
        for i in range(3):
            try:
                r = Client(self.server.port, self.t, timeout=10).post(
                    "/customers", {"customer_name": "after aborted uploads %d" % i})
            except (OSError, http.client.HTTPException) as e:
                self.fail("request %d after 6 aborted uploads (max 4 connections) failed: %s: %s"
                          % (i, type(e).__name__, e))
            self.assertJson(r, 200)


class AbortedUploadsShutdown(ServerTestCase):
    def test_sigterm_soon_after_aborted_uploads(self):
        abort_uploads(self.server.port, self.t, 6)
        time.sleep(1.0)
        t0 = time.monotonic()
        rc = self.server.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM, 1 s after 6 aborted uploads (%.1fs)\n%s"
                         % (time.monotonic() - t0, self.server.stderr_tail()))
