"""End to end: every write the server acknowledged survives `kill -9`, and restart replays it."""
import json
import time
import unittest
import urllib.parse

import harness


class DurabilityTest(unittest.TestCase):
    def test_kill9_loses_nothing_acknowledged(self):
        s = harness.Server().start()
        try:
            now_ms = int(time.time() * 1000)
            def send(b):
                lines = "".join('dur_test{batch="%d",i="%d"} %d %d\n' % (b, i, i, now_ms - 60000 + b)
                                for i in range(50))
                return s.request("POST", "/api/v1/import/prometheus", body=lines, timeout=5)[0]

            w = harness.AckedWriter(send)
            acked = w.acked  # batch numbers answered 204
            time.sleep(2.0)
            w.kill9_and_stop(s)
            self.assertGreater(len(acked), 20)
            s.start()  # same data dir: WAL replay
            q = urllib.parse.urlencode({"query": "count(count_over_time(dur_test[10m]))"})
            st, body = s.json("GET", "/api/v1/query?" + q)
            got = int(body["data"]["result"][0]["value"][1]) if body["data"]["result"] else 0
            # Every acknowledged batch's 50 series are there (an unacknowledged last one may be too).
            self.assertGreaterEqual(got, len(acked) * 50)
            q = urllib.parse.urlencode({"query": 'count(count_over_time(dur_test{batch="%d"}[10m]))' % acked[-1]})
            st, body = s.json("GET", "/api/v1/query?" + q)
            self.assertEqual(body["data"]["result"][0]["value"][1], "50")
            self.assertIn("metrics storage open", s.stderr())
        finally:
            s.stop()
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
