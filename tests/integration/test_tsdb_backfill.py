"""End to end: backfill of day-old data into a live server that writes "now" samples itself.

The server self-scrapes its usage metrics every second (a writer at "now"). Day-old Prometheus
text is imported through /api/v1/import/prometheus; once the head has persisted that range into
blocks (the persisted bound is then far past it), more day-old data — new series and later
samples of the imported ones — is still accepted, because the accept rule is per series. A
sample older than its own series' newest one is refused as out of order. Everything acknowledged
survives kill -9 and a second round of head compaction (overlapping blocks are deduplicated).
"""
import json
import time
import unittest
import urllib.parse

import harness

CONFIG = """
usage:
  self_scrape_interval: 1s
"""
STEP = 15000
HOUR = 3600 * 1000


def text(metric, series, start_ms, end_ms):
    lines = []
    for i in range(series):
        for t in range(start_ms, end_ms, STEP):
            lines.append('%s{i="%d"} %d %d\n' % (metric, i, (t // STEP) % 1000, t))
    return "".join(lines)


class BackfillTest(unittest.TestCase):
    def setUp(self):
        self.s = harness.Server(config_text=CONFIG).start()

    def tearDown(self):
        self.s.stop(expect_code=None)
        self.s.cleanup()

    def query(self, q, at_s):
        st, body = self.s.json("GET", "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": at_s}))
        self.assertEqual(st, 200, body)
        r = body["data"]["result"]
        return float(r[0]["value"][1]) if r else 0.0

    def metric(self, name):
        st, _, body = self.s.request("GET", "/metrics")
        self.assertEqual(st, 200)
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def imp(self, body):
        return self.s.request("POST", "/api/v1/import/prometheus", body=body, timeout=60)

    def test_backfill_into_self_scraping_server(self):
        now_s = int(time.time())
        now_ms = now_s * 1000
        # Writers at "now" exist before the backfill starts: a client's current sample, and the
        # server's own usage self-scrape (which has something to say once a client wrote).
        st, _, body = self.imp("live_now 1 %d\n" % now_ms)
        self.assertEqual(st, 204, body)
        harness.wait_until(lambda: self.query('count({__name__=~"kansoku_usage_.*"})', now_s + 5) > 0,
                           timeout=60, what="a self-scraped usage sample")
        day = (now_ms - 24 * HOUR) // STEP * STEP
        st, _, body = self.imp(text("bf_a", 10, day, day + HOUR))
        self.assertEqual(st, 204, body)
        # The head persists the day-old range once writers have left it (background compaction,
        # every 30 s): the persisted bound moves to within hours of now, far past the backfill.
        harness.wait_until(lambda: self.metric("kansoku_tsdb_blocks") >= 1, timeout=400,
                           what="the backfilled range persisted into a block")
        compactions = self.metric("kansoku_tsdb_head_compactions_total")
        self.assertGreaterEqual(compactions, 1)
        # More day-old data: a new series over the same (already persisted) range, and the next
        # hour of bf_a. Both are newer than anything their own series has.
        st, _, body = self.imp(text("bf_b", 5, day, day + HOUR))
        self.assertEqual(st, 204, body)
        st, _, body = self.imp(text("bf_a", 10, day + HOUR, day + 2 * HOUR))
        self.assertEqual(st, 204, body)
        # Older than bf_a{i="0"}'s newest sample: out of order for that series.
        st, _, body = self.imp('bf_a{i="0"} 1 %d\n' % (day - HOUR))
        self.assertNotEqual(st, 204)
        self.assertIn(b"out of order", body)
        per_hour = HOUR // STEP
        at = (day + 2 * HOUR) // 1000

        def counts():
            return (self.query("sum(count_over_time(bf_a[3h]))", at),
                    self.query("sum(count_over_time(bf_b[3h]))", at))

        want = (10 * 2 * per_hour, 5 * per_hour)
        self.assertEqual(counts(), want)
        # kill -9: every acknowledged sample is back after WAL replay.
        self.s.kill9()
        self.s.start()
        self.assertEqual(counts(), want)
        # The second backfill is persisted too (a block overlapping the first); reads deduplicate.
        # The block count is no measure of it (block compaction merges the overlapping blocks,
        # and a background pass may have persisted it before the kill): the head's oldest sample
        # moves past the backfilled range once everything in it is in blocks.
        harness.wait_until(lambda: self.metric("kansoku_tsdb_head_min_time_seconds") >= at,
                           timeout=400, what="the second backfill persisted")
        self.assertGreaterEqual(self.metric("kansoku_tsdb_blocks"), 1)
        self.assertEqual(counts(), want)
        self.s.stop()
        self.s.start()
        self.assertEqual(counts(), want)


if __name__ == "__main__":
    unittest.main()
