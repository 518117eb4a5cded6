#include "scrape/scraper.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <set>

#include "base/log.h"

namespace kansoku::scrape {
namespace {

LabelSet SeriesLabels(const std::string& job, const std::string& target, const LabelSet& group) {
  LabelSet out = {{"job", job}, {"instance", target}};
  for (const auto& l : group) {
    if (l.first != "job" && l.first != "instance") out.push_back(l);
  }
  return out;
}

}  // namespace

Scraper::Scraper(ScraperOptions o) : opts_(std::move(o)) {}

Scraper::~Scraper() { Stop(); }

Result<std::unique_ptr<Scraper>> Scraper::Create(ScraperOptions options) {
  if (options.workers < 1) options.workers = 1;
  if (options.default_interval_ms < 1000) options.default_interval_ms = 1000;
  std::unique_ptr<Scraper> s(new Scraper(std::move(options)));
  std::set<std::string> names;
  s->jobs_.reserve(s->opts_.jobs.size());
  for (const auto& jc : s->opts_.jobs) {
    if (!names.insert(jc.job).second) {
      return Status::InvalidArgument("scrape job \"" + jc.job + "\" is defined twice");
    }
    auto sel = Selector::Parse(jc.selector);
    if (!sel.ok()) return sel.status().WithContext("job " + jc.job);
    if (jc.max_growth < 0) {
      return Status::InvalidArgument("job " + jc.job + ": max_growth must be >= 0");
    }
    Job j;
    KANSOKU_ASSIGN_OR_RETURN(j.scrape, ScrapeJob::Create(jc));
    GrowthPolicy g{jc.max_growth, jc.min_targets, jc.growth_window_ms};
    j.enrollment = std::make_unique<Enrollment>(jc.job, std::move(sel).value(), g);
    j.interval_ms = jc.interval_ms > 0 ? jc.interval_ms : s->opts_.default_interval_ms;
    s->jobs_.push_back(std::move(j));
  }
  s->LoadState();
  return s;
}

void Scraper::LoadState() {
  if (opts_.state_file.empty()) return;
  std::ifstream f(opts_.state_file);
  if (!f) return;  // first start
  try {
    YAML::Node root = YAML::LoadFile(opts_.state_file);
    YAML::Node jobs = root["jobs"];
    for (auto& j : jobs_) {
      YAML::Node n = jobs[j.scrape->config().job];
      if (!n || !n.IsMap()) continue;
      std::vector<Enrollment::SavedTarget> saved;
      if (n["enrolled"] && n["enrolled"].IsMap()) {
        for (auto it = n["enrolled"].begin(); it != n["enrolled"].end(); ++it) {
          saved.push_back({it->first.as<std::string>(), it->second["at"].as<int64_t>(0),
                           it->second["auto"].as<bool>(false), false});
        }
      }
      if (n["held"] && n["held"].IsMap()) {
        for (auto it = n["held"].begin(); it != n["held"].end(); ++it) {
          saved.push_back({it->first.as<std::string>(), it->second.as<int64_t>(0), false, true});
        }
      }
      j.enrollment->Restore(saved, n["held_since"].as<int64_t>(0), n["hold_base"].as<size_t>(0),
                            n["hold_limit"].as<size_t>(0));
    }
  } catch (const YAML::Exception& e) {
    log::Warn("scrape state file ignored (targets found at the first discovery are enrolled)",
              {{"file", opts_.state_file}, {"err", e.what()}});
  }
}

void Scraper::SaveState() {
  if (opts_.state_file.empty()) return;
  std::string j = "{\"jobs\":{";
  for (size_t i = 0; i < jobs_.size(); ++i) {
    j += (i ? ",\"" : "\"") + jobs_[i].scrape->config().job +
         "\":" + jobs_[i].enrollment->SaveJson();
  }
  j += "}}\n";
  std::string tmp = opts_.state_file + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    static log::RateLimited rl(60000);
    if (rl.Allow()) log::Warn("cannot write scrape state", {{"file", tmp}, {"errno", errno}});
    return;
  }
  bool ok = std::fwrite(j.data(), 1, j.size(), f) == j.size();
  ok = (std::fflush(f) == 0) && ok;
  ok = (::fsync(::fileno(f)) == 0) && ok;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), opts_.state_file.c_str()) != 0) {
    log::Warn("cannot write scrape state", {{"file", opts_.state_file}});
  }
}

