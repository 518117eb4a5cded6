// `kansoku server`: flags + config -> Server, then wait for SIGTERM/SIGINT and drain.
#include <signal.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "base/strings.h"
#include "server/scrape_wiring.h"
#include "server/server.h"

namespace kansoku::server {

int RunServer(const ServerFlags& flags) {
#ifdef __GLIBC__
  // Request bodies (an import is up to max_body_size, 32 MiB) and WAL/commit buffers come and go
  // with each request. glibc raises its mmap threshold to the size of the largest block freed,
  // after which such buffers live in the per-thread arenas, which give memory back only from
  // their top: measured on bench/tsdb (24 h x 100 hosts, 20 MB requests) that kept ~110 MB
  // more resident. A fixed 1 MiB threshold maps and unmaps them (a fault per page, ~1 ms per
  // 20 MB request) and keeps the arenas to the small, long-lived objects.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // One arena per core instead of glibc's default of 8 per core: memory freed in one thread's
  // arena (the head's chunks, appended by workers and truncated by the background thread) is
  // reused by fewer, fuller arenas. bench/tsdb's import (2 cores): peak RSS 188 and 190 MB with
  // 2 arenas, 196-206 MB without, server CPU within the noise. MALLOC_ARENA_MAX, if set, wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  }
#endif
  config::ServerConfig cfg;
  if (!flags.config_file.empty()) {
    auto loaded = config::LoadServerConfig(flags.config_file);
    if (!loaded.ok()) {
      std::fprintf(stderr, "kansoku: config error: %s\n", loaded.status().message().c_str());
      return 2;
    }
    cfg = std::move(loaded).value();
  }
  if (!flags.data_dir.empty()) cfg.data_dir = flags.data_dir;
  if (!flags.listen.empty()) cfg.listen = flags.listen;
  if (!flags.admin_token_file.empty()) cfg.admin_token_file = flags.admin_token_file;
  if (!flags.tls_cert_file.empty()) cfg.tls.cert_file = flags.tls_cert_file;
  if (!flags.tls_key_file.empty()) cfg.tls.key_file = flags.tls_key_file;
  if (!flags.log_level.empty()) cfg.log.level = flags.log_level;
  if (!flags.log_format.empty()) cfg.log.format = flags.log_format;
  if (!flags.web_dir.empty()) cfg.web_dir = flags.web_dir;
  if (!flags.graphite_tcp.empty()) cfg.listeners.graphite_tcp = flags.graphite_tcp;
  for (const auto& r : flags.rule_files) cfg.alerting.rule_files.push_back(r);
  for (const auto& u : flags.alertmanager_urls) cfg.alerting.alertmanager_urls.push_back(u);
  if (!flags.notifications_file.empty()) cfg.alerting.notifications_file = flags.notifications_file;
  Status valid = config::Validate(cfg);
  if (!valid.ok()) {
    std::fprintf(stderr, "kansoku: config error: %s\n", valid.message().c_str());
    return 2;
  }
  if (Status sc = CheckScrapeConfig(cfg); !sc.ok()) {
    std::fprintf(stderr, "kansoku: config error: %s\n", sc.message().c_str());
    return 2;
  }
  if (flags.check_config) {
    std::printf("config OK%s%s\n", flags.config_file.empty() ? "" : ": ",
                flags.config_file.c_str());
    return 0;
  }
  log::Level level = log::Level::kInfo;
  log::ParseLevel(cfg.log.level, &level);
  log::SetLevel(level);
  log::SetFormat(cfg.log.format == "json" ? log::Format::kJson : log::Format::kLogfmt);

  ServerOptions opts;
  opts.config = cfg;
  if (const char* env = std::getenv("KANSOKU_ADMIN_TOKEN"); env && *env) {
    opts.admin_token = env;
  } else if (!cfg.admin_token_file.empty()) {
    std::ifstream f(cfg.admin_token_file);
    if (!f) {
      std::fprintf(stderr, "kansoku: cannot read admin token file %s\n",
                   cfg.admin_token_file.c_str());
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    opts.admin_token = std::string(TrimSpace(ss.str()));
  }

  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Server server(opts);
  Status st = server.Start();
  if (!st.ok()) {
    log::Error("cannot start", {{"err", st.ToString()}});
    std::fprintf(stderr, "kansoku: cannot start: %s\n", st.message().c_str());
    return 1;
  }
  std::string addrs;
  for (const auto& a : server.BoundAddresses()) addrs += (addrs.empty() ? "" : ",") + a;
  log::Info("kansoku server started", {{"listen", addrs}, {"data_dir", cfg.data_dir}});
  if (!server.first_admin_token().empty()) {
    std::printf(
        "kansoku: first start: created the admin token below. It is shown once; keep it safe.\n"
        "admin token: %s\n",
        server.first_admin_token().c_str());
    std::fflush(stdout);
  }
  if (std::string dsn = server.FirstProjectDsn(); !dsn.empty()) {
    std::printf(
        "kansoku: first start: created project 1 \"default\" for Sentry SDKs; `kansoku projects` "
        "shows it again.\nsentry dsn: %s\n",
        dsn.c_str());
    std::fflush(stdout);
  }
  int sig = 0;
  for (;;) {
    sigwait(&set, &sig);
    if (sig != SIGHUP) break;
    Status rs = server.Reload();
    if (!rs.ok())
      log::Error("reload failed; previous configuration stays", {{"err", rs.message()}});
  }
  log::Info("shutting down", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  server.Stop();
  log::Info("stopped cleanly");
  return 0;
}

}  // namespace kansoku::server
