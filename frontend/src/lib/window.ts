// Which rows of a list of equal-height rows are in (or near) the viewport: the unwrapped log view's
// window, computed from the scroll position alone (no per-row state). Tested in window.test.ts.

export interface RowSlot {
  index: number;
  start: number;
}

export function rowWindow(scrollTop: number, viewHeight: number, rowHeight: number, count: number, overscan: number): RowSlot[] {
  if (count <= 0 || rowHeight <= 0) return [];
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count - 1, Math.ceil((scrollTop + Math.max(0, viewHeight)) / rowHeight) + overscan);
  const out: RowSlot[] = [];
  for (let i = first; i <= last; i++) out.push({ index: i, start: i * rowHeight });
  return out;
}
