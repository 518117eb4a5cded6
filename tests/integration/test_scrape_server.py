"""End to end: server-side scrape targets (docs/design/scrape.md) in the real `kansoku server`.

- the server scrapes Debian's prometheus-node-exporter (127.0.0.1, random port) from its YAML
  config; PromQL answers `up` and node_* series; the samples went through the ingest path (usage
  guard tenant "scrape:<job>", kansoku_rows_accepted_total{protocol="scrape"});
- honor_labels end to end: a target exposing its own `job`/`instance` labels, scraped by two jobs
  (honor_labels true keeps them; false renames them exported_job/exported_instance);
- /api/v1/targets and `kansoku targets` list health, last scrape, samples and errors; a selector
  lists the rest as not_selected;
- growth hold (#9 item 4): a file_sd file growing from 4 to 40 targets holds the 36 new ones, the
  TargetSetHeld alert fires (/api/v1/alerts), `kansoku targets approve` enrolls them, the alert
  resolves; the hold survives a restart.
"""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

import harness

CONFLICT_BODY = (b"# TYPE conflict_metric gauge\n"
                 b'conflict_metric{job="their_job",instance="their_instance",side="a"} 7\n')


class ConflictHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(CONFLICT_BODY)))
        self.end_headers()
        self.wfile.write(CONFLICT_BODY)

    def log_message(self, *args):
        pass


class ScrapeServerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kansoku-scrape-e2e-")
        self.servers = []
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
            p.wait()
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, config_text, **kw):
        s = harness.Server(config_text=config_text, **kw).start()
        self.servers.append(s)
        return s

    def query(self, s, q):
        st, body = s.json("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        self.assertEqual(st, 200, body)
        return body["data"]["result"]

    def targets(self, s, state="any"):
        st, body = s.json("GET", "/api/v1/targets?state=" + state)
        self.assertEqual(st, 200, body)
        return body["data"]

    def cli(self, s, *args):
        out = subprocess.run([harness.BIN] + list(args) + ["--server", s.url, "--token", s.token],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def node_exporter(self):
        port = harness.free_port()
        ne = subprocess.Popen(["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % port,
                               "--no-collector.systemd", "--log.level=warn"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(ne)
        return "127.0.0.1:%d" % port

    def conflict_target(self):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ConflictHandler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        return "127.0.0.1:%d" % httpd.server_address[1]

    def test_node_exporter_honor_labels_targets_api(self):
        ne = self.node_exporter()
        conflict = self.conflict_target()
        dead = "127.0.0.1:%d" % harness.free_port()
        cfg = """scrape:
  interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["%s"]
        labels: {env: prod, monitor: "true"}
      - targets: ["%s"]
        labels: {env: dev, monitor: "true"}
    selector: "env=prod,monitor=true"
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: "go_.*"
        action: drop
  - job_name: honor
    honor_labels: true
    static_configs: [{targets: ["%s"]}]
  - job_name: nohonor
    static_configs: [{targets: ["%s"]}]
  - job_name: relabelled
    metrics_path: /wrong
    static_configs: [{targets: ["%s"], labels: {__meta_dc: tokyo}}]
    relabel_configs:
      - {target_label: __metrics_path__, replacement: /metrics}
      - {source_labels: [__address__], regex: "(.*):([0-9]+)", target_label: instance, replacement: "node-$2"}
      - {action: labelmap, regex: "__meta_(.+)"}
      - {source_labels: [__address__], target_label: __tmp_shard, modulus: 4, action: hashmod}
    metric_relabel_configs:
      - {source_labels: [__name__], regex: "node_load(1|5)", target_label: __name__, replacement: "host_load$1"}
      - {source_labels: [__name__], regex: "host_load.*", action: keep}
""" % (ne, dead, conflict, conflict, ne)
        s = self.server(cfg)
        r = harness.wait_until(lambda: self.query(s, 'up{job="node"}'), timeout=60, what="up{job=node}")
        self.assertEqual(len(r), 1)  # the dev target is not selected, so never scraped
        self.assertEqual(r[0]["metric"]["instance"], ne)
        self.assertEqual(r[0]["metric"]["env"], "prod")
        harness.wait_until(lambda: self.query(s, 'up{job="node"} == 1'), timeout=60, what="node up")
        load = harness.wait_until(lambda: self.query(s, 'node_load1{job="node",instance="%s"}' % ne),
                                  timeout=30, what="node_load1")
        self.assertEqual(load[0]["metric"]["env"], "prod")
        self.assertTrue(self.query(s, 'node_cpu_seconds_total{job="node",mode="idle"}'))
        self.assertEqual(self.query(s, 'go_goroutines{job="node"}'), [])  # metric_relabel drop
        n = self.query(s, 'scrape_samples_scraped{job="node"}')
        self.assertGreater(float(n[0]["value"][1]), 300)

        # honor_labels: the target's own job/instance win; otherwise they are exported_*.
        honored = harness.wait_until(lambda: self.query(s, 'conflict_metric{job="their_job"}'), timeout=30,
                                     what="honored conflict_metric")
        self.assertEqual(honored[0]["metric"]["instance"], "their_instance")
        self.assertNotIn("exported_job", honored[0]["metric"])
        plain = harness.wait_until(lambda: self.query(s, 'conflict_metric{job="nohonor"}'), timeout=30,
                                   what="renamed conflict_metric")
        m = plain[0]["metric"]
        self.assertEqual(m["instance"], conflict)
        self.assertEqual(m["exported_job"], "their_job")
        self.assertEqual(m["exported_instance"], "their_instance")
        # up of the honor job still carries the configured job (synthetic series are ours).
        self.assertTrue(self.query(s, 'up{job="honor",instance="%s"}' % conflict))

        # Full relabelling: the path rewritten (else up would be 0), instance from a regex group,
        # a discovery label mapped, metric names rewritten and everything else not kept.
        port = ne.rsplit(":", 1)[1]
        harness.wait_until(lambda: self.query(s, 'up{job="relabelled",instance="node-%s",dc="tokyo"} == 1' % port),
                           timeout=60, what="relabelled target up")
        renamed = harness.wait_until(lambda: self.query(s, 'host_load1{job="relabelled"}'), timeout=30,
                                     what="host_load1")
        self.assertEqual((renamed[0]["metric"]["instance"], renamed[0]["metric"]["dc"]), ("node-" + port, "tokyo"))
        self.assertNotIn("__tmp_shard", renamed[0]["metric"])
        self.assertEqual(self.query(s, 'node_load1{job="relabelled"}'), [])
        self.assertEqual(self.query(s, 'node_cpu_seconds_total{job="relabelled"}'), [])

        # Targets API: Prometheus' shape plus the not-selected target with its reason.
        data = self.targets(s)
        active = {(t["scrapePool"], t["labels"]["instance"]): t for t in data["activeTargets"]}
        node = active[("node", ne)]
        self.assertEqual(node["health"], "up")
        self.assertEqual(node["lastError"], "")
        self.assertEqual(node["scrapeUrl"], "http://%s/metrics" % ne)
        self.assertGreater(node["samplesPerScrape"], 300)
        self.assertNotEqual(node["lastScrape"], "0001-01-01T00:00:00Z")
        self.assertEqual(node["discoveredLabels"]["__address__"], ne)
        dropped = data["droppedTargets"]
        self.assertEqual([(t["discoveredLabels"]["__address__"], t["state"]) for t in dropped],
                         [(dead, "not_selected")])
        self.assertIn("env=prod,monitor=true", dropped[0]["reason"])
        relabelled = active[("relabelled", "node-" + port)]
        self.assertEqual(relabelled["scrapeUrl"], "http://%s/metrics" % ne)
        self.assertEqual(relabelled["discoveredLabels"]["__metrics_path__"], "/wrong")
        jobs = {j["job"]: j for j in data["jobs"]}
        self.assertEqual((jobs["node"]["active"], jobs["node"]["notSelected"]), (1, 1))
        # The same path as every ingest protocol: counted and accounted by the usage guard.
        st, _, body = s.request("GET", "/metrics")
        self.assertIn('kansoku_rows_accepted_total{protocol="scrape"}', body.decode())
        st, usage = s.json("GET", "/api/v1/usage")
        self.assertEqual(st, 200)
        self.assertIn("scrape:node", json.dumps(usage))
        # The CLI table.
        out = self.cli(s, "targets")
        self.assertIn("http://%s/metrics" % ne, out)
        self.assertIn("not_selected", out)
        s.stop()

    def test_file_sd_growth_hold_alert_approve(self):
        sd = os.path.join(self.tmp, "fleet.json")

        def write_sd(n):
            # Targets nothing listens on: enrolled ones are scraped (up 0), held ones are not.
            tmp = sd + ".tmp"
            with open(tmp, "w") as f:
                json.dump([{"targets": ["127.0.0.1:%d" % (20000 + i) for i in range(n)],
                            "labels": {"env": "prod"}}], f)
            os.rename(tmp, sd)

        write_sd(4)
        cfg = """scrape:
  interval: 1s
  timeout: 500ms
scrape_configs:
  - job_name: fleet
    file_sd_configs: [{files: ["%s"]}]
    selector: "env=prod"
    max_growth: 0.5
    min_targets: 5
""" % sd
        data_dir = os.path.join(self.tmp, "data")
        s = self.server(cfg, data_dir=data_dir)
        harness.wait_until(lambda: len(self.query(s, 'up{job="fleet"}')) == 4, timeout=60, what="4 up series")
        write_sd(40)
        data = harness.wait_until(lambda: (lambda d: d if len(d["heldTargets"]) == 36 else None)(self.targets(s)),
                                  timeout=30, what="36 held targets")
        self.assertEqual(len(data["activeTargets"]), 4)
        job = data["jobs"][0]
        self.assertEqual((job["held"], job["holdBase"], job["holdLimit"]), (36, 4, 6))
        self.assertIn("approve", data["heldTargets"][0]["reason"])

        def alert():
            st, body = s.json("GET", "/api/v1/alerts")
            self.assertEqual(st, 200)
            return [a for a in body["data"]["alerts"] if a["labels"]["alertname"] == "TargetSetHeld"]
        fired = harness.wait_until(alert, timeout=60, what="TargetSetHeld alert")
        self.assertEqual(fired[0]["labels"]["job"], "fleet")
        self.assertEqual(fired[0]["state"], "firing")
        self.assertIn("36 new targets held", fired[0]["annotations"]["summary"])
        # Held targets are not scraped.
        self.assertEqual(len(self.query(s, 'up{job="fleet"}')), 4)
        out = self.cli(s, "targets", "--state", "held")
        self.assertIn("kansoku targets approve fleet", out)
        # The usage inventory lists every target with its state (#9: what is monitored).
        st, body = s.json("GET", "/api/v1/usage/sources?kind=scrape_target")
        self.assertEqual(st, 200, body)
        states = [x.get("status") for x in body["data"]]
        self.assertEqual((states.count("held"), len(states)), (36, 40), body["data"][:3])
        self.assertIn("job fleet", body["data"][0]["detail"])

        # The hold survives a restart.
        s.stop()
        s2 = self.server(cfg, data_dir=data_dir)
        self.assertEqual(len(self.targets(s2)["heldTargets"]), 36)
        out = self.cli(s2, "targets", "approve", "fleet")
        self.assertIn("36 targets approved", out)
        harness.wait_until(lambda: len(self.query(s2, 'up{job="fleet"}')) == 40, timeout=60,
                           what="40 up series after approval")
        self.assertEqual(self.targets(s2)["heldTargets"], [])

        def resolved():
            st, body = s2.json("GET", "/api/v1/alerts")
            return not [a for a in body["data"]["alerts"] if a["labels"]["alertname"] == "TargetSetHeld"]
        harness.wait_until(resolved, timeout=60, what="TargetSetHeld resolved")
        # Unknown job: a clear 404.
        st, body = s2.json("POST", "/api/v1/targets/approve", json.dumps({"job": "nope"}))
        self.assertEqual(st, 404)
        self.assertIn("nope", body["error"])
        s2.stop()

    def test_bad_scrape_config_names_the_line(self):
        path = os.path.join(self.tmp, "bad.yml")
        with open(path, "w") as f:
            f.write("scrape_configs:\n  - job_name: a\n    selector: 'env=~('\n")
        out = subprocess.run([harness.BIN, "server", "--config", path, "--check-config"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2)
        self.assertIn("bad.yml:3: scrape_configs[0].selector", out.stderr)


if __name__ == "__main__":
    unittest.main()
