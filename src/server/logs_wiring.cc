#include "server/logs_wiring.h"

#include <chrono>

#include "base/log.h"
#include "logs/api/logs_api.h"
#include "logs/store.h"
#include "net/http_server.h"
#include "net/stream_listener.h"

namespace kansoku::server {

LogsSubsystem::LogsSubsystem(const config::ServerConfig& cfg, metrics::Registry* registry)
    : cfg_(cfg), registry_(registry) {}

LogsSubsystem::~LogsSubsystem() {
  StopListeners();
  Close();
}

Status LogsSubsystem::Open() {
  const auto& l = cfg_.logs;
  logs::StoreOptions o;
  o.dir = cfg_.data_dir + "/logs";
  o.retention_ms = l.retention_ms;
  o.retention_bytes = l.retention_bytes;
  o.wal_fsync_interval_ms = l.wal_fsync_interval_ms;
  o.flush_interval_ms = l.flush_interval_ms;
  o.head_max_rows = static_cast<size_t>(l.head_max_rows);
  o.max_line_bytes = static_cast<size_t>(l.max_line_bytes);
  o.stream_fields = l.stream_fields;
  auto start = std::chrono::steady_clock::now();
  auto s = logs::Store::Open(o);
  if (!s.ok()) return s.status().WithContext("cannot open log storage");
  store_ = std::move(s).value();
  auto st = store_->Stats();
  log::Info("log storage open",
            {{"blocks", static_cast<unsigned long long>(st.blocks)},
             {"wal_replayed_rows", static_cast<unsigned long long>(st.wal_replayed_rows)},
             {"seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}});
  logs::Store* sp = store_.get();
  auto stat = [this, sp](const char* name, const char* help, auto field, bool counter) {
    auto fn = [sp, field] { return static_cast<double>(sp->Stats().*field); };
    if (counter)
      registry_->CounterFunc(name, help, fn);
    else
      registry_->GaugeFunc(name, help, fn);
  };
  stat("kansoku_logs_rows_appended_total", "Log records appended to storage.",
       &logs::StoreStats::rows_appended, true);
  stat("kansoku_logs_head_rows", "Log records in the in-memory head.", &logs::StoreStats::head_rows,
       false);
  stat("kansoku_logs_head_streams", "Streams in the in-memory head.",
       &logs::StoreStats::head_streams, false);
  stat("kansoku_logs_blocks", "Log blocks on disk.", &logs::StoreStats::blocks, false);
  stat("kansoku_logs_bytes_on_disk", "Bytes of log blocks plus WAL.",
       &logs::StoreStats::bytes_on_disk, false);
  stat("kansoku_logs_flushes_total", "Head flushes to blocks.", &logs::StoreStats::flushes, true);
  stat("kansoku_logs_flush_errors_total", "Failed head flushes (retried).",
       &logs::StoreStats::flush_errors, true);
  stat("kansoku_logs_blocks_deleted_total", "Blocks deleted by retention.",
       &logs::StoreStats::blocks_deleted, true);
  stat("kansoku_logs_blocks_pruned_total", "Blocks skipped by queries (time, labels, bloom).",
       &logs::StoreStats::blocks_pruned, true);
  stat("kansoku_logs_blocks_scanned_total", "Blocks read by queries.",
       &logs::StoreStats::blocks_scanned, true);
  return Status::Ok();
}

void LogsSubsystem::AddRoutes(net::HttpServer& http, usage::Guard* guard) {
  logs::api::LogsApiOptions ao;
  ao.guard = guard;
  ao.store = store_.get();
  ao.metrics = registry_;
  ao.max_body_bytes = cfg_.http.max_body_bytes;
  ao.max_decoded_body_bytes = cfg_.http.max_decoded_body_bytes;
  ao.max_query_rows = static_cast<size_t>(cfg_.logs.max_query_rows);
  ao.on_listener_batch = listener_observer_;
  api_ = logs::api::RegisterLogsApi(http, ao);
}

Status LogsSubsystem::StartListeners() {
  const auto& l = cfg_.logs;
  auto opts = [&](const char* name, const std::string& addr) {
    net::ListenerOptions lo;
    lo.name = name;
    lo.address = addr;
    lo.allow_cidrs = cfg_.listeners.allow_cidrs;
    lo.metrics = registry_;
    lo.max_frame_bytes = static_cast<size_t>(l.max_line_bytes) + 1024;
    return lo;
  };
  if (!l.syslog_udp.empty()) {
    auto lo = opts("syslog", l.syslog_udp);
    lo.sink = logs::api::MakeSyslogSink(api_);
    syslog_udp_ = std::make_unique<net::UdpListener>(lo);
    KANSOKU_RETURN_IF_ERROR(syslog_udp_->Start());
    log::Info("listening", {{"protocol", "syslog"}, {"udp", syslog_udp_->BoundAddress()}});
  }
  if (!l.syslog_tcp.empty()) {
    auto lo = opts("syslog", l.syslog_tcp);
    lo.framing = net::Framing::kAuto;
    lo.sink = logs::api::MakeSyslogSink(api_);
    syslog_tcp_ = std::make_unique<net::TcpStreamListener>(lo);
    KANSOKU_RETURN_IF_ERROR(syslog_tcp_->Start());
    log::Info("listening", {{"protocol", "syslog"}, {"tcp", syslog_tcp_->BoundAddress()}});
  }
  if (!l.json_tcp.empty()) {
    auto lo = opts("json_tcp", l.json_tcp);
    lo.framing = net::Framing::kLine;
    lo.sink = logs::api::MakeJsonLinesSink(api_);
    json_tcp_ = std::make_unique<net::TcpStreamListener>(lo);
    KANSOKU_RETURN_IF_ERROR(json_tcp_->Start());
    log::Info("listening", {{"protocol", "json_tcp"}, {"tcp", json_tcp_->BoundAddress()}});
  }
  return Status::Ok();
}

void LogsSubsystem::StopListeners() {
  if (syslog_udp_) syslog_udp_->Stop();
  if (syslog_tcp_) syslog_tcp_->Stop();
  if (json_tcp_) json_tcp_->Stop();
  if (api_) logs::api::StopSinks(api_);
}

void LogsSubsystem::Close() {
  if (store_) store_->Close();
}

}  // namespace kansoku::server
