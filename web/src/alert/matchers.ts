// Label matchers as alert filters and silences write them (name="v", name!="v", name=~"re",
// name!~"re"; regexes anchored, as in PromQL and Alertmanager). Pure: unit-tested in web/test.

/** Does a silence matcher (name="v", name!="v", name=~"re", name!~"re") match these labels? */
export function matcherMatches(m: string, labels: Record<string, string>): boolean {
  const x = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/.exec(m);
  if (!x) return false;
  const [, name, op, raw] = x;
  const want = raw!.replace(/\\(.)/g, "$1");
  const have = labels[name!] ?? "";
  switch (op) {
    case "=":
      return have === want;
    case "!=":
      return have !== want;
    default: {
      let re: RegExp;
      try {
        re = new RegExp(`^(?:${want})$`);
      } catch {
        return false;
      }
      return op === "=~" ? re.test(have) : !re.test(have);
    }
  }
}

/** Label matchers of an alerts panel's filter: `severity="page", team=~"db|web"`. */
export function parseAlertFilter(filter: string): { name: string; op: string; value: string }[] | string {
  const out: { name: string; op: string; value: string }[] = [];
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
  let pos = 0;
  const s = filter.trim();
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return `Alert filter: cannot parse at "${s.slice(pos, pos + 20)}" (want name="value", name=~"regex", separated by commas).`;
    out.push({ name: m[1]!, op: m[2]!, value: m[3]!.replace(/\\(.)/g, "$1") });
    pos = re.lastIndex;
  }
  return out;
}

export function matchAll(ms: { name: string; op: string; value: string }[], labels: Record<string, string>): boolean {
  return ms.every(({ name, op, value }) => {
    const have = labels[name] ?? "";
    if (op === "=") return have === value;
    if (op === "!=") return have !== value;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${value})$`);
    } catch {
      return false;
    }
    return op === "=~" ? re.test(have) : !re.test(have);
  });
}
