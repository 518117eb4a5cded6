#include "ingest/prom_text/parser.h"

#include <cmath>

#include <gtest/gtest.h>

#include "ingest/common/appender_sink.h"
#include "ingest/common/test_util.h"

namespace kansoku::ingest::prom_text {
namespace {

constexpr int64_t kNow = 1795671866473;

DecodeOptions Opts() {
  DecodeOptions o;
  o.now_ms = kNow;
  return o;
}

struct Parsed {
  CollectingSink sink;
  DecodeReport report;
};

std::unique_ptr<Parsed> Parse(std::string_view body, Format f = Format::kPrometheusText,
                              const DecodeOptions& opts = Opts()) {
  auto p = std::make_unique<Parsed>();
  ParsePromText(body, f, opts, p->sink, p->report);
  return p;
}

// Lines as node_exporter 1.5 serves them (shared/clients/README.md, summary table).
TEST(PromTextTest, NodeExporterPayload) {
  auto p = Parse(
      "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection "
      "cycles.\n"
      "# TYPE go_gc_duration_seconds summary\n"
      "go_gc_duration_seconds{quantile=\"0\"} 0\n"
      "go_gc_duration_seconds_sum 0.001\n"
      "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n"
      "# TYPE node_cpu_seconds_total counter\n"
      "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 320.13\n"
      "node_load1 1.02\n"
      "node_filesystem_avail_bytes{device=\"/dev/vda\",fstype=\"ext4\",mountpoint=\"/\"} "
      "8.359112704e+10\n");
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 5u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "go_gc_duration_seconds"}, {"quantile", "0"}}));
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, kNow);
  EXPECT_EQ(p->sink.rows[2].labels,
            (tsdb::Labels{{"__name__", "node_cpu_seconds_total"}, {"cpu", "0"}, {"mode", "idle"}}));
  EXPECT_EQ(p->sink.rows[2].value, 320.13);
  EXPECT_EQ(p->sink.rows[4].value, 8.359112704e+10);
  EXPECT_EQ(p->sink.rows[4].line, 9u);
  ASSERT_EQ(p->sink.metadata.size(), 2u);
  EXPECT_EQ(p->sink.metadata[0].metric_family, "go_gc_duration_seconds");
  EXPECT_EQ(p->sink.metadata[0].md.type, tsdb::MetricType::kSummary);
  EXPECT_EQ(p->sink.metadata[0].md.help,
            "A summary of the pause duration of garbage collection cycles.");
  EXPECT_EQ(p->sink.metadata[1].md.type, tsdb::MetricType::kCounter);
}

TEST(PromTextTest, ValuesTimestampsEscapesAndWhitespace) {
  auto p = Parse(
      "  a 1 1795671000000\r\n"
      "\n"
      "b{x=\"q\\\"uo\\\\te\\nd\",y=\"\\t\",} +Inf\n"
      "c -Inf\n"
      "d NaN 1795671866000\n"
      "e { x = \"1\" } 2\n"
      "{\"my.metric\", \"my.label\"=\"v\"} 3\n"
      "# a comment\n"
      "# HELP f multi\\nline \\\\ help\n");
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 6u);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1795671000000);
  EXPECT_EQ(p->sink.rows[1].labels.Get("x"), "q\"uo\\te\nd");
  EXPECT_EQ(p->sink.rows[1].labels.Get("y"), "\\t");
  EXPECT_TRUE(std::isinf(p->sink.rows[1].value) && p->sink.rows[1].value > 0);
  EXPECT_TRUE(std::isinf(p->sink.rows[2].value) && p->sink.rows[2].value < 0);
  EXPECT_TRUE(std::isnan(p->sink.rows[3].value));
  EXPECT_EQ(p->sink.rows[3].timestamp_ms, 1795671866000);
  EXPECT_EQ(p->sink.rows[4].labels, (tsdb::Labels{{"__name__", "e"}, {"x", "1"}}));
  EXPECT_EQ(p->sink.rows[5].labels, (tsdb::Labels{{"__name__", "my.metric"}, {"my.label", "v"}}));
  ASSERT_EQ(p->sink.metadata.size(), 1u);
  EXPECT_EQ(p->sink.metadata[0].md.help, "multi\nline \\ help");
}

