#include "agent/shipper.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "agent/remote_write.h"
#include "base/clock.h"
#include "base/log.h"
#include "net/http_client.h"

namespace kansoku::agent {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// What to do with a batch after an attempt.
enum class Outcome { kSent, kRejected, kRetry };

Outcome Classify(int status) {
  if (status >= 200 && status < 300) return Outcome::kSent;
  if (status == 401 || status == 403 || status == 408 || status == 429) return Outcome::kRetry;
  if (status >= 400 && status < 500) return Outcome::kRejected;
  return Outcome::kRetry;
}

log::RateLimited g_send_log(30000);
log::RateLimited g_drop_log(30000);

}  // namespace

int64_t BackoffMs(int attempt, int64_t initial_ms, int64_t max_ms, double jitter01) {
  double d = static_cast<double>(initial_ms) * std::pow(2.0, std::min(attempt, 30));
  d = std::min(d, static_cast<double>(max_ms));
  return static_cast<int64_t>(d * (0.5 + 0.5 * std::clamp(jitter01, 0.0, 1.0)));
}

Shipper::Shipper(ShipperOptions options) : opts_(std::move(options)), rng_(std::random_device{}()) {
  if (!opts_.send) {
    opts_.send = [this](const std::string& body) { return HttpSend(body); };
  }
  if (opts_.queue_max_batches == 0) opts_.queue_max_batches = 1;
  if (opts_.max_samples_per_send == 0) opts_.max_samples_per_send = 2000;
}

Shipper::~Shipper() { Stop(0); }

Status Shipper::Start() {
  if (!opts_.spool_dir.empty() && opts_.spool_max_bytes > 0) {
    auto sp = Spool::Open(opts_.spool_dir, opts_.spool_max_bytes);
    if (!sp.ok()) return sp.status();
    spool_ = std::move(sp).value();
    if (spool_->files() > 0) {
      log::Info("spool has batches from a previous run",
                {{"files", static_cast<unsigned long long>(spool_->files())},
                 {"samples", static_cast<unsigned long long>(spool_->samples())}});
    }
  }
  started_ = true;
  sender_ = std::thread([this] { SenderLoop(); });
  return Status::Ok();
}

void Shipper::Enqueue(const SampleBatch& batch) {
  const auto& s = batch.samples();
  for (size_t i = 0; i < s.size(); i += opts_.max_samples_per_send) {
    size_t end = std::min(s.size(), i + opts_.max_samples_per_send);
    std::string raw;
    EncodeWriteRequest(s.data() + i, s.data() + end, &raw);
    Item item;
    item.body = SnappyCompress(raw);
    item.samples = static_cast<uint32_t>(end - i);
    Push(std::move(item));
  }
}

void Shipper::Push(Item item) {
  std::lock_guard<std::mutex> lk(mu_);
  stats_.samples_enqueued += item.samples;
  mem_.push_back(std::move(item));
  while (mem_.size() > opts_.queue_max_batches) {
    Item old = std::move(mem_.front());
    mem_.pop_front();
    uint64_t dropped = old.samples;
    if (spool_) {
      Status st = spool_->PushBack(old.body, old.samples, &dropped);
      if (!st.ok() && st.code() != Status::Code::kResourceExhausted) {
        dropped = old.samples;
        log::Error("cannot write to the spool; batch dropped", {{"err", st.message()}});
      }
    }
    if (dropped) {
      stats_.samples_dropped_spool_full += dropped;
      if (g_drop_log.Allow()) {
        log::Warn("queue bound reached: oldest samples dropped",
                  {{"samples_dropped_total",
                    static_cast<unsigned long long>(stats_.samples_dropped_spool_full)},
                   {"spool_max_bytes", static_cast<long long>(opts_.spool_max_bytes)}});
      }
    }
  }
  cv_.notify_all();
}

Result<int> Shipper::HttpSend(const std::string& body) {
  net::ClientOptions co;
  co.timeout_ms = opts_.request_timeout_ms;
  co.insecure_tls = opts_.insecure_tls;
  std::vector<std::pair<std::string, std::string>> h = {
      {"Content-Type", "application/x-protobuf"},
      {"Content-Encoding", "snappy"},
      {"X-Prometheus-Remote-Write-Version", "0.1.0"},
      {"User-Agent", "kansoku-agent"},
  };
  if (!opts_.token.empty()) h.emplace_back("Authorization", "Bearer " + opts_.token);
  auto r = net::HttpCall("POST", opts_.url, h, body, co);
  if (!r.ok()) return r.status();
  if (r->status >= 300 && g_send_log.Allow()) {
    log::Warn("server refused a batch", {{"status", r->status}, {"body", r->body.substr(0, 300)}});
  }
  return r->status;
}

