#pragma once
// usage::Guard — what is monitored, how big it is, and limits that stop a cardinality explosion
// before it costs anything (docs/design/usage.md).
//
// Sits between the decoders and storage: the ingest API wraps each request's tsdb::Appender with
// Guard::Wrap(inner, tenant, protocol). The wrapper
//   - counts every sample into the tenant's and the sources' accounting,
//   - lets samples of *active* series (written within active_window) through at the cost of one
//     sharded hash lookup,
//   - checks a *new* series against the tenant's limits and, beyond one, refuses it with
//     Status::ResourceExhausted whose message names the limit, the current value and the
//     offending metric / label (the sink reports it as reason "limit"); nothing else changes,
//   - reserves a new series' place at Append and gives it back on Rollback, so concurrent
//     requests cannot overshoot a limit.
// The per-second sample limit is a per-tenant token bucket checked once per request with
// AdmitSamples() after decoding: a request that does not fit is refused whole (429).
// Error events and log records are volumes, not series: AdmitVolume() counts them per tenant and
// per source (a Sentry project, a log stream) and applies max_events_per_minute /
// max_log_bytes_per_second the same way (a request that does not fit is refused whole).
// Other subsystems' inventories (registered hosts, Sentry projects and keys, scrape targets) are
// merged into Sources() by providers (AddInventory), so one list answers "what is monitored".
//
// Thread safety: Guard is thread-safe. A wrapped appender is used by one thread, like any
// tsdb::Appender. Ownership: the Guard must outlive every appender it wrapped; Wrap takes the
// inner appender.
// Memory: ~56 bytes per active series, plus the interned names and label values.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "tsdb/storage.h"

namespace kansoku::metrics {
class Registry;
}

namespace kansoku::usage {

// Per-tenant limits; 0 means "no limit".
struct TenantLimits {
  uint64_t max_active_series = 0;
  uint64_t max_new_series_per_hour = 0;
  uint64_t max_series_per_metric = 0;
  uint64_t max_label_values_per_name = 0;
  double max_samples_per_second = 0;    // token bucket; burst = 10 s worth
  double max_events_per_minute = 0;     // error events; token bucket, burst = 1 minute's worth
  double max_log_bytes_per_second = 0;  // log message + field bytes; burst = 10 s worth
  bool operator==(const TenantLimits&) const = default;
};

struct GuardOptions {
  TenantLimits default_limits;
  std::map<std::string, TenantLimits, std::less<>> tenant_limits;  // by token name
  int64_t active_window_ms = 3600 * 1000;
  // Labels whose values are sources: a series with host="a" makes host "a" a known source.
  std::vector<std::string> accounting_labels = {"service", "host", "instance", "job",
                                                "container_id"};  // at most 6
  size_t top_n = 20;                                              // offenders exported as metrics
  const Clock* clock = &Clock::Real();
};

struct NamedCount {
  std::string name;
  uint64_t count = 0;
};

struct SourceInfo {
  std::string kind;    // "token", or an accounting label name ("host", "service", ...)
  std::string name;    // token name, or the label value
  std::string detail;  // token: protocols seen, comma-separated
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  uint64_t active_series = 0;
  double samples_per_second = 0;    // over the last full minute
  double events_per_minute = 0;     // error events (Sentry projects / keys)
  double log_bytes_per_second = 0;  // log streams
  uint64_t events_total = 0;
  uint64_t log_bytes_total = 0;
  std::string status;  // from an inventory provider (e.g. a host's "working"), else empty
};

// What one request carries of a volume signal, per source.
enum class Signal { kErrorEvents, kLogBytes };
struct VolumeItem {
  std::string_view kind;  // source kind, e.g. "sentry_project", "log_stream"
  std::string_view name;  // e.g. the project slug, the stream's labels
  uint64_t count = 0;     // events or records
  uint64_t bytes = 0;
};

struct TenantInfo {
  std::string name;
  uint64_t active_series = 0;
  uint64_t new_series_last_hour = 0;
  double samples_per_second = 0;
  uint64_t samples_total = 0;
  double events_per_minute = 0;
  double log_bytes_per_second = 0;
  uint64_t events_total = 0;
  uint64_t log_bytes_total = 0;
  TenantLimits limits;
  std::map<std::string, uint64_t> refusals;  // limit name -> refused series / requests
};

struct CardinalityReport {
  std::string tenant;                            // empty = all tenants
  std::vector<NamedCount> top_metrics;           // active series per metric name
  std::vector<NamedCount> top_labels;            // distinct active values per label name
  std::string biggest_label;                     // the first of top_labels
  std::vector<NamedCount> biggest_label_values;  // its values by active series
  uint64_t active_series = 0;
};

class Guard {
 public:
  explicit Guard(GuardOptions options);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

  // A guarded appender for one request of `tenant` (the token's name) via `protocol`.
  std::unique_ptr<tsdb::Appender> Wrap(std::unique_ptr<tsdb::Appender> inner,
                                       std::string_view tenant, std::string_view protocol);

  // Takes `samples` from the tenant's per-second budget. OK, or ResourceExhausted naming the
  // limit; *retry_after_s then tells when the request would fit.
  Status AdmitSamples(std::string_view tenant, uint64_t samples, int* retry_after_s);

  // One request's error events or log records: refused whole with ResourceExhausted (naming the
  // limit, the current rate and the biggest source of the request) when the tenant's
  // max_events_per_minute / max_log_bytes_per_second bucket cannot take it (*retry_after_s then
  // tells when it would fit); otherwise counted for the tenant and each item's source. Sources
  // beyond 100,000 per kind are folded into "(other)".
  Status AdmitVolume(Signal signal, std::string_view tenant, std::string_view protocol,
                     const std::vector<VolumeItem>& items, int* retry_after_s);

  // An inventory provider: called by Sources() (without the guard's locks held) for `kind`.
  // Entries whose (kind, name) the guard also knows are merged (the provider's first_seen,
  // detail and status win; the guard's counts are kept). Register before serving.
  using InventoryFn = std::function<std::vector<SourceInfo>()>;
  void AddInventory(std::string kind, InventoryFn fn);

  // Drops series (and label values, sources) not written within the active window. Called by
  // the owner about once a minute; also safe to call from tests.
  void Sweep();

  std::vector<TenantInfo> Tenants() const;
  // kind empty = every kind; sorted by active series, descending.
  std::vector<SourceInfo> Sources(std::string_view kind = {}, size_t limit = 0) const;
  CardinalityReport Cardinality(std::string_view tenant, size_t top) const;

  // kansoku_usage_* families (docs/design/usage.md) on `registry`.
  void RegisterMetrics(metrics::Registry& registry);
  // The same families as samples (one Labels with __name__ per child), for writing them into
  // the TSDB so PromQL, dashboards and alert rules see them like any metric.
  void Collect(std::vector<std::pair<tsdb::Labels, double>>* out);

  // The limits of a tenant (its own entry, else the default).
  const TenantLimits& LimitsFor(std::string_view tenant) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kansoku::usage
