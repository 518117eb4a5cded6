#pragma once
// The scrape job parser shared by the agent's `scrape:` list and the server's `scrape_configs:`
// (docs/design/scrape.md §1). Accepts Prometheus' keys (job_name, scrape_interval,
// static_configs, file_sd_configs, relabel_configs, metric_relabel_configs with keep/drop) and
// the agent's short ones (job, interval, targets, labels, file_sd, metric_keep, metric_drop),
// plus selector, max_growth, min_targets, growth_window.
// Errors: InvalidArgument "file:line: scrape_configs[2].selector: why".
// Thread safety: reentrant.
#include <string>
#include <vector>

#include "base/status.h"
#include "scrape/scrape.h"

namespace YAML {
class Node;
}

namespace kansoku::scrape {

// `list` must be a YAML sequence of job mappings; `what` names it in messages.
Status ParseJobs(const YAML::Node& list, const std::string& file, const std::string& what,
                 std::vector<ScrapeJobConfig>* out);

// Server defaults (`scrape:` mapping): interval, timeout, workers.
struct ScrapeDefaults {
  int64_t interval_ms = 15000;
  int64_t timeout_ms = 10000;
  int workers = 4;
};

// Parses the server config's `scrape:` and `scrape_configs:` from the whole config text (so
// line numbers are the file's). Jobs without an interval/timeout get the defaults'.
Status ParseServerScrapeConfig(const std::string& yaml_text, const std::string& file,
                               ScrapeDefaults* defaults, std::vector<ScrapeJobConfig>* jobs);

}  // namespace kansoku::scrape
