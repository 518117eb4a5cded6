"""End to end: metrics sent by real third-party clients arrive in kansoku and answer PromQL.

- Debian `influxdb-client` (influx 1.6 CLI): INSERT and -import over /write, Basic auth.
- Debian `collectd` 5.12: write_graphite over TCP (CRLF lines, nan) and write_http JSON.
- npm OpenTelemetry JS exporters: OTLP/HTTP JSON and protobuf (gzip), counters, gauges,
  histograms.
"""
import json
import os
import shutil
import subprocess
import time
import unittest
import urllib.parse

import harness

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")


class MetricClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.graphite_port = harness.free_port()
        cls.s = harness.Server(args=["--graphite-tcp", "127.0.0.1:%d" % cls.graphite_port]).start()
        st, created = cls.s.json("POST", "/api/v1/tokens", json.dumps({"name": "clients", "scopes": ["ingest"]}))
        cls.ingest = created["data"]["token"]

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.s.cleanup()

    def query(self, q, t=None):
        params = {"query": q}
        if t is not None:
            params["time"] = str(t)
        st, body = self.s.json("GET", "/api/v1/query?" + urllib.parse.urlencode(params))
        self.assertEqual(st, 200, body)
        return body["data"]["result"]

    def wait_for(self, q, what, timeout=30):
        return harness.wait_until(lambda: self.query(q), timeout=timeout, what=what)

    def test_influx_cli(self):
        now = int(time.time())
        base = ["influx", "-host", "127.0.0.1", "-port", str(self.s.port), "-username", "influx",
                "-password", self.ingest, "-database", "kansoku"]
        r = subprocess.run(base + ["-precision", "s", "-execute",
                                   'INSERT cpu,host=web-1,region=eu usage_idle=91.5,usage_user=4.25,cores=2i,'
                                   'healthy=true,label="a b" %d' % now],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        path = os.path.join(self.s.tmp, "import.lp")
        with open(path, "w") as f:
            f.write("# DML\n# CONTEXT-DATABASE: kansoku\n# CONTEXT-RETENTION-POLICY: autogen\n\n"
                    "mem,host=web-1 used_bytes=1048576i,free_bytes=524288i %d\n\n"
                    "mem,host=web-2 used_bytes=2097152i,free_bytes=262144i %d\n"
                    "http_requests,host=web-1,path=/checkout,method=POST count=17i,latency_ms=12.5 %d\n"
                    % (now - 2, now - 1, now))
        r = subprocess.run(base + ["-import", "-path", path, "-precision", "s"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Processed 3 inserts", r.stdout + r.stderr)
        self.assertIn("Failed 0 inserts", r.stdout + r.stderr)
        res = self.query('cpu_usage_idle{host="web-1",region="eu",db="kansoku"}')
        self.assertEqual(res[0]["value"][1], "91.5")
        self.assertEqual(self.query('cpu_cores{host="web-1"}')[0]["value"][1], "2")
        self.assertEqual(self.query('cpu_healthy{host="web-1"}')[0]["value"][1], "1")
        self.assertEqual(sorted(x["value"][1] for x in self.query("mem_used_bytes")), ["1048576", "2097152"])
        self.assertEqual(self.query('http_requests_latency_ms{path="/checkout",method="POST"}')[0]["value"][1], "12.5")
        # A wrong password is refused the way influx reports it.
        r = subprocess.run(["influx", "-host", "127.0.0.1", "-port", str(self.s.port), "-username", "x",
                            "-password", "nope", "-database", "kansoku", "-execute", "INSERT a v=1"],
                           capture_output=True, text=True, timeout=30)
        self.assertIn("unknown or revoked API token", r.stdout + r.stderr)  # (influx 1.6 exits 0 anyway)

    def test_collectd_graphite_and_write_http(self):
        work = os.path.join(self.s.tmp, "collectd")
        os.makedirs(work)
        conf = os.path.join(work, "collectd.conf")
        with open(conf, "w") as f:
            f.write("""Hostname "kansoku-test"
FQDNLookup false
BaseDir "{w}"
PIDFile "{w}/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel info
  File "{w}/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin load
LoadPlugin memory
LoadPlugin write_graphite
<Plugin write_graphite>
  <Node "kansoku">
    Host "127.0.0.1"
    Port "{gp}"
    Protocol "tcp"
    Prefix "collectd."
    StoreRates true
    EscapeCharacter "_"
  </Node>
</Plugin>
LoadPlugin write_http
<Plugin write_http>
  <Node "kansoku">
    URL "http://{addr}/collectd"
    User "collectd"
    Password "{tok}"
    Format "JSON"
    StoreRates false
    BufferSize 4096
    Timeout 2000
  </Node>
</Plugin>
""".format(w=work, gp=self.graphite_port, addr=self.s.addr, tok=self.ingest))
        subprocess.run(["collectd", "-t", "-C", conf], check=True, capture_output=True)
        cd = subprocess.Popen(["collectd", "-f", "-C", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            g = self.wait_for("collectd_kansoku_test_load_load_shortterm", "collectd graphite data")
            self.assertGreaterEqual(float(g[0]["value"][1]), 0)
            j = self.wait_for('collectd_load_load_shortterm{host="kansoku-test"}', "collectd write_http data")
            self.assertGreaterEqual(float(j[0]["value"][1]), 0)
            mem = self.wait_for('collectd_memory_memory{host="kansoku-test",type_instance="used"}', "memory")
            self.assertGreater(float(mem[0]["value"][1]), 1e6)
            # CPU derive counters from write_http become counters rate() can use.
            self.wait_for('rate(collectd_cpu_cpu_total{type_instance="idle"}[10s])', "cpu rate", timeout=40)
        finally:
            cd.terminate()
            cd.wait(timeout=30)
        st, _, body = self.s.request("GET", "/metrics")
        text = body.decode()
        self.assertRegex(text, r'kansoku_rows_accepted_total\{protocol="graphite"\} [1-9]')
        self.assertRegex(text, r'kansoku_rows_accepted_total\{protocol="collectd_json"\} [1-9]')
        self.assertRegex(text, r'kansoku_listener_frames_total\{listener="graphite",transport="tcp"\} [1-9]')

    def run_otel(self, protocol, compression, service):
        env = dict(os.environ, KANSOKU_URL=self.s.url, KANSOKU_TOKEN=self.ingest, OTLP_PROTOCOL=protocol,
                   OTLP_COMPRESSION=compression, SERVICE=service)
        r = subprocess.run(["node", os.path.join(CLIENTS, "otel_metrics.mjs")], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_opentelemetry_js_json_and_protobuf(self):
        if not os.path.isdir(os.path.join(CLIENTS, "node_modules", "@opentelemetry")):
            self.fail("tests/clients/node_modules is missing: scripts/install-deps installs it")
        self.run_otel("json", "none", "checkout")
        self.run_otel("protobuf", "gzip", "billing")
        for job in ("checkout", "billing"):
            orders = {x["metric"]["region"]: x["value"][1]
                      for x in self.wait_for('orders_created_total{job="%s"}' % job, "otel counter " + job)}
            self.assertEqual(orders, {"eu": "3", "us": "4"}, job)  # cumulative: 1 then 1+2
            self.assertEqual(self.query('queue_depth{job="%s",queue="email"}' % job)[0]["value"][1], "17")
            self.assertEqual(self.query('http_requests_inflight{job="%s"}' % job)[0]["value"][1], "2")
            b = {x["metric"]["le"]: x["value"][1]
                 for x in self.query('http_request_duration_milliseconds_bucket{job="%s"}' % job)}
            self.assertEqual(b["+Inf"], "4")
            self.assertEqual(b["100"], "2")
            self.assertEqual(self.query('http_request_duration_milliseconds_count{job="%s"}' % job)[0]["value"][1], "4")
            self.assertEqual(self.query('http_request_duration_milliseconds_sum{job="%s"}' % job)[0]["value"][1], "1542")
            q = self.query('histogram_quantile(0.5, http_request_duration_milliseconds_bucket{job="%s"})' % job)
            self.assertTrue(0 < float(q[0]["value"][1]) <= 100)


if __name__ == "__main__":
    unittest.main()
