// kansoku_bench_gen: deterministic node_exporter-like metrics for bench/tsdb (run.sh).
//
// Per host 200 series (8 cpus x 8 modes of node_cpu_seconds_total, memory gauges, network and
// disk counters, mostly constant filesystem gauges, load averages, a few kernel counters, and one
// classic histogram with 10 buckets + _sum + _count), labels instance/job/host as a scrape of
// node_exporter would have them, one sample every --interval seconds for --hours hours ending
// just before --end-ms. The same seed gives byte-identical output.
//
// Output:
//   --out DIR          Prometheus text with millisecond timestamps, split into chunk files
//                      DIR/wNNNNN-gGGG.prom: window NNNNN (--window-steps scrapes) of host group
//                      GGG (--groups groups). A sender that gives each group to one connection
//                      and sends its windows in order delivers every series in time order.
//   --openmetrics FILE OpenMetrics text (timestamps in seconds, "# EOF") of the same samples,
//                      for `promtool tsdb create-blocks-from openmetrics`.
//   --entropy          Instead of output: the Shannon bound of the values. Runs the same
//                      generator (same draws, same states) and sums, over every sample it would
//                      emit, the entropy in bits of the value's distribution given the state
//                      before the step (= given all earlier values of its series and the
//                      generator's parameters: rates, bounds, the daily cycle), then prints it
//                      per metric and per kind, and in bits, bytes per sample and MB in total.
//                      No lossless code that does not know the Rng's internals can store the
//                      values in fewer bits on average; timestamps (a fixed grid from a per-host
//                      offset), labels and indexes are not included. Exact (to ~1e-12) for every
//                      kind but: grid distributions wider than kWide steps per unit of N take the
//                      continuous h(N) + log2(scale), off by < 3e-5 bits; the histogram's sum is
//                      a Gaussian estimate (an upper bound for given bucket counts; the entropy
//                      power inequality's lower bound is printed beside it); first samples are
//                      estimated from MakeHost's draws and printed apart. The column "drawn" is
//                      -log2 p of the outcomes actually drawn under the same model, a check.
//   --entropy-selftest Checks of the entropy helpers against hand-computable cases.
// Usage:
//   kansoku_bench_gen --hosts 100 --hours 24 --end-ms 1764150000000 --out DIR --openmetrics F
//   kansoku_bench_gen --hosts 100 --hours 24 --end-ms 1795921200000 --entropy
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr double kPi = 3.14159265358979323846;

// splitmix64: the only randomness; seeded per (host, series) so output is deterministic.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Roughly normal(0, 1): sum of 4 uniforms, scaled.
  double Normal() { return (Uniform() + Uniform() + Uniform() + Uniform() - 2.0) * 1.7320508; }

 private:
  uint64_t state_;
};

// How a series' value moves from one scrape to the next.
enum class Kind {
  kConst,        // never changes
  kCounter2,     // float counter with 2 decimals (cpu seconds): += rate * dt * noise
  kCounterInt,   // integer counter with a daily cycle (bytes, packets, operations)
  kCounterRare,  // integer counter that moves rarely (errors, drops)
  kCounter3,     // float counter with 3 decimals (disk io time)
  kGaugeWalk,    // integer gauge, random walk in multiples of `quantum` within [lo, hi]
  kGaugeRare,    // integer gauge that changes in ~2% of the scrapes (filesystem free bytes)
  kLoad,         // float gauge with 2 decimals that follows a daily cycle (load averages)
  kTime,         // node_time_seconds: the scrape time in seconds, 3 decimals
  kHistBucket,   // bucket `param` of the host's histogram (cumulative)
  kHistSum,
  kHistCount,
};

struct Series {
  std::string prefix;  // `name{labels} `
  Kind kind;
  double value;   // current value
  double rate;    // per second (counters) or scale (gauges)
  double lo, hi;  // bounds of walks
  double quantum;
  int param;
  Rng rng;
};

// One classic histogram per host: request latencies into 10 buckets.
constexpr double kBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};  // + +Inf
constexpr int kBuckets = 10;

struct Host {
  std::vector<Series> series;
  int64_t offset_ms;  // scrape phase within the interval
  double phase;       // of the daily cycle
  double hist_counts[kBuckets] = {};
  double hist_sum = 0;
  double hist_count = 0;
  Rng hist_rng{0};
};

