#include "tsdb/labels.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <algorithm>

#include "base/same_bytes.h"

namespace kansoku::tsdb {

namespace {
void SortUnique(std::vector<Label>& v) {
  std::stable_sort(v.begin(), v.end(),
                   [](const Label& a, const Label& b) { return a.name < b.name; });
  // Keep the last of equal names (later settings win).
  std::vector<Label> out;
  out.reserve(v.size());
  for (auto& l : v) {
    if (!out.empty() && out.back().name == l.name)
      out.back() = std::move(l);
    else
      out.push_back(std::move(l));
  }
  std::erase_if(out, [](const Label& l) { return l.value.empty(); });
  v = std::move(out);
}
}  // namespace

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n;
    if (c < 0x80)
      n = 0;
    else if ((c >> 5) == 6)
      n = 1;
    else if ((c >> 4) == 14)
      n = 2;
    else if ((c >> 3) == 30)
      n = 3;
    else
      return false;
    if (i + n >= s.size() && n > 0) return false;
    for (size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += n + 1;
  }
  return true;
}

Labels::Labels(std::initializer_list<Label> labels) : labels_(labels) { SortUnique(labels_); }

Labels Labels::FromVector(std::vector<Label> labels) {
  Labels l;
  l.labels_ = std::move(labels);
  SortUnique(l.labels_);
  return l;
}

Labels Labels::FromSortedUnchecked(std::vector<Label> labels) {
  Labels l;
  l.labels_ = std::move(labels);
  return l;
}

std::string_view Labels::Get(std::string_view name) const {
  for (const Label& l : labels_) {
    if (l.name == name) return l.value;
  }
  return {};
}

bool Labels::Has(std::string_view name) const {
  for (const Label& l : labels_) {
    if (l.name == name) return true;
  }
  return false;
}

int Labels::Compare(const Labels& o) const {
  const size_t n = std::min(labels_.size(), o.labels_.size());
  for (size_t k = 0; k < n; ++k) {
    const Label& a = labels_[k];
    const Label& b = o.labels_[k];
    if (const int c = CompareBytes(a.name, b.name); c != 0) return c < 0 ? -1 : 1;
    if (const int c = CompareBytes(a.value, b.value); c != 0) return c < 0 ? -1 : 1;
  }
  return labels_.size() < o.labels_.size() ? -1 : (labels_.size() > o.labels_.size() ? 1 : 0);
}

uint64_t Labels::Hash() const {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  static const char kSep = '\xff';
  for (const Label& l : labels_) {
    XXH3_64bits_update(&st, l.name.data(), l.name.size());
    XXH3_64bits_update(&st, &kSep, 1);
    XXH3_64bits_update(&st, l.value.data(), l.value.size());
    XXH3_64bits_update(&st, &kSep, 1);
  }
  return XXH3_64bits_digest(&st);
}

namespace {
// Go-style double-quoted string (\\, \", \n escaped) as Prometheus prints label values.
void AppendQuoted(std::string& out, std::string_view v) {
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
}
}  // namespace

std::string Labels::ToString() const {
  // Prometheus 3: names outside the legacy character set are quoted, a quoted metric name goes
  // inside the braces: {"service.up", "host.name"="a"}.
  std::string out;
  std::string_view name = MetricName();
  const bool quoted_name = !name.empty() && !IsValidMetricName(name);
  if (!quoted_name) out += name;
  out += '{';
  bool first = true;
  if (quoted_name) {
    AppendQuoted(out, name);
    first = false;
  }
  for (const Label& l : labels_) {
    if (l.name == kMetricName) continue;
    if (!first) out += ", ";
    first = false;
    if (IsValidLabelName(l.name)) {
      out += l.name;
    } else {
      AppendQuoted(out, l.name);
    }
    out += '=';
    AppendQuoted(out, l.value);
  }
  out += '}';
  return out;
}

LabelsBuilder::LabelsBuilder(const Labels& base) : labels_(base.items()) {}

LabelsBuilder& LabelsBuilder::Set(std::string_view name, std::string_view value) {
  for (Label& l : labels_) {
    if (l.name == name) {
      l.value = std::string(value);
      return *this;
    }
  }
  labels_.push_back({std::string(name), std::string(value)});
  return *this;
}

LabelsBuilder& LabelsBuilder::Del(std::string_view name) {
  std::erase_if(labels_, [&](const Label& l) { return l.name == name; });
  return *this;
}

Labels LabelsBuilder::Build() const { return Labels::FromVector(labels_); }

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

Status ValidateLabels(const Labels& labels) {
  // Prometheus 3 (UTF-8 names): metric and label names are any non-empty valid UTF-8.
  std::string_view name = labels.MetricName();
  if (name.empty()) return Status::InvalidArgument("series has no metric name (__name__)");
  if (!ValidUtf8(name)) {
    return Status::InvalidArgument("metric name of " + labels.ToString() + " is not valid UTF-8");
  }
  for (const Label& l : labels) {
    if (l.name == kMetricName) continue;
    if (!ValidUtf8(l.name)) {
      return Status::InvalidArgument("a label name of metric \"" + std::string(name) +
                                     "\" is not valid UTF-8");
    }
    if (!ValidUtf8(l.value)) {
      return Status::InvalidArgument("label \"" + l.name + "\" of metric \"" + std::string(name) +
                                     "\" has a value that is not valid UTF-8");
    }
  }
  return Status::Ok();
}

}  // namespace kansoku::tsdb
