// Colours for canvas drawing, read from the stylesheet's variables (so canvases follow light/dark
// like the rest of the page). Read once and again when the colour scheme changes; `themeVersion`
// tells painters to redraw.
import { signal } from "@preact/signals";

export interface Colours {
  ok: string;
  bad: string;
  warn: string;
  idle: string;
  accent: string;
  fg: string;
  fgSoft: string;
  border: string;
  bg: string;
}

let cached: Colours | null = null;
export const themeVersion = signal(0);

export function colours(): Colours {
  if (cached) return cached;
  const s = getComputedStyle(document.documentElement);
  const v = (name: string, fallback: string) => s.getPropertyValue(name).trim() || fallback;
  cached = {
    ok: v("--ok", "#1a7f37"),
    bad: v("--bad", "#cf222e"),
    warn: v("--warn", "#9a6700"),
    idle: v("--border", "#d0d7de"),
    accent: v("--accent", "#0a5bd3"),
    fg: v("--fg", "#1b1f24"),
    fgSoft: v("--fg-soft", "#57606a"),
    border: v("--border", "#d0d7de"),
    bg: v("--bg", "#ffffff"),
  };
  return cached;
}

if (typeof window !== "undefined" && window.matchMedia) {
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    cached = null;
    themeVersion.value++;
  });
}
