// Series colours: distinguishable on both themes, in a fixed order so a series keeps its colour.

export const PALETTE = [
  "#4c8dff", "#f5a524", "#2fb36d", "#f0525c", "#9b6dff", "#19b5c2",
  "#ec5fae", "#b5b00f", "#7f8ea3", "#ff7a30", "#58c7ff", "#a3d14a",
];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

/** `fg` over `bg` at `alpha`, as an opaque colour (both "#rrggbb"). */
export function blend(fg: string, bg: string, alpha: number): string {
  const a = parseInt(fg.slice(1), 16);
  const b = /^#[0-9a-f]{6}$/i.test(bg) ? parseInt(bg.slice(1), 16) : 0x161b22;
  const ch = (shift: number) => Math.round(((a >> shift) & 255) * alpha + ((b >> shift) & 255) * (1 - alpha));
  return `rgb(${ch(16)}, ${ch(8)}, ${ch(0)})`;
}
