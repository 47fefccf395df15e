// The virtualised log list: only the rows in (and just around) the viewport are in the DOM, whatever
// the buffer holds, so the DOM stays a few dozen rows for 50,000 lines in memory. Follows the end
// while the user is at the bottom, keeps the view still when lines are added above (older pages) or
// dropped (the ring evicting), and asks for older lines near the top. Text is rendered as text nodes
// (ANSI colours as classed spans from lib/ansi.ts), never as HTML.
// Unwrapped lines all have one height, so their window is arithmetic (lib/window.ts, O(rows shown)).
// Wrapped lines vary, and @tanstack/virtual-core measures them; it rebuilds its table of every line's
// position when the count changes, which during a burst (a new count every frame, 50,000 lines) is
// garbage the unwrapped path avoids.
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from "preact/hooks";
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import { segments, strip, type Segment } from "../lib/ansi";
import type { Line, LogSession } from "../lib/log_session";
import { rowWindow } from "../lib/window";

/** Row height without wrapping (px); must match `.log-line` in styles.css. */
export const ROW = 20;
const OVERSCAN = 20;

const segCache = new WeakMap<Line, Segment[]>();
function segs(l: Line): Segment[] {
  let s = segCache.get(l);
  if (!s) segCache.set(l, (s = segments(l.line)));
  return s;
}

function time(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export interface LogViewOptions {
  timestamps: boolean;
  wrap: boolean;
  colours: boolean;
}

export function LogView({ session, opts, jump }: { session: LogSession; opts: LogViewOptions; jump: number }) {
  const scroller = useRef<HTMLDivElement>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const follow = useRef(true);
  const lastEvicted = useRef(0);
  const lastFirst = useRef<number | undefined>(undefined);
  const prevTotal = useRef(0);
  const lastGeneration = useRef(session.generation);
  const buffer = session.buffer;
  const version = session.version.value; // re-render once per frame with new lines

  const fixed = !opts.wrap;
  const [view, setView] = useState({ top: 0, height: 800 });
  const options = () => ({
    count: fixed ? 0 : buffer.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: OVERSCAN,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    onChange: () => rerender(0),
    // Index keys: a key function would be called for every kept line on each change (50,000 per frame).
  });
  const virt = useMemo(() => new Virtualizer<HTMLDivElement, HTMLDivElement>({ ...options(), count: 0 }), []);
  virt.setOptions(options());

  useEffect(() => virt._didMount(), []);
  useLayoutEffect(() => {
    virt._willUpdate();
  });

  // Where the unwrapped view must be after this render, decided before rendering so the rows drawn
  // are already the right ones: the end when following; the same lines as before when lines were put
  // above (older pages) or dropped (the ring evicting).
  const total = buffer.length * ROW;
  const first = buffer.first?.id;
  if (session.generation !== lastGeneration.current) {
    // A new stream filter, search or reload: start at its newest line, following.
    lastGeneration.current = session.generation;
    follow.current = true;
    lastFirst.current = undefined;
    lastEvicted.current = buffer.evicted;
  }
  const following = follow.current && !session.paused.value;
  let top = view.top;
  if (following) top = Math.max(0, total - view.height);
  else if (lastFirst.current !== undefined && first !== undefined && first < lastFirst.current) top += total - prevTotal.current;
  else if (buffer.evicted > lastEvicted.current) top = Math.max(0, top - (buffer.evicted - lastEvicted.current) * ROW);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    if (fixed) {
      if (Math.abs(el.scrollTop - top) >= 1) el.scrollTop = top;
    } else if (following) {
      el.scrollTop = el.scrollHeight;
    } else if (lastFirst.current !== undefined && first !== undefined && first < lastFirst.current) {
      el.scrollTop += virt.getTotalSize() - prevTotal.current;
    }
    lastEvicted.current = buffer.evicted;
    lastFirst.current = first;
    prevTotal.current = fixed ? total : virt.getTotalSize();
  }, [version]);

  // "Jump to latest": follow the end again.
  useLayoutEffect(() => {
    if (!jump) return;
    follow.current = true;
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [jump]);

  // Wrap changes row heights: measure rows then.
  useEffect(() => {
    virt.measure?.();
  }, [opts.wrap]);

  // The unwrapped window follows the scroll position and the viewport's height.
  useEffect(() => {
    const el = scroller.current!;
    const ro = new ResizeObserver(() => setView({ top: el.scrollTop, height: el.clientHeight }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const onScroll = () => {
    const el = scroller.current!;
    if (fixed) setView({ top: el.scrollTop, height: el.clientHeight });
    follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < ROW * 2;
    if (el.scrollTop < ROW * 10 && session.hasOlder.value && !session.loadingOlder.value) void session.loadOlder();
  };

  const items = fixed ? rowWindow(top, view.height, ROW, buffer.length, OVERSCAN) : virt.getVirtualItems();
  const totalSize = fixed ? buffer.length * ROW : virt.getTotalSize();
  return (
    <div
      ref={scroller}
      class={`log-view${opts.wrap ? " wrap" : ""}`}
      data-testid="log-view"
      role="region"
      aria-label="Log lines"
      tabIndex={0}
      onScroll={onScroll}
    >
      <div class="log-inner" style={{ height: `${totalSize}px` }}>
        {items.map((it) => {
          const l = buffer.at(it.index);
          if (!l) return null;
          return (
            <div
              key={l.id}
              data-index={it.index}
              ref={opts.wrap ? (el: HTMLDivElement | null) => { if (el) virt.measureElement(el); } : undefined}
              class={`log-line ${l.stream}`}
              data-testid="log-line"
              style={{ transform: `translateY(${it.start}px)` }}
            >
              {opts.timestamps ? <span class="log-time">{time(l.time)}</span> : null}
              <span class="log-text">
                {opts.colours
                  ? segs(l).map((s, i) => (s.cls ? <span key={i} class={s.cls}>{s.text}</span> : s.text))
                  : strip(l.line)}
              </span>
            </div>
          );
        })}
      </div>
    </div>
  );
}
