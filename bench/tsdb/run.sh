#!/usr/bin/env bash
# bench/tsdb (issue 3) and bench/promql (issue 4): kansoku vs VictoriaMetrics vs Prometheus on
# the same machine, in the same run, with the same deterministic node_exporter-like data
# (gen.cc: HOSTS x 200 series, 15 s interval, HOURS hours ending a minute before the start).
#
# Measures, for each system:
#   ingest samples/s  kansoku and VictoriaMetrics: the same Python sender (send.py, one keep-alive
#                     connection per host group, PARALLEL groups) POSTs the same Prometheus text
#                     chunk files to /api/v1/import/prometheus; wall time of the whole send plus
#                     the final flush (kansoku: SIGTERM until exit; VM: /internal/force_flush).
#                     Prometheus: `promtool tsdb create-blocks-from openmetrics` (backfill).
#   bytes/sample      du --apparent-size of the data after the flush (kansoku: data/tsdb after
#                     SIGTERM; VM: data/ + indexdb/ after force_flush + force_merge + stop; Prometheus:
#                     the blocks promtool wrote), divided by the samples sent.
#   peak RSS          VmHWM of the server process read just before it is stopped (ingest phase;
#                     and the query phase for kansoku, which is restarted on its data), promtool's
#                     max RSS from getrusage.
#   query latency     bench/promql/queries.py: the same URLs against each server, 5 runs each,
#                     first/min/median (VictoriaMetrics runs with -search.disableCache).
# kansoku is also restarted on its data after SIGTERM to check nothing was lost.
#
# Usage: bench/tsdb/run.sh [--hours 24] [--hosts 100] [--parallel 4] [--only kansoku,vm,prom]
#                          [--promtool-max-block 2h]
#   promtool parses the whole file once per block it writes (2 h by default: 13 passes over 24 h);
#   --promtool-max-block 18h makes it 2-3 passes (bigger blocks, as Prometheus' compaction would).
#   The issue's run is the default (24 h x 100 hosts, ~115 M samples; needs ~15 GB free under
#   $TMPDIR (default /tmp) and ~10 min). Smoke: bench/tsdb/run.sh --hours 1 --hosts 10
# Output: a table on stdout and in bench/tsdb/out/results-<UTC date-time>.md (git-ignored).
# Every server listens on 127.0.0.1 only; the temp dir is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

HOURS=24
HOSTS=100
PARALLEL=4
ONLY=kansoku,vm,prom
PROM_BLOCK=""  # promtool --max-block-duration; "" = promtool's default (2h blocks, one pass each)
while (($#)); do
  case $1 in
    --hours) HOURS=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --parallel) PARALLEL=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --promtool-max-block) PROM_BLOCK=$2; shift 2 ;;
    *) echo "usage: $0 [--hours H] [--hosts N] [--parallel P] [--only kansoku,vm,prom]" >&2; exit 2 ;;
  esac
done
want() { [[ ,$ONLY, == *,$1,* ]]; }

