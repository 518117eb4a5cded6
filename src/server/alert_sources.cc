#include "server/alert_sources.h"

#include <cstdio>

#include "base/clock.h"
#include "base/strings.h"
#include "meta/host_store.h"

namespace kansoku::server {
namespace {

tsdb::Labels HostLabels(const std::string& alertname, const meta::HostInfo& h) {
  std::string roles;
  for (const auto& r : h.roles) roles += (roles.empty() ? "" : ",") + r;
  return tsdb::Labels{{"alertname", alertname}, {"host", h.name}, {"host_id", h.id},
                      {"service", h.service},   {"roles", roles}, {"host_status", h.status}};
}

class HostConnectivity : public alert::Source {
 public:
  HostConnectivity(meta::HostStore* hosts, int64_t interval_ms)
      : hosts_(hosts), interval_ms_(interval_ms) {}
  std::string name() const override { return "host_connectivity"; }
  int64_t interval_ms() const override { return interval_ms_; }
  Result<std::vector<alert::SourceInstance>> Collect(int64_t now_ms) override {
    std::vector<alert::SourceInstance> out;
    for (const auto& h : hosts_->Unreachable()) {
      alert::SourceInstance s;
      s.labels = HostLabels("HostDown", h);
      double silent_s = static_cast<double>(now_ms - h.last_heartbeat_ms) / 1000.0;
      char buf[256];
      std::snprintf(buf, sizeof buf, "host %s sent no heartbeat for %.0fs (interval %.0fs)",
                    h.name.c_str(), silent_s, static_cast<double>(h.interval_ms) / 1000.0);
      s.annotations["summary"] = buf;
      s.value = silent_s;
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  meta::HostStore* hosts_;
  int64_t interval_ms_;
};

class HostChecks : public alert::Source {
 public:
  HostChecks(meta::HostStore* hosts, int64_t interval_ms)
      : hosts_(hosts), interval_ms_(interval_ms) {}
  std::string name() const override { return "host_checks"; }
  int64_t interval_ms() const override { return interval_ms_; }
  Result<std::vector<alert::SourceInstance>> Collect(int64_t) override {
    std::vector<alert::SourceInstance> out;
    for (const auto& h : hosts_->List()) {
      if (h.retired() || (h.status != "working" && h.status != "standby")) continue;
      for (const auto& c : h.checks) {
        if (c.status == "OK") continue;
        alert::SourceInstance s;
        tsdb::LabelsBuilder b(HostLabels("CheckFailed", h));
        b.Set("check", c.name);
        b.Set("severity", ToLower(c.status));
        s.labels = b.Build();
        s.annotations["summary"] = "check " + c.name + " on " + h.name + " is " + c.status;
        if (!c.message.empty()) s.annotations["description"] = c.message;
        s.value = c.status == "WARNING" ? 1 : c.status == "CRITICAL" ? 2 : 3;
        out.push_back(std::move(s));
      }
    }
    return out;
  }

 private:
  meta::HostStore* hosts_;
  int64_t interval_ms_;
};

}  // namespace

std::unique_ptr<alert::Source> MakeHostConnectivitySource(meta::HostStore* hosts,
                                                          int64_t interval_ms) {
  return std::make_unique<HostConnectivity>(hosts, interval_ms);
}
std::unique_ptr<alert::Source> MakeHostChecksSource(meta::HostStore* hosts, int64_t interval_ms) {
  return std::make_unique<HostChecks>(hosts, interval_ms);
}

}  // namespace kansoku::server
