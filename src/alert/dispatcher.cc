#include "alert/dispatcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "base/log.h"
#include "net/http.h"

namespace kansoku::alert {

namespace {

int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A route with inherited values resolved.
struct RouteNode {
  std::string id;  // "0", "0.1", ... (position in the tree; part of group keys)
  const RouteConfig* cfg = nullptr;
  std::string receiver;
  std::vector<std::string> group_by;
  bool group_all = false;
  int64_t wait_ms = 0, interval_ms = 0, repeat_ms = 0;
  std::vector<RouteNode> children;
};

RouteNode Build(const RouteConfig& c, const RouteNode* parent, const std::string& id) {
  RouteNode n;
  n.id = id;
  n.cfg = &c;
  n.receiver = !c.receiver.empty() ? c.receiver : parent ? parent->receiver : "";
  if (c.group_by_set || !parent) {
    n.group_by = c.group_by;
    n.group_all = std::find(c.group_by.begin(), c.group_by.end(), "...") != c.group_by.end();
  } else {
    n.group_by = parent->group_by;
    n.group_all = parent->group_all;
  }
  n.wait_ms = c.group_wait_ms >= 0 ? c.group_wait_ms : parent ? parent->wait_ms : 30000;
  n.interval_ms = c.group_interval_ms >= 0 ? c.group_interval_ms
                  : parent                 ? parent->interval_ms
                                           : 300000;
  n.repeat_ms = c.repeat_interval_ms >= 0 ? c.repeat_interval_ms
                : parent                  ? parent->repeat_ms
                                          : 14400000;
  for (size_t i = 0; i < c.routes.size(); ++i) {
    n.children.push_back(Build(c.routes[i], &n, id + "." + std::to_string(i)));
  }
  return n;
}

void Match(const RouteNode& n, const tsdb::Labels& ls, std::vector<const RouteNode*>* out) {
  size_t before = out->size();
  for (const auto& c : n.children) {
    if (!MatchesAll(c.cfg->matchers, ls)) continue;
    Match(c, ls, out);
    if (!c.cfg->continue_matching) break;
  }
  if (out->size() == before) out->push_back(&n);
}

struct Job {
  Notification n;
  int64_t deadline_mono_ms = 0;
};

// The history entry of a notification (result fields are filled by the caller).
HistoryEntry EntryFor(const Notification& n) {
  HistoryEntry e;
  e.group_key = n.group_key;
  e.group_labels = n.group_labels;
  e.status = n.StatusText();
  for (const auto& a : n.alerts) {
    bool resolved = a.Resolved(n.now_ms);
    ++(resolved ? e.resolved : e.firing);
    std::string name(a.labels.Get("alertname"));
    if (std::find(e.alertnames.begin(), e.alertnames.end(), name) == e.alertnames.end()) {
      e.alertnames.push_back(name);
    }
    if (e.alerts.size() >= kHistoryAlerts) {
      ++e.truncated_alerts;
      continue;
    }
    HistoryAlert h;
    h.labels = a.labels;
    h.status = resolved ? "resolved" : "firing";
    auto it = a.annotations.find("summary");
    if (it != a.annotations.end()) h.summary = it->second;
    h.starts_at_ms = a.starts_at_ms;
    e.alerts.push_back(std::move(h));
  }
  return e;
}

std::string LabelsJson(const tsdb::Labels& ls) {
  std::string j = "{";
  bool first = true;
  for (const auto& l : ls) {
    if (!first) j += ',';
    first = false;
    j += net::JsonString(l.name) + ":" + net::JsonString(l.value);
  }
  return j + "}";
}

tsdb::Labels LabelsFrom(simdjson::dom::element e) {
  std::vector<tsdb::Label> out;
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return {};
  for (auto kv : o) {
    std::string_view v;
    if (kv.value.get_string().get(v) == simdjson::SUCCESS) {
      out.push_back({std::string(kv.key), std::string(v)});
    }
  }
  return tsdb::Labels::FromVector(std::move(out));
}

}  // namespace

std::string HistoryEntryJson(const HistoryEntry& h) {
  std::string j = "{\"time\":\"" + FormatRfc3339(h.time_ms) +
                  "\",\"groupKey\":" + net::JsonString(h.group_key) +
                  ",\"receiver\":" + net::JsonString(h.receiver) +
                  ",\"integration\":" + net::JsonString(h.integration) +
                  ",\"target\":" + net::JsonString(h.target) +
                  ",\"status\":" + net::JsonString(h.status) +
                  ",\"firing\":" + std::to_string(h.firing) +
                  ",\"resolved\":" + std::to_string(h.resolved) + ",\"alertnames\":[";
  for (size_t i = 0; i < h.alertnames.size(); ++i) {
    if (i) j += ',';
    j += net::JsonString(h.alertnames[i]);
  }
  j += "],\"result\":" + net::JsonString(h.result) + ",\"attempts\":" + std::to_string(h.attempts);
  if (!h.error.empty()) j += ",\"error\":" + net::JsonString(h.error);
  j += ",\"groupLabels\":" + LabelsJson(h.group_labels) + ",\"alerts\":[";
  for (size_t i = 0; i < h.alerts.size(); ++i) {
    const auto& a = h.alerts[i];
    if (i) j += ',';
    j += "{\"labels\":" + LabelsJson(a.labels) + ",\"status\":" + net::JsonString(a.status) +
         ",\"startsAt\":\"" + FormatRfc3339(a.starts_at_ms) + "\"";
    if (!a.summary.empty()) j += ",\"summary\":" + net::JsonString(a.summary);
    j += "}";
  }
  return j + "],\"truncatedAlerts\":" + std::to_string(h.truncated_alerts) + "}";
}

bool ParseHistoryEntryJson(std::string_view json, HistoryEntry* out) {
  simdjson::dom::parser parser;
  simdjson::dom::element d;
  if (parser.parse(json.data(), json.size()).get(d) != simdjson::SUCCESS || !d.is_object()) {
    return false;
  }
  auto str = [&](simdjson::dom::element e, const char* k) {
    std::string_view v;
    return e[k].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
  };
  auto num = [&](simdjson::dom::element e, const char* k) {
    int64_t v = 0;
    return e[k].get_int64().get(v) == simdjson::SUCCESS ? v : 0;
  };
  HistoryEntry h;
  auto t = ParseRfc3339(str(d, "time"));
  if (!t.ok()) return false;
  h.time_ms = *t;
  h.group_key = str(d, "groupKey");
  h.receiver = str(d, "receiver");
  h.integration = str(d, "integration");
  h.target = str(d, "target");
  h.status = str(d, "status");
  h.firing = static_cast<size_t>(num(d, "firing"));
  h.resolved = static_cast<size_t>(num(d, "resolved"));
  h.result = str(d, "result");
  h.error = str(d, "error");
  h.attempts = static_cast<int>(num(d, "attempts"));
  h.truncated_alerts = static_cast<size_t>(num(d, "truncatedAlerts"));
  simdjson::dom::element gl;
  if (d["groupLabels"].get(gl) == simdjson::SUCCESS) h.group_labels = LabelsFrom(gl);
  simdjson::dom::array arr;
  if (d["alertnames"].get_array().get(arr) == simdjson::SUCCESS) {
    for (auto x : arr) {
      std::string_view v;
      if (x.get_string().get(v) == simdjson::SUCCESS) h.alertnames.emplace_back(v);
    }
  }
  if (d["alerts"].get_array().get(arr) == simdjson::SUCCESS) {
    for (auto x : arr) {
      HistoryAlert a;
      simdjson::dom::element ls;
      if (x["labels"].get(ls) == simdjson::SUCCESS) a.labels = LabelsFrom(ls);
      a.status = str(x, "status");
      a.summary = str(x, "summary");
      auto st = ParseRfc3339(str(x, "startsAt"));
      a.starts_at_ms = st.ok() ? *st : 0;
      h.alerts.push_back(std::move(a));
    }
  }
  if (h.receiver.empty() || h.result.empty()) return false;
  *out = std::move(h);
  return true;
}

// One integration's delivery queue and thread.
class Delivery {
 public:
  Delivery(std::string receiver, std::unique_ptr<Integration> integ, Dispatcher::Impl* d,
           int64_t attempt_timeout_ms)
      : receiver_(std::move(receiver)),
        integ_(std::move(integ)),
        d_(d),
        attempt_timeout_ms_(attempt_timeout_ms) {
    health_.receiver = receiver_;
    health_.integration = integ_->kind();
    health_.target = integ_->target();
  }
  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // After a reconfiguration: no new jobs come; the thread delivers what is queued (each job
  // still within its own deadline and retry budget) and then ends. Stop() still abandons the
  // rest at once.
  void Retire() {
    {
      std::lock_guard<std::mutex> l(mu_);
      retiring_ = true;
    }
    cv_.notify_all();
  }
  bool finished() const {
    std::lock_guard<std::mutex> l(mu_);
    return finished_;
  }
  bool Enqueue(Job j, size_t max);
  IntegrationHealth Health() const {
    std::lock_guard<std::mutex> l(mu_);
    IntegrationHealth h = health_;
    h.queued = queue_.size();
    return h;
  }
  bool send_resolved() const { return integ_->send_resolved(); }
  const std::string& receiver() const { return receiver_; }

