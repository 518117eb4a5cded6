#include "alert/template.h"

#include <gtest/gtest.h>

namespace kansoku::alert {
namespace {

std::string Expand(const std::string& text, double value = 0) {
  tsdb::Labels ls{{"instance", "web-1:9100"}, {"job", "node"}};
  tsdb::Labels ext{{"cluster", "tokyo"}};
  TemplateData d;
  d.labels = &ls;
  d.value = value;
  d.external_labels = &ext;
  auto t = Template::Parse(text, "t");
  if (!t.ok()) return "PARSE: " + t.status().message();
  auto r = t->Execute(d);
  if (!r.ok()) return "EXEC: " + r.status().message();
  return *r;
}

TEST(TemplateTest, Table) {
  struct Case {
    std::string text;
    double value;
    std::string want;
  } cases[] = {
      {"plain text", 0, "plain text"},
      {"{{ $labels.instance }} down", 0, "web-1:9100 down"},
      {"{{ .Labels.job }}/{{$labels.missing}}", 0, "node/"},
      {"v={{ $value }}", 0.5, "v=0.5"},
      {"v={{ .Value }}", 1e6, "v=1e+06"},
      {"v={{ $value }}", 123456, "v=123456"},
      {"{{ $value | humanize }}", 1234567, "1.235M"},
      {"{{ humanize $value }}", 0.00123, "1.23m"},
      {"{{ $value | humanize1024 }}", 2048, "2ki"},
      {"{{ $value | humanizePercentage }}", 0.256, "25.6%"},
      {"{{ $value | humanizeDuration }}", 3725, "1h 2m 5s"},
      {"{{ $value | humanizeDuration }}", 0.25, "250ms"},
      {"{{ printf \"%.2f\" $value }}", 3.14159, "3.14"},
      {"{{ $labels.job | toUpper }}", 0, "NODE"},
      {"{{ $externalLabels.cluster }}", 0, "tokyo"},
      {"{{ index $labels \"job\" }}", 0, "node"},
      {"a {{- /* c */ -}} b", 0, "ab"},
      {"x  {{- $labels.job -}}  y", 0, "xnodey"},
      {"{{ $value | humanizeTimestamp }}", 1700000000, "2023-11-14 22:13:20 +0000 UTC"},
  };
  for (const auto& c : cases) EXPECT_EQ(Expand(c.text, c.value), c.want) << c.text;
}

TEST(TemplateTest, Errors) {
  EXPECT_NE(Expand("{{ $labels.job ").find("PARSE: template: t:1: unclosed action"),
            std::string::npos);
  EXPECT_NE(Expand("{{ if $value }}x{{ end }}").find("not supported"), std::string::npos);
  EXPECT_NE(Expand("{{ $nope }}").find("undefined variable"), std::string::npos);
  EXPECT_NE(Expand("{{ frobnicate $value }}").find("not defined"), std::string::npos);
  EXPECT_NE(Expand("{{ $labels.job | humanize }}").find("EXEC:"), std::string::npos);
  // A width or precision that would make the output huge is an error, not an allocation.
  EXPECT_NE(Expand("{{ printf \"%.2000000000f\" $value }}")
                .find("precision 2000000000 in %.2000000000f is above 200"),
            std::string::npos);
  EXPECT_NE(Expand("{{ printf \"%999s\" \"x\" }}").find("is above 200"), std::string::npos);
  EXPECT_NE(
      Expand("{{ printf \"%.000000000000000000000000612581581f\" $value }}").find("is above 200"),
      std::string::npos);  // the fuzzer's input: leading zeros do not hide the size
  EXPECT_EQ(Expand("{{ printf \"%8.3f|%-4d\" $value $value }}", 2.5), "   2.500|2   ");
  // ExpandTemplate never fails: the error becomes the text.
  TemplateData d;
  std::string s = ExpandTemplate("{{ nope }}", "summary", d);
  EXPECT_EQ(s.rfind("<error expanding template: ", 0), 0u) << s;
}

TEST(TemplateTest, GoFloat) {
  EXPECT_EQ(GoFormatFloat(1), "1");
  EXPECT_EQ(GoFormatFloat(0.0001), "0.0001");
  EXPECT_EQ(GoFormatFloat(0.00001), "1e-05");
  EXPECT_EQ(GoFormatFloat(123456), "123456");
  EXPECT_EQ(GoFormatFloat(1234567), "1.234567e+06");
  EXPECT_EQ(GoFormatFloat(1e21), "1e+21");
  EXPECT_EQ(GoFormatFloat(-2.5), "-2.5");
}

}  // namespace
}  // namespace kansoku::alert
