#include "tsdb/index.h"

#include <algorithm>

namespace kansoku::tsdb {
namespace {

void InsertSorted(Postings* p, SeriesRef ref) {
  if (p->empty() || p->back() < ref) {
    p->push_back(ref);
    return;
  }
  auto it = std::lower_bound(p->begin(), p->end(), ref);
  if (it == p->end() || *it != ref) p->insert(it, ref);
}

void EraseSorted(Postings* p, SeriesRef ref) {
  auto it = std::lower_bound(p->begin(), p->end(), ref);
  if (it != p->end() && *it == ref) p->erase(it);
}

}  // namespace

Postings IntersectPostings(const Postings& a, const Postings& b) {
  Postings out;
  out.reserve(std::min(a.size(), b.size()));
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Postings SubtractPostings(const Postings& a, const Postings& b) {
  Postings out;
  out.reserve(a.size());
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

Postings UnionPostings(const std::vector<const Postings*>& lists) {
  if (lists.empty()) return {};
  if (lists.size() == 1) return *lists[0];
  // A balanced tree of two-way merges of the sorted lists (a regex matcher's values: often
  // dozens of lists): N log(k) instead of sorting the concatenation (N log N).
  auto merge = [](const Postings& a, const Postings& b) {
    Postings m;
    m.reserve(a.size() + b.size());
    std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(m));
    return m;
  };
  std::vector<Postings> level;
  level.reserve(lists.size() / 2 + 1);
  for (size_t i = 0; i + 1 < lists.size(); i += 2) level.push_back(merge(*lists[i], *lists[i + 1]));
  if (lists.size() % 2 == 1) level.push_back(*lists.back());
  while (level.size() > 1) {
    std::vector<Postings> next;
    next.reserve(level.size() / 2 + 1);
    for (size_t i = 0; i + 1 < level.size(); i += 2) next.push_back(merge(level[i], level[i + 1]));
    if (level.size() % 2 == 1) next.push_back(std::move(level.back()));
    level = std::move(next);
  }
  return std::move(level[0]);
}

Postings IntersectUnion(const Postings& a, const std::vector<const Postings*>& lists) {
  if (a.empty() || lists.empty()) return {};
  const SeriesRef lo = a.front(), hi = a.back();
  size_t total = 0;
  for (const Postings* l : lists) total += l->size();
  const uint64_t words = (hi - lo) / 64 + 1;
  if (words > total + a.size()) return IntersectPostings(a, UnionPostings(lists));
  // Refs of the lists within [lo, hi] marked in a bitmap, then a's marked ones in a's order.
  std::vector<uint64_t> hit(static_cast<size_t>(words), 0);
  for (const Postings* l : lists) {
    for (auto it = std::lower_bound(l->begin(), l->end(), lo); it != l->end() && *it <= hi; ++it) {
      const SeriesRef d = *it - lo;
      hit[d >> 6] |= uint64_t{1} << (d & 63);
    }
  }
  Postings out;
  for (const SeriesRef r : a) {
    const SeriesRef d = r - lo;
    if ((hit[d >> 6] >> (d & 63)) & 1) out.push_back(r);
  }
  return out;
}

Result<Postings> SelectPostings(const IndexReader& index, const std::vector<Matcher>& matchers) {
  if (matchers.empty()) return Status::InvalidArgument("at least one label matcher is required");
  bool any_non_empty = false;
  for (const auto& m : matchers) any_non_empty |= !m.MatchesEmpty();
  if (!any_non_empty) {
    std::string sel;
    for (const auto& m : matchers) sel += (sel.empty() ? "" : ", ") + m.ToString();
    return Status::InvalidArgument("vector selector {" + sel +
                                   "} must contain at least one matcher that does not match the "
                                   "empty string");
  }
  // Positive matchers first (they shrink the set fastest), equality before regex.
  std::vector<const Matcher*> order;
  order.reserve(matchers.size());
  for (const auto& m : matchers) order.push_back(&m);
  std::stable_sort(order.begin(), order.end(), [](const Matcher* a, const Matcher* b) {
    auto rank = [](const Matcher* m) {
      if (m->MatchesEmpty()) return 2;
      return m->type() == MatchType::kEqual ? 0 : 1;
    };
    return rank(a) < rank(b);
  });
  bool have = false;
  Postings result;
  for (const Matcher* m : order) {
    if (have && result.empty()) break;
    if (!m->MatchesEmpty()) {
      // Series that carry the label with a matching value.
      Postings p;
      if (m->type() == MatchType::kEqual) {
        const Postings* got = index.Get(m->name(), m->value());
        if (got != nullptr) p = *got;
      } else {
        std::vector<const Postings*> lists;
        index.ForEachValue(m->name(), [&](std::string_view v, const Postings& l) {
          if (m->Matches(v)) lists.push_back(&l);
        });
        if (have) {
          // Narrowing a set already found (e.g. a metric's series by a regex over instances):
          // the set's refs in the union, without building the union of the matching values'
          // lists, which are often much longer than the set.
          result = IntersectUnion(result, lists);
          continue;
        }
        p = UnionPostings(lists);
      }
      result = have ? IntersectPostings(result, p) : std::move(p);
      have = true;
    } else {
      // Matches "": exclude series whose value for the label does not match.
      std::vector<const Postings*> lists;
      if (m->type() == MatchType::kNotEqual) {
        const Postings* got = index.Get(m->name(), m->value());
        if (got != nullptr) lists.push_back(got);
      } else {
        index.ForEachValue(m->name(), [&](std::string_view v, const Postings& l) {
          if (!m->Matches(v)) lists.push_back(&l);
        });
      }
      if (!lists.empty()) result = SubtractPostings(result, UnionPostings(lists));
    }
  }
  return result;
}

void MemPostings::Add(SeriesRef ref, const Labels& labels) {
  for (const auto& l : labels) AddLabel(ref, l.name, l.value);
  AddRef(ref);
}

void MemPostings::AddLabel(SeriesRef ref, std::string_view name, std::string_view value) {
  auto nit = m_.find(name);
  if (nit == m_.end()) nit = m_.emplace(std::string(name), ValueMap{}).first;
  auto it = nit->second.find(value);
  if (it == nit->second.end()) it = nit->second.emplace(std::string(value), Postings{}).first;
  InsertSorted(&it->second, ref);
}

void MemPostings::AddRef(SeriesRef ref) { InsertSorted(&all_, ref); }

void MemPostings::Delete(SeriesRef ref, const Labels& labels) {
  for (const auto& l : labels) {
    auto nit = m_.find(l.name);
    if (nit == m_.end()) continue;
    auto vit = nit->second.find(l.value);
    if (vit == nit->second.end()) continue;
    EraseSorted(&vit->second, ref);
    if (vit->second.empty()) nit->second.erase(vit);
    if (nit->second.empty()) m_.erase(nit);
  }
  EraseSorted(&all_, ref);
}

std::vector<std::string> MemPostings::LabelNames() const {
  std::vector<std::string> out;
  out.reserve(m_.size());
  for (const auto& [name, values] : m_) out.push_back(name);
  return out;
}

std::vector<std::string> MemPostings::LabelValues(std::string_view name) const {
  std::vector<std::string> out;
  auto it = m_.find(name);
  if (it == m_.end()) return out;
  out.reserve(it->second.size());
  for (const auto& [value, p] : it->second) out.push_back(value);
  return out;
}

size_t MemPostings::NumLabelPairs() const {
  size_t n = 0;
  for (const auto& [name, values] : m_) n += values.size();
  return n;
}

void MemPostings::ForEachValue(
    std::string_view name, const std::function<void(std::string_view, const Postings&)>& fn) const {
  auto it = m_.find(name);
  if (it == m_.end()) return;
  for (const auto& [value, p] : it->second) fn(value, p);
}

const Postings* MemPostings::Get(std::string_view name, std::string_view value) const {
  auto it = m_.find(name);
  if (it == m_.end()) return nullptr;
  auto vit = it->second.find(value);
  return vit == it->second.end() ? nullptr : &vit->second;
}

}  // namespace kansoku::tsdb
