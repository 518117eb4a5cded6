#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <sstream>

#include "base/log.h"
#include "base/strings.h"
#include "config/monitors_yaml.h"

namespace kansoku::config {
namespace {

// A mapping's schema: known keys, each with a setter that parses its node.
class Schema {
 public:
  using Setter = std::function<Status(const YAML::Node&)>;
  Schema& Field(std::string key, Setter set) {
    fields_.push_back({std::move(key), std::move(set), nullptr, nullptr});
    return *this;
  }
  Schema& Section(std::string key, Schema* sub) {
    fields_.push_back({std::move(key), nullptr, sub});
    return *this;
  }
  // A mapping of user-chosen names (e.g. token names), each value checked by make(name)'s
  // schema. `make` returns a schema that stays valid while Apply runs.
  using MakeSchema = std::function<Schema*(const std::string& name)>;
  Schema& Map(std::string key, MakeSchema make) {
    fields_.push_back({std::move(key), nullptr, nullptr, std::move(make)});
    return *this;
  }
  Status Apply(const YAML::Node& node, const std::string& file, const std::string& path) const {
    if (!node.IsMap()) {
      return Error(file, node, path.empty() ? "(top level)" : path, "expected a mapping of keys");
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) {
        return Error(file, it->first, path.empty() ? "(top level)" : path,
                     "keys must be plain names, not lists, mappings or nulls");
      }
      std::string key = it->first.as<std::string>();
      std::string full = path.empty() ? key : path + "." + key;
      const Entry* e = nullptr;
      for (const auto& f : fields_) {
        if (f.key == key) e = &f;
      }
      if (!e) {
        std::string known;
        for (const auto& f : fields_) known += (known.empty() ? "" : ", ") + f.key;
        return Error(file, it->first, full, "unknown key (known here: " + known + ")");
      }
      if (it->second.IsNull()) continue;  // "key:" with no value keeps the default
      Status st;
      if (e->make) {
        if (!it->second.IsMap())
          return Error(file, it->second, full, "expected a mapping of names");
        for (auto m = it->second.begin(); m != it->second.end(); ++m) {
          if (!m->first.IsScalar()) {
            return Error(file, m->first, full, "keys must be plain names");
          }
          std::string name = m->first.as<std::string>();
          st = e->make(name)->Apply(m->second, file, full + "." + name);
          if (!st.ok()) return st;
        }
        continue;
      }
      if (e->sub) {
        st = e->sub->Apply(it->second, file, full);
        if (!st.ok()) return st;
        continue;
      }
      try {
        st = e->set(it->second);
      } catch (const YAML::Exception& ex) {
        st = Status::InvalidArgument(ex.msg);
      }
      if (!st.ok()) return Error(file, it->second, full, st.message());
    }
    return Status::Ok();
  }
  static Status Error(const std::string& file, const YAML::Node& n, const std::string& key,
                      const std::string& why) {
    const YAML::Mark m = n.Mark();
    return Status::InvalidArgument(file + ":" + std::to_string(m.line + 1) + ":" +
                                   std::to_string(m.column + 1) + ": " + key + ": " + why);
  }

 private:
  struct Entry {
    std::string key;
    Setter set;
    const Schema* sub;
    MakeSchema make;
  };
  std::vector<Entry> fields_;
};

Schema::Setter Str(std::string* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a string");
    *out = n.as<std::string>();
    return Status::Ok();
  };
}
Schema::Setter Int(int* out, int min, int max) {
  return [=](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected an integer");
    long long v;
    try {
      v = n.as<long long>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("expected an integer, got \"" + n.as<std::string>() + "\"");
    }
    if (v < min || v > max) {
      return Status::InvalidArgument("must be between " + std::to_string(min) + " and " +
                                     std::to_string(max) + ", got " + std::to_string(v));
    }
    *out = static_cast<int>(v);
    return Status::Ok();
  };
}
Schema::Setter Duration(int64_t* out_ms) {
  return [out_ms](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a duration such as 15s");
    auto r = ParseDurationMs(n.as<std::string>());
    if (!r.ok()) return r.status();
    *out_ms = *r;
    return Status::Ok();
  };
}
Schema::Setter Size(int64_t* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a size such as 32MiB");
    auto r = ParseByteSize(n.as<std::string>());
    if (!r.ok()) return r.status();
    *out = *r;
    return Status::Ok();
  };
}
Schema::Setter Count(int64_t* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a non-negative integer");
    long long v;
    try {
      v = n.as<long long>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("expected a non-negative integer, got \"" +
                                     n.as<std::string>() + "\"");
    }
    if (v < 0) return Status::InvalidArgument("must not be negative, got " + std::to_string(v));
    *out = v;
    return Status::Ok();
  };
}
void TenantLimitsSchema(Schema* s, TenantLimitsConfig* l) {
  s->Field("max_active_series", Count(&l->max_active_series))
      .Field("max_new_series_per_hour", Count(&l->max_new_series_per_hour))
      .Field("max_series_per_metric", Count(&l->max_series_per_metric))
      .Field("max_label_values_per_name", Count(&l->max_label_values_per_name))
      .Field("max_samples_per_second", Count(&l->max_samples_per_second))
      .Field("max_events_per_minute", Count(&l->max_events_per_minute))
      .Field("max_log_bytes_per_second", Count(&l->max_log_bytes_per_second));
}

