#pragma once
// HTTP ingest endpoints for metrics, one handler per protocol, all writing through
// tsdb::Appendable via ingest::AppenderSink:
//   POST /api/v1/write                 Prometheus remote_write 1.0 (protobuf + snappy)
//   POST /api/v1/import/prometheus     Prometheus text / OpenMetrics (VictoriaMetrics' path)
//   POST /write, /api/v2/write         InfluxDB line protocol (v1 and v2), GET/HEAD /ping
//   POST /api/v1/import/collectd, /collectd   collectd write_http JSON
//   POST /v1/metrics                   OTLP/HTTP metrics, JSON or protobuf
// Valid rows are stored even when others are rejected; the answer names the first bad rows and
// why. Status codes follow each protocol's rules (remote_write: 204, 400 do-not-retry, 503
// retry). Every row accepted/rejected is counted in kansoku_rows_{accepted,rejected}_total.
// Graphite plaintext arrives over TCP: MakeGraphiteSink builds the listener's sink.
//
// Thread safety: handlers run concurrently on worker threads; per-thread series caches.
// Ownership: the Appendable and Registry must outlive the HTTP server and listeners.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "net/stream_listener.h"

namespace kansoku::net {
class HttpServer;
}
namespace kansoku::tsdb {
class Appendable;
}
namespace kansoku::metrics {
class Registry;
}
namespace kansoku::usage {
class Guard;
}
namespace kansoku::ingest {
class RowSink;
}

namespace kansoku::api {

struct IngestApiOptions {
  tsdb::Appendable* storage = nullptr;
  metrics::Registry* metrics = nullptr;
  // When set, every request's appender is wrapped by the usage guard (limits, accounting) under
  // the request's token name; listener traffic uses "listener:<protocol>".
  usage::Guard* guard = nullptr;
  int64_t max_body_bytes = 32 << 20;
  int64_t max_decoded_body_bytes = 256 << 20;
};

class IngestApi;

// Registers the HTTP routes; the returned object owns shared state (OTLP delta totals) and must
// outlive the server.
std::shared_ptr<IngestApi> RegisterIngestApi(net::HttpServer& http, const IngestApiOptions& opts);

// Rows produced inside the server (server-side scraping) take the same path as an HTTP request:
// the usage guard under `tenant` (accounting, limits, samples/s admission), one commit, the
// kansoku_rows_{accepted,rejected}_total counters under `protocol`. `fill` hands its rows to the
// sink; `now_ms` is the time rows without a timestamp should get.
struct InternalIngestResult {
  uint64_t accepted = 0, rejected = 0;
  std::string summary;  // the report's summary when something was rejected
};
InternalIngestResult IngestInternal(
    IngestApi& api, std::string_view protocol, std::string_view tenant,
    const std::function<void(ingest::RowSink&, int64_t now_ms)>& fill);

// The sink for a Graphite TCP listener: each batch of lines is decoded and appended.
net::FrameSink MakeGraphiteSink(const std::shared_ptr<IngestApi>& api);

}  // namespace kansoku::api
