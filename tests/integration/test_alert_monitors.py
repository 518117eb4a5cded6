"""End to end: the built-in alert monitors (issue #8 item 2, #9 item 5) with real clients, each
notification received by a local webhook sink (python http.server):

- Debian python3-sentry-sdk raises a new error -> NewIssue; the issue is resolved over the API and
  the SDK raises it again -> IssueRegressed; more events than a threshold -> IssueEventsAboveThreshold.
  The notification history survives a restart.
- npm @sentry/node cron check-ins: a monitor scheduled in the server config and one scheduled by the
  SDK's own monitor_config (crontab, timezone) miss their next check-in -> CronMissed; a run that
  ended in error -> CronFailed; a run stuck in progress -> CronTimeout.
- util-linux `logger` sends matching syslog lines -> LogQueryMatches with the count.
- the influx 1.x CLI grows a token's series towards its hard limit: the UsageBudget warning fires
  while the token is still below the limit, then the limit refuses.
- a changed notifications file takes effect on SIGHUP; a broken one is refused with file:line and
  the old routes stay.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest
import urllib.parse

import harness
from test_alerting import Sink, influx_insert

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "..", "clients")
NODE_MODULES = os.path.join(CLIENTS, "node_modules")

NOTIFY = """route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: "http://127.0.0.1:%d/hook"
"""


def run(cmd, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


class MonitorBase(unittest.TestCase):
    config = ""

    def setUp(self):
        self.hook = Sink()
        self.addCleanup(self.hook.close)
        self.s = harness.Server(config_text="alerting:\n  evaluation_interval: 1s\n  resend_delay: 1s\n"
                                "  flapping:\n    threshold: 0\n" + self.config)
        self.addCleanup(self.s.cleanup)
        os.makedirs(self.s.tmp, exist_ok=True)
        self.notify = os.path.join(self.s.tmp, "notify.yml")
        with open(self.notify, "w") as f:
            f.write(NOTIFY % self.hook.port)
        self.s.args += ["--notifications", self.notify]
        self.s.start()

    def alerts_in(self, alertname, status="firing"):
        """Alerts of that name (and status) over every notification received so far."""
        out = []
        for b in self.hook.get():
            for a in b["alerts"]:
                if a["labels"]["alertname"] == alertname and a["status"] == status:
                    out.append(a)
        return out

    def wait_alert(self, alertname, status="firing", timeout=60, pred=lambda a: True):
        return harness.wait_until(lambda: [a for a in self.alerts_in(alertname, status) if pred(a)],
                                  timeout=timeout, what="%s %s notification" % (alertname, status))


class ErrorIssueMonitorTest(MonitorBase):
    config = """monitors:
  interval: 1s
  errors:
    event_thresholds:
      - events: 2
        window: 5m
        labels: {severity: page}
"""

    def sdk(self, extra=0):
        st, body = self.s.json("GET", "/api/v1/projects")
        dsn = body["data"][0]["keys"][0]["dsn"]
        return run(["/usr/bin/python3", os.path.join(CLIENTS, "sentry_python_client.py")],
                   env={"SENTRY_DSN": dsn, "EXTRA_MESSAGES": str(extra)})

    def test_new_issue_regression_threshold_and_history(self):
        self.sdk()
        new = self.wait_alert("NewIssue", pred=lambda a: "card declined" in a["annotations"]["title"])[0]
        self.assertEqual(new["labels"]["project"], "1")
        self.assertIn("new issue in project 1", new["annotations"]["summary"])
        issue_id = int(new["labels"]["issue"])
        # Both issues of the run (exception and message) in one grouped notification, once.
        time.sleep(3)
        firsts = [b for b in self.hook.get() if b["groupLabels"] == {"alertname": "NewIssue"}]
        self.assertEqual(len(firsts), 1, firsts)
        self.assertEqual(len(firsts[0]["alerts"]), 2)

        # Resolved in the issues API: its NewIssue alert resolves.
        st, _, body = self.s.request("PUT", "/api/v1/issues/%d" % issue_id, body='{"status":"resolved"}')
        self.assertEqual(st, 200, body)
        self.wait_alert("NewIssue", status="resolved", pred=lambda a: a["labels"]["issue"] == str(issue_id))
        self.assertEqual(self.alerts_in("IssueRegressed"), [])
        # The same error again: a regression.
        self.sdk()
        reg = self.wait_alert("IssueRegressed")[0]
        self.assertEqual(reg["labels"]["issue"], str(issue_id))
        self.assertIn("issue regressed", reg["annotations"]["summary"])
        # Three more "queue N is M% full" messages group into one issue with > 2 events.
        self.sdk(extra=3)
        hot = self.wait_alert("IssueEventsAboveThreshold")[0]
        self.assertEqual(hot["labels"]["severity"], "page")
        self.assertEqual(hot["labels"]["window"], "5m")
        self.assertGreater(float(re.match(r"(\d+) events", hot["annotations"]["summary"]).group(1)), 2)
        # The monitors show as built-in groups.
        st, body = self.s.json("GET", "/api/v1/rules")
        self.assertIn("source:error_issues", [g["name"] for g in body["data"]["groups"]])

        # Notification history is persisted: still there after a restart.
        st, hist = self.s.json("GET", "/api/v1/notifications")
        before = [(h["time"], h["groupKey"]) for h in hist["data"]]
        self.assertTrue(any("NewIssue" in h["alertnames"] for h in hist["data"]), hist)
        self.s.stop()
        self.s.start()
        st, hist = self.s.json("GET", "/api/v1/notifications?limit=1000")
        after = [(h["time"], h["groupKey"]) for h in hist["data"]]
        for entry in before:
            self.assertIn(entry, after)
        h = [x for x in hist["data"] if "IssueRegressed" in x["alertnames"]][0]
        self.assertEqual((h["receiver"], h["integration"], h["result"], h["status"]),
                         ("hook", "webhook", "ok", "firing"))
        self.assertEqual(h["alerts"][0]["labels"]["issue"], str(issue_id))


class CronMonitorTest(MonitorBase):
    config = """monitors:
  interval: 1s
  cron:
    monitors:
      - slug: e2e-fast
        schedule: "@every 6s"
        checkin_margin: 2s
        labels: {team: batch}
      - slug: e2e-stuck
        schedule: "@every 1h"
        max_runtime: 2s
