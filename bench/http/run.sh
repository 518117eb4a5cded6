#!/usr/bin/env bash
# bench/http: wrk against a trivial authenticated kansoku route and, in the same run, against
# Debian nginx serving a small static file, both on loopback over keep-alive.
# Usage: bench/http/run.sh [duration_seconds=10] [connections=64]
# Goal (issue "Foundation"): kansoku >= 0.8x nginx requests/s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${1:-10}
CONNS=${2:-64}
scripts/install-deps --bench
BIN=${KANSOKU_BIN:-build/release/kansoku}  # KANSOKU_BIN: benchmark another binary
[[ -x $BIN ]] || { echo "build first: make build" >&2; exit 1; }
WORK=$(mktemp -d /tmp/kansoku-bench-http.XXXXXX)
cleanup() { [[ -n ${KPID:-} ]] && kill "$KPID" 2>/dev/null; [[ -n ${NPID:-} ]] && kill "$NPID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

TOKEN=ksk_bench_http_token_0123456789abcdef
KPORT=$(port)
KANSOKU_ADMIN_TOKEN=$TOKEN "$BIN" server --data "$WORK/data" --listen 127.0.0.1:$KPORT --log-level warn &
KPID=$!

NPORT=$(port)
mkdir -p "$WORK/www" "$WORK/nginx"
printf '{"status":"success","data":{"token_id":1,"name":"admin"}}' > "$WORK/www/whoami.json"
# nginx workers run as "nobody" when started by root: the docroot must be readable to them (a
# mktemp dir is 0700, which made every nginx answer a cheap 403 in earlier runs).
chmod 755 "$WORK" "$WORK/www" && chmod 644 "$WORK/www/whoami.json"
cat > "$WORK/nginx/nginx.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$NPORT; root $WORK/www; default_type application/json; }
}
NGINX
nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
NPID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$KPORT/-/ready" >/dev/null && curl -sf "http://127.0.0.1:$NPORT/whoami.json" >/dev/null && break; sleep 0.1; done

# Requests/sec of a wrk report; a run with any non-2xx answer is not a measurement.
rps() { awk '/Non-2xx or 3xx/ {bad=1} /Requests\/sec/ {r=$2} END {if (bad) {print "invalid-non-2xx"; exit 1} print r}'; }
echo "== warm-up"
wrk -t2 -c"$CONNS" -d2s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$KPORT/api/v1/whoami" >/dev/null
wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$NPORT/whoami.json" >/dev/null
# CPU ticks (utime+stime) of a process and its children threads; nginx: master and workers.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }
NPIDS() { echo $NPID $(pgrep -P $NPID); }
HZ=$(getconf CLK_TCK)
LOAD0=$(cut -d' ' -f1 /proc/loadavg)
echo "== kansoku GET /api/v1/whoami (Bearer token, ${CONNS} keep-alive connections, ${DUR}s)"
KT0=$(ticks $KPID)
KOUT=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$KPORT/api/v1/whoami")
KT1=$(ticks $KPID)
echo "$KOUT" >&2
K=$(echo "$KOUT" | rps)
echo "== nginx GET /whoami.json (static file, same load)"
NT0=$(ticks $(NPIDS))
NOUT=$(wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "http://127.0.0.1:$NPORT/whoami.json")
NT1=$(ticks $(NPIDS))
echo "$NOUT" >&2
N=$(echo "$NOUT" | rps)
LOAD1=$(cut -d' ' -f1 /proc/loadavg)
KREQ=$(echo "$KOUT" | awk '/requests in/ {print $1}')
NREQ=$(echo "$NOUT" | awk '/requests in/ {print $1}')
KRSS=$(awk '/VmHWM/ {print $2}' /proc/$KPID/status)
echo
printf 'kansoku %s req/s (%.1f us CPU/req, peak RSS %s kB)   nginx %s req/s (%.1f us CPU/req)   ratio %.2f (goal >= 0.80)   load %s -> %s\n' \
  "$K" "$(echo "($KT1 - $KT0) * 1000000 / $HZ / $KREQ" | bc -l)" "$KRSS" \
  "$N" "$(echo "($NT1 - $NT0) * 1000000 / $HZ / $NREQ" | bc -l)" \
  "$(echo "$K / $N" | bc -l)" "$LOAD0" "$LOAD1"