void Scraper::SyncJob(size_t ji, int64_t now_ms) {
  Job& job = jobs_[ji];
  const ScrapeJob& sj = *job.scrape;
  std::vector<std::string> sd_errors;
  std::vector<Enrollment::Discovered> found;
  for (const auto& group : sj.Targets(&sd_errors)) {
    for (const auto& t : group.targets) {
      Enrollment::Discovered d;
      d.target = t;
      d.group_labels = group.labels;
      d.target_labels = sj.TargetLabels(t, group.labels);
      d.relabel_kept = sj.Resolve(t, group.labels).kept;
      found.push_back(std::move(d));
    }
  }
  std::lock_guard<std::mutex> lk(mu_);
  bool changed = false;
  size_t held_before = job.enrollment->held();
  auto list = job.enrollment->Update(found, !sd_errors.empty(), now_ms, &changed);
  if (!sd_errors.empty() && sd_errors != job.sd_errors) {
    log::Warn("file_sd file skipped", {{"job", sj.config().job}, {"err", sd_errors[0]}});
  }
  job.sd_errors = std::move(sd_errors);
  std::map<std::string, Runtime> next;
  const int64_t interval = job.interval_ms;
  for (auto& t : list) {
    Runtime rt;
    auto old = job.targets.find(t.target);
    if (old != job.targets.end()) rt = std::move(old->second);
    rt.group_labels = t.group_labels;
    TargetStatus& s = rt.status;
    s.job = sj.config().job;
    s.target = t.target;
    ResolvedTarget resolved = sj.Resolve(t.target, t.group_labels);
    s.url = resolved.url.empty() ? sj.config().scheme + "://" + t.target + sj.config().metrics_path
                                 : resolved.url;
    s.discovered_labels = std::move(t.target_labels);
    s.labels =
        resolved.kept ? std::move(resolved.labels) : SeriesLabels(s.job, t.target, t.group_labels);
    s.state = t.state;
    s.reason = std::move(t.reason);
    s.first_seen_ms = t.first_seen_ms;
    s.interval_ms = interval;
    s.timeout_ms = sj.config().timeout_ms;
    if (s.state == TargetState::kActive && rt.next_due_ms == 0) {
      // A fixed offset in the interval per target spreads the load (as Prometheus does).
      auto offset = static_cast<int64_t>(std::hash<std::string>{}(s.job + "/" + s.target) %
                                         static_cast<uint64_t>(interval));
      int64_t due = now_ms - now_ms % interval + offset;
      if (due < now_ms) due += interval;
      // A target enrolled after the first discovery is scraped at once, then on its offset.
      rt.next_due_ms = old == job.targets.end() && job.next_sync_ms != 0 ? now_ms : due;
    }
    if (s.state != TargetState::kActive) rt.next_due_ms = 0;
    next[t.target] = std::move(rt);
  }
  // In-flight scrapes of targets that left keep their entry until done (ScrapeOne checks).
  job.targets = std::move(next);
  if (job.enrollment->held() > held_before) {
    log::Warn(
        "scrape targets held: the target set grew too fast; approve with "
        "`kansoku targets approve JOB`",
        {{"job", sj.config().job},
         {"held", static_cast<unsigned long long>(job.enrollment->held())},
         {"enrolled", static_cast<unsigned long long>(job.enrollment->enrolled())},
         {"limit", static_cast<unsigned long long>(job.enrollment->hold_limit())}});
  }
  if (changed) SaveState();
}

void Scraper::SyncNow() {
  int64_t now = opts_.clock->NowMs();
  for (size_t i = 0; i < jobs_.size(); ++i) SyncJob(i, now);
}

void Scraper::ScrapeOne(size_t ji, const std::string& target) {
  Job& job = jobs_[ji];
  LabelSet group;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = job.targets.find(target);
    if (it == job.targets.end() || it->second.status.state != TargetState::kActive) {
      if (it != job.targets.end()) it->second.inflight = false;
      return;
    }
    group = it->second.group_labels;
  }
  const int64_t now_ms = opts_.clock->NowMs();
  ScrapeOutcome o = job.scrape->Scrape(target, group, now_ms);
  uint64_t n = o.samples.size() >= 3 ? o.samples.size() - 3 : 0;
  double duration = 0;
  for (const auto& s : o.samples) {
    if (s.labels[0].second == "scrape_duration_seconds") duration = s.value;
  }
  std::string sink_err;
  if (opts_.sink) sink_err = opts_.sink(job.scrape->config().job, o.samples);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = job.targets.find(target);
  if (it == job.targets.end()) return;
  Runtime& rt = it->second;
  rt.inflight = false;
  TargetStatus& s = rt.status;
  std::string health = o.up ? "up" : "down";
  if (health != s.health) {
    if (o.up) {
      log::Info("scrape target up", {{"job", s.job}, {"target", target}});
    } else {
      log::Warn("scrape target down", {{"job", s.job}, {"target", target}, {"err", o.error}});
    }
  }
  s.health = std::move(health);
  s.last_error = o.up ? sink_err : o.error;
  s.last_scrape_ms = now_ms;
  s.last_duration_s = duration;
  s.samples_per_scrape = n;
}

