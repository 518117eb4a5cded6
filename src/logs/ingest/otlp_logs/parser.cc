#include "logs/ingest/otlp_logs/parser.h"

#include <simdjson.h>

#include <cstdio>
#include <cstring>

#include "ingest/common/protowire.h"

namespace kansoku::logs::ingest::otlp_logs {
namespace {

using kansoku::ingest::ProtoReader;
using kansoku::ingest::WireType;

std::string Hex(std::string_view b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

std::string LevelFromNumber(int64_t n) {
  if (n <= 0) return "";
  if (n <= 4) return "trace";
  if (n <= 8) return "debug";
  if (n <= 12) return "info";
  if (n <= 16) return "warn";
  if (n <= 20) return "error";
  return "fatal";
}

std::string FormatDouble(double d) {
  char b[64];
  snprintf(b, sizeof b, "%.17g", d);
  return b;
}

// Common accumulation of one record's parts.
struct Ctx {
  std::vector<KV> res_labels;
  std::vector<KV> res_fields;
  std::string scope;
};

void FinishRecord(const Ctx& c, LogRecord& r, const std::string& sev_text, int64_t sev_num) {
  r.labels = c.res_labels;
  std::string level = sev_text.empty() ? LevelFromNumber(sev_num) : sev_text;
  if (!level.empty()) r.labels.push_back(KV{"level", level});
  r.labels.push_back(KV{"source", "otlp"});
  for (const auto& f : c.res_fields) r.fields.push_back(f);
  if (!c.scope.empty()) r.fields.push_back(KV{"otel.scope.name", c.scope});
}

void ResourceAttr(Ctx* c, std::string key, std::string value) {
  if (key == "service.name")
    c->res_labels.push_back(KV{"service", std::move(value)});
  else if (key == "host.name")
    c->res_labels.push_back(KV{"host", std::move(value)});
  else
    c->res_fields.push_back(KV{std::move(key), std::move(value)});
}

// ---- protobuf ----

Status Fail(const ProtoReader& r, const char* where) {
  return Status::InvalidArgument(std::string("cannot parse ExportLogsServiceRequest: ") + where +
                                 ": " + (r.error().empty() ? "bad field" : r.error()) +
                                 " at offset " + std::to_string(r.offset()));
}

bool AnyValue(std::string_view b, std::string* out, int depth);

bool KeyValue(std::string_view b, std::string* key, std::string* value, int depth) {
  ProtoReader r(b);
  while (r.Next()) {
    std::string_view s;
    if (r.field() == 1 && r.Expect(WireType::kLen) && r.ReadBytes(&s)) {
      *key = std::string(s);
    } else if (r.field() == 2 && r.Expect(WireType::kLen) && r.ReadBytes(&s)) {
      if (!AnyValue(s, value, depth + 1)) return false;
    } else if (r.failed() || !r.Skip()) {
      return false;
    }
  }
  return !r.failed();
}

bool AnyValue(std::string_view b, std::string* out, int depth) {
  if (depth > 16) return false;
  ProtoReader r(b);
  while (r.Next()) {
    std::string_view s;
    uint64_t v;
    switch (r.field()) {
      case 1:
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s)) return false;
        *out = std::string(s);
        break;
      case 2:
        if (!r.Expect(WireType::kVarint) || !r.ReadVarint(&v)) return false;
        *out = v ? "true" : "false";
        break;
      case 3:
        if (!r.Expect(WireType::kVarint) || !r.ReadVarint(&v)) return false;
        *out = std::to_string(static_cast<int64_t>(v));
        break;
      case 4: {
        double d;
        if (!r.Expect(WireType::kFixed64) || !r.ReadDouble(&d)) return false;
        *out = FormatDouble(d);
        break;
      }
      case 5: {  // ArrayValue
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s)) return false;
        ProtoReader ar(s);
        std::string j = "[";
        while (ar.Next()) {
          std::string_view e;
          std::string ev;
          if (ar.field() != 1 || !ar.Expect(WireType::kLen) || !ar.ReadBytes(&e) ||
              !AnyValue(e, &ev, depth + 1)) {
            return false;
          }
          if (j.size() > 1) j += ',';
          j += '"' + ev + '"';
        }
        if (ar.failed()) return false;
        *out = j + "]";
        break;
      }
      case 6: {  // KeyValueList
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s)) return false;
        ProtoReader kr(s);
        std::string j = "{";
        while (kr.Next()) {
          std::string_view e;
          std::string k, val;
          if (kr.field() != 1 || !kr.Expect(WireType::kLen) || !kr.ReadBytes(&e) ||
              !KeyValue(e, &k, &val, depth + 1)) {
            return false;
          }
          if (j.size() > 1) j += ',';
          j += '"' + k + "\":\"" + val + '"';
        }
        if (kr.failed()) return false;
        *out = j + "}";
        break;
      }
      case 7:
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s)) return false;
        *out = Hex(s);
        break;
      default:
        if (!r.Skip()) return false;
    }
  }
  return !r.failed();
}

