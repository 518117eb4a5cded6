"""End to end: alerting rules evaluated by the real server on data written by the real influx
CLI; notifications to a local webhook sink (python http.server) and a local SMTP sink
(python3-aiosmtpd), forwarding to Debian's prometheus-alertmanager, silences, reloads with
broken rule files (checked against Debian's promtool too) and alert state across a restart."""
import json
import os
import shutil
import signal
import tempfile
import subprocess
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"

RULES = """groups:
  - name: e2e
    interval: 1s
    rules:
      - record: room:e2e_temp_celsius:max
        expr: max by (room) (e2e_temp_celsius)
      - alert: TempHigh
        expr: e2e_temp_celsius > 50
        for: 2s
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.room }} is {{ $value }} C"
          description: "{{ $value | humanize }} degrees in {{ $labels.room }}"
"""

NOTIFY = """route:
  receiver: team
  group_by: [alertname]
  group_wait: 2s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: "http://127.0.0.1:%(hook)d/hook"
    email_configs:
      - to: "ops@example.com"
        from: "kansoku@example.com"
        smarthost: "127.0.0.1:%(smtp)d"
        send_resolved: true
"""


class Sink:
    """Webhook sink: records every POSTed JSON body."""

    def __init__(self):
        self.bodies = []
        self.lock = threading.Lock()
        sink = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(n)
                with sink.lock:
                    sink.bodies.append(json.loads(data))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def get(self):
        with self.lock:
            return list(self.bodies)

    def close(self):
        self.srv.shutdown()


