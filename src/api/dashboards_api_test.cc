#include "api/dashboards_api.h"

#include <gtest/gtest.h>

namespace kansoku::api {
namespace {

TEST(ValidateDashboard, AcceptsTheDocumentedExampleAndDropsServerFields) {
  const char* doc = R"json({
    "id": "web-tier", "title": "Web tier", "version": 7, "updated_by": "x", "updated_at_ms": 5,
    "tags": ["web", "prod"], "time": {"from": "now-6h", "to": "now"}, "refresh": "1m",
    "variables": [{"name": "service", "label": "service", "match": "up", "all": true}],
    "panels": [
      {"id": 1, "type": "timeseries", "title": "CPU", "grid": {"x": 0, "y": 0, "w": 12, "h": 8},
       "queries": [{"expr": "rate(x[5m])", "legend": "{{host}}"}], "options": {"stacked": true}},
      {"id": 2, "type": "markdown", "grid": {"x": 12, "y": 0, "w": 12, "h": 4},
       "options": {"text": "# hi"}}
    ],
    "future_field": {"kept": [1, 2]}
  })json";
  auto v = ValidateDashboard(doc);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->id, "web-tier");
  EXPECT_EQ(v->title, "Web tier");
  EXPECT_EQ(v->version, 7);
  EXPECT_EQ(v->panels, 2);
  EXPECT_EQ(v->tags_json, R"(["web","prod"])");
  EXPECT_EQ(v->body.find("\"version\""), std::string::npos);
  EXPECT_EQ(v->body.find("\"updated_by\""), std::string::npos);
  EXPECT_EQ(v->body.find("\"id\":\"web-tier\""), std::string::npos);
  EXPECT_NE(v->body.find(R"("future_field":{"kept":[1,2]})"), std::string::npos) << v->body;
  EXPECT_NE(v->body.find(R"("legend":"{{host}}")"), std::string::npos) << v->body;
  // Normalization is idempotent.
  auto again = ValidateDashboard(v->body);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->body, v->body);
}

TEST(ValidateDashboard, ErrorsNameTheField) {
  struct Case {
    const char* doc;
    const char* error;
  };
  const Case cases[] = {
      {"", "cannot parse JSON"},
      {"[1]", "must be a JSON object, got an array"},
      {"{}", "title: required"},
      {R"({"title": ""})", "title: must be 1..200 bytes"},
      {R"({"title": 5})", "title: must be a string, got an integer"},
      {R"({"title": "t", "id": "Bad Id"})", "id: must match"},
      {R"({"title": "t", "tags": "x"})", "tags: must be an array, got a string"},
      {R"({"title": "t", "tags": [""]})", "tags[0]: must be a string of 1..50 bytes"},
      {R"({"title": "t", "panels": {}})", "panels: must be an array, got an object"},
      {R"({"title": "t", "panels": [3]})", "panels[0]: must be an object"},
      {R"({"title": "t", "panels": [{"type": "stat", "grid": {"x":0,"y":0,"w":1,"h":1}}]})",
       "panels[0].id: required"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "pie", "grid": {"x":0,"y":0,"w":1,"h":1}}]})",
       "panels[0].type: unknown panel type \"pie\""},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat"}]})", "panels[0].grid: required"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat", "grid": {"x":0,"y":0,"w":30,"h":1}}]})",
       "panels[0].grid.w: must be an integer 1..24, got 30"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat", "grid": {"x":20,"y":0,"w":6,"h":1}}]})",
       "panels[0].grid.w: x + w must be at most 24"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat", "grid": {"x":0,"y":0,"w":1.5,"h":1}}]})",
       "panels[0].grid.w: must be an integer 1..24, got 1.5"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat", "grid": {"x":0,"y":0,"w":1,"h":1}},
                                    {"id": 1, "type": "stat", "grid": {"x":0,"y":1,"w":1,"h":1}}]})",
       "panels[1].id: duplicate panel id 1"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat", "grid": {"x":0,"y":0,"w":1,"h":1},
                                     "queries": [{"expr": 3}]}]})",
       "panels[0].queries[0].expr: must be a string"},
      {R"({"title": "t", "panels": [{"id": 1, "type": "stat", "grid": {"x":0,"y":0,"w":1,"h":1},
                                     "options": []}]})",
       "panels[0].options: must be an object"},
      {R"({"title": "t", "variables": [{"name": "1x", "label": "host"}]})",
       "variables[0].name: \"1x\" is not a variable name"},
      {R"({"title": "t", "variables": [{"name": "h", "label": "host"}, {"name": "h", "label": "x"}]})",
       "variables[1].name: duplicate variable \"h\""},
      {R"({"title": "t", "variables": [{"name": "h", "label": "host", "multi": "yes"}]})",
       "variables[0].multi: must be true or false"},
      {R"({"title": "t", "time": "now"})", "time: must be an object"},
      {R"({"title": "t", "version": -1})", "version: must be an integer"},
  };
  for (const auto& c : cases) {
    auto v = ValidateDashboard(c.doc);
    ASSERT_FALSE(v.ok()) << c.doc;
    EXPECT_EQ(v.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(v.status().message().find(c.error), std::string::npos)
        << "doc: " << c.doc << "\nerror: " << v.status().message() << "\nwant: " << c.error;
  }
}

TEST(ValidateDashboard, Limits) {
  std::string doc = R"({"title": "t", "panels": [)";
  for (int i = 1; i <= 201; ++i) {
    doc += (i > 1 ? "," : "") + std::string(R"({"id": )") + std::to_string(i) +
           R"(, "type": "stat", "grid": {"x":0,"y":0,"w":1,"h":1}})";
  }
  doc += "]}";
  auto v = ValidateDashboard(doc);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("panels: at most 200 entries, got 201"), std::string::npos)
      << v.status().message();
}

TEST(DashboardIds, FromTitleAndValidity) {
  EXPECT_EQ(DashboardIdFromTitle("Web tier"), "web-tier");
  EXPECT_EQ(DashboardIdFromTitle("  CPU / Memory (prod) "), "cpu-memory-prod");
  EXPECT_EQ(DashboardIdFromTitle("監視"), "dashboard");
  EXPECT_TRUE(ValidDashboardId(DashboardIdFromTitle(std::string(300, 'a'))));
  EXPECT_TRUE(ValidDashboardId("a"));
  EXPECT_TRUE(ValidDashboardId("web_tier-2"));
  EXPECT_FALSE(ValidDashboardId(""));
  EXPECT_FALSE(ValidDashboardId("-web"));
  EXPECT_FALSE(ValidDashboardId("Web"));
  EXPECT_FALSE(ValidDashboardId("a/b"));
  EXPECT_FALSE(ValidDashboardId(std::string(65, 'a')));
}

}  // namespace
}  // namespace kansoku::api
