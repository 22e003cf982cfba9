"""Durability and shutdown: every acknowledged write survives kill -9 and a
SIGTERM restart; SIGTERM lets an in-flight request finish and exits 0."""

import http.client
import json
import signal
import socket
import threading
import time

import harness
from harness import Client, ServerTestCase, patch_body, row_path


class Durability(ServerTestCase):
    def setUp(self):
        if not self.server.alive():  # an earlier test left it stopped
            self.restart()

    def restart(self):
        """Start the same server again on the same database."""
        self.server.start()
        type(self).c = Client(self.server.port, self.t)
        self.c = type(self).c

    def seed_rows(self, n):
        E, C, first = self.make_triple(quantity=0)
        rows = [first["id"]] + [self.make_row(E, C, quantity=0)["id"] for _ in range(n - 1)]
        return E, C, rows

    def write_all(self, E, C, rows, base):
        acked = {}
        c = Client(self.server.port, self.t, persistent=True)
        try:
            for i, rid in enumerate(rows):
                value = base + i
                r = c.patch(row_path(E, C, rid), patch_body(
                    E, C, quantity=value, quantity_used=1, active_from=1700000000 + i))
                self.assertEqual(r.status, 200, str(r))
                acked[rid] = value
        finally:
            c.close()
        return acked

    def check_all(self, E, C, acked):
        for i, (rid, value) in enumerate(acked.items()):
            got = self.assertJson(self.c.get(row_path(E, C, rid)), 200)
            self.assertEqual(got["quantity"], value, "acknowledged write lost on row %s" % rid)

    def test_kill9_keeps_acknowledged_writes(self):
        E, C, rows = self.seed_rows(40)
        acked = self.write_all(E, C, rows, 5000)
        self.server.kill9()
        self.restart()
        self.check_all(E, C, acked)
        # the tenant made by the CLI before the first start still works
        self.assertJson(self.c.post("/customers", {"customer_name": "after kill"}), 200)

    def test_kill9_under_load(self):
        E, C, rows = self.seed_rows(4)
        state = [{"acked": 0, "inflight": None} for _ in rows]
        stop = threading.Event()
        errors = []

        def worker(k):
            c = Client(self.server.port, self.t, persistent=True)
            v = 0
            try:
                while not stop.is_set():
                    v += 1
                    state[k]["inflight"] = v
                    r = c.patch(row_path(E, C, rows[k]), patch_body(E, C, quantity=v))
                    if r.status != 200:
                        errors.append(str(r))
                        return
                    state[k]["acked"] = v
            except (OSError, http.client.HTTPException):
                pass  # the server was killed under us
            finally:
                c.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(rows))]
        for th in threads:
            th.start()
        time.sleep(1.5)
        self.server.kill9()
        stop.set()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        self.assertTrue(all(s["acked"] > 0 for s in state), "no write was acknowledged: %r" % state)
        self.restart()
        for k, rid in enumerate(rows):
            got = self.assertJson(self.c.get(row_path(E, C, rid)), 200)
            allowed = {state[k]["acked"], state[k]["inflight"]}
            self.assertIn(got["quantity"], allowed,
                          "row %d: last acknowledged %r, in flight %r, found %r"
                          % (k, state[k]["acked"], state[k]["inflight"], got["quantity"]))

    def test_sigterm_restart_keeps_everything(self):
        E, C, rows = self.seed_rows(20)
        acked = self.write_all(E, C, rows, 7000)
        cu = self.make_customer(external_id="kept")
        rc = self.server.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM\n%s" % self.server.stderr_tail())
        self.restart()
        self.check_all(E, C, acked)
        self.assertSame(cu, self.assertJson(self.c.get("/customers/%s" % cu["id"]), 200))
        self.assertJson(self.c.get("/entitlements/%s" % E), 200)

    def test_sigterm_with_idle_keepalive_connection(self):
        c = Client(self.server.port, self.t, persistent=True)
        self.assertJson(c.get("/customers/%s" % harness.new_id()), 404)
        t0 = time.monotonic()
        rc = self.server.stop()
        c.close()
        self.assertEqual(rc, 0, "exit after SIGTERM with an idle connection open (%.1fs)\n%s"
                         % (time.monotonic() - t0, self.server.stderr_tail()))
        self.restart()

    def test_sigterm_finishes_in_flight_request(self):
        E, C, rows = self.seed_rows(1)
        body = json.dumps(patch_body(E, C, quantity=4242)).encode()
        head = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nx-api-key: %s\r\norganisation: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                % (row_path(E, C, rows[0]), self.server.port, self.t.key, self.t.org, len(body))
                ).encode()
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        try:
            sock.sendall(head + body[:10])
            time.sleep(1.0)  # the server has the headers and part of the body
            self.server.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            self.assertTrue(self.server.alive(),
                            "server exited before the in-flight request ended\n%s"
                            % self.server.stderr_tail())
            sock.sendall(body[10:])
            resp = http.client.HTTPResponse(sock, method="PATCH")
            resp.begin()
            data = resp.read()
        finally:
            sock.close()
        self.assertEqual(resp.status, 200, data)
        self.assertEqual(json.loads(data)["quantity"], 4242)
        rc = self.server.stop()
        self.assertEqual(rc, 0, "exit after SIGTERM\n%s" % self.server.stderr_tail())
        self.restart()
        got = self.assertJson(self.c.get(row_path(E, C, rows[0])), 200)
        self.assertEqual(got["quantity"], 4242)
