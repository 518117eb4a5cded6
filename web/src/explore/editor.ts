// PromQL editor: a textarea with a completion list fed by the label APIs.

import { h } from "../dom";
import {
  AGGREGATIONS, analyze, escapeForQuote, FUNCTIONS, KEYWORDS, rank, selectorOf,
  type Candidate, type CompletionContext,
} from "./complete";

/** Where completions come from; `selector` narrows to series matching it (metric{matchers}). */
export interface CompletionSource {
  metricNames(): Promise<string[]>;
  labelNames(selector?: string): Promise<string[]>;
  labelValues(label: string, selector?: string): Promise<string[]>;
  /** How many series carry each value of `label` among those matching `selector`; null if unknown. */
  valueCounts?(label: string, selector?: string): Promise<Map<string, number> | null>;
}

let nextId = 0;

export class QueryEditor {
  readonly el: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  private list: HTMLUListElement;
  private items: Candidate[] = [];
  private active = 0;
  private ctx: CompletionContext | null = null;
  private seq = 0;
  private listId = `completions-${++nextId}`;

  constructor(private source: CompletionSource, private onRun: () => void, id = "query") {
    this.textarea = h("textarea", {
      id, class: "query-input", rows: 1, spellcheck: "false", autocomplete: "off",
      autocapitalize: "off", placeholder: "PromQL, e.g. rate(kansoku_http_requests_total[5m])   — Enter runs, Shift+Enter new line",
      role: "combobox", "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": this.listId,
    });
    this.list = h("ul", { id: this.listId, class: "completions", role: "listbox", hidden: true, "aria-label": "Completions" });
    this.el = h("div", { class: "editor" },
      h("label", { for: id, class: "sr-only" }, "PromQL query"),
      this.textarea, this.list);

    this.textarea.addEventListener("input", () => {
      this.autosize();
      void this.complete(false);
    });
    this.textarea.addEventListener("keydown", (ev) => this.onKey(ev));
    this.textarea.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    this.textarea.addEventListener("click", () => this.close());
    this.list.addEventListener("mousedown", (ev) => ev.preventDefault());
  }

  get value(): string {
    return this.textarea.value;
  }

  set value(v: string) {
    if (this.textarea.value !== v) this.textarea.value = v;
    this.autosize();
  }

  focus(): void {
    this.textarea.focus();
    const n = this.textarea.value.length;
    this.textarea.setSelectionRange(n, n);
  }

  private autosize(): void {
    const lines = Math.min(10, Math.max(1, this.textarea.value.split("\n").length));
    this.textarea.rows = lines;
  }

  private onKey(ev: KeyboardEvent): void {
    const open = !this.list.hidden && this.items.length > 0;
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      this.close();
      this.onRun();
      return;
    }
    if (ev.key === " " && ev.ctrlKey) {
      ev.preventDefault();
      void this.complete(true);
      return;
    }
    if (open) {
      if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        const n = this.items.length;
        this.setActive((this.active + (ev.key === "ArrowDown" ? 1 : n - 1)) % n);
        return;
      }
      if (ev.key === "Tab" || (ev.key === "Enter" && !ev.shiftKey)) {
        ev.preventDefault();
        this.accept(this.active);
        return;
      }
      if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        this.close();
        return;
      }
    }
    if (ev.key === "Enter" && !ev.shiftKey) {
      ev.preventDefault();
      this.onRun();
    }
  }

  private async complete(force: boolean): Promise<void> {
    const ta = this.textarea;
    if (ta.selectionStart !== ta.selectionEnd) return this.close();
    const ctx = analyze(ta.value, ta.selectionStart);
    if (ctx.kind === "none" || (ctx.kind === "metric" && !ctx.prefix && !force)) return this.close();
    const seq = ++this.seq;
    let cands: Candidate[];
    try {
      cands = await this.candidates(ctx);
    } catch {
      return this.close(); // completion is a help; the query itself reports errors
    }
    if (seq !== this.seq) return;
    this.ctx = ctx;
    this.items = rank(cands, ctx.prefix);
    this.render();
  }

  private async candidates(ctx: CompletionContext): Promise<Candidate[]> {
    switch (ctx.kind) {
      case "metric": {
        const names = await this.source.metricNames();
        return [
          ...names.map((text): Candidate => ({ text, kind: "metric" })),
          ...FUNCTIONS.map((text): Candidate => ({ text, kind: "function" })),
          ...AGGREGATIONS.map((text): Candidate => ({ text, kind: "aggregation" })),
          ...KEYWORDS.map((text): Candidate => ({ text, kind: "keyword" })),
        ];
      }
      case "label":
        return (await this.source.labelNames(selectorOf(ctx.metric, ctx.matchers)))
          .filter((n) => n !== "__name__")
          .map((text) => ({ text, kind: "label" }));
      case "value": {
        const sel = selectorOf(ctx.metric, ctx.matchers);
        const [values, counts] = await Promise.all([
          this.source.labelValues(ctx.label!, sel),
          this.source.valueCounts?.(ctx.label!, sel) ?? Promise.resolve(null),
        ]);
        return values.map((text): Candidate => {
          const n = counts?.get(text);
          return n === undefined ? { text, kind: "value" } : { text, kind: "value", detail: `${n} series` };
        });
      }
      default:
        return [];
    }
  }

  private render(): void {
    if (!this.items.length) return this.close();
    this.active = 0;
    this.list.replaceChildren(...this.items.map((c, i) =>
      h("li", { id: `${this.listId}-${i}`, role: "option", class: "completion", "aria-selected": i === 0 ? "true" : "false",
        onclick: () => this.accept(i) },
        h("span", { class: "completion-text" }, c.text),
        h("span", { class: `completion-kind kind-${c.kind}` }, c.detail ? `${c.detail} · ${c.kind}` : c.kind))));
    this.list.hidden = false;
    this.textarea.setAttribute("aria-expanded", "true");
    this.setActive(0);
  }

  private setActive(i: number): void {
    const prev = this.list.children[this.active] as HTMLElement | undefined;
    prev?.setAttribute("aria-selected", "false");
    this.active = i;
    const cur = this.list.children[i] as HTMLElement | undefined;
    cur?.setAttribute("aria-selected", "true");
    cur?.scrollIntoView({ block: "nearest" });
    this.textarea.setAttribute("aria-activedescendant", cur?.id ?? "");
  }

  private accept(i: number): void {
    const c = this.items[i];
    const ctx = this.ctx;
    if (!c || !ctx) return;
    let insert = c.text;
    let caretBack = 0;
    if (c.kind === "function" || (c.kind === "aggregation" && ctx.kind === "metric")) {
      insert += "()";
      caretBack = 1;
    } else if (c.kind === "value") {
      const quote = this.textarea.value[ctx.from - 1] ?? '"';
      insert = escapeForQuote(c.text, quote) + (ctx.closeQuote ?? "");
      if (!ctx.closeQuote) caretBack = -1; // step over the closing quote that was there
    }
    const ta = this.textarea;
    ta.setRangeText(insert, ctx.from, ctx.to, "end");
    const pos = ta.selectionEnd - caretBack;
    ta.setSelectionRange(pos, pos);
    this.close();
    ta.focus();
    this.autosize();
    ta.dispatchEvent(new Event("change"));
  }

  close(): void {
    this.seq++;
    this.list.hidden = true;
    this.items = [];
    this.textarea.setAttribute("aria-expanded", "false");
    this.textarea.removeAttribute("aria-activedescendant");
  }
}
