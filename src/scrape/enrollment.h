#pragma once
// Which discovered targets of a scrape job are scraped (docs/design/scrape.md §2-3):
//   Selector     label matchers `env=prod,monitor=true,team=~"a|b",zone!~"test.*"` on target
//                labels (=, !=, =~, !~; RE2 full match; a missing label is "")
//   Enrollment   one job's target set: selection, the growth hold (new targets held when the set
//                grows by more than max_growth within growth_window), approvals; persisted state
// Both are plain state machines without threads or I/O; the Scraper drives them.
// Thread safety: Selector is immutable after Parse (thread-safe); Enrollment is not thread-safe
// (the Scraper calls it under its lock).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "scrape/scrape.h"

namespace re2 {
class RE2;
}

namespace kansoku::scrape {

class Selector {
 public:
  // "" = matches everything. InvalidArgument naming the bad matcher (position and why).
  static Result<Selector> Parse(std::string_view text);
  bool Matches(const LabelSet& labels) const;
  bool empty() const { return matchers_.empty(); }
  const std::string& text() const { return text_; }

 private:
  struct Matcher {
    std::string name;
    enum Op { kEq, kNeq, kRe, kNre } op;
    std::string value;
    std::shared_ptr<re2::RE2> re;
  };
  std::vector<Matcher> matchers_;
  std::string text_;
};

enum class TargetState { kActive, kHeld, kNotSelected, kDropped };
std::string_view TargetStateName(TargetState s);  // active, held, not_selected, dropped

struct GrowthPolicy {
  double max_growth = 0;  // 0 = no hold
  size_t min_targets = 0;
  int64_t window_ms = 3600 * 1000;
};

// One discovered target after Enrollment::Update.
struct EnrolledTarget {
  std::string target;  // host:port, the key within the job
  LabelSet group_labels;
  LabelSet target_labels;  // ScrapeJob::TargetLabels
  TargetState state = TargetState::kActive;
  std::string reason;  // why not active
  int64_t first_seen_ms = 0;
};

class Enrollment {
 public:
  Enrollment(std::string job, Selector selector, GrowthPolicy growth);

  // One discovery result: (target, group labels, target labels, kept by relabel). `partial`:
  // discovery had errors (a file_sd file did not parse), so missing targets are not forgotten.
  struct Discovered {
    std::string target;
    LabelSet group_labels;
    LabelSet target_labels;
    bool relabel_kept = true;
  };
  // Applies selection and the growth hold; returns every discovered target with its state.
  // Returns true in *changed when the persisted state changed (enrolled or held sets).
  std::vector<EnrolledTarget> Update(const std::vector<Discovered>& discovered, bool partial,
                                     int64_t now_ms, bool* changed);
  // Enrolls the held targets (all, or the one named) as baseline. Returns how many.
  size_t Approve(const std::string& target, int64_t now_ms);

  size_t enrolled() const;  // present (not remembered-gone) enrolled targets
  size_t held() const { return held_.size(); }
  int64_t held_since_ms() const { return held_since_ms_; }
  // Enrolled at the last hold decision (the "grew from" of the alert) and the limit it hit.
  size_t hold_base() const { return hold_base_; }
  size_t hold_limit() const { return hold_limit_; }
  const GrowthPolicy& growth() const { return growth_; }
  const Selector& selector() const { return selector_; }

  // Persisted state: a YAML/JSON fragment {enrolled: {target: {at, auto}}, held: {target: at}}.
  std::string SaveJson() const;
  // Restores state saved by SaveJson (parsed by the caller's YAML loader into this form).
  struct SavedTarget {
    std::string target;
    int64_t at_ms = 0;
    bool automatic = false;
    bool held = false;
  };
  void Restore(const std::vector<SavedTarget>& saved, int64_t held_since_ms, size_t hold_base,
               size_t hold_limit);

 private:
  struct Entry {
    int64_t enrolled_at_ms = 0;
    bool automatic = false;  // enrolled by a growth check (counts as recent growth)
    int64_t gone_at_ms = 0;  // 0 = discovered now; else remembered until window end
  };
  std::string job_;
  Selector selector_;
  GrowthPolicy growth_;
  std::map<std::string, Entry> enrolled_;
  std::map<std::string, int64_t> held_;  // target -> first held
  int64_t held_since_ms_ = 0;
  size_t hold_base_ = 0, hold_limit_ = 0;
  bool initialized_ = false;  // first Update done (or state restored)
};

}  // namespace kansoku::scrape
