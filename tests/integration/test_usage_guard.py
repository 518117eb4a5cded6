"""End to end: a cardinality explosion from a real client is held by the usage guard.

Debian's `prometheus` scrapes a target whose `req_total` has a `user` label fed by a counter
(ten new users per scrape) next to five steady series, and remote-writes everything to kansoku
with the token "exploder", whose limit is 60 active series. The test shows: the limit holds
exactly, prometheus is told why (its log carries kansoku's answer naming the limit), the steady
series keep flowing after the refusals start, and `/api/v1/usage`, `/metrics`, the TSDB (PromQL)
and `kansoku usage` all name the offender.
"""
import http.server
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.parse

import harness

LIMIT = 60

CONFIG = """
limits:
  tokens:
    exploder:
      max_active_series: %d
usage:
  self_scrape_interval: 2s
""" % LIMIT


class ExplodingTarget(http.server.BaseHTTPRequestHandler):
    scrapes = 0
    lock = threading.Lock()

    def do_GET(self):
        with ExplodingTarget.lock:
            ExplodingTarget.scrapes += 1
            n = ExplodingTarget.scrapes
        lines = ["# TYPE steady gauge"]
        lines += ['steady{i="%d"} %d' % (i, n) for i in range(5)]
        lines.append("# TYPE req_total counter")
        # Every scrape adds ten users: the label is fed by a counter.
        lines += ['req_total{user="u%d"} 1' % u for u in range(n * 10)]
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class UsageGuardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = harness.Server(config_text=CONFIG).start()
        st, created = cls.s.json("POST", "/api/v1/tokens", json.dumps({"name": "exploder", "scopes": ["ingest"]}))
        assert st == 201, created
        cls.token = created["data"]["token"]
        cls.target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ExplodingTarget)
        threading.Thread(target=cls.target.serve_forever, daemon=True).start()
        cls.prom_port = harness.free_port()
        cls.prom = harness.start_prometheus(cls.s.tmp, """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: app
    static_configs: [{targets: ["127.0.0.1:%d"]}]
remote_write:
  - url: http://%s/api/v1/write
    authorization: {type: Bearer, credentials: "%s"}
    queue_config: {batch_send_deadline: 1s, max_samples_per_send: 2000}
""" % (cls.target.server_address[1], cls.s.addr, cls.token), cls.prom_port)
        cls.prom_log_path = os.path.join(cls.s.tmp, "prometheus.log")

    @classmethod
    def tearDownClass(cls):
        harness.stop_process(cls.prom, timeout=30)
        cls.target.shutdown()
        cls.s.stop()
        cls.s.cleanup()

    def usage(self):
        st, body = self.s.json("GET", "/api/v1/usage")
        self.assertEqual(st, 200)
        return {t["name"]: t for t in body["data"]["tenants"]}

    def query(self, q):
        st, body = self.s.json("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        self.assertEqual(st, 200, body)
        return body["data"]["result"]

    def test_explosion_is_held_explained_and_visible(self):
        # Wait until the guard has refused series for a while (several scrapes past the limit).
        def refused():
            t = self.usage().get("exploder")
            return t if t and t["refusals"].get("max_active_series", 0) >= 30 else None
        t = harness.wait_until(refused, timeout=120, interval=0.5, what="refusals by the series limit")
        refusal_started = time.time()

        # 1. The limit holds exactly: 5 steady + up/scrape_* series + users up to the limit.
        self.assertEqual(t["active_series"], LIMIT)
        self.assertEqual(t["limits"]["max_active_series"], LIMIT)
        self.assertEqual(int(self.query('count({__name__=~"req_total|steady|up|scrape_.*"})')[0]["value"][1]), LIMIT)

        # 2. The client was told why: prometheus logs kansoku's 400 answer naming the limit.
        def told():
            with open(self.prom_log_path) as f:
                log = f.read()
            return "limit max_active_series=%d reached for token" % LIMIT in log and log
        log = harness.wait_until(told, timeout=30, what="prometheus to log the refusal")
        self.assertIn('new series req_total{', log)

        # 3. Existing series are unharmed: the steady series keep getting fresh samples.
        def fresh():
            res = self.query("min(timestamp(steady))")
            return res and float(res[0]["value"][1]) > refusal_started + 2 and res
        harness.wait_until(fresh, timeout=60, interval=0.5, what="steady series to keep flowing")
        self.assertEqual(len(self.query("steady")), 5)

        # 4. Visible everywhere: cardinality API, /metrics, PromQL (self-scraped), the CLI.
        st, card = self.s.json("GET", "/api/v1/usage/cardinality?tenant=exploder&top=3")
        self.assertEqual(st, 200)
        self.assertEqual(card["data"]["top_metrics"][0]["name"], "req_total")
        self.assertEqual(card["data"]["top_labels"][0]["name"], "user")
        self.assertEqual(card["data"]["biggest_label"], "user")
        st, _, metrics = self.s.request("GET", "/metrics")
        self.assertIn('kansoku_usage_active_series{tenant="exploder"} %d' % LIMIT, metrics.decode())
        self.assertIn('kansoku_usage_refusals_total{tenant="exploder",limit="max_active_series"}',
                      metrics.decode())

        def in_tsdb():
            res = self.query('kansoku_usage_active_series{tenant="exploder"}')
            return res and float(res[0]["value"][1]) == LIMIT
        harness.wait_until(in_tsdb, timeout=30, what="usage metrics in the TSDB")

        out = subprocess.run([harness.BIN, "usage", "--server", "http://" + self.s.addr, "--token",
                              harness.ADMIN_TOKEN, "--top", "3"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        row = next(l for l in lines if l.startswith("exploder"))
        self.assertEqual(row.split()[1:3], [str(LIMIT), str(LIMIT)])
        self.assertIn("max_active_series=", row)
        self.assertTrue(any(l.split()[:1] == ["req_total"] for l in lines), out.stdout)
        self.assertTrue(any(l.split()[:1] == ["user"] for l in lines), out.stdout)
        self.assertIn("recent values of user: u", out.stdout)

    def test_samples_rate_limit_answers_429_with_retry_after(self):
        body = "".join('m{i="%d"} 1\n' % i for i in range(800)).encode()
        s2 = harness.Server(config_text="limits:\n  tokens:\n    slow:\n      max_samples_per_second: 100\n").start()
        try:
            st, created = s2.json("POST", "/api/v1/tokens", json.dumps({"name": "slow", "scopes": ["ingest"]}))
            tok = created["data"]["token"]
            st, hdrs, resp = s2.request("POST", "/api/v1/import/prometheus", body, token=tok)
            self.assertEqual(st, 204, resp)  # 800 fit in the 1000-sample burst
            st, hdrs, resp = s2.request("POST", "/api/v1/import/prometheus", body, token=tok)
            self.assertEqual(st, 429, resp)
            self.assertIn("limit max_samples_per_second=100 reached for token \"slow\"", resp.decode())
            self.assertGreaterEqual(int(hdrs["retry-after"]), 1)
            self.assertEqual(hdrs["x-kansoku-rows-stored"], "0")
            # Nothing of the refused request was stored; the first one was.
            st, q = s2.json("GET", "/api/v1/query?query=count(m)")
            self.assertEqual(q["data"]["result"][0]["value"][1], "800")
        finally:
            s2.stop()
            s2.cleanup()


CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")

VOLUME_CONFIG = """
limits:
  tokens:
    "sentry:default":
      max_events_per_minute: 5
    shipper:
      max_log_bytes_per_second: 1500
usage:
  self_scrape_interval: 2s
"""


class VolumeLimitsTest(unittest.TestCase):
    """Error events and log bytes: counted per source, limited per tenant, with real clients."""

    @classmethod
    def setUpClass(cls):
        cls.s = harness.Server(config_text=VOLUME_CONFIG).start()
        st, created = cls.s.json("POST", "/api/v1/tokens", json.dumps({"name": "shipper", "scopes": ["ingest"]}))
        assert st == 201, created
        cls.shipper = created["data"]["token"]

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.s.cleanup()

    def sources(self, kind):
        st, body = self.s.json("GET", "/api/v1/usage/sources?kind=" + kind)
        self.assertEqual(st, 200, body)
        return {x["name"]: x for x in body["data"]}

    def tenant(self, name):
        st, body = self.s.json("GET", "/api/v1/usage")
        return next((t for t in body["data"]["tenants"] if t["name"] == name), None)

    def test_sentry_sdk_events_per_minute_limit(self):
        st, projects = self.s.json("GET", "/api/v1/projects")
        self.assertEqual(st, 200, projects)
        project = projects["data"][0]
        dsn = project["keys"][0]["dsn"]
        # @sentry/node raises 20 errors, flushing after each; the tenant "sentry:default" may
        # send 5 per minute (a one-minute burst), so the 6th gets a 429 and the SDK backs off.
        r = subprocess.run(["node", os.path.join(CLIENTS, "sentry_node_client.mjs")],
                           env=dict(os.environ, SENTRY_DSN=dsn, MODE="quota"), cwd=CLIENTS,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        t = harness.wait_until(lambda: self.tenant("sentry:default"), timeout=30, what="sentry tenant")
        self.assertEqual(t["events_total"], 5)
        self.assertEqual(t["limits"]["max_events_per_minute"], 5)
        self.assertGreaterEqual(t["refusals"].get("max_events_per_minute", 0), 1)
        src = self.sources("sentry_project")["default"]
        self.assertEqual(src["events_total"], 5)
        self.assertIn("keys (1 enabled)", src["detail"])  # merged with the project inventory
        keys = self.sources("sentry_key")
        self.assertEqual(keys[project["keys"][0]["public_key"]]["status"], "enabled")
        # Exactly 5 events were stored; the SDK reported the rest as dropped by rate limiting.
        st, issues = self.s.json("GET", "/api/v1/issues?project=%d" % project["id"])
        self.assertEqual(sum(i["count"] for i in issues["data"]), 5, issues)
        def reported():
            st, body = self.s.json("GET", "/api/v1/projects/%d/client_reports" % project["id"])
            return [r for r in body["data"] if r["reason"] == "ratelimit_backoff"] or None
        harness.wait_until(reported, timeout=30, what="the SDK's client_report")
        st, _, metrics = self.s.request("GET", "/metrics")
        self.assertIn('kansoku_usage_refusals_total{tenant="sentry:default",limit="max_events_per_minute"}',
                      metrics.decode())

    def test_otel_logs_bytes_per_second_limit(self):
        # The OpenTelemetry JS exporter sends 300 records (message and attributes, ~100 bytes
        # each) in batches of 100: the token "shipper" may send 1500 bytes/s (a 15,000-byte
        # burst), so the first batch fits and the next ones are answered 429 naming the limit
        # and the stream (the exporter retries them with backoff).
        env = dict(os.environ, KANSOKU_URL="http://" + self.s.addr, KANSOKU_TOKEN=self.shipper,
                   COUNT="300", MARKER="volume", SERVICE="billing")
        started = time.time()
        r = subprocess.run(["node", os.path.join(CLIENTS, "otel_logs.mjs")], env=env, cwd=CLIENTS,
                           capture_output=True, text=True, timeout=120)
        elapsed = time.time() - started
        t = harness.wait_until(lambda: self.tenant("shipper"), timeout=30, what="shipper tenant")
        self.assertGreaterEqual(t["refusals"].get("max_log_bytes_per_second", 0), 1, t)
        self.assertGreater(t["log_bytes_total"], 0)
        self.assertLessEqual(t["log_bytes_total"], 15000 + 1500 * elapsed)  # burst + rate
        streams = self.sources("log_stream")
        billing = [v for k, v in streams.items() if 'service="billing"' in k]
        self.assertEqual(len(billing), 2, streams)  # level is a stream label: INFO and ERROR
        self.assertEqual(sum(b["log_bytes_total"] for b in billing), t["log_bytes_total"])
        # What was admitted is stored and what was refused is not: counts agree.
        st, body = self.s.json("GET", "/api/v1/logs/query?" + urllib.parse.urlencode(
            {"query": "volume | stats count() as n", "start": "now-1h"}))
        self.assertEqual(st, 200, body)
        stored = int(body["data"]["rows"][0][0])
        # The exporter retries refused batches with backoff, so all may arrive in the end; the
        # limit paced them (the refusals above) and nothing was stored twice.
        self.assertGreater(stored, 0, body)
        self.assertLessEqual(stored, 300, body)
        st, _, metrics = self.s.request("GET", "/metrics")
        text = metrics.decode()
        self.assertRegex(text, r'kansoku_rows_rejected_total\{protocol="otlp",reason="limit"\} [1-9]')
        self.assertIn('kansoku_usage_log_bytes_total{tenant="shipper"}', text)
        out = subprocess.run([harness.BIN, "usage", "--server", "http://" + self.s.addr, "--token",
                              harness.ADMIN_TOKEN, "--kind", "log_stream"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn('service="billing"', out.stdout)
        self.assertIn("B/s", out.stdout)
        self.assertIn("max_log_bytes_per_second=", out.stdout)


if __name__ == "__main__":
    unittest.main()