 private:
  void Run();
  std::string receiver_;
  std::unique_ptr<Integration> integ_;
  Dispatcher::Impl* d_;
  const int64_t attempt_timeout_ms_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stop_ = false;
  bool retiring_ = false;
  bool finished_ = false;  // Run returned after draining a retired queue
  IntegrationHealth health_;
  std::thread thread_;
};

struct AggrGroup {
  std::string key;
  const RouteNode* route = nullptr;
  tsdb::Labels group_labels;
  std::map<uint64_t, Alert> alerts;
  int64_t next_flush_ms = 0;
  std::set<uint64_t> last_firing;  // notified as firing
  int64_t last_sent_ms = 0;
};

class Dispatcher::Impl {
 public:
  explicit Impl(DispatcherOptions o) : o_(std::move(o)) {
    root_ = Build(o_.config.route, nullptr, "0");
    if (!o_.make_integrations) o_.make_integrations = MakeIntegrations;
    deliveries_ = MakeDeliveries(o_.config);
    if (o_.metrics) {
      auto& m = *o_.metrics;
      notif_ = &m.Counter("kansoku_alert_notifications_total",
                          "Notifications delivered, by receiver and integration.",
                          {"receiver", "integration"});
      failed_ =
          &m.Counter("kansoku_alert_notifications_failed_total",
                     "Notifications that failed after all retries.", {"receiver", "integration"});
      retries_ = &m.Counter("kansoku_alert_notification_retries_total",
                            "Delivery attempts that failed and were retried.",
                            {"receiver", "integration"});
      dropped_ = &m.Counter("kansoku_alert_notifications_dropped_total",
                            "Notifications dropped because an integration's queue was full.",
                            {"receiver", "integration"});
      muted_ =
          &m.Counter("kansoku_alert_muted_total", "Alerts muted at notification time.", {"reason"});
      Silences* s = o_.silences;
      Clock* c = o_.clock;
      if (s) {
        m.GaugeFunc("kansoku_alert_silences_active", "Active silences.",
                    [s, c] { return static_cast<double>(s->ActiveCount(c->NowMs())); });
      }
    }
  }