Schema::Setter StrList(std::vector<std::string>* out) {
  return [out](const YAML::Node& n) {
    out->clear();
    if (n.IsScalar()) {
      out->push_back(n.as<std::string>());
      return Status::Ok();
    }
    if (!n.IsSequence()) return Status::InvalidArgument("expected a list of strings");
    for (const auto& item : n) {
      if (!item.IsScalar()) return Status::InvalidArgument("expected a list of strings");
      out->push_back(item.as<std::string>());
    }
    return Status::Ok();
  };
}

Schema::Setter Bool(bool* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected true or false");
    std::string v = n.as<std::string>();
    if (v == "true" || v == "yes" || v == "on") {
      *out = true;
    } else if (v == "false" || v == "no" || v == "off") {
      *out = false;
    } else {
      return Status::InvalidArgument("expected true or false, got \"" + v + "\"");
    }
    return Status::Ok();
  };
}
Schema::Setter Positive(double* out) {
  return [out](const YAML::Node& n) {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a number");
    double v;
    try {
      v = n.as<double>();
    } catch (const YAML::Exception&) {
      return Status::InvalidArgument("expected a number, got \"" + n.as<std::string>() + "\"");
    }
    if (!(v > 0)) return Status::InvalidArgument("must be positive, got " + n.as<std::string>());
    *out = v;
    return Status::Ok();
  };
}

}  // namespace

