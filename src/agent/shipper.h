#pragma once
// Shipper: gets the agent's samples to the server without losing them (docs/design/agent.md §3).
//
// Enqueue() encodes a batch as remote_write + snappy (split at max_samples_per_send) and puts it
// on a bounded memory queue; when the queue is full its oldest batch moves to the on-disk Spool
// (or, without a spool, is dropped and counted). One sender thread sends the oldest batch first
// (spool, then memory), one at a time, and retries failures with exponential backoff and
// jitter. Batches the server refuses as invalid (4xx other than 401/403/408/429) are dropped and
// counted; everything else is retried until it is sent or evicted by the spool bound.
//
// Thread safety: Enqueue and Stats may be called from any thread. Start/Stop from one thread.
// Ownership: owns its spool and sender thread; Stop() joins the thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "agent/sample.h"
#include "agent/spool.h"
#include "base/status.h"

namespace kansoku::agent {

struct ShipperOptions {
  std::string url;    // full endpoint, e.g. http://127.0.0.1:9400/api/v1/write
  std::string token;  // Bearer token (ingest scope)
  bool insecure_tls = false;
  int64_t request_timeout_ms = 10000;
  std::string spool_dir;                  // "" = no disk spool
  int64_t spool_max_bytes = 256LL << 20;  // bound of the disk spool
  size_t queue_max_batches = 64;          // memory queue bound, in batches
  size_t max_samples_per_send = 2000;     // split larger batches
  int64_t initial_backoff_ms = 500;
  int64_t max_backoff_ms = 30000;
  // Test seam: sends one body, returns the HTTP status or an error (retried). Default: HTTP POST.
  std::function<Result<int>(const std::string& body)> send;
};

struct ShipperStats {
  uint64_t samples_enqueued = 0;
  uint64_t samples_sent = 0;
  uint64_t samples_dropped_spool_full = 0;  // evicted by the spool (or queue) bound
  uint64_t samples_dropped_rejected = 0;    // refused by the server as invalid
  uint64_t batches_sent = 0;
  uint64_t send_errors = 0;  // failed attempts (each retry counts)
  size_t queue_batches = 0;
  size_t spool_files = 0;
  int64_t spool_bytes = 0;
  int64_t last_success_ms = 0;
};

class Shipper {
 public:
  explicit Shipper(ShipperOptions options);
  ~Shipper();

  // Opens the spool (picking up batches left by a previous run) and starts the sender.
  Status Start();
  // Encodes and queues a finalized batch (labels sorted). Never blocks on the network.
  void Enqueue(const SampleBatch& batch);
  // Keeps sending for up to flush_ms, then stops the sender and writes what is still queued
  // to the spool. Idempotent.
  void Stop(int64_t flush_ms = 5000);
  ShipperStats Stats() const;
  // True when nothing is queued in memory or on disk (and nothing is in flight).
  bool Idle() const;

 private:
  struct Item {
    std::string body;
    uint32_t samples = 0;
  };
  void Push(Item item);
  void SenderLoop();
  Result<int> HttpSend(const std::string& body);
  void SpillLocked();

  ShipperOptions opts_;
  std::unique_ptr<Spool> spool_;  // GUARDED_BY(mu_), null without a spool
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> mem_;           // GUARDED_BY(mu_), oldest first
  bool inflight_ = false;          // GUARDED_BY(mu_): sender holds a batch from memory
  Item inflight_item_;             // GUARDED_BY(mu_)
  bool stopping_ = false;          // GUARDED_BY(mu_)
  int64_t flush_deadline_ns_ = 0;  // GUARDED_BY(mu_)
  ShipperStats stats_;             // GUARDED_BY(mu_)
  std::thread sender_;
  bool started_ = false, stopped_ = false;
  std::mt19937_64 rng_;
};

// Backoff before retry n (0-based): min(max, initial * 2^n) scaled by jitter in [0.5, 1.0].
int64_t BackoffMs(int attempt, int64_t initial_ms, int64_t max_ms, double jitter01);

}  // namespace kansoku::agent
