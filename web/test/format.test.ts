import assert from "node:assert/strict";
import { test } from "node:test";
import { formatValue, parseSampleValue, seriesName } from "../src/format";

test("short values for axes and legends", () => {
  assert.equal(formatValue(0), "0");
  assert.equal(formatValue(1.234567), "1.23");
  assert.equal(formatValue(0.012345), "0.0123");
  assert.equal(formatValue(1500), "1.5k");
  assert.equal(formatValue(-2_500_000), "-2.5M");
  assert.equal(formatValue(123_456_789_000), "123.5G");
  assert.equal(formatValue(0.00001234), "1.23e-5");
  assert.equal(formatValue(null), "–");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(Infinity), "+Inf");
});

test("sample values as Prometheus sends them", () => {
  assert.equal(parseSampleValue("+Inf"), Infinity);
  assert.equal(parseSampleValue("-Inf"), -Infinity);
  assert.ok(Number.isNaN(parseSampleValue("NaN")));
  assert.equal(parseSampleValue("1e3"), 1000);
});

test("series names in PromQL notation, labels sorted and escaped", () => {
  assert.equal(seriesName({ __name__: "up", job: "node", instance: "a:1" }), 'up{instance="a:1", job="node"}');
  assert.equal(seriesName({ mode: "idle" }), '{mode="idle"}');
  assert.equal(seriesName({ __name__: "x" }), "x");
  assert.equal(seriesName({}), "{}");
  assert.equal(seriesName({ p: 'a"b\\' }), '{p="a\\"b\\\\"}');
});
