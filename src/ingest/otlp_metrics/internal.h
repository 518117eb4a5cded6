#pragma once
// Internal to otlp_metrics: the protocol-neutral emitter both front-ends (protobuf, JSON) feed.
// Not part of the public API. Single-threaded, owned by Parser::Impl.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/common/report.h"
#include "ingest/common/rows.h"
#include "ingest/otlp_metrics/parser.h"

namespace kansoku::ingest::otlp_metrics::internal {

struct Attr {
  std::string_view key;    // raw OTLP key
  std::string_view value;  // stringified (arena or body)
};

enum class Temporality : unsigned char { kUnspecified = 0, kDelta = 1, kCumulative = 2 };

struct MetricInfo {
  std::string_view name;
  std::string_view unit;
  Kind kind = Kind::kGauge;
  Temporality temporality = Temporality::kUnspecified;
  bool monotonic = false;
};

struct Point {
  std::vector<Attr> attrs;
  int64_t time_ns = 0;
  uint32_t flags = 0;
  // number points
  double value = 0;
  // histogram / summary
  uint64_t count = 0;
  double sum = 0;
  bool has_sum = false;
  std::vector<uint64_t> bucket_counts;
  std::vector<double> bounds;
  std::vector<std::pair<double, double>> quantiles;  // (quantile, value)
  void Clear() {
    attrs.clear();
    time_ns = 0;
    flags = 0;
    value = 0;
    count = 0;
    sum = 0;
    has_sum = false;
    bucket_counts.clear();
    bounds.clear();
    quantiles.clear();
  }
};

class Emitter {
 public:
  Emitter(RowBatch& batch, const Options& options, const DecodeOptions& opts, DecodeReport& report)
      : batch_(batch), options_(options), opts_(opts), report_(report) {}

  void BeginResource(const std::vector<Attr>& attrs);
  void EndResource();
  void BeginMetric(const MetricInfo& m);
  // One data point of the current metric (kind from BeginMetric).
  void EmitPoint(const Point& p);
  // A data point that could not be decoded (JSON type errors): rejected with `why`.
  void RejectPoint(RejectReason reason, const std::string& why);

  StringArena& arena() { return batch_.arena(); }

 private:
  void Series(std::string_view name, const Point& p, std::string_view extra_name,
              std::string_view extra_value, int64_t t, double v, bool accumulate);
  std::string Where() const;

  RowBatch& batch_;
  const Options& options_;
  const DecodeOptions& opts_;
  DecodeReport& report_;
  uint32_t point_no_ = 0;
  // Current resource.
  std::vector<LabelView> resource_labels_;  // job, instance, promoted
  std::vector<LabelView> target_info_labels_;
  int64_t resource_max_t_ = 0;
  // Current metric.
  MetricInfo metric_;
  std::string metric_name_;  // built name (owned: reused buffer)
  std::string_view metric_name_view_;
  std::vector<LabelView> scratch_;
};

// The JSON front-end (json.cc, simdjson); an interface so parser.cc needs no simdjson header.
class JsonFrontend {
 public:
  virtual ~JsonFrontend() = default;
  virtual Status Parse(std::string_view body, Emitter& emitter, DecodeReport& report) = 0;
};
std::unique_ptr<JsonFrontend> NewJsonFrontend();

// Stringifies a double the way pdata's AsString does ('f', shortest).
std::string_view FormatDouble(double v, StringArena& arena);
std::string_view FormatInt(int64_t v, StringArena& arena);

}  // namespace kansoku::ingest::otlp_metrics::internal