std::string FormatDouble(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

Host MakeHost(int h) {
  Host host;
  char inst[64];
  std::snprintf(inst, sizeof inst, "host-%03d", h);
  const std::string common =
      std::string("instance=\"") + inst + ":9100\",job=\"node\",host=\"" + inst + "\"";
  Rng hr(0x6b616e736f6b75ULL ^ (static_cast<uint64_t>(h) * 0x100000001b3ULL));
  host.offset_ms = static_cast<int64_t>(hr.Next() % 15000);
  host.phase = hr.Uniform() * 2 * kPi;
  host.hist_rng = Rng(hr.Next());
  const double busy = 0.1 + 0.5 * hr.Uniform();  // how loaded this host is

  auto add = [&](const std::string& name, const std::string& labels, Kind kind, double value,
                 double rate, double lo = 0, double hi = 0, double quantum = 1, int param = 0) {
    std::string prefix = name + "{" + (labels.empty() ? "" : labels + ",") + common + "} ";
    // Integer counters start at an integer and quantized gauges on their quantum, as every
    // later value of theirs is (counters started at 1e12 * Uniform() before, so each value of a
    // "bytes" counter kept a fraction no node_exporter counter has).
    if (kind == Kind::kCounterInt || kind == Kind::kCounterRare) value = std::round(value);
    if (kind == Kind::kGaugeWalk || kind == Kind::kGaugeRare) {
      value = std::round(value / quantum) * quantum;
    }
    Series s{std::move(prefix), kind, value, rate, lo, hi, quantum, param, Rng(hr.Next())};
    host.series.push_back(std::move(s));
  };

  // 64: cpu seconds. Modes split the 1 cpu-second per second between them.
  static const char* kModes[] = {"idle",    "iowait", "irq",    "nice",
                                 "softirq", "steal",  "system", "user"};
  const double share[] = {1 - busy,    0.02 * busy, 0.005 * busy, 0.01 * busy,
                          0.03 * busy, 0.0,         0.3 * busy,   0.625 * busy};
  for (int cpu = 0; cpu < 8; ++cpu) {
    for (int m = 0; m < 8; ++m) {
      const double uptime = 3e5 + hr.Uniform() * 3e6;
      add("node_cpu_seconds_total",
          "cpu=\"" + std::to_string(cpu) + "\",mode=\"" + kModes[m] + "\"", Kind::kCounter2,
          std::round(uptime * share[m] * 100) / 100, share[m]);
    }
  }
  // 12: memory.
  const double total = 32.0 * (1 << 30) * (1 + (h % 4));
  const double page = 4096;
  add("node_memory_MemTotal_bytes", "", Kind::kConst, total, 0);
  add("node_memory_SwapTotal_bytes", "", Kind::kConst, 4.0 * (1 << 30), 0);
  add("node_memory_SwapFree_bytes", "", Kind::kGaugeRare, 3.5 * (1 << 30), 1 << 20, 0,
      4.0 * (1 << 30), page);
  add("node_memory_MemFree_bytes", "", Kind::kGaugeWalk, total * 0.2, total * 0.002, total * 0.05,
      total * 0.4, page);
  add("node_memory_MemAvailable_bytes", "", Kind::kGaugeWalk, total * 0.5, total * 0.002,
      total * 0.3, total * 0.7, page);
  add("node_memory_Buffers_bytes", "", Kind::kGaugeWalk, total * 0.02, total * 0.0002, total * 0.01,
      total * 0.03, page);
  add("node_memory_Cached_bytes", "", Kind::kGaugeWalk, total * 0.3, total * 0.001, total * 0.1,
      total * 0.5, page);
  add("node_memory_Active_bytes", "", Kind::kGaugeWalk, total * 0.35, total * 0.001, total * 0.2,
      total * 0.5, page);
  add("node_memory_Inactive_bytes", "", Kind::kGaugeWalk, total * 0.2, total * 0.001, total * 0.1,
      total * 0.3, page);
  add("node_memory_Dirty_bytes", "", Kind::kGaugeWalk, 2e6, 2e5, 0, 5e7, page);
  add("node_memory_Shmem_bytes", "", Kind::kGaugeRare, total * 0.01, total * 0.0005, 0,
      total * 0.02, page);
  add("node_memory_Slab_bytes", "", Kind::kGaugeWalk, total * 0.03, total * 0.0001, total * 0.02,
      total * 0.04, page);
  // 3: load.
  for (const char* n : {"node_load1", "node_load5", "node_load15"}) {
    add(n, "", Kind::kLoad, 8 * busy, 8 * busy);
  }
  // 32: network, 4 devices x 8 counters.
  for (const char* dev : {"eth0", "eth1", "lo", "docker0"}) {
    const double bps = (std::strcmp(dev, "eth0") == 0 ? 2e7 : 2e6) * busy * (1 + hr.Uniform());
    const std::string l = std::string("device=\"") + dev + "\"";
    add("node_network_receive_bytes_total", l, Kind::kCounterInt, 1e12 * hr.Uniform(), bps);
    add("node_network_transmit_bytes_total", l, Kind::kCounterInt, 1e12 * hr.Uniform(), bps * 0.6);
    add("node_network_receive_packets_total", l, Kind::kCounterInt, 1e9 * hr.Uniform(), bps / 900);
    add("node_network_transmit_packets_total", l, Kind::kCounterInt, 1e9 * hr.Uniform(),
        bps / 1100);
    add("node_network_receive_errs_total", l, Kind::kCounterRare, 0, 0.001);
    add("node_network_transmit_errs_total", l, Kind::kCounterRare, 0, 0.0005);
    add("node_network_receive_drop_total", l, Kind::kCounterRare, 12, 0.002);
    add("node_network_transmit_drop_total", l, Kind::kCounterRare, 0, 0.0005);
  }
  // 28: disks, 4 devices x 7 counters.
  for (const char* dev : {"sda", "sdb", "nvme0n1", "nvme1n1"}) {
    const double iops = 200 * busy * (1 + hr.Uniform());
    const std::string l = std::string("device=\"") + dev + "\"";
    add("node_disk_reads_completed_total", l, Kind::kCounterInt, 1e8 * hr.Uniform(), iops * 0.4);
    add("node_disk_writes_completed_total", l, Kind::kCounterInt, 1e8 * hr.Uniform(), iops * 0.6);
    add("node_disk_read_bytes_total", l, Kind::kCounterInt, 1e12 * hr.Uniform(),
        iops * 0.4 * 16384);
    add("node_disk_written_bytes_total", l, Kind::kCounterInt, 1e12 * hr.Uniform(),
        iops * 0.6 * 8192);
    add("node_disk_io_time_seconds_total", l, Kind::kCounter3, 1e5 * hr.Uniform(), 0.2 * busy);
    add("node_disk_read_time_seconds_total", l, Kind::kCounter3, 5e4 * hr.Uniform(), 0.05 * busy);
    add("node_disk_write_time_seconds_total", l, Kind::kCounter3, 8e4 * hr.Uniform(), 0.15 * busy);
  }
  // 30: filesystems, 5 mount points x 6 gauges.
  static const char* kMounts[][3] = {{"/", "/dev/sda1", "ext4"},
                                     {"/boot", "/dev/sda2", "ext4"},
                                     {"/var", "/dev/sdb1", "xfs"},
                                     {"/data", "/dev/nvme0n1", "xfs"},
                                     {"/run", "tmpfs", "tmpfs"}};
  for (const auto& m : kMounts) {
    const std::string l =
        std::string("device=\"") + m[1] + "\",fstype=\"" + m[2] + "\",mountpoint=\"" + m[0] + "\"";
    const double size = std::round(1e9 * (1 + 500 * hr.Uniform()) / page) * page;
    const double avail = std::round(size * (0.2 + 0.6 * hr.Uniform()) / page) * page;
    add("node_filesystem_size_bytes", l, Kind::kConst, size, 0);
    add("node_filesystem_avail_bytes", l, Kind::kGaugeRare, avail, size * 1e-5, 0, size, page);
    add("node_filesystem_free_bytes", l, Kind::kGaugeRare, avail + 5 * page * 1024, size * 1e-5, 0,
        size, page);
    add("node_filesystem_files", l, Kind::kConst, std::round(size / 16384), 0);
    add("node_filesystem_files_free", l, Kind::kGaugeRare, std::round(size / 20000), 20, 0,
        std::round(size / 16384), 1);
    add("node_filesystem_readonly", l, Kind::kConst, 0, 0);
  }
  // 19: kernel and scrape series.
  add("node_context_switches_total", "", Kind::kCounterInt, 1e10 * hr.Uniform(), 2e4 * busy);
  add("node_intr_total", "", Kind::kCounterInt, 1e10 * hr.Uniform(), 1e4 * busy);
  add("node_forks_total", "", Kind::kCounterInt, 1e7 * hr.Uniform(), 5 * busy);
  add("node_procs_running", "", Kind::kGaugeWalk, 2, 1, 1, 16, 1);
  add("node_procs_blocked", "", Kind::kGaugeWalk, 0, 0.3, 0, 4, 1);
  add("node_boot_time_seconds", "", Kind::kConst, 1.7e9 + std::round(hr.Uniform() * 1e7), 0);
  add("node_time_seconds", "", Kind::kTime, 0, 0);
  add("node_entropy_available_bits", "", Kind::kConst, 256, 0);
  add("node_filefd_allocated", "", Kind::kGaugeWalk, 5000, 40, 1000, 20000, 1);
  add("node_filefd_maximum", "", Kind::kConst, 9223372036854775807.0, 0);
  add("node_sockstat_TCP_inuse", "", Kind::kGaugeWalk, 100, 5, 10, 1000, 1);
  add("node_sockstat_TCP_tw", "", Kind::kGaugeWalk, 50, 5, 0, 500, 1);
  add("node_netstat_Tcp_ActiveOpens", "", Kind::kCounterInt, 1e6 * hr.Uniform(), 3 * busy);
  add("node_netstat_Tcp_PassiveOpens", "", Kind::kCounterInt, 1e6 * hr.Uniform(), 8 * busy);
  add("node_vmstat_pgfault", "", Kind::kCounterInt, 1e10 * hr.Uniform(), 3e3 * busy);
  add("node_vmstat_pgmajfault", "", Kind::kCounterRare, 1e4 * hr.Uniform(), 0.01);
  add("node_uname_info",
      "domainname=\"(none)\",machine=\"x86_64\",nodename=\"" + std::string(inst) +
          "\",release=\"6.1.0-13-amd64\",sysname=\"Linux\",version=\"#1 SMP Debian 6.1.55-1\"",
      Kind::kConst, 1, 0);
  add("up", "", Kind::kConst, 1, 0);
  add("scrape_duration_seconds", "", Kind::kLoad, 0.02, 0.02);
  // 12: one classic histogram.
  for (int b = 0; b < kBuckets; ++b) {
    const std::string le = b < kBuckets - 1 ? FormatDouble(kBounds[b]) : "+Inf";
    add("http_request_duration_seconds_bucket", "handler=\"/metrics\",le=\"" + le + "\"",
        Kind::kHistBucket, 0, 0, 0, 0, 1, b);
  }
  add("http_request_duration_seconds_sum", "handler=\"/metrics\"", Kind::kHistSum, 0, 0);
  add("http_request_duration_seconds_count", "handler=\"/metrics\"", Kind::kHistCount, 0, 0);
  return host;
}

// Moves every series of `host` one scrape forward to time `ts_ms` (dt seconds later).
void Step(Host& host, int64_t ts_ms, double dt, bool first) {
  const double day =
      std::sin(2 * kPi * static_cast<double>(ts_ms % 86400000) / 86400000.0 + host.phase);
  const double cycle = 1 + 0.5 * day;  // 0.5 .. 1.5
  if (!first) {
    // Histogram: ~rate requests per scrape, log-normal latencies around 60 ms.
    Rng& r = host.hist_rng;
    const int n = static_cast<int>(std::round(40 * cycle * (1 + 0.2 * r.Normal())));
    for (int i = 0; i < n; ++i) {
      const double lat = 0.06 * std::exp(0.9 * r.Normal() + 0.3 * day);
      int b = 0;
      while (b < kBuckets - 1 && lat > kBounds[b]) ++b;
      for (int k = b; k < kBuckets; ++k) host.hist_counts[k] += 1;
      host.hist_sum += lat;
      host.hist_count += 1;
    }
  }
  if (first) return;
  for (Series& s : host.series) {
    switch (s.kind) {
      case Kind::kConst:
        break;
      case Kind::kCounter2: {
        const double inc = s.rate * dt * cycle * (1 + 0.15 * s.rng.Normal());
        s.value = std::round((s.value + std::max(0.0, std::min(inc, dt))) * 100) / 100;
        break;
      }
      case Kind::kCounterInt: {
        const double inc = s.rate * dt * cycle * (1 + 0.3 * s.rng.Normal());
        s.value += std::round(std::max(0.0, inc));
        break;
      }
      case Kind::kCounterRare:
        if (s.rng.Uniform() < s.rate * dt) s.value += 1 + std::floor(3 * s.rng.Uniform());
        break;
      case Kind::kCounter3: {
        const double inc = s.rate * dt * cycle * (1 + 0.3 * s.rng.Normal());
        s.value = std::round((s.value + std::max(0.0, inc)) * 1000) / 1000;
        break;
      }
      case Kind::kGaugeWalk: {
        double v = s.value + s.rate * s.rng.Normal();
        v = std::round(v / s.quantum) * s.quantum;
        s.value = std::min(s.hi, std::max(s.lo, v));
        break;
      }
      case Kind::kGaugeRare:
        if (s.rng.Uniform() < 0.02) {
          double v = s.value + s.rate * s.rng.Normal();
          v = std::round(v / s.quantum) * s.quantum;
          s.value = std::min(s.hi, std::max(s.lo, v));
        }
        break;
      case Kind::kLoad: {
        const double target = s.rate * cycle;
        const double v = s.value + 0.2 * (target - s.value) + 0.05 * s.rate * s.rng.Normal();
        s.value = std::round(std::max(0.0, v) * 100) / 100;
        break;
      }
      case Kind::kTime:
        break;
      case Kind::kHistBucket:
        s.value = host.hist_counts[s.param];
        break;
      case Kind::kHistSum:
        s.value = std::round(host.hist_sum * 1e6) / 1e6;
        break;
      case Kind::kHistCount:
        s.value = host.hist_count;
        break;
    }
  }
}

// --entropy: the Shannon bound of the values Step() emits. Every helper below models one draw of
// Step() exactly as a distribution and never touches an Rng, so the generator's draws and states
// are the same with and without the flag.

// Rng::Normal() is N = (S - 2) * kNScale with S ~ Irwin-Hall(4) (the sum of 4 uniforms): a
// piecewise cubic density on [-kNMax, kNMax], standard deviation kNScale / sqrt(3) ~ 1.
constexpr double kNScale = 1.7320508;
constexpr double kNMax = 2 * kNScale;

double IrwinHall4Cdf(double x) {
  if (x <= 0) return 0;
  if (x >= 4) return 1;
  if (x > 2) return 1 - IrwinHall4Cdf(4 - x);
  double r = x * x * x * x;
  if (x > 1) r -= 4 * (x - 1) * (x - 1) * (x - 1) * (x - 1);
  return r / 24;
}

double IrwinHall4Pdf(double x) {
  if (x <= 0 || x >= 4) return 0;
  if (x > 2) x = 4 - x;
  double r = x * x * x;
  if (x > 1) r -= 4 * (x - 1) * (x - 1) * (x - 1);
  return r / 6;
}

double NCdf(double z) { return IrwinHall4Cdf(z / kNScale + 2); }
double NPdf(double z) { return IrwinHall4Pdf(z / kNScale + 2) / kNScale; }

// P(z0 <= N < z1), from the nearer tail so that small masses keep their digits.
double NMass(double z0, double z1) {
  if (z1 <= z0) return 0;
  if (z0 >= 0) return NCdf(-z0) - NCdf(-z1);
  return NCdf(z1) - NCdf(z0);
}

// -p log2 p.
double Plog(double p) { return p > 0 ? -p * std::log2(p) : 0; }

// G(z) = integral of -f log2 f over [-kNMax, z] for the density f of N (Simpson per cell of a
// fine table, linear in between): the continuous part of the entropy of a wide quantized N.
class PartialEntropy {
 public:
  PartialEntropy() : g_(kCells + 1) {
    const double w = 2 * kNMax / kCells;
    auto term = [](double z) {
      const double f = NPdf(z);
      return f > 0 ? -f * std::log2(f) : 0.0;
    };
    g_[0] = 0;
    for (int i = 0; i < kCells; ++i) {
      const double z0 = -kNMax + i * w;
      g_[i + 1] = g_[i] + w / 6 * (term(z0) + 4 * term(z0 + w / 2) + term(z0 + w));
    }
  }
  double operator()(double z) const {
    if (z <= -kNMax) return 0;
    if (z >= kNMax) return g_[kCells];
    const double x = (z + kNMax) / (2 * kNMax) * kCells;
    const int i = std::min(kCells - 1, static_cast<int>(x));
    return g_[i] + (x - i) * (g_[i + 1] - g_[i]);
  }
  double Total() const { return g_[kCells]; }

 private:
  static constexpr int kCells = 1 << 17;
  std::vector<double> g_;
};

const PartialEntropy& PartialH() {
  static const PartialEntropy g;
  return g;
}

// Above this many grid steps per unit of N the entropy is taken from the continuous density
// (h(N) + log2 b on the unclamped part) instead of a sum over every grid point; the self-test
// bounds the difference.
constexpr double kWide = 50;

struct Quantized {
  double bits = 0;  // entropy of the outcome
  double p_at = 0;  // mass of the outcome `at`
};

// The outcome k = round(a + b * N), where every k <= klo is one outcome (a clamp at the low end)
// and every k >= khi is another (klo, khi may be -/+infinity). `at` names an outcome (the same
// merging applies) whose mass is returned too.
Quantized RoundedN(double a, double b, double klo, double khi, double at, bool exact = false) {
  Quantized q;
  at = std::min(khi, std::max(klo, at));
  if (b <= 0) {
    q.p_at = std::min(khi, std::max(klo, std::round(a))) == at ? 1 : 0;
    return q;
  }
  const double kmin = std::min(khi, std::max(klo, std::round(a - kNMax * b)));
  const double kmax = std::max(klo, std::min(khi, std::round(a + kNMax * b)));
  auto mass = [&](double k) {
    const double z0 = k <= klo ? -kNMax - 1 : (k - 0.5 - a) / b;
    const double z1 = k >= khi ? kNMax + 1 : (k + 0.5 - a) / b;
    return NMass(z0, z1);
  };
  if (exact || b <= kWide) {
    for (double k = kmin; k <= kmax; k += 1) {
      const double p = mass(k);
      q.bits += Plog(p);
      if (k == at) q.p_at = p;
    }
    return q;
  }
  // Wide: the interior from the continuous density, the clamps' point masses exactly.
  const double zl = std::isinf(klo) ? -kNMax : std::max(-kNMax, (klo + 0.5 - a) / b);
  const double zh = std::isinf(khi) ? kNMax : std::min(kNMax, (khi - 0.5 - a) / b);
  const double p_lo = std::isinf(klo) ? 0 : NMass(-kNMax - 1, zl);
  const double p_hi = std::isinf(khi) ? 0 : NMass(zh, kNMax + 1);
  q.bits = Plog(p_lo) + Plog(p_hi);
  if (zh > zl) q.bits += PartialH()(zh) - PartialH()(zl) + NMass(zl, zh) * std::log2(b);
  q.p_at = kmin <= at && at <= kmax ? mass(at) : 0;
  return q;
}

// Entropy of "with probability `move` an outcome of `walk`, else the outcome `at`".
double Mixture(double move, const Quantized& walk) {
  const double stay = 1 - move + move * walk.p_at;
  return Plog(stay) + move * (walk.bits + walk.p_at * std::log2(walk.p_at > 0 ? walk.p_at : 1)) +
         (move > 0 ? -move * (1 - walk.p_at) * std::log2(move) : 0);
}

// Binary entropy of a rare counter's step: +1, +2 or +3 (each a third) with probability p.
double RareBits(double p) {
  p = std::min(1.0, std::max(0.0, p));
  return Plog(p) + Plog(1 - p) + p * std::log2(3.0);
}

// The histogram (kHistBucket x 10, kHistSum, kHistCount), per scrape, as a function of `day`:
// for n requests, T[j] = H(count of bucket j | counts of buckets < j, n) exactly (the chain rule
// over the multinomial: the requests not in buckets < j are Binomial(n, S_j) and bucket j takes
// each of them with probability p_j / S_j), and the per-request moments of the latency within its
// bucket for the sum's estimate. Tabulated on kDays values of `day` in [-1, 1], linear between.
constexpr int kHistNMax = 140;
constexpr int kDays = 401;

struct HistDay {
  double p[kBuckets];
  std::vector<double> t;  // [n * kBuckets + j]
  double var_mean = 0;    // sum_j p_j Var(lat | j)
  double var_sq = 0;      // sum_j p_j Var(lat | j)^2
  double pow_mean = 0;    // sum_j p_j EntropyPower(lat | j)
  double pow_sq = 0;
};

double BinomialBits(int n, double q, const std::vector<double>& lf) {
  if (n == 0 || q <= 0 || q >= 1) return 0;
  double h = 0;
  for (int x = 0; x <= n; ++x) {
    h += Plog(std::exp(lf[n] - lf[x] - lf[n - x] + x * std::log(q) + (n - x) * std::log1p(-q)));
  }
  return h;
}

double BinomialPmf(int n, int x, double s, const std::vector<double>& lf) {
  if (s <= 0) return x == 0 ? 1 : 0;
  if (s >= 1) return x == n ? 1 : 0;
  return std::exp(lf[n] - lf[x] - lf[n - x] + x * std::log(s) + (n - x) * std::log1p(-s));
}

HistDay MakeHistDay(double day, const std::vector<double>& lf) {
  HistDay d;
  // Bucket j holds N in [z[j-1], z[j]): lat = 0.06 exp(0.9 N + 0.3 day) <= kBounds[j].
  double z[kBuckets + 1];
  z[0] = -kNMax - 1;
  for (int j = 0; j < kBuckets - 1; ++j) z[j + 1] = (std::log(kBounds[j] / 0.06) - 0.3 * day) / 0.9;
  z[kBuckets] = kNMax + 1;
  double s[kBuckets + 1];
  s[kBuckets] = 0;
  for (int j = 0; j < kBuckets; ++j) d.p[j] = NMass(z[j], z[j + 1]);
  for (int j = kBuckets - 1; j >= 0; --j) s[j] = s[j + 1] + d.p[j];
  d.t.assign((kHistNMax + 1) * kBuckets, 0);
  std::vector<double> hb(kHistNMax + 1);
  for (int j = 0; j < kBuckets; ++j) {
    const double q = s[j] > 0 ? d.p[j] / s[j] : 0;
    for (int r = 0; r <= kHistNMax; ++r) hb[r] = BinomialBits(r, q, lf);
    for (int n = 0; n <= kHistNMax; ++n) {
      double e = 0;
      for (int r = 0; r <= n; ++r) e += BinomialPmf(n, r, std::min(1.0, s[j]), lf) * hb[r];
      d.t[n * kBuckets + j] = e;
    }
  }
  // Within-bucket variance and entropy power of lat (Simpson over the bucket's N interval).
  const double scale = 0.06 * std::exp(0.3 * day);
  for (int j = 0; j < kBuckets; ++j) {
    const double lo = std::max(-kNMax, z[j]), hi = std::min(kNMax, z[j + 1]);
    if (hi <= lo || d.p[j] < 1e-300) continue;
    constexpr int kSteps = 2000;
    const double w = (hi - lo) / kSteps;
    double m0 = 0, m1 = 0, m2 = 0, hz = 0, elog = 0;
    for (int i = 0; i <= kSteps; ++i) {
      const double zz = lo + i * w;
      const double c = (i == 0 || i == kSteps) ? 1 : (i % 2 ? 4 : 2);
      const double f = NPdf(zz);
      const double lat = scale * std::exp(0.9 * zz);
      m0 += c * f;
      m1 += c * f * lat;
      m2 += c * f * lat * lat;
      if (f > 0) hz += c * f * -std::log2(f);
      elog += c * f * std::log2(0.9 * lat);
    }
    m0 *= w / 3, m1 *= w / 3, m2 *= w / 3, hz *= w / 3, elog *= w / 3;
    if (m0 <= 0) continue;
    const double mean = m1 / m0;
    const double var = std::max(0.0, m2 / m0 - mean * mean);
    // h(lat | j) = h(N | j) + E[log2 |dlat/dN|], h(N | j) = -int (f/p) log2 (f/p).
    const double h = hz / m0 + std::log2(m0) + elog / m0;
    const double power = std::exp2(2 * h) / (2 * kPi * std::exp(1.0));
    d.var_mean += d.p[j] * var;
    d.var_sq += d.p[j] * var * var;
    d.pow_mean += d.p[j] * power;
    d.pow_sq += d.p[j] * power * power;
  }
  return d;
}

struct HistTables {
  std::vector<HistDay> days;
  HistTables() {
    std::vector<double> lf(kHistNMax + 1);
    for (int i = 0; i <= kHistNMax; ++i) lf[i] = std::lgamma(i + 1.0);
    for (int i = 0; i < kDays; ++i) days.push_back(MakeHistDay(-1 + 2.0 * i / (kDays - 1), lf));
  }
};

const HistTables& Hist() {
  static const HistTables t;
  return t;
}

// Bits of one scrape of the histogram: H(n) exactly; E_n[H(bucket counts | n)] exactly up to the
// linear interpolation in `day`; the sum given the counts estimated as a Gaussian with the
// within-bucket variance (an upper bound on its differential entropy for given counts; E over the
// counts to second order) plus log2(1e6) for its rounding to 1e-6. `sum_epi` gets the same with
// the entropy power inequality's lower bound in place of the Gaussian.
struct HistBits {
  double count = 0;
  double bucket[kBuckets] = {};
  double sum = 0;
  double sum_epi = 0;
};

HistBits HistStepBits(double day, double cycle) {
  HistBits r;
  const double a = 40 * cycle, b = 40 * cycle * 0.2;
  r.count = RoundedN(a, b, -INFINITY, INFINITY, 0, true).bits;
  const auto& days = Hist().days;
  const double x = (day + 1) / 2 * (kDays - 1);
  const int i = std::min(kDays - 2, std::max(0, static_cast<int>(x)));
  const double w = x - i;
  const HistDay& d0 = days[i];
  const HistDay& d1 = days[i + 1];
  auto lerp = [w](double u, double v) { return u + w * (v - u); };
  const double vm = lerp(d0.var_mean, d1.var_mean), vs = lerp(d0.var_sq, d1.var_sq);
  const double pm = lerp(d0.pow_mean, d1.pow_mean), ps = lerp(d0.pow_sq, d1.pow_sq);
  const double nlo = std::floor(a - kNMax * b), nhi = std::ceil(a + kNMax * b);
  for (double n = std::max(0.0, nlo); n <= nhi; n += 1) {
    const double pn = NMass((n - 0.5 - a) / b, (n + 0.5 - a) / b);
    if (pn <= 0 || n < 1) continue;
    if (n > kHistNMax) {
      std::fprintf(stderr, "entropy: histogram n=%g above the table\n", n);
      std::exit(1);
    }
    const int ni = static_cast<int>(n);
    for (int j = 0; j < kBuckets; ++j) {
      r.bucket[j] += pn * lerp(d0.t[ni * kBuckets + j], d1.t[ni * kBuckets + j]);
    }
    r.sum += pn * (0.5 * std::log2(2 * kPi * std::exp(1.0) * n * vm) -
                   (vs - vm * vm) / (4 * n * vm * vm * std::log(2.0)) + std::log2(1e6));
    r.sum_epi += pn * (0.5 * std::log2(2 * kPi * std::exp(1.0) * n * pm) -
                       (ps - pm * pm) / (4 * n * pm * pm * std::log(2.0)) + std::log2(1e6));
  }
  return r;
}

// Bits of one step of every series of `host` to time `ts_ms`: `old` holds the series' values
// before Step() and `host` the state after it. bits[i] gets the entropy of series i's outcome given
// the state before the step; nll[i] gets -log2 of the probability the same model gives to the
// outcome Step() drew (a check of the model: over many steps it must average to the entropy, and
// it is infinite if the model calls a drawn outcome impossible); the histogram's sum gets no
// nll, the count and the buckets do. Returns the entropy-power lower estimate of the histogram
// sum's bits.
double StepBits(const Host& host, const std::vector<double>& old, int64_t ts_ms, double dt,
                std::vector<double>& bits, std::vector<double>& nll) {
  const double day =
      std::sin(2 * kPi * static_cast<double>(ts_ms % 86400000) / 86400000.0 + host.phase);
  const double cycle = 1 + 0.5 * day;
  const HistBits hist = HistStepBits(day, cycle);
  // The histogram's drawn outcome: -log2 P(n) for the count and the chain rule's binomials for
  // the buckets, at the exact `day` (the entropy's tables interpolate in it).
  double hist_p[kBuckets];
  {
    static const std::vector<double> lf = [] {
      std::vector<double> v(kHistNMax + 1);
      for (int i = 0; i <= kHistNMax; ++i) v[i] = std::lgamma(i + 1.0);
      return v;
    }();
    double cum0[kBuckets], cum1[kBuckets];
    for (size_t i = 0; i < host.series.size(); ++i) {
      const Series& s = host.series[i];
      if (s.kind == Kind::kHistBucket) cum0[s.param] = old[i], cum1[s.param] = s.value;
    }
    const double a = 40 * cycle, b = 40 * cycle * 0.2;
    const int n = static_cast<int>(cum1[kBuckets - 1] - cum0[kBuckets - 1]);
    hist_p[kBuckets - 1] = RoundedN(a, b, -INFINITY, INFINITY, n, true).p_at;  // the count's
    double zl = -kNMax - 1, rest = 1;
    int r = n;
    for (int j = 0; j < kBuckets - 1; ++j) {
      const double zh = j < kBuckets - 2 ? (std::log(kBounds[j] / 0.06) - 0.3 * day) / 0.9
                                         : kNMax + 1;  // bucket 8 takes the rest: lat <= 1.83
      const double pj = NMass(zl, zh);
      const int c =
          static_cast<int>((cum1[j] - (j ? cum1[j - 1] : 0)) - (cum0[j] - (j ? cum0[j - 1] : 0)));
      hist_p[j] = r > kHistNMax || c > r ? 0 : BinomialPmf(r, c, std::min(1.0, pj / rest), lf);
      rest -= pj, r -= c, zl = zh;
    }
  }
  for (size_t i = 0; i < host.series.size(); ++i) {
    const Series& s = host.series[i];
    const double v0 = old[i], v1 = s.value;
    double h = 0, p = 1;
    switch (s.kind) {
      case Kind::kConst:
      case Kind::kTime:
        break;
      case Kind::kCounter2: {  // increment in 0.01 units, clamped to [0, dt]
        const double m = s.rate * dt * cycle;
        const Quantized q =
            RoundedN(100 * m, 100 * 0.15 * m, 0, std::round(100 * dt), std::round((v1 - v0) * 100));
        h = q.bits, p = q.p_at;
        break;
      }
      case Kind::kCounterInt: {
        const double m = s.rate * dt * cycle;
        const Quantized q = RoundedN(m, 0.3 * m, 0, INFINITY, v1 - v0);
        h = q.bits, p = q.p_at;
        break;
      }
      case Kind::kCounterRare: {
        const double pm = std::min(1.0, s.rate * dt);
        h = RareBits(pm);
        p = v1 == v0 ? 1 - pm : pm / 3;
        break;
      }
      case Kind::kCounter3: {
        const double m = s.rate * dt * cycle;
        const Quantized q =
            RoundedN(1000 * m, 1000 * 0.3 * m, 0, INFINITY, std::round((v1 - v0) * 1000));
        h = q.bits, p = q.p_at;
        break;
      }
      case Kind::kGaugeWalk:
      case Kind::kGaugeRare: {
        // The value moves to k * quantum, k = round((value + rate N) / quantum), then is clamped
        // to [lo, hi]: every k with k * quantum <= lo gives lo, every one >= hi gives hi.
        const double klo = std::floor(s.lo / s.quantum + 1e-9);
        const double khi = std::ceil(s.hi / s.quantum - 1e-9);
        auto index = [&](double v) {
          return v <= s.lo ? klo : v >= s.hi ? khi : std::round(v / s.quantum);
        };
        const double a = v0 / s.quantum, b = s.rate / s.quantum;
        const Quantized q = RoundedN(a, b, klo, khi, index(v0));
        if (s.kind == Kind::kGaugeWalk) {
          h = q.bits, p = q.p_at;
          if (v1 != v0) p = RoundedN(a, b, klo, khi, index(v1)).p_at;
        } else {
          h = Mixture(0.02, q);
          p = v1 == v0 ? 0.98 + 0.02 * q.p_at : 0.02 * RoundedN(a, b, klo, khi, index(v1)).p_at;
        }
        break;
      }
      case Kind::kLoad: {
        const double target = s.rate * cycle;
        const double a = 100 * (v0 + 0.2 * (target - v0));
        const Quantized q = RoundedN(a, 100 * 0.05 * s.rate, 0, INFINITY, std::round(v1 * 100));
        h = q.bits, p = q.p_at;
        break;
      }
      case Kind::kHistBucket:
        h = hist.bucket[s.param];
        p = s.param < kBuckets - 1 ? hist_p[s.param] : 1;
        break;
      case Kind::kHistSum:
        h = hist.sum;
        break;
      case Kind::kHistCount:
        h = hist.count;
        p = hist_p[kBuckets - 1];
        break;
    }
    bits[i] += h;
    nll[i] += -std::log2(p);
  }
  return hist.sum_epi;
}

// Entropy of a series' first value (no earlier value to condition on) under the draw MakeHost
// makes for it: log2 of the range over the grid for a uniform start, 0 for a start that is fixed
// or follows from another series' start (filesystem free bytes, files, files_free follow from
// avail and size). Per-host parameters (busy, phase, offsets, rates) are not counted.
double FirstBits(std::string_view name, const Series& s) {
  auto is = [&](const char* n) { return name == n; };
  auto ends = [&](const char* n) {
    return name.size() >= std::strlen(n) && name.substr(name.size() - std::strlen(n)) == n;
  };
  if (is("node_cpu_seconds_total")) return s.rate > 0 ? std::log2(3e6 * s.rate * 100) : 0;
  if (name.starts_with("node_network_") && ends("_bytes_total")) return std::log2(1e12);
  if (name.starts_with("node_network_") && ends("_packets_total")) return std::log2(1e9);
  if (ends("_completed_total")) return std::log2(1e8);
  if (is("node_disk_read_bytes_total") || is("node_disk_written_bytes_total")) {
    return std::log2(1e12);
  }
  if (is("node_disk_io_time_seconds_total")) return std::log2(1e5 * 1000);
  if (is("node_disk_read_time_seconds_total")) return std::log2(5e4 * 1000);
  if (is("node_disk_write_time_seconds_total")) return std::log2(8e4 * 1000);
  if (is("node_filesystem_size_bytes")) return std::log2(500e9 / 4096);
  if (is("node_filesystem_avail_bytes")) return std::log2(0.6 * s.hi / 4096);
  if (is("node_context_switches_total") || is("node_intr_total") || is("node_vmstat_pgfault")) {
    return std::log2(1e10);
  }
  if (is("node_forks_total")) return std::log2(1e7);
  if (is("node_netstat_Tcp_ActiveOpens") || is("node_netstat_Tcp_PassiveOpens")) {
    return std::log2(1e6);
  }
  if (is("node_vmstat_pgmajfault")) return std::log2(1e4);
  if (is("node_boot_time_seconds")) return std::log2(1e7);
  return 0;
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kConst:
      return "Const";
    case Kind::kCounter2:
      return "Counter2";
    case Kind::kCounterInt:
      return "CounterInt";
    case Kind::kCounterRare:
      return "CounterRare";
    case Kind::kCounter3:
      return "Counter3";
    case Kind::kGaugeWalk:
      return "GaugeWalk";
    case Kind::kGaugeRare:
      return "GaugeRare";
    case Kind::kLoad:
      return "Load";
    case Kind::kTime:
      return "Time";
    case Kind::kHistBucket:
      return "HistBucket";
    case Kind::kHistSum:
      return "HistSum";
    case Kind::kHistCount:
      return "HistCount";
  }
  return "?";
}

