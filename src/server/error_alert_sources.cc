// Built-in monitors over error tracking (monitor_sources.h): issue alerts and cron check-ins.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include "alert/cron.h"
#include "base/log.h"
#include "errors/store.h"
#include "server/monitor_sources.h"

namespace kansoku::server {
namespace {

std::string Secs(int64_t ms) {
  char buf[64];
  if (ms % 60000 == 0 && ms >= 60000) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(ms / 60000));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(ms / 1000));
  }
  return buf;
}

std::string IsoUtc(int64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Cumulative counts sampled over time; CountAt answers "what was the count at time t".
// A sample (t, c) means "c from t on"; equal consecutive counts are not stored.
class CountHistory {
 public:
  void Add(int64_t t, uint64_t c) {
    if (samples_.empty() || samples_.back().second != c) samples_.emplace_back(t, c);
  }
  // Count at t: the newest sample at or before t; before the first sample: 0 when the thing
  // was born after t, else the first sample (warm-up: under-counts).
  uint64_t CountAt(int64_t t, int64_t born_ms) const {
    uint64_t v = 0;
    bool found = false;
    for (const auto& [st, c] : samples_) {
      if (st > t) break;
      v = c;
      found = true;
    }
    if (found) return v;
    if (born_ms > t || samples_.empty()) return 0;
    return samples_.front().second;
  }
  // Keeps what CountAt(t >= horizon) needs.
  void Prune(int64_t horizon) {
    while (samples_.size() >= 2 && samples_[1].first <= horizon) samples_.pop_front();
  }

 private:
  std::deque<std::pair<int64_t, uint64_t>> samples_;
};

class IssueSource : public alert::Source {
 public:
  IssueSource(errors::ErrorStore* store, config::ErrorMonitorsConfig cfg, int64_t interval_ms)
      : store_(store), cfg_(std::move(cfg)), interval_ms_(interval_ms) {
    for (const auto& t : cfg_.event_thresholds) max_window_ = std::max(max_window_, t.window_ms);
  }
  std::string name() const override { return "error_issues"; }
  int64_t interval_ms() const override { return interval_ms_; }

  Result<std::vector<alert::SourceInstance>> Collect(int64_t now_ms) override {
    errors::IssueQuery q;
    q.limit = 1000000;
    q.sort = "last_seen";
    std::vector<alert::SourceInstance> out;
    std::unordered_map<uint64_t, bool> seen;
    for (const auto& is : store_->ListIssues(q)) {
      if (!cfg_.projects.empty() && std::find(cfg_.projects.begin(), cfg_.projects.end(),
                                              is.project) == cfg_.projects.end()) {
        continue;
      }
      seen[is.id] = true;
      std::string project = std::to_string(is.project), issue = std::to_string(is.id);
      auto base = [&](const char* alertname) {
        return tsdb::LabelsBuilder(tsdb::Labels{{"alertname", alertname},
                                                {"project", project},
                                                {"issue", issue},
                                                {"level", is.level.empty() ? "error" : is.level}});
      };
      auto annotate = [&](alert::SourceInstance* s, const std::string& summary) {
        s->annotations["summary"] = summary;
        s->annotations["title"] = is.title;
        if (!is.culprit.empty()) s->annotations["culprit"] = is.culprit;
        s->annotations["events"] = std::to_string(is.count);
        s->annotations["first_seen"] = IsoUtc(is.first_seen_ms);
        s->annotations["last_seen"] = IsoUtc(is.last_seen_ms);
        if (!is.last_release.empty()) s->annotations["release"] = is.last_release;
        if (!is.assignee.empty()) s->annotations["assignee"] = is.assignee;
        s->annotations["issue_url"] = "/api/v1/issues/" + issue;
      };
      if (cfg_.new_issue && is.status == errors::IssueStatus::kUnresolved &&
          is.first_seen_ms >= now_ms - cfg_.new_issue_window_ms) {
        alert::SourceInstance s;
        s.labels = base("NewIssue").Build();
        annotate(&s, "new issue in project " + project + ": " + is.title);
        s.value = static_cast<double>(is.count);
        out.push_back(std::move(s));
      }
      if (cfg_.regression && is.status == errors::IssueStatus::kRegressed) {
        alert::SourceInstance s;
        s.labels = base("IssueRegressed").Build();
        std::string rel =
            is.resolved_release.empty() ? "" : " (resolved in " + is.resolved_release + ")";
        annotate(&s, "issue regressed in project " + project + rel + ": " + is.title);
        s.value = static_cast<double>(is.count);
        out.push_back(std::move(s));
      }
      if (cfg_.event_thresholds.empty()) continue;
      auto& h = history_[is.id];
      h.Add(now_ms, is.count);
      h.Prune(now_ms - max_window_);
      for (const auto& t : cfg_.event_thresholds) {
        if (t.project && t.project != is.project) continue;
        if (!t.level.empty() && t.level != is.level) continue;
        if (is.last_seen_ms < now_ms - t.window_ms) continue;
        uint64_t before = h.CountAt(now_ms - t.window_ms, is.first_seen_ms);
        uint64_t in_window = is.count > before ? is.count - before : 0;
        if (in_window <= t.events) continue;
        alert::SourceInstance s;
        auto b = base("IssueEventsAboveThreshold");
        b.Set("window", Secs(t.window_ms));
        b.Set("threshold", std::to_string(t.events));
        for (const auto& [k, v] : t.labels) b.Set(k, v);
        s.labels = b.Build();
        annotate(&s, std::to_string(in_window) + " events in " + Secs(t.window_ms) +
                         " (more than " + std::to_string(t.events) + ") in project " + project +
                         ": " + is.title);
        s.value = static_cast<double>(in_window);
        out.push_back(std::move(s));
      }
    }
    // Deleted issues leave the history.
    for (auto it = history_.begin(); it != history_.end();) {
      it = seen.count(it->first) ? std::next(it) : history_.erase(it);
    }
    return out;
  }

 private:
  errors::ErrorStore* store_;
  const config::ErrorMonitorsConfig cfg_;
  int64_t interval_ms_;
  int64_t max_window_ = 0;
  std::unordered_map<uint64_t, CountHistory> history_;
};

// One monitor's effective configuration.
struct CronPlan {
  bool has_schedule = false;
  alert::CronSchedule schedule;
  alert::TimeZone tz;
  int64_t margin_ms = 0, max_runtime_ms = 0;
  std::map<std::string, std::string> labels;
  std::string origin;  // "server" | "sdk"
};

class CronSource : public alert::Source {
 public:
  CronSource(errors::ErrorStore* store, config::CronMonitorsConfig cfg, int64_t interval_ms,
             int64_t start_ms)
      : store_(store), cfg_(std::move(cfg)), interval_ms_(interval_ms), start_ms_(start_ms) {}
  std::string name() const override { return "cron"; }
  int64_t interval_ms() const override { return interval_ms_; }

  // Parses every server-side definition (called once at construction by the factory).
  Status Prepare() {
    for (size_t i = 0; i < cfg_.monitors.size(); ++i) {
      const auto& d = cfg_.monitors[i];
      std::string where = "monitors.cron.monitors[" + std::to_string(i) + "] (" + d.slug + "): ";
      auto s = alert::CronSchedule::Parse(d.schedule);
      if (!s.ok()) return Status::InvalidArgument(where + "schedule: " + s.status().message());
      auto tz = alert::TimeZone::Load(d.timezone);
      if (!tz.ok()) return Status::InvalidArgument(where + "timezone: " + tz.status().message());
      CronPlan p;
      p.has_schedule = true;
      p.schedule = std::move(s).value();
      p.tz = std::move(tz).value();
      p.margin_ms = d.margin_ms >= 0 ? d.margin_ms : cfg_.default_margin_ms;
      p.max_runtime_ms = d.max_runtime_ms >= 0 ? d.max_runtime_ms : cfg_.default_max_runtime_ms;
      p.labels = d.labels;
      p.origin = "server";
      server_.push_back({d.project, d.slug, std::move(p)});
    }
    return Status::Ok();
  }

  Result<std::vector<alert::SourceInstance>> Collect(int64_t now_ms) override {
    std::vector<alert::SourceInstance> out;
    std::map<std::pair<int64_t, std::string>, const errors::MonitorState*> states;
    auto monitors = store_->MonitorsOf(0);
    for (const auto& m : monitors) states[{m.project, m.slug}] = &m;
    // Server-side definitions that never checked in: due from the server's start.
    for (const auto& d : server_) {
      bool any = false;
      for (const auto& m : monitors)
        any |= m.slug == d.slug && (!d.project || m.project == d.project);
      if (!any) {
        errors::MonitorState m;
        m.project = d.project;
        m.slug = d.slug;
        Check(m, d.plan, now_ms, &out);
      }
    }
    for (const auto& m : monitors) {
      CronPlan plan;
      if (!PlanFor(m, &plan)) continue;
      Check(m, plan, now_ms, &out);
    }
    return out;
  }

 private:
  struct ServerDef {
    int64_t project;
    std::string slug;
    CronPlan plan;
  };

  // Effective plan: a server definition wins; else the SDK's monitor_config; false = the
  // monitor is neither configured nor scheduled and is only checked for failures.
  bool PlanFor(const errors::MonitorState& m, CronPlan* plan) {
    for (const auto& d : server_) {
      if (d.slug == m.slug && (!d.project || d.project == m.project)) {
        *plan = d.plan;
        return true;
      }
    }
    plan->origin = "sdk";
    plan->margin_ms = m.checkin_margin_min >= 0 ? static_cast<int64_t>(m.checkin_margin_min * 60000)
                                                : cfg_.default_margin_ms;
    plan->max_runtime_ms = m.max_runtime_min > 0 ? static_cast<int64_t>(m.max_runtime_min * 60000)
                                                 : cfg_.default_max_runtime_ms;
    if (m.schedule_type.empty()) return true;
    // Parsed once per distinct config (SDKs send it with every check-in).
    std::string key = m.schedule_type + "|" + m.schedule + "|" + m.schedule_unit + "|" + m.timezone;
    auto it = sdk_plans_.find(key);
    if (it == sdk_plans_.end()) {
      Result<alert::CronSchedule> s =
          Status::InvalidArgument("unknown schedule type \"" + m.schedule_type + "\"");
      if (m.schedule_type == "crontab") s = alert::CronSchedule::ParseCrontab(m.schedule);
      if (m.schedule_type == "interval") {
        s = alert::CronSchedule::SentryInterval(std::strtoll(m.schedule.c_str(), nullptr, 10),
                                                m.schedule_unit);
      }
      auto tz = alert::TimeZone::Load(m.timezone);
      std::optional<std::pair<alert::CronSchedule, alert::TimeZone>> v;
      if (s.ok() && tz.ok()) {
        v.emplace(std::move(s).value(), std::move(tz).value());
      } else {
        log::Warn(
            "cron monitor config ignored",
            {{"monitor", m.slug}, {"err", !s.ok() ? s.status().message() : tz.status().message()}});
      }
      it = sdk_plans_.emplace(key, std::move(v)).first;
    }
    if (it->second) {
      plan->has_schedule = true;
      plan->schedule = it->second->first;
      plan->tz = it->second->second;
    }
    return true;
  }

  void Check(const errors::MonitorState& m, const CronPlan& plan, int64_t now_ms,
             std::vector<alert::SourceInstance>* out) {
    auto make = [&](const char* alertname, const std::string& summary, double value) {
      alert::SourceInstance s;
      tsdb::LabelsBuilder b(tsdb::Labels{
          {"alertname", alertname}, {"project", std::to_string(m.project)}, {"monitor", m.slug}});
      for (const auto& [k, v] : plan.labels) b.Set(k, v);
      s.labels = b.Build();
      s.annotations["summary"] = summary;
      if (plan.has_schedule) {
        s.annotations["schedule"] =
            plan.schedule.text() + " (" + plan.tz.name() + ", from " + plan.origin + ")";
      }
      if (m.last_checkin_ms) s.annotations["last_checkin"] = IsoUtc(m.last_checkin_ms);
      if (!m.environment.empty()) s.annotations["environment"] = m.environment;
      s.value = value;
      out->push_back(std::move(s));
    };
    if (cfg_.failed && m.last_result == "error") {
      make("CronFailed",
           "cron monitor " + m.slug + ": the last run failed (status error at " +
               IsoUtc(m.last_result_ms) + ")",
           1);
    }
    if (!m.open_checkin_id.empty() && now_ms - m.open_since_ms > plan.max_runtime_ms) {
      make("CronTimeout",
           "cron monitor " + m.slug + ": run in progress since " + IsoUtc(m.open_since_ms) +
               ", longer than max_runtime " + Secs(plan.max_runtime_ms),
           static_cast<double>(now_ms - m.open_since_ms) / 1000.0);
    }
    if (!plan.has_schedule) return;
    int64_t base = m.last_start_ms ? m.last_start_ms : start_ms_;
    int64_t due = plan.schedule.NextAfter(base, plan.tz);
    if (due < 0 || now_ms <= due + plan.margin_ms) return;
    make("CronMissed",
         "cron monitor " + m.slug + ": missed check-in due at " + IsoUtc(due) + " (margin " +
             Secs(plan.margin_ms) + ")",
         static_cast<double>(now_ms - due) / 1000.0);
  }

  errors::ErrorStore* store_;
  const config::CronMonitorsConfig cfg_;
  int64_t interval_ms_;
  int64_t start_ms_;
  std::vector<ServerDef> server_;
  std::map<std::string, std::optional<std::pair<alert::CronSchedule, alert::TimeZone>>> sdk_plans_;
};

}  // namespace

std::unique_ptr<alert::Source> MakeIssueSource(errors::ErrorStore* store,
                                               const config::ErrorMonitorsConfig& cfg,
                                               int64_t interval_ms) {
  return std::make_unique<IssueSource>(store, cfg, interval_ms);
}

Result<std::unique_ptr<alert::Source>> MakeCronSource(errors::ErrorStore* store,
                                                      const config::CronMonitorsConfig& cfg,
                                                      int64_t interval_ms, int64_t start_ms) {
  auto s = std::make_unique<CronSource>(store, cfg, interval_ms, start_ms);
  KANSOKU_RETURN_IF_ERROR(s->Prepare());
  return std::unique_ptr<alert::Source>(std::move(s));
}

}  // namespace kansoku::server
