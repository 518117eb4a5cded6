"""Error tracking fed by other sources, end to end with real clients:
- Debian logback (liblogback-java + logstash-logback-encoder, shared/clients/logback.xml):
  ERROR events with stack traces over SyslogAppender/UDP and JSON/TCP become error events;
- npm @sentry/node `Sentry.logger` (envelope `log` items) lands in the log store;
- spike protection answers 429 + X-Sentry-Rate-Limits and @sentry/node backs off;
- the link from an issue's event to its logs (same trace id; same host +- N minutes), followed
  through the logs API, with a python3-sentry-sdk error and log lines sent by util-linux logger.
"""
import json
import os
import re
import subprocess
import time
import unittest
import urllib.parse

from harness import Server, free_port, shared_path, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "..", "clients")
NODE_MODULES = os.path.join(CLIENTS, "node_modules")
JARS = "/usr/share/java"
CP = ":".join(os.path.join(JARS, j) for j in [
    "slf4j-api.jar", "logback-classic.jar", "logback-core.jar", "logstash-logback-encoder.jar",
    "jackson-core.jar", "jackson-databind.jar", "jackson-annotations.jar", "disruptor.jar"])

LISTENERS = """
logs:
  syslog_udp: "127.0.0.1:0"
  json_tcp: "127.0.0.1:0"
"""


def run(cmd, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (cmd, p.returncode, p.stdout, p.stderr))
    return p.stdout


class Base(unittest.TestCase):
    config = LISTENERS

    def setUp(self):
        self.s = Server(config_text=self.config).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(self.s.stop)
        st, body = self.s.json("GET", "/api/v1/projects")
        self.assertEqual(st, 200)
        self.dsn = body["data"][0]["keys"][0]["dsn"]
        err = self.s.stderr()
        m = re.search(r"protocol=syslog udp=127\.0\.0\.1:(\d+)", err)
        self.syslog_udp = int(m.group(1)) if m else None
        m = re.search(r"protocol=json_tcp tcp=127\.0\.0\.1:(\d+)", err)
        self.json_tcp = int(m.group(1)) if m else None

    def issues(self):
        st, body = self.s.json("GET", "/api/v1/issues?status=all")
        self.assertEqual(st, 200, body)
        return body["data"]

    def issue(self, issue_id):
        st, body = self.s.json("GET", "/api/v1/issues/%d" % issue_id)
        self.assertEqual(st, 200, body)
        return body["data"]

    def logs(self, q, **params):
        params["query"] = q
        st, body = self.s.json("GET", "/api/v1/logs/query?" + urllib.parse.urlencode(params))
        self.assertEqual(st, 200, body)
        return body["data"]["rows"]

    def metric(self, pattern):
        text = self.s.request("GET", "/metrics")[2].decode()
        m = re.search(pattern, text)
        return m


