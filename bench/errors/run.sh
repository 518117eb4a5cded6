#!/usr/bin/env bash
# bench/errors: replays recorded real Sentry SDK requests (python3-sentry-sdk /store/ bodies,
# gzip, 5-20 KB of JSON, 200 distinct stack traces) against kansoku over keep-alive (wrk), with
# grouping and durable storage (every answer follows a write(2) to the event log).
# Reports events/s, p50/p99 time to acknowledge, RSS idle and peak, and checks that every
# acknowledged event was stored and grouped into 200 issues.
# Usage: bench/errors/run.sh [duration_seconds=20] [connections=32] [bodies=1000]
# Env: KANSOKU_BIN (default build/release/kansoku) to compare builds; PERF=file to record a
# perf profile (perf record -g) of the server during the load.
# Goal (issue #6): >= 20,000 events/s on 2 cores, p99 < 20 ms, RSS < 300 MB loaded, < 50 MB idle.
# No Sentry peer runs here (self-hosted Sentry needs ~14 GB / 4 cores); the issue's anchors are
# published figures: Bugsink ~30 events/s on 2 vCPU, urgentry 400-2,200 events/s (vendor claim).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-20}
CONNS=${2:-32}
N=${3:-1000}
scripts/install-deps --bench
BIN=${KANSOKU_BIN:-build/release/kansoku}
[[ -x $BIN ]] || { echo "build first: make build" >&2; exit 1; }
WORK=$(mktemp -d /tmp/kansoku-bench-errors.XXXXXX)
cleanup() { [[ -n ${KPID:-} ]] && kill "$KPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== recording $N real SDK requests (python3-sentry-sdk)"
/usr/bin/python3 bench/errors/record_bodies.py "$WORK/bodies" "$N"
N=$(ls "$WORK/bodies" | wc -l)

TOKEN=ksk_bench_errors_token_0123456789abcdef
KPORT=$(port)
# Spike protection off: a bench that starts at full rate from no history is exactly the spike it
# would refuse (floor 10,000 events/minute by default).
printf "errors:\n  spike_protection:\n    enabled: false\n${EXTRA_ERRORS_YAML:-}${EXTRA_YAML:-}" > "$WORK/kansoku.yml"
KANSOKU_ADMIN_TOKEN=$TOKEN "$BIN" server --config "$WORK/kansoku.yml" --data "$WORK/data" \
  --listen 127.0.0.1:$KPORT --log-level warn >/dev/null &
KPID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$KPORT/-/ready" >/dev/null && break; sleep 0.1; done
KEY=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$KPORT/api/v1/projects" |
      /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["keys"][0]["public_key"])')
sleep 1
IDLE_RSS=$(awk '/VmRSS/ {print $2}' /proc/$KPID/status)
# Server CPU seconds (utime + stime): on a shared machine this is the robust cost figure.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' /proc/$KPID/stat; }
CPU0=$(cpu)

echo "== wrk: POST /api/1/store/ gzip, $CONNS keep-alive connections, ${DUR}s (load: $(cut -d' ' -f1-3 /proc/loadavg))"
if [[ -n ${PERF:-} ]]; then
  perf record -g -o "$PERF" -p "$KPID" -- sleep "$DUR" >/dev/null 2>&1 &
  PERFPID=$!
fi
OUT=$(wrk -t2 -c"$CONNS" -d"${DUR}s" -s bench/errors/replay.lua "http://127.0.0.1:$KPORT" -- \
      "$WORK/bodies" "$N" "$KEY")
echo "$OUT"
[[ -n ${PERFPID:-} ]] && wait "$PERFPID"
PEAK_RSS=$(awk '/VmHWM/ {print $2}' /proc/$KPID/status)
CPU1=$(cpu)
LINE=$(echo "$OUT" | grep '^BENCH')
REQS=$(echo "$LINE" | sed 's/.*requests=\([0-9]*\).*/\1/')
NON2XX=$(echo "$LINE" | sed 's/.*errors_non2xx=\([0-9]*\).*/\1/')
STORED=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$KPORT/metrics" |
         awk '/^kansoku_errors_events_stored_total/ {printf "%d", $2}')
ISSUES=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$KPORT/api/v1/issues?limit=1" |
         /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
LOG_BYTES=$(du -sb "$WORK/data/errors" | cut -f1)
echo
echo "$LINE" | awk '{for (i=2;i<=NF;i++) print "  " $i}'
printf '  acknowledged=%d stored=%d issues=%d (want 200) log_bytes=%d\n' "$((REQS - NON2XX))" "$STORED" "$ISSUES" "$LOG_BYTES"
printf '  rss_idle_kB=%d rss_peak_kB=%d\n' "$IDLE_RSS" "$PEAK_RSS"
US=$(echo "($CPU1 - $CPU0) * 1000000 / $STORED" | bc -l)
printf '  server_cpu_s=%.2f cpu_us_per_event=%.1f => events/s on 2 dedicated cores ~ %.0f\n' \
  "$(echo "$CPU1 - $CPU0" | bc -l)" "$US" "$(echo "2000000 / $US" | bc -l)"
echo "  goal: >= 20000 events/s, p99 < 20 ms, peak RSS < 300 MB, idle RSS < 50 MB (2 cores shared with wrk)"
# wrk counts requests cut off at the end of the run; every 200 it saw must be stored.
[[ $STORED -ge $((REQS - NON2XX)) ]] || { echo "FAIL: acknowledged events missing" >&2; exit 1; }
