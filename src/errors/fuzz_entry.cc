#include "errors/fuzz_entry.h"

#include <string>
#include <string_view>

#include "errors/envelope.h"
#include "errors/event.h"
#include "errors/grouping.h"
#include "errors/logback.h"

namespace kansoku::errors {

int FuzzSentryEnvelope(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Envelope env;
  (void)ParseEnvelope(body, &env);
  for (const auto& item : env.items) {
    (void)ItemCategory(item.type);
    if (item.type != "event") continue;
    Event e;
    if (ParseEvent(item.payload, &e).ok()) (void)GroupEvent(e);
  }
  return 0;
}

int FuzzSentryEvent(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  Event e;
  if (ParseEvent(body, &e).ok()) {
    Grouping g = GroupEvent(e);
    (void)g;
  }
  (void)NormalizeMessage(body);
  (void)NormalizeFilename(body);
  (void)ParseSentryTimestamp(body);
  JavaInAppRules rules;
  (void)ParseJavaStackTrace(body, rules);
  std::string t, l, m;
  (void)SplitLogbackSyslogLine(body, &t, &l, &m);
  return 0;
}

}  // namespace kansoku::errors