"""

    def test_missed_failed_and_timed_out_check_ins(self):
        st, body = self.s.json("GET", "/api/v1/projects")
        dsn = body["data"][0]["keys"][0]["dsn"]
        out = run(["node", os.path.join(CLIENTS, "sentry_node_cron.mjs")],
                  env={"SENTRY_DSN": dsn, "NODE_PATH": NODE_MODULES})
        self.assertEqual(len(out.splitlines()), 4, out)
        sent_at = time.time()
        failed = self.wait_alert("CronFailed")
        self.assertEqual([a["labels"]["monitor"] for a in failed], ["e2e-broken"])
        stuck = self.wait_alert("CronTimeout")
        self.assertEqual([a["labels"]["monitor"] for a in stuck], ["e2e-stuck"])
        self.assertIn("longer than max_runtime 2s", stuck[0]["annotations"]["summary"])
        # The server-scheduled monitor misses its next check-in (due 6 s after, 2 s margin).
        fast = self.wait_alert("CronMissed", pred=lambda a: a["labels"]["monitor"] == "e2e-fast")[0]
        self.assertGreaterEqual(time.time() - sent_at, 5)
        self.assertEqual(fast["labels"]["team"], "batch")
        self.assertIn("missed check-in due at", fast["annotations"]["summary"])
        # The SDK-scheduled one ("* * * * *", margin 0) is due at the next full minute.
        sdk = self.wait_alert("CronMissed", timeout=100, pred=lambda a: a["labels"]["monitor"] == "e2e-sdk")[0]
        self.assertIn("* * * * * (Asia/Tokyo, from sdk)", sdk["annotations"]["schedule"])
        due = re.search(r"due at (\S+):00Z", sdk["annotations"]["summary"])
        self.assertIsNotNone(due, sdk)
        # A new check-in of e2e-fast resolves its alert (the monitor is on time again).
        run(["node", "-e", "const S=require('@sentry/node');S.init({dsn:process.env.SENTRY_DSN});"
             "S.captureCheckIn({monitorSlug:'e2e-fast',status:'ok'});S.close(5000);"],
            env={"SENTRY_DSN": dsn, "NODE_PATH": NODE_MODULES})
        self.wait_alert("CronMissed", status="resolved", pred=lambda a: a["labels"]["monitor"] == "e2e-fast")


class LogQueryMonitorTest(MonitorBase):
    config = """logs:
  syslog_udp: "127.0.0.1:0"
monitors:
  interval: 1s
  log_queries:
    - name: payment-failures
      query: '"payment failed"'
      window: 5m
      threshold: 2
      labels: {severity: page}
"""

    def test_logger_lines_over_threshold_alert(self):
        port = int(re.search(r"protocol=syslog udp=127\.0\.0\.1:(\d+)", self.s.stderr()).group(1))

        def logger(msg):
            subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(port), "-d", "--rfc5424", "-t", "shop",
                            "-p", "local0.err", msg], check=True, timeout=30)
        logger("payment failed for order 1")
        logger("payment failed for order 2")
        logger("all good for order 3")
        # Two matches: not above the threshold of 2.
        harness.wait_until(lambda: self.hits() == 2, timeout=30, what="2 lines stored")
        time.sleep(3)
        self.assertEqual(self.alerts_in("LogQueryMatches"), [])
        logger("payment failed for order 4")
        a = self.wait_alert("LogQueryMatches")[0]
        self.assertEqual((a["labels"]["monitor"], a["labels"]["severity"]), ("payment-failures", "page"))
        self.assertEqual(a["annotations"]["matches"], "3")
        self.assertIn('3 log lines matched `"payment failed"`', a["annotations"]["summary"])

    def hits(self):
        q = urllib.parse.quote('"payment failed" | stats count() as n')
        st, body = self.s.json("GET", "/api/v1/logs/query?query=" + q)
        rows = body["data"]["rows"] if st == 200 else []
        return int(rows[0][0]) if rows else 0


class BudgetMonitorTest(MonitorBase):
    LIMIT = 50
    config = """limits:
  tokens:
    growing:
      max_active_series: 50
