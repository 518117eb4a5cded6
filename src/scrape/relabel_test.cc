#include "scrape/relabel.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace kansoku::scrape {
namespace {

LabelSet Sorted(LabelSet ls) {
  std::sort(ls.begin(), ls.end());
  return ls;
}

// Applies rules to labels and returns them sorted; *kept tells whether the set survived.
LabelSet Relabel(const std::vector<RelabelRule>& rules, LabelSet labels, bool* kept = nullptr) {
  auto r = Relabeler::Compile(rules);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return {};
  bool k = r->Apply(&labels);
  if (kept) *kept = k;
  return Sorted(labels);
}

RelabelRule Rule(RelabelAction a, std::vector<std::string> src, std::string regex,
                 std::string target = "", std::string replacement = "$1") {
  RelabelRule r;
  r.action = a;
  r.source_labels = std::move(src);
  r.regex = std::move(regex);
  r.target_label = std::move(target);
  r.replacement = std::move(replacement);
  return r;
}

TEST(Relabel, ReplaceWithGroupsSeparatorAndAnchoring) {
  LabelSet in = {{"__address__", "10.0.0.1:9100"}, {"env", "prod"}};
  // host part of the address into a new label; the regex is anchored at both ends.
  auto out = Relabel({Rule(RelabelAction::kReplace, {"__address__"}, "(.*):\\d+", "host")}, in);
  EXPECT_EQ(out, Sorted({{"__address__", "10.0.0.1:9100"}, {"env", "prod"}, {"host", "10.0.0.1"}}));
  // "0.0" alone would match unanchored; anchored it does not, so nothing changes.
  EXPECT_EQ(Relabel({Rule(RelabelAction::kReplace, {"__address__"}, "0\\.0", "x", "y")}, in),
            Sorted(in));
  // Two sources joined by the separator; ${1}-${2} and $$ in the replacement.
  RelabelRule two = Rule(RelabelAction::kReplace, {"env", "__address__"}, "(\\w+)@([^:]+):.*",
                         "where", "${1}-${2}$$");
  two.separator = "@";
  out = Relabel({two}, in);
  EXPECT_EQ(*std::find_if(out.begin(), out.end(), [](auto& l) { return l.first == "where"; }),
            (Label{"where", "prod-10.0.0.1$"}));
}

TEST(Relabel, ReplaceExpandsLikeGo) {
  LabelSet in = {{"a", "xy"}};
  // $1z names the group "1z", which does not exist: empty, so the label is not set (Go's rule).
  EXPECT_EQ(Relabel({Rule(RelabelAction::kReplace, {"a"}, "(x)(y)", "t", "$1z")}, in), in);
  EXPECT_EQ(Relabel({Rule(RelabelAction::kReplace, {"a"}, "(x)(y)", "t", "${1}z")}, in),
            Sorted({{"a", "xy"}, {"t", "xz"}}));
  // Named groups, a malformed "${" kept as text, and the target label itself expanded.
  EXPECT_EQ(
      Relabel({Rule(RelabelAction::kReplace, {"a"}, "(?P<first>x)(y)", "l_$2", "${first}${")}, in),
      Sorted({{"a", "xy"}, {"l_y", "x${"}}));
  // An expanded target that is not a label name is skipped.
  EXPECT_EQ(Relabel({Rule(RelabelAction::kReplace, {"a"}, "(.*)", "9$1", "v")}, in), in);
  // An empty replacement removes the target label.
  EXPECT_EQ(Relabel({Rule(RelabelAction::kReplace, {"a"}, ".*", "a", "")}, in), LabelSet{});
}

TEST(Relabel, KeepDropAndEqualVariants) {
  LabelSet in = {{"__name__", "go_gc"}, {"job", "node"}, {"instance", "node"}};
  bool kept = true;
  Relabel({Rule(RelabelAction::kDrop, {"__name__"}, "go_.*")}, in, &kept);
  EXPECT_FALSE(kept);
  Relabel({Rule(RelabelAction::kKeep, {"__name__"}, "node_.*")}, in, &kept);
  EXPECT_FALSE(kept);
  Relabel({Rule(RelabelAction::kKeep, {"__name__"}, "go_.*")}, in, &kept);
  EXPECT_TRUE(kept);
  Relabel({Rule(RelabelAction::kDropEqual, {"job"}, "", "instance")}, in, &kept);
  EXPECT_FALSE(kept);
  Relabel({Rule(RelabelAction::kKeepEqual, {"job"}, "", "instance")}, in, &kept);
  EXPECT_TRUE(kept);
  Relabel({Rule(RelabelAction::kKeepEqual, {"__name__"}, "", "instance")}, in, &kept);
  EXPECT_FALSE(kept);
}

TEST(Relabel, HashmodShardsAsPrometheus) {
  // Low 64 bits of MD5("10.0.0.1:9100") modulo 1000 is 645 (computed independently).
  RelabelRule r = Rule(RelabelAction::kHashMod, {"__address__"}, "(.*)", "__tmp_hash");
  r.modulus = 1000;
  EXPECT_EQ(Relabel({r}, {{"__address__", "10.0.0.1:9100"}}),
            Sorted({{"__address__", "10.0.0.1:9100"}, {"__tmp_hash", "645"}}));
  // The usual sharding pair: keep only shard 2 of 3.
  r.modulus = 3;
  bool kept = false;
  Relabel({r, Rule(RelabelAction::kKeep, {"__tmp_hash"}, "2")}, {{"__address__", "10.0.0.1:9100"}},
          &kept);
  EXPECT_TRUE(kept);
  Relabel({r, Rule(RelabelAction::kKeep, {"__tmp_hash"}, "1")}, {{"__address__", "10.0.0.1:9100"}},
          &kept);
  EXPECT_FALSE(kept);
}

TEST(Relabel, LabelMapDropKeepAndCase) {
  LabelSet in = {{"__meta_kubernetes_pod_label_app", "api"},
                 {"__meta_kubernetes_pod_label_tier", "web"},
                 {"job", "k8s"}};
  RelabelRule map = Rule(RelabelAction::kLabelMap, {}, "__meta_kubernetes_pod_label_(.+)");
  auto out = Relabel({map}, in);
  EXPECT_EQ(out, Sorted({{"__meta_kubernetes_pod_label_app", "api"},
                         {"__meta_kubernetes_pod_label_tier", "web"},
                         {"app", "api"},
                         {"job", "k8s"},
                         {"tier", "web"}}));
  EXPECT_EQ(Relabel({map, Rule(RelabelAction::kLabelDrop, {}, "__meta_.*")}, in),
            Sorted({{"app", "api"}, {"job", "k8s"}, {"tier", "web"}}));
  EXPECT_EQ(Relabel({Rule(RelabelAction::kLabelKeep, {}, "job|__.*label_app")}, in),
            Sorted({{"__meta_kubernetes_pod_label_app", "api"}, {"job", "k8s"}}));
  EXPECT_EQ(
      Relabel({Rule(RelabelAction::kUppercase, {"job", "__meta_kubernetes_pod_label_app"}, "",
                    "shout")},
              {{"job", "k8s"}, {"__meta_kubernetes_pod_label_app", "Api"}}),
      Sorted({{"__meta_kubernetes_pod_label_app", "Api"}, {"job", "k8s"}, {"shout", "K8S;API"}}));
  EXPECT_EQ(Relabel({Rule(RelabelAction::kLowercase, {"job"}, "", "low")}, {{"job", "K8s"}}),
            Sorted({{"job", "K8s"}, {"low", "k8s"}}));
}

TEST(Relabel, CompileErrorsNameTheRule) {
  struct Case {
    RelabelRule rule;
    const char* want;
  } cases[] = {
      {Rule(RelabelAction::kReplace, {"a"}, "(", "t"), "rule 1 (replace): bad regex"},
      {Rule(RelabelAction::kReplace, {"a"}, ".*"), "rule 1 (replace) needs target_label"},
      {Rule(RelabelAction::kHashMod, {"a"}, ".*", "t"), "needs a modulus"},
      {Rule(RelabelAction::kLabelDrop, {"a"}, ".*"), "source_labels and target_label"},
      {Rule(RelabelAction::kKeep, {}, ".*"), "needs source_labels"},
      {Rule(RelabelAction::kLowercase, {"a"}, ".*", "bad-name"), "not a valid label name"},
  };
  for (const auto& c : cases) {
    auto r = Relabeler::Compile({c.rule});
    ASSERT_FALSE(r.ok()) << c.want;
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(ParseRelabelAction("LabelMap").value(), RelabelAction::kLabelMap);
  auto bad = ParseRelabelAction("rename");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("one of replace, keep"), std::string::npos);
}

}  // namespace
}  // namespace kansoku::scrape
