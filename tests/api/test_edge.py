"""The HTTP edge under hostile or unusual clients (issue 13, items 4 to 9):
half-closed clients get their answers, a request within --max-header-bytes
always gets one, ambiguous body framing is refused and the connection closed,
one address cannot take every connection, idle connections give way under
pressure, descriptors are kept for the store, and answers waiting for slow
readers have a memory bound. Edge behaviour is the same on both backends."""

import os
import re
import select
import socket
import stat
import time

import harness
from harness import Client, ServerTestCase, strict_loads

ANSWER = re.compile(rb"HTTP/1\.1 (\d{3}) ")


def connect(port, source="127.0.0.1", timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def read_all(sock, timeout=10):
    """Everything the server sends until it closes (or `timeout` passes)."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            b = sock.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        data += b"<reset>"
    return data


def statuses(data):
    return [int(m.group(1)) for m in ANSWER.finditer(data)]


def first_body(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    return head.decode("latin-1"), rest[:int(m.group(1))] if m else rest


def post_head(tenant, path, length, extra=""):
    return ("POST %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
            "Content-Type: application/json\r\n%sContent-Length: %d\r\n\r\n"
            % (path, tenant.key, tenant.org, extra, length)).encode()


class EdgeCase(ServerTestCase):
    def consumable(self, quantity=1000):
        e = self.make_entitlement(entitlement_type="Quantity")["id"]
        c = self.make_customer()["id"]
        row = self.make_row(e, c, quantity=quantity)["id"]
        return e, c, row

    def used(self, e, c, row):
        r = self.assertJson(self.c.get("/entitlements/%s/customer/%s/%s" % (e, c, row)), 200)
        return r["quantity_used"] or 0


class HalfClose(EdgeCase):
    def test_pipelined_consumes_then_shutdown_wr_are_all_answered(self):
        # HTTP/1.1 lets a client shut down its sending side once its
        # requests are written; the answers must still come, one per
        # request that ran, and then the server closes.
        e, c, row = self.consumable()
        body = b'{"quantity": 1}'
        one = post_head(self.t, "/entitlements/%s/customer/%s/consume" % (e, c), len(body)) + body
        s = connect(self.server.port)
        s.sendall(one * 20)
        s.shutdown(socket.SHUT_WR)
        data = read_all(s, timeout=20)
        s.close()
        self.assertEqual(statuses(data), [200] * 20, data[-400:])
        self.assertEqual(self.used(e, c, row), 20)

    def test_one_consume_then_shutdown_wr_is_answered(self):
        e, c, row = self.consumable()
        body = b'{"quantity": 2}'
        s = connect(self.server.port)
        s.sendall(post_head(self.t, "/entitlements/%s/customer/%s/consume" % (e, c), len(body))
                  + body)
        s.shutdown(socket.SHUT_WR)
        data = read_all(s)
        s.close()
        self.assertEqual(statuses(data), [200], data)
        self.assertEqual(self.used(e, c, row), 2)


class HeaderRoom(EdgeCase):
    server_args = ("--max-header-bytes", "8192")

    def test_every_request_within_the_header_memory_is_answered(self):
        # Around --max-header-bytes, a consume either runs and is answered
        # 200, or is refused with a JSON 431 and runs not: never run without
        # an answer (libmicrohttpd builds the answer's headers in the memory
        # the request's headers filled).
        e, c, row = self.consumable()
        path = "/entitlements/%s/customer/%s/consume" % (e, c)
        body = b'{"quantity": 1}'
        base = len(post_head(self.t, path, len(body), "Connection: close\r\n"))
        ok = refused = 0
        for pad in range(8192 - base - 1400, 8192 - base + 200, 50):
            head = post_head(self.t, path, len(body),
                             "Connection: close\r\nX-Pad: %s\r\n" % ("p" * pad))
            s = connect(self.server.port)
            s.sendall(head + body)
            data = read_all(s, timeout=5 if ok + refused else 10)
            s.close()
            got = statuses(data)
            self.assertEqual(len(got), 1, "request of %d header bytes: %r" % (len(head), data[:300]))
            if got[0] == 200:
                ok += 1
            else:
                self.assertEqual(got[0], 431, data[:300])
                h, b = first_body(data)
                self.assertIn("application/json", h.lower())
                self.assertEqual(strict_loads(b), {"detail":
                                 "Request line and headers too large (limit 8192 bytes)"})
                refused += 1
        self.assertGreater(ok, 10, "requests well within the limit are served")
        self.assertGreater(refused, 2, "requests past the limit are refused")
        self.assertEqual(self.used(e, c, row), ok, "exactly the answered consumes ran")


class Framing(EdgeCase):
    """RFC 9112 section 6: a body whose length two headers give is refused
    with 400 and the connection closed, so that nothing after it is read as
    a request; an unknown transfer coding is 501, and closed."""

    SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    def exchange(self, raw):
        s = connect(self.server.port)
        t0 = time.monotonic()
        s.sendall(raw)
        data = read_all(s, timeout=8)
        s.close()
        return data, time.monotonic() - t0

    def assertRefusedAndClosed(self, raw, status, detail):
        before = len(self.c.get("/customers?limit=100").json["data"])
        data, took = self.exchange(raw)
        self.assertEqual(statuses(data), [status], data)
        head, body = first_body(data)
        self.assertRegex(head, r"(?i)\r\nconnection: close\r\n")
        self.assertIn("application/json", head.lower())
        self.assertEqual(strict_loads(body), {"detail": detail})
        self.assertLess(took, 5, "answered at once, then closed")
        after = len(self.c.get("/customers?limit=100").json["data"])
        self.assertEqual(before, after, "nothing was created")

    def test_content_length_with_chunked_is_400_and_closed(self):
        body = b'{"customer_name": "smuggle"}'
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        raw = post_head(self.t, "/customers", len(chunked), "Transfer-Encoding: chunked\r\n")
        self.assertRefusedAndClosed(raw + chunked + self.SMUGGLED, 400,
                                    "Content-Length and Transfer-Encoding together: the "
                                    "body's length is ambiguous")

    def test_two_content_lengths_are_400_and_closed_in_either_order(self):
        body = b'{"customer_name": "smuggle"}'
        for first, second in ((0, len(body)), (len(body), 0), (len(body), len(body) + 5)):
            raw = post_head(self.t, "/customers", first, "Content-Length: %d\r\n" % second)
            self.assertRefusedAndClosed(raw + body + self.SMUGGLED, 400,
                                        "Content-Length given more than once, with different "
                                        "values")

    def test_unknown_transfer_coding_is_501_at_once(self):
        raw = ("POST /customers HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
               "Transfer-Encoding: gzip\r\n\r\n" % (self.t.key, self.t.org)).encode()
        self.assertRefusedAndClosed(raw + b"\x1f\x8b" + self.SMUGGLED, 501,
                                    "Transfer-Encoding gzip is not supported: only chunked")
        raw = ("POST /customers HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
               "Transfer-Encoding: gzip, chunked\r\n\r\n" % (self.t.key, self.t.org)).encode()
        self.assertRefusedAndClosed(raw + b"0\r\n\r\n", 501,
                                    "Transfer-Encoding gzip,\\x20chunked is not supported: "
                                    "only chunked")

    def test_chunked_alone_still_works(self):
        body = b'{"customer_name": "chunked"}'
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        raw = ("POST /customers HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
               "Connection: close\r\n\r\n" % (self.t.key, self.t.org)).encode()
        data, _ = self.exchange(raw + chunked)
        self.assertEqual(statuses(data), [200], data)


def idle_connections(port, n, source):
    out = []
    for _ in range(n):
        out.append(connect(port, source))
    return out


def closed_by_server(socks):
    """How many of these idle connections the server has closed (readable:
    an idle connection has nothing else to read than its end)."""
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    return len(p.poll(0))


def timed_gets(port, tenant, n, timeout):
    """n GETs, each on a new connection from 127.0.0.1; their statuses (None
    when one timed out)."""
    out = []
    for _ in range(n):
        try:
            r = Client(port, tenant, timeout=timeout).get("/customers?limit=1")
            out.append(r.status)
        except (OSError, harness.http.client.HTTPException):
            out.append(None)
    return out


class PerAddress(EdgeCase):
    # one address may hold 256 (the default) of the 400 connections
    server_args = ("--max-connections", "400", "--timeout", "60")

    def test_one_address_cannot_take_every_connection(self):
        hog = idle_connections(self.server.port, 400, "127.0.0.2")
        try:
            time.sleep(1.0)
            closed = closed_by_server(hog)
            self.assertGreaterEqual(closed, 400 - 256, "connections past 256 from one address")
            self.assertEqual(timed_gets(self.server.port, self.t, 10, 5), [200] * 10)
        finally:
            for s in hog:
                s.close()


class Pressure(EdgeCase):
    # 40 connections at most; past 30, idle ones are closed after 3 s
    server_args = ("--max-connections", "40", "--timeout", "60")

    def test_idle_connections_give_way_under_pressure(self):
        hog = idle_connections(self.server.port, 40, "127.0.0.3")
        try:
            t0 = time.monotonic()
            statuses_ = timed_gets(self.server.port, self.t, 5, 10)
            took = time.monotonic() - t0
            self.assertEqual(statuses_, [200] * 5, "new clients while 40 idle connections are open")
            self.assertLess(took, 20, "served within a few seconds, not --timeout (60 s)")
            self.assertGreater(closed_by_server(hog), 5)
            self.assertIn("closing those idle over 3s", self.server.stderr())
        finally:
            for s in hog:
                s.close()


class Descriptors(EdgeCase):
    """Under a low RLIMIT_NOFILE, the connection limit leaves descriptors for
    the store: an authorised GET on an open connection is never a 500."""

    @classmethod
    def setUpClass(cls):
        wrapper = os.path.join(harness.new_dir("prlimit-nofile"), "entitled")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\nexec prlimit --nofile=256:256 "%s" "$@"\n' % harness.BIN)
        os.chmod(wrapper, stat.S_IRWXU)
        real, harness.BIN = harness.BIN, wrapper
        try:
            super().setUpClass()
        finally:
            harness.BIN = real

    def test_gets_on_open_connections_while_descriptors_run_out(self):
        port = self.server.port
        early = idle_connections(port, 8, "127.0.0.1")
        time.sleep(0.3)
        flood = idle_connections(port, 300, "127.0.0.4")
        try:
            time.sleep(1.0)
            req = ("GET /customers?limit=1 HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\n"
                   "organisation: %s\r\nConnection: close\r\n\r\n"
                   % (self.t.key, self.t.org)).encode()
            got = []
            for s in early:
                s.sendall(req)
                got.append(statuses(read_all(s, timeout=10)))
            self.assertEqual(got, [[200]] * 8, "GETs on connections opened before the flood")
            self.assertRegex(self.server.stderr(),
                             r"--max-connections lowered from 1024 to \d+: RLIMIT_NOFILE allows "
                             r"256 file descriptors")
        finally:
            for s in early + flood:
                s.close()
        self.assertEqual(timed_gets(port, self.t, 3, 10), [200] * 3)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


class UnsentBound(EdgeCase):
    """Answers waiting for clients that do not read are bounded by
    --max-unsent-bytes (8 MiB here): 40 such clients of a 6 MB page would
    hold 240 MB; with the bound, the server grows by the budget and the few
    answers built at once, and a GET past it is a 503 with Retry-After."""

    # 4 threads on both backends: up to one answer per thread is built before
    # it is counted, so the bound is the budget plus threads x the page
    server_args = ("--max-unsent-bytes", str(8 << 20), "--threads", "4")
    ITEMS, ITEM_BYTES, SLOW = 10, 600 * 1024, 40

    @classmethod
    def setUpClass(cls):
        # Under ASan, freed memory waits in its quarantine (256 MB by
        # default) and stays in RSS: a small one, so that RSS shows what the
        # server holds, not what the sanitizer does (ignored without ASan)
        old = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((old + ":") if old else "") + \
            "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
        try:
            super().setUpClass()
        finally:
            if old is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = old

    def test_slow_readers_of_a_big_page_are_bounded(self):
        for i in range(self.ITEMS):
            self.make_customer(custom_data={"blob": chr(97 + i) * self.ITEM_BYTES})
        page = "/customers?limit=%d" % self.ITEMS
        r = self.c.get(page)
        self.assertEqual(r.status, 200)
        self.assertGreater(len(r.body), self.ITEMS * self.ITEM_BYTES)
        pid = self.server.proc.pid
        time.sleep(0.5)
        base = rss_kib(pid)
        req = ("GET %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n\r\n"
               % (page, self.t.key, self.t.org)).encode()
        slow = []
        try:
            for _ in range(self.SLOW):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(("127.0.0.1", self.server.port))
                s.sendall(req)
                slow.append(s)
            time.sleep(3.0)
            grown = (rss_kib(pid) - base) / 1024.0
            # the budget, 4 threads building a 6 MB page each, allocator slack
            self.assertLess(grown, 8 + 4 * 6 * 2 + 24,
                            "RSS grew by %.0f MB under %d slow readers" % (grown, self.SLOW))
            r = self.c.get(page)
            self.assertDetail(r, 503)
            self.assertEqual(r.header("Retry-After"), "1")
            self.assertJson(self.c.get("/healthz", auth=False), 200)  # not a read of data
        finally:
            for s in slow:
                s.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.c.get(page).status != 200:
            time.sleep(0.2)
        self.assertEqual(self.c.get(page).status, 200, "the budget is freed with the readers")
