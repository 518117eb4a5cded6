#include "logs/query/engine.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <unordered_set>

namespace kansoku::logs::query {
namespace {

bool PhraseMatch(std::string_view text, std::string_view v, bool prefix) {
  if (v.empty()) return true;
  bool front_tok = IsTokenByte(static_cast<unsigned char>(v.front()));
  bool back_tok = IsTokenByte(static_cast<unsigned char>(v.back()));
  size_t pos = 0;
  while ((pos = text.find(v, pos)) != std::string_view::npos) {
    bool ok = true;
    if (front_tok && pos > 0 && IsTokenByte(static_cast<unsigned char>(text[pos - 1]))) ok = false;
    size_t e = pos + v.size();
    if (ok && !prefix && back_tok && e < text.size() &&
        IsTokenByte(static_cast<unsigned char>(text[e]))) {
      ok = false;
    }
    if (ok) return true;
    ++pos;
  }
  return false;
}

bool ParseNumber(std::string_view s, double* d) {
  if (s.empty() || s.size() > 64) return false;
  char buf[72];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  *d = std::strtod(buf, &end);
  return end == buf + s.size();
}

// Matches a leaf against a value (found = the field exists).
bool MatchValue(const Filter& f, std::string_view text, bool found) {
  switch (f.kind) {
    case FilterKind::kPhrase:
      return found && PhraseMatch(text, f.value, false);
    case FilterKind::kPrefix:
      return found && PhraseMatch(text, f.value, true);
    case FilterKind::kExact:
      return text == f.value;
    case FilterKind::kRegex:
      return RE2::PartialMatch(text, *f.re);
    case FilterKind::kExists:
      return found && !text.empty();
    case FilterKind::kEmpty:
      return !found || text.empty();
    case FilterKind::kCompare: {
      double d;
      if (!found || !ParseNumber(text, &d)) return false;
      if (f.op == ">") return d > f.number;
      if (f.op == ">=") return d >= f.number;
      if (f.op == "<") return d < f.number;
      return d <= f.number;
    }
    default:
      return false;
  }
}

bool IsLeaf(const Filter& f) {
  return f.kind != FilterKind::kAll && f.kind != FilterKind::kAnd && f.kind != FilterKind::kOr &&
         f.kind != FilterKind::kNot;
}

std::string_view FieldOf(const RowView& row, const std::string& field, bool* found,
                         std::string* scratch) {
  if (field.empty()) {
    *found = true;
    return row.msg;
  }
  if (field == "_stream") {
    *found = true;
    *scratch = StreamKey(*row.labels);
    return *scratch;
  }
  return row.Get(field, found);
}

void CollectFields(const Filter& f, std::set<std::string>* fields, bool* msg) {
  if (IsLeaf(f)) {
    if (f.field.empty())
      *msg = true;
    else
      fields->insert(f.field);
  }
  for (const auto& k : f.kids) CollectFields(*k, fields, msg);
}

// Token clauses (CNF) a matching row must satisfy.
std::vector<std::vector<std::string>> TokenCnf(const Filter& f) {
  std::vector<std::vector<std::string>> out;
  switch (f.kind) {
    case FilterKind::kPhrase:
    case FilterKind::kExact:
    case FilterKind::kPrefix: {
      std::vector<std::string> toks;
      ForEachToken(f.value, [&](std::string_view t) { toks.emplace_back(t); });
      if (f.kind == FilterKind::kPrefix && !toks.empty() && !f.value.empty() &&
          IsTokenByte(static_cast<unsigned char>(f.value.back()))) {
        toks.pop_back();
      }
      if (f.field == "_stream") toks.clear();
      for (auto& t : toks) out.push_back({std::move(t)});
      break;
    }
    case FilterKind::kAnd:
      for (const auto& k : f.kids) {
        auto c = TokenCnf(*k);
        out.insert(out.end(), c.begin(), c.end());
      }
      break;
    case FilterKind::kOr: {
      std::vector<std::string> clause;
      for (const auto& k : f.kids) {
        auto c = TokenCnf(*k);
        if (c.empty()) return {};
        clause.insert(clause.end(), c[0].begin(), c[0].end());
      }
      out.push_back(std::move(clause));
      break;
    }
    default:
      break;
  }
  return out;
}

// Label-only evaluation of the top-level conjunction: rejects streams that cannot match.
std::function<bool(const std::vector<KV>&)> StreamFilter(const std::shared_ptr<Filter>& root) {
  std::vector<std::shared_ptr<Filter>> conj;
  if (root->kind == FilterKind::kAnd)
    conj = root->kids;
  else
    conj.push_back(root);
  std::vector<std::pair<std::shared_ptr<Filter>, bool>> checks;  // (leaf, negated)
  for (const auto& c : conj) {
    if (IsLeaf(*c) && !c->field.empty() && c->field != "_stream") checks.emplace_back(c, false);
    if (c->kind == FilterKind::kNot && IsLeaf(*c->kids[0]) && !c->kids[0]->field.empty() &&
        c->kids[0]->field != "_stream") {
      checks.emplace_back(c->kids[0], true);
    }
  }
  if (checks.empty()) return nullptr;
  return [checks](const std::vector<KV>& labels) {
    for (const auto& [f, neg] : checks) {
      for (const auto& kv : labels) {
        if (kv.name != f->field) continue;
        if (MatchValue(*f, kv.value, true) == neg) return false;
      }
    }
    return true;
  };
}

// Substrings every matching row must contain (leaves of the top-level conjunction).
}  // namespace

// The longest run of literal bytes every match of an RE2 pattern contains, or "" when none is
// certain. Conservative: only the top level of a pattern without alternation or flags is looked
// at; a literal followed by ?, * or {0 is optional, one followed by + or {n is required but ends
// the run; classes, groups, anchors and escapes other than escaped punctuation end a run.
std::string RegexRequiredLiteral(std::string_view re) {
  if (re.find("(?") != std::string_view::npos) return {};
  int depth = 0;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {  // no top-level alternation
    char c = re[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      continue;
    }
    if (c == '[') in_class = true;
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == '|' && depth == 0) return {};
  }
  std::string best, cur;
  auto end_run = [&] {
    if (cur.size() > best.size()) best = cur;
    cur.clear();
  };
  size_t i = 0;
  depth = 0;
  while (i < re.size()) {
    char c = re[i];
    bool literal = false;
    char lit = 0;
    size_t next = i + 1;
    if (c == '\\' && i + 1 < re.size()) {
      char e = re[i + 1];
      next = i + 2;
      if (std::ispunct(static_cast<unsigned char>(e))) {
        literal = true;
        lit = e;
      }
    } else if (c == '[') {  // skip the class
      size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') j += re[j] == '\\' ? 2 : 1;
      next = j + 1;
    } else if (c == '(') {  // skip the group
      int d = 0;
      size_t j = i;
      for (; j < re.size(); ++j) {
        if (re[j] == '\\') {
          ++j;
          continue;
        }
        if (re[j] == '(') ++d;
        if (re[j] == ')' && --d == 0) break;
      }
      next = j + 1;
    } else if (std::strchr(".^$*+?{}|)", c) == nullptr && static_cast<unsigned char>(c) >= 0x20 &&
               static_cast<unsigned char>(c) < 0x7f) {
      literal = true;
      lit = c;
    }
    // The quantifier of this atom, if any.
    char q = next < re.size() ? re[next] : '\0';
    bool optional =
        q == '?' || q == '*' || (q == '{' && next + 1 < re.size() && re[next + 1] == '0');
    bool repeated = q == '+' || q == '{';
    if (literal && !optional) {
      cur += lit;
      if (repeated) end_run();
    } else {
      end_run();
    }
    if (q == '?' || q == '*' || q == '+') {
      ++next;
      if (next < re.size() && (re[next] == '?' || re[next] == '+')) ++next;  // lazy/possessive
    } else if (q == '{') {
      size_t j = re.find('}', next);
      if (j == std::string_view::npos) return {};
      next = j + 1;
      if (next < re.size() && re[next] == '?') ++next;
    }
    i = next;
  }
  end_run();
  return best;
}

