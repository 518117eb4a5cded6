#include "usage/guard.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <functional>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>

#include "base/check.h"
#include "base/metrics.h"
#include "usage/key_table.h"

namespace kansoku::usage {
namespace {

constexpr size_t kShards = 16;
constexpr size_t kMaxAccountingLabels = 6;
constexpr uint32_t kNoSource = 0xffffffffU;
constexpr double kBurstSeconds = 10;
// Sources are an inventory, not a cardinality sink: beyond this many per kind, new ones are
// folded into one "(other)" entry so a label fed by a counter cannot grow the guard itself.
constexpr size_t kMaxSourcesPerKind = 100000;

uint32_t MinuteOf(int64_t ms) { return static_cast<uint32_t>(ms / 60000); }

// A series' guard key: its label hash mixed with the tenant (0 written as 1: KeyTable's empty).
uint64_t Mix(uint64_t h, uint64_t tenant) {
  const uint64_t k = h ^ ((tenant + 1) * 0x9E3779B97F4A7C15ULL);
  return k | static_cast<uint64_t>(k == 0);
}

std::string SeriesText(const tsdb::Labels& labels) {
  std::string s = labels.ToString();
  if (s.size() > 200) s = s.substr(0, 197) + "...";
  return s;
}

// Strings <-> dense ids; ids are never reused.
class Interner {
 public:
  uint32_t Id(std::string_view s) {
    {
      std::shared_lock lock(mu_);
      auto it = ids_.find(s);
      if (it != ids_.end()) return it->second;
    }
    std::unique_lock lock(mu_);
    auto it = ids_.find(s);
    if (it != ids_.end()) return it->second;
    names_.push_back(std::make_unique<std::string>(s));
    uint32_t id = static_cast<uint32_t>(names_.size() - 1);
    ids_.emplace(*names_.back(), id);
    return id;
  }
  std::string Name(uint32_t id) const {
    std::shared_lock lock(mu_);
    return id < names_.size() ? *names_[id] : std::string();
  }

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<std::string>> names_;
  std::unordered_map<std::string_view, uint32_t> ids_;  // views into names_
};

struct Entry {
  uint32_t last_min = 0;
  uint32_t tenant = 0;
  uint32_t metric = 0;
  uint32_t samples = 0;  // since the last sweep
  std::array<uint32_t, kMaxAccountingLabels> src{kNoSource, kNoSource, kNoSource,
                                                 kNoSource, kNoSource, kNoSource};
};

struct Shard {
  std::mutex mu;
  // Keyed by the series' guard key (Mix). A request's first sample of each series and its commit
  // each look an entry up, and on bench/tsdb's import the entry is never in cache then
  // (std::unordered_map cost a bucket and a node miss: ~2.6% of the import's CPU).
  KeyTable<Entry> entries;  // GUARDED_BY(mu)
};

struct Source {
  uint32_t kind = 0;  // index into accounting_labels
  std::string name;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  uint64_t active_series = 0;
  uint64_t samples_last_sweep = 0;  // accumulated during a sweep
  double samples_per_second = 0;
};

// A token bucket; tokens < 0 means "not started" (full).
struct Bucket {
  double tokens = -1;
  int64_t ns = 0;
  // Takes n tokens if they fit; else *wait_s is how long until they would.
  bool Take(double n, double rate, double burst, int64_t now_ns, double* wait_s) {
    if (tokens < 0) {
      tokens = burst;
    } else {
      double add = static_cast<double>(now_ns - ns) / 1e9 * rate;
      tokens = std::min(burst, tokens + std::max(0.0, add));
    }
    ns = now_ns;
    if (n <= tokens) {
      tokens -= n;
      return true;
    }
    *wait_s = n > burst ? burst / rate : (n - tokens) / rate;
    return false;
  }
};

// A source of a volume signal (a Sentry project, a log stream).
struct VolumeSource {
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  uint64_t count_total = 0;
  uint64_t bytes_total = 0;
  uint64_t count_sweep = 0;
  uint64_t bytes_sweep = 0;
  double count_per_second = 0;
  double bytes_per_second = 0;
};

}  // namespace

struct Tenant {
  uint32_t id = 0;
  std::string name;
  const TenantLimits* limits = nullptr;
  std::atomic<uint64_t> active_series{0};
  std::atomic<uint64_t> samples_total{0};
  std::atomic<int64_t> first_seen_ms{0};
  std::atomic<int64_t> last_seen_ms{0};
  std::atomic<double> samples_per_second{0};

  std::mutex mu;  // guards everything below
  std::array<uint64_t, 60> new_by_minute{};
  std::array<uint32_t, 60> new_minute_stamp{};
  std::map<std::string, uint64_t> refusals;
  std::set<std::string> protocols;
  Bucket samples_bucket;
  Bucket events_bucket;
  Bucket log_bytes_bucket;
  uint64_t sweep_samples = 0;
  // Volume signals.
  uint64_t events_total = 0;
  uint64_t log_bytes_total = 0;
  uint64_t events_sweep = 0;
  uint64_t log_bytes_sweep = 0;
  double events_per_minute = 0;
  double log_bytes_per_second = 0;

  uint64_t NewLastHour(uint32_t now_min) const {
    uint64_t n = 0;
    for (size_t i = 0; i < 60; ++i) {
      if (now_min - new_minute_stamp[i] < 60) n += new_by_minute[i];
    }
    return n;
  }
};

class Guard::Impl {
 public:
  explicit Impl(GuardOptions o) : opts_(std::move(o)) {
    KANSOKU_CHECK(opts_.accounting_labels.size() <= kMaxAccountingLabels,
                  "BUG: at most 6 accounting labels");
    window_min_ = static_cast<uint32_t>(std::max<int64_t>(1, opts_.active_window_ms / 60000));
    last_sweep_ms_ = opts_.clock->NowMs();
    sources_.resize(opts_.accounting_labels.size());
  }

