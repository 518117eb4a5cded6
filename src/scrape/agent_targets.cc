#include "scrape/agent_targets.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>

#include "net/http.h"

namespace kansoku::scrape {
namespace {

using net::JsonString;

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

std::string LabelsJson(const LabelSet& ls) {
  std::string j = "{";
  for (size_t i = 0; i < ls.size(); ++i) {
    j += (i ? "," : "") + JsonString(ls[i].first) + ":" + JsonString(ls[i].second);
  }
  return j + "}";
}

Result<TargetState> StateFromName(const std::string& s) {
  for (TargetState t : {TargetState::kActive, TargetState::kHeld, TargetState::kNotSelected,
                        TargetState::kDropped}) {
    if (TargetStateName(t) == s) return t;
  }
  return Status::InvalidArgument("unknown state \"" + s + "\"");
}

std::string Str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return v && v.IsScalar() ? v.as<std::string>() : std::string();
}

template <typename T>
T NumOf(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  return v && v.IsScalar() ? v.as<T>(T{}) : T{};
}

bool IsHeld(const TargetReport& r, const std::string& job, const std::string& target) {
  return std::any_of(r.targets.begin(), r.targets.end(), [&](const TargetStatus& t) {
    return t.state == TargetState::kHeld && t.job == job && t.target == target;
  });
}

}  // namespace

std::string EncodeTargetReport(const std::string& host_id, const std::string& host,
                               const std::vector<TargetStatus>& targets,
                               const std::vector<JobStatus>& jobs) {
  std::string j =
      "{\"host_id\":" + JsonString(host_id) + ",\"host\":" + JsonString(host) + ",\"jobs\":[";
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobStatus& s = jobs[i];
    j += (i ? "," : "") + std::string("{\"job\":") + JsonString(s.job) +
         ",\"selector\":" + JsonString(s.selector) + ",\"active\":" + std::to_string(s.active) +
         ",\"held\":" + std::to_string(s.held) +
         ",\"notSelected\":" + std::to_string(s.not_selected) +
         ",\"dropped\":" + std::to_string(s.dropped) +
         ",\"heldSince\":" + std::to_string(s.held_since_ms) +
         ",\"holdBase\":" + std::to_string(s.hold_base) +
         ",\"holdLimit\":" + std::to_string(s.hold_limit) + ",\"maxGrowth\":" + Num(s.max_growth) +
         ",\"minTargets\":" + std::to_string(s.min_targets) +
         ",\"growthWindowMs\":" + std::to_string(s.growth_window_ms) + ",\"sdErrors\":[";
    for (size_t k = 0; k < s.sd_errors.size(); ++k) {
      j += (k ? "," : "") + JsonString(s.sd_errors[k]);
    }
    j += "]}";
  }
  j += "],\"targets\":[";
  size_t n = std::min(targets.size(), kMaxReportedTargets);
  for (size_t i = 0; i < n; ++i) {
    const TargetStatus& t = targets[i];
    j += (i ? "," : "") + std::string("{\"job\":") + JsonString(t.job) +
         ",\"target\":" + JsonString(t.target) + ",\"url\":" + JsonString(t.url) +
         ",\"state\":" + JsonString(TargetStateName(t.state)) +
         ",\"reason\":" + JsonString(t.reason) + ",\"health\":" + JsonString(t.health) +
         ",\"lastError\":" + JsonString(t.last_error) +
         ",\"firstSeenMs\":" + std::to_string(t.first_seen_ms) +
         ",\"lastScrapeMs\":" + std::to_string(t.last_scrape_ms) +
         ",\"lastScrapeDuration\":" + Num(t.last_duration_s) +
         ",\"samplesPerScrape\":" + std::to_string(t.samples_per_scrape) +
         ",\"intervalMs\":" + std::to_string(t.interval_ms) +
         ",\"timeoutMs\":" + std::to_string(t.timeout_ms) + ",\"labels\":" + LabelsJson(t.labels) +
         ",\"discoveredLabels\":" + LabelsJson(t.discovered_labels) + "}";
  }
  j += "],\"truncated\":" + std::to_string(targets.size() - n) + "}";
  return j;
}

