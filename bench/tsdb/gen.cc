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
// Usage:
//   kansoku_bench_gen --hosts 100 --hours 24 --end-ms 1764150000000 --out DIR --openmetrics F
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
  if (end_ms <= 0 || hosts <= 0 || groups <= 0 || hours <= 0 || (!out_dir && !om_path)) {
    std::fprintf(stderr,
                 "usage: %s --end-ms MS [--hosts 100] [--hours 24] [--interval 15] [--groups 4]\n"
                 "          [--window-steps 40] [--out DIR] [--openmetrics FILE]\n",
                 argv[0]);
    return 2;
  }
  const int64_t steps = static_cast<int64_t>(hours * 3600 * 1000) / interval_ms;
  const int64_t start_ms = end_ms - steps * interval_ms;

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
