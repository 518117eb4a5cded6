#include "agent/agent.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "agent/collectors/text.h"
#include "base/clock.h"
#include "base/log.h"
#include "scrape/agent_targets.h"

namespace kansoku::agent {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string JoinSorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

Agent::Agent(AgentOptions options) : opts_(std::move(options)) {
  while (!opts_.server.empty() && opts_.server.back() == '/') opts_.server.pop_back();
  if (opts_.interval_ms < 1000) opts_.interval_ms = 1000;
  if (opts_.shipper.url.empty()) opts_.shipper.url = opts_.server + "/api/v1/write";
  if (opts_.shipper.token.empty()) opts_.shipper.token = opts_.token;
  opts_.shipper.insecure_tls = opts_.insecure_tls;
  if (opts_.shipper.spool_dir.empty() && !opts_.state_dir.empty()) {
    opts_.shipper.spool_dir = opts_.state_dir + "/spool";
  }
  opts_.cgroup.root = opts_.host.root;
}

Agent::~Agent() { Stop(); }

const std::string& Agent::host_id() const {
  static const std::string kEmpty;
  return inventory_ ? inventory_->host_id() : kEmpty;
}

Status Agent::Start() {
  if (!opts_.state_dir.empty() && ::access(opts_.state_dir.c_str(), F_OK) != 0 &&
      ::mkdir(opts_.state_dir.c_str(), 0700) != 0) {
    return Status::FromErrno("cannot create state directory " + opts_.state_dir, errno);
  }
  facts_ = GatherFacts(opts_.host.root, opts_.hostname);
  facts_.agent_version = opts_.version;
  common_ = {{"host", facts_.name}, {"service", opts_.service}, {"role", JoinSorted(opts_.roles)}};

  host_ = std::make_unique<HostCollector>(opts_.host);
  if (opts_.containers) cgroup_ = std::make_unique<CgroupCollector>(opts_.cgroup);
  shipper_ = std::make_unique<Shipper>(opts_.shipper);
  KANSOKU_RETURN_IF_ERROR(shipper_->Start());
  if (!opts_.scrape.empty()) {
    scrape::ScraperOptions so;
    so.jobs = opts_.scrape;
    so.default_interval_ms = opts_.interval_ms;
    so.workers = 1;  // footprint: one scrape at a time
    if (!opts_.state_dir.empty()) so.state_file = opts_.state_dir + "/scrape-targets.json";
    so.sink = [this](const std::string&, std::vector<scrape::ScrapedSample>& samples) {
      SampleBatch b(Clock::Real().NowMs());
      for (auto& s : samples) b.Append({std::move(s.labels), s.timestamp_ms, s.value});
      b.Finalize(common_);
      shipper_->Enqueue(b);
      return std::string();
    };
    KANSOKU_ASSIGN_OR_RETURN(scraper_, scrape::Scraper::Create(std::move(so)));
  }
  if (!opts_.plugins.empty()) {
    plugins_ = std::make_unique<PluginRunner>(opts_.plugins);
    plugins_->Start();
  }
  if (!opts_.statsd_listen.empty()) {
    statsd_agg_ = std::make_unique<StatsdAggregator>(opts_.statsd_quantiles);
    statsd_ = std::make_unique<StatsdServer>(opts_.statsd_listen, statsd_agg_.get());
    KANSOKU_RETURN_IF_ERROR(statsd_->Start());
  }

  if (opts_.inventory) {
    InventoryOptions io;
    io.server = opts_.server;
    io.token = opts_.token;
    io.insecure_tls = opts_.insecure_tls;
    io.state_dir = opts_.state_dir;
    io.service = opts_.service;
    io.roles = opts_.roles;
    io.interval_ms = opts_.interval_ms;
    io.unreachable_after = opts_.unreachable_after;
    io.status = opts_.start_status;
    inventory_ = std::make_unique<InventoryClient>(io);
  }
  started_ = true;
  collect_thread_ = std::thread([this] { CollectLoop(); });
  if (inventory_) inventory_thread_ = std::thread([this] { InventoryLoop(); });
  if (scraper_) scraper_->Start();
  log::Info("kansoku agent started",
            {{"server", opts_.server},
             {"host", facts_.name},
             {"service", opts_.service},
             {"roles", JoinSorted(opts_.roles)},
             {"interval_ms", static_cast<long long>(opts_.interval_ms)},
             {"cgroup_root", cgroup_ ? cgroup_->cgroup_root() : std::string()},
             {"statsd_udp_port", statsd_port()}});
  return Status::Ok();
}

void Agent::CollectOnce() {
  double t0 = NowSeconds();
  SampleBatch batch(Clock::Real().NowMs());
  host_->Collect(&batch);
  if (cgroup_) cgroup_->Collect(&batch);
  collect_seconds_ += NowSeconds() - t0;
  if (statsd_agg_) {
    statsd_agg_->Flush(&batch);
    std::string err = statsd_agg_->TakeFirstError();
    if (!err.empty()) {
      log::Warn(
          "statsd lines rejected (first of this interval)",
          {{"err", err},
           {"rejected_total", static_cast<unsigned long long>(statsd_agg_->stats().rejected)}});
    }
  }
  samples_collected_ += batch.size();
  if (plugins_) {
    std::vector<CheckResult> checks;
    plugins_->Collect(&batch, &checks);
    if (!checks.empty()) {
      std::lock_guard<std::mutex> lk(mu_);
      pending_checks_.insert(pending_checks_.end(), checks.begin(), checks.end());
      if (pending_checks_.size() > 1000) {
        pending_checks_.erase(pending_checks_.begin(),
                              pending_checks_.end() - 1000);  // bounded while the server is away
      }
    }
  }
  AddSelfMetrics(&batch);
  batch.Finalize(common_);
  UpdateKeyMetrics(batch);
  shipper_->Enqueue(batch);
}

void Agent::CollectLoop() {
  // Cycles are aligned to multiples of the interval (like Prometheus' scrape offsets, spread by
  // nothing: one agent per host), so timestamps are regular.
  std::unique_lock<std::mutex> lk(mu_);
  while (!stopping_) {
    lk.unlock();
    CollectOnce();
    lk.lock();
    int64_t now = Clock::Real().NowMs();
    int64_t next = (now / opts_.interval_ms + 1) * opts_.interval_ms;
    cv_.wait_for(lk, std::chrono::milliseconds(next - now), [&] { return stopping_; });
  }
}

void Agent::InventoryLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  bool registered = false, ever_registered = false;
  uint64_t graphs_sent = 0;
  log::RateLimited err_log(60000);
  while (!stopping_) {
    auto metrics = key_metrics_;
    lk.unlock();
    Status st;
    if (plugins_) {
      // New plugin graph definitions: re-register so the server stores them in the host's meta.
      uint64_t v = 0;
      std::string graphs = plugins_->GraphsJson(&v);
      if (v != graphs_sent) {
        facts_.plugin_graphs_json = graphs;
        graphs_sent = v;
        registered = false;
      }
    }
    if (!registered) {
      st = inventory_->Register(facts_, /*send_status=*/!ever_registered);
      if (st.ok()) {
        registered = ever_registered = true;
        log::Info("host registered", {{"host_id", inventory_->host_id()}});
      }
    } else {
      st = inventory_->Heartbeat(metrics);
      if (st.code() == Status::Code::kNotFound) registered = false;  // re-register next round
      if (st.ok()) {
        lk.lock();
        std::vector<CheckResult> checks;
        checks.swap(pending_checks_);
        lk.unlock();
        if (!checks.empty()) {
          Status cs = inventory_->ReportChecks(checks);
          if (!cs.ok()) {
            lk.lock();  // keep them for the next round
            pending_checks_.insert(pending_checks_.begin(), checks.begin(), checks.end());
            lk.unlock();
            st = cs;
          }
        }
        if (scraper_) {
          Status ts = ReportTargets();
          if (!ts.ok()) st = ts;
        }
      }
    }
    if (!st.ok() && err_log.Allow()) {
      log::Warn("inventory call failed; retried next interval", {{"err", st.message()}});
    }
    lk.lock();
    cv_.wait_for(lk, std::chrono::milliseconds(registered ? opts_.interval_ms : 2000),
                 [&] { return stopping_; });
  }
}

