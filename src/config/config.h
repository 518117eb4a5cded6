#pragma once
// Server configuration: one YAML file plus flags (flags win). Every field's default is written at
// the field. Unknown keys and bad values are startup errors naming file, line and key
// ("kansoku.yml:7:3: http.idle_timeout: cannot parse duration \"ten\": ..."). `kansoku server
// --check-config` only loads and validates. An example with every key is docs/kansoku.example.yml.
//
// Thread safety: a loaded ServerConfig is immutable and shared read-only by every subsystem.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/cidr.h"
#include "base/status.h"
#include "config/monitors.h"

namespace kansoku::config {

struct HttpConfig {
  int io_threads = 0;                          // 0 = one per core
  int worker_threads = 0;                      // for queries and heavy writes; 0 = one per core
  int64_t header_timeout_ms = 10000;           // header_timeout: 10s (slow-client guard)
  int64_t body_timeout_ms = 60000;             // body_timeout: 60s
  int64_t idle_timeout_ms = 60000;             // idle_timeout: 60s (keep-alive)
  int64_t write_timeout_ms = 60000;            // write_timeout: 60s
  int max_connections = 4096;                  // beyond: 503 and close
  int max_queued_requests = 1024;              // offloaded requests waiting; beyond: 503
  int64_t max_body_bytes = 32 << 20;           // max_body_size: 32MiB on the wire, ingest routes
  int64_t max_decoded_body_bytes = 256 << 20;  // max_decoded_body_size: 256MiB after decoding
  int64_t shutdown_grace_ms = 15000;           // shutdown_grace: 15s to finish in-flight requests
};

struct TlsConfig {
  std::string cert_file;  // PEM certificate chain; with key_file, HTTP is served over TLS
  std::string key_file;   // PEM private key
};

struct LogConfig {
  std::string level = "info";     // debug | info | warn | error
  std::string format = "logfmt";  // logfmt | json
};

// UDP/TCP listeners: each off unless given an address (flag --<protocol>-<udp|tcp> HOST:PORT).
struct ListenersConfig {
  // Source networks allowed to send to the UDP/TCP listeners.
  std::vector<std::string> allow_cidrs = {"127.0.0.0/8", "::1/128"};
  std::string graphite_tcp;  // graphite_tcp: "" (off); Graphite plaintext, e.g. 127.0.0.1:2003
};

// Embedded metrics storage (data_dir/tsdb).
struct TsdbConfig {
  int64_t retention_ms = 15LL * 24 * 3600 * 1000;  // retention: 15d; delete older blocks
  int64_t retention_bytes = 0;                     // retention_size: 0 = no size bound
  int64_t out_of_order_window_ms = 3600 * 1000;    // out_of_order_window: 1h accepted late
  int64_t wal_fsync_interval_ms = 1000;            // wal_fsync_interval: 1s; 0 = every commit
  int64_t block_range_ms = 2 * 3600 * 1000;        // block_range: 2h
  int64_t rollup_min_age_ms = 40LL * 3600 * 1000;  // rollup_min_age: 40h (0: at every compaction)
  bool use_rollups = true;         // use_rollups: long-range queries read blocks' rollups
  int64_t max_series = 0;          // max_series: 0 = unlimited
  int64_t max_exemplars = 100000;  // max_exemplars: ring shared by all series; 0 = none kept
};

// Embedded log storage (data_dir/logs) and log listeners; docs/design/logs-storage.md.
struct LogsConfig {
  int64_t retention_ms = 30LL * 24 * 3600 * 1000;  // retention: 30d; delete older blocks
  int64_t retention_bytes = 0;                     // retention_size: 0 = no size bound
  int64_t wal_fsync_interval_ms = 1000;            // wal_fsync_interval: 1s; 0 = every append
  int64_t flush_interval_ms = 5 * 60 * 1000;       // flush_interval: 5m head -> block at most
  int64_t head_max_rows = 500000;                  // head_max_rows: flush beyond this
  int64_t max_line_bytes = 1 << 20;                // max_line_size: 1MiB; longer is cut, flagged
  int64_t max_query_rows = 1000000;                // max_query_rows: rows held by sort/stats
  std::vector<std::string> stream_fields;          // stream_fields: [] extra label names (env, ...)
  std::string syslog_udp;  // syslog_udp: "" (off); RFC 5424/3164 datagrams, e.g. 127.0.0.1:514
  std::string syslog_tcp;  // syslog_tcp: "" (off); octet-counted or LF-framed (auto per frame)
  std::string json_tcp;    // json_tcp: "" (off); JSON lines over TCP (logstash-logback-encoder)
};

// PromQL engine and the Prometheus query API.
struct QueryConfig {
  int64_t timeout_ms = 120000;           // timeout: 2m per query (503 timeout beyond)
  int64_t max_samples = 50000000;        // max_samples: samples in memory per query (422)
  int64_t lookback_delta_ms = 300000;    // lookback_delta: 5m
  int64_t max_series_returned = 100000;  // max_series_returned: per answer (422 beyond)
  int max_concurrency = 20;  // max_concurrency: queries evaluating at once (0 = no limit)
  int max_queued = 100;      // max_queued: queries waiting for a slot; 503 unavailable beyond
};

// Sentry-compatible error tracking (data_dir/errors; docs/design/errors.md).
struct ErrorsConfig {
  int64_t fsync_interval_ms = 1000;            // fsync_interval: 1s; 0 = fsync before every answer
  int64_t tsdb_flush_interval_ms = 10000;      // tsdb_flush_interval: 10s, issue counters to TSDB
  int64_t max_body_bytes = 20 << 20;           // max_body_size: 20MiB on the wire
  int64_t max_decoded_body_bytes = 100 << 20;  // max_decoded_body_size: 100MiB decoded
  int64_t retention_ms = 90LL * 24 * 3600 * 1000;  // retention: 90d (whole log segments)
  int64_t retention_bytes = 0;                     // retention_size: 0 = no size bound
  // logback: ERROR records with a Java stack trace from the log listeners become error events.
  bool logback_enabled = true;                      // logback.enabled
  int64_t logback_project = 0;                      // logback.project: 0 = the first project
  std::vector<std::string> logback_in_app_include;  // logback.in_app_include: package prefixes
  std::vector<std::string> logback_in_app_exclude;  // logback.in_app_exclude: "" = JDK etc.
  // spike_protection: per-project limit per minute from the recent baseline.
  bool spike_enabled = true;                         // spike_protection.enabled
  int64_t spike_window_ms = 7LL * 24 * 3600 * 1000;  // spike_protection.window: 7d
  double spike_multiplier = 10;                      // spike_protection.multiplier
  int64_t spike_floor_per_minute = 10000;            // spike_protection.floor_per_minute
  int64_t logs_link_window_ms = 5 * 60000;  // logs_link_window: +-5m around an event's time
};

// Alerting (docs/design/alerting.md): rule files, evaluation, notifications.
struct AlertingConfig {
  std::vector<std::string> rule_files;     // rule_files: globs of Prometheus rule files
  int64_t evaluation_interval_ms = 60000;  // evaluation_interval: 1m (groups without interval)
  int eval_threads = 2;                    // eval_threads: groups evaluated in parallel
  int64_t resend_delay_ms = 60000;         // resend_delay: 1m between re-sends of a firing alert
  std::vector<std::string> alertmanager_urls;  // alertmanager_urls: forward to these Alertmanagers
  std::string notifications_file;  // notifications_file: routes/receivers YAML, "" = none
  std::string external_url;        // external_url: used in generatorURL and payloads
  int flapping_threshold = 4;      // flapping.threshold: toggles that mean flapping; 0 = off
  int64_t flapping_window_ms = 30 * 60000;  // flapping.window: 30m
  int64_t flapping_hold_ms = 15 * 60000;    // flapping.hold: 15m stable before resolving
};

// limits: per API token (tenant); 0 = no limit. docs/design/usage.md.
struct TenantLimitsConfig {
  int64_t max_active_series = 0;          // series written within usage.active_window
  int64_t max_new_series_per_hour = 0;    // series created in the last hour
  int64_t max_series_per_metric = 0;      // active series of one metric name
  int64_t max_label_values_per_name = 0;  // distinct active values of one label name
  int64_t max_samples_per_second = 0;     // token bucket, 10 s burst; beyond: 429 + Retry-After
  int64_t max_events_per_minute = 0;      // error events (Sentry, logback); 1 min burst; 429
  int64_t max_log_bytes_per_second = 0;   // log message + field bytes; 10 s burst; 429
};
struct LimitsConfig {
  TenantLimitsConfig default_limits;                 // limits.default
  std::map<std::string, TenantLimitsConfig> tokens;  // limits.tokens.<token name>
  // Sentry ingest has no kansoku token: its events are accounted to the tenant
  // "sentry:<project slug>", whose limits are limits.tokens."sentry:<slug>" (else the default).
};
// usage: the guard's accounting.
struct UsageConfig {
  int64_t active_window_ms = 3600 * 1000;  // active_window: 1h; older series stop counting
  // accounting_labels: label names whose values are sources (at most 6).
  std::vector<std::string> accounting_labels = {"service", "host", "instance", "job",
                                                "container_id"};
  int top_n = 20;                           // top_n: offenders exported as kansoku_usage_* metrics
  int64_t self_scrape_interval_ms = 15000;  // self_scrape_interval: 15s; usage metrics -> TSDB
};

// hosts: the agents' registry (docs/design/agent.md §4).
struct HostsConfig {
  int unreachable_after =
      3;  // unreachable_after: missed heartbeat intervals (an agent may override)
};

// scrape / scrape_configs: server-side scrape targets (docs/design/scrape.md). The scrape library
// parses them (server/scrape_wiring.cc) from the file's text so messages name the file's lines.
struct ScrapeSourceConfig {
  bool present = false;   // either key was given
  std::string yaml_text;  // the whole config file
  std::string file;       // its name, for messages
};

struct ServerConfig {
  std::string data_dir = "./data";                       // embedded storage root
  std::vector<std::string> listen = {"127.0.0.1:9400"};  // HTTP addresses (API, ingest, UI)
  std::string admin_token_file;  // file holding the admin token to ensure at start (automation)
  std::string web_dir;           // built UI assets; "" = next to the binary or ./web/dist
  LogConfig log;
  TlsConfig tls;
  HttpConfig http;
  ListenersConfig listeners;
  TsdbConfig tsdb;
  QueryConfig query;
  LogsConfig logs;
  ErrorsConfig errors;
  AlertingConfig alerting;
  LimitsConfig limits;
  UsageConfig usage;
  HostsConfig hosts;
  ScrapeSourceConfig scrape;
  MonitorsConfig monitors;            // monitors: built-in alert monitors (config/monitors.h)
  std::vector<BudgetConfig> budgets;  // budgets: usage budget alerts (config/monitors.h)
};

// Loads path over the defaults. InvalidArgument with "file:line:col: key: why" on any problem.
Result<ServerConfig> LoadServerConfig(const std::string& path);
// Same, from YAML text (name used in messages).
Result<ServerConfig> ParseServerConfig(const std::string& yaml_text, const std::string& name);
// Checks cross-field rules (TLS pair, log level names, CIDRs...).
Status Validate(const ServerConfig& cfg);

}  // namespace kansoku::config
