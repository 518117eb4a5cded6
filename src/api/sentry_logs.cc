#include "api/sentry_logs.h"

#include <simdjson.h>

#include <cmath>
#include <cstdio>

namespace kansoku::api {
namespace {

// Attribute value as text: {"value":x,"type":"string"} or a bare JSON value.
std::string ValueText(simdjson::dom::element v) {
  simdjson::dom::element inner;
  if (v.is_object() && v["value"].get(inner) == simdjson::SUCCESS) v = inner;
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) return std::string(s);
  int64_t i;
  if (v.get_int64().get(i) == simdjson::SUCCESS) return std::to_string(i);
  uint64_t u;
  if (v.get_uint64().get(u) == simdjson::SUCCESS) return std::to_string(u);
  double d;
  if (v.get_double().get(d) == simdjson::SUCCESS) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return buf;
  }
  bool b;
  if (v.get_bool().get(b) == simdjson::SUCCESS) return b ? "true" : "false";
  if (v.is_null()) return "";
  return simdjson::minify(v);
}

Status OneItem(simdjson::dom::element it, size_t index, const SentryLogContext& ctx,
               logs::LogBatch* out) {
  if (!it.is_object()) {
    return Status::InvalidArgument("log item " + std::to_string(index) + ": not a JSON object");
  }
  logs::LogRecord r;
  simdjson::dom::element body;
  if (it["body"].get(body) != simdjson::SUCCESS) {
    return Status::InvalidArgument("log item " + std::to_string(index) + ": no \"body\"");
  }
  r.msg = ValueText(body);
  double ts = 0;
  simdjson::dom::element tsv;
  if (it["timestamp"].get(tsv) == simdjson::SUCCESS) {
    if (tsv.get_double().get(ts) != simdjson::SUCCESS) {
      int64_t i = 0;
      if (tsv.get_int64().get(i) == simdjson::SUCCESS) ts = static_cast<double>(i);
    }
  }
  if (ts > 0 && std::isfinite(ts) && ts < 1e11) {
    // Whole seconds and the fraction apart: ts * 1e9 in a double loses the low digits.
    double sec = std::floor(ts);
    r.ts_ns = static_cast<int64_t>(sec) * 1000000000 + std::llround((ts - sec) * 1e9);
  } else {
    r.ts_ns = ctx.now_ns;
  }
  std::string_view level;
  if (it["level"].get_string().get(level) != simdjson::SUCCESS) level = "info";
  std::string service, host;
  std::string_view trace;
  if (it["trace_id"].get_string().get(trace) == simdjson::SUCCESS && !trace.empty()) {
    r.fields.push_back({"trace_id", std::string(trace)});
  }
  simdjson::dom::element sev;
  if (it["severity_number"].get(sev) == simdjson::SUCCESS) {
    r.fields.push_back({"severity_number", ValueText(sev)});
  }
  simdjson::dom::object attrs;
  if (it["attributes"].get_object().get(attrs) == simdjson::SUCCESS) {
    for (auto [k, v] : attrs) {
      std::string val = ValueText(v);
      if (k == "service.name") {
        service = val;
      } else if (k == "server.address") {
        host = val;
      } else if (k == "sentry.trace.parent_span_id") {
        r.fields.push_back({"span_id", val});
        continue;
      }
      r.fields.push_back({std::string(k), std::move(val)});
    }
  }
  r.fields.push_back({"sentry_project", std::to_string(ctx.project)});
  r.labels.push_back({"source", "sentry"});
  r.labels.push_back({"level", logs::NormalizeLevel(level)});
  r.labels.push_back({"service", service.empty() ? ctx.project_name : service});
  if (!host.empty()) r.labels.push_back({"host", host});
  out->push_back(std::move(r));
  return Status::Ok();
}

}  // namespace

Status SentryLogItemToRecords(std::string_view payload, const SentryLogContext& ctx,
                              logs::LogBatch* out) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(payload);
  simdjson::dom::element doc;
  auto err = parser.parse(padded).get(doc);
  if (err) {
    return Status::InvalidArgument(std::string("log item is not valid JSON: ") +
                                   simdjson::error_message(err));
  }
  simdjson::dom::array items;
  if (doc["items"].get_array().get(items) != simdjson::SUCCESS) {
    return OneItem(doc, 0, ctx, out);
  }
  size_t i = 0;
  for (auto it : items) {
    KANSOKU_RETURN_IF_ERROR(OneItem(it, i++, ctx, out));
  }
  return Status::Ok();
}

}  // namespace kansoku::api
