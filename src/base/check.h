#pragma once
// Invariant checks. KANSOKU_CHECK is always on and aborts with file:line and the message;
// KANSOKU_DCHECK only in debug builds. Messages start with "BUG:". Never use either on network
// or user input: that is a Status.
namespace kansoku::internal {
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const char* msg);
}  // namespace kansoku::internal

#define KANSOKU_CHECK(cond, msg)                                                   \
  do {                                                                             \
    if (!(cond)) ::kansoku::internal::CheckFailed(__FILE__, __LINE__, #cond, msg); \
  } while (0)

#ifdef NDEBUG
#define KANSOKU_DCHECK(cond, msg) \
  do {                            \
  } while (0)
#else
#define KANSOKU_DCHECK(cond, msg) KANSOKU_CHECK(cond, msg)
#endif