class LogbackTest(Base):
    config = LISTENERS + """
errors:
  logback:
    in_app_include: [KansokuLogbackDemo, com.example.]
"""

    def test_logback_syslog_udp_and_json_tcp_errors_become_one_issue(self):
        for j in CP.split(":"):
            self.assertTrue(os.path.exists(j), j + " missing: run scripts/install-deps")
        work = os.path.join(self.s.data, "java")
        os.makedirs(work)
        run(["javac", "-d", work, "-cp", CP, shared_path("clients", "logback", "KansokuLogbackDemo.java")])
        props = ["-DTARGET_HOST=127.0.0.1", "-DSYSLOG_UDP_PORT=%d" % self.syslog_udp,
                 "-DJSON_TCP_PORT=%d" % self.json_tcp, "-DSOCKET_PORT=%d" % free_port(),
                 "-DPATTERN_TCP_PORT=%d" % free_port(), "-Dkansoku.wait.ms=3000"]
        run(["java", "-Dlogback.configurationFile=" + shared_path("clients", "logback", "logback.xml")]
            + props + ["-cp", work + ":" + CP, "KansokuLogbackDemo"])
        # One ERROR with a chained exception reached kansoku twice (syslog lines joined, JSON):
        # both group into one issue, like an SDK event with the same in-app frames.
        issues = wait_until(lambda: (lambda l: l if l and l[0]["count"] == 2 else None)(self.issues()),
                            what="one issue with 2 logback events (have %s)" % self.issues())
        self.assertEqual(len(issues), 1, issues)
        i = issues[0]
        self.assertEqual(i["title"], "IllegalStateException: payment gateway timeout")
        self.assertEqual(i["culprit"], "KansokuLogbackDemo in main")
        self.assertEqual(i["platform"], "java")
        self.assertEqual(i["grouping"]["basis"], "stacktrace")
        self.assertEqual(i["level"], "error")
        d = self.issue(i["id"])
        tags = {t["key"]: {v["value"]: v["count"] for v in t["top_values"]} for t in d["tags"]}
        self.assertEqual(tags["source"], {"logback:syslog": 1, "logback:json_tcp": 1})
        self.assertEqual(tags["logger"], {"com.example.checkout.OrderService": 2})
        self.assertEqual(tags["thread"], {"main": 2})
        st, body = self.s.json("GET", "/api/v1/issues/%d/events" % i["id"])
        self.assertEqual(st, 200)
        for ev in body["data"]:
            e = ev["event"]
            self.assertEqual(e["logentry"]["formatted"], "payment failed for order 42")
            vals = e["exception"]["values"]
            self.assertEqual([v["type"] for v in vals], ["NumberFormatException", "IllegalStateException"])
            self.assertEqual(vals[0]["module"], "java.lang")
            self.assertEqual(vals[0]["value"], 'For input string: "x42"')
            top = vals[1]["stacktrace"]["frames"][-1]
            self.assertEqual((top["module"], top["function"], top["filename"], top["in_app"]),
                             ("KansokuLogbackDemo", "main", "KansokuLogbackDemo.java", True))
            self.assertGreater(top["lineno"], 0)
            jdk = vals[0]["stacktrace"]["frames"][-1]
            self.assertEqual(jdk["module"], "java.lang.NumberFormatException")
            self.assertFalse(jdk["in_app"])
        by_src = {ev["event"]["tags"]["source"]: ev["event"] for ev in body["data"]}
        self.assertEqual(by_src["logback:json_tcp"]["contexts"]["MDC"]["requestId"], "r-123")
        self.assertEqual(by_src["logback:json_tcp"]["environment"], "test")
        # The INFO line made no event; the records are still in the log store.
        self.assertTrue(self.metric(r'kansoku_errors_logback_events_total\{outcome="stored"\} 2\b'))
        self.assertEqual(len(self.logs("payment failed")), 2)
        self.assertEqual(len(self.logs("order accepted")), 2)


class SentryLogsAndSpikeTest(Base):
    config = LISTENERS + """
errors:
  spike_protection:
    floor_per_minute: 5
    multiplier: 10
"""

    def node(self, mode):
        return run(["node", os.path.join(CLIENTS, "sentry_node_client.mjs")],
                   env={"SENTRY_DSN": self.dsn, "MODE": mode, "NODE_PATH": NODE_MODULES})

    def test_sentry_node_logs_reach_the_log_store(self):
        self.node("basic")
        rows = wait_until(lambda: self.logs("source:sentry"), what="sentry log records")
        self.assertEqual(len(rows), 1, rows)
        r = rows[0]
        self.assertEqual(r["_msg"], "payment failed for order 42")
        self.assertEqual(r["level"], "error")
        self.assertEqual(r["service"], "default")  # the project's name
        self.assertEqual(r["order"], "42")
        self.assertEqual(r["sentry.release"], "kansoku-e2e@2.0.0")
        self.assertEqual(r["sentry.environment"], "test")
        self.assertEqual(r["sentry_project"], "1")
        self.assertRegex(r["trace_id"], r"^[0-9a-f]{32}$")
        self.assertEqual(r["severity_number"], "17")
        # The same trace id is on the error event of that run: the link finds the log line.
        exc = [i for i in self.issues() if i["title"].startswith("TypeError")][0]
        ev = self.issue(exc["id"])["latest_event"]
        self.assertEqual(ev["logs_links"][0]["basis"], "trace_id")
        st, body = self.s.json("GET", ev["logs_links"][0]["path"])
        self.assertEqual(st, 200, body)
        self.assertIn("payment failed for order 42", [x["_msg"] for x in body["data"]["rows"]])
        self.assertTrue(self.metric(r'kansoku_errors_items_total\{type="log"\} 1\b'))

    def test_spike_protection_429_and_the_sdk_backs_off(self):
        # No history yet: the floor (5/minute) is the limit. Stay inside one wall-clock minute.
        if time.time() % 60 > 40:
            time.sleep(61 - time.time() % 60)
        out = self.node("quota")
        ids = [json.loads(l)["id"] for l in out.splitlines() if l.startswith("{")]
        self.assertEqual(len(ids), 20)
        issues = wait_until(lambda: self.issues(), what="the issue")
        self.assertEqual(len(issues), 1)
        self.assertEqual(self.issue(issues[0]["id"])["count"], 5)
        # One refusal (429 + X-Sentry-Rate-Limits ...:spike_protection), then the SDK stopped
        # sending and reported the 14 events it dropped itself.
        self.assertTrue(self.metric(r'kansoku_errors_rejected_total\{reason="spike_protection"\} 1\b'))
        st, body = self.s.json("GET", "/api/v1/projects/1/client_reports")
        reports = {(r["reason"], r["category"]): r["quantity"] for r in body["data"]}
        self.assertEqual(reports.get(("ratelimit_backoff", "error")), 14, body)
        # What the SDK was told, seen with a raw request in the same minute.
        key = self.dsn.split("//")[1].split("@")[0]
        st, hdrs, _ = self.s.request(
            "POST", "/api/1/store/?sentry_key=" + key,
            json.dumps({"message": "one more", "level": "error"}), token=None)
        if time.time() % 60 < 58:
            self.assertEqual(st, 429)
            self.assertRegex(hdrs["x-sentry-rate-limits"],
                             r"^\d+:error;default;security:project:spike_protection$")
            self.assertGreaterEqual(int(hdrs["retry-after"]), 1)

    def test_spike_counters_survive_kill9(self):
        # The counters are rebuilt from the event log at start: 5 events this minute (the floor)
        # before a kill -9 still count after it, so the 6th is refused by the new process.
        if time.time() % 60 > 45:
            time.sleep(61 - time.time() % 60)
        key = self.dsn.split("//")[1].split("@")[0]
        send = lambda: self.s.request("POST", "/api/1/store/?sentry_key=" + key,
                                      json.dumps({"message": "spike", "level": "error"}), token=None)[0]
        self.assertEqual([send() for _ in range(5)], [200] * 5)
        self.s.kill9()
        self.s.start()
        st = send()
        if time.time() % 60 < 58:  # still the same minute
            self.assertEqual(st, 429)
            self.assertTrue(self.metric(r'kansoku_errors_rejected_total\{reason="spike_protection"\} 1\b'))


