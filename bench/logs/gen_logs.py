#!/usr/bin/env python3
"""Deterministic realistic logs with planted needles (bench/logs).

gen_logs.py N SEED OUTDIR writes, over 24 h ending 2026-11-26T00:00:00Z:
  access.log    nginx combined-format lines (45 % of events)
  app.jsonl     JSON app logs (55 %); ~2.6 % carry a multi-line Java stack trace
  ingest.jsonl  the same events normalised for ingest: {"ts" (RFC 3339, us),"msg","service","host",
                "level","trace_id"[,"stack_trace"]} one per line (what kansoku and ClickHouse load)
  manifest.json exact expected counts of every benchmark query
Needles: trace id f00dfacecafe4b1d8e2a9c7b3d5e6f01 (4 events), rare word zyzzogeton (8),
frequent word timeout (~4.3 %), 5xx access lines (regex `" 5[0-9]{2} [0-9]+ `).
"""
import json
import os
import random
import sys
import time

END = 1795651200  # 2026-11-26T00:00:00Z
SERVICES = ["checkout", "cart", "search", "auth", "payments", "catalog", "gateway", "email"]
HOSTS = ["web-%02d" % i for i in range(24)]
PATHS = ["/api/orders", "/api/cart", "/api/search?q=shoes", "/login", "/static/app.js",
         "/api/payments/charge", "/healthz", "/api/catalog/items"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
          "curl/7.88.1", "Go-http-client/1.1", "kube-probe/1.28"]
MSGS = ["order {n} accepted", "cart {n} updated with {m} items", "user {n} logged in",
        "payment {n} authorised in {m} ms", "cache miss for key item:{n}", "request {n} took {m} ms",
        "upstream timeout after {m} ms calling inventory", "retrying job {n} attempt {m}"]
TRACE_NEEDLE = "f00dfacecafe4b1d8e2a9c7b3d5e6f01"
STACK = ("java.lang.IllegalStateException: payment gateway timeout\n"
         "\tat com.example.checkout.OrderService.pay(OrderService.java:{n})\n"
         "\tat com.example.checkout.OrderController.post(OrderController.java:88)\n"
         "Caused by: java.net.SocketTimeoutException: Read timed out\n"
         "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)\n"
         "\t... 42 more")


def main():
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out, exist_ok=True)
    rnd = random.Random(seed)
    trace_at = set(rnd.sample(range(n), 4))
    rare_at = set(rnd.sample(range(n), 8))
    m = {"events": n, "needle_trace": 0, "rare_word": 0, "frequent_word": 0, "regex_5xx": 0,
         "by_service_level_24h": {}, "by_service_level_1h": {}, "raw_bytes": 0}
    one_h_start = END - 3600
    acc = open(os.path.join(out, "access.log"), "w")
    app = open(os.path.join(out, "app.jsonl"), "w")
    ing = open(os.path.join(out, "ingest.jsonl"), "w")
    step = 86400.0 / n
    for i in range(n):
        ts = END - 86400 + i * step
        sec = int(ts)
        host = HOSTS[rnd.randrange(len(HOSTS))]
        trace = TRACE_NEEDLE if i in trace_at else "%032x" % rnd.getrandbits(128)
        stack = None
        rare = i in rare_at
        if rnd.random() < 0.45:
            service = "nginx"
            status = rnd.choices([200, 201, 204, 301, 304, 400, 404, 500, 502, 503],
                                 [70, 5, 3, 2, 5, 3, 6, 2, 2, 2])[0]
            level = "error" if status >= 500 else ("warn" if status >= 400 else "info")
            path = PATHS[rnd.randrange(len(PATHS))]
            if rare:
                path += "?ref=zyzzogeton"
            tstr = "%02d/Nov/2026:%02d:%02d:%02d +0000" % (25 + (sec - (END - 86400)) // 86400,
                                                        (sec // 3600) % 24, (sec // 60) % 60, sec % 60)
            line = '10.%d.%d.%d - - [%s] "GET %s HTTP/1.1" %d %d "-" "%s" trace=%s' % (
                rnd.randrange(256), rnd.randrange(256), rnd.randrange(256), tstr, path, status,
                rnd.randrange(200, 90000), AGENTS[rnd.randrange(len(AGENTS))], trace)
            acc.write(line + "\n")
            m["raw_bytes"] += len(line) + 1
            msg = line
            if 500 <= status <= 599:
                m["regex_5xx"] += 1
        else:
            service = SERVICES[rnd.randrange(len(SERVICES))]
            level = rnd.choices(["debug", "info", "warn", "error"], [10, 70, 12, 8])[0]
            msg = MSGS[rnd.randrange(len(MSGS))].format(n=rnd.randrange(100000), m=rnd.randrange(5000))
            if rare:
                msg += " zyzzogeton"
            doc = {"ts": "%s.%06dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)), int((ts - sec) * 1e6)),
                   "level": level, "service": service, "host": host, "trace_id": trace, "msg": msg}
            if level == "error" and rnd.random() < 0.33:
                stack = doc["stack_trace"] = STACK.format(n=rnd.randrange(1000))
            line = json.dumps(doc)
            app.write(line + "\n")
            m["raw_bytes"] += len(line) + 1
        if "timeout" in line:
            m["frequent_word_raw_lines"] = m.get("frequent_word_raw_lines", 0) + 1
        if rare:
            m["rare_word"] += 1
        if "timeout" in msg.replace(".", " ").replace(":", " ").split():
            m["frequent_word"] += 1
        if trace == TRACE_NEEDLE:
            m["needle_trace"] += 1
        key = service + "/" + level
        m["by_service_level_24h"][key] = m["by_service_level_24h"].get(key, 0) + 1
        if ts >= one_h_start:
            m["by_service_level_1h"][key] = m["by_service_level_1h"].get(key, 0) + 1
        rec = {"ts": "%s.%06dZ" % (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)), int((ts - sec) * 1e6)),
               "msg": msg, "service": service, "host": host, "level": level, "trace_id": trace}
        if stack:
            rec["stack_trace"] = stack
        ing.write(json.dumps(rec) + "\n")
    for f in (acc, app, ing):
        f.close()
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(m, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
