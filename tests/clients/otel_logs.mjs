// Sends OpenTelemetry logs to kansoku with the real OTLP/HTTP log exporters of OpenTelemetry JS
// (@opentelemetry/sdk-logs + exporter-logs-otlp-http / -proto 0.223.1): COUNT records numbered
// 0..COUNT-1 ("otel record <i> <MARKER>"), every 5th an ERROR with attributes, then flush.
// env: KANSOKU_URL (http://127.0.0.1:9400), KANSOKU_TOKEN, OTLP_PROTOCOL (json | protobuf),
//      OTLP_COMPRESSION (none | gzip), COUNT (10), MARKER (otel), SERVICE (checkout)
import { resourceFromAttributes } from "@opentelemetry/resources";
import { LoggerProvider, BatchLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { SeverityNumber } from "@opentelemetry/api-logs";

const url = `${process.env.KANSOKU_URL || "http://127.0.0.1:9400"}/v1/logs`;
const protobuf = (process.env.OTLP_PROTOCOL || "json") === "protobuf";
const { OTLPLogExporter } = await import(protobuf ? "@opentelemetry/exporter-logs-otlp-proto"
                                                  : "@opentelemetry/exporter-logs-otlp-http");
const exporter = new OTLPLogExporter({
  url,
  compression: process.env.OTLP_COMPRESSION || "none",
  headers: { Authorization: `Bearer ${process.env.KANSOKU_TOKEN}` },
});
const provider = new LoggerProvider({
  resource: resourceFromAttributes({ "service.name": process.env.SERVICE || "checkout",
                                     "host.name": "node-1", "deployment.environment": "test" }),
  processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 100, scheduledDelayMillis: 200 })],
});
const logger = provider.getLogger("kansoku-e2e", "1.0.0");
const n = Number(process.env.COUNT || "10");
const marker = process.env.MARKER || "otel";
for (let i = 0; i < n; i++) {
  const err = i % 5 === 0;
  logger.emit({
    severityNumber: err ? SeverityNumber.ERROR : SeverityNumber.INFO,
    severityText: err ? "ERROR" : "INFO",
    body: `otel record ${i} ${marker}`,
    attributes: { "order.id": i, "exception.type": err ? "TypeError" : "" },
  });
}
await provider.forceFlush();
await provider.shutdown();
