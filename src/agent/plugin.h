#pragma once
// Plugins, Mackerel-compatible (docs/design/agent.md §6):
//  - metric plugins print `name\tvalue\tepoch` lines (names `[-a-zA-Z0-9_.]+`); each becomes
//    `custom_<name with . and - as _>{plugin="<plugin>"}` at the cycle's timestamp (as
//    mackerel-agent does without use_plugin_timestamp). Comment lines (`#`) are ignored.
//  - check plugins: exit 0 OK, 1 WARNING, 2 CRITICAL, anything else (or a timeout) UNKNOWN; the
//    first output line is the message (at most 1024 bytes). Results become
//    `kansoku_check_status{check="<name>"}` (0..3) and are reported to the server.
// Every plugin runs as `/bin/sh -c <command>` in its own process group with a timeout: on timeout
// the group gets SIGTERM, then SIGKILL after 1 s, and is always reaped (no zombies). Output
// beyond max_output_bytes is read and discarded (a flooding plugin cannot exhaust memory).
//
// Thread safety: RunCommand is reentrant. PluginRunner runs each plugin on its own schedule from
// one thread (the runner's) and is thread-safe for Collect().
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/plugin_meta.h"
#include "agent/sample.h"
#include "base/status.h"

namespace kansoku::agent {

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string output;      // stdout (capped)
  bool truncated = false;  // more output than the cap was produced
};

Result<CommandResult> RunCommand(const std::string& command, int64_t timeout_ms,
                                 size_t max_output_bytes = 1 << 20);

struct PluginConfig {
  std::string name;
  std::string command;
  bool check = false;  // check plugin (else metric plugin)
  int64_t interval_ms = 60000;
  int64_t timeout_ms = 30000;
};

struct CheckResult {
  std::string name;
  int status = 3;  // 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
  std::string message;
  int64_t at_ms = 0;
};
const char* CheckStatusName(int status);

// Parses metric plugin output; bad lines are counted in *rejected and the first is described in
// *first_error. With graph definitions (plugin_meta.h), matching names are named from them.
void ParseMetricPluginOutput(const std::string& plugin, const std::string& output, SampleBatch* b,
                             uint64_t* rejected, std::string* first_error,
                             const std::vector<GraphDef>* defs = nullptr);
CheckResult CheckFromCommand(const std::string& name, const CommandResult& r);

class PluginRunner {
 public:
  explicit PluginRunner(std::vector<PluginConfig> plugins) : plugins_(std::move(plugins)) {}
  ~PluginRunner();
  void Start();
  void Stop();
  // Appends the latest metric plugin samples (each plugin's last run, once) and the check
  // statuses; moves new check results to *checks for reporting.
  void Collect(SampleBatch* b, std::vector<CheckResult>* checks);
  // {"<plugin>": <GraphDefsJson>} of the plugins that gave graph definitions; *version changes
  // whenever that set changes (the inventory re-sends the host's meta then).
  std::string GraphsJson(uint64_t* version);

 private:
  void Loop();
  void RunOne(const PluginConfig& p);

  std::vector<PluginConfig> plugins_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                    // GUARDED_BY(mu_)
  std::map<std::string, std::string> pending_out_;       // GUARDED_BY(mu_) metric plugin outputs
  std::map<std::string, CheckResult> last_checks_;       // GUARDED_BY(mu_)
  std::vector<CheckResult> new_checks_;                  // GUARDED_BY(mu_)
  std::map<std::string, uint64_t> failures_;             // GUARDED_BY(mu_) per plugin
  uint64_t rejected_lines_ = 0;                          // GUARDED_BY(mu_)
  std::map<std::string, std::vector<GraphDef>> graphs_;  // GUARDED_BY(mu_) per metric plugin
  std::map<std::string, bool> meta_fetched_;             // GUARDED_BY(mu_)
  uint64_t graphs_version_ = 0;                          // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace kansoku::agent
