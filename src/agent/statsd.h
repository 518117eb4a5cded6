#pragma once
// StatsD / DogStatsD: datagram parser, per-interval aggregator and UDP listener
// (docs/design/agent.md §5).
//
// Line format: <name>:<value>[:<value>...]|<type>[|@<sample_rate>][|#<tag>[:<value>],...][|c:..]
// with types c (counter), g (gauge; "+N"/"-N" adjust it), ms (timer), h (histogram),
// d (distribution), s (set). Events "_e{<tlen>,<xlen>}:<title>|<text>|..." and service checks
// "_sc|<name>|<status>|..." are recognised too. A datagram holds one or more lines separated by
// '\n'. A line that does not parse is rejected (counted, first error kept), never the datagram.
//
// Aggregation (flushed once per agent interval into a SampleBatch):
//   c   -> <name>_total (cumulative since the agent started, value / sample_rate)
//   g   -> <name> (last value; persists until a new one arrives)
//   ms h d -> <name>{quantile="0.5"|...} over the interval's values (when any), plus cumulative
//          <name>_count and <name>_sum (sample-rate weighted) - Prometheus summary shape
//   s   -> <name> (distinct values seen in the interval)
//   _e  -> statsd_events_total{alert_type, ...tags} ; _sc -> statsd_service_check_status{check,
//          ...tags} = 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
// Names: '.', '-' and other characters outside [a-zA-Z0-9_:] become '_'. Tags k:v become labels
// (k sanitized like names; a tag without ':' becomes <tag>="true"); `host` tags override the
// agent's host label.
//
// Thread safety: StatsdAggregator is thread-safe (the UDP thread adds, the collection loop
// flushes). StatsdServer owns a socket and one receive thread.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/sample.h"
#include "base/status.h"

namespace kansoku::agent {

struct StatsdLine {
  enum class Kind { kMetric, kEvent, kServiceCheck } kind = Kind::kMetric;
  std::string name;  // sanitized metric name / event title / check name
  char type = 'c';   // c g m(s) h d s
  std::vector<double> values;
  std::string set_value;     // for 's'
  bool gauge_delta = false;  // "+N" / "-N"
  double sample_rate = 1.0;
  LabelSet tags;     // sorted by name
  std::string text;  // event text or check message
  int status = 0;    // service check status
};

// Parses one line. InvalidArgument says why ("cannot parse statsd line \"...\": ...").
Result<StatsdLine> ParseStatsdLine(std::string_view line);
std::string SanitizeMetricName(std::string_view s);

struct StatsdStats {
  uint64_t datagrams = 0, lines = 0, rejected = 0, events = 0, service_checks = 0;
};

class StatsdAggregator {
 public:
  explicit StatsdAggregator(std::vector<double> quantiles = {0.5, 0.9, 0.99},
                            size_t max_series = 100000)
      : quantiles_(std::move(quantiles)), max_series_(max_series) {}

  // Parses and aggregates one datagram (several lines).
  void AddDatagram(std::string_view datagram);
  void Add(const StatsdLine& l);
  // Appends this interval's samples and resets the per-interval state.
  void Flush(SampleBatch* batch);
  StatsdStats stats() const;
  // The first parse error seen since the last call ("" if none), for a once-per-interval log.
  std::string TakeFirstError();

 private:
  struct Series {
    char type = 'c';
    std::string name;
    LabelSet labels;
    double total = 0;  // counters; summary _sum
    double count = 0;  // summary _count
    double gauge = 0;
    bool gauge_set = false;
    std::vector<double> interval_values;    // ms h d
    std::vector<std::string> interval_set;  // s
  };
  Series* Get(char type, const std::string& name, const LabelSet& labels);

  std::vector<double> quantiles_;
  size_t max_series_;
  mutable std::mutex mu_;
  std::map<std::string, Series> series_;  // GUARDED_BY(mu_), key = type|name|labels
  StatsdStats stats_;                     // GUARDED_BY(mu_)
  std::string first_error_;               // GUARDED_BY(mu_)
  uint64_t dropped_series_ = 0;           // GUARDED_BY(mu_)
};

// UDP listener feeding an aggregator.
class StatsdServer {
 public:
  StatsdServer(std::string listen, StatsdAggregator* agg) : listen_(std::move(listen)), agg_(agg) {}
  ~StatsdServer();
  // Binds HOST:PORT (port 0 picks one; see port()).
  Status Start();
  void Stop();
  int port() const { return port_; }

 private:
  void Loop();
  std::string listen_;
  StatsdAggregator* agg_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kansoku::agent
