import assert from "node:assert/strict";
import { test } from "node:test";
import { analyze, completeMatchers, escapeForQuote, rank, selectorOf } from "../src/explore/complete";

/** The cursor is where "|" is. */
function at(s: string) {
  const i = s.indexOf("|");
  return analyze(s.slice(0, i) + s.slice(i + 1), i);
}

test("metric names at the start and inside function calls", () => {
  assert.deepEqual(at("node_lo|"), { kind: "metric", prefix: "node_lo", from: 0, to: 7 });
  const c = at("sum(rate(http_req|[5m]))");
  assert.equal(c.kind, "metric");
  assert.equal(c.prefix, "http_req");
  assert.equal(c.from, 9);
});

test("the rest of the word under the cursor is replaced too", () => {
  const c = at("node_|load1");
  assert.equal(c.prefix, "node_");
  assert.equal(c.to, 10);
});

test("label names after { and , with the selector's metric", () => {
  assert.deepEqual(at("up{|"), { kind: "label", prefix: "", from: 3, to: 3, metric: "up" });
  const c = at('rate(http_requests_total{code="200", met|}[5m])');
  assert.equal(c.kind, "label");
  assert.equal(c.prefix, "met");
  assert.equal(c.metric, "http_requests_total");
});

test("label names in by/without/on groupings", () => {
  const c = at("sum by (inst|) (up)");
  assert.equal(c.kind, "label");
  assert.equal(c.prefix, "inst");
  assert.equal(c.metric, undefined);
  assert.equal(at("sum without (job, |) (up)").kind, "label");
});

test("label values inside quotes, closing quote present or not", () => {
  const open = at('up{instance="web-|');
  assert.equal(open.kind, "value");
  assert.equal(open.label, "instance");
  assert.equal(open.metric, "up");
  assert.equal(open.prefix, "web-");
  assert.equal(open.closeQuote, '"');
  const closed = at('up{job=~"no|de", x="y"}');
  assert.equal(closed.kind, "value");
  assert.equal(closed.label, "job");
  assert.equal(closed.prefix, "no");
  assert.equal(closed.closeQuote, "");
  assert.equal(closed.to, 'up{job=~"node'.length);
});

test("nothing to complete in durations, numbers, strings outside selectors and after values", () => {
  assert.equal(at("rate(up[5|])").kind, "none");
  assert.equal(at("up > 1.5|").kind, "none");
  assert.equal(at('label_replace(up, "a|")').kind, "none");
  assert.equal(at('up{job="x"|').kind, "none");
  assert.equal(at("up # comm|").kind, "none");
});

test("escaped quotes inside values do not end the string", () => {
  const c = at('up{path="a\\"b|');
  assert.equal(c.kind, "value");
  assert.equal(c.prefix, 'a\\"b');
});

test("rank: prefix matches first, then substrings, exact metric match dropped", () => {
  const cands = ["node_load1", "node_load15", "go_node_info", "up"].map((text) => ({ text, kind: "metric" as const }));
  assert.deepEqual(rank(cands, "node_load1").map((c) => c.text), ["node_load15"]);
  assert.deepEqual(rank(cands, "node").map((c) => c.text), ["node_load1", "node_load15", "go_node_info"]);
  assert.equal(rank(cands, "").length, 4);
});

test("values are escaped for the quote they go into", () => {
  assert.equal(escapeForQuote('a"b\\c', '"'), 'a\\"b\\\\c');
  assert.equal(escapeForQuote("it's", "'"), "it\\'s");
  assert.equal(escapeForQuote('raw"\\', "`"), 'raw"\\');
});

test("the selector's other matchers narrow label names and values", () => {
  const v = at('up{job="node", env!~"dev.*", instance="web|');
  assert.equal(v.kind, "value");
  assert.equal(v.label, "instance");
  assert.equal(v.metric, "up");
  assert.equal(v.matchers, 'job="node", env!~"dev.*"');
  const l = at('{job="node",|}');
  assert.equal(l.kind, "label");
  assert.equal(l.matchers, 'job="node"');
  assert.equal(selectorOf(l.metric, l.matchers), '{job="node"}');
  assert.equal(selectorOf("up", undefined), "up");
  assert.equal(selectorOf(undefined, undefined), undefined);
  assert.equal(completeMatchers('a="x\\"y", b=~`z`, c'), 'a="x\\"y", b=~`z`');
});
