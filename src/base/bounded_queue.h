#pragma once
// BoundedQueue<T>: a multi-producer, multi-consumer FIFO with a fixed capacity, the building block
// for backpressure between network threads and workers.
//
// TryPush never blocks (false when full: the caller drops and counts, or pauses its reader).
// Pop blocks until an item arrives or Close() is called; after Close, Pop drains what is left and
// then returns false. Thread-safe.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>

namespace kansoku {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  bool TryPush(T&& item) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    cv_.notify_one();
    return true;
  }

  // Pops up to max items into out; blocks while empty and open. False once closed and drained.
  bool PopBatch(std::deque<T>* out, size_t max) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    while (!items_.empty() && out->size() < max) {
      out->push_back(std::move(items_.front()));
      items_.pop_front();
    }
    space_cv_.notify_all();
    return true;
  }

  // Blocks until there is room or the queue is closed; false if closed.
  bool WaitForSpace() {
    std::unique_lock<std::mutex> lock(mu_);
    space_cv_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    return !closed_;
  }

  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
    space_cv_.notify_all();
  }

  size_t Size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_, space_cv_;
  std::deque<T> items_;  // GUARDED_BY(mu_)
  bool closed_ = false;  // GUARDED_BY(mu_)
};

}  // namespace kansoku
