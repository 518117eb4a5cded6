// Fuzzes the alerting parsers: Prometheus rule files (with PromQL and templates inside),
// the notifications file, template expansion, and cron schedules + time zone names (they come
// from Sentry check-in payloads). The first byte picks the parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "alert/cron.h"
#include "alert/notify_config.h"
#include "alert/rule_file.h"
#include "alert/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      (void)kansoku::alert::ParseRuleFile(in, "fuzz.yml");
      break;
    case 1:
      (void)kansoku::alert::ParseNotifyConfig(in, "fuzz.yml");
      break;
    case 3: {  // "<schedule>\n<time zone>"
      size_t nl = in.find('\n');
      auto s = kansoku::alert::CronSchedule::Parse(in.substr(0, nl));
      auto tz = kansoku::alert::TimeZone::Load(nl == std::string::npos ? "" : in.substr(nl + 1));
      if (s.ok() && tz.ok()) (void)s->NextAfter(1764150000000, *tz);
      break;
    }
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
