#!/usr/bin/python3
"""bench/promql: latency of the same Prometheus-API queries against one server.

Each query (the issue's (a)..(e)) is sent --runs times, one after the other, over a fresh
connection each time; the script prints one JSON object: per query the first (cold), min and
median wall time in ms, the HTTP status and a short summary of the answer (series, points) so the
caller can check that every server answered the same thing.

With --client PATH (kansoku_bench_hget, bench/promql/hget.cc) the requests are sent and timed by
that small C++ client instead of Python's http.client, whose own ~0.2 ms a request is the size of
a whole label lookup on these servers; both run.sh scripts pass it.

With --pid (the server's process id, on this machine) it also reports the server's CPU time per
run (utime+stime from /proc/PID/stat), which a loaded machine distorts less than wall time.

Usage: queries.py URL --start S --end E [--token T] [--runs 5] [--pid PID] [--client PATH]
  URL     base URL, e.g. http://127.0.0.1:9400 (kansoku, Prometheus and VictoriaMetrics alike)
  S, E    unix seconds, multiples of 60 (VictoriaMetrics aligns range queries to the step)
bench/tsdb/run.sh calls it for each server after loading the same data into each.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.parse

STEP = 60


def queries(start, end):
    rng = {"start": start, "end": end, "step": STEP}
    span = {"start": start, "end": end}
    return [
        ("a_sum_rate_cpu", "/api/v1/query_range",
         dict(rng, query="sum by (instance) (rate(node_cpu_seconds_total[5m]))")),
        ("b_one_series", "/api/v1/query_range",
         dict(rng, query='rate(node_network_receive_bytes_total{instance="host-001:9100",device="eth0"}[5m])')),
        ("c_regex_topk", "/api/v1/query_range",
         dict(rng, query='topk(5, sum by (instance) (rate(node_network_receive_bytes_total'
                         '{instance=~"host-0[0-4].*",device=~"eth.*"}[5m])))')),
        ("d_hist_quantile", "/api/v1/query_range",
         dict(rng, query="histogram_quantile(0.99, sum by (le) "
                         "(rate(http_request_duration_seconds_bucket[5m])))")),
        ("e1_series_metric", "/api/v1/series", dict(span, **{"match[]": "node_load1"})),
        ("e2_series_host", "/api/v1/series", dict(span, **{"match[]": '{instance="host-001:9100"}'})),
        ("e3_label_instance", "/api/v1/label/instance/values", dict(span)),
        ("e4_label_name", "/api/v1/label/__name__/values", dict(span)),
    ]


def summarize(body):
    try:
        doc = json.loads(body)
    except ValueError:
        return "not json"
    if doc.get("status") != "success":
        return "error: " + str(doc.get("error", ""))[:120]
    data = doc["data"]
    if isinstance(data, list):
        return f"{len(data)} items"
    result = data.get("result", [])
    points = sum(len(s.get("values", [])) for s in result)
    return f"{len(result)} series, {points} points"


def cpu_ms(pid):
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--start", type=int, required=True)
    ap.add_argument("--end", type=int, required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--pid", type=int, default=0)
    ap.add_argument("--client", default="")
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    headers = {"Authorization": "Bearer " + args.token} if args.token else {}
    out = {}
    for name, path, params in queries(args.start, args.end):
        target = path + "?" + urllib.parse.urlencode(params)
        times, status, summary = [], 0, ""
        c0 = cpu_ms(args.pid)
        if args.client:
            with tempfile.NamedTemporaryFile() as body_file:
                cmd = [args.client, u.hostname, str(u.port), str(args.runs), target, "--body", body_file.name]
                for k, v in headers.items():
                    cmd += ["--header", f"{k}: {v}"]
                lines = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout.split("\n")
                runs = [line.split() for line in lines if line]
                times = [int(r[0]) / 1000.0 for r in runs]
                status = int(runs[-1][1])
                summary = summarize(body_file.read())
        else:
            for _ in range(args.runs):
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
                t0 = time.perf_counter()
                conn.request("GET", target, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                times.append((time.perf_counter() - t0) * 1000)
                conn.close()
                status, summary = resp.status, summarize(body)
        cpu = (cpu_ms(args.pid) - c0) / args.runs
        out[name] = {"first_ms": round(times[0], 3), "min_ms": round(min(times), 3),
                     "cpu_ms_per_run": round(cpu, 1) if args.pid else None,
                     "median_ms": round(statistics.median(times), 3), "status": status,
                     "answer": summary}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
