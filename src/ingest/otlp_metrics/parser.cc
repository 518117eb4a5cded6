#include "ingest/otlp_metrics/parser.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>

#include "base/json.h"
#include "ingest/common/protowire.h"
#include "ingest/otlp_metrics/internal.h"
#include "tsdb/storage.h"

namespace kansoku::ingest::otlp_metrics {

using internal::Attr;
using internal::Emitter;
using internal::MetricInfo;
using internal::Point;
using internal::Temporality;

// ---------------------------------------------------------------------------------------------
// Names.

namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Splits on bytes for which keep(c) is false; empty tokens dropped.
template <typename Keep>
std::vector<std::string_view> Tokens(std::string_view s, Keep keep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && !keep(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && keep(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::string_view MainUnit(std::string_view u) {
  static const std::pair<std::string_view, std::string_view> kUnits[] = {
      {"d", "days"},
      {"h", "hours"},
      {"min", "minutes"},
      {"s", "seconds"},
      {"ms", "milliseconds"},
      {"us", "microseconds"},
      {"ns", "nanoseconds"},
      {"By", "bytes"},
      {"KiBy", "kibibytes"},
      {"MiBy", "mebibytes"},
      {"GiBy", "gibibytes"},
      {"TiBy", "tibibytes"},
      {"KBy", "kilobytes"},
      {"MBy", "megabytes"},
      {"GBy", "gigabytes"},
      {"TBy", "terabytes"},
      {"m", "meters"},
      {"V", "volts"},
      {"A", "amperes"},
      {"J", "joules"},
      {"W", "watts"},
      {"g", "grams"},
      {"Cel", "celsius"},
      {"Hz", "hertz"},
      {"1", ""},
      {"%", "percent"},
  };
  for (const auto& [k, v] : kUnits) {
    if (k == u) return v;
  }
  return u;
}

std::string_view PerUnit(std::string_view u) {
  static const std::pair<std::string_view, std::string_view> kPer[] = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"},
  };
  for (const auto& [k, v] : kPer) {
    if (k == u) return v;
  }
  return u;
}

// Removes "{...}" annotations.
std::string StripAnnotations(std::string_view u) {
  std::string out;
  int depth = 0;
  for (char c : u) {
    if (c == '{')
      ++depth;
    else if (c == '}' && depth > 0)
      --depth;
    else if (depth == 0)
      out += c;
  }
  return out;
}

}  // namespace

std::string BuildMetricName(std::string_view name, std::string_view unit, Kind kind, bool monotonic,
                            bool add_suffixes) {
  std::string out;
  if (!add_suffixes) {
    for (std::string_view t :
         Tokens(name, [](char c) { return IsAlnum(c) || c == '_' || c == ':'; })) {
      if (!out.empty()) out += '_';
      out += t;
    }
  } else {
    std::vector<std::string_view> tokens = Tokens(name, IsAlnum);
    std::string stripped = StripAnnotations(unit);
    std::string_view u = stripped;
    std::string_view main = u.substr(0, u.find('/'));
    std::string_view per =
        u.find('/') == std::string_view::npos ? std::string_view() : u.substr(u.find('/') + 1);
    std::vector<std::string> extra;
    auto has = [&](std::string_view t) {
      return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
    };
    std::string_view mu = MainUnit(main);
    for (std::string_view t : Tokens(mu, IsAlnum)) {
      if (!has(t)) extra.emplace_back(t);
    }
    if (!per.empty()) {
      std::string_view pu = PerUnit(per);
      auto pt = Tokens(pu, IsAlnum);
      if (!pt.empty()) {
        extra.emplace_back("per");
        for (std::string_view t : pt) extra.emplace_back(t);
      }
    }
    if (kind == Kind::kSum && monotonic) {
      std::erase(tokens, std::string_view("total"));
      extra.emplace_back("total");
    }
    if (kind == Kind::kGauge && unit == "1") extra.emplace_back("ratio");
    for (std::string_view t : tokens) {
      if (!out.empty()) out += '_';
      out += t;
    }
    for (const std::string& t : extra) {
      if (!out.empty()) out += '_';
      out += t;
    }
  }
  if (!out.empty() && out[0] >= '0' && out[0] <= '9') out.insert(out.begin(), '_');
  return out;
}

std::string NormalizeLabelName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (!IsAlnum(c) && c != '_') c = '_';
  }
  if (out.empty()) return out;
  if (out[0] >= '0' && out[0] <= '9') return "key_" + out;
  if (out[0] == '_' && (out.size() < 2 || out[1] != '_')) return "key" + out;
  return out;
}