  GuardOptions opts_;
  uint32_t window_min_;
  Interner metric_names_;
  Interner label_names_;
  std::array<Shard, kShards> shards_;

  mutable std::mutex tenants_mu_;
  std::vector<std::unique_ptr<Tenant>> tenants_;  // GUARDED_BY(tenants_mu_); never shrinks
  std::unordered_map<std::string, Tenant*> tenant_by_name_;

  // Active series per (tenant, metric).
  mutable std::mutex metric_mu_;
  std::unordered_map<uint64_t, uint64_t> metric_series_;  // GUARDED_BY(metric_mu_)

  // Distinct active label values per (tenant, label name): value -> last minute written.
  mutable std::mutex label_mu_;
  std::unordered_map<uint64_t, std::unordered_map<std::string, uint32_t>> label_values_;

  // Sources per accounting label: id -> Source, (value) -> id.
  struct SourceKind {
    std::vector<Source> by_id;
    std::unordered_map<std::string, uint32_t> ids;
  };
  mutable std::mutex sources_mu_;
  std::vector<SourceKind> sources_;  // GUARDED_BY(sources_mu_)

  // Volume sources: kind -> name -> source.
  mutable std::mutex volume_mu_;
  std::map<std::string, std::unordered_map<std::string, VolumeSource>, std::less<>>
      volumes_;  // GUARDED_BY(volume_mu_)

  mutable std::mutex providers_mu_;
  std::vector<std::pair<std::string, InventoryFn>> providers_;  // GUARDED_BY(providers_mu_)

  std::mutex sweep_mu_;
  int64_t last_sweep_ms_;

