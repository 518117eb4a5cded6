import assert from "node:assert/strict";
import { test } from "node:test";
import { markdownToHtml } from "../src/dash/markdown";
import { compact, freeSpot, legendText, parseDashboard, substitute, varText, type Panel, type VarValue } from "../src/dash/model";
import { formatUnit } from "../src/format";

const vars = (o: Record<string, VarValue>) => new Map(Object.entries(o));

test("variables: one value as is, several or All as a regex", () => {
  assert.equal(varText({ values: ["web-1"], all: false }), "web-1");
  assert.equal(varText({ values: ["a.b", "c"], all: false }), "a\\.b|c");
  assert.equal(varText({ values: ["x"], all: true }), ".*");
  const v = vars({ host: { values: ["h1"], all: false }, host_group: { values: ["g"], all: false } });
  assert.equal(substitute('up{host="$host"}', v), 'up{host="h1"}');
  assert.equal(substitute('up{host="${host}x"}', v), 'up{host="h1x"}');
  assert.equal(substitute("x{g=\"$host_group\"}", v), 'x{g="g"}');
  assert.equal(substitute("x{g=\"$hostname\"}", v), 'x{g="h1name"}'); // longest defined prefix
  assert.equal(substitute("x{g=\"$unknown\"}", v), 'x{g="$unknown"}');
  assert.equal(substitute("no vars", v), "no vars");
});

test("legend templates", () => {
  assert.equal(legendText("{{instance}} / {{ mode }}", { instance: "a", mode: "idle" }, "full"), "a / idle");
  assert.equal(legendText("{{missing}}", {}, "full"), "");
  assert.equal(legendText("", { a: "b" }, "full"), "full");
});

const panel = (id: number, x: number, y: number, w: number, h: number): Panel => ({ id, type: "stat", title: "", grid: { x, y, w, h } });

test("layout: compaction floats panels up, a dragged panel pushes others down", () => {
  const ps = [panel(1, 0, 5, 12, 4), panel(2, 12, 9, 12, 4), panel(3, 0, 20, 24, 2)];
  compact(ps);
  assert.deepEqual(ps.map((p) => p.grid.y), [0, 0, 4]);
  // Panel 3 dragged to the top: it stays, the others move below it.
  ps[2]!.grid.y = 0;
  compact(ps, 3);
  assert.deepEqual(ps.map((p) => [p.id, p.grid.y]), [[1, 2], [2, 2], [3, 0]]);
  assert.deepEqual(freeSpot(ps, 12, 3), { x: 0, y: 6, w: 12, h: 3 });
  assert.deepEqual(freeSpot([panel(1, 0, 0, 12, 4)], 12, 3), { x: 12, y: 0, w: 12, h: 3 });
  // Out-of-range grids are clamped into 24 columns.
  const odd = [panel(1, 20, 0, 10, 1)];
  compact(odd);
  assert.deepEqual(odd[0]!.grid, { x: 14, y: 0, w: 10, h: 1 });
});

test("imported documents are checked before they are sent", () => {
  assert.throws(() => parseDashboard("{"), /Not JSON/);
  assert.throws(() => parseDashboard("[]"), /JSON object/);
  assert.throws(() => parseDashboard('{"panels": []}'), /title/);
  assert.throws(() => parseDashboard('{"title": "t", "panels": [{"type": "pie", "grid": {}}]}'), /unknown panel type "pie"/);
  assert.deepEqual(parseDashboard('{"title": "t"}').panels, []);
});

test("markdown subset is escaped", () => {
  const html = markdownToHtml("# Title\n**bold** and *it* `<b>` [ok](https://x.org/a?b=1&c=2) [bad](javascript:alert(1))\n- a\n- b\n<script>x</script>");
  assert.match(html, /<h2>Title<\/h2>/);
  assert.match(html, /<strong>bold<\/strong> and <em>it<\/em> <code>&lt;b&gt;<\/code>/);
  assert.match(html, /<a href="https:\/\/x.org\/a\?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">ok<\/a>/);
  assert.doesNotMatch(html, /javascript:/);
  assert.match(html, /<ul>\n<li>a<\/li>\n<li>b<\/li>\n<\/ul>/);
  assert.match(html, /&lt;script&gt;x&lt;\/script&gt;/);
  assert.match(markdownToHtml("```\n<x>\n```"), /<pre><code>&lt;x&gt;<\/code><\/pre>/);
});

test("units", () => {
  assert.equal(formatUnit(0.1234, "percentunit"), "12.3%");
  assert.equal(formatUnit(55.55, "percent"), "55.5%"); // toFixed rounding of binary 55.55
  assert.equal(formatUnit(1536, "bytes"), "1.5 KiB");
  assert.equal(formatUnit(3 * 1024 ** 3, "bytes/s"), "3 GiB/s");
  assert.equal(formatUnit(0.25, "s"), "250 ms");
  assert.equal(formatUnit(350, "ms"), "350 ms");
  assert.equal(formatUnit(5400, "s"), "90 min");
  assert.equal(formatUnit(1500, "ops/s"), "1.5k ops/s");
  assert.equal(formatUnit(2, "none", 2), "2.00");
  assert.equal(formatUnit(null, "bytes"), "–");
});