// ---------------------------------------------------------------------------------------------
// DeltaAccumulator.

double DeltaAccumulator::Add(const LabelView* labels, uint32_t n, double delta) {
  std::vector<LabelView> sorted(labels, labels + n);
  std::sort(sorted.begin(), sorted.end(),
            [](const LabelView& a, const LabelView& b) { return a.name < b.name; });
  std::string key;
  for (const LabelView& l : sorted) {
    key.append(l.name);
    key.push_back('\xff');
    key.append(l.value);
    key.push_back('\xfe');
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (totals_.size() >= max_series_ && totals_.find(key) == totals_.end()) totals_.clear();
  double& total = totals_[key];
  total += delta;
  return total;
}

size_t DeltaAccumulator::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return totals_.size();
}

// ---------------------------------------------------------------------------------------------
// Emitter.

namespace internal {

std::string_view FormatDouble(double v, StringArena& arena) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return FormatFloatLabel(v, arena);
}

std::string_view FormatInt(int64_t v, StringArena& arena) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return arena.Copy(std::string_view(buf, r.ptr - buf));
}

std::string Emitter::Where() const {
  return "data point " + std::to_string(point_no_) + " (metric " + Quote(metric_.name) + "): ";
}

void Emitter::BeginResource(const std::vector<Attr>& attrs) {
  StringArena& arena = batch_.arena();
  resource_labels_.clear();
  target_info_labels_.clear();
  resource_max_t_ = 0;
  std::string_view service, ns, instance;
  for (const Attr& a : attrs) {
    if (a.key == "service.name")
      service = a.value;
    else if (a.key == "service.namespace")
      ns = a.value;
    else if (a.key == "service.instance.id")
      instance = a.value;
  }
  if (!service.empty()) {
    std::string_view job = ns.empty() ? service : arena.Concat(ns, "/", service);
    resource_labels_.push_back({"job", job});
  }
  if (!instance.empty()) resource_labels_.push_back({"instance", instance});
  for (const Attr& a : attrs) {
    if (a.key == "service.name" || a.key == "service.namespace" || a.key == "service.instance.id" ||
        a.value.empty()) {
      continue;
    }
    std::string n = NormalizeLabelName(a.key);
    if (n.empty()) continue;
    std::string_view name = arena.Copy(n);
    target_info_labels_.push_back({name, a.value});
    for (const std::string& p : options_.promote_resource_attributes) {
      if (p == a.key) resource_labels_.push_back({name, a.value});
    }
  }
}

void Emitter::EndResource() {
  if (!options_.emit_target_info || target_info_labels_.empty() || resource_max_t_ == 0) return;
  batch_.BeginSeries(point_no_);
  batch_.AddLabel(tsdb::kMetricName, "target_info");
  for (const LabelView& l : resource_labels_) {
    if (l.name == "job" || l.name == "instance") batch_.AddLabel(l.name, l.value);
  }
  for (const LabelView& l : target_info_labels_) batch_.AddLabel(l.name, l.value);
  if (!CheckSeriesLimits(batch_, opts_.limits, report_)) return;
  AddExtraLabels(batch_, opts_);
  batch_.AddSample(resource_max_t_, 1);
}