void Shipper::SenderLoop() {
  int attempt = 0;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    auto has_work = [&] { return inflight_ || !mem_.empty() || (spool_ && spool_->files() > 0); };
    cv_.wait(lk, [&] { return stopping_ || has_work(); });
    if (stopping_ && (!has_work() || NowNs() >= flush_deadline_ns_)) break;

    std::string body;
    uint32_t samples = 0;
    bool from_spool = false;
    uint64_t seq = 0;
    if (inflight_) {
      body = inflight_item_.body;
      samples = inflight_item_.samples;
    } else if (spool_ && spool_->files() > 0) {
      auto r = spool_->Front(&body, &samples, &seq);
      if (!r.ok()) {
        stats_.samples_dropped_rejected += samples;
        continue;
      }
      from_spool = true;
    } else {
      inflight_item_ = std::move(mem_.front());
      mem_.pop_front();
      inflight_ = true;
      body = inflight_item_.body;
      samples = inflight_item_.samples;
    }

    lk.unlock();
    Result<int> res = opts_.send(body);
    lk.lock();

    Outcome out = res.ok() ? Classify(*res) : Outcome::kRetry;
    if (out != Outcome::kRetry) {
      if (from_spool) {
        spool_->Remove(seq);
      } else {
        inflight_ = false;
        inflight_item_ = Item{};
      }
      if (out == Outcome::kSent) {
        stats_.samples_sent += samples;
        stats_.batches_sent++;
        stats_.last_success_ms = Clock::Real().NowMs();
        if (attempt > 0) {
          log::Info("server reachable again; sending queued data", {{"failed_attempts", attempt}});
        }
      } else {
        stats_.samples_dropped_rejected += samples;
      }
      attempt = 0;
      continue;
    }
    stats_.send_errors++;
    if (!res.ok() && g_send_log.Allow()) {
      log::Warn("cannot reach the server; data is queued and retried",
                {{"err", res.status().message()},
                 {"queued_batches",
                  static_cast<unsigned long long>(mem_.size() + (spool_ ? spool_->files() : 0))}});
    }
    double jitter = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    int64_t wait_ms = BackoffMs(attempt++, opts_.initial_backoff_ms, opts_.max_backoff_ms, jitter);
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    cv_.wait_until(lk, until, [&] { return stopping_ && NowNs() >= flush_deadline_ns_; });
  }
  SpillLocked();
}

void Shipper::SpillLocked() {
  // Whatever could not be sent goes to the spool in order: the in-flight batch is the oldest.
  uint64_t dropped = 0;
  auto count = [&](const Status& st, uint32_t samples, uint64_t d) {
    if (!st.ok() && st.code() != Status::Code::kResourceExhausted) {
      log::Error("cannot write to the spool at shutdown", {{"err", st.message()}});
      d = samples;
    }
    dropped += d;
  };
  if (inflight_) {
    uint64_t d = inflight_item_.samples;
    if (spool_) {
      Status st = spool_->PushFront(inflight_item_.body, inflight_item_.samples, &d);
      count(st, inflight_item_.samples, d);
    } else {
      dropped += d;
    }
    inflight_ = false;
  }
  for (auto& it : mem_) {
    uint64_t d = it.samples;
    if (spool_) {
      Status st = spool_->PushBack(it.body, it.samples, &d);
      count(st, it.samples, d);
    } else {
      dropped += d;
    }
  }
  mem_.clear();
  stats_.samples_dropped_spool_full += dropped;
  if (dropped) {
    log::Warn("samples dropped at shutdown (no spool or spool full)",
              {{"samples", static_cast<unsigned long long>(dropped)}});
  }
}

void Shipper::Stop(int64_t flush_ms) {
  if (!started_ || stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
    flush_deadline_ns_ = NowNs() + flush_ms * 1000000;
  }
  cv_.notify_all();
  if (sender_.joinable()) sender_.join();
}

ShipperStats Shipper::Stats() const {
  std::lock_guard<std::mutex> lk(mu_);
  ShipperStats s = stats_;
  s.queue_batches = mem_.size() + (inflight_ ? 1 : 0);
  if (spool_) {
    s.spool_files = spool_->files();
    s.spool_bytes = spool_->bytes();
  }
  return s;
}

bool Shipper::Idle() const {
  std::lock_guard<std::mutex> lk(mu_);
  return !inflight_ && mem_.empty() && (!spool_ || spool_->files() == 0);
}

}  // namespace kansoku::agent
