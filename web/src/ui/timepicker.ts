// Time range picker: presets, a custom from/to, zoom out. Writes from/to into the URL.

import { h } from "../dom";
import { formatDateTime, parseTimeSpec, PRESETS, rangeLabel, resolveRange, type TimeRange } from "../time";
import { current, rangeOf, setParams } from "../url";

export class TimePicker {
  readonly el: HTMLElement;
  private button: HTMLButtonElement;
  private menu: HTMLElement;
  private fromInput: HTMLInputElement;
  private toInput: HTMLInputElement;
  private customError: HTMLElement;

  constructor() {
    this.button = h("button", {
      class: "btn time-button", type: "button", "aria-haspopup": "true", "aria-expanded": "false",
      title: "Time range (t cycles presets)", onclick: () => this.toggle(),
    });
    this.fromInput = h("input", { id: "tp-from", type: "text", spellcheck: "false", autocomplete: "off", placeholder: "now-6h" });
    this.toInput = h("input", { id: "tp-to", type: "text", spellcheck: "false", autocomplete: "off", placeholder: "now" });
    this.customError = h("div", { class: "field-error", role: "alert" });
    const form = h("form", { class: "tp-custom", onsubmit: (ev: Event) => { ev.preventDefault(); this.applyCustom(); } },
      h("div", { class: "tp-custom-title" }, "Custom range"),
      h("label", { for: "tp-from" }, "From"), this.fromInput,
      h("label", { for: "tp-to" }, "To"), this.toInput,
      h("div", { class: "muted small" }, "now, now-2h, 2026-11-26 08:00 or epoch ms"),
      this.customError,
      h("button", { class: "btn btn-primary", type: "submit" }, "Apply"));
    this.menu = h("div", { class: "menu tp-menu", hidden: true },
      h("ul", { class: "tp-presets", role: "menu" }, PRESETS.map((p) =>
        h("li", { role: "none" }, h("button", {
          type: "button", role: "menuitem", class: "menu-item", "data-preset": p.key,
          onclick: () => { this.close(); setParams({ from: p.from, to: "now" }); },
        }, p.label)))),
      form);
    const zoomOut = h("button", {
      class: "btn btn-icon", type: "button", title: "Zoom out (twice the range)", "aria-label": "Zoom out",
      onclick: () => zoomOutRange(),
    }, "⤢");
    this.el = h("div", { class: "time-picker" }, this.button, zoomOut, this.menu);
    document.addEventListener("click", (ev) => {
      if (!this.menu.hidden && !this.el.contains(ev.target as Node)) this.close();
    });
    this.el.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !this.menu.hidden) { ev.stopPropagation(); this.close(); this.button.focus(); }
    });
  }

  update(r: TimeRange): void {
    this.button.textContent = "";
    this.button.append(h("span", { class: "time-icon", "aria-hidden": "true" }, "◷"), rangeLabel(r), h("span", { class: "caret", "aria-hidden": "true" }, "▾"));
    for (const b of this.menu.querySelectorAll<HTMLButtonElement>("[data-preset]")) {
      const p = PRESETS.find((x) => x.key === b.dataset["preset"]);
      b.classList.toggle("active", !!p && p.from === r.from && r.to === "now");
    }
  }

  private toggle(): void {
    if (this.menu.hidden) this.open();
    else this.close();
  }

  private open(): void {
    const r = rangeOf(current().params);
    const abs = (s: string) => (/^\d{10,}$/.test(s) ? formatDateTime(parseInt(s, 10)) : s);
    this.fromInput.value = abs(r.from);
    this.toInput.value = abs(r.to);
    this.customError.textContent = "";
    this.menu.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.menu.querySelector<HTMLButtonElement>("button")?.focus();
  }

  private close(): void {
    this.menu.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
  }

  private applyCustom(): void {
    const now = Date.now();
    const from = parseTimeSpec(this.fromInput.value, now);
    const to = parseTimeSpec(this.toInput.value, now);
    if (from === null || to === null) {
      this.customError.textContent = `Cannot read ${from === null ? "From" : "To"}: use now, now-2h, 2026-11-26 08:00 or epoch ms.`;
      return;
    }
    if (from >= to) {
      this.customError.textContent = "From must be before To.";
      return;
    }
    const keep = (s: string, ms: number) => (s.trim().startsWith("now") ? s.trim().replace(/\s+/g, "") : String(ms));
    this.close();
    setParams({ from: keep(this.fromInput.value, from), to: keep(this.toInput.value, to) });
  }
}

export function zoomOutRange(): void {
  const r = rangeOf(current().params);
  const { start, end } = resolveRange(r);
  const span = end - start;
  const now = Date.now();
  const newEnd = Math.min(now, end + span / 2);
  const newStart = newEnd - span * 2;
  if (r.to === "now") setParams({ from: `now-${Math.round((now - newStart) / 60000)}m`, to: "now" });
  else setParams({ from: String(Math.round(newStart)), to: newEnd >= now - 1000 ? "now" : String(Math.round(newEnd)) });
}

/** `t`: next (or previous) preset. */
export function cyclePreset(dir: 1 | -1): void {
  const r = rangeOf(current().params);
  const i = PRESETS.findIndex((p) => p.from === r.from && r.to === "now");
  const next = i < 0 ? (dir > 0 ? 0 : PRESETS.length - 1) : (i + dir + PRESETS.length) % PRESETS.length;
  setParams({ from: PRESETS[next]!.from, to: "now" });
}