  using Deliveries = std::map<std::string, std::vector<std::unique_ptr<Delivery>>>;
  Deliveries MakeDeliveries(const NotifyConfig& c) {
    Deliveries out;
    for (const auto& r : c.receivers) {
      for (auto& integ : o_.make_integrations(r)) {
        out[r.name].push_back(
            std::make_unique<Delivery>(r.name, std::move(integ), this, c.attempt_timeout_ms));
      }
    }
    return out;
  }

  DispatcherOptions o_;  // o_.config, root_ and deliveries_ are guarded by mu_ (Reconfigure)
  RouteNode root_;
  Deliveries deliveries_;
  // Integrations of an earlier configuration still delivering what was queued for them when
  // Reconfigure replaced them; reaped once finished, stopped (abandoned) by Stop.
  std::vector<std::unique_ptr<Delivery>> retired_;

  mutable std::mutex mu_;  // guards groups_, persisted_, dirty_
  std::map<std::string, std::unique_ptr<AggrGroup>> groups_;
  std::map<std::string, std::pair<std::set<uint64_t>, int64_t>> persisted_;
  bool dirty_ = false;
  int64_t last_save_ms_ = 0;

  mutable std::mutex hist_mu_;
  std::deque<HistoryEntry> history_;  // newest first
  FILE* history_file_ = nullptr;      // history.jsonl, appended; GUARDED_BY(hist_mu_)
  size_t history_file_lines_ = 0;

  std::thread flusher_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;

  metrics::Family<metrics::Counter>* notif_ = nullptr;
  metrics::Family<metrics::Counter>* failed_ = nullptr;
  metrics::Family<metrics::Counter>* retries_ = nullptr;
  metrics::Family<metrics::Counter>* dropped_ = nullptr;
  metrics::Family<metrics::Counter>* muted_ = nullptr;