TEST(PromTextTest, OpenMetrics) {
  auto p = Parse(
      "# TYPE foo counter\n"
      "# UNIT foo seconds\n"
      "# HELP foo Foo.\n"
      "foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
      "foo_created 1520430000.123\n"
      "# EOF\n"
      "ignored 1\n",
      Format::kOpenMetrics);
  ASSERT_EQ(p->report.rows_rejected(), 0u) << p->report.Summary();
  ASSERT_EQ(p->sink.rows.size(), 2u);
  EXPECT_EQ(p->sink.rows[0].timestamp_ms, 1520879607789);
  EXPECT_EQ(p->sink.rows[0].value, 17);
  ASSERT_EQ(p->sink.metadata.size(), 1u);
  EXPECT_EQ(p->sink.metadata[0].md,
            (tsdb::MetricMetadata{tsdb::MetricType::kCounter, "Foo.", "seconds"}));
  // The exemplar without a timestamp gets the sample's.
  ASSERT_EQ(p->sink.exemplars.size(), 1u);
  EXPECT_EQ(p->sink.exemplars[0].series, (tsdb::Labels{{"__name__", "foo_total"}}));
  EXPECT_EQ(p->sink.exemplars[0].exemplar,
            (tsdb::Exemplar{tsdb::Labels{{"trace_id", "KOO5S4vxi0o"}}, 0.67, 1520879607789}));
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text; version=1.0.0"),
            Format::kOpenMetrics);
}

TEST(PromTextTest, OpenMetricsExemplars) {
  auto p = Parse(
      "a_bucket{le=\"1\"} 3 # {trace_id=\"x\", span=\"q\\\"\"} 0.5 1520879607.5\n"
      "b_total 1 # {} 2\n"
      "c_total 1 #{trace_id=\"y\"} 1\n"
      "d_total 1 # trace_id=\"y\" 1\n"
      "e_total 1 # {trace_id=\"y\"}\n"
      "f_total 1 # {trace_id=\"y\"} 1 2 3\n"
      "g_total 1 # {\"g\"} 1\n"
      "h_total 1 # {trace_id=\"y\"} 1 soon\n",
      Format::kOpenMetrics);
  ASSERT_EQ(p->sink.rows.size(), 3u) << p->report.Summary();
  ASSERT_EQ(p->sink.exemplars.size(), 3u);
  EXPECT_EQ(p->sink.exemplars[0].exemplar,
            (tsdb::Exemplar{tsdb::Labels{{"span", "q\""}, {"trace_id", "x"}}, 0.5, 1520879607500}));
  EXPECT_EQ(p->sink.exemplars[0].series.Get("le"), "1");
  EXPECT_EQ(p->sink.exemplars[1].exemplar, (tsdb::Exemplar{tsdb::Labels{}, 2, kNow}));
  EXPECT_EQ(p->sink.exemplars[2].series.MetricName(), "c_total");
  EXPECT_EQ(p->report.rejected(RejectReason::kSyntax), 5u);
  const std::string all = p->report.Summary();
  EXPECT_NE(all.find("line 4: cannot parse the exemplar of metric \"d_total\": expected '{' after "
                     "'#'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("line 5: cannot parse the exemplar of metric \"e_total\": missing value"),
            std::string::npos)
      << all;
  // The 0.0.4 text format has no exemplars: the comment is ignored.
  auto q = Parse("a 1 # {trace_id=\"x\"} 1\n");
  EXPECT_EQ(q->sink.rows.size(), 1u);
  EXPECT_TRUE(q->sink.exemplars.empty());
  EXPECT_EQ(FormatFromContentType("text/plain; version=0.0.4"), Format::kPrometheusText);
}

