#include "cli/agent_cmd.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>

#include "agent/agent.h"
#include "agent/config.h"
#include "agent/inventory.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/client.h"

namespace kansoku::cli {
namespace {

struct AgentFlags {
  std::string config, server, token, service, hostname, interval, state_dir, status, log_level,
      statsd;
  std::vector<std::string> roles;
  bool insecure = false, retire_on_stop = false, no_inventory = false;
  int unreachable_after = 0;
};

// Config file, then flags, then environment for server/token.
Status Resolve(const AgentFlags& f, agent::AgentOptions* o) {
  if (!f.config.empty()) KANSOKU_RETURN_IF_ERROR(agent::LoadAgentConfig(f.config, o));
  ClientFlags cf;
  cf.server = f.server.empty() ? o->server : f.server;
  cf.token = f.token.empty() ? o->token : f.token;
  cf.ResolveDefaults();
  o->server = cf.server;
  o->token = cf.token;
  if (f.insecure) o->insecure_tls = true;
  if (!f.service.empty()) o->service = f.service;
  if (!f.roles.empty()) o->roles = f.roles;
  if (!f.hostname.empty()) o->hostname = f.hostname;
  if (!f.state_dir.empty()) o->state_dir = f.state_dir;
  if (!f.status.empty()) o->start_status = f.status;
  if (f.retire_on_stop) o->retire_on_stop = true;
  if (f.no_inventory) o->inventory = false;
  if (!f.statsd.empty()) o->statsd_listen = f.statsd;
  if (f.unreachable_after > 0) o->unreachable_after = f.unreachable_after;
  if (!f.interval.empty()) {
    auto ms = ParseDurationMs(f.interval);
    if (!ms.ok()) return Status::InvalidArgument("--interval: " + ms.status().message());
    o->interval_ms = *ms;
  }
  if (o->interval_ms < 1000) return Status::InvalidArgument("interval must be at least 1s");
  for (const auto* s : {&o->start_status}) {
    if (*s != "working" && *s != "standby" && *s != "maintenance" && *s != "poweroff") {
      return Status::InvalidArgument("status \"" + *s +
                                     "\": one of working, standby, maintenance, poweroff");
    }
  }
  return Status::Ok();
}

int RunAgent(const AgentFlags& f, const char* version) {
  agent::AgentOptions o;
  o.version = version;
  Status st = Resolve(f, &o);
  if (!st.ok()) {
    std::fprintf(stderr, "kansoku agent: config error: %s\n", st.message().c_str());
    return 2;
  }
  log::Level level = log::Level::kInfo;
  if (!f.log_level.empty() && !log::ParseLevel(f.log_level, &level)) {
    std::fprintf(stderr, "kansoku agent: --log-level: debug, info, warn or error\n");
    return 2;
  }
  log::SetLevel(level);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  agent::Agent a(o);
  st = a.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "kansoku agent: cannot start: %s\n", st.message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("agent shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  a.Stop();
  return 0;
}

}  // namespace

void AddAgentCommand(CLI::App* app, int* exit_code, const char* version) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* cmd = app->add_subcommand(
      "agent", "Run the host agent: host and container metrics, inventory and heartbeats");
  cmd->add_option("--config", f->config, "agent YAML config file (flags override it)");
  cmd->add_option("--server", f->server,
                  "kansoku server URL (env KANSOKU_SERVER; default http://127.0.0.1:9400)");
  cmd->add_option("--token", f->token, "API token with the ingest scope (env KANSOKU_TOKEN)");
  cmd->add_flag("--insecure", f->insecure, "do not verify the server's TLS certificate");
  cmd->add_option("--service", f->service, "service this host belongs to");
  cmd->add_option("--role", f->roles, "role of this host in the service (repeatable)");
  cmd->add_option("--hostname", f->hostname, "host name to report (default: gethostname)");
  cmd->add_option("--interval", f->interval, "collection and heartbeat interval (default 15s)");
  cmd->add_option("--unreachable-after", f->unreachable_after,
                  "missed heartbeat intervals before the server marks this host unreachable "
                  "(default: the server's hosts.unreachable_after)");
  cmd->add_option("--state-dir", f->state_dir,
                  "host id and disk spool directory (default ./kansoku-agent)");
  cmd->add_option("--status", f->status,
                  "status at registration: working (default), standby, maintenance, poweroff");
  cmd->add_flag("--retire-on-stop", f->retire_on_stop,
                "retire the host on a clean stop (default: set status poweroff)");
  cmd->add_flag("--no-inventory", f->no_inventory, "ship metrics only, no register/heartbeat");
  cmd->add_option("--statsd", f->statsd,
                  "StatsD/DogStatsD UDP listen address HOST:PORT (off by default)");
  cmd->add_option("--log-level", f->log_level, "debug, info, warn or error");

  CLI::App* retire =
      cmd->add_subcommand("retire", "Retire this host (the one in --state-dir) on the server");
  retire->fallthrough();  // --server, --token, --state-dir... are the agent's flags
  retire->callback([=] {
    agent::AgentOptions o;
    Status st = Resolve(*f, &o);
    if (!st.ok()) {
      std::fprintf(stderr, "kansoku agent retire: %s\n", st.message().c_str());
      *exit_code = 2;
      return;
    }
    agent::InventoryOptions io;
    io.server = o.server;
    io.token = o.token;
    io.insecure_tls = o.insecure_tls;
    io.state_dir = o.state_dir;
    agent::InventoryClient client(io);
    std::string id = client.host_id();
    st = client.Retire();
    if (!st.ok()) {
      std::fprintf(stderr, "kansoku agent retire: %s\n", st.message().c_str());
      *exit_code = 1;
      return;
    }
    std::printf("host %s retired\n", id.c_str());
  });
  cmd->callback([=] {
    if (!cmd->get_subcommands().empty()) return;
    *exit_code = RunAgent(*f, version);
  });
}

}  // namespace kansoku::cli