std::string_view MetricName(const std::string& prefix) {
  return std::string_view(prefix).substr(0, prefix.find('{'));
}

int RunEntropy(int hosts, int64_t steps, int64_t start_ms, int64_t interval_ms) {
  const double dt = static_cast<double>(interval_ms) / 1000;
  std::vector<double> bits, first, nll, old;
  std::vector<uint64_t> samples;
  double sum_epi = 0;
  const Host proto = MakeHost(0);
  const size_t ns = proto.series.size();
  bits.assign(ns, 0), first.assign(ns, 0), nll.assign(ns, 0), samples.assign(ns, 0);
  old.resize(ns);
  for (int h = 0; h < hosts; ++h) {
    Host host = MakeHost(h);
    for (int64_t i = 0; i < steps; ++i) {
      const int64_t ts = start_ms + host.offset_ms + i * interval_ms;
      for (size_t k = 0; k < ns; ++k) old[k] = host.series[k].value;
      Step(host, ts, dt, i == 0);
      if (i == 0) {
        for (size_t k = 0; k < ns; ++k) {
          first[k] += FirstBits(MetricName(host.series[k].prefix), host.series[k]);
        }
      } else {
        sum_epi += StepBits(host, old, ts, dt, bits, nll);
      }
      for (size_t k = 0; k < ns; ++k) ++samples[k];
    }
  }
  // Rows per metric name (in the order of a host's series) and per kind.
  struct Row {
    std::string name;
    std::string kind;
    int per_host = 0;
    uint64_t samples = 0;
    double bits = 0;
    double nll = 0;
    bool has_nll = true;
  };
  std::vector<Row> by_name, by_kind;
  auto add = [](std::vector<Row>& rows, const std::string& key, const std::string& kind, uint64_t n,
                double b, double l, bool has_nll) {
    for (Row& r : rows) {
      if (r.name == key) {
        ++r.per_host, r.samples += n, r.bits += b, r.nll += l;
        return;
      }
    }
    rows.push_back(Row{key, kind, 1, n, b, l, has_nll});
  };
  Row hist{"histogram (12 series)", "Hist*", 0, 0, 0, 0, false};
  double total_bits = 0, first_bits = 0, hist_sum_bits = 0, nll_bits = 0, nll_entropy = 0;
  double hist_nll_entropy = 0;
  uint64_t total_samples = 0;
  for (size_t k = 0; k < ns; ++k) {
    const Series& s = proto.series[k];
    std::string name(MetricName(s.prefix));
    if (s.kind == Kind::kHistBucket) {
      name += "{le=\"" + (s.param < kBuckets - 1 ? FormatDouble(kBounds[s.param]) : "+Inf") + "\"}";
    }
    const bool is_hist =
        s.kind == Kind::kHistBucket || s.kind == Kind::kHistSum || s.kind == Kind::kHistCount;
    const bool has_nll = s.kind != Kind::kHistSum;
    add(by_name, name, KindName(s.kind), samples[k], bits[k], nll[k], has_nll);
    add(by_kind, KindName(s.kind), "", samples[k], bits[k], nll[k], has_nll);
    if (is_hist) ++hist.per_host, hist.samples += samples[k], hist.bits += bits[k];
    if (s.kind == Kind::kHistSum) hist_sum_bits += bits[k];
    if (is_hist && has_nll) hist.nll += nll[k], hist_nll_entropy += bits[k];
    if (!is_hist) nll_bits += nll[k], nll_entropy += bits[k];
    total_bits += bits[k], first_bits += first[k], total_samples += samples[k];
  }
  auto print = [](const Row& r) {
    const double n = r.samples ? static_cast<double>(r.samples) : 1;
    char drawn[32] = "-";
    if (r.has_nll) std::snprintf(drawn, sizeof drawn, "%.4f", r.nll / n);
    std::printf("%-52s %-11s %4d %11llu %15.0f %9.4f %9.3f %9s\n", r.name.c_str(), r.kind.c_str(),
                r.per_host, static_cast<unsigned long long>(r.samples), r.bits, r.bits / n,
                r.bits / 8e6, drawn);
  };
  const char* head = "%-52s %-11s %4s %11s %15s %9s %9s %9s\n";
  std::printf("entropy bound of the values: %d hosts, %lld scrapes, interval %lld ms\n", hosts,
              static_cast<long long>(steps), static_cast<long long>(interval_ms));
  std::printf(
      "H(value_t | earlier values of its series, generator parameters), summed over "
      "steps 2..%lld of every series\n",
      static_cast<long long>(steps));
  std::printf(
      "(drawn: the mean of -log2 p of the outcomes Step() drew under the same model, "
      "a check that it matches the generator)\n\n");
  std::printf(head, "metric", "kind", "/hst", "samples", "bits", "bits/smp", "MB", "drawn");
  for (const Row& r : by_name) print(r);
  std::printf("\n");
  std::printf(head, "kind", "", "/hst", "samples", "bits", "bits/smp", "MB", "drawn");
  for (const Row& r : by_kind) print(r);
  print(hist);
  const double n = static_cast<double>(total_samples);
  std::printf(
      "\nhistogram sum with the entropy power inequality's lower estimate instead of the "
      "Gaussian: %.0f bits (Gaussian: %.0f)\n",
      sum_epi, hist_sum_bits);
  std::printf(
      "all but the histogram: entropy %.0f bits, -log2 p of the drawn outcomes %.0f bits "
      "(%+.4f %%)\n",
      nll_entropy, nll_bits, 100 * (nll_bits / nll_entropy - 1));
  std::printf(
      "histogram count and buckets: entropy %.0f bits, -log2 p of the drawn outcomes %.0f "
      "bits (%+.4f %%)\n",
      hist_nll_entropy, hist.nll, 100 * (hist.nll / hist_nll_entropy - 1));
  std::printf(
      "first samples (initial values, estimated from MakeHost's draws): %.0f bits, "
      "%.5f bits/sample, %.4f MB\n",
      first_bits, first_bits / n, first_bits / 8e6);
  std::printf(
      "\nTOTAL values (steps):          %llu samples %.0f bits = %.5f bits/sample = "
      "%.5f B/sample = %.3f MB\n",
      static_cast<unsigned long long>(total_samples), total_bits, total_bits / n,
      total_bits / n / 8, total_bits / 8e6);
  const double all = total_bits + first_bits;
  std::printf(
      "TOTAL values (+first samples): %llu samples %.0f bits = %.5f bits/sample = "
      "%.5f B/sample = %.3f MB\n",
      static_cast<unsigned long long>(total_samples), all, all / n, all / n / 8, all / 8e6);
  return 0;
}

