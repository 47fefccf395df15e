// Batched canvas painting for tables of small charts (heartbeats, sparklines): a canvas asks for a
// paint with `paintLater`, and one animation frame paints every canvas that asked and is on screen.
// Off-screen canvases keep their latest request and paint when they scroll into view, so 200 rows
// cost a few visible paints per frame, not 400 per update.

export type Painter = (ctx: CanvasRenderingContext2D, width: number, height: number) => void;

interface Entry {
  width: number;
  height: number;
  painter: Painter | null;
  visible: boolean;
}

const entries = new Map<HTMLCanvasElement, Entry>();
let frame = 0;
let io: IntersectionObserver | null = null;

function observer(): IntersectionObserver | null {
  if (io || typeof IntersectionObserver === "undefined") return io;
  io = new IntersectionObserver((records) => {
    for (const r of records) {
      const e = entries.get(r.target as HTMLCanvasElement);
      if (!e) continue;
      e.visible = r.isIntersecting;
      if (e.visible && e.painter) schedule();
    }
  });
  return io;
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  const dpr = window.devicePixelRatio || 1;
  for (const [canvas, e] of entries) {
    if (!e.visible || !e.painter) continue;
    const w = Math.round(e.width * dpr);
    const h = Math.round(e.height * dpr);
    if (canvas.width !== w) canvas.width = w;
    if (canvas.height !== h) canvas.height = h;
    const ctx = canvas.getContext("2d");
    if (ctx) {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      e.painter(ctx, e.width, e.height);
    }
    e.painter = null;
  }
}

/** Starts tracking a canvas of a fixed CSS size. Returns the function that stops it. */
export function track(canvas: HTMLCanvasElement, width: number, height: number): () => void {
  const obs = observer();
  entries.set(canvas, { width, height, painter: null, visible: !obs });
  obs?.observe(canvas);
  return () => {
    obs?.unobserve(canvas);
    entries.delete(canvas);
  };
}

/** Paints `canvas` with `painter` in the next frame it is visible in (the latest request wins). */
export function paintLater(canvas: HTMLCanvasElement, painter: Painter) {
  const e = entries.get(canvas);
  if (!e) return;
  e.painter = painter;
  if (e.visible) schedule();
}
