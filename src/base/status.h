#pragma once
// Status and Result<T>: expected failures as values.
//
// A Status is OK or carries a Code and a human message ("cannot parse X %q: cause"). Result<T>
// holds either a T or a non-OK Status. Both are cheap to move and [[nodiscard]]: ignoring one is a
// compile warning (an error in CI). No exceptions cross subsystem boundaries; Status is how errors
// travel. Thread safety: plain values, no shared state.
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "base/check.h"

namespace kansoku {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kInvalidArgument,  // bad input from a client or a config file
    kNotFound,
    kAlreadyExists,
    kPermissionDenied,   // authenticated, wrong scope
    kUnauthenticated,    // no or unknown credentials
    kResourceExhausted,  // limit reached: body size, series, rate
    kUnavailable,        // overloaded or shutting down: try again
    kDeadlineExceeded,
    kCorruption,  // on-disk data does not parse
    kIOError,
    kInternal,  // a bug; message starts with "BUG:"
  };

  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {Code::kResourceExhausted, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {Code::kDeadlineExceeded, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  // errno at the edge: "context: strerror(errno)".
  static Status FromErrno(std::string_view context, int err);
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>"
  std::string ToString() const;
  static std::string_view CodeName(Code code);

  // Returns a copy with "context: " prepended to the message.
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    KANSOKU_CHECK(!std::get<Status>(v_).ok(), "BUG: Result constructed from an OK status");
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    KANSOKU_CHECK(ok(), "BUG: value() on an error Result");
    return std::get<T>(v_);
  }
  const T& value() const& {
    KANSOKU_CHECK(ok(), "BUG: value() on an error Result");
    return std::get<T>(v_);
  }
  T&& value() && {
    KANSOKU_CHECK(ok(), "BUG: value() on an error Result");
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace kansoku

// Propagates a non-OK Status from an expression returning Status.
#define KANSOKU_RETURN_IF_ERROR(expr) \
  do {                                \
    ::kansoku::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

#define KANSOKU_CONCAT_INNER_(a, b) a##b
#define KANSOKU_CONCAT_(a, b) KANSOKU_CONCAT_INNER_(a, b)
// KANSOKU_ASSIGN_OR_RETURN(auto x, Foo()): x = value, or return the error.
#define KANSOKU_ASSIGN_OR_RETURN(lhs, expr)                                                     \
  auto KANSOKU_CONCAT_(_res_, __LINE__) = (expr);                                               \
  if (!KANSOKU_CONCAT_(_res_, __LINE__).ok()) return KANSOKU_CONCAT_(_res_, __LINE__).status(); \
  /* NOLINTNEXTLINE(bugprone-macro-parentheses): lhs may be a declaration */                    \
  lhs = std::move(KANSOKU_CONCAT_(_res_, __LINE__)).value()
