// What to complete at the cursor of a PromQL expression: metric/function names, label names
// (inside {} or by(...)), or label values (inside the quotes after label=).

export type ContextKind = "metric" | "label" | "value" | "none";

export interface CompletionContext {
  kind: ContextKind;
  /** Typed so far (what the candidates are filtered by). */
  prefix: string;
  /** Text range [from, to) that an accepted candidate replaces. */
  from: number;
  to: number;
  /** Metric the selector belongs to, when known (narrows label names and values). */
  metric?: string;
  /** Label whose values are completed. */
  label?: string;
  /** For values: the quote character to close with, when the closing quote is missing. */
  closeQuote?: string;
  /** The selector's other complete matchers before the cursor ('job="node", env!="dev"'). */
  matchers?: string;
}

const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)/g;

/** Complete matchers in a piece of selector text, joined with ", ". */
export function completeMatchers(text: string): string {
  const out: string[] = [];
  for (const m of text.matchAll(MATCHER)) out.push(`${m[1]}${m[2]}${m[3]}`);
  return out.join(", ");
}

/** A series selector for the completion APIs: metric{matchers}, or {matchers}, or undefined. */
export function selectorOf(metric: string | undefined, matchers: string | undefined): string | undefined {
  if (matchers) return `${metric ?? ""}{${matchers}}`;
  return metric;
}

const IDENT_TAIL = /[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const GROUPING = /\b(by|without|on|ignoring|group_left|group_right)\s*$/;

export function analyze(text: string, cursor: number): CompletionContext {
  const before = text.slice(0, cursor);
  let quote = "";
  let quoteStart = -1;
  const braces: number[] = [];
  const parens: number[] = [];
  let brackets = 0;
  for (let i = 0; i < before.length; i++) {
    const c = before[i]!;
    if (quote) {
      if (c === "\\" && quote !== "`") i++;
      else if (c === quote) quote = "";
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      quote = c;
      quoteStart = i;
    } else if (c === "#") {
      const nl = before.indexOf("\n", i);
      if (nl < 0) return none(cursor);
      i = nl;
    } else if (c === "{") braces.push(i);
    else if (c === "}") braces.pop();
    else if (c === "(") parens.push(i);
    else if (c === ")") parens.pop();
    else if (c === "[") brackets++;
    else if (c === "]") brackets = Math.max(0, brackets - 1);
  }
  const brace = braces.length ? braces[braces.length - 1]! : -1;

  if (quote) {
    if (brace < 0 || quoteStart < brace) return none(cursor);
    const inside = text.slice(brace + 1, quoteStart);
    const m = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*$/.exec(inside);
    if (!m) return none(cursor);
    const others = completeMatchers(inside.slice(0, m.index));
    const after = text.slice(cursor);
    const close = after.search(new RegExp(`[${quote === "`" ? "`" : quote}]`));
    const stop = after.search(/[,}\n]/);
    const hasClose = close >= 0 && (stop < 0 || close < stop);
    return {
      kind: "value",
      prefix: before.slice(quoteStart + 1),
      from: quoteStart + 1,
      to: hasClose ? cursor + close : cursor,
      label: m[1]!,
      metric: metricBefore(text, brace),
      closeQuote: hasClose ? "" : quote,
      ...(others ? { matchers: others } : {}),
    };
  }
  if (brackets > 0) return none(cursor);

  const word = IDENT_TAIL.exec(before)?.[0] ?? "";
  const from = cursor - word.length;
  const tail = /^[a-zA-Z0-9_:]*/.exec(text.slice(cursor))?.[0] ?? "";
  const to = cursor + tail.length;
  if (/[0-9.]$/.test(before.slice(0, from))) return none(cursor);

  const lastParen = parens.length ? parens[parens.length - 1]! : -1;
  if (brace >= 0 && brace > lastParen) {
    const prev = before.slice(0, from).trimEnd().slice(-1);
    if (prev === "{" || prev === ",") {
      const others = completeMatchers(text.slice(brace + 1, from));
      return { kind: "label", prefix: word, from, to, metric: metricBefore(text, brace), ...(others ? { matchers: others } : {}) };
    }
    return none(cursor);
  }
  if (lastParen >= 0 && GROUPING.test(text.slice(0, lastParen))) {
    const prev = before.slice(0, from).trimEnd().slice(-1);
    if (prev === "(" || prev === ",") return { kind: "label", prefix: word, from, to };
  }
  return { kind: "metric", prefix: word, from, to };
}

function none(cursor: number): CompletionContext {
  return { kind: "none", prefix: "", from: cursor, to: cursor };
}

function metricBefore(text: string, brace: number): string | undefined {
  return IDENT_TAIL.exec(text.slice(0, brace).trimEnd())?.[0];
}

export const FUNCTIONS = [
  "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
  "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
  "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta",
  "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
  "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
  "hour", "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time", "ln",
  "log10", "log2", "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
  "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round",
  "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt",
  "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp",
  "vector", "year",
];

export const AGGREGATIONS = [
  "sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile",
  "count_values", "limitk", "limit_ratio",
];

export const KEYWORDS = [
  "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
];

export interface Candidate {
  text: string;
  kind: "metric" | "function" | "aggregation" | "keyword" | "label" | "value";
  /** Shown beside the kind, e.g. how many series carry a label value. */
  detail?: string;
}

/** Prefix matches first, then substring matches; at most `limit`. */
export function rank(cands: Candidate[], prefix: string, limit = 100): Candidate[] {
  const p = prefix.toLowerCase();
  const starts: Candidate[] = [];
  const contains: Candidate[] = [];
  for (const c of cands) {
    const t = c.text.toLowerCase();
    if (t === p && c.kind !== "value") continue;
    if (t.startsWith(p)) starts.push(c);
    else if (p && t.includes(p)) contains.push(c);
  }
  const byText = (a: Candidate, b: Candidate) => a.text.localeCompare(b.text);
  return [...starts.sort(byText), ...contains.sort(byText)].slice(0, limit);
}

export function escapeForQuote(v: string, quote: string): string {
  if (quote === "`") return v;
  return v.replace(/\\/g, "\\\\").replace(new RegExp(quote, "g"), `\\${quote}`).replace(/\n/g, "\\n");
}