namespace {

void MustContain(const Filter& f, std::vector<std::pair<std::string, std::string>>* out) {
  if (f.kind == FilterKind::kAnd) {
    for (const auto& k : f.kids) MustContain(*k, out);
    return;
  }
  if ((f.kind == FilterKind::kPhrase || f.kind == FilterKind::kPrefix ||
       f.kind == FilterKind::kExact) &&
      !f.value.empty() && f.field != "_stream") {
    out->emplace_back(f.field, f.value);
  }
  if (f.kind == FilterKind::kRegex && f.field != "_stream") {
    std::string lit = RegexRequiredLiteral(f.value);
    if (lit.size() >= 2) out->emplace_back(f.field, std::move(lit));
  }
}

// Whether the filter is conditions on named fields (leaves or negated leaves, whose names go to
// *labels), ANDed with at most one word of the message (a phrase of a single token, which
// matches exactly the rows whose message has that token; in *token). For a stream that has all
// those names as labels the conditions are decided by the stream filter alone, so blocks may
// count its rows from their footers (ScanRequest::count_by_labels).
bool CountableByLabels(const Filter& f, std::string* token, std::vector<std::string>* labels) {
  auto word = [](const Filter& k) {
    if (k.kind != FilterKind::kPhrase || !k.field.empty() || k.value.empty()) return false;
    for (char c : k.value) {
      if (!IsTokenByte(static_cast<unsigned char>(c))) return false;
    }
    return true;
  };
  auto on_label = [](const Filter& k) {
    const Filter& leaf = k.kind == FilterKind::kNot ? *k.kids[0] : k;
    return IsLeaf(leaf) && !leaf.field.empty() && leaf.field != "_stream";
  };
  std::vector<const Filter*> conj;
  if (f.kind == FilterKind::kAnd) {
    for (const auto& k : f.kids) conj.push_back(k.get());
  } else {
    conj.push_back(&f);
  }
  for (const Filter* k : conj) {
    if (token->empty() && word(*k)) {
      *token = k->value;
    } else if (on_label(*k)) {
      labels->push_back(k->kind == FilterKind::kNot ? k->kids[0]->field : k->field);
    } else {
      token->clear();
      labels->clear();
      return false;
    }
  }
  return !conj.empty();
}

struct Plan {
  ScanRequest req;
};

Plan MakePlan(const Query& q, int64_t now_ns, int64_t start_ns, int64_t end_ns) {
  Plan p;
  p.req.min_ts = std::max(start_ns, q.min_ts);
  p.req.max_ts = std::min(end_ns, q.max_ts);
  if (q.rel_ns > 0) p.req.min_ts = std::max(p.req.min_ts, now_ns - q.rel_ns);
  p.req.token_cnf = TokenCnf(*q.filter);
  p.req.stream_filter = StreamFilter(q.filter);
  if (q.filter->kind != FilterKind::kAll) {
    std::set<std::string> fields;
    CollectFields(*q.filter, &fields, &p.req.prefilter_msg);
    p.req.prefilter_fields.assign(fields.begin(), fields.end());
    std::shared_ptr<Filter> f = q.filter;
    p.req.prefilter = [f](const RowView& row) { return Matches(*f, row); };
    MustContain(*q.filter, &p.req.must_contain);
  }
  return p;
}

OutRow ToOut(const RowView& r) {
  OutRow o;
  o.ts_ns = r.ts_ns;
  o.flags = r.flags;
  o.labels = *r.labels;
  o.msg = std::string(r.msg);
  o.fields.reserve(r.fields.size());
  for (const auto& [k, v] : r.fields) o.fields.push_back(KV{std::string(k), std::string(v)});
  return o;
}

std::string OutField(const OutRow& r, const std::string& name) {
  if (name == "_time") return FormatRfc3339Nanos(r.ts_ns);
  if (name == "_msg") return r.msg;
  if (name == "_stream") return StreamKey(r.labels);
  for (const auto& kv : r.labels)
    if (kv.name == name) return kv.value;
  for (const auto& kv : r.fields)
    if (kv.name == name) return kv.value;
  return "";
}

// Orders strings numerically when both are numbers.
bool LessValue(const std::string& a, const std::string& b) {
  double x, y;
  if (ParseNumber(a, &x) && ParseNumber(b, &y)) return x < y;
  return a < b;
}

std::string FormatNumber(double d) {
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  char b[64];
  snprintf(b, sizeof b, "%.17g", d);
  return b;
}

// Collects the newest `cap` matching rows.
class TopVisitor : public ScanVisitor {
 public:
  TopVisitor(const Filter& f, size_t cap) : f_(f), cap_(cap) {}
  PartDecision BeginPart(int64_t, int64_t max_ts, size_t) override {
    if (heap_.size() >= cap_ && max_ts < heap_.front().first.ts_ns) return PartDecision::kStop;
    return PartDecision::kScan;
  }
  bool Row(const RowView& r) override {
    examined_++;
    if (heap_.size() >= cap_ && r.ts_ns <= heap_.front().first.ts_ns) return true;
    if (!Matches(f_, r)) return true;
    heap_.emplace_back(ToOut(r), ord_++);
    std::push_heap(heap_.begin(), heap_.end(), Worse);
    if (heap_.size() > cap_) {
      std::pop_heap(heap_.begin(), heap_.end(), Worse);
      heap_.pop_back();
    }
    return true;
  }
  // Best (newest) first.
  std::vector<OutRow> Take() {
    std::sort(heap_.begin(), heap_.end(), [](const auto& a, const auto& b) { return Worse(a, b); });
    std::vector<OutRow> out;
    for (auto& e : heap_) out.push_back(std::move(e.first));
    return out;
  }
  uint64_t examined_ = 0;

