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

const BYTES = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/** A value in a panel's unit: 12.5%, 1.2 GiB, 350 ms, 3.4k ops/s. */
export function formatUnit(v: number | null | undefined, unit: string | undefined, decimals?: number): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return formatValue(v);
  const fixed = (x: number, d: number) => (decimals === undefined ? Number(x.toFixed(d)).toString() : x.toFixed(decimals));
  switch (unit) {
    case "percent":
      return `${fixed(v, Math.abs(v) < 10 ? 2 : 1)}%`;
    case "percentunit":
      return `${fixed(v * 100, Math.abs(v) < 0.1 ? 2 : 1)}%`;
    case "bytes":
    case "bytes/s": {
      let x = Math.abs(v);
      let i = 0;
      while (x >= 1024 && i < BYTES.length - 1) {
        x /= 1024;
        i++;
      }
      const s = `${v < 0 ? "-" : ""}${fixed(x, x >= 100 || i === 0 ? 0 : 1)} ${BYTES[i]}`;
      return unit === "bytes/s" ? `${s}/s` : s;
    }
    case "s": {
      const a = Math.abs(v);
      if (a === 0) return "0 s";
      if (a < 1e-3) return `${fixed(v * 1e6, 0)} µs`;
      if (a < 1) return `${fixed(v * 1e3, 1)} ms`;
      if (a < 120) return `${fixed(v, 2)} s`;
      if (a < 7200) return `${fixed(v / 60, 1)} min`;
      if (a < 172800) return `${fixed(v / 3600, 1)} h`;
      return `${fixed(v / 86400, 1)} d`;
    }
    case "ms":
      return formatUnit(v / 1000, "s", decimals);
    case "ops/s":
      return `${decimals === undefined ? formatValue(v) : v.toFixed(decimals)} ops/s`;
    default:
      return decimals === undefined ? formatValue(v) : v.toFixed(decimals);
  }
}