TEST(PromTextTest, BadLinesAreReportedAndGoodOnesKept) {
  struct Case {
    std::string_view line;
    RejectReason reason;
    std::string_view error;
  };
  const Case cases[] = {
      {"x abc", RejectReason::kBadValue,
       "line 2: cannot parse value \"abc\" of metric \"x\": not a number"},
      {"x", RejectReason::kBadValue,
       "line 2: cannot parse value \"\" of metric \"x\": missing value"},
      {"x 1 12.5", RejectReason::kBadTimestamp,
       "line 2: cannot parse timestamp \"12.5\" of metric \"x\": want integer milliseconds"},
      {"x{a=\"1\" 2", RejectReason::kSyntax,
       "line 2: cannot parse labels of \"x\": expected ',' or '}' after the value of label "
       "\"a\", got \"2\""},
      {"x{a=\"1} 2", RejectReason::kSyntax,
       "line 2: cannot parse labels of \"x\": unterminated quoted string in the value of label "
       "\"a\""},
      {"x{a} 2", RejectReason::kSyntax,
       "line 2: cannot parse labels of \"x\": missing '=' after label name \"a\""},
      {"x{1a=\"b\"} 2", RejectReason::kSyntax,
       "line 2: cannot parse labels of \"x\": invalid label name start \"1\""},
      {"9x 1", RejectReason::kSyntax,
       "line 2: cannot parse \"9x 1\": a sample must start with a metric name"},
      {"x 1 2 3", RejectReason::kSyntax,
       "line 2: cannot parse \"x 1 2 3\": unexpected \"3\" after the timestamp"},
      {"x 1 99999999999999", RejectReason::kTimestampOutOfRange,
       "line 2: metric \"x\": timestamp 99999999999999 ms is more than 172800s in the future"},
      {"# TYPE x countr", RejectReason::kSyntax,
       "line 2: cannot parse metric type \"countr\" of \"x\": unknown type"},
      {"{a=\"b\"} 1", RejectReason::kSyntax,
       "line 2: cannot parse \"{a=\\\"b\\\"} 1\": missing metric name"},
  };
  for (const Case& c : cases) {
    std::string body = "good 1\n" + std::string(c.line) + "\ngood 2\n";
    auto p = Parse(body);
    EXPECT_EQ(p->sink.rows.size(), 2u) << c.line;
    EXPECT_EQ(p->report.rows_rejected(), 1u) << c.line;
    EXPECT_EQ(p->report.rejected(c.reason), 1u) << c.line << " " << p->report.Summary();
    ASSERT_EQ(p->report.errors().size(), 1u) << c.line;
    EXPECT_EQ(p->report.errors()[0], c.error) << c.line;
  }
}

TEST(PromTextTest, TooManyLabelsAndExtraLabels) {
  DecodeOptions o = Opts();
  o.limits.max_labels = 3;
  o.extra_labels = {{"job", "import"}, {"a", "not-overridden"}};
  auto p =
      Parse("x{a=\"1\",b=\"2\"} 1\nx{a=\"1\",b=\"2\",c=\"3\"} 1\n", Format::kPrometheusText, o);
  ASSERT_EQ(p->sink.rows.size(), 1u);
  EXPECT_EQ(p->sink.rows[0].labels,
            (tsdb::Labels{{"__name__", "x"}, {"a", "1"}, {"b", "2"}, {"job", "import"}}));
  ASSERT_EQ(p->report.errors().size(), 1u);
  EXPECT_EQ(p->report.errors()[0], "line 2: series has 4 labels, more than the limit of 3");
}

TEST(PromTextTest, SeriesCacheAcrossRequestsKeepsLabelsExact) {
  SeriesCache cache;
  for (int round = 0; round < 2; ++round) {
    testing::FakeAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    DecodeOptions o = Opts();
    if (round == 1) o.extra_labels = {{"job", "import"}};
    ParsePromText("a{x=\"1\"} 1\na{x=\"1\"} 2\nb 3\n", Format::kPrometheusText, o, sink, report);
    ASSERT_TRUE(sink.Commit().ok());
    ASSERT_EQ(app.rows.size(), 3u);
    EXPECT_EQ(app.rows[0].labels.Get("job"), round == 1 ? "import" : "");
    EXPECT_EQ(app.rows[1].labels, app.rows[0].labels);
    EXPECT_EQ(app.rows[2].labels.MetricName(), "b");
  }
}