class SmtpSink:
    """aiosmtpd (Debian python3-aiosmtpd) on 127.0.0.1: records every message."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.content.decode("utf-8", "replace")))
                return "250 OK"

        self.port = harness.free_port()
        self.ctl = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.ctl.start()

    def close(self):
        self.ctl.stop()


def influx_insert(server, token, *lines):
    """Writes line-protocol lines with the influx 1.x CLI (-import: one request, all lines)."""
    path = os.path.join(server.tmp, "import-%d.lp" % time.monotonic_ns())
    with open(path, "w") as f:
        f.write("# DML\n# CONTEXT-DATABASE: kansoku\n\n" + "\n".join(lines) + "\n")
    cmd = ["influx", "-host", "127.0.0.1", "-port", str(server.port), "-username", "influx",
           "-password", token, "-import", "-path", path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "Failed 0 inserts" in out, out


class AlertingTest(unittest.TestCase):
    def setUp(self):
        self.hook = Sink()
        self.smtp = SmtpSink()
        self.s = harness.Server(config_text="alerting:\n  resend_delay: 1s\n  flapping:\n    threshold: 0\n")
        os.makedirs(self.s.tmp, exist_ok=True)
        self.rules = os.path.join(self.s.tmp, "rules")
        os.makedirs(self.rules)
        with open(os.path.join(self.rules, "e2e.yml"), "w") as f:
            f.write(RULES)
        self.notify = os.path.join(self.s.tmp, "notify.yml")
        with open(self.notify, "w") as f:
            f.write(NOTIFY % {"hook": self.hook.port, "smtp": self.smtp.port})
        self.s.args += ["--rules", os.path.join(self.rules, "*.yml"), "--notifications", self.notify]
        self.s.start()
        st, created = self.s.json("POST", "/api/v1/tokens", json.dumps({"name": "w", "scopes": ["ingest"]}))
        self.ingest = created["data"]["token"]

    def tearDown(self):
        self.s.cleanup()
        self.hook.close()
        self.smtp.close()

    def alerts(self):
        st, body = self.s.json("GET", "/api/v1/alerts")
        self.assertEqual(st, 200)
        return body["data"]["alerts"]

    def test_fire_group_resolve_email_silence_restart(self):
        influx_insert(self.s, self.ingest, "e2e_temp,room=a celsius=70", "e2e_temp,room=b celsius=80")
        # One grouped notification with both rooms.
        bodies = harness.wait_until(lambda: self.hook.get(), timeout=60, what="first webhook")
        time.sleep(3)  # more evaluations and group intervals: must not notify again
        bodies = self.hook.get()
        self.assertEqual(len(bodies), 1, bodies)
        first = bodies[0]
        self.assertEqual(first["status"], "firing")
        self.assertEqual(first["version"], "4")
        self.assertEqual(first["groupLabels"], {"alertname": "TempHigh"})
        self.assertEqual(sorted(a["labels"]["room"] for a in first["alerts"]), ["a", "b"])
        a = [x for x in first["alerts"] if x["labels"]["room"] == "a"][0]
        self.assertEqual(a["annotations"]["summary"], "a is 70 C")
        self.assertEqual(a["labels"]["severity"], "page")
        self.assertEqual(a["endsAt"], "0001-01-01T00:00:00Z")
        # Prometheus-shaped APIs, ALERTS series and the recording rule.
        alerts = self.alerts()
        self.assertEqual(sorted(x["labels"]["room"] for x in alerts), ["a", "b"])
        self.assertTrue(all(x["state"] == "firing" for x in alerts))
        active_at = {x["labels"]["room"]: x["activeAt"] for x in alerts}
        st, body = self.s.json("GET", "/api/v1/query?query=" + urllib.request.quote('ALERTS{alertstate="firing"}'))
        self.assertEqual(len(body["data"]["result"]), 2)
        st, body = self.s.json("GET", "/api/v1/query?query=" + urllib.request.quote('room:e2e_temp_celsius:max{room="b"}'))
        self.assertEqual(body["data"]["result"][0]["value"][1], "80")
        st, body = self.s.json("GET", "/api/v1/rules?type=alert")
        rule = body["data"]["groups"][0]["rules"][0]
        self.assertEqual((rule["name"], rule["state"], rule["health"], rule["duration"]), ("TempHigh", "firing", "ok", 2))
        # The email went out too.
        harness.wait_until(lambda: self.smtp.messages, timeout=30, what="email")
        mail_from, rcpts, content = self.smtp.messages[0]
        self.assertEqual(rcpts, ["ops@example.com"])
        self.assertIn("Subject: [FIRING:2]", content)
        self.assertIn("a is 70 C", content)

        # State survives a restart: same activeAt, no second "firing" notification.
        self.s.stop()
        self.s.start()
        alerts = self.alerts()
        self.assertEqual({x["labels"]["room"]: x["activeAt"] for x in alerts}, active_at)
        time.sleep(4)
        self.assertEqual(len(self.hook.get()), 1, self.hook.get())

        # A silence on room c: c fires (visible in the API) but nobody is notified.
        r = subprocess.run([harness.BIN, "silences", "add", 'room="c"', "--duration", "1h", "--author", "e2e",
                            "--comment", "maintenance of c", "--server", self.s.url, "--token", self.s.token],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        sil_id = json.loads(r.stdout)["data"]["silenceID"]
        influx_insert(self.s, self.ingest, "e2e_temp,room=c celsius=90")
        harness.wait_until(lambda: any(x["labels"]["room"] == "c" and x["state"] == "firing" for x in self.alerts()),
                           timeout=30, what="room c firing")
        time.sleep(4)
        self.assertEqual(len(self.hook.get()), 1, self.hook.get())
        st, body = self.s.json("GET", "/api/v1/silences")
        self.assertEqual(body["data"][0]["id"], sil_id)
        self.assertEqual(body["data"][0]["status"]["state"], "active")
        self.assertEqual(body["data"][0]["createdBy"], "e2e")
        r = subprocess.run([harness.BIN, "silences", "list", "--server", self.s.url, "--token", self.s.token],
                           capture_output=True, text=True, timeout=30)
        self.assertIn('room="c"', r.stdout)
        self.assertIn("maintenance of c", r.stdout)

        # a and b cool down: exactly one resolved notification for them (c stays muted).
        influx_insert(self.s, self.ingest, "e2e_temp,room=a celsius=20", "e2e_temp,room=b celsius=21")
        harness.wait_until(lambda: len(self.hook.get()) >= 2, timeout=60, what="resolved webhook")
        time.sleep(3)
        bodies = self.hook.get()
        self.assertEqual(len(bodies), 2, bodies)
        resolved = bodies[1]
        self.assertEqual(resolved["status"], "resolved")
        self.assertEqual(sorted(a["labels"]["room"] for a in resolved["alerts"]), ["a", "b"])
        self.assertTrue(all(a["status"] == "resolved" for a in resolved["alerts"]))
        harness.wait_until(lambda: any("[RESOLVED]" in m[2] for m in self.smtp.messages), timeout=30,
                           what="resolved email")
        st, hist = self.s.json("GET", "/api/v1/notifications")
        results = [(h["integration"], h["status"], h["result"]) for h in hist["data"]]
        # (history is in memory: what was sent since the restart)
        self.assertIn(("webhook", "resolved", "ok"), results)
        self.assertIn(("email", "resolved", "ok"), results)

    def test_bad_rule_files_keep_previous_rules(self):
        # Our files pass promtool as well.
        r = subprocess.run([PROMTOOL, "check", "rules", os.path.join(self.rules, "e2e.yml")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # kansoku's per-rule options ride in annotations, so promtool accepts them as well.
        opts = os.path.join(self.s.tmp, "opts.yml")
        with open(opts, "w") as f:
            f.write("groups:\n  - name: o\n    rules:\n      - alert: Quiet\n        expr: up == 0\n"
                    "        keep_firing_for: 5m\n"
                    "        annotations: {kansoku_no_data: keep, kansoku_flapping: 'off'}\n")
        r = subprocess.run([PROMTOOL, "check", "rules", opts], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        broken = os.path.join(self.rules, "broken.yml")
        with open(broken, "w") as f:
            f.write("groups:\n  - name: bad\n    rules:\n      - alert: Oops\n        expr: 'up =='\n")
        r = subprocess.run([PROMTOOL, "check", "rules", broken], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)  # promtool rejects it as well
        # SIGHUP: reload fails with file, line and reason; the old rules stay.
        self.s.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "broken.yml:5:15" in self.s.stderr(), timeout=30, what="reload error in log")
        st, body = self.s.json("GET", "/api/v1/rules")
        self.assertEqual([g["name"] for g in body["data"]["groups"] if g["file"] != "(built-in)"], ["e2e"])
        # The API says the same.
        st, body = self.s.json("POST", "/api/v1/rules/reload")
        self.assertEqual(st, 400)
        self.assertIn("broken.yml:5:15", body["error"])
        self.assertIn("could not parse expression", body["error"])
        os.remove(broken)
        # Rule files managed over the API: a bad one is refused, a good one is live at once.
        st, body = self.s.json("PUT", "/api/v1/rules/files/api.yml", "groups:\n  - name: g\n    rules:\n      - record: x\n        for: 1m\n        expr: up\n")
        self.assertEqual(st, 400)
        self.assertIn("api.yml:4:9", body["error"])
        st, body = self.s.json("PUT", "/api/v1/rules/files/api.yml",
                               "groups:\n  - name: from-api\n    rules:\n      - alert: Always\n        expr: vector(1)\n")
        self.assertEqual(st, 200, body)
        st, body = self.s.json("GET", "/api/v1/rules")
        self.assertEqual(sorted(g["name"] for g in body["data"]["groups"] if g["file"] != "(built-in)"),
                         ["e2e", "from-api"])
        harness.wait_until(lambda: any(a["labels"]["alertname"] == "Always" for a in self.alerts()), timeout=30,
                           what="API rule fires")


class HostMonitorTest(unittest.TestCase):
    """Built-in connectivity monitor: a killed agent gives exactly one HostDown notification; an
    agent stopped cleanly (status poweroff) gives none."""

    def test_killed_agent_one_connectivity_alert(self):
        hook = Sink()
        s = harness.Server(config_text="alerting:\n  evaluation_interval: 1s\n  resend_delay: 1s\n")
        agents = []
        try:
            os.makedirs(s.tmp, exist_ok=True)
            notify = os.path.join(s.tmp, "notify.yml")
            with open(notify, "w") as f:
                f.write("route:\n  receiver: ops\n  group_by: [alertname]\n  group_wait: 1s\n"
                        "  group_interval: 2s\nreceivers:\n  - name: ops\n    webhook_configs:\n"
                        "      - url: 'http://127.0.0.1:%d/hook'\n" % hook.port)
            s.args += ["--notifications", notify]
            s.start()
            for name in ("e2e-killed", "e2e-clean"):
                cmd = [harness.BIN, "agent", "--server", s.url, "--token", s.token, "--state-dir",
                       os.path.join(s.tmp, name), "--hostname", name, "--interval", "1s"]
                err = open(os.path.join(s.tmp, name + ".log"), "w")
                agents.append((subprocess.Popen(cmd, stdout=err, stderr=err), err))

            def registered():
                st, body = s.json("GET", "/api/v1/hosts")
                return len(body["data"]) == 2
            harness.wait_until(registered, timeout=30, what="both agents registered")
            agents[1][0].send_signal(signal.SIGTERM)  # clean stop: poweroff, no alert
            agents[1][0].wait(timeout=60)
            agents[0][0].send_signal(signal.SIGKILL)  # heartbeats just stop
            agents[0][0].wait(timeout=60)
            bodies = harness.wait_until(lambda: hook.get(), timeout=60, what="HostDown notification")
            time.sleep(5)  # more heartbeat checks: still exactly one notification
            bodies = hook.get()
            self.assertEqual(len(bodies), 1, bodies)
            alerts = bodies[0]["alerts"]
            self.assertEqual([(a["labels"]["alertname"], a["labels"]["host"]) for a in alerts],
                             [("HostDown", "e2e-killed")])
            self.assertIn("no heartbeat", alerts[0]["annotations"]["summary"])
            st, body = s.json("GET", "/api/v1/rules")
            self.assertIn("source:host_connectivity", [g["name"] for g in body["data"]["groups"]])
        finally:
            for p, err in agents:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                err.close()
            s.cleanup()
            hook.close()


class AlertmanagerTest(unittest.TestCase):
    def test_alertmanager_receives_alerts(self):
        am_port = harness.free_port()
        tmp = tempfile.mkdtemp(prefix="kansoku-am-")
        cfg = os.path.join(tmp, "am.yml")
        with open(cfg, "w") as f:
            f.write("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n")
        am = subprocess.Popen([ALERTMANAGER, "--config.file=" + cfg, "--storage.path=" + tmp,
                               "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address="],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        s = None
        try:
            harness.wait_until(lambda: urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % am_port, timeout=2).status == 200,
                               timeout=30, what="alertmanager ready")
            s = harness.Server(config_text="alerting:\n  resend_delay: 1s\n")
            rules = os.path.join(s.tmp, "am.yml")
            os.makedirs(s.tmp, exist_ok=True)
            with open(rules, "w") as f:
                f.write("groups:\n  - name: am\n    interval: 1s\n    rules:\n      - alert: KansokuToAM\n"
                        "        expr: vector(42)\n        labels: {team: infra}\n"
                        "        annotations: {summary: 'value {{ $value }}'}\n")
            s.args += ["--rules", rules, "--alertmanager-url", "http://127.0.0.1:%d" % am_port]
            s.start()

            def listed():
                with urllib.request.urlopen("http://127.0.0.1:%d/api/v2/alerts" % am_port, timeout=5) as r:
                    return [a for a in json.load(r) if a["labels"].get("alertname") == "KansokuToAM"]
            got = harness.wait_until(listed, timeout=60, what="alert listed by Alertmanager")
            self.assertEqual(got[0]["labels"]["team"], "infra")
            self.assertEqual(got[0]["annotations"]["summary"], "value 42")
            self.assertEqual(got[0]["status"]["state"], "active")
            self.assertIn("/graph?g0.expr=", got[0]["generatorURL"])
        finally:
            if s:
                s.cleanup()
            am.terminate()
            am.wait(timeout=30)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
