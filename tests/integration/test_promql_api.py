"""End-to-end tests of the Prometheus query API beyond the promtool comparison: the query
admission gate (query.max_concurrency / query.max_queued) under parallel real HTTP queries.
"""
import concurrent.futures
import http.client
import json
import re
import time
import unittest
import urllib.parse

from harness import Server, wait_until

# A CPU burner with a tiny memory footprint: every one of the 11,000 steps takes the max over a
# one-day window of a 1 s subquery (~86,400 points), about 10^9 comparisons in all.
BURNER = {"query": "max_over_time(vector(time())[1d:1s])", "start": "1000000",
          "end": str(1000000 + 10999 * 10), "step": "10"}


def get(srv, path, params, timeout=120):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    conn.request("GET", path + "?" + urllib.parse.urlencode(params),
                 headers={"Authorization": "Bearer " + srv.token})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, json.loads(body)


def metric(srv, name):
    status, _, body = srv.request("GET", "/metrics")
    m = re.search(r"^" + name + r" (\S+)$", body.decode(), re.M)
    return float(m.group(1)) if m else None


class QueryGateTest(unittest.TestCase):
    def start(self, max_concurrency, max_queued):
        srv = Server(config_text=(
            "http:\n  worker_threads: 8\n"
            f"query:\n  max_concurrency: {max_concurrency}\n  max_queued: {max_queued}\n"
            "usage:\n  self_scrape_interval: 1000h\n")).start()
        self.addCleanup(srv.cleanup)
        return srv

    def test_parallel_queries_beyond_the_queue_get_503_unavailable(self):
        srv = self.start(1, 1)
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            futs = [ex.submit(get, srv, "/api/v1/query_range", BURNER) for _ in range(6)]
            answers = [f.result() for f in futs]
        ok = [b for s, b in answers if s == 200]
        refused = [(s, b) for s, b in answers if s != 200]
        # One runs, one waits for it, the other four are refused at once.
        self.assertGreaterEqual(len(ok), 2, answers)
        self.assertGreaterEqual(len(refused), 1, [s for s, _ in answers])
        for s, b in refused:
            self.assertEqual(s, 503)
            self.assertEqual(b["status"], "error")
            self.assertEqual(b["errorType"], "unavailable")
            self.assertIn("query.max_concurrency", b["error"])
        for b in ok:
            self.assertEqual(b["data"]["resultType"], "matrix")
            self.assertEqual(len(b["data"]["result"][0]["values"]), 11000)
        self.assertEqual(metric(srv, "kansoku_query_rejected_total"), len(refused))
        self.assertEqual(metric(srv, "kansoku_query_running"), 0)
        self.assertEqual(metric(srv, "kansoku_query_queued"), 0)
        srv.stop()

    def test_query_times_out_in_the_queue(self):
        srv = self.start(1, 10)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            busy = ex.submit(get, srv, "/api/v1/query_range", BURNER)
            wait_until(lambda: metric(srv, "kansoku_query_running") == 1, what="burner running")
            status, body = get(srv, "/api/v1/query", {"query": "1", "timeout": "0.2s"})
            self.assertEqual(busy.result()[0], 200)
        self.assertEqual(status, 503, body)
        self.assertEqual(body["errorType"], "timeout")
        self.assertEqual(body["error"], "query timed out in query queue")
        self.assertEqual(metric(srv, "kansoku_query_queue_timeouts_total"), 1)
        # With the slot free again, queries run.
        status, body = get(srv, "/api/v1/query", {"query": "1+1"})
        self.assertEqual((status, body["data"]["result"][1]), (200, "2"))
        srv.stop()

    def test_bad_timeout_parameter(self):
        srv = self.start(20, 100)
        status, body = get(srv, "/api/v1/query", {"query": "1", "timeout": "soon"})
        self.assertEqual((status, body["errorType"]), (400, "bad_data"))
        self.assertIn("timeout", body["error"])
        srv.stop()


if __name__ == "__main__":
    unittest.main()