monitors:
  interval: 1s
  limit_warn_at: 0.8
budgets:
  - name: shop-series
    kind: active_series
    selector: {service: shop}
    limit: 40
    warn_at: 0.5
    labels: {team: shop}
"""

    def test_budget_alert_fires_before_the_hard_limit(self):
        st, created = self.s.json("POST", "/api/v1/tokens", json.dumps({"name": "growing", "scopes": ["ingest"]}))
        self.assertEqual(st, 201, created)
        token = created["data"]["token"]

        def write(first, n):
            influx_insert(self.s, token, *["budget_m,service=shop,i=%d v=1" % i for i in range(first, first + n)])

        def tenant():
            st, body = self.s.json("GET", "/api/v1/usage")
            return [t for t in body["data"]["tenants"] if t["name"] == "growing"][0]
        write(0, 15)  # 30% of the token limit, 37% of the shop budget
        time.sleep(3)
        self.assertEqual(self.alerts_in("UsageBudget"), [])
        write(15, 10)  # 25 series: 62% of the shop budget (warn_at 0.5)
        shop = self.wait_alert("UsageBudget", pred=lambda a: a["labels"]["budget"] == "shop-series")[0]
        self.assertEqual((shop["labels"]["service"], shop["labels"]["team"], shop["labels"]["severity"]),
                         ("shop", "shop", "warning"))
        self.assertIn("25 of 40 (62%)", shop["annotations"]["summary"])
        write(25, 16)  # 41 series: 82% of the hard limit of 50
        lim = self.wait_alert("UsageBudget", pred=lambda a: a["labels"]["budget"].startswith("limit:growing"))[0]
        self.assertEqual((lim["labels"]["kind"], lim["labels"]["token"]), ("max_active_series", "growing"))
        self.assertIn("41 of 50 (82%)", lim["annotations"]["summary"])
        # The warning came while nothing was refused yet; the hard limit then holds.
        t = tenant()
        self.assertEqual(t["active_series"], 41)
        self.assertEqual(t["refusals"].get("max_active_series", 0), 0)
        path = os.path.join(self.s.tmp, "over.lp")
        with open(path, "w") as f:
            f.write("# DML\n# CONTEXT-DATABASE: kansoku\n\n" +
                    "\n".join("budget_m,service=shop,i=%d v=1" % i for i in range(41, 60)) + "\n")
        subprocess.run(["influx", "-host", "127.0.0.1", "-port", str(self.s.port), "-username", "influx",
                        "-password", token, "-import", "-path", path], capture_output=True, timeout=30)
        t = harness.wait_until(lambda: (lambda t: t if t["refusals"].get("max_active_series") else None)(tenant()),
                               what="refusals")
        self.assertEqual(t["active_series"], self.LIMIT)
        # Above critical_at (1.0 by default) the shop budget turns critical.
        self.wait_alert("UsageBudget", pred=lambda a: a["labels"]["budget"] == "shop-series"
                        and a["labels"]["severity"] == "critical")


class NotificationsReloadTest(MonitorBase):
    config = """monitors:
  interval: 1s
"""

    def test_sighup_applies_new_routes_and_broken_file_keeps_old(self):
        other = Sink()
        self.addCleanup(other.close)
        with open(self.notify, "w") as f:
            f.write((NOTIFY % other.port).replace("receiver: hook", "receiver: other").replace(
                "- name: hook", "- name: other"))
        self.s.proc.send_signal(signal.SIGHUP)
        harness.wait_until(lambda: "notifications reloaded" in self.s.stderr(), timeout=30, what="reload logged")
        st, body = self.s.json("GET", "/api/v1/projects")
        dsn = body["data"][0]["keys"][0]["dsn"]
        run(["/usr/bin/python3", os.path.join(CLIENTS, "sentry_python_client.py")], env={"SENTRY_DSN": dsn})
        harness.wait_until(lambda: other.get(), timeout=60, what="notification to the new receiver")
        self.assertEqual(self.hook.get(), [])
        self.assertEqual(other.get()[0]["receiver"], "other")
        # A broken file: refused with file:line, the routes stay.
        with open(self.notify, "w") as f:
            f.write("route:\n  receiver: nobody\nreceivers:\n  - name: other\n    webhook_configs:\n"
                    "      - url: 'http://127.0.0.1:%d/hook'\n" % other.port)
        st, body = self.s.json("POST", "/api/v1/rules/reload")
        self.assertEqual(st, 400, body)
        self.assertIn('notify.yml:2:13: route.receiver: undefined receiver "nobody"', body["error"])
        st, body = self.s.json("GET", "/api/v1/notifications/receivers")
        self.assertEqual([r["receiver"] for r in body["data"]], ["other"])


if __name__ == "__main__":
    unittest.main()
