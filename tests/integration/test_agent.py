"""End to end: the real `kansoku agent` against the real `kansoku server`.

- host metrics arrive through remote_write, labelled host/service/role, with Prometheus names;
- the host registers, heartbeats (key metrics), goes `poweroff` on a clean stop, is retired by
  `kansoku agent retire`, and `kansoku hosts` lists it;
- a host whose heartbeats stop is `unreachable`;
- the server is stopped for a while (KANSOKU_AGENT_OUTAGE_S, default 12 s; run it by hand with
  120 for the issue's 2-minute case) and restarted on the same port: the data of the outage
  arrives, in order, with no gap; beyond the spool bound the oldest data is dropped and counted.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

import harness

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients")
OUTAGE_S = float(os.environ.get("KANSOKU_AGENT_OUTAGE_S", "12"))


class Agent:
    def __init__(self, server_url, token, state_dir, args=(), config_text=None):
        self.state_dir = state_dir
        self.cmd = [harness.BIN, "agent", "--server", server_url, "--token", token,
                    "--state-dir", state_dir] + list(args)
        if config_text is not None:
            path = os.path.join(state_dir + "-config.yml")
            with open(path, "w") as f:
                f.write(config_text)
            self.cmd += ["--config", path]
        self.err_path = state_dir + "-stderr.txt"
        self.proc = None

    def start(self):
        self._err = open(self.err_path, "w")
        self.proc = subprocess.Popen(self.cmd, stdout=self._err, stderr=self._err)
        harness.wait_until(lambda: "kansoku agent started" in self.stderr() or self.proc.poll() is not None,
                           timeout=20, what="agent start")
        if self.proc.poll() is not None:
            raise AssertionError("agent exited %d: %s" % (self.proc.returncode, self.stderr()))
        return self

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self.proc = None
        self._err.close()
        return code


class AgentTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kansoku-agent-e2e-")
        self.servers = []
        self.agents = []

    def tearDown(self):
        for a in self.agents:
            if a.proc is not None:
                a.proc.kill()
                a.proc.wait()
        for s in self.servers:
            s.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def server(self, **kw):
        s = harness.Server(**kw).start()
        self.servers.append(s)
        return s

    def agent(self, s, name, args=(), config_text=None, token=None):
        a = Agent(s.url, token or s.token, os.path.join(self.tmp, name), args, config_text)
        self.agents.append(a)
        return a.start()

    def query(self, s, q):
        st, body = s.json("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        self.assertEqual(st, 200, body)
        return body["data"]["result"]

    def hosts(self, s, params=""):
        st, body = s.json("GET", "/api/v1/hosts" + params)
        self.assertEqual(st, 200, body)
        return body["data"]

    def cli(self, s, *args):
        out = subprocess.run([harness.BIN] + list(args) + ["--server", s.url, "--token", s.token],
                             capture_output=True, text=True, timeout=60)
        return out

    def ingest_token(self, s):
        st, body = s.json("POST", "/api/v1/tokens", body=json.dumps({"name": "agent", "scopes": ["ingest"]}))
        self.assertEqual(st, 201, body)
        return body["data"]["token"]

    def test_host_metrics_inventory_status_and_retire(self):
        s = self.server()
        token = self.ingest_token(s)  # the agent needs only the ingest scope
        a = self.agent(s, "a1", ["--service", "shop", "--role", "web", "--role", "api",
                                 "--hostname", "e2e-host-1", "--interval", "1s"], token=token)
        sel = '{host="e2e-host-1",service="shop",role="api,web"}'
        harness.wait_until(lambda: self.query(s, "host_load1" + sel), timeout=60, what="host_load1")
        for name in ["host_cpu_seconds_total", "host_memory_used_bytes", "host_memory_available_bytes",
                     "host_network_receive_bytes_total", "host_processes", "host_uptime_seconds",
                     "host_filesystem_avail_bytes", "kansoku_agent_samples_shipped_total"]:
            self.assertTrue(self.query(s, name + sel), name)
        modes = {r["metric"]["mode"] for r in self.query(s, "host_cpu_seconds_total" + sel)}
        self.assertTrue({"user", "system", "idle", "iowait"} <= modes, modes)
        # No pseudo or overlay filesystems by default.
        fstypes = {r["metric"]["fstype"] for r in self.query(s, "host_filesystem_size_bytes" + sel)}
        self.assertFalse(fstypes & {"proc", "sysfs", "tmpfs", "overlay", "cgroup2"}, fstypes)
        # Counters climb: rate over a few cycles is positive.
        harness.wait_until(lambda: self.query(s, "rate(host_cpu_seconds_total%s[5s]) > 0" % sel),
                           timeout=30, what="cpu rate")

        # Inventory: registered with facts, heartbeats carry key metrics.
        def registered():
            hs = [h for h in self.hosts(s) if h["name"] == "e2e-host-1"]
            return hs[0] if hs and "load1" in hs[0]["metrics"] else None
        h = harness.wait_until(registered, timeout=30, what="heartbeat with key metrics")
        self.assertEqual(h["service"], "shop")
        self.assertEqual(sorted(h["roles"]), ["api", "web"])
        self.assertEqual(h["status"], "working")
        self.assertFalse(h["unreachable"])
        self.assertGreater(h["meta"]["cpus"], 0)
        self.assertGreater(h["meta"]["memory_bytes"], 0)
        self.assertTrue(h["meta"]["kernel"])
        self.assertIn("memory_used_ratio", h["metrics"])
        with open(os.path.join(a.state_dir, "host_id")) as f:
            self.assertEqual(f.read().strip(), h["id"])
        # The CLI lists it (table and JSON).
        out = self.cli(s, "hosts", "--service", "shop")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("e2e-host-1", out.stdout)
        self.assertIn("working", out.stdout)
        out = self.cli(s, "hosts", "--json", "--role", "nope")
        self.assertEqual(json.loads(out.stdout)["data"], [])
        # Maintenance via the CLI.
        out = self.cli(s, "hosts", "status", h["id"], "maintenance")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(self.hosts(s, "?status=maintenance")[0]["id"], h["id"])
        out = self.cli(s, "hosts", "status", h["id"], "sleeping")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("unknown status", out.stderr)

        # A clean stop reports poweroff (Mackerel's on_stop), no connectivity alert.
        self.assertEqual(a.stop(), 0)
        h = [x for x in self.hosts(s) if x["id"] == h["id"]][0]
        self.assertEqual(h["status"], "poweroff")
        self.assertIn("host status set on stop", a.stderr())

        # Restart: same host id (state dir), status back to working.
        a = self.agent(s, "a1", ["--service", "shop", "--role", "web", "--hostname", "e2e-host-1",
                                 "--interval", "1s"], token=token)
        harness.wait_until(lambda: [x for x in self.hosts(s) if x["id"] == h["id"] and x["status"] == "working"],
                           timeout=30, what="re-registration")
        self.assertEqual(len([x for x in self.hosts(s) if x["name"] == "e2e-host-1"]), 1)
        self.assertEqual(a.stop(), 0)

        # `kansoku agent retire`: gone from the list, kept with all=1, host_id file removed.
        out = subprocess.run([harness.BIN, "agent", "retire", "--server", s.url, "--token", token,
                              "--state-dir", a.state_dir], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(h["id"], out.stdout)
        self.assertEqual([x for x in self.hosts(s) if x["id"] == h["id"]], [])
        self.assertTrue([x for x in self.hosts(s, "?all=1") if x["id"] == h["id"] and x["retired"]])
        self.assertFalse(os.path.exists(os.path.join(a.state_dir, "host_id")))
        st, body = s.json("POST", "/api/v1/hosts/%s/heartbeat" % h["id"], body="{}")
        self.assertEqual(st, 410, body)

    def test_unreachable_after_missed_heartbeats(self):
        s = self.server()
        a = self.agent(s, "a2", ["--hostname", "e2e-silent", "--interval", "1s", "--service", "shop"])
        h = harness.wait_until(lambda: [x for x in self.hosts(s) if x["name"] == "e2e-silent"],
                               timeout=30, what="registration")[0]
        self.assertFalse(h["unreachable"])
        a.stop(signal.SIGKILL)  # no clean stop: heartbeats just stop
        harness.wait_until(lambda: self.hosts(s, "?status=unreachable"), timeout=30, what="unreachable")
        h = [x for x in self.hosts(s) if x["id"] == h["id"]][0]
        self.assertTrue(h["unreachable"])
        self.assertEqual(h["status"], "working")
        out = self.cli(s, "hosts")
        self.assertIn("unreachable", out.stdout)
        st, body = s.json("GET", "/api/v1/hosts?status=bogus")
        self.assertEqual(st, 400)
        st, body = s.json("POST", "/api/v1/hosts", body="{not json")
        self.assertEqual(st, 400)
        self.assertIn("cannot parse", body["error"])

    def test_unreachable_threshold_config_per_host_and_plugin_graphs(self):
        # Server default 30 missed intervals (hosts.unreachable_after); one agent asks for 1.
        s = self.server(config_text="hosts:\n  unreachable_after: 30\n")
        plugin = os.path.join(self.tmp, "queue-plugin.sh")
        with open(plugin, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ \"$MACKEREL_AGENT_PLUGIN_META\" = 1 ]; then\n"
                    "  echo '# mackerel-agent-plugin'\n"
                    "  echo '{\"graphs\":{\"queue.#\":{\"label\":\"Queue\",\"unit\":\"bytes\","
                    "\"metrics\":[{\"name\":\"size\",\"label\":\"Size\"}]}}}'\n"
                    "  exit 0\n"
                    "fi\n"
                    "printf 'queue.mail.size\\t42\\t%s\\n' \"$(date +%s)\"\n")
        cfg = "plugins:\n  metrics:\n    queue:\n      command: sh %s\n      interval: 1s\n" % plugin
        strict = self.agent(s, "a-strict", ["--hostname", "e2e-strict", "--interval", "1s",
                                            "--unreachable-after", "1"], config_text=cfg)
        lax = self.agent(s, "a-lax", ["--hostname", "e2e-lax", "--interval", "1s"])
        hosts = harness.wait_until(
            lambda: (lambda hs: hs if len(hs) == 2 and "plugin_graphs" in hs["e2e-strict"]["meta"] else None)(
                {x["name"]: x for x in self.hosts(s)}), timeout=30, what="both hosts and the plugin graphs")
        self.assertEqual(hosts["e2e-strict"]["unreachable_after"], 1)
        self.assertEqual(hosts["e2e-lax"]["unreachable_after"], 30)
        graph = hosts["e2e-strict"]["meta"]["plugin_graphs"]["queue"]["queue.#"]
        self.assertEqual(graph["label"], "Queue")
        self.assertEqual(graph["metrics"][0]["series"], "custom_queue_size_bytes")
        r = harness.wait_until(lambda: self.query(s, 'custom_queue_size_bytes{host="e2e-strict"}'),
                               timeout=30, what="series named from the graph definition")
        self.assertEqual(r[0]["metric"]["wildcard"], "mail")
        self.assertEqual(r[0]["metric"]["graph"], "queue.#")
        self.assertEqual(float(r[0]["value"][1]), 42)
        strict.stop(signal.SIGKILL)
        lax.stop(signal.SIGKILL)
        harness.wait_until(lambda: [x for x in self.hosts(s, "?status=unreachable") if x["name"] == "e2e-strict"],
                           timeout=30, what="strict host unreachable")
        lax_now = [x for x in self.hosts(s) if x["name"] == "e2e-lax"][0]
        self.assertFalse(lax_now["unreachable"])

    def test_server_outage_no_gap(self):
        port = harness.free_port()
        data = os.path.join(self.tmp, "server-data")
        s = self.server(listen=("127.0.0.1:%d" % port,), data_dir=data)
        cfg = ("shipping:\n  queue_max_batches: 2\n  initial_backoff: 200ms\n  max_backoff: 1s\n"
               "  timeout: 2s\n")
        a = self.agent(s, "a3", ["--hostname", "e2e-outage", "--interval", "1s"], config_text=cfg)
        sel = '{host="e2e-outage"}'
        harness.wait_until(lambda: self.query(s, "host_uptime_seconds" + sel), timeout=60, what="first data")
        time.sleep(2)
        s.stop()
        t_down = time.time()
        spool = os.path.join(a.state_dir, "spool")
        # During the outage the agent keeps collecting; beyond 2 batches in memory they go to disk.
        harness.wait_until(lambda: len([f for f in os.listdir(spool) if f.endswith(".rw")]) >= 3,
                           timeout=30, what="spooled batches")
        max_spooled = [0]
        while time.time() - t_down < OUTAGE_S:
            max_spooled[0] = max(max_spooled[0], len([f for f in os.listdir(spool) if f.endswith(".rw")]))
            time.sleep(0.5)
        t_up = time.time()
        s.start()
        # The queue drains, oldest first.
        harness.wait_until(lambda: not [f for f in os.listdir(spool) if f.endswith(".rw")],
                           timeout=120, what="spool drained")
        harness.wait_until(lambda: self.query(s, "host_uptime_seconds%s" % sel) and
                           float(self.query(s, "timestamp(host_uptime_seconds%s)" % sel)[0]["value"][1]) > time.time() - 5,
                           timeout=60, what="fresh data")
        window = int(time.time() - t_down) + 10
        r = self.query(s, "host_uptime_seconds%s[%ds]" % (sel, window))
        self.assertEqual(len(r), 1, r)
        ts = [float(v[0]) for v in r[0]["values"]]
        inside = [t for t in ts if t_down <= t <= t_up]
        # One sample per second of the outage (allowing for a loaded machine's late cycles).
        self.assertGreaterEqual(len(inside), int(OUTAGE_S * 0.8), (len(inside), OUTAGE_S))
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        print("\noutage %.1f s: %d samples inside it, %d in the %d s window, max gap %.2f s, "
              "spooled batches at most %d" % (t_up - t_down, len(inside), len(ts), window, max(gaps),
                                              max_spooled[0]), file=sys.stderr)
        self.assertLess(max(gaps), 3.5, "gap in the data: %r" % max(gaps))
        self.assertTrue(all(g > 0 for g in gaps))
        # Nothing was dropped.
        dropped = self.query(s, 'kansoku_agent_samples_dropped_total%s' % sel)
        self.assertTrue(all(float(x["value"][1]) == 0 for x in dropped), dropped)
        self.assertIn("cannot reach the server", a.stderr())
        self.assertEqual(a.stop(), 0)

    def test_spool_bound_drops_oldest_and_counts(self):
        port = harness.free_port()
        data = os.path.join(self.tmp, "server-data")
        s = self.server(listen=("127.0.0.1:%d" % port,), data_dir=data)
        cfg = ("shipping:\n  queue_max_batches: 1\n  spool_max_bytes: 24KiB\n  initial_backoff: 200ms\n"
               "  max_backoff: 1s\n  timeout: 2s\n")
        a = self.agent(s, "a4", ["--hostname", "e2e-bound", "--interval", "1s"], config_text=cfg)
        sel = '{host="e2e-bound"}'
        harness.wait_until(lambda: self.query(s, "host_uptime_seconds" + sel), timeout=60, what="first data")
        s.stop()
        harness.wait_until(lambda: "queue bound reached" in a.stderr(), timeout=60, what="drop log")
        s.start()
        harness.wait_until(lambda: [x for x in self.query(s, 'kansoku_agent_samples_dropped_total{host="e2e-bound",reason="spool_full"}')
                                    if float(x["value"][1]) > 0], timeout=60, what="drop counter shipped")
        self.assertEqual(a.stop(), 0)

    def run_hotshots(self, port, buffer, round_):
        env = dict(os.environ, STATSD_PORT=str(port), STATSD_BUFFER=str(buffer), ROUND=round_)
        r = subprocess.run(["node", os.path.join(CLIENTS, "statsd_hotshots.mjs")], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_statsd_with_hotshots(self):
        if not os.path.isdir(os.path.join(CLIENTS, "node_modules", "hot-shots")):
            self.fail("tests/clients/node_modules/hot-shots is missing: scripts/install-deps installs it")
        s = self.server()
        port = harness.free_port()
        a = self.agent(s, "a5", ["--hostname", "e2e-statsd", "--interval", "1s",
                                 "--statsd", "127.0.0.1:%d" % port])
        # One datagram per metric, then several lines per datagram.
        self.run_hotshots(port, 0, "1")
        self.run_hotshots(port, 1400, "2")
        # A datagram that does not parse is counted and logged, and the rest still works.
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.sendto(b"garbage without type\nkansoku.after_garbage:1|c", ("127.0.0.1", port))
        sock.close()
        for rnd in ("1", "2"):
            sel = '{env="test",service="checkout",host="e2e-statsd",round="%s"' % rnd
            # The service check is the last line hot-shots sends: once it is in, everything is
            # (the lines of one run may straddle two flush intervals).
            harness.wait_until(lambda: self.query(s, 'statsd_service_check_status%s}' % sel),
                               timeout=30, what="last line of round " + rnd)
            r = self.query(s, 'kansoku_orders_created_total%s,region="eu"}' % sel)
            self.assertEqual(float(r[0]["value"][1]), 7.0)
            self.assertEqual(float(self.query(s, "kansoku_inventory_reserved_total%s}" % sel)[0]["value"][1]), -2)
            self.assertEqual(float(self.query(s, 'kansoku_queue_depth%s,queue="email"}' % sel)[0]["value"][1]), 17)
            self.assertEqual(float(self.query(s, "kansoku_temperature%s}" % sel)[0]["value"][1]), -3.5)
            # Quantiles are per flush interval (the values may straddle two): the largest p99 seen
            # is the largest value sent, and every quantile lies within the values sent.
            q = {x["metric"]["quantile"]: float(x["value"][1])
                 for x in self.query(s, 'max_over_time(kansoku_db_query%s,table="orders"}[1m])' % sel)}
            self.assertEqual(set(q), {"0.5", "0.9", "0.99"})
            self.assertEqual(q["0.99"], 100.0)
            self.assertTrue(all(10 <= v <= 100 for v in q.values()), q)
            self.assertEqual(float(self.query(s, "kansoku_db_query_count%s}" % sel)[0]["value"][1]), 10)
            self.assertEqual(float(self.query(s, "kansoku_db_query_sum%s}" % sel)[0]["value"][1]), 550)
            self.assertEqual(float(self.query(s, "kansoku_request_duration_ms_sum%s}" % sel)[0]["value"][1]), 123.4)
            self.assertEqual(float(self.query(s, "kansoku_payload_bytes_count%s}" % sel)[0]["value"][1]), 1)
            self.assertEqual(float(self.query(s, "max_over_time(kansoku_users_unique%s}[1m])" % sel)[0]["value"][1]), 2)
            ev = self.query(s, 'statsd_events_total%s,alert_type="info",version="1.2.3"}' % sel)
            self.assertEqual(float(ev[0]["value"][1]), 1)
            sc = self.query(s, 'statsd_service_check_status%s,check="kansoku.checkout.health",probe="http"}' % sel)
            self.assertEqual(float(sc[0]["value"][1]), 1)  # WARNING
        harness.wait_until(lambda: self.query(s, 'kansoku_after_garbage_total{host="e2e-statsd"}'), timeout=30,
                           what="line after garbage")
        rej = harness.wait_until(lambda: [x for x in self.query(s, 'kansoku_agent_statsd_lines_rejected_total{host="e2e-statsd"}')
                                          if float(x["value"][1]) >= 1], timeout=30, what="rejected counter")
        self.assertEqual(float(rej[0]["value"][1]), 1)
        self.assertIn("statsd lines rejected", a.stderr())
        self.assertEqual(a.stop(), 0)

    def test_plugins_metrics_checks_timeouts_no_zombies(self):
        s = self.server()
        cfg = """plugins:
  metrics:
    app: {command: "printf 'app.queue.depth\\t5\\t%s\\napp.conn-active\\t2.5\\t%s\\n' $(date +%s) $(date +%s)", interval: 1s, timeout: 5s}
    garbage: {command: "echo not a metric line; printf 'ok.one\\t1\\t0\\n'", interval: 1s, timeout: 5s}
    hang: {command: "sleep 60", interval: 1s, timeout: 500ms}
    flood: {command: "yes 'x.y\\t1\\t0' | head -c 3000000", interval: 1s, timeout: 5s}
  checks:
    disk: {command: "echo disk 91% used; echo second line; exit 1", interval: 1s, timeout: 5s}
    hung: {command: "sleep 60", interval: 1s, timeout: 500ms}
