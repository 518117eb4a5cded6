#!/usr/bin/env python3
"""run.py's kansoku ingest step alone, for A/B runs of two binaries on the same data:

  python3 bench/logs/ingest.py BIN DIR [PERF_OUT]

DIR holds what gen_logs.py wrote. A fresh server (data in a temporary directory, removed after)
gets DIR/ingest.jsonl in the same 8 MiB chunks on 2 connections as run.py; prints the server's
CPU us per line acked / including the final flush (utime + stime from /proc, then wait4 after
SIGTERM), lines/s, bytes on disk per event, the load average and peak RSS. With PERF_OUT, `perf
record` samples the server meanwhile (PF=frequency, PG="perf call-graph options", default -g).
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

binp, data = sys.argv[1], sys.argv[2]
perf = sys.argv[3] if len(sys.argv) > 3 else None
run.BIN = binp
work = tempfile.mkdtemp(prefix="kansoku-bench-logs-ingest-")
try:
    bodies = run.chunks(os.path.join(data, "ingest.jsonl"))
    n = sum(b.count(b"\n") for b in bodies)
    k = run.Kansoku(work)
    k.start()
    pp = None
    if perf:
        pp = subprocess.Popen(["perf", "record", "-F", os.environ.get("PF", "999")] +
                              os.environ.get("PG", "-g").split() + ["-o", perf, "-p", str(k.proc.pid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    c0 = k.cpu_seconds()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    run.post_all("127.0.0.1", k.port, "/insert/jsonline", bodies,
                 {"Authorization": "Bearer " + run.TOKEN, "Content-Type": "application/x-ndjson"})
    t_ack = time.perf_counter() - t0
    c_ack = k.cpu_seconds() - c0
    rss = k.peak_rss()
    c_all = k.stop_cpu() - c0
    t_all = time.perf_counter() - t0
    if pp:
        pp.send_signal(signal.SIGINT)
        pp.wait()
    disk = run.du(os.path.join(k.data, "logs"))
    print("%s cpu_us/line %.3f / %.3f  lines/s %.0f / %.0f  B/event %.2f  load %.1f  rss %.0f MiB" % (
        os.path.basename(binp), c_ack / n * 1e6, c_all / n * 1e6, n / t_ack, n / t_all, disk / n, load0,
        rss / 2**20))
finally:
    shutil.rmtree(work, ignore_errors=True)
