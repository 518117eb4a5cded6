#include "query/engine/eval_util.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

namespace kansoku::query::internal {

using tsdb::Labels;

std::string KeyOf(const Labels& ls, const std::vector<std::string>& names, bool on) {
  std::string key;
  if (on) {
    for (const auto& n : names) {
      key += n;
      key += '\xff';
      key += ls.Get(n);
      key += '\xff';
    }
  } else {
    for (const auto& l : ls) {
      if (l.name == tsdb::kMetricName) continue;
      if (std::find(names.begin(), names.end(), l.name) != names.end()) continue;
      key += l.name;
      key += '\xff';
      key += l.value;
      key += '\xff';
    }
  }
  return key;
}

std::string LabelsKey(const Labels& ls) {
  std::string key;
  for (const auto& l : ls) {
    key += l.name;
    key += '\xff';
    key += l.value;
    key += '\xff';
  }
  return key;
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0) return false;
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += static_cast<size_t>(n) + 1;
  }
  return true;
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      int n = (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
      bool ok = n > 0 && i + n < s.size() + 1;
      for (int k = 1; ok && k <= n; ++k) {
        if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) ok = false;
      }
      if (ok) {
        out.append(s.substr(i, n + 1));
        i += n + 1;
      } else {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
}

Status CheckNoDuplicates(const std::vector<EvalSeries>& series) {
  std::unordered_map<std::string, std::vector<size_t>> by;
  for (size_t i = 0; i < series.size(); ++i) by[LabelsKey(series[i].labels)].push_back(i);
  for (const auto& [k, idx] : by) {
    if (idx.size() < 2) continue;
    std::vector<int64_t> ts;
    for (size_t i : idx) {
      for (const auto& p : series[i].points) ts.push_back(p.t);
    }
    std::sort(ts.begin(), ts.end());
    if (std::adjacent_find(ts.begin(), ts.end()) != ts.end()) {
      return ExecError("vector cannot contain metrics with the same labelset");
    }
  }
  return Status::Ok();
}

}  // namespace kansoku::query::internal