void Emitter::BeginMetric(const MetricInfo& m) {
  metric_ = m;
  metric_name_ = BuildMetricName(m.name, m.unit, m.kind, m.monotonic, options_.add_suffixes);
  metric_name_view_ = batch_.arena().Copy(metric_name_);
}

void Emitter::RejectPoint(RejectReason reason, const std::string& why) {
  ++point_no_;
  report_.Reject(reason, Where() + why);
}

void Emitter::Series(std::string_view name, const Point& p, std::string_view extra_name,
                     std::string_view extra_value, int64_t t, double v, bool accumulate) {
  StringArena& arena = batch_.arena();
  batch_.BeginSeries(point_no_);
  batch_.AddLabel(tsdb::kMetricName, name);
  for (const LabelView& l : resource_labels_) batch_.AddLabel(l.name, l.value);
  for (const Attr& a : p.attrs) {
    if (a.value.empty()) continue;
    std::string n = NormalizeLabelName(a.key);
    if (n.empty()) continue;
    batch_.AddLabel(n == a.key ? a.key : arena.Copy(n), a.value);
  }
  if (!extra_name.empty()) batch_.AddLabel(extra_name, extra_value);
  if (!CheckSeriesLimits(batch_, opts_.limits, report_)) return;
  AddExtraLabels(batch_, opts_);
  if (accumulate && !tsdb::IsStaleNaN(v)) {
    const SeriesRow& sr = batch_.series().back();
    v = options_.delta->Add(batch_.labels_of(sr), sr.num_labels, v);
  }
  batch_.AddSample(t, v);
}

void Emitter::EmitPoint(const Point& p) {
  ++point_no_;
  if (metric_.kind == Kind::kExponentialHistogram) {
    report_.Reject(RejectReason::kUnsupported,
                   Where() + "exponential histograms are not supported");
    return;
  }
  if (metric_name_view_.empty()) {
    report_.Reject(RejectReason::kInvalidLabel,
                   Where() + "metric name is empty after normalization");
    return;
  }
  bool accumulate = false;
  if (metric_.kind == Kind::kSum || metric_.kind == Kind::kHistogram) {
    if (metric_.temporality == Temporality::kDelta) {
      if (options_.delta == nullptr) {
        report_.Reject(RejectReason::kUnsupported,
                       Where() +
                           "delta temporality is not supported on this endpoint; "
                           "configure the exporter for cumulative temporality");
        return;
      }
      accumulate = true;
    } else if (metric_.temporality != Temporality::kCumulative) {
      report_.Reject(RejectReason::kUnsupported,
                     Where() + "aggregation temporality is unspecified");
      return;
    }
  }
  int64_t t = p.time_ns == 0 ? opts_.now_ms : p.time_ns / 1000000;
  std::string why;
  if (!CheckTimestamp(t, opts_, &why)) {
    report_.Reject(RejectReason::kTimestampOutOfRange, Where() + why);
    return;
  }
  resource_max_t_ = std::max(resource_max_t_, t);
  const bool stale = (p.flags & 1) != 0;  // DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
  auto val = [&](double v) { return stale ? tsdb::StaleNaN() : v; };
  StringArena& arena = batch_.arena();
  std::string_view name = metric_name_view_;
  switch (metric_.kind) {
    case Kind::kGauge:
    case Kind::kSum:
      Series(name, p, {}, {}, t, val(p.value), accumulate);
      break;
    case Kind::kHistogram: {
      if (!p.bucket_counts.empty() && p.bucket_counts.size() != p.bounds.size() + 1) {
        report_.Reject(RejectReason::kBadValue,
                       Where() + "histogram has " + std::to_string(p.bucket_counts.size()) +
                           " bucket counts for " + std::to_string(p.bounds.size()) +
                           " explicit bounds; want bounds + 1");
        return;
      }
      std::string_view bucket = arena.Concat(name, "", "_bucket");
      uint64_t cum = 0;
      for (size_t i = 0; i < p.bounds.size() && !p.bucket_counts.empty(); ++i) {
        cum += p.bucket_counts[i];
        Series(bucket, p, "le", FormatDouble(p.bounds[i], arena), t, val(static_cast<double>(cum)),
               accumulate);
      }
      Series(bucket, p, "le", "+Inf", t, val(static_cast<double>(p.count)), accumulate);
      if (p.has_sum) {
        Series(arena.Concat(name, "", "_sum"), p, {}, {}, t, val(p.sum), accumulate);
      }
      Series(arena.Concat(name, "", "_count"), p, {}, {}, t, val(static_cast<double>(p.count)),
             accumulate);
      break;
    }
    case Kind::kSummary: {
      for (const auto& [q, v] : p.quantiles) {
        Series(name, p, "quantile", FormatDouble(q, arena), t, val(v), false);
      }
      Series(arena.Concat(name, "", "_sum"), p, {}, {}, t, val(p.sum), false);
      Series(arena.Concat(name, "", "_count"), p, {}, {}, t, val(static_cast<double>(p.count)),
             false);
      break;
    }
    case Kind::kExponentialHistogram:
      break;
  }
}

}  // namespace internal

