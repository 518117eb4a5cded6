#include "scrape/enrollment.h"

#include <re2/re2.h>

#include <algorithm>
#include <cmath>

#include "base/json.h"

namespace kansoku::scrape {
namespace {

bool NameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool NameChar(char c) { return NameStart(c) || (c >= '0' && c <= '9'); }

}  // namespace

Result<Selector> Selector::Parse(std::string_view text) {
  Selector s;
  s.text_ = std::string(text);
  size_t i = 0;
  auto ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  auto fail = [&](const std::string& why) {
    return Status::InvalidArgument("selector \"" + std::string(text) + "\": at " +
                                   std::to_string(i + 1) + ": " + why);
  };
  ws();
  while (i < text.size()) {
    Matcher m;
    size_t ns = i;
    if (!NameStart(text[i])) return fail("expected a label name");
    while (i < text.size() && NameChar(text[i])) ++i;
    m.name = std::string(text.substr(ns, i - ns));
    ws();
    if (text.substr(i, 2) == "=~") {
      m.op = Matcher::kRe;
      i += 2;
    } else if (text.substr(i, 2) == "!~") {
      m.op = Matcher::kNre;
      i += 2;
    } else if (text.substr(i, 2) == "!=") {
      m.op = Matcher::kNeq;
      i += 2;
    } else if (text.substr(i, 1) == "=") {
      m.op = Matcher::kEq;
      i += 1;
    } else {
      return fail("expected =, !=, =~ or !~ after " + m.name);
    }
    ws();
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) c = text[i++];
        m.value.push_back(c);
      }
      if (!closed) return fail("unterminated quoted value");
    } else {
      size_t vs = i;
      while (i < text.size() && text[i] != ',') ++i;
      m.value = std::string(text.substr(vs, i - vs));
      while (!m.value.empty() && (m.value.back() == ' ' || m.value.back() == '\t')) {
        m.value.pop_back();
      }
    }
    if (m.op == Matcher::kRe || m.op == Matcher::kNre) {
      m.re = std::make_shared<re2::RE2>(m.value, re2::RE2::Quiet);
      if (!m.re->ok()) return fail("bad regex \"" + m.value + "\": " + m.re->error());
    }
    s.matchers_.push_back(std::move(m));
    ws();
    if (i < text.size()) {
      if (text[i] != ',') return fail("expected , between matchers");
      ++i;
      ws();
      if (i == text.size()) return fail("trailing ,");
    }
  }
  return s;
}

