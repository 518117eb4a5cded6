#include "query/parser/fuzz_entry.h"

#include <string>
#include <string_view>

#include "base/check.h"
#include "query/parser/parser.h"

namespace kansoku::query {

int FuzzPromQLParser(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto r = ParseExpr(input);
  if (r.ok()) {
    std::string printed = (*r)->String();
    auto again = ParseExpr(printed);
    KANSOKU_CHECK(again.ok(), "BUG: printed PromQL does not parse back");
    KANSOKU_CHECK((*again)->String() == printed, "BUG: printed PromQL is not stable");
  }
  return 0;
}

}  // namespace kansoku::query
