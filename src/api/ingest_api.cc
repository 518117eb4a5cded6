#include "api/ingest_api.h"

#include <array>
#include <string>

#include "base/clock.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/strings.h"
#include "ingest/collectd_json/parser.h"
#include "ingest/common/appender_sink.h"
#include "ingest/graphite/parser.h"
#include "ingest/influx_line/parser.h"
#include "ingest/otlp_metrics/parser.h"
#include "ingest/prom_remote_write/parser.h"
#include "ingest/prom_text/parser.h"
#include "net/http.h"
#include "net/http_server.h"
#include "tsdb/storage.h"
#include "usage/guard.h"

namespace kansoku::api {

class IngestApi {
 public:
  explicit IngestApi(const IngestApiOptions& o) : o_(o) {
    accepted_ = &o.metrics->Counter("kansoku_rows_accepted_total",
                                    "Rows (samples, events, log lines) accepted, by protocol.",
                                    {"protocol"});
    rejected_ =
        &o.metrics->Counter("kansoku_rows_rejected_total", "Rows rejected, by protocol and reason.",
                            {"protocol", "reason"});
  }

  // Runs decode(opts, sink, report) into a fresh appender, commits, counts, logs (rate-limited).
  // `tenant` is the token's name: the usage guard's accounting and limits are per tenant.
  template <class Fn>
  ingest::DecodeReport Ingest(std::string_view protocol, std::string_view tenant, Fn&& decode,
                              std::vector<ingest::LabelView> extra = {}) {
    ingest::DecodeReport report;
    ingest::DecodeOptions opts;
    opts.now_ms = Clock::Real().NowMs();
    opts.extra_labels = std::move(extra);
    auto app = o_.storage->NewAppender();
    if (o_.guard != nullptr) app = o_.guard->Wrap(std::move(app), tenant, protocol);
    ingest::AppenderSink sink(*app, report, &cache_);
    decode(opts, sink, report);
    Status st;
    int retry_after_s = 0;
    Status admit = o_.guard != nullptr
                       ? o_.guard->AdmitSamples(tenant, report.rows_accepted(), &retry_after_s)
                       : Status::Ok();
    if (!admit.ok()) {
      // Over the token's samples/s budget: nothing of this request is stored; 429 + Retry-After.
      app->Rollback();
      report.RevertAccepted(admit.message(), ingest::RejectReason::kLimit);
      report.SetRateLimited(admit, retry_after_s);
      st = admit;
    } else {
      st = sink.Commit();
    }
    Count(protocol, report);
    if (report.rows_rejected() > 0 || !st.ok()) {
      if (bad_log_.Allow()) {
        log::Warn("ingest rejected rows", {{"protocol", protocol},
                                           {"summary", report.Summary()},
                                           {"suppressed_since_last", bad_log_.TakeSuppressed()}});
      }
    }
    return report;
  }

  void Count(std::string_view protocol, const ingest::DecodeReport& r) {
    std::string p(protocol);
    if (r.rows_accepted()) accepted_->With({p})->Inc(static_cast<double>(r.rows_accepted()));
    for (size_t i = 0; i < ingest::kNumRejectReasons; ++i) {
      auto reason = static_cast<ingest::RejectReason>(i);
      if (uint64_t n = r.rejected(reason)) {
        rejected_->With({p, std::string(ingest::RejectReasonName(reason))})
            ->Inc(static_cast<double>(n));
      }
    }
  }

  // Exact counts for tools (kansoku import) even when the body is empty (204).
  static void CountHeaders(const ingest::DecodeReport& r, net::Response& resp) {
    resp.SetHeader("X-Kansoku-Rows-Stored", std::to_string(r.rows_accepted()));
    resp.SetHeader("X-Kansoku-Rows-Rejected", std::to_string(r.rows_rejected()));
    if (r.retry_after_s() > 0) resp.SetHeader("Retry-After", std::to_string(r.retry_after_s()));
  }

  static std::string_view Tenant(const net::Request& req) {
    return req.principal.token_name.empty() ? std::string_view("anonymous")
                                            : std::string_view(req.principal.token_name);
  }

