#pragma once
// HTTP handlers and listener sinks of the log subsystem (API reference: docs/logs-api.md).
//
// Ingest (scope ingest):
//   POST /insert/jsonline, /api/v1/logs/jsonline   JSON lines
//   POST /loki/api/v1/push                         Loki push, JSON or protobuf+snappy
//   POST /_bulk, /insert/elasticsearch/_bulk       Elasticsearch bulk; GET /insert/elasticsearch/
//   POST /v1/logs                                  OTLP/HTTP logs, JSON or protobuf
// Query (scope read): /api/v1/logs/query, /hits, /context, /tail (server-sent events).
// UDP/TCP: MakeSyslogSink (RFC 5424/3164) and MakeJsonLinesSink (JSON over TCP) build the
// net::FrameSink of a listener.
// Every ingest path appends through logs::Store::Append (durable when it answers 2xx); records
// are counted in kansoku_rows_accepted_total{protocol}, unparsable input kept as flagged
// records in kansoku_logs_records_flagged_total{protocol}, rejected input in
// kansoku_rows_rejected_total{protocol,reason}. A store that is behind answers 503.
//
// Thread safety: handlers run concurrently on worker threads; sinks on their listener's
// consumer thread. Ownership: the Store and Registry must outlive the HTTP server and the
// listeners; the returned LogsApi must too.
#include <cstdint>
#include <functional>
#include <memory>

#include "logs/record.h"
#include "net/stream_listener.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::metrics {
class Registry;
}

namespace kansoku::logs {
class Store;
}
namespace kansoku::usage {
class Guard;
}

namespace kansoku::logs::api {

struct LogsApiOptions {
  Store* store = nullptr;
  metrics::Registry* metrics = nullptr;
  int64_t max_body_bytes = 32 << 20;
  int64_t max_decoded_body_bytes = 256 << 20;
  size_t max_query_rows = 1000000;
  int64_t max_tail_wait_ms = 5000;  // a /tail request waits at most this for new rows
  // Optional: accounts log bytes per stream (tenant = the token's name; "listener:<proto>" for
  // the syslog/JSON TCP listeners) and applies max_log_bytes_per_second (docs/design/usage.md).
  usage::Guard* guard = nullptr;
  // Optional: sees every batch of the syslog (after joining stack-trace lines) and JSON-over-TCP
  // sinks before it is appended, on the sink's thread (the errors subsystem turns logback ERROR
  // records with stack traces into error events). Must not block for long.
  std::function<void(const LogBatch&)> on_listener_batch;
};

class LogsApi;

std::shared_ptr<LogsApi> RegisterLogsApi(net::HttpServer& http, const LogsApiOptions& opts);

// Sink of a syslog UDP or TCP listener. Joins logback's one-datagram-per-stack-trace-line into
// its event (a background thread releases held records after 300 ms); call StopSinks() before
// the store closes.
net::FrameSink MakeSyslogSink(const std::shared_ptr<LogsApi>& api);
// Sink of a JSON-lines-over-TCP listener (logstash-logback-encoder).
net::FrameSink MakeJsonLinesSink(const std::shared_ptr<LogsApi>& api);
// Releases every record still held by the syslog joiner and stops its thread.
void StopSinks(const std::shared_ptr<LogsApi>& api);

}  // namespace kansoku::logs::api