 private:
  // Heap comparator: "a is better than b" puts the worst at the front.
  static bool Worse(const std::pair<OutRow, uint64_t>& a, const std::pair<OutRow, uint64_t>& b) {
    if (a.first.ts_ns != b.first.ts_ns) return a.first.ts_ns > b.first.ts_ns;
    return a.second < b.second;
  }
  const Filter& f_;
  size_t cap_;
  uint64_t ord_ = 0;
  std::vector<std::pair<OutRow, uint64_t>> heap_;
};

class AllVisitor : public ScanVisitor {
 public:
  AllVisitor(const Filter& f, size_t max) : f_(f), max_(max) {}
  PartDecision BeginPart(int64_t, int64_t, size_t) override { return PartDecision::kScan; }
  bool Row(const RowView& r) override {
    examined_++;
    if (!Matches(f_, r)) return true;
    if (rows_.size() >= max_) {
      overflow_ = true;
      return false;
    }
    rows_.push_back(ToOut(r));
    seqs_.push_back(r.seq);
    return true;
  }
  const Filter& f_;
  size_t max_;
  bool overflow_ = false;
  uint64_t examined_ = 0;
  std::vector<OutRow> rows_;
  std::vector<uint64_t> seqs_;
};

struct Acc {
  uint64_t count = 0;
  double sum = 0, min = INFINITY, max = -INFINITY;
  uint64_t n = 0;
  std::unordered_set<std::string> uniq;
};

class StatsVisitor : public ScanVisitor {
 public:
  StatsVisitor(const Filter& f, const Pipe& p, size_t max_groups)
      : f_(f), p_(p), max_(max_groups) {}
  PartDecision BeginPart(int64_t, int64_t, size_t) override { return PartDecision::kScan; }
  bool Row(const RowView& r) override {
    examined_++;
    if (!Matches(f_, r)) return true;
    key_.clear();
    std::string scratch;
    for (const auto& b : p_.by) {
      bool found;
      key_.emplace_back(FieldOf(r, b == "_msg" ? std::string() : b, &found, &scratch));
    }
    auto it = groups_.find(key_);
    if (it == groups_.end()) {
      if (groups_.size() >= max_) {
        overflow_ = true;
        return false;
      }
      it = groups_.emplace(key_, std::vector<Acc>(p_.funcs.size())).first;
    }
    for (size_t i = 0; i < p_.funcs.size(); ++i) {
      const StatFunc& fn = p_.funcs[i];
      Acc& a = it->second[i];
      if (fn.func == "count") {
        if (fn.field.empty()) {
          a.count++;
        } else {
          bool found;
          FieldOf(r, fn.field, &found, &scratch);
          if (found) a.count++;
        }
        continue;
      }
      bool found;
      std::string_view v =
          FieldOf(r, fn.field == "_msg" ? std::string() : fn.field, &found, &scratch);
      if (!found) continue;
      if (fn.func == "count_uniq") {
        if (a.uniq.size() < 1000000) a.uniq.emplace(v);
        continue;
      }
      double d;
      if (!ParseNumber(v, &d)) continue;
      a.sum += d;
      a.min = std::min(a.min, d);
      a.max = std::max(a.max, d);
      a.n++;
    }
    return true;
  }
  // Counts that need only labels: every by() field is a label of the stream (or _stream) and
  // every function is count() or count(label).
  bool CountRows(const std::vector<KV>& labels, uint64_t n) override {
    if (!countable_) return false;
    key_.clear();
    for (const auto& b : p_.by) {
      if (b == "_stream") {
        key_.push_back(StreamKey(labels));
        continue;
      }
      const KV* kv = FindLabel(labels, b);
      if (!kv) return false;  // may be a field of the rows
      key_.push_back(kv->value);
    }
    std::vector<uint64_t> add(p_.funcs.size(), n);
    for (size_t i = 0; i < p_.funcs.size(); ++i) {
      const std::string& f = p_.funcs[i].field;
      if (f.empty()) continue;
      if (!FindLabel(labels, f)) return false;
    }
    auto it = groups_.find(key_);
    if (it == groups_.end()) {
      if (groups_.size() >= max_) return false;  // Row() reports the overflow
      it = groups_.emplace(key_, std::vector<Acc>(p_.funcs.size())).first;
    }
    for (size_t i = 0; i < p_.funcs.size(); ++i) it->second[i].count += add[i];
    examined_ += n;
    return true;
  }
  static const KV* FindLabel(const std::vector<KV>& labels, const std::string& name) {
    for (const auto& kv : labels) {
      if (kv.name == name) return &kv;
    }
    return nullptr;
  }
  bool Countable() const {
    for (const auto& fn : p_.funcs) {
      if (fn.func != "count" || fn.field == "_msg" || fn.field == "_time") return false;
    }
    for (const auto& b : p_.by) {
      if (b == "_msg" || b == "_time") return false;
    }
    return true;
  }
  const Filter& f_;
  const Pipe& p_;
  size_t max_;
  bool countable_ = Countable();
  bool overflow_ = false;
  uint64_t examined_ = 0;
  std::vector<std::string> key_;
  std::map<std::vector<std::string>, std::vector<Acc>> groups_;
};

Status ParseCursor(const std::string& c, int64_t* ts, uint64_t* skip) {
  size_t colon = c.find(':');
  char* e1 = nullptr;
  char* e2 = nullptr;
  if (colon == std::string::npos) return Status::InvalidArgument("bad cursor \"" + c + "\"");
  std::string a = c.substr(0, colon), b = c.substr(colon + 1);
  long long t = std::strtoll(a.c_str(), &e1, 10);
  unsigned long long s = std::strtoull(b.c_str(), &e2, 10);
  if (a.empty() || b.empty() || *e1 || *e2 || s > 1000000) {
    return Status::InvalidArgument("bad cursor \"" + c + "\": expected <ts_ns>:<skip>");
  }
  *ts = t;
  *skip = s;
  return Status::Ok();
}

void ApplyTablePipes(const std::vector<Pipe>& pipes, size_t from, ExecResult* r) {
  for (size_t i = from; i < pipes.size(); ++i) {
    const Pipe& p = pipes[i];
    if (p.kind == Pipe::kSort) {
      std::vector<std::pair<int, bool>> keys;
      for (const auto& [f, desc] : p.sort) {
        auto it = std::find(r->columns.begin(), r->columns.end(), f);
        if (it != r->columns.end())
          keys.emplace_back(static_cast<int>(it - r->columns.begin()), desc);
      }
      std::stable_sort(r->table.begin(), r->table.end(), [&](const auto& a, const auto& b) {
        for (auto [k, desc] : keys) {
          if (a[k] == b[k]) continue;
          return desc ? LessValue(b[k], a[k]) : LessValue(a[k], b[k]);
        }
        return false;
      });
    } else if (p.kind == Pipe::kLimit) {
      if (r->table.size() > static_cast<size_t>(p.n)) r->table.resize(p.n);
    } else if (p.kind == Pipe::kOffset) {
      size_t n = std::min(r->table.size(), static_cast<size_t>(p.n));
      r->table.erase(r->table.begin(), r->table.begin() + static_cast<long>(n));
    } else if (p.kind == Pipe::kFields) {
      std::vector<int> idx;
      std::vector<std::string> cols;
      for (const auto& f : p.fields) {
        auto it = std::find(r->columns.begin(), r->columns.end(), f);
        if (it != r->columns.end()) {
          idx.push_back(static_cast<int>(it - r->columns.begin()));
          cols.push_back(f);
        }
      }
      for (auto& row : r->table) {
        std::vector<std::string> nr;
        nr.reserve(idx.size());
        for (int k : idx) nr.push_back(row[k]);
        row = std::move(nr);
      }
      r->columns = std::move(cols);
    }
  }
}

}  // namespace

