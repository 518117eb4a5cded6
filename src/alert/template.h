#pragma once
// Template expansion for alert annotations and label values: the subset of Go's text/template
// that Prometheus rule files use (docs/design/alerting.md §1).
//
//   {{ $labels.instance }}  {{ .Labels.job }}  {{ $value }}  {{ .Value }}
//   {{ $externalLabels.cluster }}  {{ $value | humanize }}  {{ printf "%.2f" $value }}
//   {{ humanizeDuration $value }}  {{ index $labels "name" }}  {{- trimmed -}}  {{/* note */}}
//
// Functions: humanize, humanize1024, humanizePercentage, humanizeDuration, humanizeTimestamp,
// toUpper, toLower, title, printf, index. Control structures (if/range/with/define) are not
// supported and are a parse error naming the action. A missing label expands to "".
// Errors: InvalidArgument "template: <name>:<line>: <reason>". Thread safety: a parsed Template
// is immutable; Execute may run concurrently.
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "tsdb/labels.h"

namespace kansoku::alert {

struct TemplateData {
  const tsdb::Labels* labels = nullptr;           // $labels / .Labels
  double value = 0;                               // $value / .Value
  const tsdb::Labels* external_labels = nullptr;  // $externalLabels / .ExternalLabels
  std::string_view external_url;                  // $externalURL / .ExternalURL
};

class Template {
 public:
  // Parses text; name is used in error messages (e.g. the annotation key).
  static Result<Template> Parse(std::string_view text, std::string_view name);
  Result<std::string> Execute(const TemplateData& data) const;
  // True when the text has no actions (Execute returns it unchanged).
  bool IsPlain() const;

  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  ~Template();

  struct Impl;

 private:
  Template() = default;
  std::unique_ptr<Impl> impl_;
};

// Parses and executes in one go. On error returns "<error expanding template: reason>" so the
// alert still goes out and shows what is wrong (Prometheus behaves the same way).
std::string ExpandTemplate(std::string_view text, std::string_view name, const TemplateData& data);

// Go's fmt %v of a float64 ("1e+06", "0.5", "+Inf", "NaN").
std::string GoFormatFloat(double v);
// Prometheus' humanize family.
std::string Humanize(double v);
std::string Humanize1024(double v);
std::string HumanizePercentage(double v);
std::string HumanizeDuration(double seconds);

}  // namespace kansoku::alert
