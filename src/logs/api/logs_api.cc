#include "logs/api/logs_api.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "base/log.h"
#include "base/metrics.h"
#include "logs/ingest/es_bulk/parser.h"
#include "logs/ingest/jsonline/parser.h"
#include "logs/ingest/loki/parser.h"
#include "logs/ingest/otlp_logs/parser.h"
#include "logs/ingest/syslog/parser.h"
#include "logs/query/engine.h"
#include "logs/query/parser.h"
#include "logs/store.h"
#include "logs/wal.h"
#include "net/decode.h"
#include "net/http.h"
#include "net/http_server.h"
#include "usage/guard.h"

namespace kansoku::logs::api {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 3339, Unix seconds / ms / ns (by magnitude), "now", "now-1h".
bool ParseTimeParam(const std::string& s, int64_t now, int64_t* ns) {
  if (s == "now") {
    *ns = now;
    return true;
  }
  if (s.rfind("now-", 0) == 0) {
    int64_t d;
    if (!query::ParseDurationNs(s.substr(4), &d)) return false;
    *ns = now - d;
    return true;
  }
  if (ParseRfc3339Nanos(s, ns)) return true;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0') return false;
  if (s.find('.') == std::string::npos && s.size() >= 18) {
    *ns = std::strtoll(s.c_str(), nullptr, 10);  // exact integer ns
    return true;
  }
  *ns = ingest::jsonline::NumberToNanos(d);
  return true;
}

void RowJson(std::string& j, const query::OutRow& r, const std::vector<std::string>& only) {
  auto want = [&](std::string_view name) {
    return only.empty() || std::find(only.begin(), only.end(), name) != only.end();
  };
  j += '{';
  bool first = true;
  auto kv = [&](std::string_view k, std::string_view v) {
    if (!want(k)) return;
    if (!first) j += ',';
    first = false;
    j += '"';
    net::AppendJsonEscaped(j, k);
    j += "\":\"";
    net::AppendJsonEscaped(j, v);
    j += '"';
  };
  kv("_time", FormatRfc3339Nanos(r.ts_ns));
  kv("_time_ns", std::to_string(r.ts_ns));
  kv("_stream", StreamKey(r.labels));
  kv("_msg", r.msg);
  for (const auto& l : r.labels) kv(l.name, l.value);
  for (const auto& f : r.fields) kv(f.name, f.value);
  j += '}';
}

}  // namespace

class LogsApi {
 public:
  explicit LogsApi(const LogsApiOptions& o) : o_(o) {
    accepted_ = &o.metrics->Counter("kansoku_rows_accepted_total",
                                    "Rows (samples, events, log lines) accepted, by protocol.",
                                    {"protocol"});
    rejected_ =
        &o.metrics->Counter("kansoku_rows_rejected_total", "Rows rejected, by protocol and reason.",
                            {"protocol", "reason"});
    flagged_ = &o.metrics->Counter("kansoku_logs_records_flagged_total",
                                   "Log records stored with a parse-error flag (raw line kept).",
                                   {"protocol"});
    joiner_ = std::make_unique<ingest::syslog::MultilineJoiner>([this](LogBatch&& b) {
      if (o_.on_listener_batch) o_.on_listener_batch(b);
      size_t n = b.size();
      Status st = o_.store->Append(std::move(b));
      if (!st.ok()) Dropped("syslog", n, st);
    });
    joiner_thread_ = std::thread([this] {
      std::unique_lock<std::mutex> l(mu_);
      while (!stop_) {
        cv_.wait_for(l, std::chrono::milliseconds(100));
        l.unlock();
        joiner_->Flush(std::chrono::milliseconds(300));
        l.lock();
      }
    });
  }
  ~LogsApi() { StopSinks(); }

