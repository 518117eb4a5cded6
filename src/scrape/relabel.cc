#include "scrape/relabel.h"

#include <openssl/evp.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "base/strings.h"

namespace kansoku::scrape {
namespace {

struct ActionName {
  RelabelAction action;
  std::string_view name;
};
constexpr ActionName kActions[] = {
    {RelabelAction::kReplace, "replace"},     {RelabelAction::kKeep, "keep"},
    {RelabelAction::kDrop, "drop"},           {RelabelAction::kKeepEqual, "keepequal"},
    {RelabelAction::kDropEqual, "dropequal"}, {RelabelAction::kHashMod, "hashmod"},
    {RelabelAction::kLabelMap, "labelmap"},   {RelabelAction::kLabelDrop, "labeldrop"},
    {RelabelAction::kLabelKeep, "labelkeep"}, {RelabelAction::kLowercase, "lowercase"},
    {RelabelAction::kUppercase, "uppercase"},
};

bool WordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool ValidLabelName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), WordChar);
}

const std::string* Find(const LabelSet& ls, std::string_view name) {
  for (const auto& l : ls) {
    if (l.first == name) return &l.second;
  }
  return nullptr;
}

// Sets name=value; an empty value removes the label (Prometheus label sets have no empty values).
void Set(LabelSet* ls, std::string_view name, std::string value) {
  auto it = std::find_if(ls->begin(), ls->end(), [&](const Label& l) { return l.first == name; });
  if (value.empty()) {
    if (it != ls->end()) ls->erase(it);
  } else if (it != ls->end()) {
    it->second = std::move(value);
  } else {
    ls->emplace_back(std::string(name), std::move(value));
  }
}

uint64_t Md5Low64(std::string_view s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(s.data(), s.size(), md, &len, EVP_md5(), nullptr) != 1 || len != 16) return 0;
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | md[i];
  return v;
}

}  // namespace

Result<RelabelAction> ParseRelabelAction(std::string_view name) {
  std::string lower = ToLower(name);
  std::string all;
  for (const auto& a : kActions) {
    if (a.name == lower) return a.action;
    all += all.empty() ? "" : ", ";
    all += a.name;
  }
  return Status::InvalidArgument("unknown relabel action \"" + std::string(name) + "\" (one of " +
                                 all + ")");
}

std::string_view RelabelActionName(RelabelAction a) {
  for (const auto& x : kActions) {
    if (x.action == a) return x.name;
  }
  return "?";
}

struct Relabeler::Rule {
  RelabelRule cfg;
  std::shared_ptr<re2::RE2> re;
  int groups = 0;  // capturing groups + 1 (the whole match)

  // Go's Regexp.Expand over the submatches of the last match.
  std::string Expand(std::string_view tmpl, const std::vector<re2::StringPiece>& m) const {
    std::string out;
    for (size_t i = 0; i < tmpl.size(); ++i) {
      if (tmpl[i] != '$') {
        out += tmpl[i];
        continue;
      }
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '$') {
        out += '$';
        ++i;
        continue;
      }
      std::string_view name;
      size_t end = i + 1;
      if (end < tmpl.size() && tmpl[end] == '{') {
        size_t close = tmpl.find('}', end + 1);
        if (close != std::string_view::npos) {
          name = tmpl.substr(end + 1, close - end - 1);
          end = close + 1;
        }
        if (!std::all_of(name.begin(), name.end(), WordChar)) name = {};
      } else {
        while (end < tmpl.size() && WordChar(tmpl[end])) ++end;
        name = tmpl.substr(i + 1, end - i - 1);
      }
      if (name.empty()) {  // malformed: the '$' is literal text
        out += '$';
        continue;
      }
      int num = -1;
      if (std::all_of(name.begin(), name.end(),
                      [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
        num = name.size() < 9 ? std::stoi(std::string(name)) : -1;
      } else {
        const auto& named = re->NamedCapturingGroups();
        auto it = named.find(std::string(name));
        if (it != named.end()) num = it->second;
      }
      if (num >= 0 && num < static_cast<int>(m.size()) && m[num].data() != nullptr) {
        out.append(m[num].data(), m[num].size());
      }
      i = end - 1;
    }
    return out;
  }

  bool Match(std::string_view s, std::vector<re2::StringPiece>* m) const {
    m->assign(static_cast<size_t>(groups), re2::StringPiece());
    return re->Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), re2::RE2::ANCHOR_BOTH,
                     m->data(), groups);
  }
};

