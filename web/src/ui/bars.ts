// Small SVG charts for lists: a bar histogram (issue events, log hits) with a hover title per
// bar and an optional click per bar. SVG, not canvas: at most a few hundred bars, crisp at any
// size, and testable from the DOM (each bar is a <rect data-v>).

const SVG = "http://www.w3.org/2000/svg";

export interface BarsOptions {
  /** CSS class of the <svg>. */
  cls?: string;
  /** Hover text of bar i. */
  title?(i: number, v: number): string;
  /** Click on bar i (e.g. zoom into its bucket). */
  onClick?(i: number): void;
  /** Accessible summary. */
  label?: string;
}

/** Bars scaled to the largest value; a zero bar is not drawn, a missing one neither. */
export function barsSvg(values: (number | null)[], opts: BarsOptions = {}): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", opts.cls ?? "bars");
  const n = Math.max(1, values.length);
  svg.setAttribute("viewBox", `0 0 ${n} 100`);
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  let max = 0;
  for (const v of values) if (v !== null && v > max) max = v;
  const total = values.reduce<number>((a, v) => a + (v ?? 0), 0);
  svg.setAttribute("aria-label", opts.label ?? `${total} in ${values.length} buckets`);
  svg.dataset["total"] = String(total);
  values.forEach((v, i) => {
    if (v === null || v <= 0 || max <= 0) return;
    const hgt = Math.max(4, (v / max) * 100);
    const r = document.createElementNS(SVG, "rect");
    r.setAttribute("x", String(i + 0.08));
    r.setAttribute("y", String(100 - hgt));
    r.setAttribute("width", "0.84");
    r.setAttribute("height", String(hgt));
    r.setAttribute("data-v", String(v));
    if (opts.title) {
      const t = document.createElementNS(SVG, "title");
      t.textContent = opts.title(i, v);
      r.append(t);
    }
    if (opts.onClick) {
      r.classList.add("clickable");
      r.addEventListener("click", () => opts.onClick!(i));
    }
    svg.append(r);
  });
  return svg;
}

/** Per-bucket increases of a cumulative counter sampled per bucket (null = no sample: carry). */
export function increases(cumulative: (number | null)[], baseline: number | null): number[] {
  const out: number[] = [];
  let prev = baseline;
  for (const v of cumulative) {
    if (v === null) {
      out.push(0);
      continue;
    }
    if (prev === null) {
      out.push(0);
    } else {
      // A counter that went down was reset (a restored store): count from zero.
      out.push(v >= prev ? v - prev : v);
    }
    prev = v;
  }
  return out;
}
