#!/usr/bin/python3
"""Records real Sentry SDK requests for the errors bench: Debian's python3-sentry-sdk sends N
exception events (200 distinct stack traces, 5-20 KB of JSON each: breadcrumbs, locals, tags)
to a local capture server; every /store/ body is saved exactly as the SDK sent it (gzip).

usage: record_bodies.py OUT_DIR [N=1000]   (run with /usr/bin/python3)
Writes OUT_DIR/1.gz ... OUT_DIR/N.gz and prints a size summary.
"""
import gzip
import http.server
import os
import random
import sys
import threading

import sentry_sdk

out_dir = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
os.makedirs(out_dir, exist_ok=True)
bodies = []
lock = threading.Lock()


class Capture(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with lock:
            bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
threading.Thread(target=srv.serve_forever, daemon=True).start()
sentry_sdk.init(dsn="http://benchkey@127.0.0.1:%d/1" % srv.server_address[1], release="bench@1.0.0",
                environment="bench", max_breadcrumbs=200, traces_sample_rate=0)
sentry_sdk.set_tag("component", "bench")
rng = random.Random(42)

# 200 distinct in-app functions -> 200 stack traces -> 200 fingerprints.
handlers = []
for i in range(200):
    ns = {}
    exec("def handler_%d(order_id, payload):\n"
         "    total = sum(len(v) for v in payload.values())\n"
         "    raise ValueError('order %%d failed in step %d (%%d bytes)' %% (order_id, total))\n" % (i, i), ns)
    handlers.append(ns["handler_%d" % i])

for k in range(n):
    target_kb = rng.uniform(5, 20)
    with sentry_sdk.push_scope() as scope:
        scope.clear_breadcrumbs()
        scope.set_user({"id": "u-%d" % rng.randrange(5000)})
        scope.set_tag("shard", str(rng.randrange(16)))
        crumbs = int((target_kb * 1024 - 3500) / 190)
        for c in range(max(crumbs, 0)):
            sentry_sdk.add_breadcrumb(category="http", level="info",
                                      message="GET /api/orders/%d?page=%d" % (rng.randrange(10**6), c),
                                      data={"status_code": 200, "duration_ms": rng.randrange(1, 900)})
        try:
            handlers[k % 200](k, {"item%d" % j: "x" * rng.randrange(10, 60) for j in range(8)})
        except ValueError:
            sentry_sdk.capture_exception()
        scope.clear_breadcrumbs()
    if k % 50 == 49:
        sentry_sdk.flush(timeout=10)
sentry_sdk.flush(timeout=10)
srv.shutdown()
sizes = []
for i, b in enumerate(bodies, 1):
    with open(os.path.join(out_dir, "%d.gz" % i), "wb") as f:
        f.write(b)
    sizes.append(len(gzip.decompress(b)))
sizes.sort()
print("recorded %d bodies: JSON %d..%d bytes (median %d), gzip median %d bytes" % (
    len(bodies), sizes[0], sizes[-1], sizes[len(sizes) // 2],
    sorted(len(b) for b in bodies)[len(bodies) // 2]))
