// OTLP/JSON front-end (simdjson DOM). See parser.h for the mapping; this file only reads JSON.
// OTLP/JSON: lowerCamelCase keys, int64 as strings (numbers accepted too, as the JS exporter
// sends for counts), enums as integers (names accepted too).
#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <string>

#include "ingest/otlp_metrics/internal.h"

namespace kansoku::ingest::otlp_metrics::internal {

namespace {

using simdjson::SUCCESS;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

// Reads an int64 given as a JSON number or a decimal string.
bool GetInt64(element e, int64_t* out) {
  switch (e.type()) {
    case element_type::INT64:
      return e.get_int64().get(*out) == SUCCESS;
    case element_type::UINT64: {
      uint64_t u;
      if (e.get_uint64().get(u) != SUCCESS) return false;
      *out = static_cast<int64_t>(u);
      return true;
    }
    case element_type::DOUBLE: {
      double d;
      if (e.get_double().get(d) != SUCCESS || d != std::floor(d) || std::fabs(d) > 9.2e18) {
        return false;
      }
      *out = static_cast<int64_t>(d);
      return true;
    }
    case element_type::STRING: {
      std::string_view s;
      return e.get_string().get(s) == SUCCESS && ParseInt64(s, out);
    }
    default:
      return false;
  }
}

bool GetUint64(element e, uint64_t* out) {
  if (e.type() == element_type::UINT64) return e.get_uint64().get(*out) == SUCCESS;
  if (e.type() == element_type::STRING) {
    std::string_view s;
    if (e.get_string().get(s) != SUCCESS || s.empty() || s[0] == '-') return false;
    auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
  int64_t v;
  if (!GetInt64(e, &v) || v < 0) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

// A double given as a number or a string ("NaN", "Infinity", "-Infinity", "1.5").
bool GetDouble(element e, double* out) {
  if (e.is_number()) return e.get_double().get(*out) == SUCCESS;
  std::string_view s;
  return e.get_string().get(s) == SUCCESS && ParseFloat(s, out);
}

class Frontend : public JsonFrontend {
 public:
  Status Parse(std::string_view body, Emitter& e, DecodeReport& report) override {
    (void)report;
    e_ = &e;
    element doc;
    auto err = parser_.parse(body.data(), body.size(), true).get(doc);
    if (err != SUCCESS) return Fail(std::string("invalid JSON: ") + simdjson::error_message(err));
    object root;
    if (doc.get_object().get(root) != SUCCESS) return Fail("want an object at the top level");
    element rms;
    if (root["resourceMetrics"].get(rms) != SUCCESS) return Status::Ok();  // empty request
    array rm_arr;
    if (rms.get_array().get(rm_arr) != SUCCESS) return Fail("resourceMetrics: want an array");
    size_t i = 0;
    for (element rm : rm_arr) {
      Status st = ResourceMetrics(rm, "resourceMetrics[" + std::to_string(i++) + "]");
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

 private:
  static Status Fail(const std::string& why) {
    return Status::InvalidArgument("cannot parse OTLP metrics JSON: " + why);
  }

  // Optional array member: absent -> empty; present but not an array -> error.
  bool OptArray(object o, const char* key, array* out, bool* present) {
    element el;
    *present = o[key].get(el) == SUCCESS;
    if (!*present) return true;
    return el.get_array().get(*out) == SUCCESS;
  }

  // attributes: [{"key": "...", "value": {"stringValue": ...}}]
  bool Attrs(object o, std::vector<Attr>& out, std::string* why) {
    array arr;
    bool present;
    if (!OptArray(o, "attributes", &arr, &present)) {
      *why = "attributes: want an array";
      return false;
    }
    if (!present) return true;
    StringArena& arena = e_->arena();
    for (element kv : arr) {
      object kvo;
      std::string_view key;
      if (kv.get_object().get(kvo) != SUCCESS || kvo["key"].get_string().get(key) != SUCCESS) {
        *why = "attributes: want objects with a string \"key\"";
        return false;
      }
      Attr a{key, {}};
      object v;
      if (kvo["value"].get_object().get(v) == SUCCESS) {
        element x;
        std::string_view s;
        if (v["stringValue"].get(x) == SUCCESS) {
          if (x.get_string().get(s) == SUCCESS) a.value = s;
        } else if (v["boolValue"].get(x) == SUCCESS) {
          bool b;
          if (x.get_bool().get(b) == SUCCESS) a.value = b ? "true" : "false";
        } else if (v["intValue"].get(x) == SUCCESS) {
          int64_t n;
          if (GetInt64(x, &n)) a.value = FormatInt(n, arena);
        } else if (v["doubleValue"].get(x) == SUCCESS) {
          double d;
          if (GetDouble(x, &d)) a.value = FormatDouble(d, arena);
        }
        // arrayValue, kvlistValue, bytesValue: not representable as a label value; dropped.
      }
      out.push_back(a);
    }
    return true;
  }

  Status ResourceMetrics(element rm, const std::string& path) {
    object rmo;
    if (rm.get_object().get(rmo) != SUCCESS) return Fail(path + ": want an object");
    resource_attrs_.clear();
    object res;
    std::string why;
    if (rmo["resource"].get_object().get(res) == SUCCESS && !Attrs(res, resource_attrs_, &why)) {
      return Fail(path + ".resource." + why);
    }
    e_->BeginResource(resource_attrs_);
    array sms;
    bool present;
    if (!OptArray(rmo, "scopeMetrics", &sms, &present)) {
      return Fail(path + ".scopeMetrics: want an array");
    }
    size_t i = 0;
    if (present) {
      for (element sm : sms) {
        std::string spath = path + ".scopeMetrics[" + std::to_string(i++) + "]";
        object smo;
        if (sm.get_object().get(smo) != SUCCESS) return Fail(spath + ": want an object");
        array metrics;
        if (!OptArray(smo, "metrics", &metrics, &present)) {
          return Fail(spath + ".metrics: want an array");
        }
        if (!present) continue;
        size_t j = 0;
        for (element m : metrics) {
          Status st = Metric(m, spath + ".metrics[" + std::to_string(j++) + "]");
          if (!st.ok()) return st;
        }
      }
    }
    e_->EndResource();
    return Status::Ok();
  }

  Status Metric(element m, const std::string& path) {
    object mo;
    if (m.get_object().get(mo) != SUCCESS) return Fail(path + ": want an object");
    MetricInfo info;
    if (mo["name"].get_string().get(info.name) != SUCCESS) info.name = {};
    if (mo["unit"].get_string().get(info.unit) != SUCCESS) info.unit = {};
    static const std::pair<const char*, Kind> kKinds[] = {
        {"gauge", Kind::kGauge},         {"sum", Kind::kSum},
        {"histogram", Kind::kHistogram}, {"exponentialHistogram", Kind::kExponentialHistogram},
        {"summary", Kind::kSummary},
    };
    object data;
    bool found = false;
    for (const auto& [key, kind] : kKinds) {
      element el;
      if (mo[key].get(el) != SUCCESS) continue;
      if (el.get_object().get(data) != SUCCESS) return Fail(path + "." + key + ": want an object");
      info.kind = kind;
      found = true;
      break;
    }
    if (!found) return Status::Ok();  // no data
    element t;
    if (data["aggregationTemporality"].get(t) == SUCCESS) {
      int64_t v = 0;
      std::string_view s;
      if (t.get_string().get(s) == SUCCESS) {
        v = s == "AGGREGATION_TEMPORALITY_DELTA"        ? 1
            : s == "AGGREGATION_TEMPORALITY_CUMULATIVE" ? 2
                                                        : 0;
      } else if (!GetInt64(t, &v)) {
        return Fail(path + ".aggregationTemporality: want an integer");
      }
      info.temporality = static_cast<Temporality>(v >= 0 && v <= 2 ? v : 0);
    }
    bool mono = false;
    if (data["isMonotonic"].get_bool().get(mono) == SUCCESS) info.monotonic = mono;
    e_->BeginMetric(info);
    array points;
    bool present;
    if (!OptArray(data, "dataPoints", &points, &present)) {
      return Fail(path + ".dataPoints: want an array");
    }
    if (!present) return Status::Ok();
    for (element p : points) {
      object po;
      if (p.get_object().get(po) != SUCCESS) {
        e_->RejectPoint(RejectReason::kSyntax, "cannot parse data point: not an object");
        continue;
      }
      std::string why;
      RejectReason reason = RejectReason::kBadValue;
      if (!Point(po, info.kind, &why, &reason)) {
        e_->RejectPoint(reason, why);
        continue;
      }
      e_->EmitPoint(point_);
    }
    return Status::Ok();
  }

  bool Point(object po, Kind kind, std::string* why, RejectReason* reason) {
    point_.Clear();
    if (!Attrs(po, point_.attrs, why)) {
      *reason = RejectReason::kSyntax;
      return false;
    }
    element x;
    if (po["timeUnixNano"].get(x) == SUCCESS && !GetInt64(x, &point_.time_ns)) {
      *reason = RejectReason::kBadTimestamp;
      *why = "cannot parse timeUnixNano: want an integer (string) of nanoseconds";
      return false;
    }
    int64_t flags = 0;
    if (po["flags"].get(x) == SUCCESS && GetInt64(x, &flags)) {
      point_.flags = static_cast<uint32_t>(flags);
    }
    if (kind == Kind::kGauge || kind == Kind::kSum) {
      if (po["asDouble"].get(x) == SUCCESS) {
        if (!GetDouble(x, &point_.value)) {
          *why = "cannot parse asDouble: not a number";
          return false;
        }
      } else if (po["asInt"].get(x) == SUCCESS) {
        int64_t v;
        if (!GetInt64(x, &v)) {
          *why = "cannot parse asInt: not an integer";
          return false;
        }
        point_.value = static_cast<double>(v);
      }
      return true;
    }
    if (po["count"].get(x) == SUCCESS && !GetUint64(x, &point_.count)) {
      *why = "cannot parse count: not an unsigned integer";
      return false;
    }
    if (po["sum"].get(x) == SUCCESS) {
      if (!GetDouble(x, &point_.sum)) {
        *why = "cannot parse sum: not a number";
        return false;
      }
      point_.has_sum = true;
    }
    if (kind == Kind::kHistogram) {
      array arr;
      if (po["bucketCounts"].get_array().get(arr) == SUCCESS) {
        for (element b : arr) {
          uint64_t c;
          if (!GetUint64(b, &c)) {
            *why = "cannot parse bucketCounts: want unsigned integers";
            return false;
          }
          point_.bucket_counts.push_back(c);
        }
      }
      if (po["explicitBounds"].get_array().get(arr) == SUCCESS) {
        for (element b : arr) {
          double d;
          if (!GetDouble(b, &d)) {
            *why = "cannot parse explicitBounds: want numbers";
            return false;
          }
          point_.bounds.push_back(d);
        }
      }
    } else if (kind == Kind::kSummary) {
      point_.has_sum = true;
      array arr;
      if (po["quantileValues"].get_array().get(arr) == SUCCESS) {
        for (element q : arr) {
          double quantile = 0, value = 0;
          object qo;
          if (q.get_object().get(qo) != SUCCESS) {
            *why = "cannot parse quantileValues: want objects";
            return false;
          }
          if ((qo["quantile"].get(x) == SUCCESS && !GetDouble(x, &quantile)) ||
              (qo["value"].get(x) == SUCCESS && !GetDouble(x, &value))) {
            *why = "cannot parse quantileValues: want numbers";
            return false;
          }
          point_.quantiles.emplace_back(quantile, value);
        }
      }
    }
    return true;
  }

  simdjson::dom::parser parser_;
  Emitter* e_ = nullptr;
  std::vector<Attr> resource_attrs_;
  internal::Point point_;
};

}  // namespace

std::unique_ptr<JsonFrontend> NewJsonFrontend() { return std::make_unique<Frontend>(); }

}  // namespace kansoku::ingest::otlp_metrics::internal