void Scraper::ScrapeAllNow() {
  std::vector<std::pair<size_t, std::string>> todo;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (size_t i = 0; i < jobs_.size(); ++i) {
      for (const auto& [t, rt] : jobs_[i].targets) {
        if (rt.status.state == TargetState::kActive) todo.emplace_back(i, t);
      }
    }
  }
  for (const auto& [j, t] : todo) ScrapeOne(j, t);
}

std::vector<TargetStatus> Scraper::Targets() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<TargetStatus> out;
  for (const auto& j : jobs_) {
    for (const auto& [t, rt] : j.targets) out.push_back(rt.status);
  }
  return out;
}

std::vector<JobStatus> Scraper::Jobs() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<JobStatus> out;
  for (const auto& j : jobs_) {
    JobStatus s;
    s.job = j.scrape->config().job;
    s.selector = j.enrollment->selector().text();
    for (const auto& [t, rt] : j.targets) {
      switch (rt.status.state) {
        case TargetState::kActive:
          ++s.active;
          break;
        case TargetState::kHeld:
          ++s.held;
          break;
        case TargetState::kNotSelected:
          ++s.not_selected;
          break;
        case TargetState::kDropped:
          ++s.dropped;
          break;
      }
    }
    s.held_since_ms = j.enrollment->held_since_ms();
    s.hold_base = j.enrollment->hold_base();
    s.hold_limit = j.enrollment->hold_limit();
    s.max_growth = j.enrollment->growth().max_growth;
    s.min_targets = j.enrollment->growth().min_targets;
    s.growth_window_ms = j.enrollment->growth().window_ms;
    s.sd_errors = j.sd_errors;
    out.push_back(std::move(s));
  }
  return out;
}

Result<size_t> Scraper::Approve(const std::string& job, const std::string& target) {
  size_t ji = jobs_.size();
  for (size_t i = 0; i < jobs_.size(); ++i) {
    if (jobs_[i].scrape->config().job == job) ji = i;
  }
  if (ji == jobs_.size()) return Status::NotFound("no scrape job \"" + job + "\"");
  const int64_t now = opts_.clock->NowMs();
  size_t n;
  {
    std::lock_guard<std::mutex> lk(mu_);
    n = jobs_[ji].enrollment->Approve(target, now);
    if (n == 0 && !target.empty()) {
      return Status::NotFound("job " + job + " holds no target \"" + target + "\"");
    }
    if (n > 0) SaveState();
  }
  if (n > 0) {
    log::Info("scrape targets approved",
              {{"job", job}, {"target", target}, {"approved", static_cast<unsigned long long>(n)}});
    SyncJob(ji, now);  // enroll them now rather than at the next interval
    cv_.notify_all();
  }
  return n;
}

void Scraper::Start() {
  if (started_ || jobs_.empty()) return;
  started_ = true;
  SyncNow();
  for (auto& j : jobs_) j.next_sync_ms = opts_.clock->NowMs() + j.interval_ms;
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  for (int i = 0; i < opts_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

void Scraper::SchedulerLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    int64_t now = opts_.clock->NowMs();
    std::vector<size_t> to_sync;
    int64_t wake = now + 1000;
    for (size_t i = 0; i < jobs_.size(); ++i) {
      Job& j = jobs_[i];
      if (now >= j.next_sync_ms) {
        to_sync.push_back(i);
        j.next_sync_ms = now + j.interval_ms;
      }
      wake = std::min(wake, j.next_sync_ms);
      for (auto& [t, rt] : j.targets) {
        if (rt.status.state != TargetState::kActive || rt.next_due_ms == 0) continue;
        if (!rt.inflight && now >= rt.next_due_ms) {
          rt.inflight = true;
          queue_.emplace_back(i, t);
          // Next slot on the target's offset; a scrape that fell behind skips missed slots.
          rt.next_due_ms += j.interval_ms;
          if (rt.next_due_ms <= now) {
            rt.next_due_ms += ((now - rt.next_due_ms) / j.interval_ms + 1) * j.interval_ms;
          }
          work_cv_.notify_one();
        }
        wake = std::min(wake, rt.next_due_ms);
      }
    }
    if (!to_sync.empty()) {
      lk.unlock();
      for (size_t i : to_sync) SyncJob(i, now);
      lk.lock();
      continue;
    }
    int64_t wait = std::max<int64_t>(1, wake - opts_.clock->NowMs());
    cv_.wait_for(lk, std::chrono::milliseconds(wait));
  }
}

void Scraper::WorkerLoop() {
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    work_cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto [j, t] = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    ScrapeOne(j, t);
    lk.lock();
  }
}

void Scraper::Stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  work_cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

}  // namespace kansoku::scrape
