#pragma once
// Scraping of Prometheus exposition targets (text format 0.0.4 and OpenMetrics 1.0, gzip), for
// the agent and for server-side targets: the library knows nothing of storage or the agent; it
// turns one HTTP GET into labelled samples (docs/design/agent.md §8).
//
// Per target: labels `job`, `instance` (host:port), the job's static labels and file_sd labels
// are attached; on conflict with a scraped label the target label wins and the scraped one is
// kept as `exported_<name>`, unless honor_labels (then the scraped one wins). metric_keep /
// metric_drop are RE2 full matches on the metric name (drop applied after keep). Every scrape
// also yields `up` (1/0), `scrape_duration_seconds` and `scrape_samples_scraped`, as Prometheus.
// A target answering invalid exposition, a non-2xx status, more than max_samples samples or a
// body larger than max_body_bytes fails as a whole (up 0, no partial data) with the reason.
//
// Thread safety: ParseExposition is reentrant; a ScrapeJob is immutable after Create and may be
// scraped from several threads.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "scrape/relabel.h"

namespace re2 {
class RE2;
}

namespace kansoku::scrape {

struct ScrapedExemplar {
  LabelSet labels;
  double value = 0;
  int64_t timestamp_ms = 0;  // 0 = none in the exposition (the sample's time is used)
};

struct ScrapedSample {
  LabelSet labels;           // includes __name__, unsorted
  int64_t timestamp_ms = 0;  // 0 = none in the exposition (the scrape time is used)
  double value = 0;
  std::optional<ScrapedExemplar> exemplar;  // OpenMetrics `# {labels} value [timestamp]`
};

// Parses an exposition body. openmetrics: timestamps are seconds, an exemplar after a sample is
// kept with it (a malformed one fails the scrape, as in Prometheus) and `# EOF` ends the body.
// InvalidArgument "line N: why" on the first bad line; nothing is returned then (all or nothing, as
// Prometheus does).
Result<std::vector<ScrapedSample>> ParseExposition(std::string_view body, bool openmetrics,
                                                   size_t max_samples = 0);

struct TargetGroup {
  std::vector<std::string> targets;  // host:port
  LabelSet labels;
};

// file_sd: a JSON or YAML list of {targets: [...], labels: {...}}. InvalidArgument with the file
// name on a bad file.
Result<std::vector<TargetGroup>> LoadFileSd(const std::string& path);

struct ScrapeJobConfig {
  std::string job;
  int64_t interval_ms = 0;  // 0 = the runner's default (agent: its interval)
  std::string scheme = "http";
  std::string metrics_path = "/metrics";
  int64_t timeout_ms = 10000;
  bool honor_labels = false;
  std::vector<std::string> static_targets;
  LabelSet labels;                          // added to every target (group labels win)
  std::vector<TargetGroup> static_groups;   // Prometheus static_configs
  std::vector<std::string> file_sd;         // files (glob patterns) re-read every scrape
  std::string metric_keep, metric_drop;     // RE2 on __name__ ("" = off)
  std::vector<RelabelRule> target_relabel;  // relabel_configs (docs/design/scrape.md §2)
  std::vector<RelabelRule> metric_relabel;  // on scraped samples, after metric_keep/drop
  // Enrollment (docs/design/scrape.md §2-3): label selector on target labels ("" = all), and the
  // growth hold (max_growth 0 = off).
  std::string selector;
  double max_growth = 0;
  size_t min_targets = 0;
  int64_t growth_window_ms = 3600 * 1000;
  size_t max_samples = 200000;
  size_t max_body_bytes = 64u << 20;
};

// A discovered target after relabel_configs (Prometheus' rules): kept or not (and why), the URL
// from __scheme__, __address__, __metrics_path__ and __param_<name>, and the labels every sample
// of it gets: instance (defaults to __address__), job and the rest, without `__` labels.
struct ResolvedTarget {
  bool kept = true;
  std::string reason;  // why not kept
  std::string url;
  LabelSet labels;
};

struct ScrapeOutcome {
  std::string instance;
  bool up = false;
  std::string error;                   // why not up
  std::vector<ScrapedSample> samples;  // target labels applied, synthetic series included
};

class ScrapeJob {
 public:
  // InvalidArgument for a bad regex or an empty job name.
  static Result<std::unique_ptr<ScrapeJob>> Create(ScrapeJobConfig config);
  ~ScrapeJob();

  // Static targets plus the current file_sd targets (errors of bad files are returned in
  // *sd_errors; the other targets still count).
  std::vector<TargetGroup> Targets(std::vector<std::string>* sd_errors) const;
  // The labels enrollment looks at: __address__, job, __scheme__, __metrics_path__ and the
  // group's labels.
  LabelSet TargetLabels(const std::string& target, const LabelSet& group_labels) const;
  // The target after relabel_configs (see ResolvedTarget).
  ResolvedTarget Resolve(const std::string& target, const LabelSet& group_labels) const;
  // Scrapes one target now; now_ms stamps samples without a timestamp.
  ScrapeOutcome Scrape(const std::string& target, const LabelSet& group_labels,
                       int64_t now_ms) const;
  const ScrapeJobConfig& config() const { return cfg_; }

 private:
  explicit ScrapeJob(ScrapeJobConfig c);
  ScrapeJobConfig cfg_;
  std::unique_ptr<re2::RE2> keep_, drop_;
  Relabeler target_relabel_, metric_relabel_;
};

}  // namespace kansoku::scrape
