#!/usr/bin/python3
"""Renders bench/promql/run.sh's results (WORK/run.env and the query JSONs k-q, v-q, p-q) as a
markdown table with the issue's goal ratios (kansoku <= 0.5 x VictoriaMetrics and <= 0.2 x
Prometheus, medians).
Usage: report.py WORK_DIR COMMAND HOSTS HOURS
"""
import datetime
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def main():
    work, command, hosts, hours = sys.argv[1:5]
    env = {}
    with open(os.path.join(work, "run.env")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            env[k] = v
    res = {s: load(os.path.join(work, f"{s}-q.json")) for s in ("k", "v", "p")}
    o = [f"# bench/promql — {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n",
         f"Command: `{command}`  ",
         f"Data: {hosts} hosts × 200 series (bench/tsdb/gen.cc), 15 s interval, {hours} h; range "
         "queries over the whole span at 60 s step  ",
         f"Machine: {env.get('machine')}; load average before {env.get('load_before')}, after "
         f"{env.get('load_after')}  ",
         f"kansoku {env.get('kansoku_commit')} ({env.get('kansoku_binary')}), VictoriaMetrics "
         f"{env.get('vm_version')} (-search.disableCache), Prometheus {env.get('prom_version')}\n",
         "Latency, ms: min / median of the runs (cpu: the server's utime+stime per run).\n",
         "| query | kansoku | VictoriaMetrics | Prometheus | k/VM median (goal ≤ 0.5) | "
         "k/Prom median (goal ≤ 0.2) | answers (k; VM; Prom) |",
         "|---|---|---|---|---|---|---|"]
    names = list(res["k"] or res["v"] or res["p"])

    def cell(r):
        if not r:
            return "—"
        cpu = f" (cpu {r['cpu_ms_per_run']:.0f})" if r.get("cpu_ms_per_run") is not None else ""
        # Sub-10 ms answers (b, e) to 0.01 ms: kansoku_bench_hget times them to the microsecond.
        fmt = (lambda x: f"{x:.2f}") if r["median_ms"] < 10 else (lambda x: f"{x:.1f}")
        return f"{fmt(r['min_ms'])} / {fmt(r['median_ms'])}{cpu}"

    def ratio(a, b, goal):
        if not a or not b or not b.get("median_ms"):
            return "—"
        x = a["median_ms"] / b["median_ms"]
        return f"{x:.2f} ({'meets' if x <= goal else 'MISSES'})"

    for n in names:
        k, v, p = (res[s].get(n) for s in ("k", "v", "p"))
        answers = "; ".join((r or {}).get("answer", "—") for r in (k, v, p))
        o.append(f"| {n} | {cell(k)} | {cell(v)} | {cell(p)} | {ratio(k, v, 0.5)} | "
                 f"{ratio(k, p, 0.2)} | {answers} |")
    print("\n".join(o))


if __name__ == "__main__":
    main()
