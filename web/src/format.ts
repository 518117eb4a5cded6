// Number and label formatting shared by charts, legends and tables.

export type Labels = Record<string, string>;

const SI = [
  { v: 1e15, s: "P" },
  { v: 1e12, s: "T" },
  { v: 1e9, s: "G" },
  { v: 1e6, s: "M" },
  { v: 1e3, s: "k" },
];

function trim(n: number, digits: number): string {
  return Number(n.toFixed(digits)).toString();
}

/** Short human value: 1.23k, 45.6M, 0.0123, 12.5 (axes and legends). */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
  const a = Math.abs(v);
  for (const { v: base, s } of SI) if (a >= base) return trim(v / base, a / base >= 100 ? 1 : 2) + s;
  if (a === 0) return "0";
  if (a < 0.001) return v.toExponential(2);
  if (a < 1) return trim(v, 4);
  return trim(v, 2);
}

/** The raw value as Prometheus sent it, for tables. */
export function formatRaw(s: string): string {
  return s;
}

/** metric{a="b", c="d"} in Prometheus notation. */
export function seriesName(labels: Labels): string {
  const name = labels["__name__"] ?? "";
  const rest = Object.keys(labels)
    .filter((k) => k !== "__name__")
    .sort()
    .map((k) => `${k}="${escapeLabelValue(labels[k]!)}"`);
  if (!rest.length) return name || "{}";
  return `${name}{${rest.join(", ")}}`;
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function parseSampleValue(s: string): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  return parseFloat(s);
}
