#include "api/prom_api.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <thread>

#include "base/clock.h"
#include "base/json.h"
#include "base/strings.h"
#include "net/http.h"
#include "net/http_server.h"
#include "query/engine/engine.h"
#include "query/functions/functions.h"
#include "query/parser/parser.h"
#include "tsdb/storage.h"

namespace kansoku::api {

namespace {
constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min() / 2;
constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max() / 2;

void ApiError(net::Response& resp, std::string_view type, int code, std::string_view msg) {
  std::string j = "{\"status\":\"error\",\"errorType\":\"";
  j += type;
  j += "\",\"error\":";
  j += net::JsonString(msg);
  j += "}";
  resp.Json(code, std::move(j));
}

void BadData(net::Response& resp, std::string_view msg) { ApiError(resp, "bad_data", 400, msg); }

// A label object from n pairs, name(k) and value(k) their strings.
template <class NameAt, class ValueAt>
void AppendLabelObject(std::string& j, size_t n, NameAt name, ValueAt value) {
  // Mostly no label needs an escape: then the object is sized once and copied in, instead of
  // eight appends a label (a quarter of a /api/v1/series answer's instructions).
  size_t size = 2;
  bool plain = true;
  for (size_t k = 0; k < n; ++k) {
    const std::string_view nk = name(k), vk = value(k);
    size += nk.size() + vk.size() + 6;
    plain = plain && JsonPlain(nk) && JsonPlain(vk);
  }
  if (plain) {
    const size_t at = j.size();
    j.resize(at + size - (n == 0 ? 0 : 1));
    char* p = j.data() + at;
    *p++ = '{';
    for (size_t k = 0; k < n; ++k) {
      const std::string_view nk = name(k), vk = value(k);
      if (k > 0) *p++ = ',';
      *p++ = '"';
      std::memcpy(p, nk.data(), nk.size());
      p += nk.size();
      std::memcpy(p, "\":\"", 3);
      p += 3;
      std::memcpy(p, vk.data(), vk.size());
      p += vk.size();
      *p++ = '"';
    }
    *p++ = '}';
    return;
  }
  j += '{';
  for (size_t k = 0; k < n; ++k) {
    if (k > 0) j += ',';
    j += '"';
    net::AppendJsonEscaped(j, name(k));
    j += "\":\"";
    net::AppendJsonEscaped(j, value(k));
    j += '"';
  }
  j += '}';
}

void AppendLabels(std::string& j, const tsdb::Labels& ls) {
  const auto& items = ls.items();
  AppendLabelObject(
      j, items.size(), [&](size_t k) -> std::string_view { return items[k].name; },
      [&](size_t k) -> std::string_view { return items[k].value; });
}

// The same from alternating name and value views (Querier::ForEachSeriesLabels).
void AppendLabelParts(std::string& j, std::span<const std::string_view> parts) {
  AppendLabelObject(
      j, parts.size() / 2, [&](size_t k) { return parts[2 * k]; },
      [&](size_t k) { return parts[2 * k + 1]; });
}

// Appends FormatPromTime(ms) without a temporary string.
void AppendPromTime(std::string& j, int64_t ms) {
  uint64_t u = static_cast<uint64_t>(ms);
  if (ms < 0) {
    j += '-';
    u = 0 - u;
  }
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, u / 1000);
  j.append(buf, r.ptr);
  unsigned frac = static_cast<unsigned>(u % 1000);
  if (frac != 0) {
    char f[4] = {'.', static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                 static_cast<char>('0' + frac % 10)};
    size_t n = 4;
    while (f[n - 1] == '0') --n;
    j.append(f, n);
  }
}

void AppendPoint(std::string& j, int64_t t, double v) {
  j += '[';
  AppendPromTime(j, t);
  j += ",\"";
  query::functions::AppendFloatShortest(&j, v);
  j += "\"]";
}

// The timestamp text of each step of a range query's grid, formatted once: every series of a
// range result has its points on that grid, and formatting the same time again per series was a
// third of the JSON (100 series x 1,440 steps: 41 M of ~140 M instructions).
class StepTimes {
 public:
  StepTimes(int64_t start, int64_t end, int64_t step) : start_(start), step_(step) {
    if (step <= 0 || end < start) return;
    const int64_t n = (end - start) / step + 1;
    off_.reserve(static_cast<size_t>(n) + 1);
    for (int64_t i = 0; i < n; ++i) {
      off_.push_back(static_cast<uint32_t>(text_.size()));
      AppendPromTime(text_, start + i * step);
    }
    off_.push_back(static_cast<uint32_t>(text_.size()));
  }
  // Appends the text of time t: from the table when t is on the grid, else formatted.
  void Append(std::string& j, int64_t t) const {
    if (t >= start_ && !off_.empty() && (t - start_) % step_ == 0) {
      const auto i = static_cast<uint64_t>((t - start_) / step_);
      if (i + 1 < off_.size()) {
        j.append(text_, off_[i], off_[i + 1] - off_[i]);
        return;
      }
    }
    AppendPromTime(j, t);
  }

