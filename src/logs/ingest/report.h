#pragma once
// What a log decoder tells its caller about one request / one batch of frames.
//
// Decoders never drop data silently: a line that cannot be parsed is kept as a record whose
// message is the raw line, flagged kFlagParseError with the reason in the field _parse_error
// (`flagged`); only input that yields no record at all (an empty body, a Loki stream without
// entries, an ES `delete` action) is `rejected`, with a reason.
// Thread safety: a plain value owned by one request.
#include <cstdint>
#include <string>
#include <vector>

namespace kansoku::logs::ingest {

struct Report {
  uint64_t records = 0;             // records produced (including flagged ones)
  uint64_t flagged = 0;             // records stored with kFlagParseError
  uint64_t rejected = 0;            // input items that produced no record
  std::vector<std::string> errors;  // first few problems: "line 3: cannot parse JSON: ..."

  void Error(std::string e) {
    if (errors.size() < 10) errors.push_back(std::move(e));
  }
  std::string Summary() const;  // errors joined with "; " (+ "and N more")
};

inline std::string Report::Summary() const {
  std::string s;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i) s += "; ";
    s += errors[i];
  }
  uint64_t bad = flagged + rejected;
  if (bad > errors.size()) s += " (and " + std::to_string(bad - errors.size()) + " more)";
  return s;
}

}  // namespace kansoku::logs::ingest
