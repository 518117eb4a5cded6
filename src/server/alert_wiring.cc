#include "server/alert_wiring.h"

#include <sys/stat.h>

#include <algorithm>
#include <optional>

#include "alert/dispatcher.h"
#include "alert/integrations.h"
#include "alert/manager.h"
#include "alert/silences.h"
#include "api/alert_api.h"
#include "base/log.h"
#include "server/alert_sources.h"
#include "server/monitor_sources.h"
#include "tsdb/db.h"

namespace kansoku::server {

AlertingWiring::AlertingWiring(const config::ServerConfig& cfg, tsdb::DB* db,
                               const query::Engine* engine, metrics::Registry* registry)
    : cfg_(cfg), db_(db), engine_(engine), registry_(registry) {}

AlertingWiring::~AlertingWiring() { Stop(); }

void AlertingWiring::AddSource(std::unique_ptr<alert::Source> source) {
  extra_sources_.push_back(std::move(source));
}

Status AlertingWiring::Start() {
  const auto& a = cfg_.alerting;
  std::string state_dir = cfg_.data_dir + "/alerts";
  if (::mkdir(state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("cannot create " + state_dir, errno);
  }
  silences_ = std::make_unique<alert::Silences>(state_dir, &Clock::Real());
  if (Status st = silences_->Load(); !st.ok()) {
    log::Warn("silences file ignored", {{"err", st.message()}});
  }
  std::vector<alert::AlertSink*> sinks;
  if (!a.notifications_file.empty()) {
    auto nc = alert::LoadNotifyConfig(a.notifications_file);
    if (!nc.ok()) return nc.status();
    alert::DispatcherOptions d;
    d.config = std::move(nc).value();
    d.metrics = registry_;
    d.silences = silences_.get();
    d.state_dir = state_dir;
    d.external_url = a.external_url;
    dispatcher_ = std::make_unique<alert::Dispatcher>(std::move(d));
    KANSOKU_RETURN_IF_ERROR(dispatcher_->Start());
    sinks.push_back(dispatcher_.get());
  }
  if (!a.alertmanager_urls.empty()) {
    forwarder_ = std::make_unique<alert::AlertmanagerForwarder>(a.alertmanager_urls, registry_);
    forwarder_->Start();
    sinks.push_back(forwarder_.get());
  }
  alert::ManagerOptions m;
  m.queryable = db_;
  m.appendable = db_;
  m.engine = engine_;
  m.metrics = registry_;
  m.sinks = sinks;
  m.state_dir = state_dir;
  m.rule_patterns = a.rule_files;
  m.api_rules_dir = cfg_.data_dir + "/rules";
  m.eval_threads = a.eval_threads;
  m.default_interval_ms = a.evaluation_interval_ms;
  m.resend_delay_ms = a.resend_delay_ms;
  m.flapping.threshold = a.flapping_threshold;
  m.flapping.window_ms = a.flapping_window_ms;
  m.flapping.hold_ms = a.flapping_hold_ms;
  // generatorURL must be an absolute URL for Alertmanager: default to our first address.
  m.external_url = !a.external_url.empty() ? a.external_url
                   : cfg_.listen.empty()   ? std::string("http://localhost:9400")
                                           : "http://" + cfg_.listen[0];
  rules_ = std::make_unique<alert::RuleManager>(std::move(m));
  KANSOKU_RETURN_IF_ERROR(rules_->Start());
  // After Start, so the sources claim their persisted alert state.
  if (hosts_) {
    int64_t every = std::min<int64_t>(15000, a.evaluation_interval_ms);
    rules_->AddSource(MakeHostConnectivitySource(hosts_, every));
    rules_->AddSource(MakeHostChecksSource(hosts_, every));
  }
  for (auto& src : extra_sources_) rules_->AddSource(std::move(src));
  extra_sources_.clear();
  return Status::Ok();
}

Status AlertingWiring::AddMonitors(const MonitorStores& st) {
  const auto& m = cfg_.monitors;
  int64_t every = std::min(m.interval_ms, cfg_.alerting.evaluation_interval_ms);
  std::vector<std::unique_ptr<alert::Source>> sources;
  if (st.errors &&
      (m.errors.new_issue || m.errors.regression || !m.errors.event_thresholds.empty())) {
    sources.push_back(MakeIssueSource(st.errors, m.errors, every));
  }
  if (st.errors && m.cron.enabled) {
    KANSOKU_ASSIGN_OR_RETURN(auto s,
                             MakeCronSource(st.errors, m.cron, every, Clock::Real().NowMs()));
    sources.push_back(std::move(s));
  }
  for (const auto& q : m.log_queries) {
    if (!st.logs) return Status::InvalidArgument("monitors.log_queries: the log store is off");
    KANSOKU_ASSIGN_OR_RETURN(auto s, MakeLogQuerySource(st.logs, q, every));
    sources.push_back(std::move(s));
  }
  if (!cfg_.budgets.empty() || (st.guard && m.limit_warn_at > 0)) {
    BudgetDeps d{hosts_, st.guard, st.errors, st.logs};
    KANSOKU_ASSIGN_OR_RETURN(auto s, MakeBudgetSource(d, cfg_.budgets, m.limit_warn_at, every));
    sources.push_back(std::move(s));
  }
  // Everything validated: now they start.
  for (auto& s : sources) rules_->AddSource(std::move(s));
  return Status::Ok();
}

void AlertingWiring::RegisterRoutes(net::HttpServer& http) {
  api::AlertApiOptions o;
  o.rules = rules_.get();
  o.dispatcher = dispatcher_.get();
  o.silences = silences_.get();
  o.rules_dir = cfg_.data_dir + "/rules";
  o.reload = [this] { return Reload(); };
  api::RegisterAlertApi(http, o);
}

Status AlertingWiring::Reload() {
  // All or nothing: the notifications file is parsed first, then the rules reload; only when
  // both are good does the dispatcher take the new routes and receivers.
  std::optional<alert::NotifyConfig> nc;
  if (!cfg_.alerting.notifications_file.empty() && dispatcher_) {
    auto r = alert::LoadNotifyConfig(cfg_.alerting.notifications_file);
    if (!r.ok()) {
      log::Warn("notifications file not reloaded; the previous routes stay",
                {{"err", r.status().message()}});
      return r.status();
    }
    nc = std::move(r).value();
  }
  KANSOKU_RETURN_IF_ERROR(rules_->Reload());
  if (nc) {
    size_t receivers = nc->receivers.size();
    dispatcher_->Reconfigure(std::move(*nc));
    log::Info("notifications reloaded",
              {{"file", cfg_.alerting.notifications_file},
               {"receivers", static_cast<unsigned long long>(receivers)}});
  }
  return Status::Ok();
}

void AlertingWiring::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (rules_) rules_->Stop();
  if (forwarder_) forwarder_->Stop();
  if (dispatcher_) dispatcher_->Stop();
}

}  // namespace kansoku::server