Result<ServerConfig> ParseServerConfig(const std::string& yaml_text, const std::string& name) {
  ServerConfig cfg;
  Schema log_s, tls_s, http_s, listeners_s, tsdb_s, query_s, logs_s, errors_s, alerting_s,
      flapping_s, limits_s, limits_default_s, usage_s, hosts_s, top;
  Schema errors_logback_s, errors_spike_s;
  std::deque<Schema> token_limit_schemas;  // one per limits.tokens entry; stable addresses
  TenantLimitsSchema(&limits_default_s, &cfg.limits.default_limits);
  limits_s.Section("default", &limits_default_s).Map("tokens", [&](const std::string& token) {
    token_limit_schemas.emplace_back();
    TenantLimitsSchema(&token_limit_schemas.back(), &cfg.limits.tokens[token]);
    return &token_limit_schemas.back();
  });
  usage_s.Field("active_window", Duration(&cfg.usage.active_window_ms))
      .Field("accounting_labels", StrList(&cfg.usage.accounting_labels))
      .Field("top_n", Int(&cfg.usage.top_n, 1, 1000))
      .Field("self_scrape_interval", Duration(&cfg.usage.self_scrape_interval_ms));
  log_s.Field("level", Str(&cfg.log.level)).Field("format", Str(&cfg.log.format));
  tls_s.Field("cert_file", Str(&cfg.tls.cert_file)).Field("key_file", Str(&cfg.tls.key_file));
  http_s.Field("io_threads", Int(&cfg.http.io_threads, 0, 256))
      .Field("worker_threads", Int(&cfg.http.worker_threads, 0, 256))
      .Field("header_timeout", Duration(&cfg.http.header_timeout_ms))
      .Field("body_timeout", Duration(&cfg.http.body_timeout_ms))
      .Field("idle_timeout", Duration(&cfg.http.idle_timeout_ms))
      .Field("write_timeout", Duration(&cfg.http.write_timeout_ms))
      .Field("max_connections", Int(&cfg.http.max_connections, 1, 1000000))
      .Field("max_queued_requests", Int(&cfg.http.max_queued_requests, 1, 1000000))
      .Field("max_body_size", Size(&cfg.http.max_body_bytes))
      .Field("max_decoded_body_size", Size(&cfg.http.max_decoded_body_bytes))
      .Field("shutdown_grace", Duration(&cfg.http.shutdown_grace_ms));
  listeners_s.Field("allow_cidrs", StrList(&cfg.listeners.allow_cidrs))
      .Field("graphite_tcp", Str(&cfg.listeners.graphite_tcp));
  tsdb_s.Field("retention", Duration(&cfg.tsdb.retention_ms))
      .Field("retention_size", Size(&cfg.tsdb.retention_bytes))
      .Field("out_of_order_window", Duration(&cfg.tsdb.out_of_order_window_ms))
      .Field("wal_fsync_interval", Duration(&cfg.tsdb.wal_fsync_interval_ms))
      .Field("block_range", Duration(&cfg.tsdb.block_range_ms))
      .Field("rollup_min_age", Duration(&cfg.tsdb.rollup_min_age_ms))
      .Field("use_rollups", Bool(&cfg.tsdb.use_rollups))
      .Field("max_series", Size(&cfg.tsdb.max_series))
      .Field("max_exemplars", Count(&cfg.tsdb.max_exemplars));
  query_s.Field("timeout", Duration(&cfg.query.timeout_ms))
      .Field("max_samples", Size(&cfg.query.max_samples))
      .Field("lookback_delta", Duration(&cfg.query.lookback_delta_ms))
      .Field("max_series_returned", Size(&cfg.query.max_series_returned))
      .Field("max_concurrency", Int(&cfg.query.max_concurrency, 0, 100000))
      .Field("max_queued", Int(&cfg.query.max_queued, 0, 1000000));
  logs_s.Field("retention", Duration(&cfg.logs.retention_ms))
      .Field("retention_size", Size(&cfg.logs.retention_bytes))
      .Field("wal_fsync_interval", Duration(&cfg.logs.wal_fsync_interval_ms))
      .Field("flush_interval", Duration(&cfg.logs.flush_interval_ms))
      .Field("head_max_rows", Size(&cfg.logs.head_max_rows))
      .Field("max_line_size", Size(&cfg.logs.max_line_bytes))
      .Field("max_query_rows", Size(&cfg.logs.max_query_rows))
      .Field("stream_fields", StrList(&cfg.logs.stream_fields))
      .Field("syslog_udp", Str(&cfg.logs.syslog_udp))
      .Field("syslog_tcp", Str(&cfg.logs.syslog_tcp))
      .Field("json_tcp", Str(&cfg.logs.json_tcp));
  errors_s.Field("fsync_interval", Duration(&cfg.errors.fsync_interval_ms))
      .Field("tsdb_flush_interval", Duration(&cfg.errors.tsdb_flush_interval_ms))
      .Field("max_body_size", Size(&cfg.errors.max_body_bytes))
      .Field("max_decoded_body_size", Size(&cfg.errors.max_decoded_body_bytes))
      .Field("retention", Duration(&cfg.errors.retention_ms))
      .Field("retention_size", Size(&cfg.errors.retention_bytes))
      .Field("logs_link_window", Duration(&cfg.errors.logs_link_window_ms))
      .Section("logback", &errors_logback_s)
      .Section("spike_protection", &errors_spike_s);
  errors_logback_s.Field("enabled", Bool(&cfg.errors.logback_enabled))
      .Field("project", Count(&cfg.errors.logback_project))
      .Field("in_app_include", StrList(&cfg.errors.logback_in_app_include))
      .Field("in_app_exclude", StrList(&cfg.errors.logback_in_app_exclude));
  errors_spike_s.Field("enabled", Bool(&cfg.errors.spike_enabled))
      .Field("window", Duration(&cfg.errors.spike_window_ms))
      .Field("multiplier", Positive(&cfg.errors.spike_multiplier))
      .Field("floor_per_minute", Count(&cfg.errors.spike_floor_per_minute));
  flapping_s.Field("threshold", Int(&cfg.alerting.flapping_threshold, 0, 1000))
      .Field("window", Duration(&cfg.alerting.flapping_window_ms))
      .Field("hold", Duration(&cfg.alerting.flapping_hold_ms));
  alerting_s.Field("rule_files", StrList(&cfg.alerting.rule_files))
      .Field("evaluation_interval", Duration(&cfg.alerting.evaluation_interval_ms))
      .Field("eval_threads", Int(&cfg.alerting.eval_threads, 1, 256))
      .Field("resend_delay", Duration(&cfg.alerting.resend_delay_ms))
      .Field("alertmanager_urls", StrList(&cfg.alerting.alertmanager_urls))
      .Field("notifications_file", Str(&cfg.alerting.notifications_file))
      .Field("external_url", Str(&cfg.alerting.external_url))
      .Section("flapping", &flapping_s);
  top.Field("data_dir", Str(&cfg.data_dir))
      .Field("listen", StrList(&cfg.listen))
      .Field("admin_token_file", Str(&cfg.admin_token_file))
      .Field("web_dir", Str(&cfg.web_dir))
      .Section("log", &log_s)
      .Section("tls", &tls_s)
      .Section("http", &http_s)
      .Section("listeners", &listeners_s)
      .Section("tsdb", &tsdb_s)
      .Section("query", &query_s)
      .Section("logs", &logs_s)
      .Section("errors", &errors_s)
      .Section("alerting", &alerting_s)
      .Section("limits", &limits_s)
      .Section("usage", &usage_s)
      .Section("hosts", &hosts_s)
      .Field("scrape",
             [&](const YAML::Node& n) {
               if (!n.IsMap())
                 return Status::InvalidArgument("expected a mapping (interval, timeout, workers)");
               cfg.scrape.present = true;
               return Status::Ok();
             })
      .Field("scrape_configs",
             [&](const YAML::Node& n) {
               if (!n.IsSequence())
                 return Status::InvalidArgument("expected a list of scrape jobs");
               cfg.scrape.present = true;
               return Status::Ok();
             })
      .Field("monitors", [&](const YAML::Node& n) { return ParseMonitorsYaml(n, &cfg.monitors); })
      .Field("budgets", [&](const YAML::Node& n) { return ParseBudgetsYaml(n, &cfg.budgets); });
  hosts_s.Field("unreachable_after", Int(&cfg.hosts.unreachable_after, 1, 10000));
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  if (root.IsNull()) return cfg;  // empty file: all defaults
  try {
    KANSOKU_RETURN_IF_ERROR(top.Apply(root, name, ""));
  } catch (const YAML::Exception& e) {  // anything yaml-cpp throws on odd documents
    return Status::InvalidArgument(name + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  }
  KANSOKU_RETURN_IF_ERROR(Validate(cfg).WithContext(name));
  if (cfg.scrape.present) {
    cfg.scrape.yaml_text = yaml_text;
    cfg.scrape.file = name;
  }
  return cfg;
}

Result<ServerConfig> LoadServerConfig(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Status::FromErrno("cannot read config file " + path, errno);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseServerConfig(ss.str(), path);
}

Status Validate(const ServerConfig& cfg) {
  log::Level lvl;
  if (!log::ParseLevel(cfg.log.level, &lvl)) {
    return Status::InvalidArgument("log.level: \"" + cfg.log.level +
                                   "\" is not one of debug, info, warn, error");
  }
  if (cfg.log.format != "logfmt" && cfg.log.format != "json") {
    return Status::InvalidArgument("log.format: \"" + cfg.log.format + "\" is not logfmt or json");
  }
  if (cfg.tls.cert_file.empty() != cfg.tls.key_file.empty()) {
    return Status::InvalidArgument("tls: cert_file and key_file must be set together");
  }
  if (cfg.listen.empty()) return Status::InvalidArgument("listen: at least one address is needed");
  if (cfg.data_dir.empty()) return Status::InvalidArgument("data_dir: must not be empty");
  for (const auto& c : cfg.listeners.allow_cidrs) {
    auto r = ParseCidr(c);
    if (!r.ok()) return r.status().WithContext("listeners.allow_cidrs");
  }
  if (cfg.http.max_body_bytes <= 0 || cfg.http.max_decoded_body_bytes < cfg.http.max_body_bytes) {
    return Status::InvalidArgument(
        "http: max_decoded_body_size must be >= max_body_size and both positive");
  }
  if (cfg.logs.head_max_rows < 1000 || cfg.logs.max_line_bytes < 1024 ||
      cfg.logs.max_query_rows < 1000) {
    return Status::InvalidArgument(
        "logs: head_max_rows and max_query_rows must be >= 1000, max_line_size >= 1KiB");
  }
  if (cfg.usage.accounting_labels.size() > 6) {
    return Status::InvalidArgument("usage.accounting_labels: at most 6 label names");
  }
  if (cfg.usage.self_scrape_interval_ms < 1000) {
    return Status::InvalidArgument("usage.self_scrape_interval: must be at least 1s");
  }
  if (cfg.usage.active_window_ms < 60000) {
    return Status::InvalidArgument("usage.active_window: must be at least 1m");
  }
  if (cfg.tsdb.block_range_ms < 60000) {
    return Status::InvalidArgument("tsdb.block_range: must be at least 1m");
  }
  if (cfg.query.timeout_ms <= 0 || cfg.query.max_samples <= 0 ||
      cfg.query.max_series_returned <= 0) {
    return Status::InvalidArgument(
        "query: timeout, max_samples and max_series_returned must be positive");
  }
  if (cfg.alerting.evaluation_interval_ms < 1000) {
    return Status::InvalidArgument("alerting.evaluation_interval: must be at least 1s");
  }
  return Status::Ok();
}

}  // namespace kansoku::config
