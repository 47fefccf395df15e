// The virtualised log list: only the rows in (and just around) the viewport are in the DOM, whatever
// the buffer holds, so the DOM stays a few dozen rows for 50,000 lines in memory. Follows the end
// while the user is at the bottom, keeps the view still when lines are added above (older pages) or
// dropped (the ring evicting), and asks for older lines near the top. Text is rendered as text nodes
// (ANSI colours as classed spans from lib/ansi.ts), never as HTML.
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef } from "preact/hooks";
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";
import { segments, strip, type Segment } from "../lib/ansi";
import type { Line, LogSession } from "../lib/log_session";

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
  const buffer = session.buffer;
  const version = session.version.value; // re-render once per frame with new lines

  const virt = useMemo(
    () =>
      new Virtualizer<HTMLDivElement, HTMLDivElement>({
        count: 0,
        getScrollElement: () => scroller.current,
        estimateSize: () => ROW,
        overscan: OVERSCAN,
        scrollToFn: elementScroll,
        observeElementRect,
        observeElementOffset,
        onChange: () => rerender(0),
      }),
    [],
  );
  const options = () => ({
    count: buffer.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: OVERSCAN,
    scrollToFn: elementScroll,
    observeElementRect,
    observeElementOffset,
    onChange: () => rerender(0),
    getItemKey: (i: number) => buffer.at(i)?.id ?? i,
  });
  virt.setOptions(options());

  useEffect(() => virt._didMount(), []);
  useLayoutEffect(() => {
    virt._willUpdate();
  });

  // After new lines: keep the bottom in view when following, else keep the same lines in view.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const total = virt.getTotalSize();
    const first = buffer.first?.id;
    const evictedNow = buffer.evicted;
    if (follow.current && !session.paused.value) {
      el.scrollTop = el.scrollHeight;
    } else if (lastFirst.current !== undefined && first !== undefined && first < lastFirst.current) {
      // Older lines were put above: move down by their height.
      el.scrollTop += total - prevTotal.current;
    } else if (evictedNow > lastEvicted.current && !opts.wrap) {
      // Lines dropped at the top: move up by their height so the same lines stay in view.
      el.scrollTop = Math.max(0, el.scrollTop - (evictedNow - lastEvicted.current) * ROW);
    }
    lastEvicted.current = evictedNow;
    lastFirst.current = first;
    prevTotal.current = total;
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

  const onScroll = () => {
    const el = scroller.current!;
    follow.current = el.scrollHeight - el.scrollTop - el.clientHeight < ROW * 2;
    if (el.scrollTop < ROW * 10 && session.hasOlder.value && !session.loadingOlder.value) void session.loadOlder();
  };

  const items = virt.getVirtualItems();
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
      <div class="log-inner" style={{ height: `${virt.getTotalSize()}px` }}>
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