bool Matches(const Filter& f, const RowView& row) {
  switch (f.kind) {
    case FilterKind::kAll:
      return true;
    case FilterKind::kAnd:
      for (const auto& k : f.kids)
        if (!Matches(*k, row)) return false;
      return true;
    case FilterKind::kOr:
      for (const auto& k : f.kids)
        if (Matches(*k, row)) return true;
      return false;
    case FilterKind::kNot:
      return !Matches(*f.kids[0], row);
    default: {
      bool found;
      std::string scratch;
      std::string_view v = FieldOf(row, f.field, &found, &scratch);
      return MatchValue(f, v, found);
    }
  }
}

Result<ExecResult> Execute(const Store& store, const Query& q, const ExecOptions& o) {
  Plan plan = MakePlan(q, o.now_ns, o.start_ns, o.end_ns);
  ExecResult res;
  size_t stats_at = q.pipes.size();
  bool has_sort = false, has_limit = false;
  int64_t limit = -1, offset = 0;
  for (size_t i = 0; i < q.pipes.size(); ++i) {
    const Pipe& p = q.pipes[i];
    if (p.kind == Pipe::kStats) {
      stats_at = i;
      break;
    }
    if (p.kind == Pipe::kSort) has_sort = true;
  }
  if (stats_at < q.pipes.size()) {
    for (size_t i = 0; i < stats_at; ++i) {
      if (q.pipes[i].kind != Pipe::kFields) {
        return Status::InvalidArgument("| stats must come before sort, limit and offset");
      }
    }
    const Pipe& sp = q.pipes[stats_at];
    // Only the columns the filter, by() and the functions need.
    std::set<std::string> need;
    bool need_msg = false;
    CollectFields(*q.filter, &need, &need_msg);
    for (const auto& b : sp.by) {
      if (b == "_msg")
        need_msg = true;
      else
        need.insert(b);
    }
    for (const auto& f : sp.funcs) {
      if (f.field == "_msg")
        need_msg = true;
      else if (!f.field.empty())
        need.insert(f.field);
    }
    plan.req.need_msg = need_msg;
    plan.req.all_fields = false;
    plan.req.fields.assign(need.begin(), need.end());
    StatsVisitor v(*q.filter, sp, o.max_rows);
    // The plan's prefilter is the whole filter, so the store's per-stream counts are exact.
    plan.req.count_rows = v.countable_;
    if (plan.req.count_rows && q.filter->kind != FilterKind::kAll) {
      plan.req.count_by_labels =
          CountableByLabels(*q.filter, &plan.req.count_msg_token, &plan.req.count_labels);
    }
    KANSOKU_RETURN_IF_ERROR(store.Scan(plan.req, v));
    if (v.overflow_) {
      return Status::ResourceExhausted("| stats has more than " + std::to_string(o.max_rows) +
                                       " groups; group by fewer fields");
    }
    res.is_table = true;
    res.rows_examined = v.examined_;
    res.columns = sp.by;
    for (const auto& f : sp.funcs) res.columns.push_back(f.name);
    // No rows and no by(): one row of empty accumulators (count() = 0), as SQL answers.
    if (sp.by.empty() && v.groups_.empty()) {
      v.groups_.emplace(std::vector<std::string>{}, std::vector<Acc>(sp.funcs.size()));
    }
    for (auto& [key, accs] : v.groups_) {
      std::vector<std::string> row = key;
      for (size_t i = 0; i < sp.funcs.size(); ++i) {
        const auto& fn = sp.funcs[i].func;
        const Acc& a = accs[i];
        if (fn == "count")
          row.push_back(std::to_string(a.count));
        else if (fn == "count_uniq")
          row.push_back(std::to_string(a.uniq.size()));
        else if (a.n == 0)
          row.push_back("");
        else if (fn == "sum")
          row.push_back(FormatNumber(a.sum));
        else if (fn == "min")
          row.push_back(FormatNumber(a.min));
        else if (fn == "max")
          row.push_back(FormatNumber(a.max));
        else
          row.push_back(FormatNumber(a.sum / static_cast<double>(a.n)));
      }
      res.table.push_back(std::move(row));
    }
    // Default order: biggest first count when there is no sort pipe.
    ApplyTablePipes(q.pipes, stats_at + 1, &res);
    return res;
  }

  for (const auto& p : q.pipes) {
    if (p.kind == Pipe::kLimit && !has_limit) {
      has_limit = true;
      limit = p.n;
    }
    if (p.kind == Pipe::kOffset && !has_sort) offset += p.n;
    if (p.kind == Pipe::kFields) res.projected = p.fields;
  }
  if (has_sort) {
    AllVisitor v(*q.filter, o.max_rows);
    KANSOKU_RETURN_IF_ERROR(store.Scan(plan.req, v));
    if (v.overflow_) {
      return Status::ResourceExhausted("| sort needs more than " + std::to_string(o.max_rows) +
                                       " rows in memory; narrow the filter or the time range");
    }
    res.rows_examined = v.examined_;
    std::vector<OutRow> rows = std::move(v.rows_);
    std::stable_sort(rows.begin(), rows.end(),
                     [](const OutRow& a, const OutRow& b) { return a.ts_ns > b.ts_ns; });
    for (const auto& p : q.pipes) {
      if (p.kind == Pipe::kSort) {
        std::stable_sort(rows.begin(), rows.end(), [&](const OutRow& a, const OutRow& b) {
          for (const auto& [f, desc] : p.sort) {
            if (f == "_time") {
              if (a.ts_ns == b.ts_ns) continue;
              return desc ? a.ts_ns > b.ts_ns : a.ts_ns < b.ts_ns;
            }
            std::string x = OutField(a, f), y = OutField(b, f);
            if (x == y) continue;
            return desc ? LessValue(y, x) : LessValue(x, y);
          }
          return false;
        });
      } else if (p.kind == Pipe::kLimit) {
        if (rows.size() > static_cast<size_t>(p.n)) rows.resize(p.n);
      } else if (p.kind == Pipe::kOffset) {
        size_t n = std::min(rows.size(), static_cast<size_t>(p.n));
        rows.erase(rows.begin(), rows.begin() + static_cast<long>(n));
      }
    }
    if (rows.size() > o.limit) rows.resize(o.limit);
    res.rows = std::move(rows);
    return res;
  }

  // Newest first, paged.
  int64_t cursor_ts = INT64_MAX;
  uint64_t skip = 0;
  if (!o.cursor.empty()) {
    KANSOKU_RETURN_IF_ERROR(ParseCursor(o.cursor, &cursor_ts, &skip));
    plan.req.max_ts = std::min(plan.req.max_ts, cursor_ts);
  }
  size_t page = o.limit;
  if (has_limit) {
    int64_t left = limit - offset;
    if (left < 0) left = 0;
    page = std::min(page, static_cast<size_t>(left));
  }
  if (page == 0) return res;
  size_t cap = static_cast<size_t>(offset) + skip + page + 1;
  TopVisitor v(*q.filter, cap);
  KANSOKU_RETURN_IF_ERROR(store.Scan(plan.req, v));
  res.rows_examined = v.examined_;
  std::vector<OutRow> rows = v.Take();
  size_t drop = 0;
  while (drop < rows.size() && drop < skip && rows[drop].ts_ns == cursor_ts) ++drop;
  drop += std::min<size_t>(static_cast<size_t>(offset), rows.size() - drop);
  size_t end = std::min(rows.size(), drop + page);
  bool more = rows.size() > end && !has_limit;
  if (more && end > 0) {
    int64_t last = rows[end - 1].ts_ns;
    uint64_t same = 0;
    for (size_t i = 0; i < end; ++i) same += rows[i].ts_ns == last;
    res.next_cursor = std::to_string(last) + ":" + std::to_string(same);
  }
  res.rows.assign(std::make_move_iterator(rows.begin() + static_cast<long>(drop)),
                  std::make_move_iterator(rows.begin() + static_cast<long>(end)));
  return res;
}

