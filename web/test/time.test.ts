import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseStep, formatDuration, parseDuration, parseTimeSpec, rangeLabel, resolveRange } from "../src/time";

test("durations", () => {
  assert.equal(parseDuration("15m"), 900_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("7d"), 7 * 86_400_000);
  assert.equal(parseDuration("250ms"), 250);
  assert.equal(parseDuration(""), null);
  assert.equal(parseDuration("5 minutes"), null);
  assert.equal(parseDuration("1h-"), null);
});

test("time specs: now, relative, epoch ms, local date", () => {
  const now = 1_800_000_000_000;
  assert.equal(parseTimeSpec("now", now), now);
  assert.equal(parseTimeSpec("now-6h", now), now - 6 * 3_600_000);
  assert.equal(parseTimeSpec("now - 15m", now), now - 900_000);
  assert.equal(parseTimeSpec("1700000000000", now), 1_700_000_000_000);
  assert.equal(parseTimeSpec("2026-11-26 08:00", now), new Date(2026, 10, 26, 8, 0).getTime());
  assert.equal(parseTimeSpec("2026-11-26T08:00:30", now), new Date(2026, 10, 26, 8, 0, 30).getTime());
  assert.equal(parseTimeSpec("yesterday", now), null);
});

test("ranges: bad or reversed input still gives a usable range", () => {
  const now = 1_800_000_000_000;
  assert.deepEqual(resolveRange({ from: "now-1h", to: "now" }, now), { start: now - 3_600_000, end: now });
  assert.deepEqual(resolveRange({ from: "garbage", to: "now" }, now), { start: now - 3_600_000, end: now });
  const r = resolveRange({ from: "now", to: "now-1h" }, now);
  assert.ok(r.start < r.end);
});

test("labels of presets and relative ranges", () => {
  assert.equal(rangeLabel({ from: "now-24h", to: "now" }), "Last 24 hours");
  assert.equal(rangeLabel({ from: "now-90m", to: "now" }), "Last 90m");
});

test("step: one point per pixel at most, never more than ~1,100 points, on a round value", () => {
  const h = 3_600_000;
  assert.equal(chooseStep(0, h, 1200), 5);
  assert.equal(chooseStep(0, h, 300), 15);
  assert.equal(chooseStep(0, 7 * 24 * h, 3000), 600);
  assert.equal(chooseStep(0, 60_000, 1000), 1);
  for (const [span, width] of [[h, 5000], [24 * h, 1100], [30 * 24 * h, 4000], [400 * 24 * h, 2000]] as const) {
    const step = chooseStep(0, span, width);
    assert.ok(span / 1000 / step <= 1100, `span ${span} width ${width}: step ${step}`);
  }
  assert.equal(formatDuration(600), "10m");
  assert.equal(formatDuration(86400), "1d");
  assert.equal(formatDuration(15), "15s");
});
