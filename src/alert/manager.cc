#include "alert/manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "alert/template.h"
#include "base/log.h"
#include "net/http.h"
#include "query/engine/engine.h"
#include "query/functions/functions.h"

namespace kansoku::alert {

namespace {

std::string UrlEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

uint64_t HashString(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: stable across builds and restarts
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

struct CompiledTemplate {
  std::string key;
  std::string text;
  std::unique_ptr<Template> tmpl;  // null when plain text
};

std::vector<CompiledTemplate> Compile(const std::vector<std::pair<std::string, std::string>>& kv,
                                      const std::string& rule_name) {
  std::vector<CompiledTemplate> out;
  for (const auto& [k, v] : kv) {
    CompiledTemplate c;
    c.key = k;
    c.text = v;
    if (v.find("{{") != std::string::npos) {
      auto t = Template::Parse(v, "__alert_" + rule_name);
      if (t.ok()) c.tmpl = std::make_unique<Template>(std::move(t).value());
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string Expand(const CompiledTemplate& c, const TemplateData& d) {
  if (c.text.find("{{") == std::string::npos) return c.text;
  if (!c.tmpl) return ExpandTemplate(c.text, "__alert_" + c.key, d);  // reports the error
  auto r = c.tmpl->Execute(d);
  if (!r.ok()) return "<error expanding template: " + r.status().message() + ">";
  return std::move(r).value();
}

// Vector selectors of an expression, as text, for the no-data check.
void CollectSelectors(const query::Expr* e, std::vector<std::string>* out);

}  // namespace

struct RuleState {
  RuleSpec spec;
  std::string key;
  std::unique_ptr<AlertTracker> tracker;  // alerting rules and sources
  std::vector<CompiledTemplate> label_tmpls, ann_tmpls;
  std::vector<std::string> selectors;  // for the no-data check
  std::set<tsdb::Labels> last_written;
  std::string health = "unknown";
  std::string last_error;
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
};

struct Group {
  RuleGroupSpec spec;  // rules moved into `rules`
  std::vector<std::unique_ptr<RuleState>> rules;
  Source* source = nullptr;
  int64_t interval_ms = 60000;
  int64_t offset_ms = 0;
  std::mutex mu;  // guards the rules' mutable state and the fields below
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
  std::atomic<bool> running{false};
  // Replaced by a reload, which moved its rules' alert state into the new groups: an evaluation
  // that still holds it (queued, or waiting for `mu`) must not run it (its trackers are gone).
  bool retired = false;
  int64_t next_due_ms = 0;   // evaluation time handed to the worker (set before queueing)
  int64_t last_slot_ms = 0;  // scheduler thread only
};

class RuleManager::Impl {
 public:
  explicit Impl(RuleManager* m) : m_(m), o_(m->opts_) {
    if (o_.metrics) {
      auto& r = *o_.metrics;
      evals_ = r.Counter("kansoku_alert_rule_evaluations_total", "Rule evaluations.").With({});
      eval_failures_ = r.Counter("kansoku_alert_rule_evaluation_failures_total",
                                 "Rule evaluations that failed (query error, limit).")
                           .With({});
      missed_ = r.Counter("kansoku_alert_group_iterations_missed_total",
                          "Group evaluations skipped because the previous one was still running.")
                    .With({});
      reload_ok_ = r.Counter("kansoku_alert_rule_reloads_total", "Rule file reloads.", {"result"})
                       .With({"success"});
      reload_fail_ = r.Counter("kansoku_alert_rule_reloads_total", "Rule file reloads.", {"result"})
                         .With({"failure"});
      save_fail_ = r.Counter("kansoku_alert_state_save_failures_total",
                             "Failed writes of data/alerts/state.json.")
                       .With({});
      state_load_fail_ = r.Counter("kansoku_alert_state_load_failures_total",
                                   "Unreadable state.json files ignored at start.")
                             .With({});
      r.GaugeFunc("kansoku_alert_rules", "Loaded rules.",
                  [this] { return static_cast<double>(m_->NumRules()); });
      r.GaugeFunc("kansoku_alerts_firing", "Alert instances firing.", [this] {
        double n = 0;
        for (const auto& a : m_->Alerts()) n += a.alert.state == AlertState::kFiring;
        return n;
      });
    }
  }

  RuleManager* m_;
  const ManagerOptions& o_;

  mutable std::mutex mu_;  // guards groups_, sources_, restored_
  std::vector<std::shared_ptr<Group>> groups_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::map<std::string, std::vector<ActiveAlert>> restored_;  // key -> alerts, until claimed

  std::mutex reload_mu_;  // one reload at a time

  // Worker pool and scheduler.
  std::mutex q_mu_;
  std::condition_variable q_cv_;
  std::deque<std::shared_ptr<Group>> queue_;
  std::vector<std::thread> workers_;
  std::thread scheduler_;
  std::condition_variable sched_cv_;
  bool stop_ = false;  // guarded by q_mu_
  std::atomic<bool> dirty_{false};
  std::mutex save_mu_;

  metrics::Counter* evals_ = nullptr;
  metrics::Counter* eval_failures_ = nullptr;
  metrics::Counter* missed_ = nullptr;
  metrics::Counter* reload_ok_ = nullptr;
  metrics::Counter* reload_fail_ = nullptr;
  metrics::Counter* save_fail_ = nullptr;
  metrics::Counter* state_load_fail_ = nullptr;

  std::shared_ptr<Group> MakeGroup(RuleGroupSpec spec) {
    auto g = std::make_shared<Group>();
    g->interval_ms = spec.interval_ms > 0 ? spec.interval_ms : o_.default_interval_ms;
    g->offset_ms = static_cast<int64_t>(HashString(spec.file + ";" + spec.name) %
                                        static_cast<uint64_t>(g->interval_ms));
    for (auto& r : spec.rules) {
      auto rs = std::make_unique<RuleState>();
      rs->key =
          spec.file + ";" + spec.name + ";" + r.name + ";" + FingerprintHex(HashString(r.expr));
      rs->label_tmpls = Compile(r.labels, r.name);
      std::vector<std::pair<std::string, std::string>> anns(r.annotations.begin(),
                                                            r.annotations.end());
      rs->ann_tmpls = Compile(anns, r.name);
      if (r.alerting) {
        TrackerOptions to;
        to.for_ms = r.for_ms;
        to.keep_firing_for_ms = r.keep_firing_for_ms;
        to.flap_damping = r.flapping;
        to.flapping = o_.flapping;
        rs->tracker = std::make_unique<AlertTracker>(to);
      }
      if (r.no_data != NoDataPolicy::kOk && r.parsed)
        CollectSelectors(r.parsed.get(), &rs->selectors);
      rs->spec = std::move(r);
      g->rules.push_back(std::move(rs));
    }
    spec.rules.clear();
    g->spec = std::move(spec);
    return g;
  }

  std::shared_ptr<Group> MakeSourceGroup(Source* s) {
    auto g = std::make_shared<Group>();
    g->source = s;
    g->spec.name = "source:" + s->name();
    g->spec.file = "(built-in)";
    g->interval_ms = s->interval_ms() > 0 ? s->interval_ms() : o_.default_interval_ms;
    g->offset_ms =
        static_cast<int64_t>(HashString(g->spec.name) % static_cast<uint64_t>(g->interval_ms));
    auto rs = std::make_unique<RuleState>();
    rs->spec.alerting = true;
    rs->spec.name = s->name();
    rs->spec.for_ms = s->for_ms();
    rs->spec.keep_firing_for_ms = s->keep_firing_for_ms();
    rs->key = "source;" + s->name();
    TrackerOptions to;
    to.for_ms = s->for_ms();
    to.keep_firing_for_ms = s->keep_firing_for_ms();
    to.flapping = o_.flapping;
    rs->tracker = std::make_unique<AlertTracker>(to);
    g->rules.push_back(std::move(rs));
    return g;
  }

  // Moves alert state from old groups (same rule key) or restored state into new ones.
  void Adopt(std::vector<std::shared_ptr<Group>>& fresh) {
    std::map<std::string, RuleState*> old;
    for (auto& g : groups_) {
      for (auto& r : g->rules) old[r->key] = r.get();
    }
    for (auto& g : fresh) {
      for (auto& r : g->rules) {
        auto it = old.find(r->key);
        if (it != old.end()) {
          if (r->tracker && it->second->tracker) {
            auto opts = r->tracker->options();
            r->tracker = std::move(it->second->tracker);
            r->tracker->set_options(opts);
          }
          r->last_written = std::move(it->second->last_written);
          r->health = it->second->health;
          r->last_error = it->second->last_error;
          r->last_eval_ms = it->second->last_eval_ms;
          r->eval_seconds = it->second->eval_seconds;
          continue;
        }
        auto rt = restored_.find(r->key);
        if (rt != restored_.end() && r->tracker) {
          r->tracker->Restore(std::move(rt->second));
          restored_.erase(rt);
        }
      }
    }
  }

  void Install(std::vector<RuleFile> files) {
    std::vector<std::shared_ptr<Group>> fresh;
    for (auto& f : files) {
      for (auto& gs : f.groups) fresh.push_back(MakeGroup(std::move(gs)));
    }
    std::lock_guard<std::mutex> l(mu_);
    for (auto& s : sources_) fresh.push_back(MakeSourceGroup(s.get()));
    // Lock every old group while moving its state (an evaluation may be running).
    std::vector<std::unique_lock<std::mutex>> locks;
    for (auto& g : groups_) locks.emplace_back(g->mu);
    Adopt(fresh);
    for (auto& g : groups_) g->retired = true;  // each locked above
    groups_.swap(fresh);
    locks.clear();
    dirty_ = true;
    sched_cv_.notify_all();
  }

  Result<std::vector<RuleFile>> LoadAll() {
    std::vector<std::string> patterns = o_.rule_patterns;
    if (!o_.api_rules_dir.empty()) patterns.push_back(o_.api_rules_dir + "/*.yml");
    auto paths = ExpandRuleGlobs(patterns);
    if (!paths.ok()) return paths.status();
    std::vector<RuleFile> files;
    std::set<std::string> group_keys;
    for (const auto& p : *paths) {
      auto f = LoadRuleFile(p);
      if (!f.ok()) return f.status();
      files.push_back(std::move(f).value());
    }
    return files;
  }

  void EvalGroup(Group& g, int64_t t) {
    std::vector<Alert> to_send;
    auto start = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> l(g.mu);
      if (g.retired) return;
      for (auto& r : g.rules) EvalRule(g, *r, t, &to_send);
      g.last_eval_ms = t;
      g.eval_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (!to_send.empty()) {
      for (AlertSink* s : o_.sinks) s->Send(to_send);
    }
  }

  void Write(RuleState& r, const std::vector<std::pair<tsdb::Labels, double>>& samples, int64_t t) {
    auto app = o_.appendable->NewAppender();
    std::set<tsdb::Labels> now;
    for (const auto& [ls, v] : samples) {
      Status st = app->Append(ls, t, v);
      if (!st.ok()) {
        if (r.last_error.empty())
          r.last_error = "cannot write " + ls.ToString() + ": " + st.message();
        continue;
      }
      now.insert(ls);
    }
    for (const auto& ls : r.last_written) {
      if (!now.count(ls)) (void)app->Append(ls, t, tsdb::StaleNaN());
    }
    Status st = app->Commit();
    if (!st.ok()) {
      r.health = "err";
      r.last_error = "cannot commit rule results: " + st.message();
      return;
    }
    r.last_written = std::move(now);
  }

  bool HasNoData(RuleState& r, int64_t t) {
    if (r.selectors.empty()) return false;
    for (const auto& sel : r.selectors) {
      auto res = o_.engine->Query(*o_.queryable, sel, t);
      if (!res.ok() || !res.vector.empty()) return false;
    }
    return true;
  }

  void EvalRule(Group& g, RuleState& r, int64_t t, std::vector<Alert>* to_send) {
    auto start = std::chrono::steady_clock::now();
    if (evals_) evals_->Inc();
    r.last_eval_ms = t;
    r.last_error.clear();
    std::vector<Instance> instances;
    bool skip_apply = false;
    std::string health = "ok";
    if (g.source) {
      auto got = g.source->Collect(t);
      if (!got.ok()) {
        r.health = "err";
        r.last_error = got.status().message();
        if (eval_failures_) eval_failures_->Inc();
        return;
      }
      for (auto& si : *got) {
        Instance in;
        tsdb::LabelsBuilder b(si.labels);
        if (si.labels.Get("alertname").empty()) b.Set("alertname", r.spec.name);
        in.labels = b.Build();
        in.annotations = std::move(si.annotations);
        in.value = si.value;
        instances.push_back(std::move(in));
      }
    } else {
      int64_t qt = t - g.spec.query_offset_ms;
      auto res = o_.engine->Query(*o_.queryable, *r.spec.parsed, qt);
      if (!res.ok()) {
        r.health = "err";
        r.last_error = res.error;
        if (eval_failures_) eval_failures_->Inc();
        r.eval_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return;
      }
      query::Vector vec;
      if (res.type == query::ValueType::kScalar) {
        vec.push_back({tsdb::Labels(), qt, res.scalar});
      } else {
        vec = std::move(res.vector);
      }
      if (g.spec.limit > 0 && static_cast<int64_t>(vec.size()) > g.spec.limit) {
        r.health = "err";
        r.last_error = "exceeded limit of " + std::to_string(g.spec.limit) + " with " +
                       std::to_string(vec.size()) + (r.spec.alerting ? " alerts" : " series");
        if (eval_failures_) eval_failures_->Inc();
        return;
      }
      if (!r.spec.alerting) {
        std::vector<std::pair<tsdb::Labels, double>> out;
        for (const auto& s : vec) {
          tsdb::LabelsBuilder b(s.labels);
          b.Set(tsdb::kMetricName, r.spec.name);
          for (const auto& [k, v] : g.spec.labels) b.Set(k, v);
          for (const auto& [k, v] : r.spec.labels) b.Set(k, v);
          out.emplace_back(b.Build(), s.v);
        }
        std::sort(out.begin(), out.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        for (size_t i = 1; i < out.size(); ++i) {
          if (out[i].first == out[i - 1].first) {
            r.health = "err";
            r.last_error =
                "vector contains metrics with the same labelset after applying rule labels";
            if (eval_failures_) eval_failures_->Inc();
            return;
          }
        }
        Write(r, out, t);
        if (r.last_error.empty()) r.health = "ok";
        r.eval_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return;
      }
      if (vec.empty() && r.spec.no_data != NoDataPolicy::kOk && HasNoData(r, qt)) {
        health = "nodata";
        if (r.spec.no_data == NoDataPolicy::kKeep) {
          skip_apply = true;
        } else {
          tsdb::LabelsBuilder b;
          b.Set("alertname", r.spec.name);
          b.Set("kansoku_nodata", "true");
          for (const auto& [k, v] : g.spec.labels) b.Set(k, v);
          for (const auto& [k, v] : r.spec.labels) b.Set(k, v);
          Instance in;
          in.labels = b.Build();
          in.annotations["summary"] =
              "no data for alerting rule " + r.spec.name + " (expr: " + r.spec.expr + ")";
          instances.push_back(std::move(in));
        }
      }
      for (const auto& s : vec) {
        tsdb::LabelsBuilder series(s.labels);
        series.Del(tsdb::kMetricName);
        tsdb::Labels series_labels = series.Build();
        TemplateData d;
        d.labels = &series_labels;
        d.value = s.v;
        d.external_labels = &o_.external_labels;
        d.external_url = o_.external_url;
        tsdb::LabelsBuilder b(series_labels);
        for (const auto& [k, v] : g.spec.labels) b.Set(k, v);
        for (const auto& c : r.label_tmpls) b.Set(c.key, Expand(c, d));
        b.Set("alertname", r.spec.name);
        Instance in;
        in.labels = b.Build();
        in.value = s.v;
        for (const auto& c : r.ann_tmpls) in.annotations[c.key] = Expand(c, d);
        instances.push_back(std::move(in));
      }
    }
    if (!skip_apply) {
      if (r.tracker->Apply(std::move(instances), t)) dirty_ = true;
    }
    std::vector<std::pair<tsdb::Labels, double>> series;
    r.tracker->SeriesToWrite(&series);
    Write(r, series, t);
    int64_t valid_for = 4 * std::max(g.interval_ms, o_.resend_delay_ms);
    std::string gen = o_.external_url + "/graph?g0.expr=" + UrlEscape(r.spec.expr) + "&g0.tab=1";
    auto sends = r.tracker->TakeAlertsToSend(t, o_.resend_delay_ms, valid_for, gen);
    if (!sends.empty()) dirty_ = true;  // last_sent_ms changed
    for (auto& a : sends) to_send->push_back(std::move(a));
    if (r.last_error.empty()) r.health = health;
    r.eval_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  void Worker() {
    for (;;) {
      std::shared_ptr<Group> g;
      {
        std::unique_lock<std::mutex> l(q_mu_);
        q_cv_.wait(l, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        g = std::move(queue_.front());
        queue_.pop_front();
      }
      EvalGroup(*g, g->next_due_ms);
      g->running = false;
    }
  }

  void Scheduler() {
    int64_t last_save = 0;
    for (;;) {
      int64_t now = o_.clock->NowMs();
      int64_t wake = now + 1000;
      std::vector<std::shared_ptr<Group>> groups;
      {
        std::lock_guard<std::mutex> l(mu_);
        groups = groups_;
      }
      for (auto& g : groups) {
        // Latest scheduled slot <= now; each slot is evaluated once, at the slot's time.
        int64_t slot = ((now - g->offset_ms) / g->interval_ms) * g->interval_ms + g->offset_ms;
        if (slot > now) slot -= g->interval_ms;
        wake = std::min(wake, slot + g->interval_ms);
        if (g->running || g->last_slot_ms == slot) continue;
        if (g->last_slot_ms != 0 && slot - g->last_slot_ms > g->interval_ms && missed_) {
          const int64_t missed = (slot - g->last_slot_ms) / g->interval_ms - 1;  // whole slots
          missed_->Inc(static_cast<double>(missed));
        }
        g->last_slot_ms = slot;
        g->next_due_ms = slot;
        g->running = true;
        {
          std::lock_guard<std::mutex> l(q_mu_);
          queue_.push_back(g);
        }
        q_cv_.notify_one();
      }
      if (dirty_ && now - last_save >= 1000) {
        last_save = now;
        (void)m_->SaveState();
      }
      std::unique_lock<std::mutex> l(q_mu_);
      if (stop_) return;
      int64_t wait = std::max<int64_t>(10, std::min<int64_t>(wake - o_.clock->NowMs(), 1000));
      sched_cv_.wait_for(l, std::chrono::milliseconds(wait));
      if (stop_) return;
    }
  }

  Status LoadState() {
    if (o_.state_dir.empty()) return Status::Ok();
    std::string path = o_.state_dir + "/state.json";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::ifstream f(path, std::ios::binary);
    if (!f) return Status::Ok();
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    if (parser.parse(text).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
      return Status::Corruption(path + ": not valid JSON");
    }
    int64_t version = 0;
    if (doc["version"].get_int64().get(version) != simdjson::SUCCESS || version != 1) {
      return Status::Corruption(path + ": unknown version");
    }
    simdjson::dom::array rules;
    if (doc["rules"].get_array().get(rules) != simdjson::SUCCESS) {
      return Status::Corruption(path + ": no rules array");
    }
    std::map<std::string, std::vector<ActiveAlert>> out;
    for (auto rule : rules) {
      std::string_view key;
      simdjson::dom::array alerts;
      if (rule["key"].get_string().get(key) != simdjson::SUCCESS ||
          rule["alerts"].get_array().get(alerts) != simdjson::SUCCESS) {
        return Status::Corruption(path + ": rule entry without key or alerts");
      }
      auto& list = out[std::string(key)];
      for (auto a : alerts) {
        ActiveAlert x;
        simdjson::dom::object labels, anns;
        if (a["labels"].get_object().get(labels) != simdjson::SUCCESS) {
          return Status::Corruption(path + ": alert without labels");
        }
        std::vector<tsdb::Label> ls;
        for (auto [k, v] : labels) {
          std::string_view sv;
          if (v.get_string().get(sv) != simdjson::SUCCESS) continue;
          ls.push_back({std::string(k), std::string(sv)});
        }
        x.labels = tsdb::Labels::FromVector(std::move(ls));
        if (a["annotations"].get_object().get(anns) == simdjson::SUCCESS) {
          for (auto [k, v] : anns) {
            std::string_view sv;
            if (v.get_string().get(sv) == simdjson::SUCCESS) x.annotations[std::string(k)] = sv;
          }
        }
        std::string_view state;
        if (a["state"].get_string().get(state) != simdjson::SUCCESS) {
          return Status::Corruption(path + ": alert without state");
        }
        x.state = state == "firing"    ? AlertState::kFiring
                  : state == "pending" ? AlertState::kPending
                                       : AlertState::kInactive;
        double v = 0;
        if (a["value"].get_double().get(v) == simdjson::SUCCESS) x.value = v;
        auto i64 = [&](const char* k, int64_t* dst) {
          int64_t n = 0;
          if (a[k].get_int64().get(n) == simdjson::SUCCESS) *dst = n;
        };
        i64("active_at_ms", &x.active_at_ms);
        i64("fired_at_ms", &x.fired_at_ms);
        i64("resolved_at_ms", &x.resolved_at_ms);
        i64("last_sent_ms", &x.last_sent_ms);
        i64("keep_firing_since_ms", &x.keep_firing_since_ms);
        i64("flap_hold_since_ms", &x.flap_hold_since_ms);
        simdjson::dom::array tr;
        if (a["transitions_ms"].get_array().get(tr) == simdjson::SUCCESS) {
          for (auto e : tr) {
            int64_t n;
            if (e.get_int64().get(n) == simdjson::SUCCESS) x.transitions_ms.push_back(n);
          }
        }
        bool flapping = false;
        if (a["flapping"].get_bool().get(flapping) == simdjson::SUCCESS) x.flapping = flapping;
        list.push_back(std::move(x));
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    restored_ = std::move(out);
    return Status::Ok();
  }
};

namespace {

void CollectSelectors(const query::Expr* e, std::vector<std::string>* out) {
  if (!e) return;
  switch (e->kind) {
    case query::ExprKind::kVectorSelector:
      out->push_back(e->String());
      return;
    case query::ExprKind::kMatrixSelector:
      CollectSelectors(static_cast<const query::MatrixSelector*>(e)->vs.get(), out);
      return;
    case query::ExprKind::kSubquery:
      CollectSelectors(static_cast<const query::SubqueryExpr*>(e)->expr.get(), out);
      return;
    case query::ExprKind::kParen:
      CollectSelectors(static_cast<const query::ParenExpr*>(e)->expr.get(), out);
      return;
    case query::ExprKind::kUnary:
      CollectSelectors(static_cast<const query::UnaryExpr*>(e)->expr.get(), out);
      return;
    case query::ExprKind::kBinary: {
      auto* b = static_cast<const query::BinaryExpr*>(e);
      CollectSelectors(b->lhs.get(), out);
      CollectSelectors(b->rhs.get(), out);
      return;
    }
    case query::ExprKind::kAggregate: {
      auto* a = static_cast<const query::AggregateExpr*>(e);
      CollectSelectors(a->expr.get(), out);
      return;
    }
    case query::ExprKind::kCall:
      for (const auto& arg : static_cast<const query::Call*>(e)->args)
        CollectSelectors(arg.get(), out);
      return;
    default:
      return;
  }
}

}  // namespace

RuleManager::RuleManager(ManagerOptions opts) : opts_(std::move(opts)) {
  impl_ = std::make_unique<Impl>(this);
}

RuleManager::~RuleManager() { Stop(); }

Status RuleManager::Start() {
  if (!opts_.state_dir.empty()) {
    if (::mkdir(opts_.state_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("cannot create " + opts_.state_dir, errno);
    }
    Status st = impl_->LoadState();
    if (!st.ok()) {
      log::Warn("alert state ignored", {{"err", st.message()}});
      if (impl_->state_load_fail_) impl_->state_load_fail_->Inc();
    }
  }
  if (!opts_.api_rules_dir.empty()) {
    if (::mkdir(opts_.api_rules_dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return Status::FromErrno("cannot create " + opts_.api_rules_dir, errno);
    }
  }
  auto files = impl_->LoadAll();
  if (!files.ok()) return files.status();
  size_t n = 0;
  for (const auto& f : *files)
    for (const auto& g : f.groups) n += g.rules.size();
  impl_->Install(std::move(files).value());
  log::Info("alerting rules loaded", {{"rules", static_cast<unsigned long>(n)}});
  if (opts_.eval_threads > 0) {
    for (int i = 0; i < opts_.eval_threads; ++i) {
      impl_->workers_.emplace_back([this] { impl_->Worker(); });
    }
    impl_->scheduler_ = std::thread([this] { impl_->Scheduler(); });
  }
  return Status::Ok();
}

void RuleManager::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->q_mu_);
    if (impl_->stop_) return;
    impl_->stop_ = true;
  }
  impl_->q_cv_.notify_all();
  impl_->sched_cv_.notify_all();
  if (impl_->scheduler_.joinable()) impl_->scheduler_.join();
  for (auto& w : impl_->workers_) w.join();
  impl_->workers_.clear();
  if (!opts_.state_dir.empty()) (void)SaveState();
}

Status RuleManager::Reload() {
  std::lock_guard<std::mutex> rl(impl_->reload_mu_);
  auto files = impl_->LoadAll();
  if (!files.ok()) {
    if (impl_->reload_fail_) impl_->reload_fail_->Inc();
    log::Warn("rule reload failed; previous rules stay active",
              {{"err", files.status().message()}});
    return files.status();
  }
  size_t n = 0;
  for (const auto& f : *files)
    for (const auto& g : f.groups) n += g.rules.size();
  impl_->Install(std::move(files).value());
  if (impl_->reload_ok_) impl_->reload_ok_->Inc();
  log::Info("alerting rules reloaded", {{"rules", static_cast<unsigned long>(n)}});
  return Status::Ok();
}

void RuleManager::AddSource(std::unique_ptr<Source> source) {
  std::lock_guard<std::mutex> l(impl_->mu_);
  Source* s = source.get();
  impl_->sources_.push_back(std::move(source));
  auto g = impl_->MakeSourceGroup(s);
  std::vector<std::shared_ptr<Group>> one{g};
  // Restore persisted state for the source.
  auto rt = impl_->restored_.find(g->rules[0]->key);
  if (rt != impl_->restored_.end()) {
    g->rules[0]->tracker->Restore(std::move(rt->second));
    impl_->restored_.erase(rt);
  }
  impl_->groups_.push_back(g);
}

void RuleManager::EvalAllAt(int64_t t_ms, int threads) {
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    groups = impl_->groups_;
  }
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i = next++; i < groups.size(); i = next++) impl_->EvalGroup(*groups[i], t_ms);
  };
  std::vector<std::thread> extra;
  for (int i = 1; i < threads; ++i) extra.emplace_back(run);
  run();
  for (auto& t : extra) t.join();
}

void RuleManager::SetRuleFilesForTest(std::vector<RuleFile> files) {
  impl_->Install(std::move(files));
}

size_t RuleManager::NumRules() const {
  std::lock_guard<std::mutex> l(impl_->mu_);
  size_t n = 0;
  for (const auto& g : impl_->groups_) n += g->rules.size();
  return n;
}

std::vector<GroupSnapshot> RuleManager::Groups() const {
  std::vector<std::shared_ptr<Group>> groups;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    groups = impl_->groups_;
  }
  std::vector<GroupSnapshot> out;
  for (auto& g : groups) {
    std::lock_guard<std::mutex> gl(g->mu);
    GroupSnapshot s;
    s.name = g->spec.name;
    s.file = g->spec.file;
    s.interval_ms = g->interval_ms;
    s.limit = g->spec.limit;
    s.last_eval_ms = g->last_eval_ms;
    s.eval_seconds = g->eval_seconds;
    for (const auto& r : g->rules) {
      RuleSnapshot rs;
      rs.alerting = r->spec.alerting;
      rs.name = r->spec.name;
      rs.query = r->spec.expr;
      rs.for_ms = r->spec.for_ms;
      rs.keep_firing_for_ms = r->spec.keep_firing_for_ms;
      rs.labels = r->spec.labels;
      rs.annotations = r->spec.annotations;
      rs.health = r->health;
      rs.last_error = r->last_error;
      rs.last_eval_ms = r->last_eval_ms;
      rs.eval_seconds = r->eval_seconds;
      if (r->tracker) {
        for (const auto& [ls, a] : r->tracker->alerts()) {
          if (a.state != AlertState::kInactive) rs.alerts.push_back(a);
        }
      }
      s.rules.push_back(std::move(rs));
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<AlertSnapshot> RuleManager::Alerts() const {
  std::vector<AlertSnapshot> out;
  for (auto& g : Groups()) {
    for (auto& r : g.rules) {
      for (auto& a : r.alerts) out.push_back({a, r.name});
    }
  }
  return out;
}

Status RuleManager::SaveState() {
  if (opts_.state_dir.empty()) return Status::Ok();
  std::lock_guard<std::mutex> sl(impl_->save_mu_);
  impl_->dirty_ = false;
  std::vector<std::shared_ptr<Group>> groups;
  std::map<std::string, std::vector<ActiveAlert>> restored;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    groups = impl_->groups_;
    restored = impl_->restored_;  // not yet claimed (e.g. a source registered later): keep it
  }
  std::string j =
      "{\"version\":1,\"saved_at_ms\":" + std::to_string(opts_.clock->NowMs()) + ",\"rules\":[";
  bool first_rule = true;
  auto add_rule = [&](const std::string& key, const auto& alerts_range) {
    std::string r = "{\"key\":" + net::JsonString(key) + ",\"alerts\":[";
    bool first = true;
    size_t n = 0;
    for (const ActiveAlert& a : alerts_range) {
      ++n;
      if (!first) r += ',';
      first = false;
      r += "{\"labels\":{";
      bool fl = true;
      for (const auto& l : a.labels) {
        if (!fl) r += ',';
        fl = false;
        r += net::JsonString(l.name) + ":" + net::JsonString(l.value);
      }
      r += "},\"annotations\":{";
      fl = true;
      for (const auto& [k, v] : a.annotations) {
        if (!fl) r += ',';
        fl = false;
        r += net::JsonString(k) + ":" + net::JsonString(v);
      }
      r += "},\"state\":\"" + std::string(AlertStateName(a.state)) + "\"";
      double v = a.value;
      r += ",\"value\":" + (std::isfinite(v) ? query::functions::FormatFloatShortest(v) : "0");
      r += ",\"active_at_ms\":" + std::to_string(a.active_at_ms);
      r += ",\"fired_at_ms\":" + std::to_string(a.fired_at_ms);
      r += ",\"resolved_at_ms\":" + std::to_string(a.resolved_at_ms);
      r += ",\"last_sent_ms\":" + std::to_string(a.last_sent_ms);
      r += ",\"keep_firing_since_ms\":" + std::to_string(a.keep_firing_since_ms);
      r += ",\"flap_hold_since_ms\":" + std::to_string(a.flap_hold_since_ms);
      r += ",\"flapping\":" + std::string(a.flapping ? "true" : "false");
      r += ",\"transitions_ms\":[";
      for (size_t i = 0; i < a.transitions_ms.size(); ++i) {
        if (i) r += ',';
        r += std::to_string(a.transitions_ms[i]);
      }
      r += "]}";
    }
    r += "]}";
    if (n == 0) return;
    if (!first_rule) j += ',';
    first_rule = false;
    j += r;
  };
  for (auto& g : groups) {
    std::lock_guard<std::mutex> gl(g->mu);
    for (const auto& r : g->rules) {
      if (!r->tracker) continue;
      std::vector<ActiveAlert> list;
      for (const auto& [ls, a] : r->tracker->alerts()) list.push_back(a);
      add_rule(r->key, list);
    }
  }
  for (const auto& [k, list] : restored) add_rule(k, list);
  j += "]}\n";
  std::string path = opts_.state_dir + "/state.json";
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  auto fail = [&](const std::string& what) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    if (impl_->save_fail_) impl_->save_fail_->Inc();
    impl_->dirty_ = true;
    return Status::FromErrno(what + " " + tmp, e);
  };
  if (fd < 0) return fail("cannot create");
  size_t off = 0;
  while (off < j.size()) {
    ssize_t w = ::write(fd, j.data() + off, j.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    off += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0) return fail("cannot fsync");
  ::close(fd);
  fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename");
  int dfd = ::open(opts_.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace kansoku::alert
