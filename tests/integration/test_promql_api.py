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

    def test_queries_longer_than_the_connection_timeouts_get_their_answers(self):
        # The connection's header deadline (here 0.2 s) no longer runs while a query does: a
        # fresh connection's query used to lose its answer (the socket closed) once it ran
        # longer than http.header_timeout (10 s by default), a form POST's once longer than
        # http.body_timeout, long before query.timeout (2 m).
        srv = Server(config_text=(
            "http:\n  header_timeout: 200ms\n  body_timeout: 200ms\n"
            "usage:\n  self_scrape_interval: 1000h\n")).start()
        self.addCleanup(srv.cleanup)
        t0 = time.monotonic()
        status, body = get(srv, "/api/v1/query_range", dict(BURNER, timeout="0.8s"))
        self.assertEqual((status, body.get("errorType")), (503, "timeout"))
        self.assertGreater(time.monotonic() - t0, 0.7)
        # A form POST, answered in full.
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=120)
        t0 = time.monotonic()
        conn.request("POST", "/api/v1/query_range", body=urllib.parse.urlencode(BURNER),
                     headers={"Authorization": "Bearer " + srv.token,
                              "Content-Type": "application/x-www-form-urlencoded"})
        r = conn.getresponse()
        body = json.loads(r.read())
        took = time.monotonic() - t0
        conn.close()
        self.assertEqual((r.status, body["status"]), (200, "success"))
        self.assertEqual(len(body["data"]["result"][0]["values"]), 11000)
        self.assertGreater(took, 0.5, "the query must outlast the timeouts to test anything")
        srv.stop()

    def test_bad_timeout_parameter(self):
        srv = self.start(20, 100)
        status, body = get(srv, "/api/v1/query", {"query": "1", "timeout": "soon"})
        self.assertEqual((status, body["errorType"]), (400, "bad_data"))
        self.assertIn("timeout", body["error"])
        srv.stop()


class Utf8NamesTest(unittest.TestCase):
    """Prometheus 3 UTF-8 names: text import with quoted names, then the query API."""

    def test_import_query_series_labels(self):
        srv = Server(config_text="usage:\n  self_scrape_interval: 1000h\n").start()
        self.addCleanup(srv.cleanup)
        now = int(time.time()) * 1000
        body = "".join(
            f'{{"service.up","host.name"="{h}",job="x"}} {v} {now - 60000 * k}\n'
            for h, v in (("a", 1), ("b", 0)) for k in range(3))
        body += f'legacy{{"ünïcödé"="ja"}} 7 {now}\n'
        status, _, resp = srv.request("POST", "/api/v1/import/prometheus", body=body.encode())
        self.assertIn(status, (200, 204), resp)
        t = str(now / 1000)
        status, b = get(srv, "/api/v1/query", {"query": 'sum by ("host.name") ({"service.up"})', "time": t})
        self.assertEqual(status, 200, b)
        got = sorted((r["metric"]["host.name"], r["value"][1]) for r in b["data"]["result"])
        self.assertEqual(got, [("a", "1"), ("b", "0")])
        status, b = get(srv, "/api/v1/series", {"match[]": '{"service.up", "host.name"="a"}'})
        self.assertEqual(b["data"], [{"__name__": "service.up", "host.name": "a", "job": "x"}])
        for name in ("host.name", "U__host_2e_name"):
            status, b = get(srv, "/api/v1/label/" + urllib.parse.quote(name) + "/values", {})
            self.assertEqual((status, b["data"]), (200, ["a", "b"]), name)
        # ü = U+00FC, ï = U+00EF, ö = U+00F6, é = U+00E9
        status, b = get(srv, "/api/v1/label/U___fc_n_ef_c_f6_d_e9_/values", {})
        self.assertEqual((status, b["data"]), (200, ["ja"]))
        status, b = get(srv, "/api/v1/labels", {})
        self.assertIn("host.name", b["data"])
        self.assertIn("ünïcödé", b["data"])
        # The export quotes the names so that the import reads them back.
        status, _, text = srv.request("GET", "/api/v1/export/prometheus?" + urllib.parse.urlencode(
            {"match[]": '{"service.up", "host.name"="a"}'}))
        self.assertEqual(status, 200)
        self.assertTrue(text.decode().startswith('{"service.up","host.name"="a",job="x"} 1 '), text)
        srv.stop()


class SeriesApiTest(unittest.TestCase):
    """/api/v1/series: one match[] set streams from the storage's views; several are merged."""

    def test_limit_max_series_escapes_and_several_sets(self):
        srv = Server(config_text="query:\n  max_series_returned: 4\n"
                                 "usage:\n  self_scrape_interval: 1000h\n").start()
        self.addCleanup(srv.cleanup)
        now = int(time.time()) * 1000
        body = "".join(f'm{{i="{k}",job="x"}} {k} {now}\n' for k in range(4))
        body += f'odd{{q="a\\"b\\\\c\\né"}} 1 {now}\n'
        status, _, resp = srv.request("POST", "/api/v1/import/prometheus", body=body.encode())
        self.assertIn(status, (200, 204), resp)
        status, b = get(srv, "/api/v1/series", {"match[]": "m"})
        self.assertEqual(status, 200, b)
        self.assertEqual(b["data"], [{"__name__": "m", "i": str(k), "job": "x"} for k in range(4)])
        self.assertNotIn("warnings", b)
        status, b = get(srv, "/api/v1/series", {"match[]": "m", "limit": "2"})
        self.assertEqual(status, 200, b)
        self.assertEqual([x["i"] for x in b["data"]], ["0", "1"])
        self.assertEqual(b["warnings"], ["results truncated due to limit"])
        status, b = get(srv, "/api/v1/series", {"match[]": "odd"})
        self.assertEqual(b["data"], [{"__name__": "odd", "q": 'a"b\\c\né'}])
        # Five series against a maximum of four: refused, with the limit named.
        status, b = get(srv, "/api/v1/series", {"match[]": '{__name__=~"m|odd"}'})
        self.assertEqual(status, 422, b)
        self.assertIn("query.max_series_returned", b["error"])
        self.assertIn("returned 5 series", b["error"])
        # Two sets, overlapping: merged, sorted, each series once.
        status, b = get(srv, "/api/v1/series", [("match[]", 'm{i=~"[12]"}'), ("match[]", "odd"),
                                                ("match[]", 'm{i="1"}')])
        self.assertEqual(status, 200, b)
        self.assertEqual([x.get("i", x["__name__"]) for x in b["data"]], ["1", "2", "odd"])
        # A selector that can match everything is refused, as Prometheus refuses it.
        status, b = get(srv, "/api/v1/series", {"match[]": '{job=~".*"}'})
        self.assertEqual(status, 400, b)
        self.assertEqual(b["errorType"], "bad_data")


if __name__ == "__main__":
    unittest.main()
