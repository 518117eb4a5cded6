#!/usr/bin/env bash
# bench/promql (issue 4): query latency of kansoku vs VictoriaMetrics vs Prometheus on the data of
# bench/tsdb (bench/tsdb/gen.cc: HOSTS x 200 node_exporter-like series, 15 s interval, HOURS
# hours), in the same run: (a) sum by (instance) (rate(node_cpu_seconds_total[5m])) over the whole
# span at 60 s step, (b) one series, (c) a regex selector with topk, (d) histogram_quantile over a
# classic histogram, (e) /api/v1/series and label-values lookups; --runs runs each, min and median
# (queries.py), the server's CPU per run next to the wall time.
#
# Loading is the slow part, so the loaded data can be kept and reused: with --data DIR the three
# servers' data (and the time span it covers) stay in DIR, and a later run with the same DIR,
# --hours and --hosts only restarts the servers on it (e.g. to measure another kansoku binary with
# --bin). Without --data everything lives in a temp dir removed at exit.
#   kansoku:          the generator's Prometheus text POSTed to /api/v1/import/prometheus
#                     (bench/tsdb/send.py), then restarted on its data (SIGTERM flushes it).
#   VictoriaMetrics:  the same sender, force_flush + force_merge; queried with -search.disableCache.
#   Prometheus:       `promtool tsdb create-blocks-from openmetrics` (18 h max blocks), then the
#                     server on those blocks.
#
# Usage: bench/promql/run.sh [--hours 24] [--hosts 10] [--runs 5] [--only kansoku,vm,prom]
#                            [--data DIR] [--bin PATH]
# Output: a table on stdout and in bench/promql/out/results-<UTC date-time>.md (git-ignored).
# Every server listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

HOURS=24
HOSTS=10
RUNS=5
ONLY=kansoku,vm,prom
DATA=""
BIN=build/release/kansoku
ARGS="$*"
while (($#)); do
  case $1 in
    --hours) HOURS=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) echo "usage: $0 [--hours H] [--hosts N] [--runs R] [--only kansoku,vm,prom] [--data DIR] [--bin PATH]" >&2; exit 2 ;;
  esac
done
want() { [[ ,$ONLY, == *,$1,* ]]; }

