#include "agent/plugin.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/collectors/text.h"
#include "base/clock.h"
#include "base/log.h"

extern char** environ;

namespace kansoku::agent {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool ValidMackerelName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<CommandResult> RunCommand(const std::string& command, int64_t timeout_ms,
                                 size_t max_output_bytes) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return Status::FromErrno("fork", err);
  }
  if (pid == 0) {
    // Child: own process group (so a timeout kills the plugin's children too), stdout to the
    // pipe, stdin and stderr to /dev/null, default signal dispositions and mask.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(fds[1], 1);
    ::dup2(devnull, 2);
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    ::execve("/bin/sh", const_cast<char**>(argv), environ);
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with the kill below
  ::close(fds[1]);
  CommandResult r;
  int64_t deadline = NowMs() + timeout_ms;
  char buf[8192];
  bool eof = false;
  while (!eof) {
    int64_t left = deadline - NowMs();
    if (left <= 0) {
      r.timed_out = true;
      break;
    }
    struct pollfd p {
      fds[0], POLLIN, 0
    };
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    ssize_t got = ::read(fds[0], buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      eof = true;
      break;
    }
    size_t room = max_output_bytes > r.output.size() ? max_output_bytes - r.output.size() : 0;
    if (static_cast<size_t>(got) > room) r.truncated = true;
    r.output.append(buf, std::min(room, static_cast<size_t>(got)));
  }
  ::close(fds[0]);
  int status = 0;
  if (r.timed_out) {
    ::kill(-pid, SIGTERM);
    int64_t kill_at = NowMs() + 1000;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
      if (NowMs() >= kill_at) {
        ::kill(-pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        break;
      }
      ::usleep(10000);
    }
    ::kill(-pid, SIGKILL);  // stragglers of the group (grandchildren) too
    r.exit_code = -1;
    return r;
  }
  // EOF: the plugin closed stdout; it may still run (a daemonized child): bounded wait.
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (NowMs() >= deadline) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.exit_code = -1;
      return r;
    }
    ::usleep(5000);
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const char* CheckStatusName(int status) {
  switch (status) {
    case 0:
      return "OK";
    case 1:
      return "WARNING";
    case 2:
      return "CRITICAL";
    default:
      return "UNKNOWN";
  }
}

void ParseMetricPluginOutput(const std::string& plugin, const std::string& output, SampleBatch* b,
                             uint64_t* rejected, std::string* first_error,
                             const std::vector<GraphDef>* defs) {
  int line_no = 0;
  ForEachLine(output, [&](std::string_view line) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') return;
    auto bad = [&](const std::string& why) {
      ++*rejected;
      if (first_error->empty()) {
        *first_error = "plugin " + plugin + " line " + std::to_string(line_no) + ": " + why +
                       ": \"" + std::string(line.substr(0, 100)) + "\"";
      }
    };
    size_t t1 = line.find('\t');
    size_t t2 = t1 == std::string_view::npos ? t1 : line.find('\t', t1 + 1);
    if (t1 == std::string_view::npos || t2 == std::string_view::npos) {
      return bad("expected name<TAB>value<TAB>epoch");
    }
    std::string_view name = line.substr(0, t1);
    std::string_view value = line.substr(t1 + 1, t2 - t1 - 1);
    if (!ValidMackerelName(name)) return bad("invalid metric name");
    char tmp[64];
    if (value.empty() || value.size() >= sizeof tmp) return bad("invalid value");
    std::memcpy(tmp, value.data(), value.size());
    tmp[value.size()] = '\0';
    char* end = nullptr;
    double v = std::strtod(tmp, &end);
    if (end != tmp + value.size()) return bad("invalid value");
    std::string prom;
    LabelSet labels = {{"plugin", plugin}};
    double scale = 1;
    if (defs == nullptr || !ApplyGraphDefs(*defs, name, &prom, &labels, &scale)) {
      prom = "custom_";
      for (char c : name) prom.push_back(c == '.' || c == '-' ? '_' : c);
    }
    b->Add(std::move(prom), v * scale, std::move(labels));
  });
}

CheckResult CheckFromCommand(const std::string& name, const CommandResult& r) {
  CheckResult c;
  c.name = name;
  c.status = r.timed_out ? 3 : (r.exit_code >= 0 && r.exit_code <= 2 ? r.exit_code : 3);
  std::string_view out = r.output;
  c.message = std::string(TrimSpaces(out.substr(0, out.find('\n'))));
  if (c.message.size() > 1024) c.message.resize(1024);
  if (r.timed_out) c.message = "check timed out" + (c.message.empty() ? "" : ": " + c.message);
  c.at_ms = Clock::Real().NowMs();
  return c;
}

PluginRunner::~PluginRunner() { Stop(); }

