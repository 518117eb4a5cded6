"""End to end: Debian `prometheus` scrapes Debian `prometheus-node-exporter` (and itself) and
remote-writes everything to kansoku; then `promtool query instant|range|series|labels` against
both servers must give the same answers (values within float tolerance)."""
import json
import math
import shutil
import subprocess
import time
import unittest
import urllib.parse
import urllib.request

import harness

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"

# Operators and functions the issue names; windows are short because the run is short.
INSTANT_QUERIES = [
    "node_load1",
    "up",
    "count(up)",
    'rate(node_cpu_seconds_total{mode="idle"}[30s])',
    "sum by (mode) (rate(node_cpu_seconds_total[30s]))",
    "sum without (cpu) (irate(node_cpu_seconds_total[30s]))",
    "avg(node_load1) + 1",
    "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > bool 0",
    "topk(3, node_network_receive_bytes_total)",
    "bottomk(2, node_network_receive_bytes_total)",
    "increase(prometheus_http_requests_total[30s])",
    "histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[30s])))",
    "max_over_time(node_load1[1m])",
    "min_over_time(node_load1[1m])",
    "avg_over_time(node_load1[1m])",
    "count_over_time(up[1m])",
    "changes(node_time_seconds[1m])",
    "deriv(node_time_seconds[1m])",
    "delta(node_memory_MemFree_bytes[1m])",
    "predict_linear(node_time_seconds[1m], 60)",
    'label_replace(up, "new", "$1", "instance", "(.*):.*")',
    'label_join(up, "both", "/", "job", "instance")',
    "count_values(\"v\", up)",
    "quantile(0.5, node_load1)",
    "stddev(node_load1)",
    "abs(-node_load1)",
    "clamp_max(node_load1, 0.5)",
    "timestamp(up)",
    "up and on(job) up",
    "up unless up{job=\"node\"}",
    "node_cpu_seconds_total{mode=~\"sys.*|user\",cpu=\"0\"}",
    "resets(node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}[1m])",
    "absent(nonexistent_metric)",
    "sum(rate(node_cpu_seconds_total[30s] offset 5s))",
    "scalar(count(up))",
    "vector(1) * on() group_left count(up)",
]
RANGE_QUERIES = ["node_load1", "sum by (mode) (rate(node_cpu_seconds_total[20s]))", "count(up)"]


class RemoteWritePromtoolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = harness.Server().start()
        st, created = cls.s.json("POST", "/api/v1/tokens", json.dumps({"name": "rw", "scopes": ["ingest", "read"]}))
        cls.token = created["data"]["token"]
        cls.ne_port = harness.free_port()
        cls.ne = subprocess.Popen([NODE_EXPORTER, "--web.listen-address=127.0.0.1:%d" % cls.ne_port,
                                   "--no-collector.systemd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.prom_port = harness.free_port()
        cls.prom = harness.start_prometheus(cls.s.tmp, """global:
  scrape_interval: 2s
  scrape_timeout: 2s
scrape_configs:
  - job_name: node
    static_configs: [{targets: ["127.0.0.1:%d"]}]
  - job_name: prometheus
    static_configs: [{targets: ["127.0.0.1:%d"]}]
remote_write:
  - url: http://%s/api/v1/write
    authorization: {type: Bearer, credentials: "%s"}
    queue_config: {batch_send_deadline: 1s, max_samples_per_send: 500}
    metadata_config: {send: true, send_interval: 5s}
""" % (cls.ne_port, cls.prom_port, cls.s.addr, cls.token), cls.prom_port)
        cls.kansoku_url = "http://kansoku:%s@%s" % (cls.token, cls.s.addr)  # Basic auth, password = token
        cls.prom_url = "http://127.0.0.1:%d" % cls.prom_port

        # Wait until remote_write has delivered about 45 s of scrapes.
        def enough():
            q = urllib.parse.urlencode({"query": "count_over_time(node_load1[1m])"})
            st, _, body = cls.s.request("GET", "/api/v1/query?" + q, token=cls.token)
            res = json.loads(body)["data"]["result"]
            return res and float(res[0]["value"][1]) >= 20
        harness.wait_until(enough, timeout=120, interval=1, what="remote_write data in kansoku")
        # Evaluate a little in the past, so both servers have every sample of the windows.
        cls.t = cls.evaluation_time(time.time() - 6)
        # ... and wait until kansoku holds exactly the samples Prometheus has in them
        # (remote_write can lag behind on a loaded machine).
        def same_counts():
            q = "sum(count_over_time(node_cpu_seconds_total[60s])) + sum(count_over_time(up[60s]))"
            p = cls.instant(cls.prom_url, q, cls.t, None)
            k = cls.instant("http://" + cls.s.addr, q, cls.t, cls.token)
            return p is not None and p == k
        harness.wait_until(same_counts, timeout=60, interval=1,
                           what="the same samples in kansoku as in Prometheus")

    @classmethod
    def instant(cls, base, q, t, token):
        req = urllib.request.Request(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": "%.3f" % t}))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=10) as r:
            res = json.loads(r.read())["data"]["result"]
        return float(res[0]["value"][1]) if res else None

    @classmethod
    def evaluation_time(cls, t):
        """t moved (by < 1 s) so that no window boundary falls on a sample's timestamp.

        Range selectors differ there between the two servers: Prometheus 2.x (Debian's 2.42)
        includes a sample exactly at the window's start, Prometheus 3.x — which kansoku follows —
        does not. Scrape timestamps, the 2 s scrape interval, the windows and the 5 s step are whole
        seconds apart, so keeping the evaluation time's millisecond offset away from every target's
        scrape offset keeps all boundaries off the samples."""
        ts = cls.instant_vector(cls.prom_url, "timestamp(up)", t)
        offsets = sorted({round(v * 1000) % 1000 for v in ts})
        if not offsets:
            return t
        gaps = [((offsets[(i + 1) % len(offsets)] - o) % 1000 or 1000, o) for i, o in enumerate(offsets)]
        width, start = max(gaps)
        want = (start + width // 2) % 1000  # the middle of the widest gap between scrape offsets
        base = math.floor(t) * 1000
        return (base + want) / 1000.0 - (1 if base + want > t * 1000 else 0)

    @classmethod
    def instant_vector(cls, base, q, t):
        req = urllib.request.Request(base + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": "%.3f" % t}))
        with urllib.request.urlopen(req, timeout=10) as r:
            return [float(x["value"][1]) for x in json.loads(r.read())["data"]["result"]]

    @classmethod
    def tearDownClass(cls):
        for p in (cls.prom, cls.ne):
            harness.stop_process(p, timeout=30)
        cls.s.stop()
        cls.s.cleanup()

    def promtool(self, *args):
        r = subprocess.run([PROMTOOL, "query", *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, (args, r.stderr))
        return r.stdout

    def both(self, kind, expr, *flags):
        a = self.promtool(kind, "-o", "json", *flags, self.prom_url, expr)
        b = self.promtool(kind, "-o", "json", *flags, self.kansoku_url, expr)
        return json.loads(a), json.loads(b)

    def assertSameValues(self, expr, prom, kansoku):
        def norm(res):
            if isinstance(res, list) and len(res) == 2 and not isinstance(res[0], dict):
                return {"scalar": [res]}  # promtool prints a scalar as [t, "v"]
            if isinstance(res, dict):
                return {"scalar": [res["value"]]}
            out = {}
            for s in res:
                key = json.dumps(s.get("metric", {}), sort_keys=True)
                out[key] = s.get("values") or [s["value"]]
            return out
        p, k = norm(prom), norm(kansoku)
        self.assertEqual(sorted(p), sorted(k), expr)
        for key in p:
            self.assertEqual(len(p[key]), len(k[key]), (expr, key))
            for (tp, vp), (tk, vk) in zip(p[key], k[key]):
                self.assertAlmostEqual(float(tp), float(tk), places=3, msg=(expr, key))
                fp, fk = float(vp), float(vk)
                if math.isnan(fp):
                    self.assertTrue(math.isnan(fk), (expr, key, vp, vk))
                else:
                    self.assertTrue(math.isclose(fp, fk, rel_tol=1e-9, abs_tol=1e-9), (expr, key, vp, vk))

    def test_instant_queries_agree(self):
        for expr in INSTANT_QUERIES:
            with self.subTest(expr=expr):
                p, k = self.both("instant", expr, "--time=%.3f" % self.t)
                self.assertSameValues(expr, p, k)

    def test_range_queries_agree(self):
        for expr in RANGE_QUERIES:
            with self.subTest(expr=expr):
                p, k = self.both("range", expr, "--start=%.3f" % (self.t - 30), "--end=%.3f" % self.t, "--step=5s")
                self.assertSameValues(expr, p, k)

    def test_series_and_labels_agree(self):
        rng = ["--start=%.3f" % (self.t - 20), "--end=%.3f" % self.t]
        for m in ['node_cpu_seconds_total{cpu="0"}', "up", '{__name__=~"node_load.*"}']:
            p = self.promtool("series", "--match=" + m, *rng, self.prom_url)
            k = self.promtool("series", "--match=" + m, *rng, self.kansoku_url)
            self.assertEqual(sorted(p.splitlines()), sorted(k.splitlines()), m)
            self.assertTrue(p.strip(), m)
        for name in ["job", "mode", "__name__"]:
            p = set(self.promtool("labels", *rng, self.prom_url, name).split())
            k = set(self.promtool("labels", *rng, self.kansoku_url, name).split())
            if name == "__name__":
                # Prometheus also has metrics of scrapes (scrape_*) that are remote-written too;
                # every name Prometheus lists for the window must be in kansoku.
                self.assertLessEqual(p - k, set(), name)
            else:
                self.assertEqual(p, k, name)

    def test_metadata_arrives(self):
        def has():
            st, _, body = self.s.request("GET", "/api/v1/metadata?metric=node_load1", token=self.token)
            return json.loads(body)["data"].get("node_load1")
        md = harness.wait_until(has, timeout=30, what="metadata from remote_write")
        self.assertEqual(md[0]["type"], "gauge")


if __name__ == "__main__":
    unittest.main()