  void Record(HistoryEntry e) {
    std::lock_guard<std::mutex> l(hist_mu_);
    if (history_file_) {
      std::string line = HistoryEntryJson(e) + "\n";
      if (std::fwrite(line.data(), 1, line.size(), history_file_) != line.size() ||
          std::fflush(history_file_) != 0) {
        log::Warn("cannot append to the notification history", {{"dir", o_.state_dir}});
      }
      ++history_file_lines_;
    }
    history_.push_front(std::move(e));
    while (history_.size() > o_.history_size) history_.pop_back();
    if (history_file_ && history_file_lines_ > 2 * o_.history_size) RewriteHistoryLocked();
  }

  // history.jsonl: one entry per line, oldest first. Rewritten (tmp + rename) from memory when
  // it holds twice the entries kept, so it stays bounded.
  void RewriteHistoryLocked() {
    std::string path = o_.state_dir + "/history.jsonl", tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return;
    bool ok = true;
    for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
      std::string line = HistoryEntryJson(*it) + "\n";
      ok &= std::fwrite(line.data(), 1, line.size(), f) == line.size();
    }
    ok &= std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
      log::Warn("cannot rewrite the notification history", {{"path", path}});
      return;
    }
    if (history_file_) std::fclose(history_file_);
    history_file_ = std::fopen(path.c_str(), "a");
    history_file_lines_ = history_.size();
  }

  void LoadHistory() {
    if (o_.state_dir.empty()) return;
    std::string path = o_.state_dir + "/history.jsonl";
    std::lock_guard<std::mutex> l(hist_mu_);
    std::ifstream in(path, std::ios::binary);
    std::string line;
    size_t bad = 0;
    while (std::getline(in, line)) {
      HistoryEntry e;
      if (line.empty()) continue;
      if (!ParseHistoryEntryJson(line, &e)) {
        ++bad;  // a torn last line after a crash, or garbage: skipped
        continue;
      }
      history_.push_front(std::move(e));
      while (history_.size() > o_.history_size) history_.pop_back();
    }
    if (bad)
      log::Warn("notification history: unreadable lines skipped",
                {{"lines", static_cast<unsigned long long>(bad)}});
    RewriteHistoryLocked();  // drops what was skipped and trims to history_size
    if (!history_file_) history_file_ = std::fopen(path.c_str(), "a");
    if (!history_file_) log::Warn("notification history is not persisted", {{"path", path}});
  }
  void CloseHistory() {
    std::lock_guard<std::mutex> l(hist_mu_);
    if (history_file_) std::fclose(history_file_);
    history_file_ = nullptr;
  }
  void Count(metrics::Family<metrics::Counter>* f, const std::string& r, const std::string& i) {
    if (f) f->With({r, i})->Inc();
  }

  std::string GroupKey(const RouteNode& r, const tsdb::Labels& gl) const {
    return "{" + r.id + "}:" + gl.ToString();
  }

  tsdb::Labels GroupLabels(const RouteNode& r, const tsdb::Labels& ls) const {
    if (r.group_all) return ls;
    std::vector<tsdb::Label> out;
    for (const auto& n : r.group_by) {
      auto v = ls.Get(n);
      if (!v.empty()) out.push_back({n, std::string(v)});
    }
    return tsdb::Labels::FromVector(std::move(out));
  }

  void Put(const std::vector<Alert>& alerts) {
    int64_t now = o_.clock->NowMs();
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& a : alerts) {
      std::vector<const RouteNode*> routes;
      Match(root_, a.labels, &routes);
      uint64_t fp = Fingerprint(a.labels);
      for (const RouteNode* r : routes) {
        if (r->receiver.empty()) continue;
        tsdb::Labels gl = GroupLabels(*r, a.labels);
        std::string key = GroupKey(*r, gl);
        auto it = groups_.find(key);
        if (it == groups_.end()) {
          if (a.Resolved(now)) continue;  // nothing to tell about an alert nobody saw fire
          auto g = std::make_unique<AggrGroup>();
          g->key = key;
          g->route = r;
          g->group_labels = gl;
          g->next_flush_ms = now + r->wait_ms;
          auto p = persisted_.find(key);
          if (p != persisted_.end()) {
            g->last_firing = p->second.first;
            g->last_sent_ms = p->second.second;
          }
          it = groups_.emplace(key, std::move(g)).first;
        }
        auto& slot = it->second->alerts[fp];
        if (slot.starts_at_ms && slot.starts_at_ms < a.starts_at_ms && !slot.Resolved(now)) {
          Alert merged = a;
          merged.starts_at_ms = slot.starts_at_ms;
          slot = std::move(merged);
        } else {
          slot = a;
        }
      }
    }
  }

  // Why an alert is muted now ("" = not muted).
  std::string MutedReason(const Alert& a, int64_t now) {
    if (o_.silences && !o_.silences->MutedBy(a.labels, now).empty()) return "silence";
    for (const auto& w : o_.config.maintenance_windows) {
      if (MatchesAll(w.matchers, a.labels) && w.ActiveAt(now)) return "maintenance";
    }
    return "";
  }

  void Flush(AggrGroup& g, int64_t now) {
    std::vector<Alert> firing, resolved;
    std::set<uint64_t> firing_fps;
    for (auto& [fp, a] : g.alerts) {
      if (a.Resolved(now)) {
        if (g.last_firing.count(fp)) resolved.push_back(a);
        continue;
      }
      std::string why = MutedReason(a, now);
      if (!why.empty()) {
        if (muted_) muted_->With({why})->Inc();
        continue;
      }
      firing.push_back(a);
      firing_fps.insert(fp);
    }
    // Alerts that stopped firing because they are muted now count as "not firing" without a
    // resolved notice; they reappear (and notify) when the mute ends.
    bool changed = firing_fps != g.last_firing;
    bool new_firing = false;
    for (uint64_t fp : firing_fps) new_firing |= !g.last_firing.count(fp);
    bool repeat = !firing.empty() && now - g.last_sent_ms >= g.route->repeat_ms;
    bool send = (changed && (new_firing || !resolved.empty())) || repeat;
    if (send) {
      Notification n;
      n.receiver = g.route->receiver;
      n.group_key = g.key;
      n.group_labels = g.group_labels;
      n.now_ms = now;
      n.external_url = o_.external_url;
      n.alerts = firing;
      size_t nfiring = firing.size();
      auto& ds = deliveries_[n.receiver];
      for (auto& d : ds) {
        Notification copy = n;
        if (d->send_resolved()) {
          for (const auto& a : resolved) copy.alerts.push_back(a);
        }
        if (nfiring == 0 && !d->send_resolved()) continue;
        Job j;
        j.n = std::move(copy);
        j.deadline_mono_ms = MonoMs() + g.route->interval_ms;
        d->Enqueue(std::move(j), o_.queue_size);
      }
      g.last_sent_ms = now;
      g.last_firing = firing_fps;
      dirty_ = true;
    } else if (changed && firing_fps.size() < g.last_firing.size()) {
      // Alerts left without a notification (muted or resolved for receivers without
      // send_resolved): forget them so they notify again when they come back.
      g.last_firing = firing_fps;
      dirty_ = true;
    }
    // Resolved alerts leave the group once handled.
    for (auto it = g.alerts.begin(); it != g.alerts.end();) {
      if (it->second.Resolved(now)) {
        it = g.alerts.erase(it);
      } else {
        ++it;
      }
    }
    g.next_flush_ms = now + g.route->interval_ms;
  }

  void Tick(int64_t now) {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = groups_.begin(); it != groups_.end();) {
      AggrGroup& g = *it->second;
      if (now >= g.next_flush_ms) Flush(g, now);
      if (g.alerts.empty()) {
        if (!g.last_firing.empty() || persisted_.count(g.key)) {
          persisted_.erase(g.key);
          dirty_ = true;
        }
        it = groups_.erase(it);
      } else {
        ++it;
      }
    }
    if (dirty_ && now - last_save_ms_ >= 1000) {
      last_save_ms_ = now;
      dirty_ = false;
      SaveLocked();
    }
  }

  void SaveLocked() {
    if (o_.state_dir.empty()) return;
    std::string j = "{\"version\":1,\"groups\":[";
    bool first = true;
    auto add = [&](const std::string& key, const std::set<uint64_t>& fps, int64_t sent) {
      if (fps.empty()) return;
      if (!first) j += ',';
      first = false;
      j += "{\"key\":" + net::JsonString(key) + ",\"last_sent_ms\":" + std::to_string(sent) +
           ",\"firing\":[";
      bool f2 = true;
      for (uint64_t fp : fps) {
        if (!f2) j += ',';
        f2 = false;
        j += "\"" + FingerprintHex(fp) + "\"";
      }
      j += "]}";
    };
    for (const auto& [k, g] : groups_) add(k, g->last_firing, g->last_sent_ms);
    for (const auto& [k, p] : persisted_) {
      if (!groups_.count(k)) add(k, p.first, p.second);
    }
    j += "]}\n";
    std::string path = o_.state_dir + "/notify_state.json", tmp = path + ".tmp";
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << j;
    f.close();
    if (!f || ::rename(tmp.c_str(), path.c_str()) != 0) {
      log::Warn("cannot save notification state", {{"path", path}});
    }
  }

  void Load() {
    if (o_.state_dir.empty()) return;
    std::ifstream f(o_.state_dir + "/notify_state.json", std::ios::binary);
    if (!f) return;
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::array groups;
    if (parser.parse(text).get(doc) != simdjson::SUCCESS ||
        doc["groups"].get_array().get(groups) != simdjson::SUCCESS) {
      log::Warn("notification state ignored: not valid JSON");
      return;
    }
    std::lock_guard<std::mutex> l(mu_);
    for (auto g : groups) {
      std::string_view key;
      int64_t sent = 0;
      simdjson::dom::array fps;
      if (g["key"].get_string().get(key) != simdjson::SUCCESS ||
          g["firing"].get_array().get(fps) != simdjson::SUCCESS) {
        continue;
      }
      if (g["last_sent_ms"].get_int64().get(sent) != simdjson::SUCCESS) sent = 0;
      std::set<uint64_t> set;
      for (auto x : fps) {
        std::string_view s;
        if (x.get_string().get(s) == simdjson::SUCCESS) {
          set.insert(std::strtoull(std::string(s).c_str(), nullptr, 16));
        }
      }
      persisted_[std::string(key)] = {std::move(set), sent};
    }
  }
};

