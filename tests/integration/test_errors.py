"""Error tracking end to end: real Sentry SDKs (Debian python3-sentry-sdk, npm @sentry/node)
send to a real kansoku server; everything is checked through the issues API and the CLI."""
import gzip
import http.client
import json
import os
import re
import subprocess
import time
import unittest
import uuid
import zlib

from harness import BIN, Server, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "..", "clients")
NODE_MODULES = os.path.join(CLIENTS, "node_modules")


def run(cmd, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


class ErrorsBase(unittest.TestCase):
    config = None

    def setUp(self):
        self.s = Server(config_text=self.config).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(self.s.stop)
        st, body = self.s.json("GET", "/api/v1/projects")
        self.assertEqual(st, 200)
        self.key = body["data"][0]["keys"][0]["public_key"]
        self.dsn = body["data"][0]["keys"][0]["dsn"]

    def issues(self, **params):
        q = "&".join("%s=%s" % kv for kv in params.items())
        st, body = self.s.json("GET", "/api/v1/issues?status=all&" + q)
        self.assertEqual(st, 200, body)
        return body["data"]

    def issue(self, issue_id):
        st, body = self.s.json("GET", "/api/v1/issues/%d" % issue_id)
        self.assertEqual(st, 200, body)
        return body["data"]

    def wait_issues(self, n, **params):
        return wait_until(lambda: (lambda l: l if len(l) >= n else None)(self.issues(**params)),
                          what="%d issues" % n)

    def cli(self, *args):
        return run([BIN, *args, "--server", self.s.url, "--token", self.s.token])

    def sentry(self, path, body, headers=None, chunked=False):
        """Raw request to the Sentry ingest; returns (status, headers, body)."""
        host, port = self.s.addr.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        if chunked:
            conn.putrequest("POST", path)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 100):
                part = body[i:i + 100]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
        else:
            conn.request("POST", path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        return r.status, hdrs, data


class PythonSdkTest(ErrorsBase):
    def test_first_start_dsn_python_sdk_store_gzip_and_issue_detail(self):
        # The first start printed the first project's DSN next to the admin token's place.
        m = re.search(r"sentry dsn: (http://([0-9a-f]{32})@127\.0\.0\.1:\d+/1)", self.s.stdout())
        self.assertIsNotNone(m, self.s.stdout())
        self.assertEqual(m.group(2), self.key)
        self.assertEqual(m.group(1), self.dsn)
        out = self.cli("projects")
        self.assertIn(self.dsn, out)

        out = run(["/usr/bin/python3", os.path.join(CLIENTS, "sentry_python_client.py")],
                  env={"SENTRY_DSN": self.dsn, "EXTRA_MESSAGES": "3"})
        ids = dict(l.split() for l in out.splitlines()[:2])
        issues = self.wait_issues(3)
        by_title = {i["title"]: i for i in issues}
        exc = by_title["ValueError: card declined for order 42 (4200 cents)"]
        self.assertEqual(exc["culprit"], "__main__ in charge")
        self.assertEqual(exc["level"], "error")
        self.assertEqual(exc["grouping"]["version"], "kansoku-1")
        self.assertEqual(exc["grouping"]["basis"], "stacktrace")
        msg = by_title["disk almost full"]
        self.assertEqual(msg["level"], "warning")
        # Three messages differing only in numbers: one issue.
        queue = [i for i in issues if i["title"].startswith("queue ")]
        self.assertEqual(len(queue), 1, issues)
        wait_until(lambda: self.issue(queue[0]["id"])["count"] == 3, what="3 queue events")

        d = self.issue(exc["id"])
        self.assertEqual(d["count"], 1)
        self.assertEqual(d["users"], 1)
        self.assertEqual(d["releases"], {"kansoku-e2e@1.0.0": 1})
        self.assertEqual(d["environments"], {"test": 1})
        tags = {t["key"]: t["top_values"][0]["value"] for t in d["tags"]}
        self.assertEqual(tags["component"], "checkout")
        self.assertEqual(tags["user"], "id:u-42")
        ev = d["latest_event"]
        self.assertEqual(ev["event_id"], ids["exception"].replace("-", ""))
        body = ev["event"]
        crumbs = [b.get("message") for b in body["breadcrumbs"]["values"]]
        self.assertIn("SELECT * FROM orders WHERE id=42", crumbs)
        frames = body["exception"]["values"][0]["stacktrace"]["frames"]
        top = frames[-1]
        self.assertEqual(top["function"], "charge")
        self.assertIn("raise ValueError", top["context_line"])
        self.assertEqual(top["vars"]["order_id"], "42")  # the SDK sends reprs
        self.assertEqual(top["vars"]["amount_cents"], "4200")
        self.assertEqual(body["contexts"]["runtime"]["name"], "CPython")
        self.assertEqual(body["user"]["id"], "u-42")

        # The SDK gzipped its /store/ bodies: the wire bytes are fewer than the decoded ones.
        st, _, metrics = self.s.request("GET", "/metrics")
        text = metrics.decode()
        self.assertRegex(text, r'kansoku_errors_items_total\{type="event"\} 5')

        # CLI: list and show.
        out = self.cli("issues")
        self.assertIn("card declined for order 42", out)
        out = self.cli("issues", "show", str(exc["id"]))
        self.assertIn("component: checkout (1)", out)
        self.assertIn("raise ValueError", out)

        # Triage: resolve, then the next event of the same group regresses it.
        self.cli("issues", "resolve", str(exc["id"]))
        self.assertEqual(self.issue(exc["id"])["status"], "resolved")
        run(["/usr/bin/python3", os.path.join(CLIENTS, "sentry_python_client.py")],
            env={"SENTRY_DSN": self.dsn})
        wait_until(lambda: self.issue(exc["id"])["count"] == 2, what="second event")
        self.assertEqual(self.issue(exc["id"])["status"], "regressed")
        self.assertEqual(len(self.issues()), 3)

        # Assign (CLI), filter by assignee (CLI and API), unassign; assignments survive kill -9.
        out = self.cli("issues", "assign", str(exc["id"]), "alice@example.com")
        self.assertIn("assigned to alice@example.com", out)
        self.assertEqual(self.issue(exc["id"])["assignee"], "alice@example.com")
        self.assertEqual([i["id"] for i in self.issues(assignee="alice@example.com")], [exc["id"]])
        self.assertEqual(len(self.issues(assigned="false")), 2)
        out = self.cli("issues", "--status", "all", "--assignee", "alice@example.com")
        self.assertIn("card declined", out)
        self.assertNotIn("disk almost full", out)
        out = self.cli("issues", "--status", "all", "--unassigned")
        self.assertNotIn("card declined", out)
        self.assertIn("disk almost full", out)
        self.assertIn("assignee: alice@example.com", self.cli("issues", "show", str(exc["id"])))
        self.cli("issues", "assign", str(msg["id"]), "team-infra")
        self.cli("issues", "unassign", str(msg["id"]))
        st, body = self.s.json("PUT", "/api/v1/issues/%d" % exc["id"], body='{"assignee": 7}')
        self.assertEqual(st, 400, body)
        self.assertIn("assignee", body["error"])
        self.s.kill9()
        self.s.start()
        self.assertEqual(self.issue(exc["id"])["assignee"], "alice@example.com")
        self.assertIsNone(self.issue(msg["id"])["assignee"])
        self.assertEqual(self.issue(exc["id"])["status"], "regressed")


class NodeSdkTest(ErrorsBase):
    config = "errors:\n  tsdb_flush_interval: 1s\n"

    def node(self, mode):
        return run(["node", os.path.join(CLIENTS, "sentry_node_client.mjs")],
                   env={"SENTRY_DSN": self.dsn, "MODE": mode, "NODE_PATH": NODE_MODULES})

    def test_envelopes_sessions_checkins_spans_logs(self):
        out = self.node("basic")
        ids = {json.loads(l)["kind"]: json.loads(l)["id"] for l in out.splitlines() if l.startswith("{")}
        issues = self.wait_issues(2)
        by_title = {i["title"]: i for i in issues}
        exc = by_title["TypeError: card declined for order 42"]
        self.assertEqual(exc["grouping"]["basis"], "stacktrace")
        self.assertTrue(exc["culprit"].endswith(" in charge"), exc)
        # captureMessage carries a synthetic exception: grouped (and titled) by its message.
        msg = by_title["disk almost full on 10.0.0.7"]
        self.assertEqual(msg["grouping"]["basis"], "message")
        d = self.issue(exc["id"])
        self.assertEqual(d["latest_event"]["event_id"], ids["exception"])
        self.assertEqual(d["releases"], {"kansoku-e2e@2.0.0": 1})

        def project(what):
            st, body = self.s.json("GET", "/api/v1/projects/1/" + what)
            self.assertEqual(st, 200, body)
            return body["data"]
        health = wait_until(lambda: project("sessions"), what="release health")
        self.assertEqual(health[0]["release"], "kansoku-e2e@2.0.0")
        self.assertGreaterEqual(health[0]["sessions"], 1)
        mon = wait_until(lambda: project("monitors"), what="monitor")
        self.assertEqual(mon[0]["slug"], "nightly-backup")
        self.assertEqual(mon[0]["last_status"], "error")
        txn = wait_until(lambda: project("transactions"), what="transactions")
        self.assertEqual(txn[0]["name"], "GET /checkout")
        self.assertGreaterEqual(txn[0]["p50_ms"], 15)
        # log items are counted (the log store takes them once it exists).
        wait_until(lambda: re.search(r'kansoku_errors_items_total\{type="log"\} [1-9]',
                                     self.s.request("GET", "/metrics")[2].decode()), what="log items")

        # The per-issue event count is a TSDB series PromQL can read.
        def series():
            st, body = self.s.json("GET", "/api/v1/query?query=kansoku_issue_events_total%7Bissue%3D%22"
                                   + str(exc["id"]) + "%22%7D")
            r = body["data"]["result"]
            return r if r and r[0]["value"][1] == "1" else None
        r = wait_until(series, what="issue series in the TSDB")
        self.assertEqual(r[0]["metric"]["project"], "1")

    def test_quota_5_per_minute_sdk_backs_off_and_reports(self):
        self.cli("projects", "set-limits", "1", "--per-minute", "5")
        # Stay inside one wall-clock minute (the quota window) for the whole run.
        if time.time() % 60 > 40:
            time.sleep(61 - time.time() % 60)
        self.node("quota")
        issues = self.wait_issues(1)
        self.assertEqual(len(issues), 1)
        self.assertEqual(self.issue(issues[0]["id"])["count"], 5)
        # The SDK stopped sending after the first 429: only one request was refused.
        text = self.s.request("GET", "/metrics")[2].decode()
        self.assertRegex(text, r'kansoku_errors_rejected_total\{reason="ratelimited"\} 1\b')
        # ... and reported what it dropped; the report is shown.
        st, body = self.s.json("GET", "/api/v1/projects/1/client_reports")
        reports = {(r["reason"], r["category"]): r["quantity"] for r in body["data"]}
        self.assertEqual(reports.get(("ratelimit_backoff", "error")), 14, body)
        self.assertIn("ratelimit_backoff", self.cli("projects"))


class IngestProtocolTest(ErrorsBase):
    def store(self, event, headers=None, encoding=None, key=None):
        body = json.dumps(event).encode()
        h = {"Content-Type": "application/json",
             "X-Sentry-Auth": "Sentry sentry_key=%s, sentry_version=7, sentry_client=e2e/1" % (key or self.key)}
        if encoding == "gzip":
            body = gzip.compress(body)
        elif encoding == "deflate":
            body = zlib.compress(body)
        elif encoding == "zstd":
            body = subprocess.run(["zstd", "-q", "-c"], input=body, capture_output=True).stdout
        elif encoding == "br":
            body = subprocess.run(["node", "-e", "process.stdout.write(require('zlib').brotliCompressSync("
                                   "require('fs').readFileSync(0)))"], input=body, capture_output=True).stdout
        if encoding:
            h["Content-Encoding"] = encoding
        h.update(headers or {})
        return self.sentry("/api/1/store/", body, h)

    def test_gzip_store_body_stored_as_sent_reads_back(self):
        # A gzip /store/ body is kept in the event log as the SDK sent it (not compressed again):
        # the event must read back byte for byte, for one gzip member and for two concatenated.
        event = {"event_id": uuid.uuid4().hex, "message": "stored as sent",
                 "extra": {"blob": "x" * 3000, "n": 1}}
        for i in range(2):
            event["event_id"] = uuid.uuid4().hex
            event["extra"]["n"] = i
            raw = json.dumps(event).encode()
            half = len(raw) // 2
            body = gzip.compress(raw) if i == 0 else gzip.compress(raw[:half]) + gzip.compress(raw[half:])
            h = {"Content-Encoding": "gzip", "X-Sentry-Auth": "Sentry sentry_key=%s, sentry_version=7" % self.key}
            st, _, ans = self.sentry("/api/1/store/", body, h)
            self.assertEqual((st, json.loads(ans)), (200, {"id": event["event_id"]}))
            issue = wait_until(lambda: next((x for x in self.issues() if x["title"] == "stored as sent"
                                             and x["count"] == i + 1), None), what="event %d" % i)
            ev = self.issue(issue["id"])["latest_event"]
            self.assertEqual(ev["event_id"], event["event_id"])
            self.assertEqual(ev["event"]["extra"], event["extra"])
            # The SDK's gzip bytes are in the event log unchanged.
            logs = b"".join(open(os.path.join(d, f), "rb").read()
                            for d, _, fs in os.walk(os.path.join(self.s.data, "errors")) for f in fs)
            self.assertIn(body, logs)

    def test_encodings_auth_forms_and_answers(self):
        for enc in [None, "gzip", "deflate", "br", "zstd"]:
            eid = uuid.uuid4().hex
            st, h, body = self.store({"event_id": eid, "message": "enc %s" % enc}, encoding=enc)
            self.assertEqual(st, 200, body)
            self.assertEqual(json.loads(body), {"id": eid})
            self.assertEqual(h["access-control-allow-origin"], "*")
        # Envelope: auth by query string, chunked, no Content-Type, item without length.
        eid = uuid.uuid4().hex
        env = ('{"event_id":"%s"}\n{"type":"event"}\n{"message":"chunked one","event_id":"%s"}\n'
               '{"type":"profile_chunk","length":3}\nabc\n{"type":"attachment","length":5,"filename":"a.txt"}\nhello\n'
               % (eid, eid)).encode()
        st, h, body = self.sentry("/api/1/envelope/?sentry_key=%s&sentry_version=7" % self.key, env, chunked=True)
        self.assertEqual((st, json.loads(body)), (200, {"id": eid}))
        # Envelope: auth only by its dsn header.
        eid2 = uuid.uuid4().hex
        env = ('{"event_id":"%s","dsn":"%s"}\n{"type":"event","length":%d}\n%s\n'
               % (eid2, self.dsn, len('{"message":"by dsn"}'), '{"message":"by dsn"}')).encode()
        st, _, body = self.sentry("/api/1/envelope/", env, {"Content-Type": "application/x-sentry-envelope"})
        self.assertEqual((st, json.loads(body)), (200, {"id": eid2}))
        titles = {i["title"]: i for i in self.wait_issues(7)}
        self.assertIn("chunked one", titles)
        ev = self.issue(titles["chunked one"]["id"])["latest_event"]
        self.assertEqual(ev["attachments"], [{"filename": "a.txt", "content_type": "", "size": 5}])
        # CORS preflight.
        st, h, _ = self.s.request("OPTIONS", "/api/1/envelope/", token=None, headers={
            "Origin": "http://app.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-sentry-auth"})
        self.assertEqual(st, 200)
        self.assertEqual(h["access-control-allow-origin"], "*")
        self.assertIn("POST", h["access-control-allow-methods"])
        self.assertEqual(h["access-control-allow-headers"], "content-type,x-sentry-auth")

    def test_bad_input_clear_4xx_counted(self):
        cases = [
            (self.sentry("/api/1/store/", b'{"message":"x"}'), 403, "missing authorization"),
            (self.store({"message": "x"}, key="0" * 32), 401, "unknown public key"),
            (self.sentry("/api/2/store/?sentry_key=" + self.key, b'{"message":"x"}'), 403, "project id mismatch"),
            (self.sentry("/api/1/store/?sentry_key=" + self.key, b'{"message":'), 400, "not valid JSON"),
            (self.sentry("/api/1/envelope/?sentry_key=" + self.key, b'{}\n{"type":"event","length":500}\n{}\n'),
             400, "item 0 at byte 3: length 500 runs past the end"),
            (self.sentry("/api/1/envelope/?sentry_key=" + self.key, b'[1,2]\n'), 400, "envelope header"),
        ]
        for (st, h, body), want_st, want in cases:
            self.assertEqual(st, want_st, body)
            self.assertIn(want, json.loads(body)["detail"])
            self.assertIn(want, h["x-sentry-error"])
        # A bad item does not lose the good one before it.
        env = b'{}\n{"type":"event"}\n{"message":"kept"}\n{"type":"event"}\n{"message":\n'
        st, h, body = self.sentry("/api/1/envelope/?sentry_key=" + self.key, env)
        self.assertEqual(st, 400)
        self.assertIn("item 1", json.loads(body)["detail"])
        self.assertEqual([i["title"] for i in self.wait_issues(1)], ["kept"])
        # Oversized event item (> 1 MiB): dropped with a clear reason.
        big = json.dumps({"message": "big", "extra": {"x": "a" * (1 << 20)}}).encode()
        st, h, body = self.sentry("/api/1/store/?sentry_key=" + self.key, gzip.compress(big),
                                  {"Content-Encoding": "gzip"})
        self.assertEqual(st, 400)
        self.assertIn("exceeds 1 MiB", json.loads(body)["detail"])
        # A disabled key is refused; rotating gives a new key and the old one stops working.
        st, body = self.s.json("PUT", "/api/v1/projects/1/keys/1", body='{"disabled":true}')
        self.assertEqual(st, 200, body)
        self.assertEqual(self.store({"message": "x"})[0], 403)
        self.cli("projects", "enable-key", "1", "1")
        self.assertEqual(self.store({"message": "x"})[0], 200)
        out = self.cli("projects", "rotate-key", "1", "1")
        new_key = re.search(r"http://([0-9a-f]{32})@", out).group(1)
        self.assertNotEqual(new_key, self.key)
        self.assertEqual(self.store({"message": "x"})[0], 401)
        self.assertEqual(self.store({"message": "x"}, key=new_key)[0], 200)
        text = self.s.request("GET", "/metrics")[2].decode()
        for reason in ["missing_auth", "unknown_key", "project_mismatch", "invalid_event",
                       "invalid_envelope", "too_large", "disabled_key"]:
            self.assertRegex(text, r'kansoku_errors_rejected_total\{reason="%s"\} [1-9]' % reason)

    def test_server_side_fingerprint_rules(self):
        st, body = self.s.json("PUT", "/api/v1/projects/1", body=json.dumps(
            {"fingerprint_rules": "error.type:Nope -> x\nstack.function:\"*charge*\" -> payments, {{ error.type }}"}))
        self.assertEqual(st, 200, body)
        st, body = self.s.json("PUT", "/api/v1/projects/1", body='{"fingerprint_rules":"stack.nope:x -> y"}')
        self.assertEqual(st, 400)
        self.assertIn('line 1: unknown matcher "stack.nope"', body["error"])
        for fn in ["charge_card", "charge_wallet", "refund"]:
            ev = {"exception": {"values": [{"type": "KeyError", "value": fn, "stacktrace": {"frames": [
                {"function": fn, "module": "pay", "in_app": True}]}}]}}
            self.assertEqual(self.store(ev)[0], 200)
        issues = self.wait_issues(2)
        by_basis = sorted((i["grouping"]["basis"], i["count"]) for i in issues)
        self.assertEqual(by_basis, [("fingerprint_rule", 2), ("stacktrace", 1)])

    def test_acknowledged_events_survive_kill9(self):
        n = 200
        for i in range(n):
            st, _, body = self.store({"event_id": uuid.uuid4().hex, "message": "crash test %d" % i,
                                      "user": {"id": "u%d" % (i % 7)}, "release": "r%d" % (i % 3)})
            self.assertEqual(st, 200, body)
        issue_id = self.issues()[0]["id"]
        self.s.request("PUT", "/api/v1/issues/%d" % issue_id, body='{"status":"archived","until_events":1000}')
        self.s.kill9()
        self.s.start()
        d = self.issue(issue_id)
        self.assertEqual(d["count"], n)
        self.assertEqual(d["users"], 7)
        self.assertEqual(d["status"], "archived")
        self.assertEqual(sorted(d["releases"]), ["r0", "r1", "r2"])
        st, body = self.s.json("GET", "/api/v1/issues/%d/events?limit=5" % issue_id)
        self.assertEqual([e["event"]["message"] for e in body["data"]],
                         ["crash test %d" % i for i in range(n - 1, n - 6, -1)])

    def test_kill9_during_load_keeps_every_acknowledged_event(self):
        # Four keep-alive connections send gzip /store/ bodies (as python3-sentry-sdk does, so the
        # server keeps the wire gzip) as fast as they can; kill -9 lands in the middle. Every event
        # that got its 200 must be there after the restart, each in its own issue.
        import threading
        acked, lock, stop = set(), threading.Lock(), threading.Event()
        pad = "x" * 3000  # > 1 KiB: stored compressed

        def sender(t):
            host, port = self.s.addr.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            i = 0
            while not stop.is_set():
                n = t * 1000000 + i
                i += 1
                ev = {"message": "load %d" % n, "fingerprint": ["load", str(n)], "extra": {"pad": pad}}
                body = gzip.compress(json.dumps(ev).encode())
                try:
                    conn.request("POST", "/api/1/store/", body=body, headers={
                        "Content-Encoding": "gzip", "Content-Type": "application/json",
                        "X-Sentry-Auth": "Sentry sentry_key=%s, sentry_version=7" % self.key})
                    r = conn.getresponse()
                    r.read()
                except (OSError, http.client.HTTPException):
                    return
                if r.status == 200:
                    with lock:
                        acked.add(n)

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
        for th in threads:
            th.start()
        wait_until(lambda: len(acked) >= 300, timeout=60, interval=0.01, what="300 acknowledged events")
        self.s.kill9()
        stop.set()
        for th in threads:
            th.join(timeout=30)
        self.s.start()
        st, body = self.s.json("GET", "/api/v1/issues?status=all&limit=10000")
        self.assertEqual(st, 200, body)
        stored = {int(i["title"].split()[1]) for i in body["data"]}
        missing = acked - stored
        self.assertEqual(missing, set(), "%d of %d acknowledged events lost" % (len(missing), len(acked)))
        # And they read back intact (the SDK's gzip as stored).
        one = body["data"][0]
        st, evs = self.s.json("GET", "/api/v1/issues/%d/events/latest" % one["id"])
        self.assertEqual(st, 200, evs)
        self.assertEqual(evs["data"]["event"]["extra"]["pad"], pad)


if __name__ == "__main__":
    unittest.main()
