#pragma once
// Scraper: runs scrape jobs (docs/design/scrape.md §5) for the agent and the server. Per job it
// re-discovers targets once per interval (static + file_sd), applies relabel keep/drop, the
// selector and the growth hold (Enrollment), and scrapes every active target once per interval
// at a fixed offset on a small worker pool. Each scrape's samples (synthetic up/scrape_* included)
// go to the SampleSink; target health, last scrape, duration, samples and errors are kept for
// Targets(). A target's change of health is logged once (not every interval).
//
// State (enrolled/held sets) is persisted in options.state_file when set (JSON, written to a temp
// file and renamed), so approvals and the growth baseline survive a restart.
//
// Thread safety: Targets, Jobs, Approve, SyncNow are thread-safe and may be called while the
// scraper runs. The sink is called from worker threads, concurrently for different targets.
// Ownership: the Scraper owns its threads; the sink must stay valid until Stop returns.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "scrape/enrollment.h"
#include "scrape/scrape.h"

namespace kansoku::scrape {

// A snapshot of one discovered target (every state, not only active ones).
struct TargetStatus {
  std::string job;
  std::string target;          // host:port
  std::string url;             // scheme://target/metrics_path
  LabelSet discovered_labels;  // __address__, job, __scheme__, __metrics_path__, group labels
  LabelSet labels;             // what its series carry: job, instance, group labels
  TargetState state = TargetState::kActive;
  std::string reason;              // why not active
  std::string health = "unknown";  // up | down | unknown (never scraped)
  std::string last_error;
  int64_t first_seen_ms = 0;
  int64_t last_scrape_ms = 0;  // 0 = never
  double last_duration_s = 0;
  uint64_t samples_per_scrape =
      0;  // samples of the last scrape after keep/drop (without up/scrape_*)
  int64_t interval_ms = 0, timeout_ms = 0;
};

struct JobStatus {
  std::string job;
  std::string selector;
  size_t active = 0, held = 0, not_selected = 0, dropped = 0;
  int64_t held_since_ms = 0;  // 0 = nothing held
  size_t hold_base = 0, hold_limit = 0;
  double max_growth = 0;
  size_t min_targets = 0;
  int64_t growth_window_ms = 0;
  std::vector<std::string> sd_errors;  // of the last discovery
};

// Receives one scrape's samples (may move them). Returns "" or an error for lastError (e.g.
// rows refused by limits).
using SampleSink =
    std::function<std::string(const std::string& job, std::vector<ScrapedSample>& samples)>;

struct ScraperOptions {
  std::vector<ScrapeJobConfig> jobs;
  int64_t default_interval_ms = 15000;  // jobs with interval_ms 0
  int workers = 2;
  SampleSink sink;
  std::string state_file;  // "" = state not persisted
  Clock* clock = &Clock::Real();
};

class Scraper {
 public:
  // InvalidArgument for a bad job (regex, selector, duplicate job name). A corrupt state file is
  // logged and ignored (everything discovered at the first sync is enrolled).
  static Result<std::unique_ptr<Scraper>> Create(ScraperOptions options);
  ~Scraper();

  void Start();
  void Stop();  // idempotent; waits for in-flight scrapes (each bounded by its timeout)

  std::vector<TargetStatus> Targets() const;
  std::vector<JobStatus> Jobs() const;
  // Enrolls the held targets of `job` (all, or only `target`). NotFound for an unknown job.
  Result<size_t> Approve(const std::string& job, const std::string& target);
  // Runs discovery of every job now (the loop does it every interval).
  void SyncNow();
  // Scrapes every active target once now, on the calling thread (tests, tools).
  void ScrapeAllNow();
  size_t num_jobs() const { return jobs_.size(); }

 private:
  struct Runtime {
    TargetStatus status;
    LabelSet group_labels;
    int64_t next_due_ms = 0;
    bool inflight = false;
  };
  struct Job {
    std::unique_ptr<ScrapeJob> scrape;
    std::unique_ptr<Enrollment> enrollment;
    int64_t interval_ms = 0;
    int64_t next_sync_ms = 0;
    std::map<std::string, Runtime> targets;  // GUARDED_BY(mu_)
    std::vector<std::string> sd_errors;      // GUARDED_BY(mu_)
  };
  explicit Scraper(ScraperOptions o);
  void SyncJob(size_t j, int64_t now_ms);  // REQUIRES(mu_)
  void ScrapeOne(size_t j, const std::string& target);
  void SaveState();  // REQUIRES(mu_)
  void LoadState();
  void SchedulerLoop();
  void WorkerLoop();

  ScraperOptions opts_;
  std::vector<Job> jobs_;
  mutable std::mutex mu_;
  std::condition_variable cv_, work_cv_;
  std::deque<std::pair<size_t, std::string>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                                 // GUARDED_BY(mu_)
  bool started_ = false;
  std::thread scheduler_;
  std::vector<std::thread> workers_;
};

}  // namespace kansoku::scrape
