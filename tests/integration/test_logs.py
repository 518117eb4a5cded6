"""Logs end to end: every ingest protocol driven by its real client, checked through the log
query API with exact counts; durability across kill -9; query API, tail and CLI.

Clients: curl (JSON lines, _bulk), Python's HTTP stack + python3-snappy (Loki JSON and
protobuf+snappy), npm OpenTelemetry JS log exporters (OTLP JSON and protobuf), util-linux
`logger` (syslog RFC 5424/3164 over UDP, TCP octet-counted and LF), Debian rsyslog (omfwd),
Debian logback + logstash-logback-encoder (SyslogAppender over UDP, JSON over TCP).
"""
import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(HERE, "..", "clients")

CONFIG = """
logs:
  syslog_udp: "127.0.0.1:0"
  syslog_tcp: "127.0.0.1:0"
  json_tcp: "127.0.0.1:0"
  stream_fields: [env]
"""


def start(config=CONFIG, **kw):
    s = harness.Server(config_text=config, **kw).start()
    err = s.stderr()
    s.syslog_udp = int(re.search(r"protocol=syslog udp=127\.0\.0\.1:(\d+)", err).group(1))
    s.syslog_tcp = int(re.search(r"protocol=syslog tcp=127\.0\.0\.1:(\d+)", err).group(1))
    s.json_tcp = int(re.search(r"protocol=json_tcp tcp=127\.0\.0\.1:(\d+)", err).group(1))
    return s


def query(s, q, **params):
    params["query"] = q
    st, body = s.json("GET", "/api/v1/logs/query?" + urllib.parse.urlencode(params))
    assert st == 200, (st, body)
    return body["data"]


def count(s, q):
    d = query(s, q + " | stats count() as n")
    rows = d["rows"]
    return int(rows[0][0]) if rows else 0


def wait_count(s, q, want, timeout=30):
    harness.wait_until(lambda: count(s, q) == want, timeout=timeout,
                       what="%d records for %s (have %d)" % (want, q, count(s, q)))


def curl(s, path, data_file, headers=()):
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + s.token]
    for h in headers:
        cmd += ["-H", h]
    cmd += ["--data-binary", "@" + data_file, s.url + path]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    body, code = out.rsplit("\n", 1)
    return int(code), body


