#pragma once
// Prometheus relabelling (`relabel_configs`, `metric_relabel_configs`): an ordered list of rules
// that rewrite, keep or drop a label set (docs/design/scrape.md §2). Every action of Prometheus'
// relabel_config is supported: replace, keep, drop, keepequal, dropequal, hashmod, labelmap,
// labeldrop, labelkeep, lowercase, uppercase. As in Prometheus, `regex` is fully anchored,
// `source_labels` values are joined by `separator`, `replacement` and `target_label` expand
// `$1`, `${1}`, `$name`, `${name}` and `$$` (Go's Regexp.Expand: `$1x` names group "1x"), a label
// set to the empty value is removed, and hashmod is the low 64 bits of the MD5 of the joined
// value modulo `modulus`.
//
// Thread safety: a Relabeler is immutable after Compile and may be applied from many threads.
// Errors: Compile answers InvalidArgument naming the rule ("rule 2: ...") for a regex that does
// not compile or a rule that lacks what its action needs.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kansoku::scrape {

using Label = std::pair<std::string, std::string>;
using LabelSet = std::vector<Label>;

enum class RelabelAction {
  kReplace,
  kKeep,
  kDrop,
  kKeepEqual,
  kDropEqual,
  kHashMod,
  kLabelMap,
  kLabelDrop,
  kLabelKeep,
  kLowercase,
  kUppercase,
};

// "replace", "keep", ... (Prometheus' spellings, case-insensitive); InvalidArgument listing the
// valid ones otherwise.
Result<RelabelAction> ParseRelabelAction(std::string_view name);
std::string_view RelabelActionName(RelabelAction a);

struct RelabelRule {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string regex = "(.*)";
  std::string target_label;
  std::string replacement = "$1";
  uint64_t modulus = 0;
  RelabelAction action = RelabelAction::kReplace;
};

class Relabeler {
 public:
  Relabeler();
  ~Relabeler();
  Relabeler(Relabeler&&) noexcept;
  Relabeler& operator=(Relabeler&&) noexcept;

  static Result<Relabeler> Compile(const std::vector<RelabelRule>& rules);

  // Applies the rules in order to *labels (unsorted; order of untouched labels is kept, new
  // labels are appended). False when a keep/drop/keepequal/dropequal rule drops the set; *labels
  // is then unspecified.
  bool Apply(LabelSet* labels) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule;
  std::vector<Rule> rules_;
};

}  // namespace kansoku::scrape