"""
        a = self.agent(s, "a6", ["--hostname", "e2e-plugins", "--interval", "1s"], config_text=cfg)
        sel = '{host="e2e-plugins"'
        r = harness.wait_until(lambda: self.query(s, 'custom_app_queue_depth%s,plugin="app"}' % sel),
                               timeout=30, what="metric plugin")
        self.assertEqual(float(r[0]["value"][1]), 5)
        self.assertEqual(float(self.query(s, 'custom_app_conn_active%s}' % sel)[0]["value"][1]), 2.5)
        harness.wait_until(lambda: self.query(s, 'custom_ok_one%s,plugin="garbage"}' % sel), timeout=30,
                           what="good line of a plugin that also prints garbage")
        st = harness.wait_until(lambda: self.query(s, 'kansoku_check_status%s,check="disk"}' % sel),
                                timeout=30, what="check status")
        self.assertEqual(float(st[0]["value"][1]), 1)  # WARNING
        hung = harness.wait_until(lambda: self.query(s, 'kansoku_check_status%s,check="hung"}' % sel),
                                  timeout=30, what="timed-out check")
        self.assertEqual(float(hung[0]["value"][1]), 3)  # UNKNOWN
        # Check results reach the host registry.
        def checks():
            hs = [h for h in self.hosts(s) if h["name"] == "e2e-plugins"]
            return {c["name"]: c for c in hs[0]["checks"]} if hs and len(hs[0]["checks"]) == 2 else None
        c = harness.wait_until(checks, timeout=30, what="checks in the hosts API")
        self.assertEqual(c["disk"]["status"], "WARNING")
        self.assertEqual(c["disk"]["message"], "disk 91% used")
        self.assertEqual(c["hung"]["status"], "UNKNOWN")
        # The hanging and flooding plugins are counted as failures; nothing else stopped.
        fails = harness.wait_until(lambda: {x["metric"]["plugin"]: float(x["value"][1]) for x in
                                            self.query(s, 'kansoku_agent_plugin_failures_total%s} > 0' % sel)
                                            if len(self.query(s, 'kansoku_agent_plugin_failures_total%s} > 0' % sel)) >= 2},
                                   timeout=30, what="plugin failures")
        self.assertIn("hang", fails)
        self.assertIn("flood", fails)
        rej = self.query(s, 'kansoku_agent_plugin_lines_rejected_total%s}' % sel)
        self.assertGreaterEqual(float(rej[0]["value"][1]), 1)
        # No zombies: a child may be caught for a moment between its exit and the agent's
        # waitpid, but never the same one twice, 2 s apart.
        def zombies():
            out = set()
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % pid) as f:
                        parts = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(parts[1]) == a.proc.pid and parts[0] == "Z":
                    out.add(pid)
            return out
        first = zombies()
        time.sleep(2)
        self.assertEqual(first & zombies(), set())
        self.assertEqual(a.stop(), 0)

    def test_scrape_node_exporter(self):
        s = self.server()
        ne_port = harness.free_port()
        ne = subprocess.Popen(["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % ne_port,
                               "--no-collector.systemd", "--log.level=warn"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            sd = os.path.join(self.tmp, "sd.json")
            with open(sd, "w") as f:
                json.dump([{"targets": ["127.0.0.1:%d" % ne_port], "labels": {"env": "sd"}},
                           {"targets": ["127.0.0.1:%d" % harness.free_port()], "labels": {"env": "dead"}}], f)
            # A target answering invalid exposition: the kansoku server's own /-/healthy text.
            cfg = """scrape:
  - job: node
    targets: ["127.0.0.1:%d"]
    labels: {env: static}
    metric_drop: "go_.*"
  - job: node_sd
    file_sd: ["%s"]
    metric_keep: "node_(load1|cpu_seconds_total|memory_MemTotal_bytes)"
    honor_labels: true
  - job: invalid
    targets: ["%s"]
    metrics_path: /-/healthy