 private:
  int64_t start_, step_;
  std::vector<uint32_t> off_;  // off_[i]..off_[i + 1]: step i's text
  std::string text_;
};

// The "result" array's series [from, to) of a matrix, each preceded by a comma unless it is the
// first of the whole array.
void AppendMatrixSeries(std::string& j, const query::Matrix& m, size_t from, size_t to,
                        const StepTimes& times) {
  for (size_t k = from; k < to; ++k) {
    const auto& s = m[k];
    if (k > 0) j += ',';
    j += "{\"metric\":";
    AppendLabels(j, s.labels);
    j += ",\"values\":[";
    for (size_t i = 0; i < s.points.size(); ++i) {
      j += i == 0 ? "[" : ",[";
      times.Append(j, s.points[i].t);
      j += ",\"";
      query::functions::AppendFloatShortest(&j, s.points[i].v);
      j += "\"]";
    }
    j += "]}";
  }
}

// A matrix result: with many points, the second half (by points) is formatted on another thread
// into its own string, as the query's evaluation before it ran on several (formatting 144,000
// points was ~12 ms on one core, after ~190 ms of query).
void AppendMatrix(std::string& j, const query::Matrix& m, const StepTimes& times) {
  constexpr size_t kParallelPoints = 50'000;
  size_t total = 0;
  for (const auto& s : m) total += s.points.size();
  size_t split = m.size();
  if (total >= kParallelPoints && m.size() >= 2) {
    size_t acc = 0;
    split = 0;
    while (split + 1 < m.size() && acc < total / 2) acc += m[split++].points.size();
  }
  // Reserved for ~36 bytes a point (`[1700000000,"0.123456789012345"],` is 33-35) and 256 a
  // series: a 4.8 MB answer reserved at 32 a point grew once, a fresh 9 MB mapping and a copy.
  const auto bytes = [&](size_t from, size_t to) {
    size_t b = 0;
    for (size_t i = from; i < to; ++i) b += m[i].points.size() * 36 + 256;
    return b;
  };
  std::string tail;
  std::thread second;
  if (split < m.size()) {
    second = std::thread([&] {
      tail.reserve(bytes(split, m.size()));
      AppendMatrixSeries(tail, m, split, m.size(), times);
    });
  }
  j.reserve(j.size() + bytes(0, m.size()));
  AppendMatrixSeries(j, m, 0, split, times);
  if (second.joinable()) {
    second.join();
    j += tail;
  }
}

void AppendAnnotations(std::string& j, const query::QueryResult& r) {
  auto list = [&](const char* key, const std::vector<std::string>& xs) {
    if (xs.empty()) return;
    j += ",\"";
    j += key;
    j += "\":[";
    for (size_t i = 0; i < xs.size(); ++i) {
      if (i) j += ',';
      j += net::JsonString(xs[i]);
    }
    j += ']';
  };
  list("warnings", r.warnings);
  list("infos", r.infos);
}

// The matchers of every vector selector in e (in query order).
void CollectSelectors(const query::Expr* e, std::vector<std::vector<tsdb::Matcher>>* out) {
  if (e == nullptr) return;
  switch (e->kind) {
    case query::ExprKind::kVectorSelector:
      out->push_back(static_cast<const query::VectorSelector*>(e)->matchers);
      break;
    case query::ExprKind::kMatrixSelector:
      CollectSelectors(static_cast<const query::MatrixSelector*>(e)->vs.get(), out);
      break;
    case query::ExprKind::kSubquery:
      CollectSelectors(static_cast<const query::SubqueryExpr*>(e)->expr.get(), out);
      break;
    case query::ExprKind::kParen:
      CollectSelectors(static_cast<const query::ParenExpr*>(e)->expr.get(), out);
      break;
    case query::ExprKind::kUnary:
      CollectSelectors(static_cast<const query::UnaryExpr*>(e)->expr.get(), out);
      break;
    case query::ExprKind::kBinary: {
      const auto* b = static_cast<const query::BinaryExpr*>(e);
      CollectSelectors(b->lhs.get(), out);
      CollectSelectors(b->rhs.get(), out);
      break;
    }
    case query::ExprKind::kAggregate: {
      const auto* a = static_cast<const query::AggregateExpr*>(e);
      CollectSelectors(a->param.get(), out);
      CollectSelectors(a->expr.get(), out);
      break;
    }
    case query::ExprKind::kCall:
      for (const auto& arg : static_cast<const query::Call*>(e)->args) {
        CollectSelectors(arg.get(), out);
      }
      break;
    case query::ExprKind::kNumber:
    case query::ExprKind::kString:
      break;
  }
}

// Time range parameters with Prometheus' defaults (all of time).
bool TimeRange(net::Request& req, net::Response& resp, int64_t* start, int64_t* end) {
  std::string s;
  *start = kMinTime;
  *end = kMaxTime;
  if (req.FormParam("start", &s) && !s.empty()) {
    auto t = ParsePromTime(s);
    if (!t.ok())
      return BadData(resp, "invalid parameter \"start\": " + t.status().message()), false;
    *start = *t;
  }
  if (req.FormParam("end", &s) && !s.empty()) {
    auto t = ParsePromTime(s);
    if (!t.ok()) return BadData(resp, "invalid parameter \"end\": " + t.status().message()), false;
    *end = *t;
  }
  if (*end < *start) return BadData(resp, "end timestamp must not be before start time"), false;
  return true;
}

bool ParseMatchers(net::Response& resp, const std::vector<std::string>& matches,
                   std::vector<std::vector<tsdb::Matcher>>* out) {
  for (const auto& m : matches) {
    auto sel = query::ParseMetricSelector(m);
    if (!sel.ok()) return BadData(resp, sel.status().message()), false;
    bool all_empty = true;
    for (const auto& x : *sel) all_empty &= x.MatchesEmpty();
    if (all_empty) {
      return BadData(resp, "match[] must contain at least one non-empty matcher"), false;
    }
    out->push_back(std::move(sel).value());
  }
  return true;
}

size_t LimitParam(net::Request& req, net::Response& resp, bool* ok) {
  std::string s;
  *ok = true;
  if (!req.FormParam("limit", &s) || s.empty()) return 0;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (*end != '\0' || v < 0) {
    *ok = false;
    BadData(resp, "limit must be a non-negative number, got \"" + s + "\"");
    return 0;
  }
  return static_cast<size_t>(v);
}

// Prometheus' "U__" value escaping of a UTF-8 name (after the prefix): "__" is '_', "_HEX_" is
// the code point HEX, other bytes stand for themselves. nullopt when malformed.
std::optional<std::string> DecodeU8Escaped(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '_') {
      out += s[i];
      continue;
    }
    if (i + 1 < s.size() && s[i + 1] == '_') {
      out += '_';
      ++i;
      continue;
    }
    const size_t end = s.find('_', i + 1);
    if (end == std::string_view::npos || end == i + 1) return std::nullopt;
    uint32_t cp = 0;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + end, cp, 16);
    if (ec != std::errc() || p != s.data() + end || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
    i = end;
  }
  return out;
}

