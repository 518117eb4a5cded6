#!/usr/bin/env python3
"""bench/logs (issue 7): kansoku vs ripgrep vs ClickHouse (Debian 18.16, MergeTree, zstd) in one run.

  bench/logs/run.sh [--events 7200000] [--seed 42] [--reps 5] [--only kansoku,rg,clickhouse] [--data DIR]
                    [--kansoku-data DIR] [--bin PATH]

1. gen_logs.py writes access.log + app.jsonl (the raw files ripgrep searches), ingest.jsonl (the
   same events, normalised, what kansoku and ClickHouse load) and manifest.json (exact counts).
2. kansoku: fresh server; ingest.jsonl POSTed to /insert/jsonline in 8 MiB chunks over 2
   keep-alive connections; ingest time = first byte until the server has exited after SIGTERM
   (head flushed to blocks); bytes on disk = du of data/logs; then restarted and queried.
3. ripgrep over the raw files (page cache warm), -j2.
4. ClickHouse: own server on 127.0.0.1, zstd compression, JSONEachRow over HTTP in the same
   chunks over 2 connections, OPTIMIZE FINAL, bytes = sum of parts' bytes_on_disk.
   With --kansoku-data DIR the server's data directory is DIR (kept): when DIR already holds
   logs, ingest is skipped and only the queries run (before/after comparisons of two binaries on
   the very same blocks: --bin).
Every query is run --reps times; min / median seconds reported with the server's CPU time per
query (utime + stime from /proc, mean over the reps), and every count is checked against the
manifest. Output: a Markdown table on stdout and in bench/logs/out/.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "release", "kansoku")
TOKEN = "ksk_bench_logs_token_0123456789abcdef"
END = 1795651200
NEEDLE = "f00dfacecafe4b1d8e2a9c7b3d5e6f01"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def chunks(path, size=8 << 20):
    out = []
    with open(path, "rb") as f:
        while True:
            b = f.read(size)
            if not b:
                break
            nl = b.rfind(b"\n")
            if nl != len(b) - 1:
                rest = f.readline()
                b += rest
            out.append(b)
    return out


def post_all(host, port, path, bodies, headers, streams=2):
    errors = []

    def worker(k):
        conn = http.client.HTTPConnection(host, port, timeout=600)
        for i in range(k, len(bodies), streams):
            for attempt in range(50):
                conn.request("POST", path, body=bodies[i], headers=headers)
                r = conn.getresponse()
                data = r.read()
                if r.status in (200, 204):
                    break
                if r.status == 503:
                    time.sleep(0.2)
                    continue
                errors.append((r.status, data[:300]))
                return
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(streams)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError("ingest failed: %r" % errors[:3])


def du(path):
    total = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            total += os.path.getsize(os.path.join(d, f))
    return total


def timed(fn, reps):
    ts, val = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        val = fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), statistics.median(ts), val


class Kansoku:
    def __init__(self, work, data=None):
        self.work = work
        self.data = data or os.path.join(work, "kansoku-data")
        self.proc = None

    def start(self):
        self.port = free_port()
        env = dict(os.environ, KANSOKU_ADMIN_TOKEN=TOKEN)
        self.err = open(os.path.join(self.work, "kansoku.log"), "a")
        self.proc = subprocess.Popen([BIN, "server", "--data", self.data, "--listen", "127.0.0.1:%d" % self.port,
                                      "--log-level", "warn"], env=env, stderr=self.err, stdout=self.err)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                c.request("GET", "/-/ready")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("kansoku did not start")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=600)
        self.err.close()

    def cpu_seconds(self):
        f = open("/proc/%d/stat" % self.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def stop_cpu(self):
        """SIGTERM, wait, and return the server's total CPU seconds (user + system)."""
        self.proc.send_signal(signal.SIGTERM)
        _, _, ru = os.wait4(self.proc.pid, 0)
        self.proc.returncode = 0
        self.err.close()
        return ru.ru_utime + ru.ru_stime

    def peak_rss(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) * 1024

    def query(self, q, **params):
        params["query"] = q
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        c.request("GET", "/api/v1/logs/query?" + urllib.parse.urlencode(params),
                  headers={"Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        body = json.loads(r.read())
        if r.status != 200:
            raise RuntimeError(body)
        return body["data"]


def rg(args, files):
    r = subprocess.run(["rg", "-j2", "-c", "--no-filename"] + args + files, capture_output=True, text=True)
    return sum(int(x) for x in r.stdout.split())


class ClickHouse:
    def __init__(self, work):
        self.dir = os.path.join(work, "ch")
        os.makedirs(self.dir)
        self.port = free_port()
        tcp = free_port()
        with open(os.path.join(self.dir, "config.xml"), "w") as f:
            f.write("""<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>%(d)s/server.log</log><errorlog>%(d)s/error.log</errorlog></logger>
  <http_port>%(p)d</http_port><tcp_port>%(t)d</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>%(d)s/data/</path><tmp_path>%(d)s/tmp/</tmp_path>
  <users_config>%(d)s/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <compression><case><method>zstd</method></case></compression>
</yandex>
""" % {"d": self.dir, "p": self.port, "t": tcp})
        with open(os.path.join(self.dir, "users.xml"), "w") as f:
            f.write("""<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
""")
        self.proc = subprocess.Popen(["clickhouse-server", "--config-file=" + os.path.join(self.dir, "config.xml")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                self.sql("SELECT 1")
                return
            except Exception:  # noqa: BLE001 - retried until the deadline
                time.sleep(0.3)
        raise RuntimeError("clickhouse did not start")

    def sql(self, q, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1200)
        path = "/?" + urllib.parse.urlencode({"query": q}) if body is not None else "/"
        c.request("POST", path, body=body if body is not None else q)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError(data[:500])
        return data.decode()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=7200000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="kansoku,rg,clickhouse")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--data", help="reuse the files gen_logs.py wrote to this directory (same --events)")
    ap.add_argument("--bin", default=BIN, help="kansoku binary (default build/release/kansoku)")
    ap.add_argument("--kansoku-data", help="kansoku data directory, kept; ingest skipped when it holds logs")
    a = ap.parse_args()
    globals()["BIN"] = a.bin
    only = a.only.split(",")
    work = tempfile.mkdtemp(prefix="kansoku-bench-logs-")
    rows = []  # (system, metric, value)
    try:
        t0 = time.time()
        if a.data:
            for f in ("access.log", "app.jsonl", "ingest.jsonl", "manifest.json"):
                os.symlink(os.path.join(os.path.abspath(a.data), f), os.path.join(work, f))
        else:
            subprocess.run([sys.executable, os.path.join(ROOT, "bench", "logs", "gen_logs.py"), str(a.events),
                            str(a.seed), work], check=True)
            print("generated %d events in %.0fs" % (a.events, time.time() - t0), file=sys.stderr)
        m = json.load(open(os.path.join(work, "manifest.json")))
        if m["events"] != a.events:
            raise SystemExit("--data holds %d events, not --events %d" % (m["events"], a.events))
        raw = m["raw_bytes"]
        bodies = chunks(os.path.join(work, "ingest.jsonl"))
        n = a.events
        h1 = "_time:[%d, %d)" % (END - 3600, END)
        want_sl = lambda key: {tuple(k.split("/")): v for k, v in m[key].items()}  # noqa: E731

        reuse = a.kansoku_data and os.path.isdir(os.path.join(a.kansoku_data, "logs", "partitions"))
        if "kansoku" in only and reuse:
            k = Kansoku(work, os.path.abspath(a.kansoku_data))
            rows.append(("kansoku", "ingest", "skipped: reused " + a.kansoku_data))
            k.start()
        elif "kansoku" in only:
            k = Kansoku(work, a.kansoku_data and os.path.abspath(a.kansoku_data))
            k.start()
            c0 = k.cpu_seconds()
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            post_all("127.0.0.1", k.port, "/insert/jsonline", bodies,
                     {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/x-ndjson"})
            t_ack = time.perf_counter() - t0
            c_ack = k.cpu_seconds() - c0
            rss = k.peak_rss()
            c_all = k.stop_cpu() - c0
            t_all = time.perf_counter() - t0
            disk = du(os.path.join(k.data, "logs"))
            # The machine is shared: CPU time per line is the figure that does not depend on load.
            rows += [("kansoku", "ingest lines/s (acked)", "%.0f" % (n / t_ack)),
                     ("kansoku", "ingest lines/s (incl. final flush)", "%.0f" % (n / t_all)),
                     ("kansoku", "ingest server CPU us/line (acked / incl. final flush)",
                      "%.2f / %.2f" % (c_ack / n * 1e6, c_all / n * 1e6)),
                     ("kansoku", "ingest lines per server CPU-second (incl. flush)", "%.0f" % (n / c_all)),
                     ("kansoku", "load average at ingest start", "%.1f" % load0),
                     ("kansoku", "bytes on disk / event", "%.1f" % (disk / n)),
                     ("kansoku", "peak RSS during ingest (MiB)", "%.0f" % (rss / 2**20))]
            k.start()
        if "kansoku" in only:
            rows.append(("kansoku", "load average at query start", "%.1f" % os.getloadavg()[0]))

            def check(label, fn, want):
                fn()  # warm-up (page cache, first-touch allocations); not counted
                c0 = k.cpu_seconds()
                lo, med, got = timed(fn, a.reps)
                cpu = (k.cpu_seconds() - c0) / a.reps
                ok = "ok" if got == want else "MISMATCH got %r want %r" % (got, want)
                rows.append(("kansoku", label, "%.4f / %.4f s, server CPU %.1f ms/query (%s)" % (
                    lo, med, cpu * 1e3, ok)))

            def table(q):
                d = k.query(q)
                return {(r[0], r[1]): int(r[2]) for r in d["rows"]} if len(d["columns"]) == 3 else int(d["rows"][0][0])

            check("needle trace_id (4 rows)", lambda: len(k.query('trace_id:="%s"' % NEEDLE)["rows"]), m["needle_trace"])
            check("rare word rows", lambda: len(k.query("zyzzogeton")["rows"]), m["rare_word"])
            check("frequent word count", lambda: table("timeout | stats count()"), m["frequent_word"])
            check("regex 5xx count", lambda: table('service:nginx ~"\\" 5[0-9]{2} [0-9]+ " | stats count()'),
                  m["regex_5xx"])
            check("count by service,level 1h", lambda: table(h1 + " | stats count() by (service, level)"),
                  want_sl("by_service_level_1h"))
            check("count by service,level 24h", lambda: table("* | stats count() by (service, level)"),
                  want_sl("by_service_level_24h"))
            k.stop()

        files = [os.path.join(work, "access.log"), os.path.join(work, "app.jsonl")]
        if "rg" in only and shutil.which("rg"):
            for label, args, want in [("needle trace_id", ["-F", NEEDLE], m["needle_trace"]),
                                      ("rare word", ["-F", "zyzzogeton"], m["rare_word"]),
                                      ("frequent word (raw lines)", ["-F", "timeout"], m["frequent_word_raw_lines"]),
                                      ("regex 5xx", ['" 5[0-9]{2} [0-9]+ '], m["regex_5xx"])]:
                lo, med, got = timed(lambda: rg(args, files), a.reps)
                rows.append(("ripgrep", label, "%.4f / %.4f s (%s)" % (lo, med, "ok" if got == want else
                                                                      "MISMATCH got %d want %d" % (got, want))))

        if "clickhouse" in only and shutil.which("clickhouse-server"):
            ch = ClickHouse(work)
            try:
                ch.sql("CREATE TABLE logs (ts DateTime, service String, host String, level String, trace_id String,"
                       " msg String, stack_trace String) ENGINE = MergeTree PARTITION BY toDate(ts)"
                       " ORDER BY (service, level, ts)")
                q = urllib.parse.urlencode({"query": "INSERT INTO logs FORMAT JSONEachRow",
                                            "date_time_input_format": "best_effort",
                                            "input_format_skip_unknown_fields": "1"})
                t0 = time.perf_counter()
                post_all("127.0.0.1", ch.port, "/?" + q, bodies, {})
                t_ins = time.perf_counter() - t0
                ch.sql("OPTIMIZE TABLE logs FINAL")
                disk = int(ch.sql("SELECT sum(bytes_on_disk) FROM system.parts WHERE table='logs' AND active"))
                rows += [("clickhouse", "ingest rows/s (JSONEachRow, 2 streams)", "%.0f" % (n / t_ins)),
                         ("clickhouse", "bytes on disk / event (zstd)", "%.1f" % (disk / n))]

                def chk(label, sql, want, conv=lambda s: int(s.strip() or 0)):
                    lo, med, got = timed(lambda: conv(ch.sql(sql)), a.reps)
                    rows.append(("clickhouse", label, "%.4f / %.4f s (%s)" % (
                        lo, med, "ok" if got == want else "MISMATCH got %r want %r" % (got, want))))

                def sl(s):
                    return {(l.split("\t")[0], l.split("\t")[1]): int(l.split("\t")[2]) for l in s.strip().split("\n") if l}
                chk("needle trace_id", "SELECT count() FROM logs WHERE trace_id = '%s'" % NEEDLE, m["needle_trace"])
                chk("rare word", "SELECT count() FROM logs WHERE position(msg, 'zyzzogeton') > 0", m["rare_word"])
                chk("frequent word count", "SELECT count() FROM logs WHERE match(msg, '\\\\btimeout\\\\b')",
                    m["frequent_word"])
                chk("regex 5xx count", "SELECT count() FROM logs WHERE service='nginx' AND match(msg, '\" 5[0-9]{2} [0-9]+ ')",
                    m["regex_5xx"])
                chk("count by service,level 1h", "SELECT service, level, count() FROM logs WHERE ts >= %d AND ts < %d"
                    " GROUP BY service, level" % (END - 3600, END), want_sl("by_service_level_1h"), sl)
                chk("count by service,level 24h", "SELECT service, level, count() FROM logs GROUP BY service, level",
                    want_sl("by_service_level_24h"), sl)
            finally:
                ch.stop()
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    out = ["# bench/logs: %d events, %.2f GB raw (%.0f B/event), %s" % (
        a.events, raw / 1e9, raw / a.events, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())),
        "", "| system | measure | value (min / median of %d) |" % a.reps, "|---|---|---|"]
    out += ["| %s | %s | %s |" % r for r in rows]
    text = "\n".join(out)
    print(text)
    os.makedirs(os.path.join(ROOT, "bench", "logs", "out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "logs", "out", "results-%s.md" % time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