// ---------------------------------------------------------------------------------------------
// Protobuf front-end.

namespace {

struct ProtoError {
  std::string why;
};

// AnyValue -> string (arena); false on malformed input.
bool DecodeAnyValue(std::string_view msg, StringArena& arena, std::string_view* out,
                    std::string* err) {
  ProtoReader r(msg);
  *out = {};
  while (r.Next()) {
    switch (r.field()) {
      case 1:  // string_value
        if (r.Expect(WireType::kLen)) r.ReadBytes(out);
        break;
      case 2: {  // bool_value
        uint64_t b = 0;
        if (r.Expect(WireType::kVarint) && r.ReadVarint(&b)) *out = b ? "true" : "false";
        break;
      }
      case 3: {  // int_value
        uint64_t v = 0;
        if (r.Expect(WireType::kVarint) && r.ReadVarint(&v)) {
          *out = internal::FormatInt(static_cast<int64_t>(v), arena);
        }
        break;
      }
      case 4: {  // double_value
        double d = 0;
        if (r.Expect(WireType::kFixed64) && r.ReadDouble(&d)) {
          *out = internal::FormatDouble(d, arena);
        }
        break;
      }
      default:  // array, kvlist, bytes: not representable as a label value; dropped
        r.Skip();
    }
  }
  if (r.failed()) *err = "attribute value: " + r.error();
  return !r.failed();
}

bool DecodeKeyValue(std::string_view msg, StringArena& arena, Attr* out, std::string* err) {
  ProtoReader r(msg);
  *out = {};
  while (r.Next()) {
    if (r.field() == 1) {
      if (r.Expect(WireType::kLen)) r.ReadBytes(&out->key);
    } else if (r.field() == 2) {
      std::string_view v;
      if (r.Expect(WireType::kLen) && r.ReadBytes(&v) &&
          !DecodeAnyValue(v, arena, &out->value, err)) {
        return false;
      }
    } else {
      r.Skip();
    }
  }
  if (r.failed()) *err = "attribute: " + r.error();
  return !r.failed();
}

class ProtoFrontend {
 public:
  ProtoFrontend(Emitter& e) : e_(e) {}