class PromApi {
 public:
  explicit PromApi(const PromApiOptions& o) : o_(o) {}

  void Query(net::Request& req, net::Response& resp, bool range) {
    std::string q;
    if (!req.FormParam("query", &q) || q.empty()) {
      return BadData(resp, "invalid parameter \"query\": query must not be empty");
    }
    int64_t now = Clock::Real().NowMs();
    query::QueryResult r;
    int64_t grid_start = 0, grid_end = -1, grid_step = 0;  // a range query's steps
    // Per-query timeout= (capped by query.timeout) and lookback_delta=, as Prometheus takes them.
    query::QueryControl control;
    std::string ps;
    if (req.FormParam("timeout", &ps) && !ps.empty()) {
      auto d = ParsePromDuration(ps);
      if (!d.ok()) return BadData(resp, "invalid parameter \"timeout\": " + d.status().message());
      if (*d <= 0) return BadData(resp, "invalid parameter \"timeout\": must be positive");
      control.timeout = std::chrono::milliseconds(*d);
    }
    if (req.FormParam("lookback_delta", &ps) && !ps.empty()) {
      auto d = ParsePromDuration(ps);
      if (!d.ok() || *d < 0) {
        return BadData(resp,
                       "invalid parameter \"lookback_delta\": " +
                           (d.ok() ? std::string("must not be negative") : d.status().message()));
      }
      control.lookback_delta_ms = *d;
    }
    if (!range) {
      int64_t t = now;
      std::string ts;
      if (req.FormParam("time", &ts) && !ts.empty()) {
        auto p = ParsePromTime(ts);
        if (!p.ok()) return BadData(resp, "invalid parameter \"time\": " + p.status().message());
        t = *p;
      }
      r = o_.engine->Query(*o_.storage, q, t, control);
    } else {
      std::string s, e, st;
      if (!req.FormParam("start", &s)) return BadData(resp, "invalid parameter \"start\": missing");
      if (!req.FormParam("end", &e)) return BadData(resp, "invalid parameter \"end\": missing");
      if (!req.FormParam("step", &st)) return BadData(resp, "invalid parameter \"step\": missing");
      auto start = ParsePromTime(s);
      if (!start.ok())
        return BadData(resp, "invalid parameter \"start\": " + start.status().message());
      auto end = ParsePromTime(e);
      if (!end.ok()) return BadData(resp, "invalid parameter \"end\": " + end.status().message());
      if (*end < *start)
        return BadData(resp,
                       "invalid parameter \"end\": end timestamp must not be before start time");
      auto step = ParsePromDuration(st);
      if (!step.ok())
        return BadData(resp, "invalid parameter \"step\": " + step.status().message());
      if (*step <= 0) {
        return BadData(resp,
                       "invalid parameter \"step\": zero or negative query resolution step widths "
                       "are not accepted. Try a positive integer");
      }
      if ((*end - *start) / *step > 11000) {
        return BadData(resp,
                       "exceeded maximum resolution of 11,000 points per timeseries. Try "
                       "decreasing the query resolution (?step=XX)");
      }
      grid_start = *start;
      grid_end = *end;
      grid_step = *step;
      r = o_.engine->QueryRange(*o_.storage, q, *start, *end, *step, control);
    }
    if (!r.ok()) {
      std::string kind(query::QueryErrorKindName(r.error_kind));
      int code = kind == "bad_data"      ? 400
                 : kind == "execution"   ? 422
                 : kind == "timeout"     ? 503
                 : kind == "unavailable" ? 503
                 : kind == "canceled"    ? 499
                                         : 500;
      return ApiError(resp, kind, code, r.error);
    }
    std::string j;
    j.reserve(4096);
    j += "{\"status\":\"success\",\"data\":{\"resultType\":\"";
    switch (r.type) {
      case query::ValueType::kScalar:
        j += "scalar\",\"result\":";
        AppendPoint(j, r.scalar_t, r.scalar);
        break;
      case query::ValueType::kString:
        j += "string\",\"result\":[" + FormatPromTime(r.scalar_t) + "," + net::JsonString(r.str) +
             "]";
        break;
      case query::ValueType::kVector: {
        if (r.vector.size() > o_.max_series_returned) return TooMany(resp, r.vector.size());
        j += "vector\",\"result\":[";
        bool first = true;
        for (const auto& s : r.vector) {
          if (!first) j += ',';
          first = false;
          j += "{\"metric\":";
          AppendLabels(j, s.labels);
          j += ",\"value\":";
          AppendPoint(j, s.t, s.v);
          j += '}';
        }
        j += ']';
        break;
      }
      case query::ValueType::kMatrix: {
        if (r.matrix.size() > o_.max_series_returned) return TooMany(resp, r.matrix.size());
        j += "matrix\",\"result\":[";
        AppendMatrixJson(j, r.matrix, grid_start, grid_end, grid_step);
        j += ']';
        break;
      }
      default:
        j += "vector\",\"result\":[";
        j += ']';
    }
    j += '}';
    AppendAnnotations(j, r);
    j += '}';
    resp.Json(200, std::move(j));
  }

