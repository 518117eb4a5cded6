#!/usr/bin/python3
"""bench/tsdb sender: POSTs the generator's chunk files to one server, the same way for every server.

One keep-alive HTTP connection per host group (files wNNNNN-gGGG.prom): a connection sends its
group's windows in order, so every series arrives in time order, and no connection may start
window w before every connection has finished window w-2 (the groups stay within ~2 windows of
each other, as scrapes of one fleet would). Each body is read whole (from the page cache, the
files having just been written) before its request starts.

Usage: send.py URL DIR [--token T]
Prints one JSON line: {"seconds", "bytes", "requests", "stored", "rejected", "errors"}.
"""
import argparse
import http.client
import json
import os
import re
import sys
import threading
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("dir")
    ap.add_argument("--token", default="")
    args = ap.parse_args()
    u = urllib.parse.urlsplit(args.url)
    files = {}
    for name in os.listdir(args.dir):
        m = re.match(r"w(\d+)-g(\d+)\.prom$", name)
        if m:
            files.setdefault(int(m.group(2)), []).append((int(m.group(1)), os.path.join(args.dir, name)))
    groups = sorted(files)
    for g in groups:
        files[g].sort()
    done = {g: -1 for g in groups}  # last window finished per group
    cv = threading.Condition()
    totals = {"bytes": 0, "requests": 0, "stored": 0, "rejected": 0, "errors": 0}
    lock = threading.Lock()
    headers = {"Content-Type": "text/plain"}
    if args.token:
        headers["Authorization"] = "Bearer " + args.token

    def worker(g):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        for w, path in files[g]:
            with open(path, "rb") as f:
                body = f.read()
            with cv:
                cv.wait_for(lambda: min(done.values()) >= w - 2)
            for attempt in range(3):
                try:
                    conn.request("POST", u.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    break
                except (http.client.HTTPException, OSError):
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
                    if attempt == 2:
                        raise
            with lock:
                totals["bytes"] += len(body)
                totals["requests"] += 1
                totals["stored"] += int(resp.getheader("X-Kansoku-Rows-Stored", "0") or 0)
                totals["rejected"] += int(resp.getheader("X-Kansoku-Rows-Rejected", "0") or 0)
                if resp.status >= 300:
                    totals["errors"] += 1
                    if totals["errors"] <= 3:
                        print(f"send: {path}: HTTP {resp.status}", file=sys.stderr)
            with cv:
                done[g] = w
                cv.notify_all()
        with cv:
            done[g] = 1 << 60
            cv.notify_all()
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    totals["seconds"] = time.monotonic() - t0
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