// --entropy-selftest: hand-checkable cases of the helpers above.
int EntropySelfTest() {
  int failures = 0;
  auto check = [&](const char* what, double got, double want, double tol) {
    const bool ok = std::fabs(got - want) <= tol;
    std::printf("%s %-58s got %.9f want %.9f (tol %g)\n", ok ? "ok  " : "FAIL", what, got, want,
                tol);
    if (!ok) ++failures;
  };
  const double inf = INFINITY;
  // The density and CDF of N.
  check("N: CDF(0)", NCdf(0), 0.5, 1e-15);
  check("N: CDF(kNMax)", NCdf(kNMax), 1, 0);
  check("Irwin-Hall(4) CDF(1) = 1/24", IrwinHall4Cdf(1), 1.0 / 24, 1e-15);
  check("Irwin-Hall(4) pdf(2) = 2/3", IrwinHall4Pdf(2), 2.0 / 3, 1e-15);
  {
    double m = 0, v = 0;
    const int k = 200000;
    const double w = 2 * kNMax / k;
    for (int i = 0; i < k; ++i) {
      const double z = -kNMax + (i + 0.5) * w;
      m += NPdf(z) * w, v += NPdf(z) * z * z * w;
    }
    check("N: integral of the density", m, 1, 1e-9);
    check("N: variance = (1.7320508^2)/3", v, kNScale * kNScale / 3, 1e-9);
  }
  // h(N) and the unit-variance Irwin-Hall(4) constant.
  const double hn = PartialH().Total();
  const double h_unit = hn - std::log2(kNScale / std::sqrt(3.0));
  std::printf(
      "     h(N) = %.9f bits; h(unit-variance Irwin-Hall(4)) = %.9f bits (Gaussian: "
      "%.9f)\n",
      hn, h_unit, 0.5 * std::log2(2 * kPi * std::exp(1.0)));
  check("h(unit-variance IH4) within 0.005 below the Gaussian's", h_unit,
        0.5 * std::log2(2 * kPi * std::exp(1.0)) - 0.0025, 0.0025);
  // Degenerate cases.
  check("b = 0: a constant", RoundedN(3.2, 0, -inf, inf, 0).bits, 0, 0);
  check("tiny b inside a grid cell", RoundedN(3.2, 1e-3, -inf, inf, 0).bits, 0, 1e-12);
  check("tiny b on a rounding edge: 1 bit", RoundedN(0.5, 1e-6, -inf, inf, 0).bits, 1, 1e-9);
  check("...with both halves clamped together: 0", RoundedN(0.5, 1e-6, 1, inf, 0).bits, 0, 1e-12);
  check("all mass below the low clamp: 0", RoundedN(-1000, 10, 0, inf, 0).bits, 0, 1e-12);
  check("rare counter p = 0", RareBits(0), 0, 0);
  check("rare counter p = 1: log2 3", RareBits(1), std::log2(3.0), 1e-12);
  check("rare counter p = 0.5: 1 + 0.5 log2 3", RareBits(0.5), 1 + 0.5 * std::log2(3.0), 1e-12);
  check("mixture, move = 0", Mixture(0, RoundedN(10, 100, -inf, inf, 10)), 0, 1e-12);
  // Uniform over k points: "always move, uniform walk" as a mixture over an explicit vector.
  {
    std::vector<double> p(7, 1.0 / 7);
    double h = 0;
    for (double x : p) h += Plog(x);
    check("uniform over 7 points: log2 7", h, std::log2(7.0), 1e-12);
  }
  // Narrow: N over a cell grid of 3.4641/1.5 ... compare the exact sum with a direct count.
  {
    // b = 1/kNMax * 1.0: support [a-1, a+1] with a = 0: outcomes -1, 0, 1 with masses
    // P(N < -kNMax/2), P(|N| <= kNMax/2), the rest.
    const double b = 1 / kNMax;
    const double p1 = NCdf(-0.5 * kNMax), p0 = 1 - 2 * p1;
    check("narrow: 3 outcomes from the CDF", RoundedN(0, b, -inf, inf, 0).bits,
          Plog(p0) + 2 * Plog(p1), 1e-12);
    check("narrow: p_at", RoundedN(0, b, -inf, inf, 0).p_at, p0, 1e-12);
    check("narrow, low clamp at 0 merges -1 and 0", RoundedN(0, b, 0, inf, 0).bits,
          Plog(p0 + p1) + Plog(p1), 1e-12);
  }
  // Wide: exact sums against h(N) + log2 b, unclamped and clamped.
  for (double b : {2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0}) {
    char what[96];
    std::snprintf(what, sizeof what, "wide b=%g: exact sum vs h(N)+log2 b", b);
    const double exact = RoundedN(0.3, b, -inf, inf, 0, true).bits;
    // The gap falls like 1 / b^2: ~2.5e-5 bits at b = 50, where the wide path starts.
    check(what, exact, hn + std::log2(b), b >= 50 ? 5e-5 : b >= 20 ? 3e-4 : b >= 5 ? 3e-3 : 0.05);
    std::snprintf(what, sizeof what, "wide b=%g clamped at a-b/2: approx vs exact", b);
    const double lo = std::floor(0.3 - b / 2);
    if (b > kWide) {
      check(what, RoundedN(0.3, b, lo, inf, 0).bits, RoundedN(0.3, b, lo, inf, 0, true).bits, 1e-4);
      std::snprintf(what, sizeof what, "wide b=%g clamped both sides: approx vs exact", b);
      check(what, RoundedN(0.3, b, lo, lo + 2 * b, 0).bits,
            RoundedN(0.3, b, lo, lo + 2 * b, 0, true).bits, 1e-4);
    }
  }
  // Mixture against the explicit mixed distribution.
  {
    const double a = 4, b = 0.7;
    const Quantized q = RoundedN(a, b, 2, 6, 4);
    double h = 0;
    for (double k = 2; k <= 6; k += 1) {
      const double p = RoundedN(a, b, 2, 6, k).p_at;
      h += Plog(0.02 * p + (k == 4 ? 0.98 : 0));
    }
    check("gauge-rare mixture vs explicit distribution", Mixture(0.02, q), h, 1e-12);
    double tot = 0;
    for (double k = 2; k <= 6; k += 1) tot += RoundedN(a, b, 2, 6, k).p_at;
    check("clamped masses sum to 1", tot, 1, 1e-12);
  }
  // Histogram chain rule against brute force for n = 1 and n = 2 at day = 0.3.
  {
    std::vector<double> lf(kHistNMax + 1);
    for (int i = 0; i <= kHistNMax; ++i) lf[i] = std::lgamma(i + 1.0);
    const HistDay d = MakeHistDay(0.3, lf);
    double sp = 0, h1 = 0;
    for (int j = 0; j < kBuckets; ++j) sp += d.p[j], h1 += Plog(d.p[j]);
    check("histogram: bucket probabilities sum to 1", sp, 1, 1e-12);
    check("histogram: P(+Inf bucket) = 0 (lat <= 1.83 s)", d.p[kBuckets - 1], 0, 0);
    double t1 = 0, t2 = 0, h2 = 0;
    for (int j = 0; j < kBuckets; ++j) t1 += d.t[1 * kBuckets + j], t2 += d.t[2 * kBuckets + j];
    for (int x = 0; x < kBuckets; ++x) {
      for (int y = x; y < kBuckets; ++y) h2 += Plog((x == y ? 1 : 2) * d.p[x] * d.p[y]);
    }
    check("histogram: n=1 chain rule = H(bucket)", t1, h1, 1e-9);
    check("histogram: n=2 chain rule = H(unordered pair)", t2, h2, 1e-9);
  }
  std::printf("%s: %d failures\n", failures ? "FAIL" : "PASS", failures);
  return failures ? 1 : 0;
}