  void TooMany(net::Response& resp, size_t n) {
    ApiError(resp, "execution", 422,
             "query returned " + std::to_string(n) + " series, more than the limit of " +
                 std::to_string(o_.max_series_returned) + " (query.max_series_returned)");
  }

  void Series(net::Request& req, net::Response& resp) {
    auto matches = req.FormParams("match[]");
    if (matches.empty()) return BadData(resp, "no match[] parameter provided");
    std::vector<std::vector<tsdb::Matcher>> sets;
    if (!ParseMatchers(resp, matches, &sets)) return;
    int64_t start, end;
    if (!TimeRange(req, resp, &start, &end)) return;
    bool ok;
    size_t limit = LimitParam(req, resp, &ok);
    if (!ok) return;
    auto q = o_.storage->NewQuerier(start, end);
    if (!q.ok()) return ApiError(resp, "internal", 500, q.status().message());
    tsdb::SelectHints hints{start, end, 0, "series", 0};
    std::string j = "{\"status\":\"success\",\"data\":[";
    if (sets.size() == 1) {
      // One set: its series come in label order, without duplicates, and go straight from the
      // storage's views into the answer (no Labels built and freed per series).
      size_t n = 0;
      bool truncated = false, too_many = false;
      Status st =
          (*q)->ForEachSeriesLabels(sets[0], hints, [&](std::span<const std::string_view> parts) {
            if (limit && n == limit) {
              truncated = true;
              return false;
            }
            if (n == o_.max_series_returned) {
              too_many = true;
              return false;
            }
            if (n++) j += ',';
            AppendLabelParts(j, parts);
            return true;
          });
      if (!st.ok()) return ApiError(resp, "execution", 422, st.message());
      if (too_many) return TooMany(resp, n + 1);
      j += ']';
      if (truncated) j += ",\"warnings\":[\"results truncated due to limit\"]";
      j += '}';
      return resp.Json(200, std::move(j));
    }
    // Several sets: each set's series come in label order; a vector, sorted and deduplicated.
    std::vector<tsdb::Labels> all;
    bool ordered = true;
    size_t check_at = o_.max_series_returned;  // deduplicate and count when the vector exceeds it
    for (const auto& ms : sets) {
      auto ss = (*q)->Select(ms, hints);
      if (!ss.ok()) return ApiError(resp, "execution", 422, ss.status().message());
      if (!all.empty()) ordered = false;
      const size_t from = all.size();
      while ((*ss)->Next()) {
        all.push_back((*ss)->TakeLabels());
        if (all.size() > from + 1 && !(all[all.size() - 2] < all.back())) ordered = false;
        if (all.size() > check_at) {
          if (!ordered) {
            std::sort(all.begin(), all.end());
            all.erase(std::unique(all.begin(), all.end()), all.end());
          }
          if (all.size() > o_.max_series_returned) return TooMany(resp, all.size());
          check_at = std::max(o_.max_series_returned, 2 * all.size());
        }
      }
    }
    if (!ordered) {
      std::sort(all.begin(), all.end());
      all.erase(std::unique(all.begin(), all.end()), all.end());
    }
    size_t n = 0;
    for (const auto& ls : all) {
      if (limit && n == limit) break;
      if (n++) j += ',';
      AppendLabels(j, ls);
    }
    j += ']';
    if (limit && all.size() > limit) j += ",\"warnings\":[\"results truncated due to limit\"]";
    j += '}';
    resp.Json(200, std::move(j));
  }

