#pragma once
// Server-side fingerprint rules of a project (docs/design/errors.md section 4), in Sentry's
// syntax, one rule per line, '#' starts a comment:
//
//   error.type:DatabaseUnavailable -> system-down
//   stack.function:"*checkout*" error.value:"*timeout*" -> checkout-timeout, {{ default }}
//   !tags.environment:prod message:"disk *" -> disk-not-prod title="Disk (not prod)"
//
// Matchers (globs with * and ?, case-insensitive; '!' negates): error.type (type),
// error.value (value), message (formatted message or any exception value), logger, level,
// tags.<key>, and the frame matchers stack.function (function), stack.module (module),
// stack.abs_path (path: abs_path or filename), app (yes/no: in_app), which must all hit the
// same frame. The first matching rule wins and replaces the SDK's fingerprint; its values may
// use the same {{ ... }} variables as SDK fingerprints. title="..." is accepted and ignored.
//
// Thread safety: immutable after Parse; Match is const and thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "errors/event.h"

namespace kansoku::errors {

class FingerprintRules {
 public:
  FingerprintRules() = default;
  // InvalidArgument naming the line: "line 3: unknown matcher \"stack.foo\"".
  static Result<FingerprintRules> Parse(std::string_view text);
  // The fingerprint of the first rule that matches e, or nullptr.
  const std::vector<std::string>* Match(const Event& e) const;
  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }

 private:
  enum class Field {
    kType,
    kValue,
    kMessage,
    kLogger,
    kLevel,
    kTag,
    kFunction,
    kModule,
    kPath,
    kApp
  };
  struct Matcher {
    Field field;
    std::string tag;   // for kTag
    std::string glob;  // lowercased
    bool negate = false;
  };
  struct Rule {
    std::vector<Matcher> matchers;
    std::vector<std::string> fingerprint;
  };
  static bool MatchOne(const Matcher& m, const Event& e);
  static bool MatchFrames(const std::vector<const Matcher*>& ms, const Event& e);
  std::vector<Rule> rules_;
};

}  // namespace kansoku::errors
