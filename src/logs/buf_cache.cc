#include "logs/buf_cache.h"

namespace kansoku::logs {

BufCache::~BufCache() {
  for (auto& [p, cap] : free_) delete[] p;
}

char* BufCache::Take(size_t n, size_t* cap, Clock::time_point now) {
  if (n >= min_) {
    std::lock_guard<std::mutex> l(mu_);
    last_take_ = now;
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].second >= n && (best == free_.size() || free_[i].second < free_[best].second))
        best = i;
    }
    if (best < free_.size()) {
      auto [p, c] = free_[best];
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
      held_ -= c;
      *cap = c;
      return p;
    }
  }
  *cap = n;
  return new char[n];
}

void BufCache::Give(char* p, size_t cap) {
  if (p == nullptr) return;
  if (cap >= min_) {
    std::lock_guard<std::mutex> l(mu_);
    if (held_ + cap <= max_) {
      free_.emplace_back(p, cap);
      held_ += cap;
      return;
    }
  }
  delete[] p;
}

size_t BufCache::ReleaseIdle(Clock::time_point now, Clock::duration idle) {
  std::vector<std::pair<char*, size_t>> out;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (free_.empty() || now - last_take_ < idle) return 0;
    out.swap(free_);
    held_ = 0;
  }
  size_t bytes = 0;
  for (auto& [p, cap] : out) {
    bytes += cap;
    delete[] p;
  }
  return bytes;
}

size_t BufCache::HeldBytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return held_;
}

BufCache& ScanBufCache() {
  static auto* c = new BufCache(size_t{1} << 20, size_t{64} << 20);  // RawBufs of statics outlive
  return *c;
}

}  // namespace kansoku::logs
