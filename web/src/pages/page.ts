import type { Loc } from "../url";

/** A page owns its element; the frame calls update() on URL changes and refresh() on timers. */
export interface Page {
  readonly el: HTMLElement;
  /** Title shown in the document title. */
  readonly title: string;
  update(loc: Loc): void;
  refresh(): void;
  /** Focuses the page's query box; false when it has none. */
  focusSearch?(): boolean;
  destroy(): void;
}
