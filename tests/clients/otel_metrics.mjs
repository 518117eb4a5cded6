// Sends OpenTelemetry metrics to kansoku with the real OTLP/HTTP exporters of OpenTelemetry JS:
// a monotonic counter, an up-down counter, an observable gauge and a histogram, flushed twice.
// env: KANSOKU_URL (http://127.0.0.1:9400), KANSOKU_TOKEN, OTLP_PROTOCOL (json | protobuf),
//      OTLP_COMPRESSION (none | gzip), SERVICE (checkout)
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";

const url = `${process.env.KANSOKU_URL || "http://127.0.0.1:9400"}/v1/metrics`;
const protobuf = (process.env.OTLP_PROTOCOL || "json") === "protobuf";
const mod = await import(protobuf ? "@opentelemetry/exporter-metrics-otlp-proto"
                                  : "@opentelemetry/exporter-metrics-otlp-http");
const exporter = new mod.OTLPMetricExporter({
  url,
  compression: process.env.OTLP_COMPRESSION || "none",
  headers: { Authorization: `Bearer ${process.env.KANSOKU_TOKEN}` },
});
const provider = new MeterProvider({
  resource: resourceFromAttributes({ "service.name": process.env.SERVICE || "checkout",
                                     "service.instance.id": "pod-1", "deployment.environment": "test" }),
  readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60000, exportTimeoutMillis: 5000 })],
});
const meter = provider.getMeter("kansoku-e2e", "1.0.0");
const orders = meter.createCounter("orders_created", { description: "orders created" });
const inflight = meter.createUpDownCounter("http_requests_inflight");
const latency = meter.createHistogram("http_request_duration", { unit: "ms" });
meter.createObservableGauge("queue_depth").addCallback((r) => r.observe(17, { queue: "email" }));
orders.add(1, { region: "eu" });
orders.add(4, { region: "us" });
inflight.add(3);
inflight.add(-1);
for (const v of [12, 80, 250, 1200]) latency.record(v, { route: "/checkout" });
await provider.forceFlush();
orders.add(2, { region: "eu" });
await provider.forceFlush();
await provider.shutdown();
console.log("otel: sent");
