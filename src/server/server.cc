#include "server/server.h"

#include <sys/stat.h>

#include <simdjson.h>
#include <chrono>
#include <fstream>
#include <limits>
#include <tuple>

#include "api/dashboards_api.h"
#include "api/errors_api.h"
#include "api/hosts_api.h"
#include "api/ingest_api.h"
#include "api/prom_api.h"
#include "api/usage_api.h"
#include "base/log.h"
#include "base/strings.h"
#include "errors/quota.h"
#include "errors/store.h"
#include "meta/dashboard_store.h"
#include "meta/host_store.h"
#include "meta/project_store.h"
#include "meta/token_store.h"
#include "net/http_server.h"
#include "net/stream_listener.h"
#include "query/engine/engine.h"
#include "server/alert_wiring.h"
#include "server/logs_wiring.h"
#include "server/query_wiring.h"
#include "server/scrape_wiring.h"
#include "server/static_files.h"
#include "server/usage_wiring.h"
#include "tsdb/db.h"

#ifndef KANSOKU_VERSION
#define KANSOKU_VERSION "0.0.0"
#endif

namespace kansoku::server {
namespace {

// Adapts the token store to the HTTP server's Authenticator seam.
class TokenAuthenticator : public net::Authenticator {
 public:
  explicit TokenAuthenticator(meta::TokenStore* store) : store_(store) {}
  Result<net::Principal> Authenticate(std::string_view token) override {
    auto t = store_->Authenticate(token);
    if (!t.ok()) return t.status();
    net::Principal p;
    p.token_id = t->id;
    p.token_name = t->name;
    if (t->scopes & meta::kIngest) p.scopes |= net::kScopeIngest;
    if (t->scopes & meta::kRead) p.scopes |= net::kScopeRead;
    if (t->scopes & meta::kAdmin) p.scopes |= net::kScopeAdmin;
    if (t->scopes & meta::kEdit) p.scopes |= net::kScopeEdit;
    return p;
  }