Status LogRecordProto(std::string_view b, const Ctx& c, LogRecord* r) {
  ProtoReader p(b);
  uint64_t t = 0, observed = 0, sev = 0;
  std::string sev_text;
  while (p.Next()) {
    std::string_view s;
    switch (p.field()) {
      case 1:
        if (!p.Expect(WireType::kFixed64) || !p.ReadFixed64(&t)) return Fail(p, "time_unix_nano");
        break;
      case 11:
        if (!p.Expect(WireType::kFixed64) || !p.ReadFixed64(&observed))
          return Fail(p, "observed_time_unix_nano");
        break;
      case 2:
        if (!p.Expect(WireType::kVarint) || !p.ReadVarint(&sev)) return Fail(p, "severity_number");
        break;
      case 3:
        if (!p.Expect(WireType::kLen) || !p.ReadBytes(&s)) return Fail(p, "severity_text");
        sev_text = std::string(s);
        break;
      case 5:
        if (!p.Expect(WireType::kLen) || !p.ReadBytes(&s) || !AnyValue(s, &r->msg, 0))
          return Fail(p, "body");
        break;
      case 6: {
        std::string k, v;
        if (!p.Expect(WireType::kLen) || !p.ReadBytes(&s) || !KeyValue(s, &k, &v, 0))
          return Fail(p, "attributes");
        r->fields.push_back(KV{std::move(k), std::move(v)});
        break;
      }
      case 9:
        if (!p.Expect(WireType::kLen) || !p.ReadBytes(&s)) return Fail(p, "trace_id");
        if (!s.empty()) r->fields.push_back(KV{"trace_id", Hex(s)});
        break;
      case 10:
        if (!p.Expect(WireType::kLen) || !p.ReadBytes(&s)) return Fail(p, "span_id");
        if (!s.empty()) r->fields.push_back(KV{"span_id", Hex(s)});
        break;
      case 12:
        if (!p.Expect(WireType::kLen) || !p.ReadBytes(&s)) return Fail(p, "event_name");
        if (!s.empty()) r->fields.push_back(KV{"event_name", std::string(s)});
        break;
      default:
        if (!p.Skip()) return Fail(p, "log_record");
    }
  }
  if (p.failed()) return Fail(p, "log_record");
  r->ts_ns = static_cast<int64_t>(t ? t : observed);
  FinishRecord(c, *r, sev_text, static_cast<int64_t>(sev));
  return Status::Ok();
}

// ---- JSON ----

std::string JsonAny(simdjson::dom::element v) {
  simdjson::dom::object o;
  if (v.get_object().get(o)) return simdjson::minify(v);
  for (auto [k, x] : o) {
    std::string_view s;
    if (k == "stringValue" && !x.get_string().get(s)) return std::string(s);
    if (k == "intValue") {
      if (!x.get_string().get(s)) return std::string(s);
      return simdjson::minify(x);
    }
    if (k == "boolValue" || k == "doubleValue") return simdjson::minify(x);
    if (k == "bytesValue" && !x.get_string().get(s)) return std::string(s);
    return simdjson::minify(x);
  }
  return "";
}

int64_t JsonNanos(simdjson::dom::element e) {
  std::string_view s;
  if (!e.get_string().get(s)) {
    int64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9' || v > 922337203685477580LL) return 0;
      v = v * 10 + (c - '0');
    }
    return v;
  }
  uint64_t u;
  if (!e.get_uint64().get(u)) return static_cast<int64_t>(u);
  double d;
  if (!e.get_double().get(d)) return static_cast<int64_t>(d);
  return 0;
}

void JsonAttrs(simdjson::dom::element parent, std::vector<KV>* out) {
  simdjson::dom::array attrs;
  if (parent["attributes"].get_array().get(attrs)) return;
  for (auto a : attrs) {
    std::string_view k;
    simdjson::dom::element v;
    if (a["key"].get_string().get(k)) continue;
    std::string val;
    if (!a["value"].get(v)) val = JsonAny(v);
    out->push_back(KV{std::string(k), std::move(val)});
  }
}

}  // namespace