Result<std::vector<HitsBucket>> Hits(const Store& store, const Query& q, int64_t now_ns,
                                     int64_t start_ns, int64_t end_ns, int64_t step_ns) {
  if (step_ns <= 0 || end_ns <= start_ns) {
    return Status::InvalidArgument("hits need start < end and a positive step");
  }
  if ((end_ns - start_ns) / step_ns > 10000) {
    return Status::InvalidArgument("more than 10000 buckets; use a larger step");
  }
  Plan plan = MakePlan(q, now_ns, start_ns, end_ns - 1);
  std::set<std::string> need;
  bool need_msg = false;
  CollectFields(*q.filter, &need, &need_msg);
  plan.req.need_msg = need_msg;
  plan.req.all_fields = false;
  plan.req.fields.assign(need.begin(), need.end());
  size_t n = static_cast<size_t>((end_ns - start_ns + step_ns - 1) / step_ns);
  std::vector<HitsBucket> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = {start_ns + static_cast<int64_t>(i) * step_ns, 0};
  class V : public ScanVisitor {
   public:
    V(const Filter& f, std::vector<HitsBucket>& o, int64_t s, int64_t st)
        : f_(f), o_(o), s_(s), st_(st) {}
    PartDecision BeginPart(int64_t, int64_t, size_t) override { return PartDecision::kScan; }
    bool Row(const RowView& r) override {
      if (!Matches(f_, r)) return true;
      size_t b = static_cast<size_t>((r.ts_ns - s_) / st_);
      if (b < o_.size()) o_[b].count++;
      return true;
    }
    const Filter& f_;
    std::vector<HitsBucket>& o_;
    int64_t s_, st_;
  } v(*q.filter, out, start_ns, step_ns);
  KANSOKU_RETURN_IF_ERROR(store.Scan(plan.req, v));
  return out;
}

