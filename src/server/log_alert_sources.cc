// Built-in monitor over the log store (monitor_sources.h): matches of a log query in a window.
#include <cstdio>

#include "logs/query/engine.h"
#include "logs/query/parser.h"
#include "logs/store.h"
#include "server/monitor_sources.h"

namespace kansoku::server {
namespace {

std::string WindowText(int64_t ms) {
  char buf[64];
  if (ms % 60000 == 0 && ms >= 60000) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(ms / 60000));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(ms / 1000));
  }
  return buf;
}

class LogQuerySource : public alert::Source {
 public:
  LogQuerySource(logs::Store* store, config::LogQueryMonitorConfig cfg, logs::query::Query q,
                 int64_t interval_ms)
      : store_(store), cfg_(std::move(cfg)), q_(std::move(q)), interval_ms_(interval_ms) {}
  std::string name() const override { return "log_query:" + cfg_.name; }
  int64_t interval_ms() const override { return interval_ms_; }

  Result<std::vector<alert::SourceInstance>> Collect(int64_t now_ms) override {
    const int64_t now_ns = now_ms * 1000000, start_ns = (now_ms - cfg_.window_ms) * 1000000;
    std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, uint64_t>> counts;
    if (cfg_.group_by.empty()) {
      KANSOKU_ASSIGN_OR_RETURN(auto hits, logs::query::Hits(*store_, q_, now_ns, start_ns,
                                                            now_ns + 1, now_ns + 1 - start_ns));
      uint64_t n = 0;
      for (const auto& b : hits) n += b.count;
      counts.push_back({{}, n});
    } else {
      logs::query::ExecOptions o;
      o.now_ns = now_ns;
      o.start_ns = start_ns;
      o.end_ns = now_ns + 1;
      o.limit = 10000;
      o.max_rows = 100000;
      KANSOKU_ASSIGN_OR_RETURN(auto r, logs::query::Execute(*store_, q_, o));
      // columns: the group_by fields, then the count.
      for (const auto& row : r.table) {
        if (row.size() != cfg_.group_by.size() + 1) continue;
        std::vector<std::pair<std::string, std::string>> g;
        for (size_t i = 0; i < cfg_.group_by.size(); ++i) g.emplace_back(cfg_.group_by[i], row[i]);
        counts.push_back({std::move(g), std::strtoull(row.back().c_str(), nullptr, 10)});
      }
    }
    std::vector<alert::SourceInstance> out;
    for (const auto& [group, n] : counts) {
      if (n <= cfg_.threshold) continue;
      alert::SourceInstance s;
      tsdb::LabelsBuilder b(tsdb::Labels{{"alertname", "LogQueryMatches"}, {"monitor", cfg_.name}});
      std::string where;
      for (const auto& [k, v] : group) {
        if (tsdb::IsValidLabelName(k)) b.Set(k, v);
        where += (where.empty() ? " for " : ", ") + k + "=" + v;
      }
      for (const auto& [k, v] : cfg_.labels) b.Set(k, v);
      s.labels = b.Build();
      s.annotations["summary"] =
          !cfg_.summary.empty() ? cfg_.summary
                                : std::to_string(n) + " log lines matched `" + cfg_.query + "`" +
                                      where + " in the last " + WindowText(cfg_.window_ms) +
                                      " (threshold " + std::to_string(cfg_.threshold) + ")";
      s.annotations["query"] = cfg_.query;
      s.annotations["matches"] = std::to_string(n);
      s.value = static_cast<double>(n);
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  logs::Store* store_;
  const config::LogQueryMonitorConfig cfg_;
  const logs::query::Query q_;
  int64_t interval_ms_;
};

}  // namespace

Result<std::unique_ptr<alert::Source>> MakeLogQuerySource(logs::Store* store,
                                                          const config::LogQueryMonitorConfig& cfg,
                                                          int64_t interval_ms) {
  std::string text = cfg.query;
  if (!cfg.group_by.empty()) {
    std::string by;
    for (const auto& g : cfg.group_by) by += (by.empty() ? "" : ", ") + g;
    text += " | stats by (" + by + ") count() as matches";
  }
  auto q = logs::query::ParseLogQuery(text);
  if (!q.ok()) {
    return Status::InvalidArgument("monitors.log_queries (" + cfg.name +
                                   "): query: " + q.status().message());
  }
  if (cfg.group_by.empty() && !q->pipes.empty()) {
    return Status::InvalidArgument("monitors.log_queries (" + cfg.name +
                                   "): query: pipes are not allowed (matches are counted)");
  }
  return std::unique_ptr<alert::Source>(
      std::make_unique<LogQuerySource>(store, cfg, std::move(q).value(), interval_ms));
}

}  // namespace kansoku::server
