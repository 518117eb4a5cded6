"""End to end: exemplars through OpenMetrics import and Prometheus' remote_write, answered by
/api/v1/query_exemplars exactly as Prometheus answers it, and kept across kill -9."""
import http.server
import json
import threading
import time
import unittest
import urllib.parse
import urllib.request

import harness

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def query_exemplars(s, query, start, end, token="__admin__"):
    q = urllib.parse.urlencode({"query": query, "start": start, "end": end})
    st, body = s.json("GET", "/api/v1/query_exemplars?" + q, token=token)
    return st, body


class ExemplarImportTest(unittest.TestCase):
    def setUp(self):
        self.s = harness.Server().start()

    def tearDown(self):
        self.s.stop()
        self.s.cleanup()

    def imp(self, body):
        return self.s.request("POST", "/api/v1/import/prometheus", body=body,
                              headers={"Content-Type": OPENMETRICS})

    def test_import_query_and_kill9(self):
        body = ("# TYPE req counter\n"
                'req_total{path="/a"} 5 1700000000.000 # {trace_id="abc"} 1.5 1700000000.123\n'
                'req_total{path="/a"} 6 1700000010 # {trace_id="def",span_id="s1"} 2 1700000010.5\n'
                'req_total{path="/b"} 3 1700000000 # {} 7\n'
                'req_total{path="/c"} 1 1700000000\n'
                "# EOF\n")
        st, _, data = self.imp(body)
        self.assertEqual(st, 204, data)
        want = [
            {"seriesLabels": {"__name__": "req_total", "path": "/a"},
             "exemplars": [{"labels": {"trace_id": "abc"}, "value": "1.5", "timestamp": 1700000000.123},
                           {"labels": {"span_id": "s1", "trace_id": "def"}, "value": "2",
                            "timestamp": 1700000010.5}]},
            # No exemplar timestamp: the sample's.
            {"seriesLabels": {"__name__": "req_total", "path": "/b"},
             "exemplars": [{"labels": {}, "value": "7", "timestamp": 1700000000}]},
        ]
        st, got = query_exemplars(self.s, "req_total", "1699999999", "1700000011")
        self.assertEqual(st, 200, got)
        self.assertEqual(got, {"status": "success", "data": want})
        # Time formats of the other endpoints (RFC 3339), a range that cuts, selectors inside
        # an expression, several selectors.
        st, got = query_exemplars(self.s, 'rate(req_total{path="/a"}[5m])', "2023-11-14T22:13:20.2Z",
                                  "2023-11-14T22:13:31Z")
        self.assertEqual(got["data"], [{"seriesLabels": want[0]["seriesLabels"],
                                        "exemplars": want[0]["exemplars"][1:]}])
        st, got = query_exemplars(self.s, 'req_total{path="/b"} + on() req_total{path="/a"}',
                                  "1699999999", "1700000011")
        self.assertEqual(got["data"], want)
        st, got = query_exemplars(self.s, "nothing_here", "1699999999", "1700000011")
        self.assertEqual(got, {"status": "success", "data": []})
        # Bad requests as Prometheus answers them.
        st, got = query_exemplars(self.s, "req_total{", "1699999999", "1700000011")
        self.assertEqual((st, got["errorType"]), (400, "bad_data"))
        st, got = query_exemplars(self.s, "req_total", "yesterday", "1700000011")
        self.assertEqual((st, got["errorType"]), (400, "bad_data"))
        self.assertIn('invalid parameter "start"', got["error"])

        # Refused exemplars keep their samples and are named in the answer.
        long_value = "x" * 121  # "trace_id" (8) + 121 runes > 128
        st, _, data = self.imp('req_total{path="/a"} 7 1700000020 # {trace_id="%s"} 3 1700000020\n'
                               'req_total{path="/a"} 8 1700000030 # {trace_id="old"} 3 1700000001\n'
                               "# EOF\n" % long_value)
        self.assertEqual(st, 200, data)
        text = data.decode()
        self.assertIn("stored 2 rows", text)
        self.assertIn("rejected 2 exemplars", text)
        self.assertIn("more than the limit of 128", text)
        self.assertIn("out of order exemplar", text)
        # A malformed exemplar rejects its line with the reason.
        st, _, data = self.imp('req_total{path="/d"} 1 1700000000 # trace_id="x" 1\n# EOF\n')
        self.assertEqual(st, 400, data)
        self.assertIn("line 1: cannot parse the exemplar of metric", data.decode())
        self.assertIn("expected '{' after '#'", data.decode())

        self.s.kill9()
        self.s.start()
        st, got = query_exemplars(self.s, "req_total", "1699999999", "1700000011")
        self.assertEqual(got, {"status": "success", "data": want})

    def test_kill9_keeps_every_acknowledged_exemplar(self):
        now = int(time.time())
        w = harness.AckedWriter(lambda b: self.imp(
            'dur_ex{batch="%d"} 1 %d # {trace_id="t%d"} %d %d.%03d\n# EOF\n' %
            (b, now - 600, b, b, now - 600, b % 1000))[0])
        acked = w.acked
        harness.wait_until(lambda: len(acked) > 30, timeout=60, what="30 acknowledged imports")
        w.kill9_and_stop(self.s)
        self.s.start()
        st, got = query_exemplars(self.s, "dur_ex", str(now - 700), str(now))
        have = {e["labels"]["trace_id"] for series in got["data"] for e in series["exemplars"]}
        missing = [b for b in acked if "t%d" % b not in have]
        self.assertEqual(missing, [])