  void Labels(net::Request& req, net::Response& resp, const std::string* name) {
    std::vector<std::vector<tsdb::Matcher>> sets;
    if (!ParseMatchers(resp, req.FormParams("match[]"), &sets)) return;
    int64_t start, end;
    if (!TimeRange(req, resp, &start, &end)) return;
    bool ok;
    size_t limit = LimitParam(req, resp, &ok);
    if (!ok) return;
    auto q = o_.storage->NewQuerier(start, end);
    if (!q.ok()) return ApiError(resp, "internal", 500, q.status().message());
    if (sets.empty()) sets.emplace_back();
    std::set<std::string> out;
    for (const auto& ms : sets) {
      auto r = name ? (*q)->LabelValues(*name, ms) : (*q)->LabelNames(ms);
      if (!r.ok()) return ApiError(resp, "execution", 422, r.status().message());
      out.insert(r->begin(), r->end());
    }
    std::string j = "{\"status\":\"success\",\"data\":[";
    size_t n = 0;
    for (const auto& v : out) {
      if (limit && n == limit) break;
      if (n++) j += ',';
      j += net::JsonString(v);
    }
    j += ']';
    if (limit && out.size() > limit) j += ",\"warnings\":[\"results truncated due to limit\"]";
    j += '}';
    resp.Json(200, std::move(j));
  }

