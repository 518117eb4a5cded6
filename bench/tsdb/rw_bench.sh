#!/usr/bin/env bash
# bench/tsdb remote_write load generator (issue 3): records real remote_write requests from Debian
# `prometheus` scraping Debian `prometheus-node-exporter` (and itself), then replays them (every
# request once per simulated host and round, timestamps shifted to end now) against kansoku and
# VictoriaMetrics' /api/v1/write in the same run. Prints samples/s over HTTP and server CPU per
# sample (utime+stime from /proc) for each. See bench/tsdb/rw_replay.py.
#
# Usage: bench/tsdb/rw_bench.sh [--capture-seconds 60] [--scrape 1s] [--hosts 20] [--rounds 3]
#                               [--conns 4] [--only kansoku,vm] [--bin PATH]
# Every process listens on 127.0.0.1 only; the temp dir is removed at exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
CAP_S=60
SCRAPE=1s
HOSTS=20
ROUNDS=3
CONNS=4
ONLY=kansoku,vm
BIN=build/release/kansoku
while (($#)); do
  case $1 in
    --capture-seconds) CAP_S=$2; shift 2 ;;
    --scrape) SCRAPE=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    *) echo "usage: $0 [--capture-seconds S] [--scrape 1s] [--hosts N] [--rounds R] [--conns C] [--only kansoku,vm] [--bin PATH]" >&2; exit 2 ;;
  esac
done
want() { [[ ,$ONLY, == *,$1,* ]]; }
scripts/install-deps --bench >/dev/null
PY=/usr/bin/python3
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kansoku-rw-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; return 1
}
stop_pid() { kill -TERM "$1"; for _ in $(seq 1200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
TOKEN=ksk_bench_rw_token_0123456789abcdef

echo "load_before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== capture: prometheus (scrape $SCRAPE) -> capture server, ${CAP_S}s"
$PY bench/tsdb/rw_replay.py capture --out "$WORK/cap" --seconds "$CAP_S" --scrape "$SCRAPE"
REPLAY=(--in "$WORK/cap" --hosts "$HOSTS" --rounds "$ROUNDS" --conns "$CONNS")

if want kansoku; then
  cp "$BIN" "$WORK/kansoku"
  KPORT=$(port)
  KANSOKU_ADMIN_TOKEN=$TOKEN "$WORK/kansoku" server --data "$WORK/k-data" --listen 127.0.0.1:$KPORT --log-level warn 2> "$WORK/k.log" &
  KPID=$!; PIDS+=("$KPID")
  wait_http "http://127.0.0.1:$KPORT/-/ready"
  echo "== kansoku: replay"
  echo "kansoku: $($PY bench/tsdb/rw_replay.py replay "${REPLAY[@]}" --url "http://127.0.0.1:$KPORT/api/v1/write" --token "$TOKEN" --pid "$KPID") peak_rss_kb=$(hwm_kb $KPID)"
  stop_pid "$KPID"
fi
if want vm; then
  VPORT=$(port)
  victoria-metrics -storageDataPath="$WORK/vm-data" -httpListenAddr=127.0.0.1:$VPORT -retentionPeriod=1y -loggerLevel=ERROR > "$WORK/vm.log" 2>&1 &
  VPID=$!; PIDS+=("$VPID")
  wait_http "http://127.0.0.1:$VPORT/health"
  echo "== VictoriaMetrics: replay"
  echo "vm: $($PY bench/tsdb/rw_replay.py replay "${REPLAY[@]}" --url "http://127.0.0.1:$VPORT/api/v1/write" --pid "$VPID") peak_rss_kb=$(hwm_kb $VPID)"
  stop_pid "$VPID"
fi
echo "load_after: $(cut -d' ' -f1-3 /proc/loadavg)"