class LogsLinkTest(Base):
    config = LISTENERS + """
errors:
  logs_link_window: 2m
"""

    def logger(self, *args):
        run(["logger", "-n", "127.0.0.1", "-P", str(self.syslog_udp), "-d", "--rfc5424"] + list(args))

    def test_event_links_to_logs_with_its_trace_id_and_host(self):
        out = run(["/usr/bin/python3", os.path.join(CLIENTS, "sentry_python_client.py")],
                  env={"SENTRY_DSN": self.dsn, "TRACE": "1"})
        trace = dict(l.split() for l in out.splitlines())["trace"]
        self.assertRegex(trace, r"^[0-9a-f]{32}$")
        other = "0" * 31 + "1"
        # Log lines over syslog (util-linux logger): two carry the trace id (in an SD param and
        # in the message), one another trace's id, one only the host.
        self.logger("-t", "checkout", "--sd-id", "trace@32473", "--sd-param", 'trace_id="%s"' % trace,
                    "charge started")
        self.logger("-t", "checkout", "-p", "user.err", "card declined, trace_id=%s" % trace)
        self.logger("-t", "checkout", "--sd-id", "trace@32473", "--sd-param", 'trace_id="%s"' % other,
                    "unrelated request")
        wait_until(lambda: len(self.logs("source:syslog")) == 3, what="3 syslog records")

        exc = wait_until(lambda: [i for i in self.issues() if i["title"].startswith("ValueError")],
                         what="the python error")[0]
        ev = self.issue(exc["id"])["latest_event"]
        links = ev["logs_links"]
        self.assertEqual([l["basis"] for l in links], ["trace_id", "host"])
        t = links[0]
        self.assertEqual(t["trace_id"], trace)
        self.assertIn(trace, t["query"])
        # start/end: the event time +- 2m, as RFC 3339 and in ns.
        span = int(t["end_ns"]) - int(t["start_ns"])
        self.assertEqual(span, 4 * 60 * 10**9)
        st, body = self.s.json("GET", t["path"])
        self.assertEqual(st, 200, body)
        msgs = sorted(r["_msg"] for r in body["data"]["rows"])
        self.assertEqual(msgs, ["card declined, trace_id=%s" % trace, "charge started"])
        # The same answer through the query and range given separately.
        rows = self.logs(t["query"], start=t["start"], end=t["end"])
        self.assertEqual(len(rows), 2)
        # The host link: every line of the event's server_name in the window.
        h = links[1]
        self.assertEqual(h["host"], ev["event"]["server_name"])
        st, body = self.s.json("GET", h["path"])
        self.assertEqual(st, 200, body)
        # logger sends the local hostname, which is what the SDK reports as server_name.
        self.assertEqual(len(body["data"]["rows"]), 3)
        # Also on the events list.
        st, body = self.s.json("GET", "/api/v1/issues/%d/events" % exc["id"])
        self.assertEqual(body["data"][0]["logs_links"][0]["trace_id"], trace)


if __name__ == "__main__":
    unittest.main()