Status Agent::ReportTargets() {
  std::string body = scrape::EncodeTargetReport(inventory_->host_id(), facts_.name,
                                                scraper_->Targets(), scraper_->Jobs());
  auto answer = inventory_->ReportTargets(body);
  if (!answer.ok()) return answer.status();
  auto approvals = scrape::DecodeApprovals(*answer);
  if (!approvals.ok()) return approvals.status();
  for (const auto& [job, target] : *approvals) {
    // Idempotent: an approval already applied (answer re-sent) enrolls nothing more.
    auto n = scraper_->Approve(job, target);
    if (n.ok() && *n > 0) {
      log::Info("scrape target approved by the server", {{"job", job}, {"target", target}});
    } else if (!n.ok() && n.status().code() != Status::Code::kNotFound) {
      return n.status();
    }
  }
  return Status::Ok();
}

void Agent::AddSelfMetrics(SampleBatch* b) {
  std::string s;
  if (ReadSmallFile("/proc/self/statm", &s).ok()) {
    Fields f(s);
    f.Next();
    b->Add("kansoku_agent_resident_memory_bytes",
           ParseDouble(f.Next()) * static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  if (ReadSmallFile("/proc/self/stat", &s).ok()) {
    size_t rp = s.rfind(')');
    if (rp != std::string::npos) {
      Fields f(std::string_view(s).substr(rp + 1));
      for (int i = 0; i < 11; ++i) f.Next();  // fields 3..13
      double ut = ParseDouble(f.Next()), st = ParseDouble(f.Next());
      b->Add("kansoku_agent_cpu_seconds_total",
             (ut + st) / static_cast<double>(sysconf(_SC_CLK_TCK)));
    }
  }
  ShipperStats ss = shipper_->Stats();
  b->Add("kansoku_agent_samples_collected_total", static_cast<double>(samples_collected_));
  b->Add("kansoku_agent_samples_shipped_total", static_cast<double>(ss.samples_sent));
  b->Add("kansoku_agent_samples_dropped_total", static_cast<double>(ss.samples_dropped_spool_full),
         {{"reason", "spool_full"}});
  b->Add("kansoku_agent_samples_dropped_total", static_cast<double>(ss.samples_dropped_rejected),
         {{"reason", "rejected"}});
  b->Add("kansoku_agent_send_errors_total", static_cast<double>(ss.send_errors));
  b->Add("kansoku_agent_queue_batches", static_cast<double>(ss.queue_batches));
  b->Add("kansoku_agent_spool_bytes", static_cast<double>(ss.spool_bytes));
  b->Add("kansoku_agent_collect_duration_seconds_total", collect_seconds_);
}

void Agent::UpdateKeyMetrics(const SampleBatch& b) {
  std::map<std::string, double> km;
  double v = 0;
  if (b.Find("host_load1", {}, &v)) km["load1"] = v;
  double total = 0, avail = 0;
  if (b.Find("host_memory_total_bytes", {}, &total) &&
      b.Find("host_memory_available_bytes", {}, &avail) && total > 0) {
    km["memory_used_ratio"] = (total - avail) / total;
  }
  double busy = 0, all = 0;
  for (const auto& s : b.samples()) {
    if (s.labels.empty()) continue;
    bool is_cpu = false;
    std::string mode;
    for (const auto& l : s.labels) {
      if (l.first == "__name__") is_cpu = l.second == "host_cpu_seconds_total";
      if (l.first == "mode") mode = l.second;
    }
    if (!is_cpu) continue;
    all += s.value;
    if (mode != "idle" && mode != "iowait") busy += s.value;
  }
  if (prev_cpu_total_ >= 0 && all > prev_cpu_total_) {
    km["cpu_used_ratio"] = (busy - prev_cpu_busy_) / (all - prev_cpu_total_);
  }
  prev_cpu_busy_ = busy;
  prev_cpu_total_ = all;
  double fs_max = -1;
  for (const auto& s : b.samples()) {
    if (s.labels.empty() || s.labels[0].second != "host_filesystem_size_bytes") continue;
    LabelSet match;
    for (const auto& l : s.labels) {
      if (l.first == "mountpoint") match.push_back(l);
    }
    double avail_fs = 0, used_fs = 0;
    if (b.Find("host_filesystem_avail_bytes", match, &avail_fs) &&
        b.Find("host_filesystem_used_bytes", match, &used_fs) && used_fs + avail_fs > 0) {
      fs_max = std::max(fs_max, used_fs / (used_fs + avail_fs));
    }
  }
  if (fs_max >= 0) km["fs_max_used_ratio"] = fs_max;
  std::lock_guard<std::mutex> lk(mu_);
  key_metrics_ = std::move(km);
}

void Agent::Stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (statsd_) statsd_->Stop();
  if (plugins_) plugins_->Stop();
  if (collect_thread_.joinable()) collect_thread_.join();
  if (inventory_thread_.joinable()) inventory_thread_.join();
  if (scraper_) scraper_->Stop();
  shipper_->Stop(5000);
  if (inventory_ && !inventory_->host_id().empty()) {
    Status st;
    if (opts_.retire_on_stop) {
      st = inventory_->Retire();
      if (st.ok()) log::Info("host retired on stop");
    } else if (!opts_.stop_status.empty()) {
      st = inventory_->SetStatus(opts_.stop_status);
      if (st.ok()) log::Info("host status set on stop", {{"status", opts_.stop_status}});
    }
    if (!st.ok()) log::Warn("cannot report stop to the server", {{"err", st.message()}});
  }
  ShipperStats ss = shipper_->Stats();
  log::Info("kansoku agent stopped",
            {{"samples_sent", static_cast<unsigned long long>(ss.samples_sent)},
             {"spooled_batches", static_cast<unsigned long long>(ss.spool_files)}});
}

}  // namespace kansoku::agent