class LogsE2E(unittest.TestCase):
    def setUp(self):
        self.s = start()
        self.tmp = tempfile.mkdtemp(prefix="kansoku-logs-e2e-")

    def tearDown(self):
        try:
            if self.s.proc is not None:
                self.s.stop()
        finally:
            self.s.cleanup()
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- HTTP protocols ----

    def test_jsonline_curl_gzip_with_bad_and_huge_lines(self):
        path = os.path.join(self.tmp, "lines.jsonl.gz")
        with gzip.open(path, "wt") as f:
            for i in range(1000):
                f.write(json.dumps({"_time": "2026-11-26T05:00:%02d.%06dZ" % (i % 60, i),
                                    "_msg": "request %d %s" % (i, "timeout" if i % 10 == 0 else "ok"),
                                    "service": "api" if i % 2 else "db", "level": "error" if i % 10 == 0 else "info",
                                    "trace_id": "%032x" % i, "env": "prod"}) + "\n")
            f.write("this line is not JSON\n")
            f.write(json.dumps({"_msg": "x" * (3 << 20), "service": "huge"}) + "\n")
            f.write("\x00\x01\x02 binary garbage \xff\n")
        code, body = curl(self.s, "/insert/jsonline", path, ["Content-Encoding: gzip"])
        self.assertEqual(code, 200, body)
        ans = json.loads(body)["data"]
        self.assertEqual(ans["records"], 1003)
        self.assertEqual(ans["flagged"], 2)
        self.assertIn("line 1001", ans["errors"])
        self.assertEqual(count(self.s, "source:jsonline"), 1003)
        self.assertEqual(count(self.s, "timeout"), 100)
        self.assertEqual(count(self.s, "timeout service:api"), 0)
        self.assertEqual(count(self.s, "{service=\"db\", level=\"error\"}"), 100)
        self.assertEqual(count(self.s, "_parse_error:*"), 2)
        self.assertEqual(count(self.s, "_truncated:*"), 1)
        self.assertEqual(count(self.s, "trace_id:=\"%032x\"" % 777), 1)
        # env is a configured stream field: it is a label.
        row = query(self.s, "trace_id:=\"%032x\"" % 777)["rows"][0]
        self.assertIn('env="prod"', row["_stream"])
        self.assertEqual(row["_time"], "2026-11-26T05:00:57.000777000Z")
        bad = query(self.s, "_parse_error:*")["rows"]
        self.assertEqual(sorted(r["_msg"][:10] for r in bad), ["\x00\x01\x02 binary", "this line "])

    def test_loki_json_and_protobuf_snappy(self):
        now = time.time_ns()
        body = {"streams": [{"stream": {"job": "promtail", "service": "web", "level": "warn"},
                             "values": [[str(now - i * 1000), "loki json line %d" % i, {"trace_id": "t%d" % i}]
                                        for i in range(50)]}]}
        st, _, data = self.s.request("POST", "/loki/api/v1/push", json.dumps(body),
                                     {"Content-Type": "application/json"})
        self.assertEqual(st, 204, data)
        # protobuf PushRequest, snappy block-compressed, as Promtail sends it.
        import snappy  # Debian python3-snappy

        def varint(v):
            out = b""
            while v >= 0x80:
                out += bytes([(v & 0x7F) | 0x80])
                v >>= 7
            return out + bytes([v])

        def ld(field, b):
            return bytes([field << 3 | 2]) + varint(len(b)) + b

        entries = b""
        for i in range(70):
            t = now - 10**9 - i
            ts = bytes([1 << 3]) + varint(t // 10**9) + bytes([2 << 3]) + varint(t % 10**9)
            entries += ld(2, ld(1, ts) + ld(2, b"loki proto line %d" % i) + ld(3, ld(1, b"k") + ld(2, b"v%d" % i)))
        req = ld(1, ld(1, b'{job="promtail", service="web", host="h1"}') + entries)
        st, _, data = self.s.request("POST", "/loki/api/v1/push", snappy.compress(req),
                                     {"Content-Type": "application/x-protobuf"})
        self.assertEqual(st, 204, data)
        self.assertEqual(count(self.s, "source:loki"), 120)
        self.assertEqual(count(self.s, "\"loki proto line\" k:v7"), 1)
        self.assertEqual(count(self.s, "{job=\"promtail\",level=\"warn\"}"), 50)
        # A broken body is a 400 naming why, and nothing is stored.
        st, _, data = self.s.request("POST", "/loki/api/v1/push", snappy.compress(req[:-5]),
                                     {"Content-Type": "application/x-protobuf"})
        self.assertEqual(st, 400)
        self.assertIn(b"cannot parse PushRequest", data)
        self.assertEqual(count(self.s, "source:loki"), 120)

    def test_elasticsearch_bulk_curl(self):
        path = os.path.join(self.tmp, "bulk.ndjson")
        with open(path, "w") as f:
            for i in range(200):
                f.write(json.dumps({"create": {"_index": "filebeat-2026.11.26"}}) + "\n")
                f.write(json.dumps({"@timestamp": "2026-11-26T06:00:00.%03dZ" % (i % 1000),
                                    "message": "GET /api/orders/%d HTTP/1.1 %d" % (i, 500 if i % 20 == 0 else 200),
                                    "host": {"name": "web-%d" % (i % 4)}, "service": "nginx"}) + "\n")
            f.write('{"delete":{"_id":"x"}}\n')
        code, body = curl(self.s, "/_bulk", path, ["Content-Type: application/x-ndjson"])
        self.assertEqual(code, 200, body)
        ans = json.loads(body)
        self.assertTrue(ans["errors"])
        self.assertEqual(len(ans["items"]), 201)
        self.assertEqual(ans["items"][0]["create"]["status"], 201)
        self.assertEqual(ans["items"][200]["delete"]["status"], 400)
        self.assertEqual(count(self.s, "source:elasticsearch"), 200)
        self.assertEqual(count(self.s, "~\"HTTP/1.1 5[0-9]{2}\""), 10)
        self.assertEqual(count(self.s, "es_index:=\"filebeat-2026.11.26\" host.name:web-3"), 50)
        st, _, data = self.s.request("GET", "/insert/elasticsearch/")
        self.assertEqual(st, 200)
        self.assertIn(b'"number"', data)

    def run_otel(self, protocol, marker, count_, compression="none"):
        env = dict(os.environ, KANSOKU_URL=self.s.url, KANSOKU_TOKEN=self.s.token, OTLP_PROTOCOL=protocol,
                   OTLP_COMPRESSION=compression, COUNT=str(count_), MARKER=marker)
        r = subprocess.run(["node", os.path.join(CLIENTS, "otel_logs.mjs")], env=env, cwd=CLIENTS,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_otlp_logs_node_json_and_protobuf(self):
        self.run_otel("json", "viajson", 37)
        self.run_otel("protobuf", "viaproto", 23, compression="gzip")
        self.assertEqual(count(self.s, "viajson"), 37)
        self.assertEqual(count(self.s, "viaproto"), 23)
        self.assertEqual(count(self.s, "{service=\"checkout\", source=\"otlp\", level=\"error\"}"), 8 + 5)
        row = query(self.s, "\"otel record 5 viaproto\"")["rows"][0]
        self.assertEqual(row["order.id"], "5")
        self.assertEqual(row["host"], "node-1")
        self.assertEqual(row["deployment.environment"], "test")
        self.assertEqual(row["otel.scope.name"], "kansoku-e2e")

    # ---- syslog ----

    def logger(self, *args):
        subprocess.run(["logger", "-n", "127.0.0.1"] + list(args), check=True, timeout=30)

    def test_syslog_logger_udp_tcp_octet_and_lf(self):
        for i in range(5):
            self.logger("-P", str(self.s.syslog_udp), "-d", "--rfc5424", "--msgid", "ORDERFAIL",
                        "--sd-id", "kansoku@32473", "--sd-param", 'req="r-%d"' % i, "-t", "kansoku-app",
                        "-p", "local0.err", "udp5424 marker %d" % i)
            self.logger("-P", str(self.s.syslog_udp), "-d", "--rfc3164", "-t", "cron", "-p", "user.warning",
                        "udp3164 marker %d" % i)
            self.logger("-P", str(self.s.syslog_tcp), "-T", "--rfc5424", "--octet-count", "-t", "kansoku-app",
                        "-p", "local0.info", "tcpoctet marker %d" % i)
            self.logger("-P", str(self.s.syslog_tcp), "-T", "--rfc3164", "-t", "kansoku-app",
                        "-p", "local0.notice", "tcplf marker %d" % i)
        wait_count(self.s, "marker", 20)
        self.assertEqual(count(self.s, "udp5424 {service=\"kansoku-app\", level=\"error\"} msgid:=ORDERFAIL"), 5)
        self.assertEqual(count(self.s, "udp5424 req:=\"r-3\""), 1)
        self.assertEqual(count(self.s, "udp3164 {service=\"cron\", level=\"warn\"} facility:=user"), 5)
        self.assertEqual(count(self.s, "tcpoctet level:info"), 5)
        self.assertEqual(count(self.s, "tcplf level:notice"), 5)
        self.assertEqual(count(self.s, "_parse_error:*"), 0)
        # Bad datagrams are kept and flagged, never dropped.
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"no pri at all", ("127.0.0.1", self.s.syslog_udp))
        u.sendto(b"<13>\xff\xfe binary", ("127.0.0.1", self.s.syslog_udp))
        u.close()
        wait_count(self.s, "_parse_error:*", 2)

    def test_rsyslog_omfwd_udp_and_tcp(self):
        if not shutil.which("rsyslogd") and not os.path.exists("/usr/sbin/rsyslogd"):
            self.fail("rsyslogd missing: run scripts/install-deps")
        in_port = harness.free_port()
        work = os.path.join(self.tmp, "rsyslog")
        os.makedirs(work)
        conf = os.path.join(work, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write("""
global(workDirectory="%(w)s")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%(in)d" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="%(tcp)d" protocol="tcp" TCP_Framing="octet-counted"
         template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="%(tcp)d" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")
  action(type="omfwd" target="127.0.0.1" port="%(udp)d" protocol="udp" template="RSYSLOG_SyslogProtocol23Format")
}
""" % {"w": work, "in": in_port, "tcp": self.s.syslog_tcp, "udp": self.s.syslog_udp})
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        subprocess.run([rsyslogd, "-N1", "-f", conf], check=True, capture_output=True, timeout=30)
        p = subprocess.Popen([rsyslogd, "-n", "-f", conf, "-i", os.path.join(work, "pid")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            for i in range(10):
                self.logger("-P", str(in_port), "-d", "--rfc5424", "-t", "kansoku-app", "-p", "local0.err",
                            "rsyslog relayed %d" % i)
            # Each message arrives three times: octet-counted TCP, LF TCP, UDP.
            wait_count(self.s, "rsyslog relayed", 30)
            self.assertEqual(count(self.s, "\"rsyslog relayed 7\" service:kansoku-app level:error"), 3)
            self.assertEqual(count(self.s, "_parse_error:*"), 0)
        finally:
            p.terminate()
            p.wait(timeout=30)

    def test_logback_syslog_udp_and_logstash_json_tcp(self):
        jars = "/usr/share/java"
        cp = ":".join(os.path.join(jars, j) for j in [
            "slf4j-api.jar", "logback-classic.jar", "logback-core.jar", "logstash-logback-encoder.jar",
            "jackson-core.jar", "jackson-databind.jar", "jackson-annotations.jar", "disruptor.jar"])
        for j in cp.split(":"):
            self.assertTrue(os.path.exists(j), j + " missing: run scripts/install-deps")
        conf = os.path.join(self.tmp, "logback.xml")
        with open(conf, "w") as f:
            f.write("""<configuration>
  <appender name="SYSLOG" class="ch.qos.logback.classic.net.SyslogAppender">
    <syslogHost>127.0.0.1</syslogHost><port>%d</port><facility>LOCAL0</facility>
    <suffixPattern>kansoku-java[%%thread]: %%logger %%msg</suffixPattern>
    <stackTracePattern>kansoku-java[%%thread]: \\t</stackTracePattern>
  </appender>
  <appender name="JSONTCP" class="net.logstash.logback.appender.LogstashTcpSocketAppender">
    <destination>127.0.0.1:%d</destination>
    <encoder class="net.logstash.logback.encoder.LogstashEncoder">
      <customFields>{"service":"checkout","env":"test"}</customFields>
    </encoder>
  </appender>
  <root level="INFO"><appender-ref ref="SYSLOG"/><appender-ref ref="JSONTCP"/></root>
</configuration>
""" % (self.s.syslog_udp, self.s.json_tcp))
        src = os.path.join(self.tmp, "KansokuLogbackDemo.java")
        shutil.copy(harness.shared_path("clients", "logback", "KansokuLogbackDemo.java"), src)
        subprocess.run(["javac", "-d", self.tmp, "-cp", cp, src], check=True, timeout=120)
        subprocess.run(["java", "-Dlogback.configurationFile=" + conf, "-Dkansoku.wait.ms=3000",
                        "-cp", self.tmp + ":" + cp, "KansokuLogbackDemo"], check=True, timeout=120,
                       capture_output=True)
        # Syslog: 2 events; the stack trace (one datagram per line) joined to its event.
        wait_count(self.s, "source:syslog service:kansoku-java", 2)
        err = query(self.s, "source:syslog service:kansoku-java \"payment failed\"")["rows"]
        self.assertEqual(len(err), 1)
        self.assertEqual(err[0]["level"], "error")
        self.assertIn("java.lang.IllegalStateException: payment gateway timeout", err[0]["_msg"])
        self.assertIn("Caused by: java.lang.NumberFormatException", err[0]["_msg"])
        # JSON over TCP: 2 events, stack trace kept in its field, MDC and custom fields.
        wait_count(self.s, "source:json_tcp", 2)
        row = query(self.s, "source:json_tcp level:error")["rows"][0]
        self.assertEqual(row["_msg"], "payment failed for order 42")
        self.assertIn('env="test"', row["_stream"])
        self.assertEqual(row["service"], "checkout")
        self.assertEqual(row["requestId"], "r-123")
        self.assertIn("Caused by: java.lang.NumberFormatException", row["stack_trace"])
        self.assertEqual(row["logger_name"], "com.example.checkout.OrderService")

    # ---- durability, query API, tail, CLI ----

    def post_lines(self, lines):
        st, _, data = self.s.request("POST", "/insert/jsonline", "\n".join(json.dumps(l) for l in lines))
        self.assertEqual(st, 200, data)

    def test_acknowledged_lines_survive_kill9(self):
        for b in range(10):
            self.post_lines([{"_msg": "durable %d %d" % (b, i), "service": "s%d" % (i % 3)} for i in range(500)])
        self.s.kill9()
        self.s = start(data_dir=self.s.data)
        self.assertEqual(count(self.s, "durable"), 5000)
        self.assertEqual(count(self.s, "durable service:s1"), 1670)
        # A clean stop flushes to blocks; a restart reads them back.
        self.s.stop()
        self.assertTrue(any(f.endswith(".blk") for _, _, fs in os.walk(os.path.join(self.s.data, "logs")) for f in fs))
        self.s = start(data_dir=self.s.data)
        self.assertEqual(count(self.s, "durable"), 5000)

    def test_query_paging_hits_context_tail_and_cli(self):
        base = 1795651200 * 10**9  # 2026-11-26T00:00:00Z
        self.post_lines([{"_time": str(base + i * 10**9), "_msg": "event %d %s" % (i, "boom" if i % 7 == 0 else "fine"),
                          "service": "pager"} for i in range(300)])
        seen, cursor = [], ""
        while True:
            d = query(self.s, "service:pager", limit=64, cursor=cursor)
            seen += [r["_msg"] for r in d["rows"]]
            cursor = d["next_cursor"]
            if not cursor:
                break
        self.assertEqual(len(seen), 300)
        self.assertEqual(seen[0], "event 299 fine")
        self.assertEqual(len(set(seen)), 300)
        st, h = self.s.json("GET", "/api/v1/logs/hits?" + urllib.parse.urlencode(
            {"query": "boom", "start": str(base // 10**9), "end": str(base // 10**9 + 300), "step": "100s"}))
        self.assertEqual(st, 200, h)
        self.assertEqual([b["hits"] for b in h["data"]["buckets"]], [15, 14, 14])
        hit = query(self.s, "\"event 140 boom\"")["rows"][0]
        st, c = self.s.json("GET", "/api/v1/logs/context?" + urllib.parse.urlencode(
            {"stream": hit["_stream"], "ts": hit["_time_ns"], "before": 2, "after": 2}))
        self.assertEqual(st, 200, c)
        self.assertEqual([r["_msg"] for r in c["data"]["rows"]],
                         ["event 138 fine", "event 139 fine", "event 140 boom", "event 141 fine", "event 142 fine"])
        st, e = self.s.json("GET", "/api/v1/logs/query?query=" + urllib.parse.quote("(boom"))
        self.assertEqual(st, 400)
        self.assertIn("offset 5", e["error"])
        # Table output and the CLI.
        env = dict(os.environ, KANSOKU_SERVER=self.s.url, KANSOKU_TOKEN=self.s.token)
        out = subprocess.run([harness.BIN, "logs", "boom | stats count() by (service)"], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"pager\s+43")
        out = subprocess.run([harness.BIN, "logs", "service:pager boom", "--limit", "3"], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout.count("\n"), 3)
        self.assertIn("event 294 boom", out.stdout.splitlines()[0])
        # Live tail: server-sent events, then the CLI's --follow.
        st, _, first = self.s.request("GET", "/api/v1/logs/tail?wait=0s&query=live")
        cur = re.search(rb"id: (\d+)", first).group(1).decode()
        self.post_lines([{"_msg": "live %d" % i, "service": "tail"} for i in range(3)] + [{"_msg": "other"}])
        st, h, body = self.s.request("GET", "/api/v1/logs/tail?wait=2s&query=live",
                                     headers={"Last-Event-ID": cur})
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/event-stream")
        events = [json.loads(l[6:]) for l in body.decode().splitlines() if l.startswith("data: ")]
        self.assertEqual([e["_msg"] for e in events], ["live 0", "live 1", "live 2"])
        f = subprocess.Popen([harness.BIN, "logs", "followme", "--follow"], env=env, stdout=subprocess.PIPE,
                             text=True)
        try:
            time.sleep(1.5)
            self.post_lines([{"_msg": "followme %d" % i} for i in range(4)])
            lines = []
            deadline = time.time() + 30
            while len(lines) < 4 and time.time() < deadline:
                lines.append(f.stdout.readline())
            self.assertEqual(len([l for l in lines if "followme" in l]), 4, lines)
        finally:
            f.send_signal(signal.SIGINT)
            f.wait(timeout=30)
            f.stdout.close()

    def test_tail_keeps_rows_flushed_between_polls(self):
        # A small head is flushed to blocks (by the background thread) while the tail reader is
        # away; the next poll from its cursor must still get every matching row, in order.
        # Every POST (1,200 rows) fills the 1,000-row head, so the background thread flushes it;
        # the test waits for that flush before the next POST, so there are exactly five flushes
        # (five blocks) however the threads are scheduled.
        self.s.stop()
        self.s.cleanup()
        self.s = start(config=CONFIG + "  head_max_rows: 1000\n")
        st, _, first = self.s.request("GET", "/api/v1/logs/tail?wait=0s&query=flushtail")
        self.assertEqual(st, 200)
        cur = re.search(rb"id: (\d+)", first).group(1).decode()

        def flushes():
            st, _, m = self.s.request("GET", "/metrics")
            self.assertEqual(st, 200)
            return int(re.search(rb"^kansoku_logs_flushes_total (\d+)", m, re.M).group(1))

        for b in range(5):
            self.post_lines([{"_msg": "flushtail %d" % (b * 1000 + i), "service": "t%d" % (i % 4)} for i in range(1000)]
                            + [{"_msg": "unrelated %d" % i} for i in range(200)])
            harness.wait_until(lambda: flushes() >= b + 1, timeout=60,
                               what="flush %d of the head" % (b + 1))
        logs_dir = os.path.join(self.s.data, "logs")
        self.assertEqual(flushes(), 5)
        self.assertEqual(sum(f.endswith(".blk") for _, _, fs in os.walk(logs_dir) for f in fs), 5)
        got = []
        deadline = time.time() + 60
        while len(got) < 5000 and time.time() < deadline:
            st, _, body = self.s.request("GET", "/api/v1/logs/tail?wait=1s&query=flushtail",
                                         headers={"Last-Event-ID": cur})
            self.assertEqual(st, 200)
            text = body.decode()
            got += [json.loads(l[6:])["_msg"] for l in text.splitlines() if l.startswith("data: ")]
            cur = re.search(r"id: (\d+)", text).group(1)
        self.assertEqual(got, ["flushtail %d" % i for i in range(5000)])

    def test_self_metrics_count_flagged_and_accepted(self):
        self.post_lines([{"_msg": "m%d" % i} for i in range(7)])
        st, _, data = self.s.request("POST", "/insert/jsonline", "not json\n{\"_msg\":\"ok\"}")
        self.assertEqual(st, 200)
        st, _, m = self.s.request("GET", "/metrics")
        m = m.decode()
        self.assertIn('kansoku_rows_accepted_total{protocol="jsonline"} 9', m)
        self.assertIn('kansoku_logs_records_flagged_total{protocol="jsonline"} 1', m)
        self.assertRegex(m, r"kansoku_logs_rows_appended_total 9\b")


if __name__ == "__main__":
    unittest.main()