 private:
  meta::TokenStore* store_;
};

std::string TokenJson(const meta::TokenInfo& t) {
  std::string j =
      "{\"id\":" + std::to_string(t.id) + ",\"name\":" + net::JsonString(t.name) + ",\"scopes\":[";
  auto names = meta::ScopeNames(t.scopes);
  for (size_t i = 0; i < names.size(); ++i) j += (i ? ",\"" : "\"") + names[i] + "\"";
  j += "],\"created_at_ms\":" + std::to_string(t.created_at_ms);
  j += ",\"revoked\":" + std::string(t.revoked_at_ms ? "true" : "false") + "}";
  return j;
}

}  // namespace

Server::Server(ServerOptions options) : opts_(std::move(options)) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  const auto& cfg = opts_.config;
  if (::mkdir(cfg.data_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno("cannot create data directory " + cfg.data_dir, errno);
  }
  metrics::RegisterProcessMetrics(registry_);
  registry_.Gauge("kansoku_build_info", "Build information; value 1.", {"version"})
      .With({KANSOKU_VERSION})
      ->Set(1);
  // Families the ingest paths fill in: rows accepted and rejected by protocol and reason.
  registry_.Counter("kansoku_rows_accepted_total",
                    "Rows (samples, events, log lines) accepted, by protocol.", {"protocol"});
  registry_.Counter("kansoku_rows_rejected_total", "Rows rejected, by protocol and reason.",
                    {"protocol", "reason"});

  // Meta store and tokens.
  KANSOKU_ASSIGN_OR_RETURN(tokens_, meta::TokenStore::Open(cfg.data_dir));
  if (!opts_.admin_token.empty()) {
    auto t = tokens_->Ensure("admin", meta::kAdmin, opts_.admin_token);
    if (!t.ok()) return t.status();
  } else if (tokens_->Count() == 0) {
    auto t = tokens_->Create("admin", meta::kAdmin, &first_admin_token_);
    if (!t.ok()) return t.status();
  }
  registry_.GaugeFunc("kansoku_api_tokens", "Valid API tokens.",
                      [this] { return static_cast<double>(tokens_->Count()); });
  KANSOKU_ASSIGN_OR_RETURN(dashboards_, meta::DashboardStore::Open(cfg.data_dir));

  // Hosts registry (agents' inventory and heartbeats).
  meta::HostStoreOptions host_opts;
  host_opts.unreachable_after_intervals = cfg.hosts.unreachable_after;
  KANSOKU_ASSIGN_OR_RETURN(hosts_, meta::HostStore::Open(cfg.data_dir, host_opts));
  registry_.GaugeFunc("kansoku_hosts", "Registered hosts, not retired.",
                      [this] { return static_cast<double>(hosts_->List().size()); });
  registry_.GaugeFunc("kansoku_hosts_unreachable_alerting",
                      "Working or standby hosts whose heartbeats stopped.",
                      [this] { return static_cast<double>(hosts_->Unreachable().size()); });

  KANSOKU_RETURN_IF_ERROR(OpenMetricsStorage());
  logs_ = std::make_unique<LogsSubsystem>(opts_.config, &registry_);
  KANSOKU_RETURN_IF_ERROR(logs_->Open());
  KANSOKU_RETURN_IF_ERROR(OpenErrors());
  alerting_ =
      std::make_unique<AlertingWiring>(opts_.config, tsdb_.get(), engine_.get(), &registry_);
  alerting_->SetHostStore(hosts_.get());
  scrape_ = std::make_unique<ScrapeService>(opts_.config);
  KANSOKU_RETURN_IF_ERROR(scrape_->Open());
  scrape_->AddAlertSource(alerting_.get());
  KANSOKU_RETURN_IF_ERROR(alerting_->Start());
  usage_ = std::make_unique<UsageService>(cfg, registry_, tsdb_.get());
  usage_->AddInventory(hosts_.get(), projects_.get());
  usage_->AddScrapeInventory(scrape_.get());
  usage_->Start();
  KANSOKU_RETURN_IF_ERROR(
      alerting_->AddMonitors({error_store_.get(), logs_->store(), usage_->guard()}));
  web_dir_ = ResolveWebDir(cfg.web_dir);

  // HTTP last: it is what the outside world sees.
  net::HttpServerOptions ho;
  ho.listen = cfg.listen;
  ho.io_threads = cfg.http.io_threads;
  ho.worker_threads = cfg.http.worker_threads;
  ho.max_queued_requests = cfg.http.max_queued_requests;
  ho.tls_cert_file = cfg.tls.cert_file;
  ho.tls_key_file = cfg.tls.key_file;
  ho.header_timeout_ms = cfg.http.header_timeout_ms;
  ho.body_timeout_ms = cfg.http.body_timeout_ms;
  ho.idle_timeout_ms = cfg.http.idle_timeout_ms;
  ho.write_timeout_ms = cfg.http.write_timeout_ms;
  ho.max_connections = cfg.http.max_connections;
  ho.shutdown_grace_ms = cfg.http.shutdown_grace_ms;
  auth_ = std::make_unique<TokenAuthenticator>(tokens_.get());
  ho.authenticator = auth_.get();
  ho.metrics = &registry_;
  http_ = std::make_unique<net::HttpServer>(ho);
  AddRoutes();
  KANSOKU_RETURN_IF_ERROR(http_->Start());
  KANSOKU_RETURN_IF_ERROR(logs_->StartListeners());
  scrape_->Start(ingest_api_);

  // UDP/TCP listeners, each off unless configured.
  if (!cfg.listeners.graphite_tcp.empty()) {
    net::ListenerOptions lo;
    lo.name = "graphite";
    lo.address = cfg.listeners.graphite_tcp;
    lo.allow_cidrs = cfg.listeners.allow_cidrs;
    lo.framing = net::Framing::kLine;
    lo.sink = api::MakeGraphiteSink(ingest_api_);
    lo.metrics = &registry_;
    graphite_tcp_ = std::make_unique<net::TcpStreamListener>(lo);
    KANSOKU_RETURN_IF_ERROR(graphite_tcp_->Start());
    log::Info("listening", {{"protocol", "graphite"}, {"tcp", graphite_tcp_->BoundAddress()}});
  }
  ready_ = true;
  return Status::Ok();
}

Status Server::OpenMetricsStorage() {
  const auto& t = opts_.config.tsdb;
  tsdb::DBOptions o;
  o.retention_ms = t.retention_ms;
  o.retention_bytes = static_cast<uint64_t>(t.retention_bytes);
  o.out_of_order_window_ms = t.out_of_order_window_ms;
  o.wal_fsync_interval_ms = t.wal_fsync_interval_ms;
  o.block_range_ms = t.block_range_ms;
  o.rollup_min_age_ms = t.rollup_min_age_ms;
  o.use_rollups = t.use_rollups;
  o.max_series = static_cast<size_t>(t.max_series);
  o.max_exemplars = static_cast<size_t>(t.max_exemplars);
  auto start = std::chrono::steady_clock::now();
  auto db = tsdb::DB::Open(o, opts_.config.data_dir + "/tsdb");
  if (!db.ok()) return db.status().WithContext("cannot open metrics storage");
  tsdb_ = std::move(db).value();
  auto st = tsdb_->Stats();
  log::Info("metrics storage open",
            {{"series", static_cast<unsigned long long>(st.head_series)},
             {"blocks", static_cast<unsigned long long>(st.blocks)},
             {"wal_replay_records", static_cast<unsigned long long>(st.wal_replay_records)},
             {"seconds",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}});
  tsdb::DB* dbp = tsdb_.get();
  auto stat = [this, dbp](const char* name, const char* help, auto field, bool counter) {
    auto fn = [dbp, field] { return static_cast<double>(dbp->Stats().*field); };
    if (counter)
      registry_.CounterFunc(name, help, fn);
    else
      registry_.GaugeFunc(name, help, fn);
  };
  stat("kansoku_tsdb_head_series", "Series in the in-memory head.", &tsdb::DBStats::head_series,
       false);
  stat("kansoku_tsdb_head_chunks", "Chunks in the in-memory head.", &tsdb::DBStats::head_chunks,
       false);
  stat("kansoku_tsdb_samples_appended_total", "Samples accepted into storage.",
       &tsdb::DBStats::samples_appended, true);
  stat("kansoku_tsdb_samples_rejected_total", "Samples refused by storage.",
       &tsdb::DBStats::samples_rejected, true);
  stat("kansoku_tsdb_series_created_total", "Series created.", &tsdb::DBStats::series_created,
       true);
  stat("kansoku_tsdb_blocks", "Persisted blocks.", &tsdb::DBStats::blocks, false);
  stat("kansoku_tsdb_bytes_on_disk", "Bytes of blocks plus WAL.", &tsdb::DBStats::bytes_on_disk,
       false);
  stat("kansoku_tsdb_head_compactions_total", "Head ranges persisted as blocks.",
       &tsdb::DBStats::head_compactions, true);
  stat("kansoku_tsdb_block_compactions_total",
       "Blocks written by compaction (merges, and aged blocks rewritten with rollups).",
       &tsdb::DBStats::block_compactions, true);
  stat("kansoku_tsdb_rollup_block_reads_total",
       "Block reads served from 5 m / 1 h rollups instead of raw chunks.",
       &tsdb::DBStats::rollup_block_reads, true);
  registry_.GaugeFunc("kansoku_tsdb_head_min_time_seconds",
                      "Oldest sample time in the in-memory head (NaN when it is empty).", [dbp] {
                        const int64_t t = dbp->Stats().head_min_time;
                        return t == INT64_MAX ? std::numeric_limits<double>::quiet_NaN()
                                              : static_cast<double>(t) / 1000.0;
                      });
  if (tsdb::ExemplarStore* ex = dbp->exemplars(); ex != nullptr) {
    using ES = tsdb::ExemplarStats;
    for (auto [name, help, field] :
         {std::tuple{"kansoku_tsdb_exemplars_appended_total", "Exemplars stored.", &ES::appended},
          std::tuple{"kansoku_tsdb_exemplars_out_of_order_total",
                     "Exemplars refused: not newer than their series' newest.", &ES::out_of_order},
          std::tuple{"kansoku_tsdb_exemplars_duplicates_total",
                     "Exemplars dropped: equal to their series' newest.", &ES::duplicates},
          std::tuple{"kansoku_tsdb_exemplars_invalid_total",
                     "Exemplars refused: labels over 128 runes or not UTF-8.", &ES::invalid}}) {
      registry_.CounterFunc(name, help,
                            [ex, f = field] { return static_cast<double>(ex->Stats().*f); });
    }
    registry_.GaugeFunc("kansoku_tsdb_exemplars", "Exemplars in the ring.",
                        [ex] { return static_cast<double>(ex->Stats().stored); });
  }

  query::EngineOptions eo;
  eo.timeout = std::chrono::milliseconds(opts_.config.query.timeout_ms);
  eo.max_samples = opts_.config.query.max_samples;
  eo.lookback_delta_ms = opts_.config.query.lookback_delta_ms;
  eo.max_concurrency = opts_.config.query.max_concurrency;
  eo.max_queued = opts_.config.query.max_queued;
  engine_ = std::make_unique<query::Engine>(eo);
  server::RegisterQueryMetrics(registry_, *engine_);
  return Status::Ok();
}

void Server::AddRoutes() {
  using net::Request;
  using net::Response;
  using net::Route;
  auto add = [this](std::string method, std::string path, net::Scope scope, net::Handler h,
                    bool prefix = false) {
    Route r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.scope = scope;
    r.prefix = prefix;
    r.handler = std::move(h);
    http_->AddRoute(std::move(r));
  };

  add("GET", "/-/healthy", net::kScopeNone,
      [](Request&, Response& resp) { resp.Text(200, "kansoku is Healthy."); });
  add("GET", "/-/ready", net::kScopeNone, [this](Request&, Response& resp) {
    if (ready_)
      resp.Text(200, "kansoku is Ready.");
    else
      resp.Text(503, "kansoku is not ready.");
  });
  add("GET", "/metrics", net::kScopeRead, [this](Request&, Response& resp) {
    resp.status = 200;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = registry_.Render();
  });
  add("GET", "/api/v1/whoami", net::kScopeRead, [](Request& req, Response& resp) {
    std::string j =
        "{\"status\":\"success\",\"data\":{\"token_id\":" + std::to_string(req.principal.token_id) +
        ",\"name\":" + net::JsonString(req.principal.token_name) + "}}";
    resp.Json(200, std::move(j));
  });
  // Tokens (admin).
  add("GET", "/api/v1/tokens", net::kScopeAdmin, [this](Request& req, Response& resp) {
    std::string all;
    bool include_revoked =
        req.QueryParam("all", &all) && (all.empty() || all == "true" || all == "1");
    auto list = tokens_->List(include_revoked);
    if (!list.ok()) return resp.Error(500, list.status().message());
    std::string j = "{\"status\":\"success\",\"data\":[";
    for (size_t i = 0; i < list->size(); ++i) j += (i ? "," : "") + TokenJson((*list)[i]);
    j += "]}";
    resp.Json(200, std::move(j));
  });
  add("POST", "/api/v1/tokens", net::kScopeAdmin, [this](Request& req, Response& resp) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(req.body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      return resp.Error(400,
                        "cannot parse request body: expected a JSON object such as "
                        "{\"name\":\"ci\",\"scopes\":[\"ingest\"]}");
    }
    std::string_view name;
    if (doc["name"].get_string().get(name) != simdjson::SUCCESS || name.empty()) {
      return resp.Error(400, "field \"name\": a non-empty string is required");
    }
    std::vector<std::string> scopes;
    simdjson::dom::array arr;
    if (doc["scopes"].get_array().get(arr) != simdjson::SUCCESS) {
      return resp.Error(400, "field \"scopes\": a list of ingest, read, edit, admin is required");
    }
    for (auto v : arr) {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) {
        return resp.Error(400, "field \"scopes\": every entry must be a string");
      }
      scopes.emplace_back(s);
    }
    auto mask = meta::ParseScopes(scopes);
    if (!mask.ok()) return resp.Error(400, "field \"scopes\": " + mask.status().message());
    std::string secret;
    auto t = tokens_->Create(std::string(name), *mask, &secret);
    if (!t.ok()) return resp.Error(500, t.status().message());
    std::string j = TokenJson(*t);
    j.pop_back();
    j += ",\"token\":" + net::JsonString(secret) + "}";
    log::Info("token created", {{"id", static_cast<long long>(t->id)},
                                {"name", t->name},
                                {"by", req.principal.token_name}});
    resp.Json(201, "{\"status\":\"success\",\"data\":" + j + "}");
  });
  add(
      "DELETE", "/api/v1/tokens/", net::kScopeAdmin,
      [this](Request& req, Response& resp) {
        std::string id_s = req.path.substr(std::string("/api/v1/tokens/").size());
        char* end = nullptr;
        long long id = std::strtoll(id_s.c_str(), &end, 10);
        if (id_s.empty() || *end != '\0')
          return resp.Error(400, "token id must be a number, got \"" + id_s + "\"");
        Status st = tokens_->Revoke(id);
        if (st.code() == Status::Code::kNotFound) return resp.Error(404, st.message());
        if (!st.ok()) return resp.Error(500, st.message());
        log::Info("token revoked", {{"id", id}, {"by", req.principal.token_name}});
        resp.Json(200, "{\"status\":\"success\",\"data\":{\"id\":" + std::to_string(id) +
                           ",\"revoked\":true}}");
      },
      /*prefix=*/true);

  // Metrics ingest.
  api::IngestApiOptions ia;
  ia.storage = tsdb_.get();
  ia.metrics = &registry_;
  ia.guard = usage_->guard();
  ia.max_body_bytes = opts_.config.http.max_body_bytes;
  ia.max_decoded_body_bytes = opts_.config.http.max_decoded_body_bytes;
  ingest_api_ = api::RegisterIngestApi(*http_, ia);

  api::RegisterHostsApi(*http_, hosts_.get());
  scrape_->RegisterRoutes(*http_);
  AddErrorsRoutes();

  // Prometheus query API.
  api::PromApiOptions pa;
  pa.storage = tsdb_.get();
  pa.engine = engine_.get();
  pa.max_series_returned = static_cast<size_t>(opts_.config.query.max_series_returned);
  pa.version = KANSOKU_VERSION;
  api::RegisterPromApi(*http_, pa);
  alerting_->RegisterRoutes(*http_);
  api::RegisterUsageApi(*http_, usage_->guard());

  // Logs: ingest protocols and the log query API.
  logs_->AddRoutes(*http_, usage_->guard());

  // Dashboards (docs/design/dashboards.md).
  api::RegisterDashboardsApi(*http_, {.store = dashboards_.get()});

  // The web UI's static files: no token (the UI asks for one at login).
  add(
      "GET", "/", net::kScopeNone,
      [this](Request& req, Response& resp) { ServeStatic(web_dir_, req.path, &resp); },
      /*prefix=*/true);
}

void Server::Stop() {
  if (stopped_) return;
  stopped_ = true;
  ready_ = false;
  if (http_) http_->Stop();
  if (graphite_tcp_) graphite_tcp_->Stop();
  if (logs_) logs_->StopListeners();
  if (scrape_) scrape_->Stop();      // before alerting (its source reads it) and storage
  if (alerting_) alerting_->Stop();  // before storage: it writes rule results
  if (usage_) usage_->Stop();
  // Storage is closed after ingest has drained: the WAL is fsynced on close.
  CloseErrors();  // before the TSDB: it flushes its issue counters into it
  tsdb_.reset();
  hosts_.reset();
  logs_.reset();  // flushes the log head to blocks, fsyncs the WAL
  dashboards_.reset();
  tokens_.reset();
}

Status Server::Reload() {
  if (!alerting_) return Status::Unavailable("server not started");
  return alerting_->Reload();
}

std::vector<std::string> Server::BoundAddresses() const {
  return http_ ? http_->BoundAddresses() : std::vector<std::string>{};
}

}  // namespace kansoku::server
