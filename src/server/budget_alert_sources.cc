// Usage budgets (monitor_sources.h, docs/design/usage.md): warn before a hard limit is reached.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>

#include "errors/store.h"
#include "logs/query/engine.h"
#include "logs/query/parser.h"
#include "logs/store.h"
#include "meta/host_store.h"
#include "server/monitor_sources.h"
#include "usage/guard.h"

namespace kansoku::server {
namespace {

std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}
std::string Pct(double f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f%%", f * 100);
  return buf;
}
std::string SelectorText(const std::map<std::string, std::string>& sel) {
  std::string s;
  for (const auto& [k, v] : sel) s += (s.empty() ? "" : ",") + k + "=" + v;
  return s.empty() ? "everything" : s;
}

struct Budget {
  config::BudgetConfig cfg;
  bool implicit = false;
  logs::query::Query log_query;  // log_lines
  // error_events: cumulative events of the selected projects, sampled each run.
  std::deque<std::pair<int64_t, uint64_t>> samples;
  int64_t first_sample_ms = 0;
};

class BudgetSource : public alert::Source {
 public:
  BudgetSource(BudgetDeps deps, std::vector<Budget> budgets, double limit_warn_at,
               int64_t interval_ms)
      : d_(deps),
        budgets_(std::move(budgets)),
        limit_warn_at_(limit_warn_at),
        interval_ms_(interval_ms) {}
  std::string name() const override { return "budgets"; }
  int64_t interval_ms() const override { return interval_ms_; }

  Result<std::vector<alert::SourceInstance>> Collect(int64_t now_ms) override {
    std::vector<alert::SourceInstance> out;
    for (auto& b : budgets_) {
      KANSOKU_ASSIGN_OR_RETURN(double value, Measure(b, now_ms));
      Emit(b.cfg, value, b.cfg.kind + " " + SelectorText(b.cfg.selector), &out);
    }
    // Implicit budgets: every per-token hard limit warns at limit_warn_at of it.
    if (d_.guard && limit_warn_at_ > 0) {
      for (const auto& t : d_.guard->Tenants()) {
        struct L {
          const char* name;
          double limit;
          double value;
          const char* what;
        } ls[] = {{"max_active_series", static_cast<double>(t.limits.max_active_series),
                   static_cast<double>(t.active_series), "active series"},
                  {"max_new_series_per_hour", static_cast<double>(t.limits.max_new_series_per_hour),
                   static_cast<double>(t.new_series_last_hour), "new series in the last hour"},
                  {"max_samples_per_second", t.limits.max_samples_per_second, t.samples_per_second,
                   "samples/s"},
                  {"max_events_per_minute", t.limits.max_events_per_minute, t.events_per_minute,
                   "error events/min"},
                  {"max_log_bytes_per_second", t.limits.max_log_bytes_per_second,
                   t.log_bytes_per_second, "log bytes/s"}};
        for (const auto& l : ls) {
          if (!(l.limit > 0)) continue;
          config::BudgetConfig c;
          c.name = "limit:" + t.name + ":" + l.name;
          c.kind = l.name;
          c.selector["token"] = t.name;
          c.limit = l.limit;
          c.warn_at = limit_warn_at_;
          c.critical_at = 0;  // at 100% the hard limit refuses (and counts) by itself
          Emit(c, l.value,
               std::string(l.what) + " of token " + t.name + " (hard limit " + Num(c.limit) + ")",
               &out);
        }
      }
    }
    return out;
  }

 private:
  void Emit(const config::BudgetConfig& c, double value, const std::string& what,
            std::vector<alert::SourceInstance>* out) {
    double frac = value / c.limit;
    const char* severity = nullptr;
    if (c.critical_at > 0 && frac >= c.critical_at) {
      severity = "critical";
    } else if (frac >= c.warn_at) {
      severity = "warning";
    }
    if (!severity) return;
    alert::SourceInstance s;
    tsdb::LabelsBuilder lb(tsdb::Labels{{"alertname", "UsageBudget"},
                                        {"budget", c.name},
                                        {"kind", c.kind},
                                        {"severity", severity}});
    for (const auto& [k, v] : c.selector) {
      if (tsdb::IsValidLabelName(k) && k != "alertname" && k != "severity") lb.Set(k, v);
    }
    for (const auto& [k, v] : c.labels) lb.Set(k, v);
    s.labels = lb.Build();
    s.annotations["summary"] = "budget " + c.name + ": " + Num(value) + " of " + Num(c.limit) +
                               " (" + Pct(frac) + ") " + what;
    s.annotations["limit"] = Num(c.limit);
    s.annotations["used"] = Pct(frac);
    s.value = value;
    out->push_back(std::move(s));
  }

