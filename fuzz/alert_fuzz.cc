// Fuzzes the alerting parsers: Prometheus rule files (with PromQL and templates inside),
// the notifications file, and template expansion. The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "alert/notify_config.h"
#include "alert/rule_file.h"
#include "alert/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      (void)kansoku::alert::ParseRuleFile(in, "fuzz.yml");
      break;
    case 1:
      (void)kansoku::alert::ParseNotifyConfig(in, "fuzz.yml");
      break;
    default: {
      kansoku::tsdb::Labels ls{{"instance", "a"}, {"job", "j"}};
      kansoku::alert::TemplateData d;
      d.labels = &ls;
      d.value = 42.5;
      (void)kansoku::alert::ExpandTemplate(in, "fuzz", d);
      break;
    }
  }
  return 0;
}