// A sink that takes deferred labels and resolves every deferred series through the batch's
// resolver, as AppenderSink does on a cache miss.
struct ResolvingSink : RowSink {
  bool TakesDeferredLabels() const override { return true; }
  void Consume(const RowBatch& b) override {
    for (const SampleRow& smp : b.samples()) {
      const SeriesRow& sr = b.series()[smp.series];
      std::vector<LabelView> views;
      if (sr.deferred) {
        ++deferred;
        EXPECT_EQ(sr.num_labels, 0u);
        RejectReason reason;
        std::string message;
        ASSERT_NE(b.resolver(), nullptr);
        ASSERT_TRUE(b.resolver()->Resolve(sr, &views, &reason, &message)) << message;
      } else {
        views.assign(b.labels_of(sr), b.labels_of(sr) + sr.num_labels);
      }
      std::vector<tsdb::Label> v;
      for (const LabelView& l : views) v.push_back({std::string(l.name), std::string(l.value)});
      labels.push_back(tsdb::Labels::FromVector(std::move(v)));
    }
  }
  int deferred = 0;
  std::vector<tsdb::Labels> labels;
};

// A key seen (parsed, within the limits) by the same Parser earlier is handed over deferred;
// its labels resolve to exactly what a full parse gives, and its lines' values and timestamps
// are still checked.
TEST(PromTextTest, KnownKeysAreDeferredAndResolveToTheSameLabels) {
  const std::string body =
      "a{x=\"1\",y=\"q\\\"}z\"} 1 1795671866000\n"
      "b 2 1795671866000\n"
      "c {x=\"1\",} 3 1795671866000\n"
      "a{x=\"1\",y=\"q\\\"}z\"} zz 1795671866000\n";
  DecodeOptions o = Opts();
  o.extra_labels = {{"job", "import"}};
  Parser parser;
  std::vector<tsdb::Labels> first;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    ResolvingSink sink;
    DecodeReport report;
    parser.Parse(body, Format::kPrometheusText, o, sink, report);
    EXPECT_EQ(sink.deferred, round == 0 ? 0 : 3);
    ASSERT_EQ(sink.labels.size(), 3u);
    EXPECT_EQ(sink.labels[0],
              (tsdb::Labels{{"__name__", "a"}, {"job", "import"}, {"x", "1"}, {"y", "q\"}z"}}));
    if (round == 0) first = sink.labels;
    EXPECT_EQ(sink.labels, first);
    ASSERT_EQ(report.errors().size(), 1u);
    EXPECT_EQ(report.errors()[0],
              "line 4: cannot parse value \"zz\" of metric \"a\": not a number");
  }
  // Other limits: parsed (and refused) again, not deferred.
  o.limits.max_labels = 2;  // a has 3 (the extra label is added after the check)
  ResolvingSink sink;
  DecodeReport report;
  parser.Parse(body, Format::kPrometheusText, o, sink, report);
  EXPECT_EQ(sink.deferred, 0);
  EXPECT_EQ(sink.labels.size(), 2u);
  EXPECT_EQ(report.rejected(RejectReason::kTooManyLabels), 1u);
  // A sink that does not take deferred labels gets them parsed.
  CollectingSink collecting;
  DecodeReport report2;
  parser.Parse(body, Format::kPrometheusText, Opts(), collecting, report2);
  ASSERT_EQ(collecting.rows.size(), 3u);
  EXPECT_EQ(collecting.rows[1].labels, (tsdb::Labels{{"__name__", "b"}}));
}

