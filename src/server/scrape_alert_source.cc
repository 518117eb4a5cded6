#include "server/scrape_alert_source.h"

#include <cstdio>

#include "server/scrape_wiring.h"

namespace kansoku::server {
namespace {

class TargetSetHeld : public alert::Source {
 public:
  TargetSetHeld(const ScrapeService* scrape, int64_t interval_ms)
      : scrape_(scrape), interval_ms_(interval_ms) {}
  std::string name() const override { return "scrape_target_growth"; }
  int64_t interval_ms() const override { return interval_ms_; }
  Result<std::vector<alert::SourceInstance>> Collect(int64_t now_ms) override {
    std::vector<alert::SourceInstance> out;
    for (const auto& j : scrape_->Jobs()) {
      if (j.held > 0) out.push_back(Instance(j, "", ""));
    }
    for (const auto& a : scrape_->agent_targets()->Jobs(now_ms)) {
      if (a.status.held > 0) out.push_back(Instance(a.status, a.host, a.host_id));
    }
    return out;
  }

 private:
  // host "" = the server's own job.
  static alert::SourceInstance Instance(const scrape::JobStatus& j, const std::string& host,
                                        const std::string& host_id) {
    alert::SourceInstance s;
    s.labels = tsdb::Labels{{"alertname", "TargetSetHeld"},
                            {"job", j.job},
                            {"scope", host.empty() ? "server" : "agent"},
                            {"severity", "warning"},
                            {"host", host}};  // an empty host (server job) is dropped
    char buf[480];
    std::snprintf(buf, sizeof buf,
                  "scrape job %s%s%s: %zu new targets held (not scraped): the set grew from %zu "
                  "beyond its limit of %zu within %llds (max_growth %g, min_targets %zu)",
                  j.job.c_str(), host.empty() ? "" : " of the agent on ", host.c_str(), j.held,
                  j.hold_base, j.hold_limit, static_cast<long long>(j.growth_window_ms / 1000),
                  j.max_growth, j.min_targets);
    s.annotations["summary"] = buf;
    s.annotations["description"] =
        "Review GET /api/v1/targets?state=held; enroll them with `kansoku targets approve " +
        j.job + (host.empty() ? "" : " --host " + host) +
        "` (or POST /api/v1/targets/approve, or the Targets page).";
    if (!host_id.empty()) s.annotations["host_id"] = host_id;
    s.value = static_cast<double>(j.held);
    return s;
  }

  const ScrapeService* scrape_;
  int64_t interval_ms_;
};

}  // namespace

std::unique_ptr<alert::Source> MakeTargetSetHeldSource(const ScrapeService* scrape,
                                                       int64_t interval_ms) {
  return std::make_unique<TargetSetHeld>(scrape, interval_ms);
}

}  // namespace kansoku::server