""" % (ne_port, sd, s.addr)
            a = self.agent(s, "a7", ["--hostname", "e2e-scrape", "--interval", "1s"], config_text=cfg)
            inst = "127.0.0.1:%d" % ne_port
            r = harness.wait_until(lambda: self.query(s, 'node_load1{job="node",instance="%s",env="static"}' % inst),
                                   timeout=60, what="node_exporter series")
            self.assertEqual(r[0]["metric"]["host"], "e2e-scrape")
            harness.wait_until(lambda: self.query(s, 'node_cpu_seconds_total{job="node",mode="idle"}'),
                               timeout=30, what="node_cpu_seconds_total")
            self.assertEqual(self.query(s, 'go_goroutines{job="node"}'), [])  # metric_drop
            self.assertTrue(self.query(s, 'go_goroutines{job="node_sd"}') == [])  # not in keep
            # Jobs are scraped one after the other: the file_sd job may land a moment later.
            harness.wait_until(lambda: self.query(s, 'node_memory_MemTotal_bytes{job="node_sd",env="sd"}'),
                               timeout=30, what="file_sd target series")
            up = harness.wait_until(lambda: {(x["metric"]["job"], x["metric"].get("env", "")): float(x["value"][1])
                                             for x in self.query(s, "up")} if len(self.query(s, "up")) >= 4 else None,
                                    timeout=60, what="up series")
            self.assertEqual(up[("node", "static")], 1)
            self.assertEqual(up[("node_sd", "sd")], 1)
            self.assertEqual(up[("node_sd", "dead")], 0)
            self.assertEqual(up[("invalid", "")], 0)
            n = self.query(s, 'scrape_samples_scraped{job="node"}')
            self.assertGreater(float(n[0]["value"][1]), 300)
            self.assertTrue(self.query(s, 'scrape_duration_seconds{job="node"} > 0'))
            err = a.stderr()
            self.assertIn("scrape target down", err)
            self.assertIn("invalid exposition", err)
            self.assertEqual(a.stop(), 0)
        finally:
            ne.kill()
            ne.wait()


    def test_agent_held_targets_reported_and_approved(self):
        """#9 items 1 and 4 on an agent: its held scrape targets reach the server (targets API,
        usage inventory, `kansoku targets`, TargetSetHeld alert), and an approval given on the
        server reaches the agent, which scrapes them and keeps the approval over a restart."""
        s = self.server()
        token = self.ingest_token(s)  # reporting targets needs only the ingest scope
        exporters = []
        try:
            ports = []
            for _ in range(2):
                port = harness.free_port()
                exporters.append(subprocess.Popen(
                    ["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % port,
                     "--no-collector.systemd", "--log.level=warn"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                ports.append(port)
            dead = harness.free_port()
            sd = os.path.join(self.tmp, "fleet.json")

            def write_sd(targets):
                with open(sd + ".tmp", "w") as f:
                    json.dump([{"targets": ["127.0.0.1:%d" % p for p in targets],
                                "labels": {"env": "prod"}},
                               {"targets": ["127.0.0.1:%d" % dead], "labels": {"env": "dev"}}], f)
                os.rename(sd + ".tmp", sd)

            write_sd(ports[:1])
            cfg = """scrape:
  - job: fleet
    file_sd: ["%s"]
    selector: "env=prod"
    max_growth: 0.5
    min_targets: 1
    metric_keep: "node_(load1|boot_time_seconds)"
