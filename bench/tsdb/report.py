#!/usr/bin/python3
"""Renders bench/tsdb/run.sh's results (results.env + the query JSONs in WORK) as one markdown
report: ingest, disk and memory side by side with the issue's goal ratios, then the query table.
Usage: report.py RESULTS_ENV WORK_DIR COMMAND
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
    res_path, work, command = sys.argv[1:4]
    r = {}
    with open(res_path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            r[k] = v
    samples = int(float(r.get("samples", "0") or 0))
    systems = [("kansoku", "kansoku"), ("vm", "VictoriaMetrics"), ("prom", "Prometheus")]

    def num(k):
        try:
            return float(r[k])
        except (KeyError, ValueError):
            return None

    def fmt(v, f="{:.2f}"):
        return "—" if v is None else f.format(v)

    rate = {s: (samples / num(f"{s}_ingest_s") if num(f"{s}_ingest_s") else None) for s, _ in systems}
    bps = {s: (num(f"{s}_bytes") / samples if num(f"{s}_bytes") and samples else None) for s, _ in systems}
    rss_i = {s: (num(f"{s}_rss_ingest_kb") / 1024 if num(f"{s}_rss_ingest_kb") else None) for s, _ in systems}
    rss_q = {s: (num(f"{s}_rss_query_kb") / 1024 if num(f"{s}_rss_query_kb") else None) for s, _ in systems}

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    def verdict(x, goal, higher_better):
        if x is None:
            return "—"
        ok = x >= goal if higher_better else x <= goal
        return f"{x:.2f} ({'meets' if ok else 'MISSES'} {'≥' if higher_better else '≤'} {goal})"

    o = []
    o.append(f"# bench/tsdb + bench/promql — {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC\n")
    o.append(f"Command: `{command}`  ")
    o.append(f"Data: {r.get('hosts')} hosts × 200 series, 15 s interval, {r.get('hours')} h = "
             f"**{samples:,} samples** ({float(r.get('chunk_bytes', '0') or 0) / 1e9:.2f} GB of Prometheus text); "
             f"{r.get('parallel')} concurrent keep-alive connections (one per host group)  ")
    o.append(f"Machine: {r.get('machine')}; load average before {r.get('load_before')}, "
             f"after {r.get('load_after')}  ")
    o.append(f"kansoku {r.get('kansoku_commit')} (binary built {r.get('kansoku_binary_mtime')}), "
             f"VictoriaMetrics {r.get('vm_version')}, Prometheus {r.get('prom_version')} (Debian)\n")

    o.append("| | kansoku | VictoriaMetrics | Prometheus | kansoku / VM (goal) |")
    o.append("|---|---|---|---|---|")
    o.append(f"| ingest, samples/s (send + flush) | {fmt(rate['kansoku'], '{:,.0f}')} | "
             f"{fmt(rate['vm'], '{:,.0f}')} | {fmt(rate['prom'], '{:,.0f}')} (promtool backfill) | "
             f"{verdict(ratio(rate['kansoku'], rate['vm']), 2.0, True)} |")
    o.append(f"| send / flush, s | {fmt(num('kansoku_send_s'))} / {fmt(num('kansoku_flush_s'))} (SIGTERM) | "
             f"{fmt(num('vm_send_s'))} / {fmt(num('vm_flush_s'))} (force_flush) | "
             f"{fmt(num('prom_ingest_s'))} (promtool) | |")
    cpu = {k: num(f"{k}_cpu_ingest_s") for k, _ in systems}
    o.append(f"| server CPU during ingest, s (µs/sample) | "
             + " | ".join(fmt(cpu[k]) + (f" ({cpu[k] / samples * 1e6:.2f})" if cpu[k] and samples else "")
                          for k, _ in systems)
             + f" | {fmt(ratio(cpu['kansoku'], cpu['vm']))} × VM's CPU |")
    o.append(f"| bytes/sample on disk | {fmt(bps['kansoku'], '{:.3f}')} | {fmt(bps['vm'], '{:.3f}')} "
             f"({'data+indexdb' if 'vm_bytes_all' in r else 'whole dir'} after force_merge + stop; {fmt(num('vm_bytes_flushed') / samples if num('vm_bytes_flushed') and samples else None, '{:.3f}')} "
             f"after force_flush) | {fmt(bps['prom'], '{:.3f}')} ({r.get('prom_blocks', '?')} blocks) | "
             f"{verdict(ratio(bps['kansoku'], bps['vm']), 0.8, False)} |")
    o.append(f"| peak RSS ingest, MB | {fmt(rss_i['kansoku'], '{:.0f}')} | {fmt(rss_i['vm'], '{:.0f}')} | "
             f"{fmt(rss_i['prom'], '{:.0f}')} (promtool) | {verdict(ratio(rss_i['kansoku'], rss_i['vm']), 1.0, False)} |")
    o.append(f"| peak RSS queries, MB | {fmt(rss_q['kansoku'], '{:.0f}')} (restarted) | "
             f"{fmt(rss_q['vm'], '{:.0f}')} (whole run) | {fmt(rss_q['prom'], '{:.0f}')} (server) | |")
    o.append(f"| check: node_load* series / node_load1 samples | "
             f"{r.get('kansoku_check_load_series', '—')} / {r.get('kansoku_check_load1_samples', '—')} | "
             f"{r.get('vm_check_load_series', '—')} / {r.get('vm_check_load1_samples', '—')} | "
             f"{r.get('prom_check_load_series', '—')} / {r.get('prom_check_load1_samples', '—')} | "
             f"expected {3 * int(r.get('hosts', 0))} / {int(r.get('hosts', 0)) * int(float(r.get('hours', 0)) * 240)} |")
    ks = load_json_str(r.get("kansoku_send_json"))
    vs = load_json_str(r.get("vm_send_json"))
    o.append("")
    o.append(f"kansoku: rows stored {ks.get('stored', '—'):,} rejected {ks.get('rejected', '—')}, "
             f"HTTP errors {ks.get('errors', '—')}; data dir {fmt(num('kansoku_bytes'), '{:,.0f}')} B of which WAL "
             f"{fmt(num('kansoku_bytes_wal'), '{:,.0f}')} B; restart until ready {fmt(num('kansoku_restart_s'))} s.  "
             if ks else "kansoku: not run.  ")
    o.append(f"VictoriaMetrics: rows inserted {r.get('vm_rows_inserted', '—')}, HTTP errors "
             f"{vs.get('errors', '—')}; force_merge took {fmt(num('vm_merge_s'))} s." if vs else
             "VictoriaMetrics: not run.")
    o.append("")

    q = {s: load(os.path.join(work, f"{p}-q.json")) for s, p in (("kansoku", "k"), ("vm", "v"), ("prom", "p"))}
    names = list(next((v for v in q.values() if v), {}).keys())
    o.append("Query latency, ms: min / median of 5 wall (cpu: the server's CPU ms per run, "
             "utime+stime); range queries over the whole span at a 60 s step.\n")
    o.append("| query | kansoku | VictoriaMetrics | Prometheus | kansoku/VM median (goal ≤ 0.5) | "
             "kansoku/Prom median (goal ≤ 0.2) | answers (kansoku; VM; Prom) |")
    o.append("|---|---|---|---|---|---|---|")
    for n in names:
        cells, ans = [], []
        for s, _ in systems:
            e = q[s].get(n)
            if not e:
                cells.append("—")
                ans.append("—")
                continue
            bad = "" if e["status"] == 200 else f" **HTTP {e['status']}**"
            c = e.get("cpu_ms_per_run")
            cells.append(f"{e['min_ms']:.1f} / {e['median_ms']:.1f}{bad}"
                         + (f" (cpu {c:.0f})" if c is not None else ""))
            ans.append(e["answer"])
        km = q["kansoku"].get(n, {}).get("median_ms")
        vm = q["vm"].get(n, {}).get("median_ms")
        pm = q["prom"].get(n, {}).get("median_ms")
        o.append(f"| {n} | {cells[0]} | {cells[1]} | {cells[2]} | "
                 f"{verdict(ratio(km, vm), 0.5, False)} | {verdict(ratio(km, pm), 0.2, False)} | "
                 f"{'; '.join(ans)} |")
    print("\n".join(o))


def load_json_str(s):
    try:
        return json.loads(s) if s else {}
    except ValueError:
        return {}


if __name__ == "__main__":
    main()