  // Plain-text answer for remote_write / import: 204 when all rows stored, else the summary (200
  // with it when only exemplars were refused: they never fail a request, as in Prometheus).
  static void TextAnswer(const ingest::DecodeReport& r, net::Response& resp) {
    CountHeaders(r, resp);
    int code = r.HttpStatus();
    if (code == 204 && r.exemplars_rejected() > 0) return resp.Text(200, r.Summary());
    if (code == 204) {
      resp.status = 204;
      resp.content_type.clear();
      return;
    }
    resp.Text(code, r.Summary());
  }

  void RemoteWrite(net::Request& req, net::Response& resp) {
    auto r =
        Ingest("prometheus_remote_write", Tenant(req), [&](auto& opts, auto& sink, auto& report) {
          (void)ingest::prom_remote_write::DecodeWriteRequest(req.body, opts, sink, report);
        });
    TextAnswer(r, resp);
  }

  void ImportPrometheus(net::Request& req, net::Response& resp) {
    auto format = ingest::prom_text::FormatFromContentType(req.Header("content-type"));
    // VictoriaMetrics' extra_label=name=value adds labels to every series.
    std::vector<std::string> extra_raw = req.FormParams("extra_label");
    std::vector<ingest::LabelView> extra;
    for (const auto& e : extra_raw) {
      size_t eq = e.find('=');
      if (eq == std::string::npos || eq == 0) {
        return resp.Text(400, "cannot parse extra_label \"" + e + "\": expected name=value");
      }
      extra.push_back({std::string_view(e).substr(0, eq), std::string_view(e).substr(eq + 1)});
    }
    auto r = Ingest(
        "prometheus_text", Tenant(req),
        [&](auto& opts, auto& sink, auto& report) {
          thread_local ingest::prom_text::Parser parser;
          parser.Parse(req.body, format, opts, sink, report);
        },
        extra);
    TextAnswer(r, resp);
  }

  void Influx(net::Request& req, net::Response& resp) {
    std::string precision, db;
    req.QueryParam("precision", &precision);
    auto p = ingest::influx_line::ParsePrecision(precision);
    if (!p.ok()) return InfluxError(resp, 400, p.status().message());
    ingest::influx_line::Options io;
    io.precision = *p;
    // The v1 `db` (v2 `bucket`) becomes a label, as VictoriaMetrics does.
    std::vector<ingest::LabelView> extra;
    if ((req.QueryParam("db", &db) || req.QueryParam("bucket", &db)) && !db.empty()) {
      extra.push_back({"db", db});
    }
    auto r = Ingest(
        "influx_line", Tenant(req),
        [&](auto& opts, auto& sink, auto& report) {
          thread_local ingest::influx_line::Parser parser;
          parser.Parse(req.body, io, opts, sink, report);
        },
        extra);
    CountHeaders(r, resp);
    int code = r.HttpStatus();
    if (code == 204) {
      resp.status = 204;
      resp.content_type.clear();
      return;
    }
    InfluxError(resp, code,
                (code == 400 && r.rows_accepted() ? "partial write: " : "") + r.Summary());
  }

  static void InfluxError(net::Response& resp, int code, const std::string& msg) {
    resp.Json(code, "{\"error\":" + net::JsonString(msg) + "}");
    resp.SetHeader("X-Influxdb-Error", msg.substr(0, 512));
  }

  void Collectd(net::Request& req, net::Response& resp) {
    auto r = Ingest("collectd_json", Tenant(req), [&](auto& opts, auto& sink, auto& report) {
      thread_local ingest::collectd_json::Parser parser;
      (void)parser.Parse(req.body, opts, sink, report);
    });
    CountHeaders(r, resp);
    if (r.HttpStatus() == 204) return resp.Text(200, "");
    resp.Text(r.HttpStatus(), r.Summary());
  }