  static uint64_t PairKey(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

  Tenant* TenantFor(std::string_view name) {
    std::lock_guard lock(tenants_mu_);
    auto it = tenant_by_name_.find(std::string(name));
    if (it != tenant_by_name_.end()) return it->second;
    auto t = std::make_unique<Tenant>();
    t->id = static_cast<uint32_t>(tenants_.size());
    t->name = std::string(name);
    t->limits = &LimitsFor(name);
    t->first_seen_ms = opts_.clock->NowMs();
    Tenant* p = t.get();
    tenants_.push_back(std::move(t));
    tenant_by_name_.emplace(p->name, p);
    return p;
  }

  const TenantLimits& LimitsFor(std::string_view tenant) const {
    auto it = opts_.tenant_limits.find(tenant);
    return it != opts_.tenant_limits.end() ? it->second : opts_.default_limits;
  }

  void Refuse(Tenant* t, const char* limit) {
    std::lock_guard lock(t->mu);
    ++t->refusals[limit];
  }

  uint32_t SourceId(size_t kind, std::string_view value, int64_t now_ms) {
    // Caller holds sources_mu_.
    SourceKind& k = sources_[kind];
    auto it = k.ids.find(std::string(value));
    if (it != k.ids.end()) return it->second;
    std::string name(value);
    if (k.by_id.size() >= kMaxSourcesPerKind) name = "(other)";
    it = k.ids.find(name);
    if (it != k.ids.end()) return it->second;
    Source s;
    s.kind = static_cast<uint32_t>(kind);
    s.name = name;
    s.first_seen_ms = now_ms;
    s.last_seen_ms = now_ms;
    k.by_id.push_back(std::move(s));
    uint32_t id = static_cast<uint32_t>(k.by_id.size() - 1);
    k.ids.emplace(std::move(name), id);
    return id;
  }

  // Marks every label value of a series as written in `now_min`. Caller holds label_mu_.
  void TouchLabels(uint32_t tenant, const tsdb::Labels& labels, uint32_t now_min) {
    for (const auto& l : labels) {
      if (l.name == tsdb::kMetricName) continue;
      auto& values = label_values_[PairKey(tenant, label_names_.Id(l.name))];
      auto [it, inserted] = values.try_emplace(l.value, now_min);
      if (!inserted) it->second = now_min;
    }
  }

  // Creates the entry of a new series after checking every limit. Caller holds the shard lock.
  Status Create(Shard& shard, uint64_t key, Tenant* t, const tsdb::Labels& labels, int64_t now_ms) {
    const TenantLimits& lim = *t->limits;
    uint32_t now_min = MinuteOf(now_ms);
    std::string_view metric = labels.MetricName();
    uint32_t metric_id = metric_names_.Id(metric);

    // max_active_series: reserve one place atomically.
    uint64_t cur = t->active_series.load();
    do {
      if (lim.max_active_series != 0 && cur >= lim.max_active_series) {
        Refuse(t, "max_active_series");
        return Status::ResourceExhausted(
            "limit max_active_series=" + std::to_string(lim.max_active_series) +
            " reached for token \"" + t->name + "\" (" + std::to_string(cur) +
            " active series): new series " + SeriesText(labels) + " refused");
      }
    } while (!t->active_series.compare_exchange_weak(cur, cur + 1));
    auto release_active = [&] { t->active_series.fetch_sub(1); };

    // max_new_series_per_hour.
    {
      std::lock_guard lock(t->mu);
      uint64_t n = t->NewLastHour(now_min);
      if (lim.max_new_series_per_hour != 0 && n >= lim.max_new_series_per_hour) {
        ++t->refusals["max_new_series_per_hour"];
        release_active();
        return Status::ResourceExhausted(
            "limit max_new_series_per_hour=" + std::to_string(lim.max_new_series_per_hour) +
            " reached for token \"" + t->name + "\" (" + std::to_string(n) +
            " new series in the last hour): new series " + SeriesText(labels) + " refused");
      }
    }

    // max_series_per_metric.
    const uint64_t mkey = PairKey(t->id, metric_id);
    {
      std::lock_guard lock(metric_mu_);
      uint64_t& n = metric_series_[mkey];
      if (lim.max_series_per_metric != 0 && n >= lim.max_series_per_metric) {
        uint64_t have = n;
        if (n == 0) metric_series_.erase(mkey);
        Refuse(t, "max_series_per_metric");
        release_active();
        return Status::ResourceExhausted(
            "limit max_series_per_metric=" + std::to_string(lim.max_series_per_metric) +
            " reached for metric \"" + std::string(metric) + "\" of token \"" + t->name + "\" (" +
            std::to_string(have) + " series): new series " + SeriesText(labels) + " refused");
      }
      ++n;
    }
    auto release_metric = [&] {
      std::lock_guard lock(metric_mu_);
      auto it = metric_series_.find(mkey);
      if (it != metric_series_.end() && --it->second == 0) metric_series_.erase(it);
    };

    // max_label_values_per_name, then record the values.
    {
      std::lock_guard lock(label_mu_);
      if (lim.max_label_values_per_name != 0) {
        for (const auto& l : labels) {
          if (l.name == tsdb::kMetricName) continue;
          auto it = label_values_.find(PairKey(t->id, label_names_.Id(l.name)));
          size_t have = it == label_values_.end() ? 0 : it->second.size();
          bool is_new = it == label_values_.end() || it->second.count(l.value) == 0;
          if (is_new && have >= lim.max_label_values_per_name) {
            Refuse(t, "max_label_values_per_name");
            release_metric();
            release_active();
            std::string v = l.value.size() > 64 ? l.value.substr(0, 61) + "..." : l.value;
            return Status::ResourceExhausted(
                "limit max_label_values_per_name=" + std::to_string(lim.max_label_values_per_name) +
                " reached for label \"" + l.name + "\" of token \"" + t->name + "\" (" +
                std::to_string(have) + " values): new value \"" + v + "\" in " +
                SeriesText(labels) + " refused");
          }
        }
      }
      TouchLabels(t->id, labels, now_min);
    }

    Entry e;
    e.last_min = now_min;
    e.tenant = t->id;
    e.metric = metric_id;
    {
      std::lock_guard lock(sources_mu_);
      for (size_t i = 0; i < opts_.accounting_labels.size(); ++i) {
        std::string_view v = labels.Get(opts_.accounting_labels[i]);
        if (v.empty()) continue;
        uint32_t id = SourceId(i, v, now_ms);
        e.src[i] = id;
        Source& s = sources_[i].by_id[id];
        ++s.active_series;
        s.last_seen_ms = now_ms;
      }
    }
    {
      std::lock_guard lock(t->mu);
      size_t slot = now_min % 60;
      if (t->new_minute_stamp[slot] != now_min) {
        t->new_minute_stamp[slot] = now_min;
        t->new_by_minute[slot] = 0;
      }
      ++t->new_by_minute[slot];
    }
    e.samples = 1;  // the sample that created it
    shard.entries.Insert(key, e);
    return Status::Ok();
  }

  // Undoes everything Create did for an entry (rollback or expiry). Caller holds the shard lock.
  void Release(const Entry& e) {
    Tenant* t;
    {
      std::lock_guard lock(tenants_mu_);
      t = tenants_[e.tenant].get();
    }
    t->active_series.fetch_sub(1);
    {
      std::lock_guard lock(metric_mu_);
      auto it = metric_series_.find(PairKey(e.tenant, e.metric));
      if (it != metric_series_.end() && --it->second == 0) metric_series_.erase(it);
    }
    std::lock_guard lock(sources_mu_);
    for (size_t i = 0; i < e.src.size() && i < sources_.size(); ++i) {
      if (e.src[i] == kNoSource) continue;
      Source& s = sources_[i].by_id[e.src[i]];
      if (s.active_series > 0) --s.active_series;
    }
  }

  // One sample of `labels` for tenant t. *created is set when this call created the series.
  Status Touch(Tenant* t, const tsdb::Labels& labels, int64_t now_ms, uint64_t* key_out,
               bool* created) {
    uint64_t key = Mix(labels.Hash(), t->id);
    *key_out = key;
    *created = false;
    Shard& shard = shards_[key % kShards];
    uint32_t now_min = MinuteOf(now_ms);
    std::lock_guard lock(shard.mu);
    if (Entry* e = shard.entries.Find(key)) {
      ++e->samples;
      if (e->last_min != now_min) {
        e->last_min = now_min;
        std::lock_guard llock(label_mu_);
        TouchLabels(t->id, labels, now_min);
      }
      return Status::Ok();
    }
    Status st = Create(shard, key, t, labels, now_ms);
    if (st.ok()) *created = true;
    return st;
  }

  struct KeyCount {
    uint64_t key;
    uint32_t n;
  };
  // Counts more samples for existing entries: items[i].n for items[i].key. Scratch: *by_shard.
  // One lock per shard, and each lookup's slot is loaded a few items ahead.
  void AddSamples(const std::vector<KeyCount>& items, std::vector<KeyCount>* by_shard) {
    std::array<uint32_t, kShards + 1> start{};
    for (const KeyCount& kc : items) ++start[kc.key % kShards + 1];
    for (size_t i = 1; i <= kShards; ++i) start[i] += start[i - 1];
    by_shard->resize(items.size());
    std::array<uint32_t, kShards> pos;
    std::copy(start.begin(), start.end() - 1, pos.begin());
    for (const KeyCount& kc : items) (*by_shard)[pos[kc.key % kShards]++] = kc;
    constexpr size_t kAhead = 4;
    for (size_t sh = 0; sh < kShards; ++sh) {
      if (start[sh] == start[sh + 1]) continue;
      Shard& shard = shards_[sh];
      std::lock_guard lock(shard.mu);
      for (size_t i = start[sh]; i < start[sh + 1]; ++i) {
        if (i + kAhead < start[sh + 1]) shard.entries.Prefetch((*by_shard)[i + kAhead].key);
        if (Entry* e = shard.entries.Find((*by_shard)[i].key)) e->samples += (*by_shard)[i].n;
      }
    }
  }

  void Forget(uint64_t key) {
    Shard& shard = shards_[key % kShards];
    std::lock_guard lock(shard.mu);
    Entry* e = shard.entries.Find(key);
    if (e == nullptr) return;
    Release(*e);
    shard.entries.Erase(key);
  }

  void Sweep() {
    std::lock_guard sweep_lock(sweep_mu_);
    int64_t now_ms = opts_.clock->NowMs();
    uint32_t now_min = MinuteOf(now_ms);
    double elapsed_s = std::max(1.0, static_cast<double>(now_ms - last_sweep_ms_) / 1000.0);
    last_sweep_ms_ = now_ms;
    std::vector<uint64_t> tenant_samples;
    {
      std::lock_guard lock(tenants_mu_);
      tenant_samples.assign(tenants_.size(), 0);
    }
    std::vector<uint64_t> expired;
    for (Shard& shard : shards_) {
      std::lock_guard lock(shard.mu);
      expired.clear();
      shard.entries.ForEach([&](uint64_t key, Entry& e) {
        if (e.samples > 0) {
          if (e.tenant < tenant_samples.size()) tenant_samples[e.tenant] += e.samples;
          std::lock_guard slock(sources_mu_);
          for (size_t i = 0; i < sources_.size(); ++i) {
            if (e.src[i] == kNoSource) continue;
            Source& s = sources_[i].by_id[e.src[i]];
            s.samples_last_sweep += e.samples;
            s.last_seen_ms = now_ms;
          }
          e.samples = 0;
        }
        if (now_min - e.last_min >= window_min_) {
          Release(e);
          expired.push_back(key);
        }
      });
      for (uint64_t key : expired) shard.entries.Erase(key);
    }
    {
      std::lock_guard lock(label_mu_);
      for (auto it = label_values_.begin(); it != label_values_.end();) {
        auto& values = it->second;
        for (auto v = values.begin(); v != values.end();) {
          if (now_min - v->second >= window_min_)
            v = values.erase(v);
          else
            ++v;
        }
        if (values.empty())
          it = label_values_.erase(it);
        else
          ++it;
      }
    }
    {
      std::lock_guard lock(sources_mu_);
      for (auto& kind : sources_) {
        for (auto& s : kind.by_id) {
          s.samples_per_second = static_cast<double>(s.samples_last_sweep) / elapsed_s;
          s.samples_last_sweep = 0;
        }
      }
    }
    {
      std::lock_guard lock(volume_mu_);
      for (auto& [kind, by_name] : volumes_) {
        for (auto& [name, v] : by_name) {
          v.count_per_second = static_cast<double>(v.count_sweep) / elapsed_s;
          v.bytes_per_second = static_cast<double>(v.bytes_sweep) / elapsed_s;
          v.count_sweep = v.bytes_sweep = 0;
        }
      }
    }
    std::lock_guard lock(tenants_mu_);
    for (size_t i = 0; i < tenants_.size(); ++i) {
      uint64_t n = i < tenant_samples.size() ? tenant_samples[i] : 0;
      Tenant& t = *tenants_[i];
      t.samples_per_second = static_cast<double>(n) / elapsed_s;
      std::lock_guard tlock(t.mu);
      t.events_per_minute = static_cast<double>(t.events_sweep) * 60.0 / elapsed_s;
      t.log_bytes_per_second = static_cast<double>(t.log_bytes_sweep) / elapsed_s;
      t.events_sweep = t.log_bytes_sweep = 0;
    }
  }

  // Counts one admitted request's items. Caller holds no lock.
  void Account(Signal signal, Tenant* t, const std::vector<VolumeItem>& items, int64_t now_ms) {
    uint64_t count = 0, bytes = 0;
    for (const auto& it : items) {
      count += it.count;
      bytes += it.bytes;
    }
    {
      std::lock_guard lock(t->mu);
      if (signal == Signal::kErrorEvents) {
        t->events_total += count;
        t->events_sweep += count;
      } else {
        t->log_bytes_total += bytes;
        t->log_bytes_sweep += bytes;
      }
    }
    t->last_seen_ms = now_ms;
    std::lock_guard lock(volume_mu_);
    for (const auto& it : items) {
      auto k = volumes_.find(it.kind);
      if (k == volumes_.end())
        k = volumes_.emplace(std::string(it.kind), decltype(k->second)()).first;
      auto& by_name = k->second;
      auto v = by_name.find(std::string(it.name));
      if (v == by_name.end()) {
        std::string name(it.name);
        if (by_name.size() >= kMaxSourcesPerKind) name = "(other)";
        v = by_name.try_emplace(std::move(name)).first;
        if (v->second.first_seen_ms == 0) v->second.first_seen_ms = now_ms;
      }
      VolumeSource& src = v->second;
      src.last_seen_ms = now_ms;
      src.count_total += it.count;
      src.bytes_total += it.bytes;
      src.count_sweep += it.count;
      src.bytes_sweep += it.bytes;
    }
  }
};

namespace {

class GuardedAppender : public tsdb::Appender {
 public:
  GuardedAppender(Guard::Impl* g, Tenant* t, std::unique_ptr<tsdb::Appender> inner)
      : g_(g), t_(t), inner_(std::move(inner)) {}
  ~GuardedAppender() override {
    if (!done_) ReleaseCreated();
  }