  void Metadata(net::Request& req, net::Response& resp) {
    std::string metric;
    req.FormParam("metric", &metric);
    bool ok;
    size_t limit = LimitParam(req, resp, &ok);
    if (!ok) return;
    auto md = o_.storage->Metadata(metric, limit);
    std::string j = "{\"status\":\"success\",\"data\":{";
    bool first = true;
    for (const auto& [name, m] : md) {
      if (!first) j += ',';
      first = false;
      j += net::JsonString(name) + ":[{\"type\":\"" + std::string(tsdb::MetricTypeName(m.type)) +
           "\",\"help\":" + net::JsonString(m.help) + ",\"unit\":" + net::JsonString(m.unit) + "}]";
    }
    j += "}}";
    resp.Json(200, std::move(j));
  }

  void Exemplars(net::Request& req, net::Response& resp) {
    std::string q;
    if (!req.FormParam("query", &q) || q.empty()) {
      return BadData(resp, "invalid parameter \"query\": query must not be empty");
    }
    auto parsed = query::ParseExpr(q);
    if (!parsed.ok()) return BadData(resp, parsed.status().message());
    int64_t start, end;
    if (!TimeRange(req, resp, &start, &end)) return;
    // As Prometheus: every selector of the query picks series (offsets and @ do not apply).
    std::vector<std::vector<tsdb::Matcher>> sets;
    CollectSelectors(parsed->get(), &sets);
    std::vector<tsdb::SeriesExemplars> found;
    if (!sets.empty()) found = o_.storage->SelectExemplars(sets, start, end);
    if (found.size() > o_.max_series_returned) return TooMany(resp, found.size());
    std::string j = "{\"status\":\"success\",\"data\":[";
    for (size_t i = 0; i < found.size(); ++i) {
      if (i) j += ',';
      j += "{\"seriesLabels\":";
      AppendLabels(j, found[i].series);
      j += ",\"exemplars\":[";
      for (size_t k = 0; k < found[i].exemplars.size(); ++k) {
        const tsdb::Exemplar& e = found[i].exemplars[k];
        if (k) j += ',';
        j += "{\"labels\":";
        AppendLabels(j, e.labels);
        j += ",\"value\":\"";
        query::functions::AppendFloatShortest(&j, e.value);
        j += "\",\"timestamp\":";
        AppendPromTime(j, e.t);
        j += '}';
      }
      j += "]}";
    }
    j += "]}";
    resp.Json(200, std::move(j));
  }

