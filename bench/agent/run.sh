#!/usr/bin/env bash
# bench/agent: footprint of `kansoku agent` vs Debian's prometheus-node-exporter, same run, same
# interval. The agent collects and ships to a local kansoku server; node_exporter is scraped at
# the same interval by curl (the scraper's own CPU is not counted, as the server's is not).
# Reported per process: series per cycle, RSS at the end and its peak (VmHWM), CPU seconds per
# collection cycle (utime+stime from /proc/PID/stat over the run / cycles).
# Usage: bench/agent/run.sh [duration_seconds=60] [interval_seconds=1]
# Goal (issue #5): agent RSS <= 15 MB and CPU per cycle <= 0.5x node_exporter's.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-60}
IVL=${2:-1}
scripts/install-deps --bench >/dev/null
BIN=build/release/kansoku
[[ -x $BIN ]] || { echo "build first: make build" >&2; exit 1; }
WORK=$(mktemp -d /tmp/kansoku-bench-agent.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

TOKEN=ksk_bench_agent_token_0123456789abcdef
KPORT=$(port)
KANSOKU_ADMIN_TOKEN=$TOKEN "$BIN" server --data "$WORK/data" --listen 127.0.0.1:$KPORT --log-level warn &
PIDS+=($!)
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$KPORT/-/ready" >/dev/null && break; sleep 0.1; done

NPORT=$(port)
prometheus-node-exporter --web.listen-address=127.0.0.1:$NPORT --no-collector.systemd \
  --log.level=warn 2>"$WORK/node_exporter.log" &
NE=$!
PIDS+=($NE)
"$BIN" agent --server "http://127.0.0.1:$KPORT" --token "$TOKEN" --hostname bench \
  --interval "${IVL}s" --state-dir "$WORK/agent" --log-level warn &
AG=$!
PIDS+=($AG)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$NPORT/metrics" >/dev/null && break; sleep 0.1; done
sleep 3  # both warm: first cycles done

a0=$(cpu_ticks $AG); n0=$(cpu_ticks $NE); t0=$(date +%s.%N)
cycles=0
end=$(( $(date +%s) + DUR ))
while (( $(date +%s) < end )); do
  curl -s --compressed -o "$WORK/ne.txt" "http://127.0.0.1:$NPORT/metrics"
  cycles=$((cycles + 1))
  sleep "$IVL"
done
a1=$(cpu_ticks $AG); n1=$(cpu_ticks $NE); t1=$(date +%s.%N)
agent_cycles=$(/usr/bin/python3 -c "print(int(($t1 - $t0) / $IVL))")

ne_series=$(grep -vc '^#' "$WORK/ne.txt")
ag_series=$(curl -s -H "Authorization: Bearer $TOKEN" \
  "http://127.0.0.1:$KPORT/api/v1/query?query=count(%7Bhost%3D%22bench%22%7D)" |
  /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')

/usr/bin/python3 - "$HZ" "$a0" "$a1" "$agent_cycles" "$n0" "$n1" "$cycles" \
  "$(rss_kb $AG)" "$(hwm_kb $AG)" "$(rss_kb $NE)" "$(hwm_kb $NE)" "$ag_series" "$ne_series" "$DUR" "$IVL" <<'PY'
import sys
hz, a0, a1, ac, n0, n1, nc, arss, ahwm, nrss, nhwm, aser, nser, dur, ivl = sys.argv[1:]
hz = float(hz)
acpu = (int(a1) - int(a0)) / hz / max(1, int(ac))
ncpu = (int(n1) - int(n0)) / hz / max(1, int(nc))
print(f"bench/agent: {dur}s at a {ivl}s interval")
print(f"{'':22}{'kansoku agent':>16}{'node_exporter':>16}")
print(f"{'series per cycle':22}{aser:>16}{nser:>16}")
print(f"{'cycles':22}{ac:>16}{nc:>16}")
print(f"{'CPU ms per cycle':22}{acpu*1000:>16.2f}{ncpu*1000:>16.2f}")
print(f"{'RSS MB (end)':22}{int(arss)/1024:>16.1f}{int(nrss)/1024:>16.1f}")
print(f"{'RSS MB (peak)':22}{int(ahwm)/1024:>16.1f}{int(nhwm)/1024:>16.1f}")
ratio = acpu / ncpu if ncpu > 0 else float('nan')
print(f"agent/node_exporter CPU per cycle: {ratio:.2f} (goal <= 0.5); agent peak RSS {int(ahwm)/1024:.1f} MB (goal <= 15)")
PY