bool Selector::Matches(const LabelSet& labels) const {
  static const std::string kEmpty;
  for (const auto& m : matchers_) {
    const std::string* v = &kEmpty;
    for (const auto& l : labels) {
      if (l.first == m.name) {
        v = &l.second;
        break;
      }
    }
    bool ok = false;
    switch (m.op) {
      case Matcher::kEq:
        ok = *v == m.value;
        break;
      case Matcher::kNeq:
        ok = *v != m.value;
        break;
      case Matcher::kRe:
        ok = re2::RE2::FullMatch(*v, *m.re);
        break;
      case Matcher::kNre:
        ok = !re2::RE2::FullMatch(*v, *m.re);
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::string_view TargetStateName(TargetState s) {
  switch (s) {
    case TargetState::kActive:
      return "active";
    case TargetState::kHeld:
      return "held";
    case TargetState::kNotSelected:
      return "not_selected";
    case TargetState::kDropped:
      return "dropped";
  }
  return "?";
}

Enrollment::Enrollment(std::string job, Selector selector, GrowthPolicy growth)
    : job_(std::move(job)), selector_(std::move(selector)), growth_(growth) {}

std::vector<EnrolledTarget> Enrollment::Update(const std::vector<Discovered>& discovered,
                                               bool partial, int64_t now_ms, bool* changed) {
  *changed = false;
  std::vector<EnrolledTarget> out;
  out.reserve(discovered.size());
  std::map<std::string, size_t> selected;  // target -> index in out
  for (const auto& d : discovered) {
    if (selected.count(d.target)) continue;  // the same address twice: the first group wins
    EnrolledTarget t;
    t.target = d.target;
    t.group_labels = d.group_labels;
    t.target_labels = d.target_labels;
    t.first_seen_ms = now_ms;
    if (!d.relabel_kept) {
      t.state = TargetState::kDropped;
      t.reason = "dropped by relabel_configs";
    } else if (!selector_.Matches(d.target_labels)) {
      t.state = TargetState::kNotSelected;
      t.reason = "not selected by " + selector_.text();
    } else {
      selected[d.target] = out.size();
    }
    out.push_back(std::move(t));
  }

  // Forget what left discovery (not during a partial discovery).
  if (!partial) {
    for (auto it = held_.begin(); it != held_.end();) {
      if (!selected.count(it->first)) {
        it = held_.erase(it);
        *changed = true;
      } else {
        ++it;
      }
    }
    for (auto it = enrolled_.begin(); it != enrolled_.end();) {
      Entry& e = it->second;
      if (!selected.count(it->first)) {
        if (e.gone_at_ms == 0) {
          e.gone_at_ms = now_ms;
          *changed = true;
        }
        if (now_ms - e.gone_at_ms > growth_.window_ms) {
          it = enrolled_.erase(it);
          *changed = true;
          continue;
        }
      }
      ++it;
    }
  }
  if (held_.empty()) held_since_ms_ = 0;

  std::vector<std::string> fresh;
  for (const auto& [target, idx] : selected) {
    auto e = enrolled_.find(target);
    if (e != enrolled_.end()) {
      if (e->second.gone_at_ms != 0) {
        e->second.gone_at_ms = 0;  // came back within the window: not new
        *changed = true;
      }
      out[idx].first_seen_ms = e->second.enrolled_at_ms;
      continue;
    }
    auto h = held_.find(target);
    if (h != held_.end()) {
      out[idx].first_seen_ms = h->second;
      continue;
    }
    fresh.push_back(target);
  }

  size_t present = 0, recent = 0;
  for (const auto& [t, e] : enrolled_) {
    if (e.gone_at_ms != 0) continue;
    ++present;
    if (e.automatic && now_ms - e.enrolled_at_ms <= growth_.window_ms) ++recent;
  }
  if (!fresh.empty()) {
    bool hold = false;
    if (initialized_ && growth_.max_growth > 0) {
      size_t base = present - recent;
      auto limit = static_cast<size_t>(
          std::floor(static_cast<double>(base) * (1.0 + growth_.max_growth) + 1e-9));
      limit = std::max(limit, growth_.min_targets);
      if (!held_.empty() || present + fresh.size() > limit) {
        hold = true;
        if (held_.empty()) {
          held_since_ms_ = now_ms;
          hold_base_ = present;
          hold_limit_ = limit;
        }
      }
    }
    for (const auto& t : fresh) {
      if (hold) {
        held_[t] = now_ms;
      } else {
        enrolled_[t] = Entry{now_ms, initialized_, 0};
      }
    }
    *changed = true;
  }
  for (auto& [target, idx] : selected) {
    if (held_.count(target)) {
      out[idx].state = TargetState::kHeld;
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "held: the job grew from %zu to %zu targets within %llds "
                    "(max_growth %.2f, limit %zu); approve to enroll",
                    hold_base_, present + held_.size(),
                    static_cast<long long>(growth_.window_ms / 1000), growth_.max_growth,
                    hold_limit_);
      out[idx].reason = buf;
    }
  }
  initialized_ = true;
  return out;
}

size_t Enrollment::Approve(const std::string& target, int64_t now_ms) {
  size_t n = 0;
  for (auto it = held_.begin(); it != held_.end();) {
    if (target.empty() || it->first == target) {
      enrolled_[it->first] = Entry{now_ms, false, 0};
      it = held_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  if (held_.empty()) held_since_ms_ = 0;
  return n;
}

std::string Enrollment::SaveJson() const {
  std::string j = "{\"enrolled\":{";
  bool first = true;
  for (const auto& [t, e] : enrolled_) {
    j += (first ? "" : ",") + JsonString(t) + ":{\"at\":" + std::to_string(e.enrolled_at_ms) +
         ",\"auto\":" + (e.automatic ? "true" : "false") + "}";
    first = false;
  }
  j += "},\"held\":{";
  first = true;
  for (const auto& [t, at] : held_) {
    j += (first ? "" : ",") + JsonString(t) + ":" + std::to_string(at);
    first = false;
  }
  j += "},\"held_since\":" + std::to_string(held_since_ms_) +
       ",\"hold_base\":" + std::to_string(hold_base_) +
       ",\"hold_limit\":" + std::to_string(hold_limit_) + "}";
  return j;
}

size_t Enrollment::enrolled() const {
  size_t n = 0;
  for (const auto& [t, e] : enrolled_) n += e.gone_at_ms == 0;
  return n;
}

void Enrollment::Restore(const std::vector<SavedTarget>& saved, int64_t held_since_ms,
                         size_t hold_base, size_t hold_limit) {
  enrolled_.clear();
  held_.clear();
  for (const auto& s : saved) {
    if (s.held) {
      held_[s.target] = s.at_ms;
    } else {
      enrolled_[s.target] = Entry{s.at_ms, s.automatic, 0};
    }
  }
  held_since_ms_ = held_.empty() ? 0 : held_since_ms;
  hold_base_ = hold_base;
  hold_limit_ = hold_limit;
  initialized_ = true;
}

}  // namespace kansoku::scrape