  // Prometheus text with ms timestamps for every sample of the matching series in [start, end]:
  // what `kansoku export` writes and /api/v1/import/prometheus reads back.
  void Export(net::Request& req, net::Response& resp) {
    auto matches = req.FormParams("match[]");
    if (matches.empty()) return BadData(resp, "no match[] parameter provided");
    std::vector<std::vector<tsdb::Matcher>> sets;
    if (!ParseMatchers(resp, matches, &sets)) return;
    int64_t start, end;
    if (!TimeRange(req, resp, &start, &end)) return;
    auto q = o_.storage->NewQuerier(start, end);
    if (!q.ok()) return ApiError(resp, "internal", 500, q.status().message());
    std::set<tsdb::Labels> seen;
    std::string out;
    tsdb::SelectHints hints{start, end, 0, "export", 0};
    for (const auto& ms : sets) {
      auto ss = (*q)->Select(ms, hints);
      if (!ss.ok()) return ApiError(resp, "execution", 422, ss.status().message());
      while ((*ss)->Next()) {
        const tsdb::Labels& ls = (*ss)->labels();
        if (!seen.insert(ls).second) continue;
        if (seen.size() > o_.max_series_returned) return TooMany(resp, seen.size());
        // UTF-8 names outside the legacy set are quoted: {"service.up","host.name"="a"}.
        auto quoted = [](std::string* out, std::string_view v) {
          *out += '"';
          for (char ch : v) {
            if (ch == '\\' || ch == '"') *out += '\\';
            if (ch == '\n') {
              *out += "\\n";
              continue;
            }
            *out += ch;
          }
          *out += '"';
        };
        const std::string_view metric = ls.MetricName();
        const bool legacy_metric = tsdb::IsValidMetricName(metric);
        std::string prefix(legacy_metric ? metric : std::string_view());
        std::string lbl;
        if (!legacy_metric) {
          lbl += '{';
          quoted(&lbl, metric);
        }
        for (const auto& l : ls) {
          if (l.name == tsdb::kMetricName) continue;
          lbl += lbl.empty() ? "{" : ",";
          if (tsdb::IsValidLabelName(l.name)) {
            lbl += l.name;
          } else {
            quoted(&lbl, l.name);
          }
          lbl += '=';
          quoted(&lbl, l.value);
        }
        if (!lbl.empty()) lbl += '}';
        prefix += lbl;
        prefix += ' ';
        auto it = (*ss)->Iterator();
        while (it->Next()) {
          tsdb::Sample s = it->At();
          if (tsdb::IsStaleNaN(s.v)) continue;
          out += prefix;
          query::functions::AppendFloatShortest(&out, s.v);
          out += ' ';
          out += std::to_string(s.t);
          out += '\n';
        }
        if (out.size() > (1u << 30)) {
          return ApiError(resp, "execution", 422,
                          "export larger than 1 GiB: narrow the selector or the time range");
        }
      }
    }
    resp.status = 200;
    resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
    resp.body = std::move(out);
  }

  void FormatQuery(net::Request& req, net::Response& resp) {
    std::string q;
    if (!req.FormParam("query", &q) || q.empty()) {
      return BadData(resp, "invalid parameter \"query\": query must not be empty");
    }
    auto parsed = query::ParseExpr(q);
    if (!parsed.ok()) return BadData(resp, parsed.status().message());
    resp.Json(200,
              "{\"status\":\"success\",\"data\":" + net::JsonString((*parsed)->String()) + "}");
  }

 private:
  PromApiOptions o_;
};

}  // namespace

Result<int64_t> ParsePromTime(const std::string& s) {
  // Go's min/max time as Prometheus formats them (clients send these back).
  if (s == "-292273086-05-16T16:47:06Z") return kMinTime;
  if (s == "292277025-08-18T07:12:54.999999999Z") return kMaxTime;
  char* end = nullptr;
  double f = std::strtod(s.c_str(), &end);
  if (!s.empty() && *end == '\0') {
    if (!std::isfinite(f))
      return Status::InvalidArgument("cannot parse \"" + s + "\" to a valid timestamp");
    return static_cast<int64_t>(std::llround(f * 1000.0));
  }
  // RFC 3339: YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return Status::InvalidArgument("cannot parse \"" + s + "\" to a valid timestamp");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  const char* p = s.c_str() + consumed;
  if (*p == '.') {
    ++p;
    int64_t frac = 0, digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits < 3) {
        frac = frac * 10 + (*p - '0');
        ++digits;
      }
      ++p;
    }
    while (digits < 3) {
      frac *= 10;
      ++digits;
    }
    ms += frac;
  }
  if (*p == 'Z' || *p == 'z') {
    ++p;
  } else if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2) {
      return Status::InvalidArgument("cannot parse \"" + s + "\" to a valid timestamp");
    }
    int64_t off = (hh * 60 + mm) * 60000LL;
    ms += *p == '+' ? -off : off;
    p += 6;
  } else {
    return Status::InvalidArgument("cannot parse \"" + s + "\" to a valid timestamp");
  }
  if (*p != '\0') return Status::InvalidArgument("cannot parse \"" + s + "\" to a valid timestamp");
  return ms;
}

