#pragma once
// Agent scrape targets on the server (docs/design/scrape.md §6): the agent reports its targets
// and jobs (states active/held/not_selected/dropped, health, last scrape) after each heartbeat
// with POST /api/v1/targets/report; the server keeps the last report per host in an
// AgentTargetRegistry, lists it next to its own targets, and answers each report with the
// approvals an operator gave since (`kansoku targets approve`, the API, the UI). The agent
// applies them to its Scraper, which persists them in its own state file.
//
// Wire format (JSON, both directions; see scrape.md §6):
//   report  {"host_id":H,"host":NAME,"jobs":[{job,selector,active,held,notSelected,dropped,
//            heldSince,holdBase,holdLimit,maxGrowth,minTargets,growthWindowMs}],
//            "targets":[{job,target,url,state,reason,health,lastError,firstSeenMs,lastScrapeMs,
//            lastScrapeDuration,samplesPerScrape,intervalMs,timeoutMs,labels:{..}}],
//            "truncated":N}
//   answer  {"status":"success","data":{"approve":[{"job":J,"target":T},...]}}
// An approval stays pending until a report no longer lists its target as held (applied, or the
// target left discovery), or its host stops reporting: a lost answer is re-sent with the next.
//
// Thread safety: the free functions are pure; AgentTargetRegistry is thread-safe.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "scrape/scraper.h"

namespace kansoku::scrape {

// At most this many targets per report (the rest is counted in "truncated").
inline constexpr size_t kMaxReportedTargets = 5000;

// Agent side: the report body.
std::string EncodeTargetReport(const std::string& host_id, const std::string& host,
                               const std::vector<TargetStatus>& targets,
                               const std::vector<JobStatus>& jobs);
// Agent side: the approvals of the server's answer (job, target). InvalidArgument when the answer
// is not the JSON shape above.
Result<std::vector<std::pair<std::string, std::string>>> DecodeApprovals(std::string_view answer);

struct TargetReport {
  std::string host_id, host;
  std::vector<TargetStatus> targets;
  std::vector<JobStatus> jobs;
  size_t truncated = 0;
};
// Server side: InvalidArgument naming the field when the body is not a report.
Result<TargetReport> DecodeTargetReport(std::string_view body);
// Server side: the answer body carrying approvals.
std::string EncodeApprovals(const std::vector<std::pair<std::string, std::string>>& approvals);

// One agent's target or job as the server lists it.
struct AgentTarget {
  std::string host_id, host;
  int64_t reported_ms = 0;
  TargetStatus status;
};
struct AgentJob {
  std::string host_id, host;
  int64_t reported_ms = 0;
  JobStatus status;
};

class AgentTargetRegistry {
 public:
  // Reports older than `forget_after_ms` are dropped (the agent stopped or lost its jobs).
  explicit AgentTargetRegistry(int64_t forget_after_ms = 3600 * 1000);

  // Stores the report (replacing the host's previous one); returns the approvals to deliver.
  std::vector<std::pair<std::string, std::string>> Report(TargetReport report, int64_t now_ms);
  // Marks the held targets of `job` (all, or only `target`; on every host, or only the host whose
  // id or name is `host`) for approval at their next report. Returns how many targets; NotFound
  // when no reporting agent has the job (or holds the named target).
  Result<size_t> Approve(const std::string& job, const std::string& target, const std::string& host,
                         int64_t now_ms);
  std::vector<AgentTarget> Targets(int64_t now_ms) const;
  std::vector<AgentJob> Jobs(int64_t now_ms) const;
  // Approvals waiting for their agent's next report.
  size_t pending() const;

 private:
  struct Host {
    TargetReport report;
    int64_t reported_ms = 0;
    std::vector<std::pair<std::string, std::string>> pending;  // (job, target)
  };
  void Expire(int64_t now_ms) const;  // REQUIRES(mu_)

  int64_t forget_after_ms_;
  mutable std::mutex mu_;
  mutable std::vector<Host> hosts_;  // GUARDED_BY(mu_); few hosts per server, linear scans
};

}  // namespace kansoku::scrape
