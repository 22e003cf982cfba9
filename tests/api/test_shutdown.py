"""Shutdown that drains (issue 13, item 2): SIGTERM or SIGHUP under write
load, with a slow upload under way, finishes what was handled (writes
waiting for their fsync included), answers it, and exits 0; every
acknowledged write is there after the restart, and nothing that was not
answered 200 was done twice or done when refused."""

import signal
import socket
import threading
import time

import harness
from harness import Client, ServerTestCase
from ledger_check import verify, verify_text

WRITERS = 8
TRIES = 20


class Shutdown(ServerTestCase):
    # the slow upload holds the drain for the whole grace: keep it short
    server_args = ("--shutdown-grace", "1")

    def restart(self):
        if not self.server.alive():
            self.server.start()
        type(self).c = Client(self.server.port, self.t)
        self.c = type(self).c

    def consume_path(self, e, c):
        return "/entitlements/%s/customer/%s/consume" % (e, c)

    def writer(self, path, rec, stop):
        """Consumes of 1 on one keep-alive connection until the server goes
        away: rec counts 200s, refusals (503, nothing changed) and requests
        whose fate is unknown (the connection failed under them)."""
        c = Client(self.server.port, self.t, persistent=True)
        try:
            while not stop.is_set():
                try:
                    r = c.post(path, {"quantity": 1})
                except (OSError, harness.http.client.HTTPException):
                    rec["maybe"] += 1
                    return
                if r.status == 200:
                    rec["acked"] += 1
                elif r.status == 503:
                    rec["refused"] += 1
                else:
                    rec["bad"].append(str(r))
                    return
        finally:
            c.close()

    def slow_upload(self, path, started):
        """Headers and 10 bytes of a 100-byte consume body, then nothing."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        head = ("POST %s HTTP/1.1\r\nHost: x\r\nx-api-key: %s\r\norganisation: %s\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                % (path, self.t.key, self.t.org)).encode()
        s.sendall(head + b'{"quantity')
        started.set()
        return s

    def run_tries(self, sig, tries):
        pairs = []
        for _ in range(WRITERS):
            e, c, _row = self.make_triple(quantity=10 ** 9)
            pairs.append((e, c))
        recs = [{"acked": 0, "refused": 0, "maybe": 0, "bad": []} for _ in pairs]
        for attempt in range(tries):
            self.restart()
            stop = threading.Event()
            threads = [threading.Thread(target=self.writer,
                                        args=(self.consume_path(e, c), rec, stop))
                       for (e, c), rec in zip(pairs, recs)]
            for t in threads:
                t.start()
            started = threading.Event()
            slow = self.slow_upload(self.consume_path(*pairs[0]), started)
            try:
                started.wait(5)
                time.sleep(0.3)  # under load
                t0 = time.monotonic()
                self.server.proc.send_signal(sig)
                try:
                    rc = self.server.proc.wait(timeout=harness.STOP_TIMEOUT)
                except harness.subprocess.TimeoutExpired:
                    rc = None
                stop.set()
                for t in threads:
                    t.join(30)
            finally:
                slow.close()
            self.assertEqual(rc, 0, "try %d: exit after %s (%.1fs)\n%s" % (
                attempt, sig.name, time.monotonic() - t0, self.server.stderr_tail()))
            self.server.stop()  # reaps and closes the stderr file
            for rec in recs:
                self.assertEqual(rec["bad"], [], "try %d" % attempt)
        self.restart()
        for (e, c), rec in zip(pairs, recs):
            bal = self.assertJson(self.c.get("/entitlements/%s/customer/%s/balance" % (e, c)), 200)
            used = bal["quantity_used"]
            self.assertGreater(rec["acked"], 0, "the writers ran: %r" % rec)
            self.assertGreaterEqual(used, rec["acked"], "an acknowledged consume is lost: %r" % rec)
            self.assertLessEqual(used, rec["acked"] + rec["maybe"],
                                 "a consume not acknowledged (refused: 503) was done: %r" % rec)
        self.server.stop()
        res = verify(self.db)
        self.assertEqual(res.rc, 0, verify_text(res))
        self.restart()

    def test_sigterm_under_writers_drains_every_time(self):
        self.run_tries(signal.SIGTERM, TRIES)

    def test_sighup_drains_like_sigterm(self):
        self.run_tries(signal.SIGHUP, 5)