  void StopSinks() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) return;
      stop_ = true;
    }
    cv_.notify_all();
    if (joiner_thread_.joinable()) joiner_thread_.join();
    joiner_->Flush(std::chrono::milliseconds(0));
  }

  // ---- ingest ----

  // The usage guard's view of a batch: records and bytes (message + fields) per stream, against
  // the tenant's max_log_bytes_per_second. OK when there is no guard.
  Status Admit(std::string_view tenant, const char* proto, const LogBatch& batch,
               int* retry_after_s) {
    *retry_after_s = 0;
    if (o_.guard == nullptr || batch.empty()) return Status::Ok();
    // Streams of the batch by a hash of the labels as sent (order included): the sorted key is
    // built once per distinct label list, not once per record.
    struct Group {
      const std::vector<KV>* labels;
      size_t item;
    };
    std::vector<std::string> keys;
    std::vector<std::pair<uint64_t, uint64_t>> sums;  // records, bytes
    std::unordered_multimap<uint64_t, Group> groups;
    std::unordered_map<std::string, size_t> index;  // sorted key -> item
    const std::vector<KV>* prev = nullptr;
    size_t cur = 0;
    for (const auto& r : batch) {
      if (prev == nullptr || *prev != r.labels) {  // consecutive records often share a stream
        uint64_t h = 0x9E3779B97F4A7C15ULL;
        for (const auto& kv : r.labels) {
          h = XXH3_64bits_withSeed(kv.name.data(), kv.name.size(), h);
          h = XXH3_64bits_withSeed(kv.value.data(), kv.value.size(), h ^ 0x5bd1e9955bd1e995ULL);
        }
        bool found = false;
        auto [lo, hi] = groups.equal_range(h);
        for (auto it = lo; it != hi; ++it) {
          if (*it->second.labels == r.labels) {
            cur = it->second.item;
            found = true;
            break;
          }
        }
        if (!found) {
          std::vector<KV> sorted = r.labels;
          std::sort(sorted.begin(), sorted.end());
          std::string key = StreamKey(sorted);
          auto [it, inserted] = index.try_emplace(std::move(key), keys.size());
          if (inserted) {
            keys.push_back(it->first);
            sums.emplace_back(0, 0);
          }
          cur = it->second;
          groups.emplace(h, Group{&r.labels, cur});
        }
        prev = &r.labels;
      }
      uint64_t bytes = r.msg.size();
      for (const auto& f : r.fields) bytes += f.name.size() + f.value.size();
      ++sums[cur].first;
      sums[cur].second += bytes;
    }
    std::vector<usage::VolumeItem> items;
    items.reserve(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      items.push_back({"log_stream", keys[i], sums[i].first, sums[i].second});
    }
    return o_.guard->AdmitVolume(usage::Signal::kLogBytes, tenant, proto, items, retry_after_s);
  }
  // Admit for a batch a BatchBuilder encoded: the same items, from its per label list counts.
  Status Admit(std::string_view tenant, const char* proto, const BatchBuilder& b,
               int* retry_after_s) {
    *retry_after_s = 0;
    if (o_.guard == nullptr || b.records() == 0) return Status::Ok();
    std::vector<usage::VolumeItem> items;
    std::unordered_map<std::string, size_t> index;  // sorted key -> item
    for (const auto& s : b.sent_streams()) {
      std::vector<KV> sorted = s.labels;
      std::sort(sorted.begin(), sorted.end());
      auto [it, inserted] = index.try_emplace(StreamKey(sorted), items.size());
      if (inserted) items.push_back({"log_stream", it->first, 0, 0});
      items[it->second].count += s.records;
      items[it->second].bytes += s.bytes;
    }
    return o_.guard->AdmitVolume(usage::Signal::kLogBytes, tenant, proto, items, retry_after_s);
  }

  static std::string_view TenantOf(const net::Request& req) {
    return req.principal.token_name.empty() ? std::string_view("anonymous")
                                            : std::string_view(req.principal.token_name);
  }

  // Admits (usage guard), appends, counts and answers the error if any. True when stored.
  bool Store(const char* proto, std::string_view tenant, LogBatch&& batch,
             const ingest::Report& rep, net::Response& resp) {
    size_t n = batch.size();
    int retry_after_s = 0;
    Status admit = Admit(tenant, proto, batch, &retry_after_s);
    if (!admit.ok()) {
      rejected_->With({proto, "limit"})->Inc(static_cast<double>(n));
      resp.SetHeader("Retry-After", std::to_string(retry_after_s));
      resp.Error(429, admit.message());
      return false;
    }
    Status st = o_.store->Append(std::move(batch));
    if (!st.ok()) {
      Dropped(proto, n, st);
      resp.SetHeader("Retry-After", "1");
      resp.Error(st.code() == Status::Code::kUnavailable ? 503 : 500,
                 "cannot store log records: " + st.message());
      return false;
    }
    Count(proto, n, rep);
    return true;
  }
  void Count(const char* proto, size_t n, const ingest::Report& rep) {
    accepted_->With({proto})->Inc(static_cast<double>(n));
    if (rep.flagged) flagged_->With({proto})->Inc(static_cast<double>(rep.flagged));
    if (rep.rejected) rejected_->With({proto, "invalid"})->Inc(static_cast<double>(rep.rejected));
    if ((rep.flagged || rep.rejected) && bad_log_.Allow()) {
      log::Warn("log input partly unparsable",
                {{"protocol", proto},
                 {"errors", rep.Summary()},
                 {"suppressed", static_cast<unsigned long long>(bad_log_.TakeSuppressed())}});
    }
  }
  void Dropped(const char* proto, size_t n, const Status& st) {
    rejected_->With({proto, "storage"})->Inc(static_cast<double>(n));
    if (store_log_.Allow()) {
      log::Error("log records not stored", {{"protocol", proto}, {"error", st.message()}});
    }
  }
  static std::string Answer(const ingest::Report& rep) {
    std::string j = "{\"status\":\"success\",\"data\":{\"records\":" + std::to_string(rep.records) +
                    ",\"flagged\":" + std::to_string(rep.flagged) +
                    ",\"rejected\":" + std::to_string(rep.rejected);
    if (!rep.errors.empty()) j += ",\"errors\":" + net::JsonString(rep.Summary());
    return j + "}}";
  }

  void JsonLines(net::Request& req, net::Response& resp) {
    ingest::jsonline::Options jo;
    jo.extra_labels = {{"source", "jsonline"}};
    std::string v;
    auto list = [](const std::string& s) {
      std::vector<std::string> out;
      size_t p = 0;
      while (p <= s.size()) {
        size_t c = s.find(',', p);
        if (c == std::string::npos) c = s.size();
        if (c > p) out.push_back(s.substr(p, c - p));
        p = c + 1;
      }
      return out;
    };
    if (req.QueryParam("_stream_fields", &v)) jo.stream_fields = list(v);
    if (req.QueryParam("_msg_field", &v)) jo.msg_fields = list(v);
    if (req.QueryParam("_time_field", &v)) jo.time_fields = list(v);
    ingest::Report rep;
    thread_local ingest::jsonline::Parser parser;
    // Lines are decoded straight into the store's encoding (no LogRecords): the payload is
    // written as the lines are parsed, each value copied once from the JSON. Sized for about
    // the body (JSON keys and quotes are not kept; a payload that outgrows it is moved once).
    thread_local BatchBuilder builder;
    o_.store->StartBatch(&builder, req.body.size() + req.body.size() / 4 + 4096);
    parser.ParseLinesInto(req.body, jo, &builder, &rep);
    const char* proto = "jsonline";
    const size_t n = builder.records();
    int retry_after_s = 0;
    Status admit = Admit(TenantOf(req), proto, builder, &retry_after_s);
    EncodedBatch batch = builder.Finish();
    if (!admit.ok()) {
      rejected_->With({proto, "limit"})->Inc(static_cast<double>(n));
      resp.SetHeader("Retry-After", std::to_string(retry_after_s));
      return resp.Error(429, admit.message());
    }
    Status st = o_.store->AppendEncoded(std::move(batch));
    if (!st.ok()) {
      Dropped(proto, n, st);
      resp.SetHeader("Retry-After", "1");
      return resp.Error(st.code() == Status::Code::kUnavailable ? 503 : 500,
                        "cannot store log records: " + st.message());
    }
    Count(proto, n, rep);
    resp.Json(200, Answer(rep));
  }

  void Loki(net::Request& req, net::Response& resp) {
    LogBatch batch;
    ingest::Report rep;
    std::string_view ct = req.Header("content-type");
    Status st;
    if (ct.find("json") != std::string_view::npos) {
      st = ingest::loki::ParseJson(req.body, &batch, &rep);
    } else {
      // Promtail/Alloy send snappy-compressed protobuf without Content-Encoding.
      std::string raw;
      std::string_view body = req.body;
      if (req.Header("content-encoding").empty()) {
        auto d = net::DecodeContent("snappy", req.body, o_.max_decoded_body_bytes);
        if (!d.ok()) {
          rejected_->With({"loki", "invalid"})->Inc();
          return resp.Error(400, "cannot decode snappy body: " + d.status().message());
        }
        raw = std::move(d).value();
        body = raw;
      }
      st = ingest::loki::ParseProto(body, &batch, &rep);
    }
    if (!st.ok()) {
      rejected_->With({"loki", "invalid"})->Inc();
      return resp.Error(400, st.message());
    }
    if (!Store("loki", TenantOf(req), std::move(batch), rep, resp)) return;
    resp.status = 204;
    resp.content_type.clear();
  }

  void Bulk(net::Request& req, net::Response& resp) {
    auto start = std::chrono::steady_clock::now();
    LogBatch batch;
    std::vector<ingest::es_bulk::Item> items;
    ingest::Report rep;
    thread_local ingest::es_bulk::Parser parser;
    std::string index = "logs";
    if (req.path.size() > 7 && req.path.compare(req.path.size() - 6, 6, "/_bulk") == 0) {
      // /<index>/_bulk
      std::string p = req.path.substr(0, req.path.size() - 6);
      size_t slash = p.rfind('/');
      std::string last = p.substr(slash + 1);
      if (!last.empty() && last != "elasticsearch") index = last;
    }
    parser.Parse(req.body, index, &batch, &items, &rep);
    if (!Store("elasticsearch", TenantOf(req), std::move(batch), rep, resp)) return;
    int64_t took = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count();
    resp.Json(200, ingest::es_bulk::Parser::Response(items, took));
  }

  void Otlp(net::Request& req, net::Response& resp) {
    LogBatch batch;
    ingest::Report rep;
    bool json = req.Header("content-type").find("json") != std::string_view::npos;
    Status st = json ? ingest::otlp_logs::ParseJson(req.body, &batch, &rep)
                     : ingest::otlp_logs::ParseProto(req.body, &batch, &rep);
    if (!st.ok()) {
      rejected_->With({"otlp", "invalid"})->Inc();
      return resp.Error(400, st.message());
    }
    if (!Store("otlp", TenantOf(req), std::move(batch), rep, resp)) return;
    if (json) {
      resp.Json(200, "{}");
    } else {
      resp.status = 200;
      resp.content_type = "application/x-protobuf";
      resp.body.clear();
    }
  }

  void SyslogFrames(std::vector<net::Frame>& frames) {
    LogBatch batch;
    batch.reserve(frames.size());
    ingest::syslog::Options so;
    so.now_ns = NowNs();
    ingest::Report rep;
    for (auto& f : frames) {
      so.peer = f.peer;
      LogRecord r;
      if (!ingest::syslog::Parse(f.data, so, &r)) {
        rep.flagged++;
        rep.Error(std::string(r.Field("_parse_error")));
      }
      rep.records++;
      batch.push_back(std::move(r));
    }
    Count("syslog", 0, rep);
    int retry_after_s = 0;
    if (!Admit("listener:syslog", "syslog", batch, &retry_after_s).ok()) {
      rejected_->With({"syslog", "limit"})->Inc(static_cast<double>(batch.size()));
      return;
    }
    accepted_->With({"syslog"})->Inc(static_cast<double>(batch.size()));
    joiner_->Add(std::move(batch));
  }

  void JsonFrames(std::vector<net::Frame>& frames) {
    LogBatch batch;
    ingest::Report rep;
    ingest::jsonline::Options jo;
    jo.extra_labels = {{"source", "json_tcp"}};
    thread_local ingest::jsonline::Parser parser;
    for (auto& f : frames) {
      LogRecord r;
      std::string why;
      if (!parser.ParseObject(f.data, jo, &r, &why)) {
        rep.flagged++;
        rep.Error(why);
      }
      rep.records++;
      batch.push_back(std::move(r));
    }
    if (o_.on_listener_batch) o_.on_listener_batch(batch);
    size_t n = batch.size();
    int retry_after_s = 0;
    if (!Admit("listener:json_tcp", "json_tcp", batch, &retry_after_s).ok()) {
      rejected_->With({"json_tcp", "limit"})->Inc(static_cast<double>(n));
      return;
    }
    Status st = o_.store->Append(std::move(batch));
    if (!st.ok()) return Dropped("json_tcp", n, st);
    Count("json_tcp", n, rep);
  }

  // ---- query ----

  bool Times(net::Request& req, net::Response& resp, int64_t now, int64_t* start, int64_t* end) {
    std::string v;
    *start = INT64_MIN;
    *end = INT64_MAX;
    if (req.FormParam("start", &v) && !v.empty() && !ParseTimeParam(v, now, start)) {
      resp.Error(400, "cannot parse start \"" + v + "\": expected RFC 3339, Unix time or now-1h");
      return false;
    }
    if (req.FormParam("end", &v) && !v.empty() && !ParseTimeParam(v, now, end)) {
      resp.Error(400, "cannot parse end \"" + v + "\": expected RFC 3339, Unix time or now-1h");
      return false;
    }
    return true;
  }
  bool ParseQ(net::Request& req, net::Response& resp, query::Query* q) {
    std::string text;
    if (!req.FormParam("query", &text)) text = "*";
    auto p = query::ParseLogQuery(text);
    if (!p.ok()) {
      resp.Error(400, p.status().message());
      return false;
    }
    *q = std::move(p).value();
    return true;
  }
  static int Code(const Status& st) {
    switch (st.code()) {
      case Status::Code::kInvalidArgument:
        return 400;
      case Status::Code::kResourceExhausted:
        return 422;
      case Status::Code::kUnavailable:
        return 503;
      default:
        return 500;
    }
  }

  void Query(net::Request& req, net::Response& resp) {
    int64_t now = NowNs();
    query::Query q;
    if (!ParseQ(req, resp, &q)) return;
    query::ExecOptions eo;
    eo.now_ns = now;
    if (!Times(req, resp, now, &eo.start_ns, &eo.end_ns)) return;
    std::string v;
    if (req.FormParam("limit", &v)) {
      char* end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 1 || n > 100000) {
        return resp.Error(400, "limit must be an integer in [1, 100000]");
      }
      eo.limit = static_cast<size_t>(n);
    }
    req.FormParam("cursor", &eo.cursor);
    eo.max_rows = o_.max_query_rows;
    auto t0 = std::chrono::steady_clock::now();
    auto r = query::Execute(*o_.store, q, eo);
    if (!r.ok()) return resp.Error(Code(r.status()), r.status().message());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string j = "{\"status\":\"success\",\"data\":{";
    if (r->is_table) {
      j += "\"type\":\"table\",\"columns\":[";
      for (size_t i = 0; i < r->columns.size(); ++i)
        j += (i ? "," : "") + net::JsonString(r->columns[i]);
      j += "],\"rows\":[";
      for (size_t i = 0; i < r->table.size(); ++i) {
        j += i ? ",[" : "[";
        for (size_t k = 0; k < r->table[i].size(); ++k)
          j += (k ? "," : "") + net::JsonString(r->table[i][k]);
        j += ']';
      }
      j += ']';
    } else {
      j += "\"type\":\"rows\",\"rows\":[";
      for (size_t i = 0; i < r->rows.size(); ++i) {
        if (i) j += ',';
        RowJson(j, r->rows[i], r->projected);
      }
      j += "],\"next_cursor\":" + net::JsonString(r->next_cursor);
    }
    j += ",\"stats\":{\"rows_examined\":" + std::to_string(r->rows_examined) +
         ",\"seconds\":" + std::to_string(secs) + "}}}";
    resp.Json(200, std::move(j));
  }

  void Hits(net::Request& req, net::Response& resp) {
    int64_t now = NowNs();
    query::Query q;
    if (!ParseQ(req, resp, &q)) return;
    int64_t start, end;
    if (!Times(req, resp, now, &start, &end)) return;
    if (end == INT64_MAX) end = now;
    if (start == INT64_MIN) start = end - 3600LL * 1000000000LL;
    std::string v;
    int64_t step = 0;
    if (req.FormParam("step", &v) && !query::ParseDurationNs(v, &step)) {
      return resp.Error(400, "cannot parse step \"" + v + "\": expected a duration such as 1m");
    }
    if (step <= 0) step = std::max<int64_t>(1000000000LL, (end - start) / 60);
    auto h = query::Hits(*o_.store, q, now, start, end, step);
    if (!h.ok()) return resp.Error(Code(h.status()), h.status().message());
    std::string j = "{\"status\":\"success\",\"data\":{\"step_ns\":\"" + std::to_string(step) +
                    "\",\"buckets\":[";
    uint64_t total = 0;
    for (size_t i = 0; i < h->size(); ++i) {
      const auto& b = (*h)[i];
      total += b.count;
      j += (i ? ",{" : "{") + std::string("\"_time\":\"") + FormatRfc3339Nanos(b.ts_ns) +
           "\",\"_time_ns\":\"" + std::to_string(b.ts_ns) +
           "\",\"hits\":" + std::to_string(b.count) + "}";
    }
    j += "],\"total\":" + std::to_string(total) + "}}";
    resp.Json(200, std::move(j));
  }

  void Context(net::Request& req, net::Response& resp) {
    std::string stream, ts_s, v;
    if (!req.FormParam("stream", &stream) || !req.FormParam("ts", &ts_s)) {
      return resp.Error(400, "context needs stream={...} (a row's _stream) and ts (its _time_ns)");
    }
    std::vector<KV> labels;
    Status st = ingest::loki::ParseLabels(stream, &labels);
    if (!st.ok()) return resp.Error(400, "cannot parse stream: " + st.message());
    int64_t ts;
    if (!ParseTimeParam(ts_s, NowNs(), &ts))
      return resp.Error(400, "cannot parse ts \"" + ts_s + "\"");
    size_t before = 10, after = 10;
    if (req.FormParam("before", &v))
      before = std::min<size_t>(std::strtoull(v.c_str(), nullptr, 10), 1000);
    if (req.FormParam("after", &v))
      after = std::min<size_t>(std::strtoull(v.c_str(), nullptr, 10), 1000);
    auto rows = query::Context(*o_.store, labels, ts, before, after);
    if (!rows.ok()) return resp.Error(Code(rows.status()), rows.status().message());
    std::string j = "{\"status\":\"success\",\"data\":{\"rows\":[";
    for (size_t i = 0; i < rows->size(); ++i) {
      if (i) j += ',';
      RowJson(j, (*rows)[i], {});
    }
    resp.Json(200, j + "]}}");
  }

  // Live tail as server-sent events. Each request waits up to `wait` (default 1 s, at most
  // max_tail_wait_ms) for matching rows appended after the cursor (Last-Event-ID header or
  // `after`; none = from now), sends them as `event: log` and ends with `id: <cursor>` and
  // `retry: 0`, so an EventSource reconnects at once and continues from that cursor.
  void Tail(net::Request& req, net::Response& resp) {
    query::Query q;
    if (!ParseQ(req, resp, &q)) return;
    std::string v;
    uint64_t after = 0;
    bool have = false;
    std::string_view last_id = req.Header("last-event-id");
    if (!last_id.empty()) {
      v = std::string(last_id);
      have = true;
    } else if (req.FormParam("after", &v) && !v.empty()) {
      have = true;
    }
    if (have) {
      char* end = nullptr;
      after = std::strtoull(v.c_str(), &end, 10);
      if (*end) return resp.Error(400, "cannot parse cursor \"" + v + "\"");
    } else {
      after = o_.store->LastSeq();
    }
    int64_t wait_ms = 1000;
    if (req.FormParam("wait", &v)) {
      int64_t w;
      if (!query::ParseDurationNs(v, &w)) return resp.Error(400, "cannot parse wait \"" + v + "\"");
      wait_ms = w / 1000000;
    }
    wait_ms = std::clamp<int64_t>(wait_ms, 0, o_.max_tail_wait_ms);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    std::vector<query::OutRow> rows;
    uint64_t cursor = after;
    for (;;) {
      auto r = query::Tail(*o_.store, q, NowNs(), cursor, 10000, &cursor);
      if (!r.ok()) return resp.Error(Code(r.status()), r.status().message());
      rows = std::move(r).value();
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (!rows.empty() || left <= 0) break;
      o_.store->WaitForAppend(cursor, left);
    }
    std::string body = "retry: 0\n\n";
    for (const auto& row : rows) {
      body += "event: log\ndata: ";
      RowJson(body, row, {});
      body += "\n\n";
    }
    body += "id: " + std::to_string(cursor) + "\n\n";
    resp.status = 200;
    resp.content_type = "text/event-stream";
    resp.SetHeader("Cache-Control", "no-cache");
    resp.body = std::move(body);
  }

  const LogsApiOptions& options() const { return o_; }

 private:
  LogsApiOptions o_;
  metrics::Family<metrics::Counter>* accepted_;
  metrics::Family<metrics::Counter>* rejected_;
  metrics::Family<metrics::Counter>* flagged_;
  log::RateLimited bad_log_{10000};
  log::RateLimited store_log_{10000};
  std::unique_ptr<ingest::syslog::MultilineJoiner> joiner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread joiner_thread_;
};