// The key's end is found past '}' and '\\' in values, before and after the first 16 bytes (the
// vectorised quote count), and with spaces before the label list.
TEST(PromTextTest, KnownKeyEndsWithBracesAndEscapesInValues) {
  const std::string body =
      "m{long_label_name=\"aaaaaaaaaaaaaaaaaaaaaaaa\",b=\"x}y\"} 1\n"
      "m{long_label_name=\"aaaaaaaaaaaaaaaaaaaaaa\\\\\",c=\"}\"} 2\n"
      "m{a=\"}\"} 3\n"
      "m   {long_label_name=\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"} 4\n"
      "n 5\n";
  Parser parser;
  std::vector<tsdb::Labels> first;
  for (int round = 0; round < 2; ++round) {
    ResolvingSink sink;
    DecodeReport report;
    parser.Parse(body, Format::kPrometheusText, Opts(), sink, report);
    EXPECT_EQ(report.rows_rejected(), 0u) << report.Summary();
    EXPECT_EQ(sink.deferred, round == 0 ? 0 : 5);
    ASSERT_EQ(sink.labels.size(), 5u);
    if (round == 0) first = sink.labels;
    EXPECT_EQ(sink.labels, first);
  }
  EXPECT_EQ(first[0].Get("b"), "x}y");
  EXPECT_EQ(first[1].Get("long_label_name"), "aaaaaaaaaaaaaaaaaaaaaa\\");
  EXPECT_EQ(first[1].Get("c"), "}");
  EXPECT_EQ(first[2].Get("a"), "}");
  EXPECT_EQ(first[3].Get("long_label_name").size(), 38u);
}

// AppenderSink with a SeriesCache that does not hold a deferred key (a fresh cache here; in the
// server another worker thread's parser may have seen the key first) resolves it.
TEST(PromTextTest, DeferredKeysMissingFromTheSeriesCacheAreResolved) {
  Parser parser;
  for (int round = 0; round < 2; ++round) {
    SeriesCache cache;
    testing::FakeAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    parser.Parse("a{x=\"1\"} 1\nb 2\n", Format::kPrometheusText, Opts(), sink, report);
    ASSERT_TRUE(sink.Commit().ok());
    ASSERT_EQ(app.rows.size(), 2u);
    EXPECT_EQ(app.rows[0].labels, (tsdb::Labels{{"__name__", "a"}, {"x", "1"}}));
    EXPECT_EQ(app.rows[1].labels, (tsdb::Labels{{"__name__", "b"}}));
  }
}

// Parse looks a window of lines ahead (their keys scanned and hashed first): a body of many
// windows with comments, metadata, blank and CRLF lines, bad lines, and an OpenMetrics # EOF
// inside a window gives the rows, metadata and errors of a parse without known keys, both the
// first time and when its keys are known (deferred).
TEST(PromTextTest, LookAheadWindowsKeepLinesInOrder) {
  for (Format f : {Format::kPrometheusText, Format::kOpenMetrics}) {
    SCOPED_TRACE(f == Format::kOpenMetrics ? "openmetrics" : "text");
    std::string body;
    for (int i = 0; i < 150; ++i) {
      if (i % 10 == 0) {
        body += "# HELP m" + std::to_string(i / 10) + " help " + std::to_string(i) + "\n";
        body += "# TYPE m" + std::to_string(i / 10) + " gauge\n";
      }
      if (i % 17 == 0) body += "\n";
      if (i == 97 && f == Format::kOpenMetrics) body += "# EOF\n";
      const std::string ts = f == Format::kOpenMetrics ? std::to_string(1795671866 + i)
                                                       : std::to_string(1795671866000 + i);
      const std::string value = i % 23 == 5 ? "x" : std::to_string(i);
      body += "m" + std::to_string(i / 10) + "{k=\"" + std::to_string(i % 7) + "\"} " + value +
              " " + ts + (i % 3 == 0 ? "\r\n" : "\n");
    }
    auto run = [&](Parser& parser, SeriesCache& cache, testing::FakeAppender* app,
                   DecodeReport* report) {
      AppenderSink sink(*app, *report, &cache);
      parser.Parse(body, f, Opts(), sink, *report);
      ASSERT_TRUE(sink.Commit().ok());
    };
    testing::FakeAppender want;
    DecodeReport want_report;
    {
      Parser fresh;
      SeriesCache cache;
      run(fresh, cache, &want, &want_report);
    }
    ASSERT_EQ(want.rows.size(), f == Format::kOpenMetrics ? 93u : 143u);
    ASSERT_FALSE(want_report.errors().empty());
    Parser parser;
    SeriesCache cache;
    for (int round = 0; round < 2; ++round) {
      SCOPED_TRACE(round);
      testing::FakeAppender app;
      DecodeReport report;
      run(parser, cache, &app, &report);
      ASSERT_EQ(app.rows.size(), want.rows.size());
      for (size_t i = 0; i < app.rows.size(); ++i) {
        EXPECT_EQ(app.rows[i].labels, want.rows[i].labels) << i;
        EXPECT_EQ(app.rows[i].t, want.rows[i].t) << i;
        EXPECT_EQ(app.rows[i].v, want.rows[i].v) << i;
      }
      EXPECT_EQ(app.metadata.size(), want.metadata.size());
      EXPECT_EQ(report.errors(), want_report.errors());
      EXPECT_EQ(report.rows_rejected(), want_report.rows_rejected());
    }
  }
}

