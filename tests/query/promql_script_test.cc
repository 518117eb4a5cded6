#include "tests/query/promql_script.h"

#include <gtest/gtest.h>

#include <string>

#include "query/testing/mem_storage.h"

namespace kansoku::query::conformance {
namespace {

class MemTestStorage : public TestStorage {
 public:
  tsdb::Queryable& queryable() override { return db_; }
  tsdb::Appendable& appendable() override { return db_; }

 private:
  testing::MemStorage db_;
};

ScriptResult RunText(const std::string& script) {
  Engine engine;
  StorageFactory f = [] { return std::make_unique<MemTestStorage>(); };
  return RunScript(script, f, engine);
}

struct Case {
  std::string name;
  std::string script;
  Outcome want;
};

TEST(PromqlScriptTest, OutcomesAreDetected) {
  const Case cases[] = {
      {"expansion",
       "load 1m\n  m 0+10x3 _x2 stale 1e3 -5-2x1\n\n"
       "eval range from 0 to 8m step 1m m\n  m 0 10 20 30 30 30 _ 1000 -5\n",
       Outcome::kPass},
      {"hex-looking expansion",
       "load 1m\n  m 0x3\n\neval range from 0 to 3m step 1m m\n  m 0 0 0 0\n", Outcome::kPass},
      {"wrong value fails", "load 1m\n  m 1\n\neval instant at 0 m\n  m 2\n", Outcome::kFail},
      {"missing series fails", "load 1m\n  m 1\n\neval instant at 0 m\n", Outcome::kFail},
      {"extra expected series fails",
       "load 1m\n  m 1\n\neval instant at 0 m\n  m 1\n  m{a=\"b\"} 1\n", Outcome::kFail},
      {"scalar", "eval instant at 0 1 + 1\n  2\n", Outcome::kPass},
      {"expected failure", "eval instant at 0 foo(\n  expect fail\n", Outcome::kPass},
      {"failure message must match", "eval instant at 0 sum(\n  expect fail msg: something else\n",
       Outcome::kFail},
      {"failure regex", "eval instant at 0 sum(\n  expect fail regex: unexpected end\n",
       Outcome::kPass},
      {"unexpected success fails", "eval instant at 0 1\n  expect fail\n", Outcome::kFail},
      {"string", "eval instant at 0 \"a\"\n  expect string \"a\"\n", Outcome::kPass},
      {"ordered",
       "load 1m\n  m{i=\"1\"} 1\n  m{i=\"2\"} 2\n\n"
       "eval instant at 0 sort_desc(m)\n  expect ordered\n  m{i=\"1\"} 1\n  m{i=\"2\"} 2\n",
       Outcome::kFail},
      {"warn required", "load 1m\n  m 1\n\neval instant at 0 m\n  expect warn\n  m 1\n",
       Outcome::kFail},
      {"native histogram expectation skipped",
       "load 1m\n  h {{count:1}}\n\neval instant at 0 h\n  h {{count:1}}\n", Outcome::kSkip},
      {"range vector",
       "load 10s\n  m 1 2 3\n\neval instant at 20s m[15s]\n"
       "  expect range vector from 10s to 20s step 10s\n  m 2 3\n",
       Outcome::kPass},
  };
  for (const auto& c : cases) {
    ScriptResult r = RunText(c.script);
    ASSERT_TRUE(r.error.empty()) << c.name << ": " << r.error;
    ASSERT_EQ(r.evals.size(), 1u) << c.name;
    EXPECT_EQ(r.evals[0].outcome, c.want) << c.name << ": " << r.evals[0].message;
  }
}

TEST(PromqlScriptTest, ClearDropsData) {
  ScriptResult r = RunText("load 1m\n  m 1\n\nclear\n\neval instant at 0 m\n");
  ASSERT_EQ(r.evals.size(), 1u);
  EXPECT_EQ(r.evals[0].outcome, Outcome::kPass) << r.evals[0].message;
}

TEST(PromqlScriptTest, BadScriptIsAnError) {
  EXPECT_FALSE(RunText("frobnicate\n").error.empty());
  EXPECT_FALSE(RunText("load 1m\n  m 1+x\n").error.empty());
}

}  // namespace
}  // namespace kansoku::query::conformance