class ExemplarsHandler(http.server.BaseHTTPRequestHandler):
    """An OpenMetrics endpoint: a counter that grows by 1 per scrape with a new exemplar each time,
    and a histogram bucket with one."""
    lock = threading.Lock()
    n = 0

    def do_GET(self):  # noqa: N802 - http.server's name
        with self.lock:
            ExemplarsHandler.n += 1
            n = ExemplarsHandler.n
        ts = time.time()
        body = ("# TYPE demo_requests counter\n"
                "# HELP demo_requests Requests.\n"
                'demo_requests_total{path="/api"} %d # {trace_id="trace-%d",span_id="s%d"} %d.%d %.3f\n'
                "# TYPE demo_latency_seconds histogram\n"
                'demo_latency_seconds_bucket{le="0.5"} %d # {trace_id="lat-%d"} 0.25 %.3f\n'
                'demo_latency_seconds_bucket{le="+Inf"} %d\n'
                "demo_latency_seconds_sum %d\n"
                "demo_latency_seconds_count %d\n"
                "# EOF\n") % (n, n, n, n, n % 10, ts, n, n, ts, n, n, n)
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", OPENMETRICS)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class ExemplarScrapeTest(unittest.TestCase):
    """kansoku's own scraper keeps the exemplars of an OpenMetrics target."""

    def test_scraped_exemplars(self):
        target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ExemplarsHandler)
        threading.Thread(target=target.serve_forever, daemon=True).start()
        addr = "127.0.0.1:%d" % target.server_address[1]
        s = harness.Server(config_text="""scrape:
  interval: 1s
scrape_configs:
  - job_name: demo
    static_configs: [{targets: ["%s"]}]
""" % addr).start()
        try:
            start = time.time() - 60

            def some():
                st, got = query_exemplars(s, 'demo_requests_total{job="demo"}', "%.3f" % start,
                                          "%.3f" % (time.time() + 60))
                self.assertEqual(st, 200, got)
                return got["data"] if got["data"] and len(got["data"][0]["exemplars"]) >= 3 else None

            data = harness.wait_until(some, timeout=60, interval=0.5, what="3 scraped exemplars")
            self.assertEqual(len(data), 1)
            self.assertEqual(data[0]["seriesLabels"],
                             {"__name__": "demo_requests_total", "instance": addr, "job": "demo", "path": "/api"})
            prev = 0
            for e in data[0]["exemplars"]:
                n = int(e["labels"]["trace_id"].split("-")[1])  # trace-N, span sN, value N.(N%10)
                self.assertEqual(e["labels"], {"trace_id": "trace-%d" % n, "span_id": "s%d" % n})
                self.assertEqual(e["value"], "%d.%d" % (n, n % 10) if n % 10 else str(n))
                self.assertGreater(n, prev)
                prev = n
        finally:
            s.stop()
            s.cleanup()
            target.shutdown()
            target.server_close()