Relabeler::Relabeler() = default;
Relabeler::~Relabeler() = default;
Relabeler::Relabeler(Relabeler&&) noexcept = default;
Relabeler& Relabeler::operator=(Relabeler&&) noexcept = default;

Result<Relabeler> Relabeler::Compile(const std::vector<RelabelRule>& rules) {
  Relabeler out;
  for (size_t i = 0; i < rules.size(); ++i) {
    const RelabelRule& r = rules[i];
    const std::string where =
        "rule " + std::to_string(i + 1) + " (" + std::string(RelabelActionName(r.action)) + ")";
    Rule c;
    c.cfg = r;
    c.re = std::make_shared<re2::RE2>(r.regex, re2::RE2::Quiet);
    if (!c.re->ok()) {
      return Status::InvalidArgument(where + ": bad regex \"" + r.regex + "\": " + c.re->error());
    }
    c.groups = c.re->NumberOfCapturingGroups() + 1;
    switch (r.action) {
      case RelabelAction::kReplace:
      case RelabelAction::kHashMod:
      case RelabelAction::kLowercase:
      case RelabelAction::kUppercase:
      case RelabelAction::kKeepEqual:
      case RelabelAction::kDropEqual:
        if (r.target_label.empty()) return Status::InvalidArgument(where + " needs target_label");
        if (r.action != RelabelAction::kReplace && !ValidLabelName(r.target_label)) {
          return Status::InvalidArgument(where + ": \"" + r.target_label +
                                         "\" is not a valid label name");
        }
        break;
      case RelabelAction::kKeep:
      case RelabelAction::kDrop:
        if (r.source_labels.empty()) {
          return Status::InvalidArgument(where + " needs source_labels");
        }
        break;
      case RelabelAction::kLabelDrop:
      case RelabelAction::kLabelKeep:
        if (!r.source_labels.empty() || !r.target_label.empty()) {
          return Status::InvalidArgument(where +
                                         " matches label names: source_labels and target_label "
                                         "are not allowed");
        }
        break;
      case RelabelAction::kLabelMap:
        break;
    }
    if (r.action == RelabelAction::kHashMod && r.modulus == 0) {
      return Status::InvalidArgument(where + " needs a modulus above 0");
    }
    out.rules_.push_back(std::move(c));
  }
  return out;
}

bool Relabeler::Apply(LabelSet* labels) const {
  std::string val;
  std::vector<re2::StringPiece> m;
  for (const Rule& r : rules_) {
    const RelabelRule& c = r.cfg;
    val.clear();
    for (size_t i = 0; i < c.source_labels.size(); ++i) {
      if (i) val += c.separator;
      if (const std::string* v = Find(*labels, c.source_labels[i])) val += *v;
    }
    switch (c.action) {
      case RelabelAction::kKeep:
        if (!r.Match(val, &m)) return false;
        break;
      case RelabelAction::kDrop:
        if (r.Match(val, &m)) return false;
        break;
      case RelabelAction::kKeepEqual:
      case RelabelAction::kDropEqual: {
        const std::string* t = Find(*labels, c.target_label);
        bool equal = val == (t ? *t : std::string());
        if (equal != (c.action == RelabelAction::kKeepEqual)) return false;
        break;
      }
      case RelabelAction::kReplace: {
        if (!r.Match(val, &m)) break;
        std::string target = r.Expand(c.target_label, m);
        if (!ValidLabelName(target)) break;
        Set(labels, target, r.Expand(c.replacement, m));
        break;
      }
      case RelabelAction::kLowercase:
        Set(labels, c.target_label, ToLower(val));
        break;
      case RelabelAction::kUppercase: {
        std::string up = val;
        for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        Set(labels, c.target_label, std::move(up));
        break;
      }
      case RelabelAction::kHashMod:
        Set(labels, c.target_label, std::to_string(Md5Low64(val) % c.modulus));
        break;
      case RelabelAction::kLabelMap: {
        LabelSet added;
        for (const auto& l : *labels) {
          if (!r.Match(l.first, &m)) continue;
          std::string name = r.Expand(c.replacement, m);
          if (ValidLabelName(name)) added.emplace_back(std::move(name), l.second);
        }
        for (auto& l : added) Set(labels, l.first, std::move(l.second));
        break;
      }
      case RelabelAction::kLabelDrop:
      case RelabelAction::kLabelKeep: {
        const bool keep = c.action == RelabelAction::kLabelKeep;
        labels->erase(std::remove_if(labels->begin(), labels->end(),
                                     [&](const Label& l) { return r.Match(l.first, &m) != keep; }),
                      labels->end());
        break;
      }
    }
  }
  return true;
}

}  // namespace kansoku::scrape