bool Delivery::Enqueue(Job j, size_t max) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (queue_.size() < max) {
      queue_.push_back(std::move(j));
      cv_.notify_one();
      return true;
    }
    ++health_.dropped;
  }
  d_->Count(d_->dropped_, receiver_, integ_->kind());
  HistoryEntry e = EntryFor(j.n);
  e.time_ms = j.n.now_ms;
  e.receiver = receiver_;
  e.integration = integ_->kind();
  e.target = integ_->target();
  e.result = "dropped";
  e.error = "queue full (" + std::to_string(max) + " notifications waiting)";
  d_->Record(std::move(e));
  return false;
}

void Delivery::Run() {
  for (;;) {
    Job j;
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stop_ || retiring_ || !queue_.empty(); });
      if (stop_) return;
      if (queue_.empty()) {  // retiring, and everything queued was delivered or given up
        finished_ = true;
        return;
      }
      j = std::move(queue_.front());
      queue_.pop_front();
    }
    int attempts = 0;
    Status st;
    int64_t backoff = d_->o_.min_backoff_ms;
    for (;;) {
      ++attempts;
      st = integ_->Notify(j.n, attempt_timeout_ms_);
      if (st.ok()) break;
      bool give_up = attempts >= d_->o_.min_attempts && MonoMs() + backoff > j.deadline_mono_ms;
      if (give_up) break;
      d_->Count(d_->retries_, receiver_, integ_->kind());
      std::unique_lock<std::mutex> l(mu_);
      if (cv_.wait_for(l, std::chrono::milliseconds(backoff), [&] { return stop_; })) return;
      backoff = std::min(backoff * 2, d_->o_.max_backoff_ms);
    }
    HistoryEntry e = EntryFor(j.n);
    e.time_ms = d_->o_.clock->NowMs();
    e.receiver = receiver_;
    e.integration = integ_->kind();
    e.target = integ_->target();
    e.attempts = attempts;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (st.ok()) {
        ++health_.sent;
        health_.last_success_ms = e.time_ms;
        health_.consecutive_failures = 0;
      } else {
        ++health_.failed;
        health_.last_failure_ms = e.time_ms;
        health_.last_error = st.message();
        ++health_.consecutive_failures;
      }
    }
    if (st.ok()) {
      e.result = "ok";
      d_->Count(d_->notif_, receiver_, integ_->kind());
    } else {
      e.result = "failed";
      e.error = st.message();
      d_->Count(d_->failed_, receiver_, integ_->kind());
      log::Warn("notification failed after retries", {{"receiver", receiver_},
                                                      {"integration", integ_->kind()},
                                                      {"target", integ_->target()},
                                                      {"attempts", attempts},
                                                      {"err", st.message()}});
    }
    d_->Record(std::move(e));
  }
}

