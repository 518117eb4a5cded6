#include "base/metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base/check.h"

namespace kansoku::metrics {

namespace {
void AtomicAdd(std::atomic<double>& a, double v) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}
}  // namespace

void Counter::Inc(double v) { AtomicAdd(value_, v); }
void Gauge::Add(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds->size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_->size() && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

void Histogram::Snapshot(std::vector<uint64_t>* cumulative, uint64_t* count, double* sum) const {
  cumulative->assign(bounds_->size(), 0);
  uint64_t acc = 0;
  for (size_t i = 0; i < bounds_->size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    (*cumulative)[i] = acc;
  }
  acc += buckets_[bounds_->size()].load(std::memory_order_relaxed);
  *count = acc;  // consistent with the buckets even while Observe races
  *sum = sum_.load(std::memory_order_relaxed);
}

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return kBuckets;
}

template <typename T>
T* Family<T>::With(const std::vector<std::string>& values) {
  KANSOKU_CHECK(values.size() == label_names_.size(), "BUG: label value count mismatch");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return it->second.get();
  auto child = make_();
  T* p = child.get();
  children_.emplace(values, std::move(child));
  return p;
}

template <typename T>
void Family<T>::ForEach(
    const std::function<void(const std::vector<std::string>&, const T&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) fn(values, *child);
}

template class Family<metrics::Counter>;
template class Family<metrics::Gauge>;
template class Family<metrics::Histogram>;

struct Registry::Entry {
  enum Kind { kCounter, kGauge, kHistogram, kGaugeFunc, kCounterFunc, kCollector } kind;
  std::unique_ptr<Family<metrics::Counter>> counter;
  std::unique_ptr<Family<metrics::Gauge>> gauge;
  std::unique_ptr<Family<metrics::Histogram>> histogram;
  std::string help;
  std::function<double()> fn;
  std::vector<std::string> label_names;  // kCollector
  CollectFn collect;                     // kCollector
  const char* type = "gauge";            // kCollector
};

Registry::Registry() = default;
Registry::~Registry() = default;

Family<metrics::Counter>& Registry::Counter(const std::string& name, const std::string& help,
                                            std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[name];
  if (!e) {
    e = std::make_unique<Entry>();
    e->kind = Entry::kCounter;
    e->counter = std::make_unique<Family<metrics::Counter>>(
        name, help, std::move(labels), [] { return std::make_unique<metrics::Counter>(); });
  }
  KANSOKU_CHECK(e->kind == Entry::kCounter, "BUG: metric registered with two types");
  return *e->counter;
}

Family<metrics::Gauge>& Registry::Gauge(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[name];
  if (!e) {
    e = std::make_unique<Entry>();
    e->kind = Entry::kGauge;
    e->gauge = std::make_unique<Family<metrics::Gauge>>(
        name, help, std::move(labels), [] { return std::make_unique<metrics::Gauge>(); });
  }
  KANSOKU_CHECK(e->kind == Entry::kGauge, "BUG: metric registered with two types");
  return *e->gauge;
}

Family<metrics::Histogram>& Registry::Histogram(const std::string& name, const std::string& help,
                                                std::vector<std::string> labels,
                                                const std::vector<double>& bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[name];
  if (!e) {
    bounds_.push_back(std::make_unique<std::vector<double>>(bounds));
    const std::vector<double>* b = bounds_.back().get();
    e = std::make_unique<Entry>();
    e->kind = Entry::kHistogram;
    e->histogram = std::make_unique<Family<metrics::Histogram>>(
        name, help, std::move(labels), [b] { return std::make_unique<metrics::Histogram>(b); });
  }
  KANSOKU_CHECK(e->kind == Entry::kHistogram, "BUG: metric registered with two types");
  return *e->histogram;
}

void Registry::GaugeFunc(const std::string& name, const std::string& help,
                         std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[name];
  e = std::make_unique<Entry>();
  e->kind = Entry::kGaugeFunc;
  e->help = help;
  e->fn = std::move(fn);
}

void Registry::CounterFunc(const std::string& name, const std::string& help,
                           std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[name];
  e = std::make_unique<Entry>();
  e->kind = Entry::kCounterFunc;
  e->help = help;
  e->fn = std::move(fn);
}

void Registry::Collector(const std::string& name, const std::string& help, const char* type,
                         std::vector<std::string> labels, CollectFn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& e = entries_[name];
  e = std::make_unique<Entry>();
  e->kind = Entry::kCollector;
  e->help = help;
  e->type = type;
  e->label_names = std::move(labels);
  e->collect = std::move(fn);
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, p);
}

