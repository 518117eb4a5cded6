#pragma once
// Self-metrics: counters, gauges and histograms with labels, rendered in the Prometheus text
// exposition format (0.0.4) at /metrics.
//
//   auto& requests = registry.Counter("kansoku_http_requests_total", "HTTP requests.",
//                                     {"route", "code"});
//   Counter* c = requests.With({"/api/v1/write", "204"});   // cache this pointer
//   c->Inc();
//
// Thread safety: every method is thread-safe. Family::With takes a mutex (look a child up once,
// keep the pointer); Counter/Gauge/Histogram updates are lock-free atomics. Children and families
// live as long as the Registry; pointers to them stay valid.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace kansoku::metrics {

class Counter {
 public:
  void Inc(double v = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Snapshot for rendering: cumulative counts per bound, +Inf count, sum.
  void Snapshot(std::vector<uint64_t>* cumulative, uint64_t* count, double* sum) const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // one per bound, plus +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Default latency buckets in seconds: 0.5 ms .. 10 s.
const std::vector<double>& LatencyBuckets();

template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}
  // Child for these label values (same count as label names; extra/missing are a BUG).
  T* With(const std::vector<std::string>& values);
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Calls fn(values, child) for every child in label order, under the family's lock.
  void ForEach(const std::function<void(const std::vector<std::string>&, const T&)>& fn) const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;  // GUARDED_BY(mu_)
};

class Registry {
 public:
  Registry();
  ~Registry();
  // Registering the same name twice returns the first family (its help and labels win).
  Family<metrics::Counter>& Counter(const std::string& name, const std::string& help,
                                    std::vector<std::string> labels = {});
  Family<metrics::Gauge>& Gauge(const std::string& name, const std::string& help,
                                std::vector<std::string> labels = {});
  Family<metrics::Histogram>& Histogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels,
                                        const std::vector<double>& bounds = LatencyBuckets());
  // A gauge whose value is read at render time (process RSS, queue depth...).
  void GaugeFunc(const std::string& name, const std::string& help, std::function<double()> fn);
  void CounterFunc(const std::string& name, const std::string& help, std::function<double()> fn);
  // A family whose children are produced at render time: `fn` appends (label values, value)
  // pairs, each with as many values as `labels` has names. For sets that come and go (top-N
  // offenders): a child not produced is simply absent from that scrape. `type` is "gauge" or
  // "counter" (then the values must only grow).
  using CollectFn =
      std::function<void(std::vector<std::pair<std::vector<std::string>, double>>* out)>;
  void Collector(const std::string& name, const std::string& help, const char* type,
                 std::vector<std::string> labels, CollectFn fn);

  // Prometheus text format 0.0.4, families sorted by name.
  std::string Render() const;

 private:
  struct Entry;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;     // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<std::vector<double>>> bounds_;  // GUARDED_BY(mu_)
};

// Adds process_* metrics (resident memory, cpu seconds, open fds, start time, threads).
void RegisterProcessMetrics(Registry& registry);

// Formats a float as Prometheus does: NaN, +Inf, -Inf, else shortest round-trip.
std::string FormatValue(double v);
// Escapes a label value for the exposition format (\\, \", \n).
void AppendEscapedLabelValue(std::string& out, std::string_view v);

}  // namespace kansoku::metrics