Dispatcher::Dispatcher(DispatcherOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::Start() {
  impl_->Load();
  impl_->LoadHistory();
  for (auto& [name, ds] : impl_->deliveries_) {
    for (auto& d : ds) d->Start();
  }
  impl_->flusher_ = std::thread([this] {
    for (;;) {
      {
        std::unique_lock<std::mutex> l(impl_->stop_mu_);
        if (impl_->stop_cv_.wait_for(l, std::chrono::milliseconds(impl_->o_.tick_ms),
                                     [&] { return impl_->stop_; })) {
          return;
        }
      }
      Tick(impl_->o_.clock->NowMs());
    }
  });
  return Status::Ok();
}

void Dispatcher::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->stop_mu_);
    if (impl_->stop_) return;
    impl_->stop_ = true;
  }
  impl_->stop_cv_.notify_all();
  if (impl_->flusher_.joinable()) impl_->flusher_.join();
  Impl::Deliveries ds;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    ds.swap(impl_->deliveries_);
  }
  std::vector<std::unique_ptr<Delivery>> retired;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    retired.swap(impl_->retired_);
  }
  for (auto& [name, list] : ds) {
    for (auto& d : list) d->Stop();
  }
  for (auto& d : retired) d->Stop();
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    impl_->SaveLocked();
  }
  impl_->CloseHistory();
}