// The known-key path finds the end of the metric name 16 bytes at a time: names of every class
// of character ([a-zA-Z0-9_:]) and of lengths around 16 and 32, each followed by a character
// that is not a name character (a neighbour of a range, a byte >= 0x80), parse the same when
// the keys are known (deferred; the name alone is a key of its own) as without known keys.
TEST(PromTextTest, KnownKeyNameEndsAtTheFirstNonNameCharacter) {
  const std::string chars = "aZz_A:09mQ";
  const std::string stops[] = {"-", ".", "@", "[", "`", "{", "/", "\x80", "\xff", "\x7f"};
  std::string body;
  int lines = 0;
  for (size_t len = 1; len <= 40; ++len) {
    std::string name = "n";
    for (size_t k = 1; k < len; ++k) name += chars[k % chars.size()];
    body += name + " " + std::to_string(len) + "\n";  // a known key: the name alone
    body += name + "{x=\"1\"} 1\n";
    lines += 2;
    for (const std::string& stop : stops) {
      body += name + stop + "{x=\"1\"} 2\n";
      body += name + stop + " 3\n";
      lines += 2;
    }
  }
  const DecodeOptions o = Opts();
  auto want = Parse(body, Format::kPrometheusText, o);  // a collecting sink: no known keys
  // 80 valid lines; "." and the rest are not name characters in the 0.0.4 text format.
  ASSERT_EQ(want->sink.rows.size(), 80u);
  ASSERT_EQ(want->report.rows_rejected(), static_cast<uint64_t>(lines - 80));
  Parser parser;
  SeriesCache cache;
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round);
    testing::FakeAppender app;
    DecodeReport report;
    AppenderSink sink(app, report, &cache);
    parser.Parse(body, Format::kPrometheusText, o, sink, report);
    ASSERT_TRUE(sink.Commit().ok());
    ASSERT_EQ(app.rows.size(), want->sink.rows.size());
    for (size_t i = 0; i < app.rows.size(); ++i) {
      EXPECT_EQ(app.rows[i].labels, want->sink.rows[i].labels) << i;
      EXPECT_EQ(app.rows[i].v, want->sink.rows[i].value) << i;
    }
    EXPECT_EQ(report.errors(), want->report.errors());
    for (size_t r = 0; r < kNumRejectReasons; ++r) {
      const auto reason = static_cast<RejectReason>(r);
      EXPECT_EQ(report.rejected(reason), want->report.rejected(reason)) << RejectReasonName(reason);
    }
  }
  // A name end found too early or too late makes a key that is never known (the line is then
  // parsed in full, same rows): every valid line of a second parse must be deferred.
  ResolvingSink again;
  DecodeReport report;
  parser.Parse(body, Format::kPrometheusText, o, again, report);
  EXPECT_EQ(again.deferred, 80);
}

TEST(PromTextTest, FlushesLargeBodiesInBatches) {
  std::string body;
  for (int i = 0; i < 1000; ++i) body += "m{i=\"" + std::to_string(i) + "\"} 1\n";
  DecodeOptions o = Opts();
  o.flush_rows = 100;
  struct CountingSink : RowSink {
    void Consume(const RowBatch& b) override {
      ++calls;
      rows += b.samples().size();
    }
    int calls = 0;
    size_t rows = 0;
  } sink;
  DecodeReport report;
  ParsePromText(body, Format::kPrometheusText, o, sink, report);
  EXPECT_EQ(sink.rows, 1000u);
  EXPECT_EQ(sink.calls, 10);
}

}  // namespace
}  // namespace kansoku::ingest::prom_text
