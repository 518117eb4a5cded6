"""Starts a real `kansoku server` for end-to-end tests and talks to it over HTTP.

Every server binds 127.0.0.1 (or ::1) port 0; the bound address is read from the startup log.
Each test gets a fresh data directory. stop() sends SIGTERM and requires a clean exit (code 0).
Every server's temporary directory is removed when it is cleaned up, or at the latest when the
test process exits (set KANSOKU_E2E_KEEP=1 to keep them for a post-mortem).
"""
import atexit
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("KANSOKU_BIN", os.path.join(os.path.dirname(__file__), "../../build/release/kansoku"))
ADMIN_TOKEN = "ksk_e2e_admin_token_0123456789abcdef"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
# The shared third-party test data, read in place (CMake resolves it: cmake/KansokuShared.cmake).
SHARED_DIR = os.environ.get("KANSOKU_SHARED_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")


def shared_path(*parts):
    """A file of the shared test data; fails with where it looked when it is not there."""
    path = os.path.join(SHARED_DIR, *parts)
    if not os.path.exists(path):
        raise FileNotFoundError("shared test data not found: %s (set KANSOKU_SHARED_DIR)" % path)
    return path


_SERVERS = []


@atexit.register
def _cleanup_all():
    # Tests that never call cleanup() (or fail before it) must not leave servers or directories.
    if os.environ.get("KANSOKU_E2E_KEEP"):
        return
    for srv in _SERVERS:
        try:
            srv.cleanup()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class Server:
    def __init__(self, args=(), config_text=None, env=None, listen=("127.0.0.1:0",), admin_token=ADMIN_TOKEN,
                 data_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="kansoku-e2e-")
        _SERVERS.append(self)
        self.data = data_dir or os.path.join(self.tmp, "data")
        self.args = list(args)
        self.listen = list(listen)
        self.env = dict(os.environ)
        if admin_token:
            self.env["KANSOKU_ADMIN_TOKEN"] = admin_token
        self.env.update(env or {})
        self.token = admin_token
        self.config_path = None
        if config_text is not None:
            self.config_path = os.path.join(self.tmp, "kansoku.yml")
            with open(self.config_path, "w") as f:
                f.write(config_text)
        self.proc = None
        self.addrs = []

    def start(self, timeout=15):
        cmd = [BIN, "server", "--data", self.data]
        for l in self.listen:
            cmd += ["--listen", l]
        if self.config_path:
            cmd += ["--config", self.config_path]
        cmd += self.args
        self.stdout_path = os.path.join(self.tmp, "stdout.txt")
        self.stderr_path = os.path.join(self.tmp, "stderr.txt")
        self._out = open(self.stdout_path, "w")
        self._err = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=self._err, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %d: %s" % (self.proc.returncode, self.stderr()))
            m = re.search(r'msg="kansoku server started" listen=(\S+)', self.stderr())
            if m:
                self.addrs = m.group(1).split(",")
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not start: " + self.stderr())

    def stderr(self):
        with open(self.stderr_path) as f:
            return f.read()

    def stdout(self):
        with open(self.stdout_path) as f:
            return f.read()

    @property
    def addr(self):
        return self.addrs[0]

    @property
    def host(self):
        return self.addr.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self):
        return int(self.addr.rsplit(":", 1)[1])

    @property
    def url(self):
        return "http://" + self.addr

    def request(self, method, path, body=None, headers=None, token="__admin__", addr=None, timeout=30):
        """Returns (status, headers dict lower-case, body bytes)."""
        h = dict(headers or {})
        if token == "__admin__":
            token = self.token
        if token:
            h.setdefault("Authorization", "Bearer " + token)
        host, port = (addr or self.addr).rsplit(":", 1)
        conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        conn.close()
        return r.status, hdrs, data

    def json(self, method, path, body=None, **kw):
        st, h, data = self.request(method, path, body=body, **kw)
        return st, json.loads(data) if data else None

    def stop(self, expect_code=0, timeout=30):
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.proc = None
        self._out.close()
        self._err.close()
        if expect_code is not None and code != expect_code:
            raise AssertionError("server exit code %d, want %d; stderr:\n%s" % (code, expect_code, self.stderr()))
        return code

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None
        self._out.close()
        self._err.close()

    def cleanup(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self._out.close()
            self._err.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class AckedWriter:
    """For kill -9 tests: a thread sends batch 0, 1, 2, ... with send(b), which returns the HTTP
    status, until kill9_and_stop() or the server dies under it (an exception: that batch was not
    acknowledged). `acked` lists the batches answered with ok_status, in order."""

    def __init__(self, send, ok_status=204, limit=100000):
        self.acked = []
        self._send, self._ok, self._limit = send, ok_status, limit
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self):
        b = 0
        while not self._stop.is_set() and b < self._limit:
            try:
                st = self._send(b)
            except Exception:  # noqa: BLE001 - the server dies under us; unacknowledged
                return
            if st == self._ok:
                self.acked.append(b)
            b += 1

    def kill9_and_stop(self, server):
        server.kill9()  # mid-stream, no warning
        self._stop.set()
        self._thread.join()


def start_prometheus(tmp, config_yaml, port, extra_args=()):
    """Debian's `prometheus` with config_yaml (written to tmp/prometheus.yml), its TSDB in
    tmp/prom-data, listening on 127.0.0.1:port, output to tmp/prometheus.log. Returns the Popen;
    stop it with stop_process()."""
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(config_yaml)
    with open(os.path.join(tmp, "prometheus.log"), "w") as log:
        return subprocess.Popen([PROMETHEUS, "--config.file", cfg, "--storage.tsdb.path",
                                 os.path.join(tmp, "prom-data"), *extra_args,
                                 "--web.listen-address", "127.0.0.1:%d" % port],
                                stdout=log, stderr=subprocess.STDOUT)


def stop_process(p, timeout=60):
    """SIGTERM, then SIGKILL if p has not exited within timeout seconds."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_until(fn, timeout=30, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))
