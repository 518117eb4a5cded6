// Error tracking in the composition root: the project store (meta.db), the event store
// (data_dir/errors), the rate limiter, and the Sentry ingest + issues API routes.
#include <algorithm>
#include <chrono>

#include "api/errors_api.h"
#include "base/log.h"
#include "errors/quota.h"
#include "errors/store.h"
#include "meta/project_store.h"
#include "net/http_server.h"
#include "server/errors_logback.h"
#include "server/logs_wiring.h"
#include "server/server.h"
#include "server/usage_wiring.h"
#include "tsdb/db.h"

namespace kansoku::server {

Status Server::OpenErrors() {
  const auto& cfg = opts_.config;
  KANSOKU_ASSIGN_OR_RETURN(projects_, meta::ProjectStore::Open(cfg.data_dir));
  bool created = false;
  auto first = projects_->EnsureFirst(&created);
  if (!first.ok()) return first.status().WithContext("cannot create the first project");
  if (created && !first->keys.empty()) first_project_key_ = first->keys[0].public_key;

  errors::StoreOptions so;
  so.dir = cfg.data_dir + "/errors";
  so.tsdb = tsdb_.get();
  so.fsync_interval_ms = cfg.errors.fsync_interval_ms;
  so.tsdb_flush_interval_ms = cfg.errors.tsdb_flush_interval_ms;
  so.retention_ms = cfg.errors.retention_ms;
  so.retention_bytes = cfg.errors.retention_bytes;
  // Spike protection's baseline is rebuilt from the stored events while the log replays.
  errors::SpikeOptions spike;
  spike.enabled = cfg.errors.spike_enabled;
  spike.window_ms = cfg.errors.spike_window_ms;
  spike.multiplier = cfg.errors.spike_multiplier;
  spike.floor_per_minute = cfg.errors.spike_floor_per_minute;
  error_spike_ = std::make_unique<errors::SpikeProtector>(Clock::Real(), spike);
  errors::SpikeProtector* sp = error_spike_.get();
  so.on_replayed_event = [sp](int64_t project, int64_t at_ms) { sp->Seed(project, at_ms); };
  auto start = std::chrono::steady_clock::now();
  auto store = errors::ErrorStore::Open(so);
  if (!store.ok()) return store.status().WithContext("cannot open error storage");
  error_store_ = std::move(store).value();
  auto st = error_store_->Stats();
  log::Info("error storage open",
            {{"issues", static_cast<unsigned long long>(st.issues)},
             {"events", static_cast<unsigned long long>(st.events)},
             {"replayed_records", static_cast<unsigned long long>(st.replayed_records)},
             {"seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}});
  error_limiter_ = std::make_unique<errors::RateLimiter>(Clock::Real());
  errors::ErrorStore* es = error_store_.get();
  registry_.GaugeFunc("kansoku_errors_issues", "Issues (groups of error events).",
                      [es] { return static_cast<double>(es->Stats().issues); });
  registry_.CounterFunc("kansoku_errors_events_stored_total", "Error events stored.",
                        [es] { return static_cast<double>(es->Stats().events); });
  registry_.GaugeFunc("kansoku_errors_log_bytes", "Bytes of the error event log on disk.",
                      [es] { return static_cast<double>(es->Stats().log_bytes); });
  return Status::Ok();
}

void Server::AddErrorsRoutes() {
  api::ErrorsApiOptions eo;
  eo.projects = projects_.get();
  eo.store = error_store_.get();
  eo.limiter = error_limiter_.get();
  eo.guard = usage_->guard();
  eo.metrics = &registry_;
  eo.max_body_bytes = opts_.config.errors.max_body_bytes;
  eo.max_decoded_body_bytes = opts_.config.errors.max_decoded_body_bytes;
  eo.tls = !opts_.config.tls.cert_file.empty();
  eo.spike = error_spike_.get();
  eo.log_store = logs_ ? logs_->store() : nullptr;
  eo.logs_link_window_ms = opts_.config.errors.logs_link_window_ms;
  errors_api_ = api::RegisterErrorsApi(*http_, eo);

  // logback: ERROR records with stack traces from the log listeners become error events.
  const auto& ec = opts_.config.errors;
  if (ec.logback_enabled && logs_) {
    int64_t project = ec.logback_project;
    if (project == 0) {  // the first project
      auto list = projects_->List();
      if (list.ok()) {
        for (const auto& p : *list) project = project == 0 ? p.id : std::min(project, p.id);
      }
    } else if (!projects_->Get(project).ok()) {
      log::Warn("errors.logback.project does not exist (yet); its events are refused until it does",
                {{"project", static_cast<long long>(project)}});
    }
    logs_->SetListenerObserver(MakeLogbackBridge(errors_api_, ec, project, &registry_));
  }
}

void Server::CloseErrors() {
  error_store_.reset();  // flushes issue counters to the TSDB and fsyncs the log
  projects_.reset();
}

std::string Server::FirstProjectDsn() const {
  if (first_project_key_.empty()) return "";
  auto addrs = BoundAddresses();
  std::string host = addrs.empty() ? "127.0.0.1:9400" : addrs[0];
  if (host.rfind("0.0.0.0:", 0) == 0) host = "127.0.0.1:" + host.substr(8);
  meta::ProjectKey k;
  k.public_key = first_project_key_;
  k.project_id = 1;
  return meta::Dsn(k, host, !opts_.config.tls.cert_file.empty());
}

}  // namespace kansoku::server