Result<TargetReport> DecodeTargetReport(std::string_view body) {
  TargetReport r;
  try {
    YAML::Node root = YAML::Load(std::string(body));
    if (!root.IsMap()) return Status::InvalidArgument("target report: expected a JSON object");
    r.host_id = Str(root, "host_id");
    r.host = Str(root, "host");
    if (r.host_id.empty()) {
      return Status::InvalidArgument("target report: field \"host_id\" is required");
    }
    r.truncated = NumOf<size_t>(root, "truncated");
    YAML::Node jobs = root["jobs"], targets = root["targets"];
    if ((jobs && !jobs.IsSequence()) || (targets && !targets.IsSequence())) {
      return Status::InvalidArgument("target report: fields \"jobs\" and \"targets\" are lists");
    }
    for (size_t i = 0; jobs && i < jobs.size(); ++i) {
      const YAML::Node n = jobs[i];
      JobStatus s;
      s.job = Str(n, "job");
      if (s.job.empty()) {
        return Status::InvalidArgument("target report: jobs[" + std::to_string(i) +
                                       "].job is required");
      }
      s.selector = Str(n, "selector");
      s.active = NumOf<size_t>(n, "active");
      s.held = NumOf<size_t>(n, "held");
      s.not_selected = NumOf<size_t>(n, "notSelected");
      s.dropped = NumOf<size_t>(n, "dropped");
      s.held_since_ms = NumOf<int64_t>(n, "heldSince");
      s.hold_base = NumOf<size_t>(n, "holdBase");
      s.hold_limit = NumOf<size_t>(n, "holdLimit");
      s.max_growth = NumOf<double>(n, "maxGrowth");
      s.min_targets = NumOf<size_t>(n, "minTargets");
      s.growth_window_ms = NumOf<int64_t>(n, "growthWindowMs");
      YAML::Node errs = n["sdErrors"];
      for (size_t k = 0; errs && errs.IsSequence() && k < errs.size(); ++k) {
        s.sd_errors.push_back(errs[k].as<std::string>(""));
      }
      r.jobs.push_back(std::move(s));
    }
    for (size_t i = 0; targets && i < targets.size() && i < kMaxReportedTargets; ++i) {
      const YAML::Node n = targets[i];
      TargetStatus t;
      t.job = Str(n, "job");
      t.target = Str(n, "target");
      if (t.job.empty() || t.target.empty()) {
        return Status::InvalidArgument("target report: targets[" + std::to_string(i) +
                                       "]: job and target are required");
      }
      auto st = StateFromName(Str(n, "state"));
      if (!st.ok()) {
        return Status::InvalidArgument("target report: targets[" + std::to_string(i) +
                                       "].state: " + st.status().message());
      }
      t.state = *st;
      t.url = Str(n, "url");
      t.reason = Str(n, "reason");
      t.health = Str(n, "health");
      if (t.health.empty()) t.health = "unknown";
      t.last_error = Str(n, "lastError");
      t.first_seen_ms = NumOf<int64_t>(n, "firstSeenMs");
      t.last_scrape_ms = NumOf<int64_t>(n, "lastScrapeMs");
      t.last_duration_s = NumOf<double>(n, "lastScrapeDuration");
      t.samples_per_scrape = NumOf<uint64_t>(n, "samplesPerScrape");
      t.interval_ms = NumOf<int64_t>(n, "intervalMs");
      t.timeout_ms = NumOf<int64_t>(n, "timeoutMs");
      for (const char* key : {"labels", "discoveredLabels"}) {
        YAML::Node ls = n[key];
        if (!ls || !ls.IsMap()) continue;
        LabelSet& out = key[0] == 'l' ? t.labels : t.discovered_labels;
        for (auto it = ls.begin(); it != ls.end(); ++it) {
          out.emplace_back(it->first.as<std::string>(), it->second.as<std::string>(""));
        }
      }
      r.targets.push_back(std::move(t));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("target report: cannot parse JSON: ") + e.what());
  }
  return r;
}

std::string EncodeApprovals(const std::vector<std::pair<std::string, std::string>>& approvals) {
  std::string j = "{\"status\":\"success\",\"data\":{\"approve\":[";
  for (size_t i = 0; i < approvals.size(); ++i) {
    j += (i ? "," : "") + std::string("{\"job\":") + JsonString(approvals[i].first) +
         ",\"target\":" + JsonString(approvals[i].second) + "}";
  }
  return j + "]}}";
}

