#include "alert/tracker.h"

#include <gtest/gtest.h>

namespace kansoku::alert {
namespace {

Instance I(const std::string& inst, double v = 1) {
  Instance i;
  i.labels = tsdb::Labels{{"alertname", "Down"}, {"instance", inst}};
  i.value = v;
  return i;
}

AlertState StateOf(const AlertTracker& t, const std::string& inst) {
  auto it = t.alerts().find(tsdb::Labels{{"alertname", "Down"}, {"instance", inst}});
  return it == t.alerts().end() ? AlertState::kInactive : it->second.state;
}

TEST(TrackerTest, PendingFiringResolved) {
  TrackerOptions o;
  o.for_ms = 60000;
  AlertTracker t(o);
  int64_t t0 = 1000000;
  EXPECT_TRUE(t.Apply({I("a")}, t0));
  EXPECT_EQ(StateOf(t, "a"), AlertState::kPending);
  EXPECT_TRUE(t.TakeAlertsToSend(t0, 60000, 240000, "").empty());  // pending is not sent
  t.Apply({I("a")}, t0 + 30000);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kPending);
  t.Apply({I("a")}, t0 + 60000);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  auto sent = t.TakeAlertsToSend(t0 + 60000, 60000, 240000, "");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].starts_at_ms, t0);
  EXPECT_EQ(sent[0].ends_at_ms, t0 + 60000 + 240000);
  EXPECT_TRUE(t.TakeAlertsToSend(t0 + 70000, 60000, 240000, "").empty());  // resend delay
  EXPECT_EQ(t.TakeAlertsToSend(t0 + 120000, 60000, 240000, "").size(), 1u);
  std::vector<std::pair<tsdb::Labels, double>> series;
  t.SeriesToWrite(&series);
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].first.Get("__name__"), "ALERTS");
  EXPECT_EQ(series[0].first.Get("alertstate"), "firing");
  EXPECT_EQ(series[1].first.Get("__name__"), "ALERTS_FOR_STATE");
  EXPECT_DOUBLE_EQ(series[1].second, t0 / 1000.0);
  t.Apply({}, t0 + 130000);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kInactive);
  sent = t.TakeAlertsToSend(t0 + 130000, 60000, 240000, "");
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].ends_at_ms, t0 + 130000);  // resolved
  EXPECT_TRUE(t.TakeAlertsToSend(t0 + 200000, 60000, 240000, "").empty());
  t.Apply({}, t0 + 130000 + 15 * 60000);
  EXPECT_TRUE(t.alerts().empty());  // retention over
}

TEST(TrackerTest, PendingThatClearsIsDropped) {
  TrackerOptions o;
  o.for_ms = 60000;
  AlertTracker t(o);
  t.Apply({I("a")}, 0);
  t.Apply({}, 10000);
  EXPECT_TRUE(t.alerts().empty());
}

TEST(TrackerTest, KeepFiringFor) {
  TrackerOptions o;
  o.keep_firing_for_ms = 60000;
  AlertTracker t(o);
  t.Apply({I("a")}, 0);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  t.Apply({}, 10000);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  t.Apply({}, 69000);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  t.Apply({}, 70000);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kInactive);
}

TEST(TrackerTest, FlappingIsHeldUntilStable) {
  TrackerOptions o;
  o.flapping.threshold = 4;
  o.flapping.window_ms = 30 * 60000;
  o.flapping.hold_ms = 10 * 60000;
  AlertTracker t(o);
  int64_t m = 60000;
  t.Apply({I("a")}, 0);  // fire (1)
  t.Apply({}, 1 * m);    // resolve (2)
  EXPECT_EQ(StateOf(t, "a"), AlertState::kInactive);
  t.Apply({I("a")}, 2 * m);  // fire (3)
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  t.Apply({}, 3 * m);  // would be the 4th transition: held
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  EXPECT_TRUE(t.alerts().begin()->second.flapping);
  t.Apply({I("a")}, 4 * m);  // toggles back: still the same firing alert, no new notification
  t.Apply({}, 5 * m);
  t.Apply({}, 14 * m);
  EXPECT_EQ(StateOf(t, "a"), AlertState::kFiring);
  t.Apply({}, 15 * m);  // stable for hold_ms
  EXPECT_EQ(StateOf(t, "a"), AlertState::kInactive);
}

TEST(TrackerTest, FlappingOff) {
  TrackerOptions o;
  o.flap_damping = false;
  AlertTracker t(o);
  for (int i = 0; i < 10; ++i) {
    t.Apply({I("a")}, i * 2 * 60000);
    t.Apply({}, (i * 2 + 1) * 60000);
    EXPECT_EQ(StateOf(t, "a"), AlertState::kInactive);
  }
}

}  // namespace
}  // namespace kansoku::alert
