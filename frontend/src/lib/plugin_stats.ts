// Plugin call latency percentiles from the daemon's fixed-bucket histogram: the answer is the upper
// bound of the bucket holding that call (the histogram keeps no finer detail), "> last" past the last.
import type { LatencyHistogram } from "./wire";

/** Upper bound (µs) of the bucket holding the q-quantile call; Infinity past the last bound; null without calls. */
export function percentileUs(h: LatencyHistogram, q: number): number | null {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    seen += h.counts[i]!;
    if (seen >= rank) return i < h.bounds_us.length ? h.bounds_us[i]! : Infinity;
  }
  return Infinity;
}

function us(v: number): string {
  if (v < 1000) return `${v} µs`;
  if (v < 1_000_000) return `${v / 1000} ms`;
  return `${v / 1_000_000} s`;
}

/** "≤ 5 ms", "> 10 s", "—". */
export function percentileText(h: LatencyHistogram, q: number): string {
  const v = percentileUs(h, q);
  if (v === null) return "—";
  if (v === Infinity) return `> ${us(h.bounds_us[h.bounds_us.length - 1] ?? 0)}`;
  return `≤ ${us(v)}`;
}