  Status Append(const tsdb::Labels& labels, int64_t t, double v) override {
    uint64_t handle = 0;
    return AppendWithHandle(&handle, labels, t, v);
  }
  // The handle goes through to the storage (its fast path) and names the series for the guard
  // too: a series seen earlier in this batch is accounted by a counter in runs_, added to its
  // entry at Commit, instead of a label hash and a locked lookup per sample.
  Status AppendWithHandle(uint64_t* handle, const tsdb::Labels& labels, int64_t t,
                          double v) override {
    if (*handle != 0) {
      if (Run* run = seen_.Find(*handle)) {
        ++run->extra;
        ++samples_;
        return inner_->AppendWithHandle(handle, labels, t, v);
      }
    }
    uint64_t key;
    bool created;
    Status st = g_->Touch(t_, labels, g_->opts_.clock->NowMs(), &key, &created);
    if (!st.ok()) return st;
    if (created) created_.push_back(key);
    ++samples_;
    Status as = inner_->AppendWithHandle(handle, labels, t, v);
    if (*handle != 0 && seen_.Find(*handle) == nullptr) {
      seen_.Insert(*handle, Run{static_cast<uint32_t>(run_keys_.size()), 0});
      run_keys_.push_back(key);
    }
    return as;
  }
  Status UpdateMetadata(std::string_view metric_name, const tsdb::MetricMetadata& md) override {
    return inner_->UpdateMetadata(metric_name, md);
  }
  // Exemplars are not accounted (they create no series): straight to storage.
  Status AppendExemplar(const tsdb::Labels& series, const tsdb::Exemplar& e) override {
    return inner_->AppendExemplar(series, e);
  }
  Status Commit() override {
    done_ = true;
    FlushRuns();
    Status st = inner_->Commit();
    if (!st.ok()) {
      ReleaseCreated();
      return st;
    }
    t_->samples_total.fetch_add(samples_);
    t_->last_seen_ms = g_->opts_.clock->NowMs();
    return st;
  }
  void Rollback() override {
    done_ = true;
    inner_->Rollback();
    ReleaseCreated();
  }