  Result<double> Measure(Budget& b, int64_t now_ms) {
    const auto& sel = b.cfg.selector;
    auto want = [&](const char* k) -> const std::string* {
      auto it = sel.find(k);
      return it == sel.end() ? nullptr : &it->second;
    };
    if (b.cfg.kind == "hosts") {
      double n = 0;
      for (const auto& h : d_.hosts->List()) {
        if (h.retired()) continue;
        if (auto* v = want("service"); v && h.service != *v) continue;
        if (auto* v = want("status"); v && h.status != *v) continue;
        if (auto* v = want("role");
            v && std::find(h.roles.begin(), h.roles.end(), *v) == h.roles.end()) {
          continue;
        }
        ++n;
      }
      return n;
    }
    if (b.cfg.kind == "active_series") {
      double n = 0;
      if (sel.empty() || want("token")) {
        for (const auto& t : d_.guard->Tenants()) {
          if (auto* v = want("token"); v && t.name != *v) continue;
          n += static_cast<double>(t.active_series);
        }
        return n;
      }
      const auto& [k, v] = *sel.begin();
      for (const auto& s : d_.guard->Sources(k)) {
        if (s.name == v) n += static_cast<double>(s.active_series);
      }
      return n;
    }
    if (b.cfg.kind == "error_events") {
      int64_t project = 0;
      if (auto* v = want("project")) project = std::strtoll(v->c_str(), nullptr, 10);
      errors::IssueQuery q;
      q.project = project;
      q.limit = 1000000;
      uint64_t total = 0, born_in_window = 0;
      for (const auto& is : d_.errors->ListIssues(q)) {
        total += is.count;
        if (is.first_seen_ms > now_ms - b.cfg.window_ms) born_in_window += is.count;
      }
      if (b.samples.empty()) b.first_sample_ms = now_ms;
      b.samples.emplace_back(now_ms, total);
      while (b.samples.size() >= 2 && b.samples[1].first <= now_ms - b.cfg.window_ms) {
        b.samples.pop_front();
      }
      // Before the first sample covers the window (warm-up), issues born in the window count
      // in full: a burst right after a start is not missed.
      uint64_t before = b.samples.front().second;
      uint64_t in_window = total > before ? total - before : 0;
      if (b.first_sample_ms > now_ms - b.cfg.window_ms)
        in_window = std::max(in_window, born_in_window);
      return static_cast<double>(in_window);
    }
    // log_lines
    const int64_t now_ns = now_ms * 1000000, start_ns = (now_ms - b.cfg.window_ms) * 1000000;
    KANSOKU_ASSIGN_OR_RETURN(auto hits, logs::query::Hits(*d_.logs, b.log_query, now_ns, start_ns,
                                                          now_ns + 1, now_ns + 1 - start_ns));
    double n = 0;
    for (const auto& h : hits) n += static_cast<double>(h.count);
    return n;
  }

  BudgetDeps d_;
  std::vector<Budget> budgets_;
  double limit_warn_at_;
  int64_t interval_ms_;
};

}  // namespace

Result<std::unique_ptr<alert::Source>> MakeBudgetSource(const BudgetDeps& deps,
                                                        const std::vector<config::BudgetConfig>& in,
                                                        double limit_warn_at, int64_t interval_ms) {
  std::vector<Budget> budgets;
  for (const auto& c : in) {
    Budget b;
    b.cfg = c;
    auto missing = [&](const char* what) {
      return Status::InvalidArgument("budgets (" + c.name + "): kind " + c.kind + " needs " + what +
                                     ", which this server does not run");
    };
    if (c.kind == "hosts" && !deps.hosts) return missing("the hosts registry");
    if (c.kind == "active_series" && !deps.guard) return missing("the usage guard");
    if (c.kind == "error_events" && !deps.errors) return missing("error tracking");
    if (c.kind == "log_lines") {
      if (!deps.logs) return missing("the log store");
      std::string q;
      for (const auto& [k, v] : c.selector) {
        std::string esc;
        for (char ch : v) {
          if (ch == '"' || ch == '\\') esc += '\\';
          esc += ch;
        }
        q += (q.empty() ? "{" : ", ") + k + "=\"" + esc + "\"";
      }
      q = q.empty() ? "*" : q + "}";
      auto parsed = logs::query::ParseLogQuery(q);
      if (!parsed.ok()) {
        return Status::InvalidArgument("budgets (" + c.name +
                                       "): selector: " + parsed.status().message());
      }
      b.log_query = std::move(parsed).value();
    }
    budgets.push_back(std::move(b));
  }
  return std::unique_ptr<alert::Source>(
      std::make_unique<BudgetSource>(deps, std::move(budgets), limit_warn_at, interval_ms));
}

}  // namespace kansoku::server