class ExemplarRemoteWriteTest(unittest.TestCase):
    def setUp(self):
        self.s = harness.Server().start()
        st, created = self.s.json("POST", "/api/v1/tokens",
                                  json.dumps({"name": "rw", "scopes": ["ingest", "read"]}))
        self.assertEqual(st, 201)
        self.token = created["data"]["token"]
        self.target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ExemplarsHandler)
        self.target_thread = threading.Thread(target=self.target.serve_forever, daemon=True)
        self.target_thread.start()
        self.prom_port = harness.free_port()
        self.prom = harness.start_prometheus(self.s.tmp, """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: demo
    static_configs: [{targets: ["127.0.0.1:%d"]}]
remote_write:
  - url: http://%s/api/v1/write
    authorization: {type: Bearer, credentials: "%s"}
    send_exemplars: true
    queue_config: {batch_send_deadline: 1s}
""" % (self.target.server_address[1], self.s.addr, self.token), self.prom_port,
                                             ["--enable-feature=exemplar-storage"])

    def tearDown(self):
        harness.stop_process(self.prom)
        self.target.shutdown()
        self.target.server_close()
        self.s.stop()
        self.s.cleanup()

    def prom_exemplars(self, query, start, end):
        url = "http://127.0.0.1:%d/api/v1/query_exemplars?%s" % (
            self.prom_port, urllib.parse.urlencode({"query": query, "start": start, "end": end}))
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.loads(r.read())

    def test_same_answer_as_prometheus(self):
        start = time.time() - 60
        query = 'demo_requests_total or demo_latency_seconds_bucket{le="0.5"}'

        def prom_has_some():
            got = self.prom_exemplars(query, "%.3f" % start, "%.3f" % (time.time() + 60))
            n = sum(len(s["exemplars"]) for s in got["data"])
            return got if n >= 8 else None

        prom = harness.wait_until(prom_has_some, timeout=90, interval=1,
                                  what="8 exemplars in prometheus (scrape with exemplar-storage)")
        # Prometheus keeps scraping: compare up to the newest exemplar it had.
        end = max(e["timestamp"] for s in prom["data"] for e in s["exemplars"])
        prom = self.prom_exemplars(query, "%.3f" % start, "%.3f" % end)
        self.assertEqual(prom["status"], "success")

        def norm(answer):
            return sorted(answer["data"], key=lambda s: json.dumps(s["seriesLabels"], sort_keys=True))

        def kansoku_same():
            st, got = query_exemplars(self.s, query, "%.3f" % start, "%.3f" % end, token=self.token)
            self.assertEqual(st, 200, got)
            return got if norm(got) == norm(prom) else None

        try:
            got = harness.wait_until(kansoku_same, timeout=60, interval=1,
                                     what="kansoku's query_exemplars to equal prometheus'")
        except Exception:
            st, got = query_exemplars(self.s, query, "%.3f" % start, "%.3f" % end, token=self.token)
            self.assertEqual(norm(got), norm(prom))  # shows the difference
            raise
        # Field by field: series labels with job/instance, exemplar labels, value strings, ms times.
        self.assertEqual(len(got["data"]), 2)
        series = {s["seriesLabels"]["__name__"]: s for s in got["data"]}
        counter = series["demo_requests_total"]
        self.assertEqual(counter["seriesLabels"]["job"], "demo")
        self.assertEqual(counter["seriesLabels"]["path"], "/api")
        self.assertEqual(set(counter["exemplars"][0]["labels"]), {"trace_id", "span_id"})
        self.assertIsInstance(counter["exemplars"][0]["value"], str)
        self.assertGreaterEqual(len(counter["exemplars"]), 4)

        # Restarted after kill -9, kansoku still answers the same. (Prometheus first: it would
        # keep retrying its remote_write to the dead address and delay its own shutdown.)
        harness.stop_process(self.prom)
        self.s.kill9()
        self.s.start()
        st, after = query_exemplars(self.s, query, "%.3f" % start, "%.3f" % end, token=self.token)
        self.assertEqual(norm(after), norm(prom))


if __name__ == "__main__":
    unittest.main()