 private:
  // Adds the samples counted in seen_ to their entries (Touch counted each series' first).
  void FlushRuns() {
    counts_.clear();
    seen_.ForEach([&](uint64_t, const Run& r) {
      if (r.extra > 0) counts_.push_back({run_keys_[r.index], r.extra});
    });
    if (!counts_.empty()) g_->AddSamples(counts_, &by_shard_);
    run_keys_.clear();
    seen_.Clear();
  }
  void ReleaseCreated() {
    for (uint64_t key : created_) g_->Forget(key);
    created_.clear();
  }
  Guard::Impl* g_;
  Tenant* t_;
  std::unique_ptr<tsdb::Appender> inner_;
  std::vector<uint64_t> created_;
  uint64_t samples_ = 0;
  // A series seen earlier in the batch, by storage handle: one probe of a 16-byte slot per
  // sample (a FlatMap64 to the run's index, then the run, cost two cache misses).
  struct Run {
    uint32_t index;  // in run_keys_
    uint32_t extra;  // samples after its first in this batch
  };
  KeyTable<Run> seen_;
  std::vector<uint64_t> run_keys_;                        // the runs' guard keys
  std::vector<Guard::Impl::KeyCount> counts_, by_shard_;  // FlushRuns' scratch
  bool done_ = false;
};

}  // namespace

Guard::Guard(GuardOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Guard::~Guard() = default;

const TenantLimits& Guard::LimitsFor(std::string_view tenant) const {
  return impl_->LimitsFor(tenant);
}

std::unique_ptr<tsdb::Appender> Guard::Wrap(std::unique_ptr<tsdb::Appender> inner,
                                            std::string_view tenant, std::string_view protocol) {
  Tenant* t = impl_->TenantFor(tenant);
  {
    std::lock_guard lock(t->mu);
    if (t->protocols.size() < 32) t->protocols.emplace(protocol);
  }
  return std::make_unique<GuardedAppender>(impl_.get(), t, std::move(inner));
}

Status Guard::AdmitSamples(std::string_view tenant, uint64_t samples, int* retry_after_s) {
  *retry_after_s = 0;
  Tenant* t = impl_->TenantFor(tenant);
  const double rate = t->limits->max_samples_per_second;
  if (rate <= 0 || samples == 0) return Status::Ok();
  const double burst = rate * kBurstSeconds;
  const auto n = static_cast<double>(samples);
  double wait = 0;
  std::lock_guard lock(t->mu);
  if (t->samples_bucket.Take(n, rate, burst, impl_->opts_.clock->MonotonicNs(), &wait)) {
    return Status::Ok();
  }
  ++t->refusals["max_samples_per_second"];
  *retry_after_s = std::max(1, static_cast<int>(std::ceil(wait)));
  std::string msg = "limit max_samples_per_second=" + metrics::FormatValue(rate) +
                    " reached for token \"" + t->name + "\": this request carries " +
                    std::to_string(samples) + " samples, " +
                    std::to_string(static_cast<uint64_t>(t->samples_bucket.tokens)) +
                    " fit now; retry after " + std::to_string(*retry_after_s) + " s";
  if (n > burst)
    msg += " (the request is larger than the " + std::to_string(static_cast<uint64_t>(burst)) +
           "-sample burst: split it)";
  return Status::ResourceExhausted(msg);
}

Status Guard::AdmitVolume(Signal signal, std::string_view tenant, std::string_view protocol,
                          const std::vector<VolumeItem>& items, int* retry_after_s) {
  *retry_after_s = 0;
  Tenant* t = impl_->TenantFor(tenant);
  const int64_t now_ms = impl_->opts_.clock->NowMs();
  uint64_t count = 0, bytes = 0;
  const VolumeItem* biggest = nullptr;
  for (const auto& it : items) {
    count += it.count;
    bytes += it.bytes;
    uint64_t size = signal == Signal::kErrorEvents ? it.count : it.bytes;
    if (biggest == nullptr ||
        size > (signal == Signal::kErrorEvents ? biggest->count : biggest->bytes)) {
      biggest = &it;
    }
  }
  const bool events = signal == Signal::kErrorEvents;
  // Rates per second; bursts: one minute of events, 10 s of log bytes.
  const double rate =
      events ? t->limits->max_events_per_minute / 60.0 : t->limits->max_log_bytes_per_second;
  const double burst = events ? t->limits->max_events_per_minute : rate * kBurstSeconds;
  const auto n = static_cast<double>(events ? count : bytes);
  {
    std::lock_guard lock(t->mu);
    if (t->protocols.size() < 32) t->protocols.emplace(protocol);
    if (rate > 0 && n > 0) {
      Bucket& b = events ? t->events_bucket : t->log_bytes_bucket;
      double wait = 0;
      if (!b.Take(n, rate, burst, impl_->opts_.clock->MonotonicNs(), &wait)) {
        const char* limit = events ? "max_events_per_minute" : "max_log_bytes_per_second";
        ++t->refusals[limit];
        *retry_after_s = std::max(1, static_cast<int>(std::ceil(wait)));
        std::string current = events ? metrics::FormatValue(t->events_per_minute) + " events/min"
                                     : metrics::FormatValue(t->log_bytes_per_second) + " bytes/s";
        std::string msg =
            std::string("limit ") + limit + "=" +
            metrics::FormatValue(events ? t->limits->max_events_per_minute : rate) +
            " reached for token \"" + t->name + "\" (currently " + current +
            "): this request carries " +
            (events ? std::to_string(count) + " events"
                    : std::to_string(bytes) + " bytes in " + std::to_string(count) + " records");
        if (biggest != nullptr) {
          msg += ", most from " + std::string(biggest->kind) + " " + std::string(biggest->name);
        }
        msg += "; retry after " + std::to_string(*retry_after_s) + " s";
        if (n > burst) msg += " (the request is larger than the burst: split it)";
        return Status::ResourceExhausted(msg);
      }
    }
  }
  impl_->Account(signal, t, items, now_ms);
  return Status::Ok();
}

void Guard::AddInventory(std::string kind, InventoryFn fn) {
  std::lock_guard lock(impl_->providers_mu_);
  impl_->providers_.emplace_back(std::move(kind), std::move(fn));
}

void Guard::Sweep() { impl_->Sweep(); }

std::vector<TenantInfo> Guard::Tenants() const {
  std::vector<TenantInfo> out;
  uint32_t now_min = MinuteOf(impl_->opts_.clock->NowMs());
  std::lock_guard lock(impl_->tenants_mu_);
  for (const auto& t : impl_->tenants_) {
    TenantInfo ti;
    ti.name = t->name;
    ti.active_series = t->active_series.load();
    ti.samples_total = t->samples_total.load();
    ti.samples_per_second = t->samples_per_second.load();
    ti.limits = *t->limits;
    std::lock_guard tlock(t->mu);
    ti.new_series_last_hour = t->NewLastHour(now_min);
    ti.refusals = t->refusals;
    ti.events_total = t->events_total;
    ti.log_bytes_total = t->log_bytes_total;
    ti.events_per_minute = t->events_per_minute;
    ti.log_bytes_per_second = t->log_bytes_per_second;
    out.push_back(std::move(ti));
  }
  std::sort(out.begin(), out.end(), [](const TenantInfo& a, const TenantInfo& b) {
    return a.active_series > b.active_series;
  });
  return out;
}

std::vector<SourceInfo> Guard::Sources(std::string_view kind, size_t limit) const {
  std::vector<SourceInfo> out;
  const auto& labels = impl_->opts_.accounting_labels;
  if (kind.empty() || kind == "token") {
    std::lock_guard lock(impl_->tenants_mu_);
    for (const auto& t : impl_->tenants_) {
      SourceInfo s;
      s.kind = "token";
      s.name = t->name;
      s.first_seen_ms = t->first_seen_ms.load();
      s.last_seen_ms = t->last_seen_ms.load();
      s.active_series = t->active_series.load();
      s.samples_per_second = t->samples_per_second.load();
      std::lock_guard tlock(t->mu);
      for (const auto& p : t->protocols) s.detail += (s.detail.empty() ? "" : ",") + p;
      s.events_total = t->events_total;
      s.log_bytes_total = t->log_bytes_total;
      s.events_per_minute = t->events_per_minute;
      s.log_bytes_per_second = t->log_bytes_per_second;
      out.push_back(std::move(s));
    }
  }
  {
    std::lock_guard lock(impl_->volume_mu_);
    for (const auto& [k, by_name] : impl_->volumes_) {
      if (!kind.empty() && kind != k) continue;
      for (const auto& [name, v] : by_name) {
        SourceInfo s;
        s.kind = k;
        s.name = name;
        s.first_seen_ms = v.first_seen_ms;
        s.last_seen_ms = v.last_seen_ms;
        s.events_total = v.count_total;
        s.log_bytes_total = v.bytes_total;
        if (k.rfind("log", 0) == 0) {
          s.log_bytes_per_second = v.bytes_per_second;
          s.events_total = 0;
        } else {
          s.events_per_minute = v.count_per_second * 60.0;
          s.log_bytes_total = 0;
        }
        out.push_back(std::move(s));
      }
    }
  }
  {
    std::lock_guard lock(impl_->sources_mu_);
    for (size_t k = 0; k < impl_->sources_.size(); ++k) {
      if (!kind.empty() && kind != labels[k]) continue;
      for (const Source& src : impl_->sources_[k].by_id) {
        SourceInfo s;
        s.kind = labels[k];
        s.name = src.name;
        s.first_seen_ms = src.first_seen_ms;
        s.last_seen_ms = src.last_seen_ms;
        s.active_series = src.active_series;
        s.samples_per_second = src.samples_per_second;
        out.push_back(std::move(s));
      }
    }
  }
  std::vector<std::pair<std::string, InventoryFn>> providers;
  {
    std::lock_guard lock(impl_->providers_mu_);
    providers = impl_->providers_;
  }
  for (const auto& [k, fn] : providers) {
    if (!kind.empty() && kind != k) continue;
    std::map<std::string, size_t> have;  // name -> index in out, for this kind
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].kind == k) have.emplace(out[i].name, i);
    }
    for (auto& p : fn()) {
      p.kind = k;
      auto it = have.find(p.name);
      if (it == have.end()) {
        out.push_back(std::move(p));
        continue;
      }
      SourceInfo& s = out[it->second];
      if (p.first_seen_ms != 0) s.first_seen_ms = p.first_seen_ms;
      s.last_seen_ms = std::max(s.last_seen_ms, p.last_seen_ms);
      if (!p.detail.empty()) s.detail = p.detail;
      if (!p.status.empty()) s.status = p.status;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const SourceInfo& a, const SourceInfo& b) {
    if (a.active_series != b.active_series) return a.active_series > b.active_series;
    if (a.events_per_minute != b.events_per_minute)
      return a.events_per_minute > b.events_per_minute;
    return a.log_bytes_per_second > b.log_bytes_per_second;
  });
  if (limit != 0 && out.size() > limit) out.resize(limit);
  return out;
}

