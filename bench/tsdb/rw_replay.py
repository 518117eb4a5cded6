#!/usr/bin/python3
"""Remote-write load generator from recorded real Prometheus requests (issue 3).

capture: runs Debian `prometheus-node-exporter` and Debian `prometheus` (scraping the exporter
         and itself every SCRAPE seconds, remote-writing with its default queue settings) against
         a tiny capture server on 127.0.0.1 that stores every request body as Prometheus sent it
         (snappy-compressed protobuf WriteRequest) and answers 204.
           rw_replay.py capture --out DIR [--seconds 60] [--scrape 1s]
replay:  decodes the captured requests and replays them against a remote_write endpoint: every
         request once per simulated host (an extra `replay_host` label makes each host's series
         distinct) and round (timestamps shifted so rounds follow each other and the last one
         ends now). Bodies are re-encoded and snappy-compressed before the clock starts; the timed
         part is only HTTP: CONNS keep-alive connections POST them in order.
           rw_replay.py replay --in DIR --url http://127.0.0.1:P/api/v1/write [--token T]
                               [--hosts 10] [--rounds 3] [--conns 4] [--pid SERVER_PID]
         Prints one JSON object: samples, requests, seconds, samples_per_s, statuses, and with
         --pid the server's CPU seconds (utime+stime from /proc) and µs of CPU per sample.
Only 127.0.0.1 is used. The protobuf and the request framing follow the remote_write 1.0 spec;
the (small) protobuf codec is written here so that no extra Python package is needed.
"""
import argparse
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import snappy  # Debian python3-snappy


# --- protobuf (just what WriteRequest needs) ---------------------------------------------------
def read_varint(b, i):
    shift = 0
    v = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def fields(b):
    """Yields (field number, wire type, value) of one message; value is int or bytes."""
    i = 0
    n = len(b)
    while i < n:
        key, i = read_varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 2:
            ln, i = read_varint(b, i)
            v = b[i:i + ln]
            i += ln
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield f, wt, v


def varint(v):
    out = bytearray()
    v &= (1 << 64) - 1
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def decode_request(body):
    """[(label pairs [(name, value)], [(ts_ms, value_bits as 8 bytes)])], [raw metadata bytes]."""
    series, metadata = [], []
    for f, _, v in fields(snappy.uncompress(body)):
        if f == 1:
            labels, samples = [], []
            for tf, _, tv in fields(v):
                if tf == 1:
                    name = value = b""
                    for lf, _, lv in fields(tv):
                        if lf == 1:
                            name = lv
                        elif lf == 2:
                            value = lv
                    labels.append((name, value))
                elif tf == 2:
                    ts, val = 0, b"\0" * 8
                    for sf, _, sv in fields(tv):
                        if sf == 1:
                            val = sv
                        elif sf == 2:
                            ts = sv - (1 << 64) if sv >= 1 << 63 else sv
                    samples.append((ts, val))
            series.append((labels, samples))
        elif f == 3:
            metadata.append(v)
    return series, metadata


def encode_request(series, metadata, host, shift_ms):
    out = []
    hl = (b"replay_host", host.encode())
    for labels, samples in series:
        ls = sorted(labels + [hl])
        lb = b"".join(ld(1, ld(1, n) + ld(2, v)) for n, v in ls)
        sb = b"".join(ld(2, b"\x09" + val + b"\x10" + varint(ts + shift_ms)) for ts, val in samples)
        out.append(ld(1, lb + sb))
    out.extend(ld(3, m) for m in metadata)
    return snappy.compress(b"".join(out))