Status ParseProto(std::string_view body, LogBatch* out, Report* report) {
  ProtoReader req(body);
  while (req.Next()) {
    std::string_view rl;
    if (req.field() != 1) {
      if (!req.Skip()) return Fail(req, "request");
      continue;
    }
    if (!req.Expect(WireType::kLen) || !req.ReadBytes(&rl)) return Fail(req, "resource_logs");
    Ctx c;
    std::vector<std::string_view> scopes;
    ProtoReader r(rl, req.OffsetOf(rl));
    while (r.Next()) {
      std::string_view s;
      if (r.field() == 1) {
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s)) return Fail(r, "resource");
        ProtoReader res(s, r.OffsetOf(s));
        while (res.Next()) {
          std::string_view kv;
          if (res.field() == 1 && res.Expect(WireType::kLen) && res.ReadBytes(&kv)) {
            std::string k, v;
            if (!KeyValue(kv, &k, &v, 0)) return Fail(res, "resource.attributes");
            ResourceAttr(&c, std::move(k), std::move(v));
          } else if (res.failed() || !res.Skip()) {
            return Fail(res, "resource");
          }
        }
        if (res.failed()) return Fail(res, "resource");
      } else if (r.field() == 2) {
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&s)) return Fail(r, "scope_logs");
        scopes.push_back(s);
      } else if (!r.Skip()) {
        return Fail(r, "resource_logs");
      }
    }
    if (r.failed()) return Fail(r, "resource_logs");
    for (std::string_view sl : scopes) {
      ProtoReader sr(sl, r.OffsetOf(sl));
      Ctx sc = c;
      std::vector<std::string_view> recs;
      while (sr.Next()) {
        std::string_view s;
        if (sr.field() == 1) {
          if (!sr.Expect(WireType::kLen) || !sr.ReadBytes(&s)) return Fail(sr, "scope");
          ProtoReader scope(s);
          while (scope.Next()) {
            std::string_view n;
            if (scope.field() == 1 && scope.Expect(WireType::kLen) && scope.ReadBytes(&n)) {
              sc.scope = std::string(n);
            } else if (scope.failed() || !scope.Skip()) {
              return Fail(scope, "scope");
            }
          }
        } else if (sr.field() == 2) {
          if (!sr.Expect(WireType::kLen) || !sr.ReadBytes(&s)) return Fail(sr, "log_records");
          recs.push_back(s);
        } else if (!sr.Skip()) {
          return Fail(sr, "scope_logs");
        }
      }
      if (sr.failed()) return Fail(sr, "scope_logs");
      for (std::string_view rec : recs) {
        LogRecord lr;
        KANSOKU_RETURN_IF_ERROR(LogRecordProto(rec, sc, &lr));
        out->push_back(std::move(lr));
        report->records++;
      }
    }
  }
  if (req.failed()) return Fail(req, "request");
  return Status::Ok();
}

Status ParseJson(std::string_view body, LogBatch* out, Report* report) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto err = parser.parse(body.data(), body.size()).get(root);
  if (err)
    return Status::InvalidArgument(std::string("cannot parse JSON: ") +
                                   simdjson::error_message(err));
  simdjson::dom::array rls;
  if (root["resourceLogs"].get_array().get(rls)) {
    if (root.is_object()) return Status::Ok();  // {} is a valid empty request
    return Status::InvalidArgument("expected {\"resourceLogs\":[...]}");
  }
  size_t ri = 0;
  for (auto rl : rls) {
    Ctx c;
    simdjson::dom::element res;
    if (!rl["resource"].get(res)) {
      std::vector<KV> attrs;
      JsonAttrs(res, &attrs);
      for (auto& a : attrs) ResourceAttr(&c, std::move(a.name), std::move(a.value));
    }
    simdjson::dom::array sls;
    if (rl["scopeLogs"].get_array().get(sls)) {
      ++ri;
      continue;
    }
    for (auto sl : sls) {
      Ctx sc = c;
      std::string_view sname;
      if (!sl["scope"]["name"].get_string().get(sname)) sc.scope = std::string(sname);
      simdjson::dom::array lrs;
      if (sl["logRecords"].get_array().get(lrs)) continue;
      size_t li = 0;
      for (auto lr : lrs) {
        if (!lr.is_object()) {
          return Status::InvalidArgument("resourceLogs[" + std::to_string(ri) +
                                         "].scopeLogs[].logRecords[" + std::to_string(li) +
                                         "]: expected an object");
        }
        LogRecord r;
        simdjson::dom::element e;
        int64_t t = 0, obs = 0, sev = 0;
        if (!lr["timeUnixNano"].get(e)) t = JsonNanos(e);
        if (!lr["observedTimeUnixNano"].get(e)) obs = JsonNanos(e);
        if (!lr["severityNumber"].get(e)) {
          int64_t v;
          if (!e.get_int64().get(v)) sev = v;
        }
        std::string_view s;
        std::string sev_text;
        if (!lr["severityText"].get_string().get(s)) sev_text = std::string(s);
        if (!lr["body"].get(e)) r.msg = JsonAny(e);
        JsonAttrs(lr, &r.fields);
        if (!lr["traceId"].get_string().get(s) && !s.empty())
          r.fields.push_back(KV{"trace_id", std::string(s)});
        if (!lr["spanId"].get_string().get(s) && !s.empty())
          r.fields.push_back(KV{"span_id", std::string(s)});
        if (!lr["eventName"].get_string().get(s) && !s.empty())
          r.fields.push_back(KV{"event_name", std::string(s)});
        r.ts_ns = t ? t : obs;
        FinishRecord(sc, r, sev_text, sev);
        out->push_back(std::move(r));
        report->records++;
        ++li;
      }
    }
    ++ri;
  }
  return Status::Ok();
}

int FuzzOtlpLogsProto(const uint8_t* data, size_t size) {
  LogBatch b;
  Report r;
  (void)ParseProto(std::string_view(reinterpret_cast<const char*>(data), size), &b, &r);
  return 0;
}
int FuzzOtlpLogsJson(const uint8_t* data, size_t size) {
  LogBatch b;
  Report r;
  (void)ParseJson(std::string_view(reinterpret_cast<const char*>(data), size), &b, &r);
  return 0;
}

}  // namespace kansoku::logs::ingest::otlp_logs