namespace {
void TopN(std::vector<NamedCount>* v, size_t n) {
  std::sort(v->begin(), v->end(), [](const NamedCount& a, const NamedCount& b) {
    return a.count != b.count ? a.count > b.count : a.name < b.name;
  });
  if (n != 0 && v->size() > n) v->resize(n);
}
}  // namespace

CardinalityReport Guard::Cardinality(std::string_view tenant, size_t top) const {
  CardinalityReport r;
  r.tenant = std::string(tenant);
  // Tenant ids that match.
  std::vector<bool> want;
  {
    std::lock_guard lock(impl_->tenants_mu_);
    want.assign(impl_->tenants_.size(), tenant.empty());
    for (const auto& t : impl_->tenants_) {
      if (t->name == tenant) want[t->id] = true;
      if (want[t->id]) r.active_series += t->active_series.load();
    }
  }
  auto wanted = [&](uint64_t key) {
    auto id = static_cast<uint32_t>(key >> 32);
    return id < want.size() && want[id];
  };
  {
    std::map<uint32_t, uint64_t> by_metric;
    std::lock_guard lock(impl_->metric_mu_);
    for (const auto& [key, n] : impl_->metric_series_) {
      if (wanted(key)) by_metric[static_cast<uint32_t>(key)] += n;
    }
    for (const auto& [id, n] : by_metric)
      r.top_metrics.push_back({impl_->metric_names_.Name(id), n});
  }
  TopN(&r.top_metrics, top);
  std::map<uint32_t, uint64_t> by_label;
  std::map<uint32_t, std::vector<const std::unordered_map<std::string, uint32_t>*>> maps;
  {
    std::lock_guard lock(impl_->label_mu_);
    for (const auto& [key, values] : impl_->label_values_) {
      if (!wanted(key)) continue;
      by_label[static_cast<uint32_t>(key)] += values.size();
    }
    for (const auto& [id, n] : by_label) r.top_labels.push_back({impl_->label_names_.Name(id), n});
    TopN(&r.top_labels, top);
    if (!r.top_labels.empty()) {
      r.biggest_label = r.top_labels.front().name;
      uint32_t id = impl_->label_names_.Id(r.biggest_label);
      // The most recently written values of the biggest label (value -> last minute).
      std::vector<std::pair<uint32_t, std::string>> recent;
      for (const auto& [key, values] : impl_->label_values_) {
        if (!wanted(key) || static_cast<uint32_t>(key) != id) continue;
        for (const auto& [v, m] : values) recent.emplace_back(m, v);
      }
      std::sort(recent.begin(), recent.end(), std::greater<>());
      for (size_t i = 0; i < recent.size() && i < (top ? top : 10); ++i) {
        r.biggest_label_values.push_back({recent[i].second, recent[i].first});
      }
    }
  }
  return r;
}