# --- capture -------------------------------------------------------------------------------------
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def capture(args):
    os.makedirs(args.out, exist_ok=True)
    count = [0]
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                n = count[0]
                count[0] += 1
            with open(os.path.join(args.out, "%06d.bin" % n), "wb") as f:
                f.write(body)
            if n == 0:
                with open(os.path.join(args.out, "headers.json"), "w") as f:
                    json.dump(dict(self.headers.items()), f, indent=1)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = tempfile.mkdtemp(prefix="kansoku-rw-capture-")
    procs = []
    try:
        ne_port = free_port()
        procs.append(subprocess.Popen(
            ["prometheus-node-exporter", "--web.listen-address=127.0.0.1:%d" % ne_port,
             "--no-collector.systemd"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        prom_port = free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("""global:
  scrape_interval: %s
scrape_configs:
  - job_name: node
    static_configs: [{targets: ["127.0.0.1:%d"]}]
  - job_name: prometheus
    static_configs: [{targets: ["127.0.0.1:%d"]}]
remote_write:
  - url: http://127.0.0.1:%d/write
""" % (args.scrape, ne_port, prom_port, srv.server_address[1]))
        procs.append(subprocess.Popen(
            ["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "data"),
             "--web.listen-address=127.0.0.1:%d" % prom_port], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(tmp, "prometheus.log"), "w")))
        time.sleep(args.seconds)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        srv.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    samples = 0
    for name in sorted(os.listdir(args.out)):
        if name.endswith(".bin"):
            with open(os.path.join(args.out, name), "rb") as f:
                samples += sum(len(smp) for _, smp in decode_request(f.read())[0])
    print(json.dumps({"requests": count[0], "samples": samples, "dir": args.out}))


# --- replay --------------------------------------------------------------------------------------
def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields_ = f.read().rsplit(")", 1)[1].split()
    return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")


def replay(args):
    reqs = []
    for name in sorted(os.listdir(args.input)):
        if name.endswith(".bin"):
            with open(os.path.join(args.input, name), "rb") as f:
                reqs.append(decode_request(f.read()))
    if not reqs:
        sys.exit("no captured requests in " + args.input)
    ts = [t for series, _ in reqs for _, smp in series for t, _ in smp]
    lo, hi = min(ts), max(ts)
    span = hi - lo + 1000
    now = int(time.time() * 1000)
    bodies, samples = [], 0
    for r in range(args.rounds):
        shift = now - hi - (args.rounds - 1 - r) * span
        for series, md in reqs:
            n = sum(len(s) for _, s in series)
            for h in range(args.hosts):
                bodies.append(encode_request(series, md, "h%03d" % h, shift))
                samples += n
    url = urllib.parse.urlsplit(args.url)
    headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "kansoku-rw-replay"}
    if args.token:
        headers["Authorization"] = "Bearer " + args.token
    statuses, errors = {}, []
    lock = threading.Lock()
    nxt = [0]

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(bodies):
                break
            try:
                conn.request("POST", url.path, body=bodies[i], headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                st = resp.status
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
                st, data = "error", str(e).encode()
            with lock:
                statuses[str(st)] = statuses.get(str(st), 0) + 1
                if st not in (200, 204) and len(errors) < 3:
                    errors.append(data[:300].decode(errors="replace"))
        conn.close()

    cpu0 = cpu_seconds(args.pid) if args.pid else None
    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.time() - t0
    out = {"requests": len(bodies), "samples": samples, "seconds": round(secs, 3),
           "samples_per_s": round(samples / secs), "statuses": statuses,
           "body_bytes": sum(len(b) for b in bodies), "hosts": args.hosts, "rounds": args.rounds,
           "captured_requests": len(reqs)}
    if errors:
        out["errors"] = errors
    if args.pid:
        cpu = cpu_seconds(args.pid) - cpu0
        out["server_cpu_s"] = round(cpu, 3)
        out["server_cpu_us_per_sample"] = round(cpu * 1e6 / samples, 3)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--out", required=True)
    c.add_argument("--seconds", type=float, default=60)
    c.add_argument("--scrape", default="1s")
    r = sub.add_parser("replay")
    r.add_argument("--in", dest="input", required=True)
    r.add_argument("--url", required=True)
    r.add_argument("--token", default="")
    r.add_argument("--hosts", type=int, default=10)
    r.add_argument("--rounds", type=int, default=3)
    r.add_argument("--conns", type=int, default=4)
    r.add_argument("--pid", type=int, default=0)
    args = ap.parse_args()
    capture(args) if args.cmd == "capture" else replay(args)


if __name__ == "__main__":
    main()
