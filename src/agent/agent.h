#pragma once
// Agent: the composition root of `kansoku agent`. Every interval it runs the collectors into
// one SampleBatch, labels it (host, service, role), hands it to the Shipper; a second thread
// keeps the host registered and heartbeating (Inventory). Start/Stop order: shipper, collection
// loop, inventory; Stop reverses it and reports the configured stop status (poweroff) or
// retires the host.
//
// The agent library links base and net only (no storage, query or ingest code): see
// src/agent/CMakeLists.txt.
// Thread safety: Start/Stop/Wait from one thread. Ownership: owns collectors, shipper, threads.
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/collectors/cgroup.h"
#include "agent/collectors/host.h"
#include "agent/inventory.h"
#include "agent/plugin.h"
#include "agent/shipper.h"
#include "agent/statsd.h"
#include "base/status.h"
#include "scrape/scrape.h"
#include "scrape/scraper.h"

namespace kansoku::agent {

struct AgentOptions {
  std::string server;  // "" = $KANSOKU_SERVER, else http://127.0.0.1:9400 (CLI resolves)
  std::string token;
  bool insecure_tls = false;
  std::string service;
  std::vector<std::string> roles;
  std::string hostname;         // "" = gethostname(2)
  int64_t interval_ms = 15000;  // collection and heartbeat interval
  int unreachable_after = 0;    // missed intervals before unreachable; 0 = the server's default
  std::string state_dir = "./kansoku-agent";  // host_id, spool/
  std::string start_status = "working";       // status at registration
  std::string stop_status = "poweroff";       // status sent on a clean stop ("" = none)
  bool retire_on_stop = false;
  bool inventory = true;  // register + heartbeat (off: metrics only)
  HostCollectorOptions host;
  bool containers = true;  // cgroup v2 collector
  CgroupCollectorOptions cgroup;
  std::string statsd_listen;  // StatsD/DogStatsD UDP HOST:PORT, "" = off
  std::vector<double> statsd_quantiles = {0.5, 0.9, 0.99};
  std::vector<PluginConfig> plugins;            // Mackerel-style metric and check plugins
  std::vector<scrape::ScrapeJobConfig> scrape;  // Prometheus targets, scraped every interval
  ShipperOptions shipper;  // url/token/spool_dir filled from the fields above when empty
  std::string version = "0.0.0";
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();

  Status Start();
  // Clean stop: last flush, stop status or retire.
  void Stop();
  // Runs one collection cycle now (tests; the loop calls it every interval).
  void CollectOnce();

  ShipperStats shipper_stats() const { return shipper_->Stats(); }
  const LabelSet& common_labels() const { return common_; }
  const std::string& host_id() const;
  // The bound StatsD UDP port (0 when off).
  int statsd_port() const { return statsd_ ? statsd_->port() : 0; }
  // The scraper (null without scrape jobs); valid between Start and Stop.
  scrape::Scraper* scraper() const { return scraper_.get(); }

 private:
  void CollectLoop();
  void InventoryLoop();
  void AddSelfMetrics(SampleBatch* b);
  // Reports the scrape targets to the server and applies the approvals of its answer
  // (docs/design/scrape.md §6). Inventory thread only.
  Status ReportTargets();
  void UpdateKeyMetrics(const SampleBatch& b);

  AgentOptions opts_;
  LabelSet common_;
  std::unique_ptr<HostCollector> host_;
  std::unique_ptr<CgroupCollector> cgroup_;
  std::unique_ptr<Shipper> shipper_;
  std::unique_ptr<InventoryClient> inventory_;
  std::unique_ptr<StatsdAggregator> statsd_agg_;
  std::unique_ptr<StatsdServer> statsd_;
  std::unique_ptr<PluginRunner> plugins_;
  std::unique_ptr<scrape::Scraper> scraper_;  // Prometheus targets (docs/design/scrape.md)
  std::vector<CheckResult> pending_checks_;   // GUARDED_BY(mu_): to report to the server
  HostFacts facts_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                            // GUARDED_BY(mu_)
  std::map<std::string, double> key_metrics_;        // GUARDED_BY(mu_)
  double prev_cpu_busy_ = -1, prev_cpu_total_ = -1;  // collection thread only
  double collect_seconds_ = 0;                       // collection thread only
  uint64_t samples_collected_ = 0;                   // collection thread only
  std::thread collect_thread_, inventory_thread_;
  bool started_ = false, stopped_ = false;
};

}  // namespace kansoku::agent