namespace {
using FamilyFn = std::function<void(const char* name, const char* help, const char* type,
                                    std::vector<std::string> labels, metrics::Registry::CollectFn)>;
}  // namespace

static void ForEachFamily(Guard* g, size_t top_n, const FamilyFn& registry_collector);

void Guard::RegisterMetrics(metrics::Registry& registry) {
  ForEachFamily(this, impl_->opts_.top_n,
                [&](const char* name, const char* help, const char* type,
                    std::vector<std::string> labels, metrics::Registry::CollectFn fn) {
                  registry.Collector(name, help, type, std::move(labels), std::move(fn));
                });
}

void Guard::Collect(std::vector<std::pair<tsdb::Labels, double>>* out) {
  ForEachFamily(this, impl_->opts_.top_n,
                [&](const char* name, const char*, const char*, std::vector<std::string> labels,
                    const metrics::Registry::CollectFn& fn) {
                  std::vector<std::pair<std::vector<std::string>, double>> children;
                  fn(&children);
                  for (const auto& [values, v] : children) {
                    tsdb::LabelsBuilder b;
                    b.Set(tsdb::kMetricName, name);
                    for (size_t i = 0; i < labels.size() && i < values.size(); ++i) {
                      b.Set(labels[i], values[i]);
                    }
                    out->emplace_back(b.Build(), v);
                  }
                });
}