// Append-only output buffer flushed to a FILE*.
class Out {
 public:
  explicit Out(FILE* f) : f_(f) { buf_.reserve(kCap + 4096); }
  ~Out() { Flush(); }
  void Append(std::string_view s) {
    buf_.append(s);
    if (buf_.size() >= kCap) Flush();
  }
  void Double(double v) {
    char b[64];
    auto r = std::to_chars(b, b + sizeof b, v);
    buf_.append(b, r.ptr);
  }
  void Int(int64_t v) {
    char b[32];
    auto r = std::to_chars(b, b + sizeof b, v);
    buf_.append(b, r.ptr);
  }
  void Flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) {
      std::perror("write");
      std::exit(1);
    }
    buf_.clear();
  }

 private:
  static constexpr size_t kCap = 1 << 20;
  FILE* f_;
  std::string buf_;
};

int64_t ArgInt(int argc, char** argv, const char* name, int64_t def) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::strtoll(argv[i + 1], nullptr, 10);
  }
  return def;
}

const char* ArgStr(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

bool ArgFlag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const int hosts = static_cast<int>(ArgInt(argc, argv, "--hosts", 100));
  const double hours =
      std::strtod(ArgStr(argc, argv, "--hours") ? ArgStr(argc, argv, "--hours") : "24", nullptr);
  const int64_t interval_ms = ArgInt(argc, argv, "--interval", 15) * 1000;
  const int groups = static_cast<int>(ArgInt(argc, argv, "--groups", 4));
  const int64_t window_steps = ArgInt(argc, argv, "--window-steps", 40);
  const int64_t end_ms = ArgInt(argc, argv, "--end-ms", 0);
  const char* out_dir = ArgStr(argc, argv, "--out");
  const char* om_path = ArgStr(argc, argv, "--openmetrics");
  if (ArgFlag(argc, argv, "--entropy-selftest")) return EntropySelfTest();
  const bool entropy = ArgFlag(argc, argv, "--entropy");
  if (end_ms <= 0 || hosts <= 0 || groups <= 0 || hours <= 0 ||
      (!out_dir && !om_path && !entropy)) {
    std::fprintf(stderr,
                 "usage: %s --end-ms MS [--hosts 100] [--hours 24] [--interval 15] [--groups 4]\n"
                 "          [--window-steps 40] [--out DIR] [--openmetrics FILE] [--entropy]\n"
                 "       %s --entropy-selftest\n",
                 argv[0], argv[0]);
    return 2;
  }
  const int64_t steps = static_cast<int64_t>(hours * 3600 * 1000) / interval_ms;
  const int64_t start_ms = end_ms - steps * interval_ms;
  if (entropy) return RunEntropy(hosts, steps, start_ms, interval_ms);

  std::vector<Host> all;
  all.reserve(hosts);
  for (int h = 0; h < hosts; ++h) all.push_back(MakeHost(h));

  FILE* om_file = nullptr;
  if (om_path) {
    om_file = std::fopen(om_path, "w");
    if (!om_file) {
      std::perror(om_path);
      return 1;
    }
  }
  uint64_t samples = 0;
  uint64_t files = 0;
  {
    Out om(om_file ? om_file : stdout);
    for (int64_t w0 = 0; w0 < steps; w0 += window_steps) {
      const int64_t w1 = std::min(steps, w0 + window_steps);
      for (int g = 0; g < groups; ++g) {
        FILE* f = nullptr;
        if (out_dir) {
          char path[4096];
          std::snprintf(path, sizeof path, "%s/w%05lld-g%03d.prom", out_dir,
                        static_cast<long long>(w0 / window_steps), g);
          f = std::fopen(path, "w");
          if (!f) {
            std::perror(path);
            return 1;
          }
          ++files;
        }
        {
          Out prom(f ? f : stdout);
          for (int64_t i = w0; i < w1; ++i) {
            for (int h = g; h < hosts; h += groups) {
              Host& host = all[h];
              const int64_t ts = start_ms + host.offset_ms + i * interval_ms;
              Step(host, ts, static_cast<double>(interval_ms) / 1000, i == 0);
              for (const Series& s : host.series) {
                const double v = s.kind == Kind::kTime ? static_cast<double>(ts) / 1000 : s.value;
                if (f) {
                  prom.Append(s.prefix);
                  prom.Double(v);
                  prom.Append(" ");
                  prom.Int(ts);
                  prom.Append("\n");
                }
                if (om_file) {
                  const int ms = static_cast<int>(ts % 1000);
                  const char frac[5] = {'.', static_cast<char>('0' + ms / 100),
                                        static_cast<char>('0' + ms / 10 % 10),
                                        static_cast<char>('0' + ms % 10), 0};
                  om.Append(s.prefix);
                  om.Double(v);
                  om.Append(" ");
                  om.Int(ts / 1000);
                  om.Append(frac);
                  om.Append("\n");
                }
                ++samples;
              }
            }
          }
        }
        if (f) std::fclose(f);
      }
    }
    if (om_file) om.Append("# EOF\n");
  }
  if (om_file) std::fclose(om_file);
  std::fprintf(stderr,
               "gen: %d hosts x %zu series, %lld scrapes every %lld ms from %lld to %lld: %llu "
               "samples, %llu chunk files\n",
               hosts, all.empty() ? size_t{0} : all[0].series.size(), static_cast<long long>(steps),
               static_cast<long long>(interval_ms), static_cast<long long>(start_ms),
               static_cast<long long>(end_ms), static_cast<unsigned long long>(samples),
               static_cast<unsigned long long>(files));
  return 0;
}
