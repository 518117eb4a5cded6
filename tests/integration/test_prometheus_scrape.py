"""End to end: Debian's `prometheus` scrapes kansoku's /metrics with a bearer token and stores it."""
import json
import unittest
import urllib.parse
import urllib.request

import harness



class PrometheusScrapeTest(unittest.TestCase):
    def setUp(self):
        self.s = harness.Server().start()
        st, created = self.s.json("POST", "/api/v1/tokens", json.dumps({"name": "prometheus", "scopes": ["read"]}))
        self.assertEqual(st, 201)
        self.read_token = created["data"]["token"]
        self.prom_port = harness.free_port()
        self.prom = harness.start_prometheus(self.s.tmp, """global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kansoku
    authorization: {type: Bearer, credentials: "%s"}
    static_configs: [{targets: ["%s"]}]
  - job_name: kansoku_badtoken
    authorization: {type: Bearer, credentials: "ksk_wrong"}
    static_configs: [{targets: ["%s"]}]
""" % (self.read_token, self.s.addr, self.s.addr), self.prom_port)

    def tearDown(self):
        harness.stop_process(self.prom)
        self.s.stop()
        self.s.cleanup()

    def prom_api(self, path, **params):
        url = "http://127.0.0.1:%d%s?%s" % (self.prom_port, path, urllib.parse.urlencode(params))
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())

    def test_scraped_successfully(self):
        def targets():
            t = self.prom_api("/api/v1/targets")["data"]["activeTargets"]
            by_job = {x["labels"]["job"]: x for x in t}
            if by_job.get("kansoku", {}).get("health") == "up" and by_job.get("kansoku_badtoken", {}).get("health") == "down":
                return by_job
            return None
        by_job = harness.wait_until(targets, timeout=60, what="prometheus to scrape kansoku")
        self.assertEqual(by_job["kansoku"]["lastError"], "")
        self.assertIn("401", by_job["kansoku_badtoken"]["lastError"])

        def series():
            r = self.prom_api("/api/v1/query", query='kansoku_http_requests_total{job="kansoku",route="/metrics"}')
            return r["data"]["result"] or None
        res = harness.wait_until(series, timeout=30, what="kansoku_http_requests_total in prometheus")
        self.assertGreaterEqual(float(res[0]["value"][1]), 1)
        # Histograms and process metrics arrive intact too.
        r = self.prom_api("/api/v1/query", query='process_resident_memory_bytes{job="kansoku"}')
        self.assertGreater(float(r["data"]["result"][0]["value"][1]), 1e6)
        r = self.prom_api("/api/v1/query",
                          query='kansoku_http_request_duration_seconds_count{job="kansoku",route="/metrics"}')
        self.assertTrue(r["data"]["result"])


if __name__ == "__main__":
    unittest.main()