void AppendEscapedLabelValue(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

namespace {
void AppendHelp(std::string& out, const std::string& name, const std::string& help,
                const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void AppendLabels(std::string& out, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const char* extra_name = nullptr,
                  const std::string* extra_value = nullptr) {
  if (names.empty() && !extra_name) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    AppendEscapedLabelValue(out, values[i]);
    out += '"';
  }
  if (extra_name) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += *extra_value;
    out += '"';
  }
  out += '}';
}
}  // namespace

std::string Registry::Render() const {
  std::string out;
  out.reserve(16384);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& entry : entries_) {
    const std::string& name =
        entry.first;  // not a structured binding: clang 14 can't capture those
    const auto& e = entry.second;
    switch (e->kind) {
      case Entry::kCounter:
        AppendHelp(out, name, e->counter->help(), "counter");
        e->counter->ForEach([&](const std::vector<std::string>& v, const metrics::Counter& c) {
          out += name;
          AppendLabels(out, e->counter->label_names(), v);
          out += ' ';
          out += FormatValue(c.Value());
          out += '\n';
        });
        break;
      case Entry::kGauge:
        AppendHelp(out, name, e->gauge->help(), "gauge");
        e->gauge->ForEach([&](const std::vector<std::string>& v, const metrics::Gauge& g) {
          out += name;
          AppendLabels(out, e->gauge->label_names(), v);
          out += ' ';
          out += FormatValue(g.Value());
          out += '\n';
        });
        break;
      case Entry::kHistogram: {
        AppendHelp(out, name, e->histogram->help(), "histogram");
        const auto& names = e->histogram->label_names();
        e->histogram->ForEach([&](const std::vector<std::string>& v, const metrics::Histogram& h) {
          std::vector<uint64_t> cum;
          uint64_t count;
          double sum;
          h.Snapshot(&cum, &count, &sum);
          const std::string bucket = name + "_bucket";
          for (size_t i = 0; i < cum.size(); ++i) {
            std::string le = FormatValue(h.bounds()[i]);
            out += bucket;
            AppendLabels(out, names, v, "le", &le);
            out += ' ';
            out += std::to_string(cum[i]);
            out += '\n';
          }
          static const std::string kInf = "+Inf";
          out += bucket;
          AppendLabels(out, names, v, "le", &kInf);
          out += ' ' + std::to_string(count) + '\n';
          out += name + "_sum";
          AppendLabels(out, names, v);
          out += ' ' + FormatValue(sum) + '\n';
          out += name + "_count";
          AppendLabels(out, names, v);
          out += ' ' + std::to_string(count) + '\n';
        });
        break;
      }
      case Entry::kGaugeFunc:
        AppendHelp(out, name, e->help, "gauge");
        out += name + ' ' + FormatValue(e->fn()) + '\n';
        break;
      case Entry::kCounterFunc:
        AppendHelp(out, name, e->help, "counter");
        out += name + ' ' + FormatValue(e->fn()) + '\n';
        break;
      case Entry::kCollector: {
        AppendHelp(out, name, e->help, e->type);
        std::vector<std::pair<std::vector<std::string>, double>> children;
        e->collect(&children);
        for (const auto& child : children) {
          KANSOKU_CHECK(child.first.size() == e->label_names.size(),
                        "BUG: collector child with the wrong number of label values");
          out += name;
          AppendLabels(out, e->label_names, child.first);
          out += ' ';
          out += FormatValue(child.second);
          out += '\n';
        }
        break;
      }
    }
  }
  return out;
}

namespace {
double ReadStatField(int index) {
  // /proc/self/stat: fields after the ")" of comm; index counts from field 3 (state) = 0.
  std::ifstream f("/proc/self/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto p = s.rfind(')');
  if (p == std::string::npos) return 0;
  std::istringstream in(s.substr(p + 2));
  std::string tok;
  for (int i = 0; i <= index && in >> tok; ++i) {
    if (i == index) return std::strtod(tok.c_str(), nullptr);
  }
  return 0;
}

double CountFds() {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 0;
  double n = 0;
  while (readdir(d)) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the DIR's own fd
}
}  // namespace

void RegisterProcessMetrics(Registry& registry) {
  static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double kPage = static_cast<double>(sysconf(_SC_PAGESIZE));
  static const double kStart = static_cast<double>(std::time(nullptr));
  registry.CounterFunc("process_cpu_seconds_total", "Total user and system CPU time in seconds.",
                       [] { return (ReadStatField(11) + ReadStatField(12)) / kTicks; });
  registry.GaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.",
                     [] { return ReadStatField(21) * kPage; });
  registry.GaugeFunc("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                     [] { return ReadStatField(20); });
  registry.GaugeFunc("process_open_fds", "Number of open file descriptors.",
                     [] { return CountFds(); });
  registry.GaugeFunc("process_threads", "Number of OS threads.", [] { return ReadStatField(17); });
  registry.GaugeFunc("process_start_time_seconds", "Start time since the epoch in seconds.",
                     [] { return kStart; });
}

}  // namespace kansoku::metrics
