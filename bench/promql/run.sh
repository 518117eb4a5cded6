#!/usr/bin/env bash
# bench/promql (issue 4): query latency of kansoku vs Prometheus vs VictoriaMetrics on the data
# of bench/tsdb, in the same run: (a) sum by (instance) (rate(node_cpu_seconds_total[5m])) over
# the whole span at 60 s step, (b) one series, (c) a regex selector with topk, (d)
# histogram_quantile over a classic histogram, (e) /api/v1/series and label-values lookups;
# 5 runs each, min and median (queries.py). The data has to be loaded first, so this runs
# bench/tsdb/run.sh, which loads each server and then calls queries.py against it.
# Usage: bench/promql/run.sh [--hours 24] [--hosts 100] [--parallel 4] [--only kansoku,vm,prom]
set -euo pipefail
exec "$(dirname "$0")/../tsdb/run.sh" "$@"
