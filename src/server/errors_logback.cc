#include "server/errors_logback.h"

#include <chrono>
#include <string_view>

#include "api/errors_api.h"
#include "base/log.h"
#include "base/metrics.h"
#include "errors/logback.h"

namespace kansoku::server {
namespace {

std::string_view Label(const logs::LogRecord& r, std::string_view name) {
  for (const auto& l : r.labels)
    if (l.name == name) return l.value;
  return {};
}

std::string_view LabelOrField(const logs::LogRecord& r, std::string_view name) {
  std::string_view v = Label(r, name);
  return v.empty() ? r.Field(name) : v;
}

bool IsErrorLevel(std::string_view level) {
  return level == "error" || level == "critical" || level == "alert" || level == "emergency" ||
         level == "fatal";
}

// Fields that are not the application's MDC.
bool IsKnownField(std::string_view k) {
  static const std::string_view known[] = {
      "stack_trace", "logger_name", "thread_name",  "level_value", "@version",
      "HOSTNAME",    "trace_id",    "traceId",      "trace.id",    "env",
      "environment", "release",     "_parse_error", "message",     "level",
      "tags",        "host",        "service",      "source"};
  for (auto n : known)
    if (k == n) return true;
  return false;
}

// A record of the listeners as a logback error; false when it is not one.
bool ToLogback(const logs::LogRecord& r, errors::LogbackRecord* out) {
  // The observer sees records before the store's append: service/host/level may still be
  // fields, as the shipper spelled them ("ERROR").
  std::string level = logs::NormalizeLevel(LabelOrField(r, "level"));
  if (!IsErrorLevel(level)) return false;
  out->source = std::string(LabelOrField(r, "source"));
  std::string_view stack = r.Field("stack_trace");
  if (!stack.empty()) {  // logstash-logback-encoder
    out->stack_trace = std::string(stack);
    out->message = r.msg;
    out->logger = std::string(r.Field("logger_name"));
    out->thread = std::string(r.Field("thread_name"));
    for (const auto& f : r.fields) {
      if (!IsKnownField(f.name) && out->mdc.size() < 50) out->mdc.emplace_back(f.name, f.value);
    }
  } else {  // SyslogAppender: "<suffix>\n\t<Type: msg>\n\tat ...", joined by the log listener
    size_t nl = r.msg.find('\n');
    if (nl == std::string::npos || r.msg.find("\tat ", nl) == std::string::npos) return false;
    out->stack_trace = r.msg.substr(nl + 1);
    std::string_view first = std::string_view(r.msg).substr(0, nl);
    if (!errors::SplitLogbackSyslogLine(first, &out->thread, &out->logger, &out->message)) {
      out->message = std::string(first);
    }
    // "tag[%thread]:" as in shared/clients/logback/logback.xml: a non-numeric procid is the
    // thread.
    std::string_view procid = r.Field("procid");
    if (out->thread.empty() && !procid.empty() &&
        procid.find_first_not_of("0123456789") != std::string_view::npos) {
      out->thread = std::string(procid);
    }
  }
  out->level = level == "critical" || level == "alert" || level == "emergency" ? "fatal" : level;
  out->host = std::string(LabelOrField(r, "host"));
  if (out->host.empty()) out->host = std::string(r.Field("HOSTNAME"));
  out->service = std::string(LabelOrField(r, "service"));
  out->environment = std::string(LabelOrField(r, "env"));
  if (out->environment.empty()) out->environment = std::string(LabelOrField(r, "environment"));
  out->release = std::string(r.Field("release"));
  for (const char* k : {"trace_id", "traceId", "trace.id"}) {
    if (out->trace_id.empty()) out->trace_id = std::string(r.Field(k));
  }
  out->ts_ns = r.ts_ns;
  if (out->ts_ns == 0) {
    out->ts_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  }
  return true;
}

}  // namespace

std::function<void(const logs::LogBatch&)> MakeLogbackBridge(
    const std::shared_ptr<api::ErrorsApi>& api, const config::ErrorsConfig& cfg, int64_t project,
    metrics::Registry* registry) {
  auto rules = std::make_shared<errors::JavaInAppRules>();
  rules->include = cfg.logback_in_app_include;
  rules->exclude = cfg.logback_in_app_exclude;
  auto* events = &registry->Counter("kansoku_errors_logback_events_total",
                                    "Logback ERROR records with a stack trace turned into error "
                                    "events, by outcome (stored, ratelimited, invalid, failed).",
                                    {"outcome"});
  auto warn = std::make_shared<log::RateLimited>(60000);
  return [api, rules, project, events, warn](const logs::LogBatch& batch) {
    for (const auto& r : batch) {
      errors::LogbackRecord lb;
      if (!ToLogback(r, &lb)) continue;
      std::string id;
      std::string json = errors::LogbackEventJson(lb, *rules, &id);
      if (json.empty()) continue;  // an ERROR line whose "stack" holds no exception
      auto res = api::IngestEventJson(*api, project, json);
      if (res.ok()) {
        events->With({"stored"})->Inc();
        continue;
      }
      const Status& st = res.status();
      bool limited = st.code() == Status::Code::kResourceExhausted;
      events
          ->With({limited                                       ? "ratelimited"
                  : st.code() == Status::Code::kInvalidArgument ? "invalid"
                                                                : "failed"})
          ->Inc();
      if (!limited && warn->Allow()) {
        log::Warn("logback error event not stored",
                  {{"project", static_cast<long long>(project)}, {"error", st.message()}});
      }
    }
  };
}

}  // namespace kansoku::server
