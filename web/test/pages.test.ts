import assert from "node:assert/strict";
import { test } from "node:test";
import { matchAll, matcherMatches, parseAlertFilter } from "../src/alert/matchers";
import { rateInterval } from "../src/dash/model";
import { addTerm, fieldFilter, filterPart, pipeStart, streamLabels } from "../src/logs/terms";
import { increases } from "../src/ui/bars";

test("log rows: stream labels parsed from _stream, escapes undone", () => {
  assert.deepEqual(streamLabels('{host="vm",level="info",service="shop \\"api\\""}'), { host: "vm", level: "info", service: 'shop "api"' });
  assert.deepEqual(streamLabels("{}"), {});
});

test("log filters: exact-value terms, negation, added before the pipes", () => {
  assert.equal(fieldFilter("service", "shop-worker"), 'service:="shop-worker"');
  assert.equal(fieldFilter("msg", 'say "hi" \\o/'), 'msg:="say \\"hi\\" \\\\o/"');
  assert.equal(fieldFilter("level", "debug", true), '-level:="debug"');
  assert.equal(addTerm("", "a:=\"1\""), 'a:="1"');
  assert.equal(addTerm("*", "a:=\"1\""), 'a:="1"');
  assert.equal(addTerm("error", "b"), "error b");
  assert.equal(addTerm("error | stats count() by (level)", "b"), "error b | stats count() by (level)");
  // A pipe inside quotes is part of a phrase, not a pipe.
  assert.equal(pipeStart('"a|b" x'), -1);
  assert.equal(addTerm('"a|b" | limit 3', "c"), '"a|b" c | limit 3');
  assert.equal(filterPart('~"x|y" | stats count()'), '~"x|y"');
  assert.equal(filterPart("| stats count()"), "*");
});

test("alert matchers: =, !=, anchored =~ and !~; missing labels are empty", () => {
  const l = { alertname: "HighLoad", instance: "web-1:9100", severity: "page" };
  assert.ok(matcherMatches('alertname="HighLoad"', l));
  assert.ok(!matcherMatches('alertname="High"', l));
  assert.ok(matcherMatches('severity!="info"', l));
  assert.ok(matcherMatches('instance=~"web-.*"', l));
  assert.ok(!matcherMatches('instance=~"web"', l)); // anchored
  assert.ok(matcherMatches('instance!~"db-.*"', l));
  assert.ok(matcherMatches('team=""', l));
  assert.ok(!matcherMatches("garbage", l));
});

test("alert panel filter: comma-separated matchers, clear errors", () => {
  const ms = parseAlertFilter('severity="page", team=~"db|web"');
  assert.ok(Array.isArray(ms));
  assert.deepEqual(ms, [{ name: "severity", op: "=", value: "page" }, { name: "team", op: "=~", value: "db|web" }]);
  assert.ok(matchAll(ms as never, { severity: "page", team: "db" }));
  assert.ok(!matchAll(ms as never, { severity: "page", team: "ops" }));
  assert.deepEqual(parseAlertFilter(""), []);
  assert.match(parseAlertFilter("severity=page") as string, /cannot parse at "severity=page"/);
});

test("issue bars: per-bucket increases of a cumulative counter", () => {
  // Born in the range: counted from zero; gaps carry the last value; a drop is a reset.
  assert.deepEqual(increases([null, 3, null, 4, 4, 1], 0), [0, 3, 0, 1, 0, 1]);
  // Older than the range: the first sample is the baseline.
  assert.deepEqual(increases([10, 12, null, 15], null), [0, 2, 0, 3]);
});

test("$__rate_interval holds several samples whatever the step", () => {
  assert.equal(rateInterval(3, 1), "4s");
  assert.equal(rateInterval(15, 15), "60s");
  assert.equal(rateInterval(300, 15), "315s");
});
