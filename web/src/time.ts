// Time ranges as they appear in the URL: "now", "now-1h", or epoch milliseconds.

export interface TimeRange {
  from: string;
  to: string;
}

export interface Preset {
  key: string;
  label: string;
  from: string;
}

export const PRESETS: Preset[] = [
  { key: "15m", label: "Last 15 minutes", from: "now-15m" },
  { key: "1h", label: "Last 1 hour", from: "now-1h" },
  { key: "6h", label: "Last 6 hours", from: "now-6h" },
  { key: "24h", label: "Last 24 hours", from: "now-24h" },
  { key: "7d", label: "Last 7 days", from: "now-7d" },
];

export const DEFAULT_RANGE: TimeRange = { from: "now-1h", to: "now" };

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/** "90s", "15m", "1h30m" -> milliseconds; null when malformed. */
export function parseDuration(s: string): number | null {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/gy;
  let total = 0;
  let pos = 0;
  const text = s.trim();
  if (!text) return null;
  re.lastIndex = 0;
  while (pos < text.length) {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return null;
    total += parseFloat(m[1]!) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  return total;
}

/**
 * Parses a time spec: "now", "now-6h", epoch ms ("1700000000000"), or a local date/time
 * ("2026-11-26 08:00", "2026-11-26T08:00:30"). Returns ms or null.
 */
export function parseTimeSpec(spec: string, now = Date.now()): number | null {
  const s = spec.trim();
  if (s === "now") return now;
  const rel = /^now\s*-\s*(.+)$/.exec(s);
  if (rel) {
    const d = parseDuration(rel[1]!);
    return d === null ? null : now - d;
  }
  if (/^\d{10,}$/.test(s)) return parseInt(s, 10);
  const abs = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  if (abs) {
    const [, y, mo, d, hh, mm, ss] = abs;
    const t = new Date(+y!, +mo! - 1, +d!, +(hh ?? 0), +(mm ?? 0), +(ss ?? 0)).getTime();
    return Number.isFinite(t) ? t : null;
  }
  return null;
}

export function resolveRange(r: TimeRange, now = Date.now()): { start: number; end: number } {
  let start = parseTimeSpec(r.from, now);
  let end = parseTimeSpec(r.to, now);
  if (end === null) end = now;
  if (start === null) start = end - 3_600_000;
  if (start >= end) start = end - 60_000;
  return { start, end };
}

export function isRelative(r: TimeRange): boolean {
  return r.to.trim() === "now" || r.from.trim().startsWith("now");
}

export function presetOf(r: TimeRange): Preset | undefined {
  if (r.to !== "now") return undefined;
  return PRESETS.find((p) => p.from === r.from);
}

export function rangeLabel(r: TimeRange): string {
  const p = presetOf(r);
  if (p) return p.label;
  if (r.to === "now" && r.from.startsWith("now-")) return `Last ${r.from.slice(4)}`;
  const { start, end } = resolveRange(r);
  return `${formatDateTime(start)} → ${formatDateTime(end, sameDay(start, end))}`;
}

function sameDay(a: number, b: number): boolean {
  return new Date(a).toDateString() === new Date(b).toDateString();
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Local "YYYY-MM-DD HH:MM:SS" (or only the time). */
export function formatDateTime(ms: number, timeOnly = false): string {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (timeOnly) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

const NICE_STEPS = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** At most one point per pixel and at most ~1,100 points, on a human step (seconds). */
export function chooseStep(startMs: number, endMs: number, widthPx: number): number {
  const points = Math.max(50, Math.min(Math.floor(widthPx), 1100));
  const raw = (endMs - startMs) / 1000 / points;
  for (const s of NICE_STEPS) if (s >= raw) return s;
  return Math.ceil(raw / 86400) * 86400;
}

export function formatDuration(sec: number): string {
  if (sec % 86400 === 0) return `${sec / 86400}d`;
  if (sec % 3600 === 0) return `${sec / 3600}h`;
  if (sec % 60 === 0) return `${sec / 60}m`;
  return `${sec}s`;
}