scripts/install-deps --bench
PY=/usr/bin/python3
# KANSOKU_BIN: another kansoku binary (e.g. a copy of the base build for an A/B run).
# KANSOKU_KEEP_DATA=DIR: copy kansoku's data dir there after the ingest + flush (before the
# restart), for build/release/bench/tsdb/kansoku_block_stats. DIR must not exist yet.
KBIN=${KANSOKU_BIN:-build/release/kansoku}
[[ -x $KBIN ]] || { echo "build first: cmake --build build/release --target kansoku" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kansoku-bench-tsdb.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p bench/tsdb/out
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=bench/tsdb/out/results-$STAMP.md
RES=$WORK/results.env  # key=value lines, rendered by report.py
: > "$RES"
put() { echo "$1=$2" >> "$RES"; echo "  $1=$2"; }
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
du_b() { du -sb "$@" | awk '{s += $1} END {printf "%.0f\n", s}'; }
wait_http() {  # URL [seconds]
  for _ in $(seq $((${2:-60} * 10))); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; return 1
}
stop_pid() {  # PID: SIGTERM and wait for the exit (bounded: SIGKILL after 120 s)
  kill -TERM "$1"
  for _ in $(seq 1200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
promql() { $PY bench/promql/queries.py "$1" --start "$QSTART" --end "$QEND" --token "$TOKEN" --pid "$2" --client "$HGET"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); print ($12 + $13) / hz}' "/proc/$1/stat"; }

# The binary is copied: other builds may replace build/release/kansoku during the run.
cp "$KBIN" "$WORK/kansoku"
put kansoku_commit "$(git rev-parse --short HEAD)$(git diff --quiet -- src || echo +dirty-src)"
put kansoku_binary "$KBIN"
put kansoku_binary_mtime "$(date -u -r "$KBIN" +%FT%TZ)"
put vm_version "$(dpkg-query -W -f='${Version}' victoria-metrics)"
put prom_version "$(dpkg-query -W -f='${Version}' prometheus)"
put hours "$HOURS"; put hosts "$HOSTS"; put parallel "$PARALLEL"
put machine "$(nproc) cpus, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo)"
put load_before "$(cut -d' ' -f1-3 /proc/loadavg)"

# The generator: the CMake target when built (KANSOKU_BENCH), else compiled here.
GEN=build/release/bench/tsdb/kansoku_bench_gen
if [[ ! -x $GEN ]]; then
  GEN=$WORK/gen
  g++ -O2 -std=c++20 -o "$GEN" bench/tsdb/gen.cc
fi
# The query client (a few microseconds a request, where Python's costs ~0.2 ms): likewise.
HGET=build/release/bench/promql/kansoku_bench_hget
if [[ ! -x $HGET ]]; then
  HGET=$WORK/hget
  g++ -O2 -std=c++20 -o "$HGET" bench/promql/hget.cc
fi
END_S=$(( $(date +%s) / 60 * 60 - 60 ))
QEND=$END_S
QSTART=$(( END_S - HOURS * 3600 ))
GENARGS=(--hosts "$HOSTS" --hours "$HOURS" --groups "$PARALLEL" --end-ms "$((END_S * 1000))")
TOKEN=ksk_bench_tsdb_token_0123456789abcdef

echo "== generating Prometheus text chunks (${HOSTS} hosts x 200 series, ${HOURS} h)"
mkdir -p "$WORK/chunks"
t=$(now)
"$GEN" "${GENARGS[@]}" --out "$WORK/chunks" 2> "$WORK/gen.log"; cat "$WORK/gen.log"
SAMPLES=$(sed -n 's/.*: \([0-9]*\) samples.*/\1/p' "$WORK/gen.log")
put samples "$SAMPLES"
put chunk_bytes "$(du_b "$WORK/chunks")"
echo "  generated in $(elapsed "$t") s"

checks() {  # URL PREFIX: what the server holds, to compare across systems
  local q1 q2
  q1=$(curl -sf -H "Authorization: Bearer $TOKEN" "$1/api/v1/query" --data-urlencode "query=count({__name__=~\"node_load.*\"})" --data-urlencode "time=$QEND" | $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' || echo error)
  q2=$(curl -sf -H "Authorization: Bearer $TOKEN" "$1/api/v1/query" --data-urlencode "query=sum(count_over_time(node_load1[$((HOURS * 3600 + 60))s]))" --data-urlencode "time=$QEND" | $PY -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)' || echo error)
  put "${2}_check_load_series" "$q1"
  put "${2}_check_load1_samples" "$q2"
}

if want kansoku; then
  echo "== kansoku: ingest"
  KPORT=$(port)
  KDATA=$WORK/kansoku-data
  # kansoku's own usage metrics off (as bench/promql does): they would add metric names to
  # the label lookups that VictoriaMetrics does not have (67 vs 59 names in query e4).
  printf 'usage:\n  self_scrape_interval: 1000h\n' > "$WORK/kansoku.yml"
  KANSOKU_ADMIN_TOKEN=$TOKEN "$WORK/kansoku" server --config "$WORK/kansoku.yml" --data "$KDATA" --listen 127.0.0.1:$KPORT --log-level warn &
  KPID=$!; PIDS+=("$KPID")
  wait_http "http://127.0.0.1:$KPORT/-/ready"
  t=$(now)
  $PY bench/tsdb/send.py "http://127.0.0.1:$KPORT/api/v1/import/prometheus" "$WORK/chunks" --token "$TOKEN" > "$WORK/k-send.json"
  send_s=$(elapsed "$t"); cat "$WORK/k-send.json"
  put kansoku_rss_ingest_kb "$(hwm_kb $KPID)"
  put kansoku_cpu_ingest_s "$(cpu_s $KPID)"
  curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$KPORT/metrics" | grep -E '^kansoku_(tsdb|rows)_' > "$WORK/k-metrics.txt" || true
  t2=$(now); stop_pid "$KPID"; stop_s=$(elapsed "$t2")
  put kansoku_send_s "$send_s"; put kansoku_flush_s "$stop_s"
  put kansoku_ingest_s "$(echo "$send_s + $stop_s" | bc -l)"
  put kansoku_send_json "$(cat "$WORK/k-send.json")"
  put kansoku_bytes "$(du_b "$KDATA/tsdb")"
  put kansoku_bytes_wal "$(du_b "$KDATA/tsdb/wal")"
  ls -la "$KDATA/tsdb" > "$WORK/k-ls.txt"
  if [[ -n ${KANSOKU_KEEP_DATA:-} ]]; then cp -a "$KDATA" "$KANSOKU_KEEP_DATA"; fi
  echo "== kansoku: restart on its data, check, queries"
  t=$(now)
  KANSOKU_ADMIN_TOKEN=$TOKEN "$WORK/kansoku" server --config "$WORK/kansoku.yml" --data "$KDATA" --listen 127.0.0.1:$KPORT --log-level warn &
  KPID=$!; PIDS+=("$KPID")
  wait_http "http://127.0.0.1:$KPORT/-/ready" 600
  put kansoku_restart_s "$(elapsed "$t")"
  checks "http://127.0.0.1:$KPORT" kansoku
  promql "http://127.0.0.1:$KPORT" "$KPID" > "$WORK/k-q.json"; cat "$WORK/k-q.json"
  put kansoku_rss_query_kb "$(hwm_kb $KPID)"
  stop_pid "$KPID"
fi

if want vm; then
  echo "== VictoriaMetrics: ingest"
  VPORT=$(port)
  victoria-metrics -storageDataPath="$WORK/vm-data" -httpListenAddr=127.0.0.1:$VPORT \
    -retentionPeriod=1y -search.disableCache -loggerLevel=ERROR > "$WORK/vm.log" 2>&1 &
  VPID=$!; PIDS+=("$VPID")
  wait_http "http://127.0.0.1:$VPORT/health"
  t=$(now)
  $PY bench/tsdb/send.py "http://127.0.0.1:$VPORT/api/v1/import/prometheus" "$WORK/chunks" > "$WORK/v-send.json"
  send_s=$(elapsed "$t"); cat "$WORK/v-send.json"
  t2=$(now); curl -sf "http://127.0.0.1:$VPORT/internal/force_flush" >/dev/null; flush_s=$(elapsed "$t2")
  put vm_send_s "$send_s"; put vm_flush_s "$flush_s"
  put vm_ingest_s "$(echo "$send_s + $flush_s" | bc -l)"
  put vm_send_json "$(cat "$WORK/v-send.json")"
  put vm_rss_ingest_kb "$(hwm_kb $VPID)"
  put vm_cpu_ingest_s "$(cpu_s $VPID)"
  put vm_rows_inserted "$(curl -sf "http://127.0.0.1:$VPORT/metrics" | awk '/^vm_rows_inserted_total/ {s += $2} END {printf "%d", s}')"
  put vm_bytes_flushed "$(du_b "$WORK/vm-data")"
  echo "== VictoriaMetrics: force_merge (bounded: 10 min), queries"
  t=$(now)
  curl -sf "http://127.0.0.1:$VPORT/internal/force_merge" >/dev/null || true
  quiet=0
  for _ in $(seq 600); do
    active=$(curl -sf "http://127.0.0.1:$VPORT/metrics" | awk '/^vm_active_merges/ {s += $2} END {print s + 0}')
    if [[ $active == 0 ]]; then quiet=$((quiet + 1)); else quiet=0; fi
    ((quiet >= 3)) && break
    sleep 1
  done
  put vm_merge_s "$(elapsed "$t")"
  put vm_bytes_merged "$(du_b "$WORK/vm-data")"
  checks "http://127.0.0.1:$VPORT" vm
  promql "http://127.0.0.1:$VPORT" "$VPID" > "$WORK/v-q.json"; cat "$WORK/v-q.json"
  put vm_rss_query_kb "$(hwm_kb $VPID)"
  stop_pid "$VPID"
  # Merged-away parts may still be on disk while VM runs; after a clean stop they are gone.
  # cache/ (written at stop) is a cache, not data: data/ + indexdb/ count.
  put vm_bytes "$(du_b "$WORK/vm-data/data" "$WORK/vm-data/indexdb")"
  put vm_bytes_all "$(du_b "$WORK/vm-data")"
  rm -rf "$WORK/vm-data"
fi
rm -rf "$WORK/chunks"

if want prom; then
  echo "== Prometheus: OpenMetrics file, promtool backfill"
  "$GEN" "${GENARGS[@]}" --openmetrics "$WORK/data.om" 2>/dev/null
  mkdir -p "$WORK/prom-data"
  t=$(now)
  $PY -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(u.ru_utime + u.ru_stime, u.ru_maxrss, file=sys.stderr)
sys.exit(r.returncode)' promtool tsdb create-blocks-from openmetrics ${PROM_BLOCK:+--max-block-duration=$PROM_BLOCK} "$WORK/data.om" "$WORK/prom-data" 2> "$WORK/promtool.rss"
  put prom_ingest_s "$(elapsed "$t")"
  put prom_rss_ingest_kb "$(tail -1 "$WORK/promtool.rss" | cut -d' ' -f2)"
  put prom_cpu_ingest_s "$(tail -1 "$WORK/promtool.rss" | cut -d' ' -f1)"
  rm -f "$WORK/data.om"
  put prom_bytes "$(du_b "$WORK/prom-data")"
  put prom_blocks "$(find "$WORK/prom-data" -name meta.json | wc -l)"
  echo "== Prometheus: server on the blocks, queries"
  PPORT=$(port)
  printf 'global:\n  scrape_interval: 1m\n' > "$WORK/prometheus.yml"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom-data" \
    --storage.tsdb.retention.time=1y --web.listen-address=127.0.0.1:$PPORT --log.level=warn \
    > "$WORK/prom.log" 2>&1 &
  PPID_=$!; PIDS+=("$PPID_")
  wait_http "http://127.0.0.1:$PPORT/-/ready" 300
  checks "http://127.0.0.1:$PPORT" prom
  promql "http://127.0.0.1:$PPORT" "$PPID_" > "$WORK/p-q.json"; cat "$WORK/p-q.json"
  put prom_rss_query_kb "$(hwm_kb $PPID_)"
  stop_pid "$PPID_"
fi

put load_after "$(cut -d' ' -f1-3 /proc/loadavg)"
$PY bench/tsdb/report.py "$RES" "$WORK" "bench/tsdb/run.sh --hours $HOURS --hosts $HOSTS --parallel $PARALLEL --only $ONLY${PROM_BLOCK:+ --promtool-max-block $PROM_BLOCK}" | tee "$OUT"
cp "$WORK"/k-metrics.txt "bench/tsdb/out/kansoku-metrics-$STAMP.txt" 2>/dev/null || true
echo "written: $OUT"