std::shared_ptr<LogsApi> RegisterLogsApi(net::HttpServer& http, const LogsApiOptions& opts) {
  auto api = std::make_shared<LogsApi>(opts);
  auto add = [&](const char* method, std::string path, net::Scope scope,
                 std::function<void(net::Request&, net::Response&)> h, bool prefix = false) {
    net::Route r;
    r.method = method;
    r.path = std::move(path);
    r.scope = scope;
    r.prefix = prefix;
    r.offload = true;
    if (scope == net::kScopeIngest) {
      r.max_body_bytes = opts.max_body_bytes;
      r.max_decoded_body_bytes = opts.max_decoded_body_bytes;
    }
    r.handler = std::move(h);
    http.AddRoute(std::move(r));
  };
  using net::kScopeIngest;
  using net::kScopeRead;
  for (const char* p : {"/insert/jsonline", "/api/v1/logs/jsonline"}) {
    add("POST", p, kScopeIngest, [api](auto& q, auto& r) { api->JsonLines(q, r); });
  }
  add("POST", "/loki/api/v1/push", kScopeIngest, [api](auto& q, auto& r) { api->Loki(q, r); });
  add("POST", "/_bulk", kScopeIngest, [api](auto& q, auto& r) { api->Bulk(q, r); });
  add(
      "POST", "/insert/elasticsearch/", kScopeIngest,
      [api](auto& q, auto& r) {
        if (q.path.size() < 6 || q.path.compare(q.path.size() - 6, 6, "/_bulk") != 0) {
          return r.Error(404, "only .../_bulk is supported under /insert/elasticsearch/");
        }
        api->Bulk(q, r);
      },
      /*prefix=*/true);
  add("GET", "/insert/elasticsearch/", kScopeIngest, [](auto&, auto& r) {
    r.Json(200,
           "{\"name\":\"kansoku\",\"cluster_name\":\"kansoku\",\"version\":{\"number\":\"8.9.0\","
           "\"build_flavor\":\"default\"},\"tagline\":\"You Know, for Search\"}");
  });
  add("POST", "/v1/logs", kScopeIngest, [api](auto& q, auto& r) { api->Otlp(q, r); });
  for (const char* m : {"GET", "POST"}) {
    add(m, "/api/v1/logs/query", kScopeRead, [api](auto& q, auto& r) { api->Query(q, r); });
    add(m, "/api/v1/logs/hits", kScopeRead, [api](auto& q, auto& r) { api->Hits(q, r); });
    add(m, "/api/v1/logs/context", kScopeRead, [api](auto& q, auto& r) { api->Context(q, r); });
  }
  {
    net::Route r;
    r.method = "GET";
    r.path = "/api/v1/logs/tail";
    r.scope = kScopeRead;
    r.allow_query_token = true;  // EventSource cannot send an Authorization header
    r.offload = true;
    r.handler = [api](auto& q, auto& resp) { api->Tail(q, resp); };
    http.AddRoute(std::move(r));
  }
  return api;
}

net::FrameSink MakeSyslogSink(const std::shared_ptr<LogsApi>& api) {
  return [api](std::vector<net::Frame>& frames) { api->SyslogFrames(frames); };
}

net::FrameSink MakeJsonLinesSink(const std::shared_ptr<LogsApi>& api) {
  return [api](std::vector<net::Frame>& frames) { api->JsonFrames(frames); };
}

void StopSinks(const std::shared_ptr<LogsApi>& api) { api->StopSinks(); }

}  // namespace kansoku::logs::api