Result<int64_t> ParsePromDuration(const std::string& s) {
  char* end = nullptr;
  double f = std::strtod(s.c_str(), &end);
  if (!s.empty() && *end == '\0') {
    if (!std::isfinite(f) || f * 1000 > 9.2e18 || f * 1000 < -9.2e18) {
      return Status::InvalidArgument("cannot parse \"" + s +
                                     "\" to a valid duration. It overflows int64");
    }
    return static_cast<int64_t>(std::llround(f * 1000.0));
  }
  auto d = ParseDurationMs(s);
  if (!d.ok()) return Status::InvalidArgument("cannot parse \"" + s + "\" to a valid duration");
  return *d;
}

std::string FormatPromTime(int64_t ms) {
  std::string out;
  AppendPromTime(out, ms);
  return out;
}

void RegisterPromApi(net::HttpServer& http, const PromApiOptions& opts) {
  auto api = std::make_shared<PromApi>(opts);
  auto add = [&](std::string path, bool prefix,
                 std::function<void(net::Request&, net::Response&)> h) {
    net::Route r;
    r.method = "";  // GET and form-encoded POST; others answer 405 below
    r.path = std::move(path);
    r.prefix = prefix;
    r.scope = net::kScopeRead;
    r.offload = true;
    r.max_body_bytes = 1 << 20;
    r.max_decoded_body_bytes = 8 << 20;
    r.handler = [h = std::move(h)](net::Request& req, net::Response& resp) {
      if (req.method != "GET" && req.method != "POST" && req.method != "HEAD") {
        return ApiError(resp, "bad_data", 405, "method " + req.method + " not allowed");
      }
      h(req, resp);
    };
    http.AddRoute(std::move(r));
  };
  add("/api/v1/query", false, [api](auto& q, auto& r) { api->Query(q, r, false); });
  add("/api/v1/query_range", false, [api](auto& q, auto& r) { api->Query(q, r, true); });
  add("/api/v1/series", false, [api](auto& q, auto& r) { api->Series(q, r); });
  add("/api/v1/labels", false, [api](auto& q, auto& r) { api->Labels(q, r, nullptr); });
  add("/api/v1/label/", true, [api](net::Request& q, net::Response& r) {
    // /api/v1/label/<name>/values
    std::string rest = q.path.substr(std::string("/api/v1/label/").size());
    size_t slash = rest.find('/');
    if (slash == std::string::npos || rest.substr(slash) != "/values") {
      return ApiError(r, "not_found", 404, "no route for " + q.path);
    }
    std::string name = UrlDecode(rest.substr(0, slash));
    // Prometheus 3: UTF-8 label names, plain or in the "U__" escaping (U__host_2e_name).
    if (name.size() > 3 && name.compare(0, 3, "U__") == 0) {
      auto decoded = DecodeU8Escaped(std::string_view(name).substr(3));
      if (!decoded) return BadData(r, "invalid label name: \"" + name + "\"");
      name = std::move(*decoded);
    }
    if (name.empty()) return BadData(r, "invalid label name: \"\"");
    api->Labels(q, r, &name);
  });
  add("/api/v1/metadata", false, [api](auto& q, auto& r) { api->Metadata(q, r); });
  add("/api/v1/query_exemplars", false, [api](auto& q, auto& r) { api->Exemplars(q, r); });
  add("/api/v1/export/prometheus", false, [api](auto& q, auto& r) { api->Export(q, r); });
  add("/api/v1/format_query", false, [api](auto& q, auto& r) { api->FormatQuery(q, r); });
  std::string version = opts.version;
  add("/api/v1/status/buildinfo", false, [version](net::Request&, net::Response& r) {
    r.Json(200, "{\"status\":\"success\",\"data\":{\"version\":\"" + version +
                    "\",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\",\"buildDate\":\"\","
                    "\"goVersion\":\"\",\"application\":\"kansoku\"}}");
  });
}

void AppendMatrixJson(std::string& j, const std::vector<query::Series>& m, int64_t start,
                      int64_t end, int64_t step) {
  AppendMatrix(j, m, StepTimes(start, end, step));
}

}  // namespace kansoku::api