  bool Request(std::string_view body) {
    ProtoReader r(body);
    while (r.Next()) {
      if (r.field() == 1) {
        std::string_view rm;
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&rm)) break;
        if (!ResourceMetrics(rm)) return false;
      } else {
        r.Skip();
      }
    }
    return Check(r, "request");
  }
  const std::string& error() const { return err_; }

 private:
  bool Check(const ProtoReader& r, const char* what) {
    if (r.failed()) err_ = std::string(what) + ": " + r.error();
    return !r.failed();
  }

  bool Attrs(std::string_view kv, std::vector<Attr>& out) {
    Attr a;
    if (!DecodeKeyValue(kv, e_.arena(), &a, &err_)) return false;
    out.push_back(a);
    return true;
  }

  bool ResourceMetrics(std::string_view msg) {
    // The resource (field 1) may come after scope_metrics (field 2) on the wire: read it first.
    resource_attrs_.clear();
    ProtoReader r(msg);
    while (r.Next()) {
      if (r.field() == 1) {
        std::string_view res;
        if (!r.Expect(WireType::kLen) || !r.ReadBytes(&res)) break;
        ProtoReader rr(res);
        while (rr.Next()) {
          if (rr.field() == 1) {
            std::string_view kv;
            if (!rr.Expect(WireType::kLen) || !rr.ReadBytes(&kv)) break;
            if (!Attrs(kv, resource_attrs_)) return false;
          } else {
            rr.Skip();
          }
        }
        if (!Check(rr, "resource")) return false;
      } else {
        r.Skip();
      }
    }
    if (!Check(r, "resource metrics")) return false;
    e_.BeginResource(resource_attrs_);
    ProtoReader r2(msg);
    while (r2.Next()) {
      if (r2.field() != 2) {
        r2.Skip();
        continue;
      }
      std::string_view sm;
      if (!r2.Expect(WireType::kLen) || !r2.ReadBytes(&sm)) break;
      ProtoReader rs(sm);
      while (rs.Next()) {
        if (rs.field() == 2) {
          std::string_view m;
          if (!rs.Expect(WireType::kLen) || !rs.ReadBytes(&m)) break;
          if (!Metric(m)) return false;
        } else {
          rs.Skip();
        }
      }
      if (!Check(rs, "scope metrics")) return false;
    }
    if (!Check(r2, "resource metrics")) return false;
    e_.EndResource();
    return true;
  }

  bool Metric(std::string_view msg) {
    MetricInfo info;
    std::string_view data;
    ProtoReader r(msg);
    while (r.Next()) {
      switch (r.field()) {
        case 1:
          if (r.Expect(WireType::kLen)) r.ReadBytes(&info.name);
          break;
        case 3:
          if (r.Expect(WireType::kLen)) r.ReadBytes(&info.unit);
          break;
        case 5:
        case 7:
        case 9:
        case 10:
        case 11:
          info.kind = r.field() == 5    ? Kind::kGauge
                      : r.field() == 7  ? Kind::kSum
                      : r.field() == 9  ? Kind::kHistogram
                      : r.field() == 10 ? Kind::kExponentialHistogram
                                        : Kind::kSummary;
          if (r.Expect(WireType::kLen)) r.ReadBytes(&data);
          break;
        default:
          r.Skip();
      }
    }
    if (!Check(r, "metric")) return false;
    if (data.data() == nullptr) return true;  // no data
    // Temporality and monotonicity first (they may follow the points on the wire).
    ProtoReader h(data);
    while (h.Next()) {
      if (h.field() == 2 && info.kind != Kind::kGauge && info.kind != Kind::kSummary) {
        uint64_t v = 0;
        if (h.Expect(WireType::kVarint) && h.ReadVarint(&v)) {
          info.temporality = static_cast<Temporality>(v <= 2 ? v : 0);
        }
      } else if (h.field() == 3 && info.kind == Kind::kSum) {
        uint64_t v = 0;
        if (h.Expect(WireType::kVarint) && h.ReadVarint(&v)) info.monotonic = v != 0;
      } else {
        h.Skip();
      }
    }
    if (!Check(h, "metric data")) return false;
    e_.BeginMetric(info);
    ProtoReader d(data);
    while (d.Next()) {
      if (d.field() != 1) {
        d.Skip();
        continue;
      }
      std::string_view pt;
      if (!d.Expect(WireType::kLen) || !d.ReadBytes(&pt)) break;
      point_.Clear();
      bool ok = info.kind == Kind::kGauge || info.kind == Kind::kSum ? NumberPoint(pt)
                : info.kind == Kind::kHistogram                      ? HistogramPoint(pt)
                : info.kind == Kind::kSummary                        ? SummaryPoint(pt)
                                                                     : true;
      if (!ok) return false;
      e_.EmitPoint(point_);
    }
    return Check(d, "metric data");
  }

  // The fields every kind of data point has: attributes (attrs_field), time_unix_nano (3) and
  // flags (flags_field); start_time_unix_nano (2) is not used. *handled tells whether r's field
  // was one of them; false is returned only for bad attributes (err_ says why).
  bool CommonPointField(ProtoReader& r, uint32_t attrs_field, uint32_t flags_field, bool* handled) {
    *handled = true;
    const uint32_t field = r.field();
    if (field == attrs_field) {
      std::string_view kv;
      return !(r.Expect(WireType::kLen) && r.ReadBytes(&kv) && !Attrs(kv, point_.attrs));
    }
    if (field == 3) {
      uint64_t t = 0;
      if (r.Expect(WireType::kFixed64) && r.ReadFixed64(&t)) {
        point_.time_ns = static_cast<int64_t>(t);
      }
      return true;
    }
    if (field == flags_field) {
      uint64_t f = 0;
      if (r.Expect(WireType::kVarint) && r.ReadVarint(&f)) point_.flags = static_cast<uint32_t>(f);
      return true;
    }
    *handled = false;
    return true;
  }

  bool NumberPoint(std::string_view msg) {
    ProtoReader r(msg);
    while (r.Next()) {
      bool handled = false;
      if (!CommonPointField(r, 7, 8, &handled)) return false;
      if (handled) continue;
      switch (r.field()) {
        case 4:
          if (r.Expect(WireType::kFixed64)) r.ReadDouble(&point_.value);
          break;
        case 6: {
          uint64_t v = 0;
          if (r.Expect(WireType::kFixed64) && r.ReadFixed64(&v)) {
            point_.value = static_cast<double>(static_cast<int64_t>(v));
          }
          break;
        }
        default:
          r.Skip();
      }
    }
    return Check(r, "number data point");
  }

  bool HistogramPoint(std::string_view msg) {
    ProtoReader r(msg);
    while (r.Next()) {
      bool handled = false;
      if (!CommonPointField(r, 9, 10, &handled)) return false;
      if (handled) continue;
      switch (r.field()) {
        case 4:
          if (r.Expect(WireType::kFixed64)) r.ReadFixed64(&point_.count);
          break;
        case 5:
          if (r.Expect(WireType::kFixed64) && r.ReadDouble(&point_.sum)) point_.has_sum = true;
          break;
        case 6:
          if (!Repeated64(r, [&](uint64_t v) { point_.bucket_counts.push_back(v); })) {
            return false;
          }
          break;
        case 7:
          if (!Repeated64(r, [&](uint64_t v) {
                double d = 0;
                std::memcpy(&d, &v, 8);
                point_.bounds.push_back(d);
              })) {
            return false;
          }
          break;
        default:
          r.Skip();
      }
    }
    return Check(r, "histogram data point");
  }

  bool SummaryPoint(std::string_view msg) {
    ProtoReader r(msg);
    point_.has_sum = true;
    while (r.Next()) {
      bool handled = false;
      if (!CommonPointField(r, 7, 8, &handled)) return false;
      if (handled) continue;
      switch (r.field()) {
        case 4:
          if (r.Expect(WireType::kFixed64)) r.ReadFixed64(&point_.count);
          break;
        case 5:
          if (r.Expect(WireType::kFixed64)) r.ReadDouble(&point_.sum);
          break;
        case 6: {
          std::string_view q;
          if (!r.Expect(WireType::kLen) || !r.ReadBytes(&q)) break;
          ProtoReader qr(q);
          double quantile = 0, value = 0;
          while (qr.Next()) {
            if (qr.field() == 1 && qr.Expect(WireType::kFixed64))
              qr.ReadDouble(&quantile);
            else if (qr.field() == 2 && qr.Expect(WireType::kFixed64))
              qr.ReadDouble(&value);
            else
              qr.Skip();
          }
          if (!Check(qr, "quantile value")) return false;
          point_.quantiles.emplace_back(quantile, value);
          break;
        }
        default:
          r.Skip();
      }
    }
    return Check(r, "summary data point");
  }

  // A repeated fixed64/double field: packed (wire type 2) or not (wire type 1).
  template <typename F>
  bool Repeated64(ProtoReader& r, F add) {
    if (r.wire_type() == WireType::kFixed64) {
      uint64_t v = 0;
      if (r.ReadFixed64(&v)) add(v);
      return true;
    }
    std::string_view packed;
    if (!r.Expect(WireType::kLen) || !r.ReadBytes(&packed))
      return true;  // r.failed() checked later
    if (packed.size() % 8 != 0) {
      err_ = "packed repeated fixed64 field of " + std::to_string(packed.size()) +
             " bytes is not a multiple of 8";
      return false;
    }
    for (size_t i = 0; i < packed.size(); i += 8) {
      uint64_t v = 0;
      std::memcpy(&v, packed.data() + i, 8);
      add(v);
    }
    return true;
  }

  Emitter& e_;
  std::string err_;
  std::vector<Attr> resource_attrs_;
  Point point_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parser.

