#pragma once
// usage::KeyTable<V>: an open-addressing hash table from non-zero uint64 keys (already hashes)
// to values stored in the slots (linear probing; erase shifts the rest of the probe run back, so
// there are no tombstones). For the guard's per-sample and per-series lookups, which miss the
// caches on large imports: a lookup usually reads one slot, where std::unordered_map reads a
// bucket and a node.
//
// Contract: key 0 is reserved (empty slot). Value pointers are valid until the next Insert,
// Erase or Clear. Thread safety: a plain value; external locking for concurrent use.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/check.h"

namespace kansoku::usage {

template <class V>
class KeyTable {
 public:
  V* Find(uint64_t key) {
    if (size_ == 0) return nullptr;
    for (size_t i = SlotOf(key);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == key) return &s.value;
      if (s.key == 0) return nullptr;
    }
  }
  // Hints the CPU to load the slot Find(key) reads first. Unconditional on purpose (GCC 12
  // drops a prefetch under a branch); on an empty table it prefetches nullptr, which is harmless.
  void Prefetch(uint64_t key) const {
    __builtin_prefetch(slots_.data() + (((key * 0x9e3779b97f4a7c15ULL) >> (shift_ & 63)) & mask_));
  }
  // Adds key -> value; key must be non-zero and not present.
  V* Insert(uint64_t key, const V& value) {
    KANSOKU_CHECK(key != 0, "BUG: KeyTable key 0 is reserved");
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    size_t i = SlotOf(key);
    while (slots_[i].key != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
    ++size_;
    return &slots_[i].value;
  }
  // Removes key if present.
  void Erase(uint64_t key) {
    if (size_ == 0 || key == 0) return;
    size_t i = SlotOf(key);
    for (;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) break;
      if (slots_[i].key == 0) return;
    }
    // Backward shift: a later member of the probe run moves into the hole unless its home slot
    // lies cyclically in (hole, its position].
    for (size_t j = i;;) {
      j = (j + 1) & mask_;
      if (slots_[j].key == 0) break;
      const size_t home = SlotOf(slots_[j].key);
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
  }
  // fn(key, value&) for every entry; fn must not insert or erase.
  template <class Fn>
  void ForEach(Fn&& fn) {
    if (size_ == 0) return;
    for (Slot& s : slots_) {
      if (s.key != 0) fn(s.key, s.value);
    }
  }
  // Empties the table, keeping its capacity.
  void Clear() {
    if (size_ == 0) return;
    std::fill(slots_.begin(), slots_.end(), Slot{});
    size_ = 0;
  }
  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint64_t key = 0;
    V value{};
  };
  size_t SlotOf(uint64_t key) const {
    return static_cast<size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    const size_t cap = old.empty() ? 16 : old.size() * 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
    shift_ = 64 - __builtin_ctzll(cap);
    for (const Slot& o : old) {
      if (o.key == 0) continue;
      size_t i = SlotOf(o.key);
      while (slots_[i].key != 0) i = (i + 1) & mask_;
      slots_[i] = o;
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace kansoku::usage
