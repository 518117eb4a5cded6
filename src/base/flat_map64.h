#pragma once
// FlatMap64: an open-addressing hash map from non-zero uint64 keys to uint32 values, for hot
// paths that look up small integer ids per row (an appender's series of one batch). Keys are
// mixed with a multiply-shift, slots live in one power-of-two array and collisions probe
// linearly, so a lookup is one multiplication and usually one cache line; std::unordered_map
// costs a modulo, a pointer chase and an allocation per node.
//
// Contract: key 0 is reserved (KANSOKU_CHECK). No erase: Clear() empties the map, keeping its
// capacity. Thread safety: a plain value; external locking for concurrent use.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/check.h"

namespace kansoku {

class FlatMap64 {
 public:
  FlatMap64() = default;

  // The value stored for key, or nullptr.
  const uint32_t* Find(uint64_t key) const {
    if (size_ == 0) return nullptr;
    for (size_t i = Slot(key);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e.value;
      if (e.key == 0) return nullptr;
    }
  }
  // Hints the CPU to load the slot Find(key) reads first (a lookup coming soon). Unconditional
  // on purpose (GCC 12 drops a prefetch under a branch); on an empty map it prefetches nullptr,
  // which is harmless.
  void Prefetch(uint64_t key) const {
    __builtin_prefetch(slots_.data() + (((key * 0x9e3779b97f4a7c15ULL) >> (shift_ & 63)) & mask_));
  }
  // Inserts key -> value; an existing key keeps its value. Returns the stored value.
  uint32_t Insert(uint64_t key, uint32_t value) {
    KANSOKU_CHECK(key != 0, "BUG: FlatMap64 key 0 is reserved");
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    for (size_t i = Slot(key);; i = (i + 1) & mask_) {
      Entry& e = slots_[i];
      if (e.key == key) return e.value;
      if (e.key == 0) {
        e.key = key;
        e.value = value;
        ++size_;
        return value;
      }
    }
  }
  size_t size() const { return size_; }
  void Clear() {
    if (size_ == 0) return;
    for (Entry& e : slots_) e.key = 0;
    size_ = 0;
  }

 private:
  struct Entry {
    uint64_t key = 0;
    uint32_t value = 0;
  };
  size_t Slot(uint64_t key) const {
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  void Grow() {
    std::vector<Entry> old = std::move(slots_);
    const size_t cap = old.empty() ? 64 : old.size() * 2;
    slots_.assign(cap, Entry{});
    mask_ = cap - 1;
    shift_ = 64 - __builtin_ctzll(cap);
    size_ = 0;
    for (const Entry& e : old) {
      if (e.key != 0) Insert(e.key, e.value);
    }
  }

  std::vector<Entry> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace kansoku
