// The health heartbeat (Uptime Kuma style): the last N probe results as coloured bars, oldest left.
// Pure model (slots, colours, the accessible summary) plus one canvas painter; tested in heartbeat.test.ts.

export interface Beat {
  time: string;
  passed: boolean;
  latency_ms?: number;
}

export type BeatKind = "ok" | "bad" | "none";

/** How many bars a heartbeat shows. */
export const SLOTS = 30;

/** The last `slots` results, oldest first, padded on the left with empty slots ("none"). */
export function slots(beats: readonly Beat[], slots = SLOTS): BeatKind[] {
  const out: BeatKind[] = [];
  const recent = beats.slice(-slots);
  for (let i = recent.length; i < slots; i++) out.push("none");
  for (const b of recent) out.push(b.passed ? "ok" : "bad");
  return out;
}

/** Appends a live result, keeping at most `max` (so a long-open tab stays bounded). */
export function push(beats: readonly Beat[], beat: Beat, max = SLOTS): Beat[] {
  const next = beats.length >= max ? beats.slice(beats.length - max + 1) : beats.slice();
  next.push(beat);
  return next;
}

/** The accessible name of a heartbeat: `health: 28 of 30 passed`, or that there is no check data. */
export function summary(beats: readonly Beat[], slotsShown = SLOTS): string {
  const recent = beats.slice(-slotsShown);
  if (recent.length === 0) return "health: no results";
  const ok = recent.filter((b) => b.passed).length;
  return `health: ${ok} of ${recent.length} passed`;
}

export interface Palette {
  ok: string;
  bad: string;
  none: string;
}

/** Paints the bars into a context already scaled to CSS pixels (`width` x `height`). */
export function paint(ctx: CanvasRenderingContext2D, kinds: readonly BeatKind[], width: number, height: number, pal: Palette) {
  ctx.clearRect(0, 0, width, height);
  const n = kinds.length;
  if (!n) return;
  const gap = 1;
  const w = Math.max(1, (width - gap * (n - 1)) / n);
  for (let i = 0; i < n; i++) {
    const k = kinds[i]!;
    ctx.fillStyle = pal[k];
    const h = k === "none" ? height * 0.4 : height;
    ctx.fillRect(i * (w + gap), (height - h) / 2, w, h);
  }
}