scripts/install-deps --bench >/dev/null
PY=/usr/bin/python3
[[ -x $BIN ]] || { echo "build first: cmake --build build/release --target kansoku" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kansoku-bench-promql.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
if [[ -z $DATA ]]; then DATA=$WORK/data; fi
mkdir -p "$DATA" bench/promql/out
STAMP=$(date -u +%Y%m%d-%H%M%S)
OUT=bench/promql/out/results-$STAMP.md
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
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
TOKEN=ksk_bench_promql_token_0123456789abcdef

# The span: fixed when DATA is first filled, reused afterwards.
PARAMS=$DATA/params.env
if [[ -f $PARAMS ]] && grep -qx "hours=$HOURS" "$PARAMS" && grep -qx "hosts=$HOSTS" "$PARAMS"; then
  END_S=$(sed -n 's/^end_s=//p' "$PARAMS")
  echo "== reusing the data in $DATA (end $END_S)"
else
  rm -rf "${DATA:?}"/*
  END_S=$(( $(date +%s) / 60 * 60 - 60 ))
  printf 'hours=%s\nhosts=%s\nend_s=%s\n' "$HOURS" "$HOSTS" "$END_S" > "$PARAMS"
fi
QEND=$END_S
QSTART=$(( END_S - HOURS * 3600 ))
# At most 25 hosts per chunk file (40 scrapes of 25 hosts are ~25 MB, under the 32 MiB body limit).
GROUPS_N=$(( HOSTS > 50 ? (HOSTS + 24) / 25 : 2 ))
GENARGS=(--hosts "$HOSTS" --hours "$HOURS" --groups "$GROUPS_N" --end-ms "$((END_S * 1000))")
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
chunks() {  # generates the text chunks once per run
  if [[ ! -d $WORK/chunks ]]; then
    mkdir -p "$WORK/chunks"
    "$GEN" "${GENARGS[@]}" --out "$WORK/chunks" 2> "$WORK/gen.log"
  fi
}
queries() {  # URL PID OUT
  $PY bench/promql/queries.py "$1" --start "$QSTART" --end "$QEND" --token "$TOKEN" --pid "$2" \
    --runs "$RUNS" --client "$HGET" > "$3"
  cat "$3"
}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

if want kansoku; then
  cp "$BIN" "$WORK/kansoku"  # other builds may replace the binary during the run
  KPORT=$(port)
  KDATA=$DATA/kansoku
  printf 'usage:\n  self_scrape_interval: 1000h\n' > "$WORK/kansoku.yml"
  kserver() {
    KANSOKU_ADMIN_TOKEN=$TOKEN "$WORK/kansoku" server --config "$WORK/kansoku.yml" --data "$KDATA" \
      --listen 127.0.0.1:$KPORT --log-level warn &
    KPID=$!; PIDS+=("$KPID")
    wait_http "http://127.0.0.1:$KPORT/-/ready" 600
  }
  if [[ ! -f $DATA/kansoku.loaded ]]; then
    echo "== kansoku: load"
    chunks
    rm -rf "$KDATA"
    kserver
    $PY bench/tsdb/send.py "http://127.0.0.1:$KPORT/api/v1/import/prometheus" "$WORK/chunks" --token "$TOKEN"
    stop_pid "$KPID"
    touch "$DATA/kansoku.loaded"
  fi
  echo "== kansoku: queries"
  kserver
  queries "http://127.0.0.1:$KPORT" "$KPID" "$WORK/k-q.json"
  stop_pid "$KPID"
fi

if want vm; then
  VPORT=$(port)
  vserver() {
    victoria-metrics -storageDataPath="$DATA/vm" -httpListenAddr=127.0.0.1:$VPORT \
      -retentionPeriod=10y -search.disableCache -loggerLevel=ERROR > "$WORK/vm.log" 2>&1 &
    VPID=$!; PIDS+=("$VPID")
    wait_http "http://127.0.0.1:$VPORT/health" 300
  }
  vserver
  if [[ ! -f $DATA/vm.loaded ]]; then
    echo "== VictoriaMetrics: load"
    chunks
    $PY bench/tsdb/send.py "http://127.0.0.1:$VPORT/api/v1/import/prometheus" "$WORK/chunks"
    curl -sf "http://127.0.0.1:$VPORT/internal/force_flush" >/dev/null
    curl -sf "http://127.0.0.1:$VPORT/internal/force_merge" >/dev/null || true
    quiet=0
    for _ in $(seq 600); do
      active=$(curl -sf "http://127.0.0.1:$VPORT/metrics" | awk '/^vm_active_merges/ {s += $2} END {print s + 0}')
      if [[ $active == 0 ]]; then quiet=$((quiet + 1)); else quiet=0; fi
      ((quiet >= 3)) && break
      sleep 1
    done
    touch "$DATA/vm.loaded"
  fi
  echo "== VictoriaMetrics: queries"
  queries "http://127.0.0.1:$VPORT" "$VPID" "$WORK/v-q.json"
  stop_pid "$VPID"
fi

if want prom; then
  if [[ ! -f $DATA/prom.loaded ]]; then
    echo "== Prometheus: promtool backfill"
    "$GEN" "${GENARGS[@]}" --openmetrics "$WORK/data.om" 2>/dev/null
    rm -rf "$DATA/prom"; mkdir -p "$DATA/prom"
    promtool tsdb create-blocks-from openmetrics --max-block-duration=18h "$WORK/data.om" "$DATA/prom" >/dev/null
    rm -f "$WORK/data.om"
    touch "$DATA/prom.loaded"
  fi
  echo "== Prometheus: queries"
  PPORT=$(port)
  printf 'global:\n  scrape_interval: 1m\n' > "$WORK/prometheus.yml"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$DATA/prom" \
    --storage.tsdb.retention.time=10y --web.listen-address=127.0.0.1:$PPORT --log.level=warn \
    > "$WORK/prom.log" 2>&1 &
  PPID_=$!; PIDS+=("$PPID_")
  wait_http "http://127.0.0.1:$PPORT/-/ready" 300
  queries "http://127.0.0.1:$PPORT" "$PPID_" "$WORK/p-q.json"
  stop_pid "$PPID_"
fi

{
  echo "kansoku_commit=$(git rev-parse --short HEAD)$(git diff --quiet -- src || echo +dirty-src)"
  echo "kansoku_binary=$BIN ($(date -u -r "$BIN" +%FT%TZ))"
  echo "vm_version=$(dpkg-query -W -f='${Version}' victoria-metrics)"
  echo "prom_version=$(dpkg-query -W -f='${Version}' prometheus)"
  echo "load_before=$load_before"
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "machine=$(nproc) cpus"
} > "$WORK/run.env"
$PY bench/promql/report.py "$WORK" "bench/promql/run.sh $ARGS" "$HOSTS" "$HOURS" | tee "$OUT"
echo "written: $OUT"
