// Pure helpers of the log query language as the Logs page writes it (docs/logs-query.md):
// a row's stream labels, a field = value filter term, adding a term to a query.

/** Stream labels of a row, from its `_stream` ({a="x",b="y"}). */
export function streamLabels(stream: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_.\-]*)="((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(stream))) out[m[1]!] = m[2]!.replace(/\\(.)/g, "$1");
  return out;
}

/** A filter term for field = value (docs/logs-query.md: field:="exact value"). */
export function fieldFilter(field: string, value: string, negate = false): string {
  const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(field) ? field : `"${field.replace(/"/g, '\\"')}"`;
  return `${negate ? "-" : ""}${name}:="${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Where the pipes of a query start: the first `|` outside quotes, or -1. */
export function pipeStart(q: string): number {
  let quote = "";
  for (let i = 0; i < q.length; i++) {
    const c = q[i]!;
    if (quote) {
      if (c === "\\" && quote !== "`") i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'" || c === "`") {
      quote = c;
    } else if (c === "|") {
      return i;
    }
  }
  return -1;
}

/** Adds a term to a query (AND); the pipes stay at the end. */
export function addTerm(q: string, term: string): string {
  const s = q.trim();
  if (!s || s === "*") return term;
  const pipe = pipeStart(s);
  if (pipe < 0) return `${s} ${term}`;
  return `${s.slice(0, pipe).trim()} ${term} ${s.slice(pipe)}`;
}

/** The filter of a query without its pipes ("*" when empty): for hits, facets and tail. */
export function filterPart(q: string): string {
  const p = pipeStart(q);
  return (p < 0 ? q : q.slice(0, p)).trim() || "*";
}
