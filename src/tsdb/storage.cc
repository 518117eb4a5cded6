#include "tsdb/storage.h"

#include <re2/re2.h>

namespace kansoku::tsdb {

std::string_view MetricTypeName(MetricType t) {
  switch (t) {
    case MetricType::kUnknown:
      return "unknown";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGaugeHistogram:
      return "gaugehistogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kInfo:
      return "info";
    case MetricType::kStateSet:
      return "stateset";
  }
  return "unknown";
}

Status Querier::ForEachSeriesLabels(const std::vector<Matcher>& matchers, const SelectHints& hints,
                                    const LabelPartsFn& fn) {
  KANSOKU_ASSIGN_OR_RETURN(auto set, Select(matchers, hints));
  std::vector<std::string_view> parts;
  while (set->Next()) {
    const Labels& ls = set->labels();
    parts.clear();
    for (const Label& l : ls.items()) {
      parts.emplace_back(l.name);
      parts.emplace_back(l.value);
    }
    if (!fn(parts)) break;
  }
  return set->status();
}

Status SeriesIterator::ReadRange(int64_t mint, int64_t maxt, std::vector<Sample>* out,
                                 SampleFacts* facts) {
  if (facts != nullptr) *facts = SampleFacts{};
  if (Seek(mint)) {
    do {
      const Sample s = At();
      if (s.t > maxt) break;
      out->push_back(s);
    } while (Next());
  }
  return status();
}

MetricType ParseMetricType(std::string_view s) {
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "histogram") return MetricType::kHistogram;
  if (s == "gaugehistogram") return MetricType::kGaugeHistogram;
  if (s == "summary") return MetricType::kSummary;
  if (s == "info") return MetricType::kInfo;
  if (s == "stateset") return MetricType::kStateSet;
  return MetricType::kUnknown;
}

Matcher::~Matcher() = default;

Result<Matcher> Matcher::Create(MatchType type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_dot_nl(true);  // Prometheus compiles with (?s)
    auto re = std::make_shared<RE2>("^(?:" + m.value_ + ")$", opts);
    if (!re->ok()) {
      return Status::InvalidArgument("invalid regular expression \"" + m.value_ +
                                     "\" for label \"" + m.name_ + "\": " + re->error());
    }
    m.re_ = std::move(re);
  }
  return m;
}

bool Matcher::Matches(std::string_view value) const {
  switch (type_) {
    case MatchType::kEqual:
      return value == value_;
    case MatchType::kNotEqual:
      return value != value_;
    case MatchType::kRegexMatch:
      return RE2::FullMatch(value, *re_);
    case MatchType::kRegexNoMatch:
      return !RE2::FullMatch(value, *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  static const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string out = name_ + kOps[static_cast<int>(type_)] + "\"";
  for (char c : value_) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace kansoku::tsdb
