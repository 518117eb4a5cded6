#pragma once
// Inverted index pieces shared by the head and by blocks.
//
// Postings are sorted, duplicate-free lists of series references. IndexReader is the read view
// of an inverted index (label name, value) -> postings; SelectPostings evaluates PromQL label
// matchers against any IndexReader, testing regexes against the label's values only (never
// against every series). MemPostings is the mutable in-memory index used by the head.
//
// Thread safety: MemPostings is not synchronized; the head guards it with its own lock.
// SelectPostings only reads.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tsdb/labels.h"
#include "tsdb/storage.h"

namespace kansoku::tsdb {

using SeriesRef = uint64_t;
using Postings = std::vector<SeriesRef>;  // ascending, unique

Postings IntersectPostings(const Postings& a, const Postings& b);
Postings SubtractPostings(const Postings& a, const Postings& b);
Postings UnionPostings(const std::vector<const Postings*>& lists);
// IntersectPostings(a, UnionPostings(lists)), without building the union when a's refs span
// few enough values (a bitmap over [a.front(), a.back()]).
Postings IntersectUnion(const Postings& a, const std::vector<const Postings*>& lists);

class IndexReader {
 public:
  virtual ~IndexReader() = default;
  // Calls fn for each value of the label name, in ascending value order.
  virtual void ForEachValue(
      std::string_view name,
      const std::function<void(std::string_view value, const Postings&)>& fn) const = 0;
  // Postings of name=value; nullptr when there are none.
  virtual const Postings* Get(std::string_view name, std::string_view value) const = 0;
  virtual const Postings& All() const = 0;
};

// The series matching every matcher. InvalidArgument when every matcher matches the empty string
// (such a selector would select everything, storage.h's contract forbids it) or none are given.
Result<Postings> SelectPostings(const IndexReader& index, const std::vector<Matcher>& matchers);

class MemPostings : public IndexReader {
 public:
  // ref need not be larger than earlier refs, but adding it in increasing order is O(1) per label.
  void Add(SeriesRef ref, const Labels& labels);
  // Add, one label at a time: AddLabel for each label of the series, then AddRef once.
  void AddLabel(SeriesRef ref, std::string_view name, std::string_view value);
  void AddRef(SeriesRef ref);
  void Delete(SeriesRef ref, const Labels& labels);
  std::vector<std::string> LabelNames() const;
  std::vector<std::string> LabelValues(std::string_view name) const;
  size_t NumLabelPairs() const;

  void ForEachValue(
      std::string_view name,
      const std::function<void(std::string_view, const Postings&)>& fn) const override;
  const Postings* Get(std::string_view name, std::string_view value) const override;
  const Postings& All() const override { return all_; }

 private:
  using ValueMap = std::map<std::string, Postings, std::less<>>;
  std::map<std::string, ValueMap, std::less<>> m_;
  Postings all_;
};

}  // namespace kansoku::tsdb