Result<std::vector<OutRow>> Context(const Store& store, const std::vector<KV>& labels,
                                    int64_t ts_ns, size_t before, size_t after) {
  std::vector<KV> sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  Filter all;
  ScanRequest req;
  req.stream_filter = [sorted](const std::vector<KV>& l) { return l == sorted; };
  req.max_ts = ts_ns;
  req.newest_first = true;
  TopVisitor older(all, before + 1);
  KANSOKU_RETURN_IF_ERROR(store.Scan(req, older));
  std::vector<OutRow> a = older.Take();
  std::reverse(a.begin(), a.end());
  if (after > 0 && ts_ns < INT64_MAX) {
    ScanRequest r2 = req;
    r2.max_ts = INT64_MAX;
    r2.min_ts = ts_ns + 1;
    r2.newest_first = false;
    AllVisitor newer(all, 1000000);
    // Oldest first: take the first `after` rows by time.
    KANSOKU_RETURN_IF_ERROR(store.Scan(r2, newer));
    auto& rows = newer.rows_;
    std::stable_sort(rows.begin(), rows.end(),
                     [](const OutRow& x, const OutRow& y) { return x.ts_ns < y.ts_ns; });
    for (size_t i = 0; i < rows.size() && i < after; ++i) a.push_back(std::move(rows[i]));
  }
  return a;
}

Result<std::vector<OutRow>> Tail(const Store& store, const Query& q, int64_t now_ns,
                                 uint64_t after_seq, size_t limit, uint64_t* last_seq) {
  uint64_t upto = store.LastSeq();
  *last_seq = upto;
  if (upto <= after_seq) return std::vector<OutRow>{};
  Plan plan = MakePlan(q, now_ns, INT64_MIN, INT64_MAX);
  plan.req.after_seq = after_seq;
  plan.req.tail = true;
  plan.req.newest_first = false;
  AllVisitor v(*q.filter, 1000000);
  KANSOKU_RETURN_IF_ERROR(store.Scan(plan.req, v));
  std::vector<std::pair<uint64_t, size_t>> order;
  for (size_t i = 0; i < v.rows_.size(); ++i) {
    if (v.seqs_[i] <= upto) order.emplace_back(v.seqs_[i], i);
  }
  std::sort(order.begin(), order.end());
  std::vector<OutRow> out;
  for (const auto& [seq, i] : order) {
    if (out.size() >= limit) {
      *last_seq = out.empty() ? after_seq : seq - 1;
      break;
    }
    out.push_back(std::move(v.rows_[i]));
  }
  return out;
}

}  // namespace kansoku::logs::query