void Dispatcher::Reconfigure(NotifyConfig config) {
  Impl::Deliveries fresh = impl_->MakeDeliveries(config);
  for (auto& [name, ds] : fresh) {
    for (auto& d : ds) d->Start();
  }
  std::vector<Alert> alerts;
  std::vector<std::unique_ptr<Delivery>> finished;
  {
    std::lock_guard<std::mutex> l(impl_->mu_);
    std::set<uint64_t> seen;
    for (auto& [key, g] : impl_->groups_) {
      if (!g->last_firing.empty()) impl_->persisted_[key] = {g->last_firing, g->last_sent_ms};
      for (auto& [fp, a] : g->alerts) {
        if (seen.insert(fp).second) alerts.push_back(a);
      }
    }
    impl_->groups_.clear();
    impl_->o_.config = std::move(config);
    impl_->root_ = Build(impl_->o_.config.route, nullptr, "0");
    fresh.swap(impl_->deliveries_);  // fresh now holds the old integrations
    // Notifications already queued at the old integrations are still delivered: they retire
    // and drain. Those that drained since the last reconfiguration are joined now.
    auto& r = impl_->retired_;
    for (auto it = r.begin(); it != r.end();) {
      if ((*it)->finished()) {
        finished.push_back(std::move(*it));
        it = r.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [name, ds] : fresh) {
      for (auto& d : ds) {
        d->Retire();
        r.push_back(std::move(d));
      }
    }
  }
  impl_->Put(alerts);
  for (auto& d : finished) d->Stop();  // returns at once: their threads have ended
}

void Dispatcher::Send(const std::vector<Alert>& alerts) { impl_->Put(alerts); }

void Dispatcher::Tick(int64_t now_ms) { impl_->Tick(now_ms); }

std::vector<HistoryEntry> Dispatcher::History() const {
  std::lock_guard<std::mutex> l(impl_->hist_mu_);
  return {impl_->history_.begin(), impl_->history_.end()};
}

std::vector<IntegrationHealth> Dispatcher::Health() const {
  std::lock_guard<std::mutex> l(impl_->mu_);
  std::vector<IntegrationHealth> out;
  for (const auto& [name, ds] : impl_->deliveries_) {
    for (const auto& d : ds) out.push_back(d->Health());
  }
  return out;
}

std::vector<GroupInfo> Dispatcher::Groups() const {
  std::lock_guard<std::mutex> l(impl_->mu_);
  std::vector<GroupInfo> out;
  for (const auto& [k, g] : impl_->groups_) {
    GroupInfo i;
    i.key = k;
    i.receiver = g->route->receiver;
    i.group_labels = g->group_labels;
    i.alerts = g->alerts.size();
    i.next_flush_ms = g->next_flush_ms;
    i.last_sent_ms = g->last_sent_ms;
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace kansoku::alert