static void ForEachFamily(Guard* g, size_t top_n, const FamilyFn& registry_collector) {
  struct Adapter {
    const FamilyFn& f;
    void Collector(const char* name, const char* help, const char* type,
                   std::vector<std::string> labels, metrics::Registry::CollectFn fn) const {
      f(name, help, type, std::move(labels), std::move(fn));
    }
  } registry{registry_collector};
  registry.Collector("kansoku_usage_active_series",
                     "Series written within the active window, per token.", "gauge", {"tenant"},
                     [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         out->push_back({{t.name}, static_cast<double>(t.active_series)});
                     });
  registry.Collector("kansoku_usage_new_series_last_hour",
                     "Series created in the last hour, per token.", "gauge", {"tenant"},
                     [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         out->push_back({{t.name}, static_cast<double>(t.new_series_last_hour)});
                     });
  registry.Collector("kansoku_usage_samples_per_second",
                     "Samples per second over the last sweep interval, per token.", "gauge",
                     {"tenant"}, [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         out->push_back({{t.name}, t.samples_per_second});
                     });
  registry.Collector(
      "kansoku_usage_limit", "Configured per-token limits (0 = none).", "gauge",
      {"tenant", "limit"}, [=](auto* out) {
        for (const auto& t : g->Tenants()) {
          const TenantLimits& l = t.limits;
          out->push_back({{t.name, "max_active_series"}, static_cast<double>(l.max_active_series)});
          out->push_back({{t.name, "max_new_series_per_hour"},
                          static_cast<double>(l.max_new_series_per_hour)});
          out->push_back(
              {{t.name, "max_series_per_metric"}, static_cast<double>(l.max_series_per_metric)});
          out->push_back({{t.name, "max_label_values_per_name"},
                          static_cast<double>(l.max_label_values_per_name)});
          out->push_back({{t.name, "max_samples_per_second"}, l.max_samples_per_second});
          out->push_back({{t.name, "max_events_per_minute"}, l.max_events_per_minute});
          out->push_back({{t.name, "max_log_bytes_per_second"}, l.max_log_bytes_per_second});
        }
      });
  registry.Collector("kansoku_usage_error_events_total",
                     "Error events admitted (Sentry, logback), per token.", "counter", {"tenant"},
                     [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         if (t.events_total != 0)
                           out->push_back({{t.name}, static_cast<double>(t.events_total)});
                     });
  registry.Collector("kansoku_usage_error_events_per_minute",
                     "Error events per minute over the last sweep interval, per token.", "gauge",
                     {"tenant"}, [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         if (t.events_total != 0) out->push_back({{t.name}, t.events_per_minute});
                     });
  registry.Collector("kansoku_usage_log_bytes_total",
                     "Log bytes (message and fields) admitted, per token.", "counter", {"tenant"},
                     [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         if (t.log_bytes_total != 0)
                           out->push_back({{t.name}, static_cast<double>(t.log_bytes_total)});
                     });
  registry.Collector("kansoku_usage_log_bytes_per_second",
                     "Log bytes per second over the last sweep interval, per token.", "gauge",
                     {"tenant"}, [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         if (t.log_bytes_total != 0)
                           out->push_back({{t.name}, t.log_bytes_per_second});
                     });
  registry.Collector(
      "kansoku_usage_source_volume",
      "Error events per minute (unit=events_per_minute) or log bytes per second "
      "(unit=bytes_per_second) of the biggest volume sources, per kind.",
      "gauge", {"kind", "source", "unit"}, [=](auto* out) {
        std::map<std::string, size_t> per_kind;
        for (const auto& s : g->Sources()) {
          if (s.events_total == 0 && s.log_bytes_total == 0) continue;
          if (s.kind == "token" || per_kind[s.kind]++ >= top_n) continue;
          if (s.events_total != 0)
            out->push_back({{s.kind, s.name, "events_per_minute"}, s.events_per_minute});
          if (s.log_bytes_total != 0)
            out->push_back({{s.kind, s.name, "bytes_per_second"}, s.log_bytes_per_second});
        }
      });
  registry.Collector("kansoku_usage_refusals_total",
                     "Series or requests refused by a limit, per token and limit.", "counter",
                     {"tenant", "limit"}, [=](auto* out) {
                       for (const auto& t : g->Tenants())
                         for (const auto& [limit, n] : t.refusals)
                           out->push_back({{t.name, limit}, static_cast<double>(n)});
                     });
  registry.Collector("kansoku_usage_metric_series",
                     "Active series of the top metric names, per token.", "gauge",
                     {"tenant", "metric"}, [=](auto* out) {
                       for (const auto& t : g->Tenants()) {
                         auto c = g->Cardinality(t.name, top_n);
                         for (const auto& m : c.top_metrics)
                           out->push_back({{t.name, m.name}, static_cast<double>(m.count)});
                       }
                     });
  registry.Collector("kansoku_usage_label_values",
                     "Distinct active values of the label names with the most values, per token.",
                     "gauge", {"tenant", "label"}, [=](auto* out) {
                       for (const auto& t : g->Tenants()) {
                         auto c = g->Cardinality(t.name, top_n);
                         for (const auto& m : c.top_labels)
                           out->push_back({{t.name, m.name}, static_cast<double>(m.count)});
                       }
                     });
  registry.Collector("kansoku_usage_sources", "Known sources per kind.", "gauge", {"kind"},
                     [=](auto* out) {
                       std::map<std::string, double> n;
                       for (const auto& s : g->Sources()) n[s.kind] += 1;
                       for (const auto& [k, v] : n) out->push_back({{k}, v});
                     });
  registry.Collector("kansoku_usage_source_series",
                     "Active series of the biggest sources, per kind.", "gauge", {"kind", "source"},
                     [=](auto* out) {
                       std::map<std::string, size_t> per_kind;
                       for (const auto& s : g->Sources()) {
                         if (s.active_series == 0 || per_kind[s.kind]++ >= top_n) continue;
                         out->push_back({{s.kind, s.name}, static_cast<double>(s.active_series)});
                       }
                     });
}

}  // namespace kansoku::usage
