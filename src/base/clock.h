#pragma once
// Clock: the seam for time. Subsystems take a Clock& in their Options so tests can pass a
// FakeClock. Thread-safe.
#include <atomic>
#include <cstdint>

namespace kansoku {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch.
  virtual int64_t NowMs() const = 0;
  // Monotonic nanoseconds, for durations.
  virtual int64_t MonotonicNs() const = 0;
  static Clock& Real();
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1700000000000) : now_ms_(now_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  int64_t MonotonicNs() const override { return now_ms_.load() * 1000000; }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }
  void SetMs(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace kansoku
