"""End to end: `kansoku import` / `kansoku export` / `kansoku query` against a real server."""
import json
import os
import subprocess
import time
import unittest

import harness


class CliImportExportTest(unittest.TestCase):
    def setUp(self):
        self.s = harness.Server().start()
        self.env = dict(os.environ, KANSOKU_SERVER=self.s.url, KANSOKU_TOKEN=self.s.token)

    def tearDown(self):
        self.s.stop()
        self.s.cleanup()

    def kansoku(self, *args, check=True):
        r = subprocess.run([harness.BIN, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_import_export_round_trip(self):
        now = int(time.time())
        path = os.path.join(self.s.tmp, "in.prom")
        with open(path, "w") as f:
            f.write("# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n")
            for i in range(30000):
                f.write('jobs_total{queue="q%d"} %d %d\n' % (i % 3, i, (now - 1200) * 1000 + i * 30))
            f.write("broken{ 1\n")
        r = self.kansoku("import", path, "--chunk-mb", "1", check=False)
        self.assertEqual(r.returncode, 1)  # one row was rejected
        self.assertIn("30000 rows stored, 1 rejected", r.stdout)
        self.assertRegex(r.stdout, r'cannot parse labels of "broken"')
        st, body = self.s.json("GET", "/api/v1/query?query=sum(count_over_time(jobs_total[1h]))")
        self.assertEqual(body["data"]["result"][0]["value"][1], "30000")

        out = os.path.join(self.s.tmp, "out.prom")
        self.kansoku("export", 'jobs_total{queue="q1"}', "-o", out)
        with open(out) as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 10000)
        self.assertRegex(lines[0], r'^jobs_total\{queue="q1"\} 1 \d{13}$')
        # Re-import under another name: same count comes back.
        with open(out) as f:
            data = f.read().replace("jobs_total", "copied_total")
        with open(out, "w") as f:
            f.write(data)
        r = self.kansoku("import", out)
        self.assertIn("10000 rows stored, 0 rejected", r.stdout)

        t = self.kansoku("query", "count_over_time(copied_total[1h])")
        self.assertRegex(t.stdout, r'(?m)^\{queue="q1"\}\s+\S+\s+10000$')  # the function drops the name
        j = json.loads(self.kansoku("query", "sum(copied_total)", "--start", "now-30m", "--json").stdout)
        self.assertEqual(j["data"]["resultType"], "matrix")

    def test_influx_file_detected(self):
        now = int(time.time())
        path = os.path.join(self.s.tmp, "in.lp")
        with open(path, "w") as f:
            for i in range(100):
                f.write("disk,host=h%d used=%di,free=2.5 %d\n" % (i % 4, i, (now - 100 + i) * 10**9))
        r = self.kansoku("import", path)
        self.assertIn("as influx: 200 rows stored, 0 rejected", r.stdout)
        r = self.kansoku("query", "sum(", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("parse error", r.stderr)


if __name__ == "__main__":
    unittest.main()