Result<std::vector<std::pair<std::string, std::string>>> DecodeApprovals(std::string_view answer) {
  std::vector<std::pair<std::string, std::string>> out;
  try {
    YAML::Node root = YAML::Load(std::string(answer));
    YAML::Node list = root.IsMap() && root["data"] && root["data"].IsMap() ? root["data"]["approve"]
                                                                           : YAML::Node();
    if (!list || !list.IsSequence()) {
      return Status::InvalidArgument("target report answer: no data.approve list");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      std::string job = Str(list[i], "job"), target = Str(list[i], "target");
      if (job.empty() || target.empty()) {
        return Status::InvalidArgument("target report answer: approve[" + std::to_string(i) +
                                       "] needs job and target");
      }
      out.emplace_back(std::move(job), std::move(target));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("target report answer: ") + e.what());
  }
  return out;
}

AgentTargetRegistry::AgentTargetRegistry(int64_t forget_after_ms)
    : forget_after_ms_(forget_after_ms) {}

void AgentTargetRegistry::Expire(int64_t now_ms) const {
  hosts_.erase(
      std::remove_if(hosts_.begin(), hosts_.end(),
                     [&](const Host& h) { return now_ms - h.reported_ms > forget_after_ms_; }),
      hosts_.end());
}

std::vector<std::pair<std::string, std::string>> AgentTargetRegistry::Report(TargetReport report,
                                                                             int64_t now_ms) {
  std::lock_guard<std::mutex> lk(mu_);
  Expire(now_ms);
  auto it = std::find_if(hosts_.begin(), hosts_.end(),
                         [&](const Host& h) { return h.report.host_id == report.host_id; });
  if (it == hosts_.end()) {
    hosts_.emplace_back();
    it = hosts_.end() - 1;
  }
  it->report = std::move(report);
  it->reported_ms = now_ms;
  // Approvals this report shows applied (or whose target left) are done.
  auto& p = it->pending;
  p.erase(std::remove_if(p.begin(), p.end(),
                         [&](const auto& a) { return !IsHeld(it->report, a.first, a.second); }),
          p.end());
  return p;
}

Result<size_t> AgentTargetRegistry::Approve(const std::string& job, const std::string& target,
                                            const std::string& host, int64_t now_ms) {
  std::lock_guard<std::mutex> lk(mu_);
  Expire(now_ms);
  bool job_known = false;
  size_t n = 0;
  for (Host& h : hosts_) {
    if (!host.empty() && host != h.report.host_id && host != h.report.host) continue;
    for (const JobStatus& j : h.report.jobs) job_known = job_known || j.job == job;
    for (const TargetStatus& t : h.report.targets) {
      if (t.state != TargetState::kHeld || t.job != job) continue;
      if (!target.empty() && t.target != target) continue;
      std::pair<std::string, std::string> a(t.job, t.target);
      if (std::find(h.pending.begin(), h.pending.end(), a) == h.pending.end()) {
        h.pending.push_back(std::move(a));
      }
      ++n;
    }
  }
  if (!job_known) {
    return Status::NotFound("no reporting agent" + (host.empty() ? "" : " on host " + host) +
                            " has a scrape job \"" + job + "\"");
  }
  if (n == 0 && !target.empty()) {
    return Status::NotFound("no agent's job " + job + " holds a target \"" + target + "\"");
  }
  return n;
}

std::vector<AgentTarget> AgentTargetRegistry::Targets(int64_t now_ms) const {
  std::lock_guard<std::mutex> lk(mu_);
  Expire(now_ms);
  std::vector<AgentTarget> out;
  for (const Host& h : hosts_) {
    for (const TargetStatus& t : h.report.targets) {
      out.push_back({h.report.host_id, h.report.host, h.reported_ms, t});
    }
  }
  return out;
}

std::vector<AgentJob> AgentTargetRegistry::Jobs(int64_t now_ms) const {
  std::lock_guard<std::mutex> lk(mu_);
  Expire(now_ms);
  std::vector<AgentJob> out;
  for (const Host& h : hosts_) {
    for (const JobStatus& j : h.report.jobs) {
      out.push_back({h.report.host_id, h.report.host, h.reported_ms, j});
    }
  }
  return out;
}

size_t AgentTargetRegistry::pending() const {
  std::lock_guard<std::mutex> lk(mu_);
  size_t n = 0;
  for (const Host& h : hosts_) n += h.pending.size();
  return n;
}

}  // namespace kansoku::scrape