""" % sd
            a = self.agent(s, "held", ["--hostname", "e2e-fleet", "--interval", "1s"],
                           config_text=cfg, token=token)
            first = "127.0.0.1:%d" % ports[0]
            second = "127.0.0.1:%d" % ports[1]
            harness.wait_until(lambda: self.query(s, 'node_load1{job="fleet",instance="%s"}' % first),
                               timeout=60, what="the first exporter's series")

            def targets(state="any"):
                st, body = s.json("GET", "/api/v1/targets?state=" + state)
                self.assertEqual(st, 200, body)
                return body["data"]
            # The agent's view reaches the server: active (with health), not_selected.
            data = harness.wait_until(
                lambda: (lambda d: d if any(t.get("health") == "up" for t in d["activeTargets"]) and
                         d["droppedTargets"] else None)(targets()), timeout=60, what="agent targets report")
            t = data["activeTargets"][0]
            self.assertEqual((t["scope"], t["agent"]["host"], t["scrapePool"]), ("agent", "e2e-fleet", "fleet"))
            self.assertEqual(t["labels"]["instance"], first)
            self.assertGreater(t["samplesPerScrape"], 0)
            self.assertNotEqual(t["lastScrape"], "0001-01-01T00:00:00Z")
            self.assertEqual(data["droppedTargets"][0]["state"], "not_selected")

            # The set grows beyond +50 %: the new target is held on the agent, not scraped.
            write_sd(ports)
            data = harness.wait_until(lambda: (lambda d: d if d["heldTargets"] else None)(targets()),
                                      timeout=60, what="held target reported")
            held = data["heldTargets"][0]
            self.assertEqual((held["scrapePool"], held["agent"]["host"]), ("fleet", "e2e-fleet"))
            self.assertEqual(held["labels"]["instance"], second)
            job = [j for j in data["jobs"] if j["job"] == "fleet"][0]
            self.assertEqual((job["scope"], job["held"], job["holdBase"], job["holdLimit"]), ("agent", 1, 1, 1))
            time.sleep(3)
            self.assertEqual(self.query(s, 'up{job="fleet",instance="%s"}' % second), [])

            def alert():
                st, body = s.json("GET", "/api/v1/alerts")
                self.assertEqual(st, 200)
                return [x for x in body["data"]["alerts"] if x["labels"]["alertname"] == "TargetSetHeld"]
            fired = harness.wait_until(alert, timeout=60, what="TargetSetHeld alert for the agent")
            self.assertEqual((fired[0]["labels"]["scope"], fired[0]["labels"]["host"], fired[0]["labels"]["job"]),
                             ("agent", "e2e-fleet", "fleet"))
            self.assertIn("--host e2e-fleet", fired[0]["annotations"]["description"])

            # Usage inventory and CLI name the agent's targets and their state.
            st, body = s.json("GET", "/api/v1/usage/sources?kind=scrape_target")
            self.assertEqual(st, 200, body)
            mine = {x["name"]: x for x in body["data"] if x["name"].endswith(" on e2e-fleet")}
            self.assertEqual(mine["http://%s/metrics on e2e-fleet" % second]["status"], "held")
            self.assertEqual(mine["http://%s/metrics on e2e-fleet" % first]["status"], "up")
            self.assertIn("agent e2e-fleet, job fleet", mine["http://%s/metrics on e2e-fleet" % first]["detail"])
            out = self.cli(s, "targets", "--state", "held")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("agent e2e-fleet", out.stdout)
            self.assertIn("kansoku targets approve fleet --host e2e-fleet", out.stdout)

            # Unknown job or host: clear 404s. Then approve from the server with the CLI.
            out = self.cli(s, "targets", "approve", "nope")
            self.assertNotEqual(out.returncode, 0)
            self.assertIn('scrape job "nope"', out.stderr)
            out = self.cli(s, "targets", "approve", "fleet", "--host", "other-host")
            self.assertNotEqual(out.returncode, 0)
            out = self.cli(s, "targets", "approve", "fleet", "--host", "e2e-fleet")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("1 targets approved (1 on agents", out.stdout)
            harness.wait_until(lambda: self.query(s, 'node_load1{job="fleet",instance="%s"}' % second),
                               timeout=60, what="the approved target's series")
            harness.wait_until(lambda: not targets()["heldTargets"], timeout=30, what="no held target")
            self.assertIn("scrape target approved by the server", a.stderr())
            harness.wait_until(lambda: not alert(), timeout=60, what="TargetSetHeld resolved")

            # The agent persisted the approval: after a restart both targets are scraped, none held.
            self.assertEqual(a.stop(), 0)
            a2 = self.agent(s, "held", ["--hostname", "e2e-fleet", "--interval", "1s"],
                            config_text=cfg, token=token)
            restarted = time.time()
            harness.wait_until(
                lambda: all(self.query(s, 'timestamp(up{job="fleet",instance="%s"}) > %f' % (i, restarted))
                            for i in (first, second)), timeout=60, what="both targets scraped after restart")
            self.assertNotIn("held", [t["state"] for t in targets()["activeTargets"]])
            self.assertEqual(targets()["heldTargets"], [])
            self.assertEqual(a2.stop(), 0)
        finally:
            for ne in exporters:
                ne.kill()
                ne.wait()

if __name__ == "__main__":
    unittest.main()
