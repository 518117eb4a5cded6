// Sends StatsD / DogStatsD traffic to a kansoku agent with the real npm hot-shots client:
// counters (with a sample rate), gauges, timers, histograms, distributions, sets, an event and a
// service check, all with global and per-call tags.
// env: STATSD_HOST (127.0.0.1), STATSD_PORT (8125), STATSD_BUFFER (0: one datagram per metric;
//      N: up to N bytes, several "\n"-joined lines per datagram), ROUND (a tag value)
import StatsD from "hot-shots";

const c = new StatsD({
  host: process.env.STATSD_HOST || "127.0.0.1",
  port: parseInt(process.env.STATSD_PORT || "8125", 10),
  protocol: "udp",
  prefix: "kansoku.",
  globalTags: { env: "test", service: "checkout" },
  maxBufferSize: parseInt(process.env.STATSD_BUFFER || "0", 10),
  bufferFlushInterval: 100,
  errorHandler: (e) => { console.error("statsd error", e); process.exitCode = 1; },
});
const round = process.env.ROUND || "1";
c.increment("orders.created", 5, { region: "eu", round });
c.increment("orders.created", 2, { region: "eu", round });
c.decrement("inventory.reserved", 2, { round });
c.increment("requests", 1, 0.5, { round });   // sampled: the client may skip it
c.gauge("queue.depth", 17, [`queue:email`, `round:${round}`]);
c.gauge("temperature", -3.5, { round });
for (const v of [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]) c.timing("db.query", v, { table: "orders", round });
c.histogram("request.duration_ms", 123.4, { route: "/checkout", round });
c.distribution("payload.bytes", 2048, { round });
c.set("users.unique", "u-42", { round });
c.set("users.unique", "u-43", { round });
c.set("users.unique", "u-42", { round });
c.event("deploy finished", "checkout v1.2.3 rolled out", { alert_type: "info" }, [`version:1.2.3`, `round:${round}`]);
c.check("checkout.health", c.CHECKS.WARNING, { message: "slow" }, [`probe:http`, `round:${round}`]);
c.close((err) => { if (err) { console.error(err); process.exitCode = 1; } });
