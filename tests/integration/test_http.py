"""End to end: the HTTP core of `kansoku server` driven by Python's http.client, curl and raw sockets."""
import gzip
import json
import os
import socket
import ssl
import subprocess
import time
import unittest
import zlib

import brotli
import snappy
import zstandard

import harness


class HttpCoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = harness.Server(listen=("127.0.0.1:0", "[::1]:0"),
                               config_text="http:\n  header_timeout: 1s\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()
        cls.s.cleanup()

    def test_health_needs_no_token_everything_else_does(self):
        st, _, body = self.s.request("GET", "/-/healthy", token=None)
        self.assertEqual(st, 200)
        self.assertIn(b"Healthy", body)
        st, _, _ = self.s.request("GET", "/-/ready", token=None)
        self.assertEqual(st, 200)
        st, h, body = self.s.request("GET", "/metrics", token=None)
        self.assertEqual(st, 401)
        self.assertIn("bearer", h.get("www-authenticate", "").lower())
        self.assertIn(b"missing API token", body)
        st, _, body = self.s.request("GET", "/metrics", token="ksk_not_a_real_token")
        self.assertEqual(st, 401)
        self.assertIn(b"unknown or revoked", body)

    def test_token_forms_and_scopes(self):
        st, created = self.s.json("POST", "/api/v1/tokens", json.dumps({"name": "ingester", "scopes": ["ingest"]}))
        self.assertEqual(st, 201, created)
        ingest = created["data"]["token"]
        st, created = self.s.json("POST", "/api/v1/tokens", json.dumps({"name": "reader", "scopes": ["read"]}))
        reader = created["data"]["token"]
        # Wrong scope is 403, distinct from 401.
        st, _, body = self.s.request("GET", "/metrics", token=ingest)
        self.assertEqual(st, 403)
        self.assertIn(b"lacks the 'read' scope", body)
        # Bearer, Basic password, X-Api-Key all work.
        self.assertEqual(self.s.request("GET", "/metrics", token=reader)[0], 200)
        self.assertEqual(self.s.request("GET", "/metrics", token=None,
                                        headers={"Authorization": harness.basic("prometheus", reader)})[0], 200)
        self.assertEqual(self.s.request("GET", "/metrics", token=None, headers={"X-Api-Key": reader})[0], 200)
        # Query-string tokens are not accepted on ordinary API routes.
        self.assertEqual(self.s.request("GET", "/metrics?token=" + reader, token=None)[0], 401)
        # Reader cannot manage tokens.
        self.assertEqual(self.s.request("GET", "/api/v1/tokens", token=reader)[0], 403)

    def test_cli_token_create_list_revoke(self):
        env = dict(os.environ, KANSOKU_SERVER=self.s.url, KANSOKU_TOKEN=self.s.token)
        out = subprocess.run([harness.BIN, "token", "create", "--name", "cli-made", "--scope", "ingest,read", "--json"],
                             env=env, capture_output=True, text=True, check=True).stdout
        made = json.loads(out)["data"]
        self.assertEqual(made["scopes"], ["ingest", "read"])
        self.assertTrue(made["token"].startswith("ksk_"))
        table = subprocess.run([harness.BIN, "token", "list"], env=env, capture_output=True, text=True,
                               check=True).stdout
        self.assertRegex(table, r"(?m)^ID\s+NAME\s+SCOPES\s+CREATED\s+STATE$")
        self.assertRegex(table, r"(?m)^%d\s+cli-made\s+ingest,read\s" % made["id"])
        self.assertEqual(self.s.request("GET", "/metrics", token=made["token"])[0], 200)
        subprocess.run([harness.BIN, "token", "revoke", str(made["id"])], env=env, check=True, capture_output=True)
        self.assertEqual(self.s.request("GET", "/metrics", token=made["token"])[0], 401)
        r = subprocess.run([harness.BIN, "token", "revoke", "999999"], env=env, capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no valid token with id 999999", r.stderr)
        r = subprocess.run([harness.BIN, "token", "list"], env=dict(env, KANSOKU_TOKEN="ksk_bad"),
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("401", r.stderr)

    def test_every_content_encoding(self):
        payload = json.dumps({"name": "enc", "scopes": ["read"]}).encode()
        encoders = {
            "gzip": gzip.compress,
            "deflate": zlib.compress,
            "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
            "br": brotli.compress,
            "snappy": snappy.compress,
        }
        for name, enc in encoders.items():
            st, _, body = self.s.request("POST", "/api/v1/tokens", body=enc(payload),
                                         headers={"Content-Encoding": name, "Content-Type": "application/json"})
            self.assertEqual(st, 201, (name, body))
        st, _, body = self.s.request("POST", "/api/v1/tokens", body=b"\x1f\x8bnot really gzip",
                                     headers={"Content-Encoding": "gzip"})
        self.assertEqual(st, 400)
        self.assertIn(b"cannot decode gzip body", body)
        st, _, body = self.s.request("POST", "/api/v1/tokens", body=b"x", headers={"Content-Encoding": "lzma"})
        self.assertEqual(st, 415)

    def test_chunked_body(self):
        host, port = self.s.addr.rsplit(":", 1)
        import http.client
        conn = http.client.HTTPConnection(host, int(port))
        body = iter([b'{"name":"chunk', b'ed","scopes":', b'["read"]}'])
        conn.request("POST", "/api/v1/tokens", body=body, encode_chunked=True,
                     headers={"Authorization": "Bearer " + self.s.token, "Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        self.assertEqual(r.status, 201, r.read())
        conn.close()

    def test_body_limit_413_names_the_limit(self):
        big = b"{" + b" " * (2 << 20) + b"}"
        st, _, body = self.s.request("POST", "/api/v1/tokens", body=big)
        self.assertEqual(st, 413)
        self.assertIn(b"exceeds the limit of 1 MiB (1048576 bytes) for /api/v1/tokens", body)
        # The server is fine afterwards.
        self.assertEqual(self.s.request("GET", "/-/healthy", token=None)[0], 200)

    def test_bad_input_gets_4xx_not_a_crash(self):
        for raw in [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\x03\r\n\r\n",
                    b"POST /api/v1/tokens HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                    b"POST /api/v1/tokens HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n"]:
            with socket.create_connection((self.s.host, self.s.port), timeout=5) as c:
                c.sendall(raw)
                resp = c.recv(4096)
                self.assertRegex(resp, rb"^HTTP/1\.1 4\d\d ", raw)
        st, _, body = self.s.request("POST", "/api/v1/tokens", body=b"[1,2")
        self.assertEqual(st, 400)
        self.assertIn(b"cannot parse request body", body)
        st, _, body = self.s.request("POST", "/api/v1/tokens", body=json.dumps({"name": "x", "scopes": ["write"]}))
        self.assertEqual(st, 400)
        self.assertIn(b'unknown scope \\"write\\"', body)
        self.assertEqual(self.s.request("GET", "/-/healthy", token=None)[0], 200)

    def test_slow_client_is_cut_off(self):
        with socket.create_connection((self.s.host, self.s.port), timeout=10) as c:
            c.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")  # header never finished
            t0 = time.time()
            data = c.recv(100)
            self.assertEqual(data, b"")
            self.assertLess(time.time() - t0, 5)

    def test_keep_alive_many_requests_one_connection(self):
        import http.client
        conn = http.client.HTTPConnection(self.s.host, self.s.port)
        for _ in range(50):
            conn.request("GET", "/api/v1/whoami", headers={"Authorization": "Bearer " + self.s.token})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(json.loads(r.read())["data"]["name"], "admin")
        conn.close()

    def test_ipv6_listener(self):
        v6 = [a for a in self.s.addrs if a.startswith("[")][0]
        st, _, body = self.s.request("GET", "/api/v1/whoami", addr=v6)
        self.assertEqual(st, 200, body)

    def test_self_metrics_count_requests(self):
        for _ in range(3):
            self.s.request("GET", "/api/v1/status/buildinfo")
        st, h, body = self.s.request("GET", "/metrics")
        text = body.decode()
        self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"))
        self.assertRegex(text, r'kansoku_http_requests_total\{route="/api/v1/status/buildinfo",code="200"\} [3-9]')
        self.assertIn('kansoku_http_request_duration_seconds_bucket{route="/api/v1/status/buildinfo",le="+Inf"}', text)
        self.assertIn("process_resident_memory_bytes ", text)
        self.assertIn("# TYPE kansoku_rows_rejected_total counter", text)

    def test_ui_static_files_need_no_token(self):
        st, h, body = self.s.request("GET", "/", token=None)
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/html"))
        self.assertIn(b"kansoku", body)


class LifecycleTest(unittest.TestCase):
    def test_first_start_prints_admin_token_once(self):
        s = harness.Server(admin_token=None).start()
        try:
            out = s.stdout()
            self.assertIn("admin token: ksk_", out)
            token = out.split("admin token: ")[1].split()[0]
            s.token = token
            self.assertEqual(s.request("GET", "/api/v1/whoami")[0], 200)
            s.stop()
            s.start()
            self.assertNotIn("admin token", s.stdout())  # shown once
            self.assertEqual(s.request("GET", "/api/v1/whoami")[0], 200)  # and it survives restart
        finally:
            s.stop()
            s.cleanup()

    def test_admin_token_file(self):
        s = harness.Server(admin_token=None)
        path = os.path.join(s.tmp, "admin.token")
        with open(path, "w") as f:
            f.write("ksk_from_a_file_0123456789abcdef\n")
        s.args = ["--admin-token-file", path]
        s.start()
        try:
            s.token = "ksk_from_a_file_0123456789abcdef"
            self.assertEqual(s.request("GET", "/api/v1/tokens")[0], 200)
            self.assertNotIn("admin token:", s.stdout())
        finally:
            s.stop()
            s.cleanup()

    def test_sigterm_drains_and_exits_zero(self):
        s = harness.Server().start()
        try:
            import threading
            results = []

            def hold():
                # Keep-alive connection with a request in flight while SIGTERM arrives.
                results.append(s.request("GET", "/api/v1/whoami"))

            t = threading.Thread(target=hold)
            t.start()
            t.join()
            self.assertEqual(results[0][0], 200)
            self.assertEqual(s.stop(), 0)
            self.assertIn('msg="stopped cleanly"', s.stderr())
        finally:
            s.cleanup()

    def test_check_config(self):
        s = harness.Server(config_text="listen: [\"127.0.0.1:0\"]\nhttp:\n  idle_timeout: forever\n")
        r = subprocess.run([harness.BIN, "server", "--config", s.config_path, "--check-config"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("kansoku.yml:3:17: http.idle_timeout: cannot parse duration \"forever\"", r.stderr)
        with open(s.config_path, "w") as f:
            f.write("data_dir: /tmp/x\nbogus_key: 1\n")
        r = subprocess.run([harness.BIN, "server", "--config", s.config_path, "--check-config"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("kansoku.yml:2:1: bogus_key: unknown key", r.stderr)
        with open(s.config_path, "w") as f:
            f.write("log:\n  level: debug\n")
        r = subprocess.run([harness.BIN, "server", "--config", s.config_path, "--check-config"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("config OK", r.stdout)
        s.cleanup()

    def test_listen_error_is_clear(self):
        s1 = harness.Server().start()
        try:
            s2 = harness.Server(listen=(s1.addr,))
            with self.assertRaises(RuntimeError) as cm:
                s2.start()
            self.assertIn("cannot listen on " + s1.addr, str(cm.exception))
            s2.cleanup()
        finally:
            s1.stop()
            s1.cleanup()

    def test_tls(self):
        s = harness.Server()
        cert, key = os.path.join(s.tmp, "cert.pem"), os.path.join(s.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        s.args = ["--tls-cert", cert, "--tls-key", key]
        s.start()
        try:
            ctx = ssl.create_default_context(cafile=cert)
            import http.client
            conn = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx)
            conn.request("GET", "/api/v1/whoami", headers={"Authorization": "Bearer " + s.token})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertIn(b'"admin"', r.read())
            conn.close()
            out = subprocess.run(["curl", "-s", "--cacert", cert, "https://127.0.0.1:%d/-/healthy" % s.port],
                                 capture_output=True, text=True).stdout
            self.assertIn("Healthy", out)
            # Plain HTTP to a TLS port is refused, not a crash.
            with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
                c.sendall(b"GET / HTTP/1.1\r\n\r\n")
                c.recv(100)
            self.assertEqual(subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert,
                                             "https://127.0.0.1:%d/-/ready" % s.port],
                                            capture_output=True, text=True).stdout, "200")
            env = dict(os.environ, KANSOKU_SERVER="https://127.0.0.1:%d" % s.port, KANSOKU_TOKEN=s.token,
                       SSL_CERT_FILE=cert)
            r = subprocess.run([harness.BIN, "token", "list", "--insecure"], env=env, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("admin", r.stdout)
        finally:
            s.stop()
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