struct Parser::Impl {
  RowBatch batch;
  std::unique_ptr<internal::JsonFrontend> json;
};

Parser::Parser() : impl_(std::make_unique<Impl>()) {}
Parser::~Parser() = default;

Status Parser::ParseProto(std::string_view body, const Options& options, const DecodeOptions& opts,
                          RowSink& sink, DecodeReport& report) {
  RowBatch& batch = impl_->batch;
  batch.Clear();
  batch.set_location_unit("data point");
  // Rejections are buffered so a malformed request leaves the report untouched but for the
  // request error (all or nothing, as remote_write).
  DecodeReport local;
  Emitter e(batch, options, opts, local);
  ProtoFrontend f(e);
  if (!f.Request(body)) {
    batch.Clear();
    Status st = Status::InvalidArgument("cannot parse OTLP metrics protobuf: " + f.error());
    report.SetRequestError(st);
    return st;
  }
  report.Merge(local);
  Flush(batch, sink);
  return Status::Ok();
}

Status Parser::ParseJson(std::string_view body, const Options& options, const DecodeOptions& opts,
                         RowSink& sink, DecodeReport& report) {
  RowBatch& batch = impl_->batch;
  batch.Clear();
  batch.set_location_unit("data point");
  if (impl_->json == nullptr) impl_->json = internal::NewJsonFrontend();
  DecodeReport local;
  Emitter e(batch, options, opts, local);
  Status st = impl_->json->Parse(body, e, local);
  if (!st.ok()) {
    batch.Clear();
    report.SetRequestError(st);
    return st;
  }
  report.Merge(local);
  Flush(batch, sink);
  return Status::Ok();
}

namespace {
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
}  // namespace

std::string EncodeExportResponse(const DecodeReport& report, bool json) {
  if (report.rows_rejected() == 0) return json ? "{}" : "";
  std::string msg = report.Summary();
  if (json) {
    std::string out = "{\"partialSuccess\":{\"rejectedDataPoints\":\"";
    out += std::to_string(report.rows_rejected());
    out += "\",\"errorMessage\":";
    AppendJsonString(out, msg);
    out += "}}";
    return out;
  }
  // ExportMetricsServiceResponse { ExportMetricsPartialSuccess partial_success = 1; }
  // ExportMetricsPartialSuccess { int64 rejected_data_points = 1; string error_message = 2; }
  std::string inner;
  inner.push_back(0x08);
  PutVarint(inner, report.rows_rejected());
  inner.push_back(0x12);
  PutVarint(inner, msg.size());
  inner += msg;
  std::string out;
  out.push_back(0x0a);
  PutVarint(out, inner.size());
  out += inner;
  return out;
}

}  // namespace kansoku::ingest::otlp_metrics