  void Otlp(net::Request& req, net::Response& resp) {
    std::string_view ct = req.Header("content-type");
    bool json = StartsWith(ct, "application/json");
    if (!json && !StartsWith(ct, "application/x-protobuf") && !ct.empty()) {
      return resp.Text(415, "unsupported Content-Type \"" + std::string(ct) +
                                "\": OTLP/HTTP takes application/x-protobuf or application/json");
    }
    ingest::otlp_metrics::Options oo;
    oo.delta = &delta_;
    auto r = Ingest("otlp_metrics", Tenant(req), [&](auto& opts, auto& sink, auto& report) {
      thread_local ingest::otlp_metrics::Parser parser;
      if (json)
        (void)parser.ParseJson(req.body, oo, opts, sink, report);
      else
        (void)parser.ParseProto(req.body, oo, opts, sink, report);
    });
    int code = r.HttpStatus();
    // OTLP: partial success is 200 with partial_success filled; a bad body is 400; retryable 503.
    if (code == 400 && r.rows_accepted() > 0 && r.request_status().ok()) code = 200;
    if (code == 204) code = 200;
    CountHeaders(r, resp);
    resp.status = code;
    resp.content_type = json ? "application/json" : "application/x-protobuf";
    resp.body = ingest::otlp_metrics::EncodeExportResponse(r, json);
  }

  void Graphite(std::vector<net::Frame>& frames) {
    std::string body;
    for (const auto& f : frames) {
      body += f.data;
      body += '\n';
    }
    (void)Ingest("graphite", "listener:graphite", [&](auto& opts, auto& sink, auto& report) {
      thread_local ingest::graphite::Parser parser;
      parser.Parse(body, opts, sink, report);
    });
  }

 private:
  IngestApiOptions o_;
  metrics::Family<metrics::Counter>* accepted_;
  metrics::Family<metrics::Counter>* rejected_;
  ingest::otlp_metrics::DeltaAccumulator delta_;
  log::RateLimited bad_log_{10000};
  // Shared by the worker threads of every protocol (one copy of each series' labels; the raw
  // keys carry a per-protocol context).
  ingest::SeriesCache cache_;
};

std::shared_ptr<IngestApi> RegisterIngestApi(net::HttpServer& http, const IngestApiOptions& opts) {
  auto api = std::make_shared<IngestApi>(opts);
  auto add = [&](std::string method, std::string path, bool query_token,
                 std::function<void(net::Request&, net::Response&)> h) {
    net::Route r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.scope = net::kScopeIngest;
    r.allow_query_token = query_token;
    r.offload = true;
    r.max_body_bytes = opts.max_body_bytes;
    r.max_decoded_body_bytes = opts.max_decoded_body_bytes;
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  add("POST", "/api/v1/write", false, [api](auto& q, auto& r) { api->RemoteWrite(q, r); });
  add("POST", "/api/v1/import/prometheus", false,
      [api](auto& q, auto& r) { api->ImportPrometheus(q, r); });
  add("POST", "/write", true, [api](auto& q, auto& r) { api->Influx(q, r); });
  add("POST", "/api/v2/write", true, [api](auto& q, auto& r) { api->Influx(q, r); });
  add("POST", "/api/v1/import/collectd", false, [api](auto& q, auto& r) { api->Collectd(q, r); });
  add("POST", "/collectd", false, [api](auto& q, auto& r) { api->Collectd(q, r); });
  add("POST", "/v1/metrics", false, [api](auto& q, auto& r) { api->Otlp(q, r); });
  // influx clients ping before writing; InfluxDB answers 204 with its version, no auth.
  for (const char* m : {"GET", "HEAD"}) {
    net::Route ping;
    ping.method = m;
    ping.path = "/ping";
    ping.scope = net::kScopeNone;
    ping.handler = [](net::Request&, net::Response& resp) {
      resp.status = 204;
      resp.content_type.clear();
      resp.SetHeader("X-Influxdb-Version", "1.8.10");
      resp.SetHeader("X-Influxdb-Build", "kansoku");
    };
    http.AddRoute(std::move(ping));
  }
  return api;
}

InternalIngestResult IngestInternal(IngestApi& api, std::string_view protocol,
                                    std::string_view tenant,
                                    const std::function<void(ingest::RowSink&, int64_t)>& fill) {
  auto r =
      api.Ingest(protocol, tenant, [&](auto& opts, auto& sink, auto&) { fill(sink, opts.now_ms); });
  InternalIngestResult out;
  out.accepted = r.rows_accepted();
  out.rejected = r.rows_rejected();
  if (out.rejected > 0 || !r.request_status().ok()) out.summary = r.Summary();
  return out;
}

net::FrameSink MakeGraphiteSink(const std::shared_ptr<IngestApi>& api) {
  return [api](std::vector<net::Frame>& frames) { api->Graphite(frames); };
}

}  // namespace kansoku::api