std::string PluginRunner::GraphsJson(uint64_t* version) {
  std::lock_guard<std::mutex> lk(mu_);
  *version = graphs_version_;
  std::string j = "{";
  bool first = true;
  for (const auto& [name, defs] : graphs_) {
    j += (first ? "\"" : ",\"") + name + "\":" + GraphDefsJson(defs);
    first = false;
  }
  return j + "}";
}

void PluginRunner::Start() {
  if (plugins_.empty()) return;
  thread_ = std::thread([this] { Loop(); });
}

void PluginRunner::Stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PluginRunner::RunOne(const PluginConfig& p) {
  bool fetch_meta = false;
  if (!p.check) {
    std::lock_guard<std::mutex> lk(mu_);
    fetch_meta = !meta_fetched_[p.name];
    meta_fetched_[p.name] = true;
  }
  if (fetch_meta) {
    // Mackerel's contract: with MACKEREL_AGENT_PLUGIN_META=1 the plugin prints its graphs.
    auto m =
        RunCommand("MACKEREL_AGENT_PLUGIN_META=1; export MACKEREL_AGENT_PLUGIN_META; " + p.command,
                   p.timeout_ms);
    if (m.ok() && m->exit_code == 0 && !m->timed_out) {
      auto defs = ParsePluginMeta(m->output);
      if (defs.ok()) {
        std::lock_guard<std::mutex> lk(mu_);
        graphs_[p.name] = std::move(defs).value();
        ++graphs_version_;
        log::Info("plugin graph definitions",
                  {{"plugin", p.name},
                   {"graphs", static_cast<unsigned long long>(graphs_[p.name].size())}});
      } else if (m->output.rfind("# mackerel-agent-plugin", 0) == 0) {
        log::Warn("plugin graph definitions ignored",
                  {{"plugin", p.name}, {"err", defs.status().message()}});
      }
    }
  }
  auto r = RunCommand(p.command, p.timeout_ms);
  std::lock_guard<std::mutex> lk(mu_);
  if (!r.ok()) {
    ++failures_[p.name];
    log::Warn("cannot run plugin", {{"plugin", p.name}, {"err", r.status().message()}});
    return;
  }
  if (p.check) {
    CheckResult c = CheckFromCommand(p.name, *r);
    last_checks_[p.name] = c;
    new_checks_.push_back(std::move(c));
    return;
  }
  if (r->timed_out || r->exit_code != 0 || r->truncated) {
    ++failures_[p.name];
    static log::RateLimited limit(60000);
    if (limit.Allow()) {
      log::Warn("metric plugin failed; its output of this run is ignored",
                {{"plugin", p.name},
                 {"exit_code", r->exit_code},
                 {"timed_out", r->timed_out},
                 {"output_truncated", r->truncated}});
    }
    return;
  }
  pending_out_[p.name] = r->output;
}

void PluginRunner::Loop() {
  std::vector<int64_t> next(plugins_.size(), 0);
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    int64_t now = NowMs();
    int64_t soonest = now + 1000;
    for (size_t i = 0; i < plugins_.size(); ++i) {
      if (next[i] <= now) {
        lk.unlock();
        RunOne(plugins_[i]);
        lk.lock();
        if (stop_) return;
        next[i] = NowMs() + plugins_[i].interval_ms;
      }
      soonest = std::min(soonest, next[i]);
    }
    cv_.wait_for(lk, std::chrono::milliseconds(std::max<int64_t>(10, soonest - NowMs())),
                 [&] { return stop_; });
  }
}

void PluginRunner::Collect(SampleBatch* b, std::vector<CheckResult>* checks) {
  std::map<std::string, std::string> outs;
  std::map<std::string, std::vector<GraphDef>> graphs;
  {
    std::lock_guard<std::mutex> lk(mu_);
    outs.swap(pending_out_);
    for (const auto& [name, out] : outs) {
      auto g = graphs_.find(name);
      if (g != graphs_.end()) graphs[name] = g->second;
    }
    for (const auto& [name, c] : last_checks_) {
      b->Add("kansoku_check_status", c.status, {{"check", name}});
    }
    for (const auto& p : plugins_) {
      b->Add("kansoku_agent_plugin_failures_total", static_cast<double>(failures_[p.name]),
             {{"plugin", p.name}});
    }
    checks->insert(checks->end(), new_checks_.begin(), new_checks_.end());
    new_checks_.clear();
  }
  uint64_t rejected = 0;
  std::string first_error;
  for (const auto& [name, out] : outs) {
    auto g = graphs.find(name);
    ParseMetricPluginOutput(name, out, b, &rejected, &first_error,
                            g == graphs.end() ? nullptr : &g->second);
  }
  std::lock_guard<std::mutex> lk(mu_);
  rejected_lines_ += rejected;
  b->Add("kansoku_agent_plugin_lines_rejected_total", static_cast<double>(rejected_lines_));
  if (!first_error.empty()) {
    static log::RateLimited limit(60000);
    if (limit.Allow()) log::Warn("plugin output lines rejected", {{"err", first_error}});
  }
}

}  // namespace kansoku::agent
