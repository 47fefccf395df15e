// Metric points (`GET /api/services/{name}/metrics`) as uPlot's column arrays: x in seconds since the
// epoch, a `null` wherever a step has no samples (the API leaves such steps out) so the chart shows a
// gap instead of a line across a time the service was not running. Tested in series.test.ts.
import type { MetricPoint } from "./types";

export interface Series {
  x: number[];
  cpu: (number | null)[];
  cpuMax: (number | null)[];
  mem: (number | null)[];
  memMax: (number | null)[];
  disk: (number | null)[];
}

export function toSeries(points: readonly MetricPoint[], stepS: number): Series {
  const s: Series = { x: [], cpu: [], cpuMax: [], mem: [], memMax: [], disk: [] };
  let prev: number | null = null;
  for (const p of points) {
    const t = Date.parse(p.time) / 1000;
    if (!Number.isFinite(t)) continue;
    if (prev !== null && t - prev > stepS * 1.5) {
      // One empty point just after the last one breaks the line.
      s.x.push(prev + stepS);
      s.cpu.push(null);
      s.cpuMax.push(null);
      s.mem.push(null);
      s.memMax.push(null);
      s.disk.push(null);
    }
    s.x.push(t);
    s.cpu.push(p.cpu_percent);
    s.cpuMax.push(p.cpu_percent_max);
    s.mem.push(p.memory_mb);
    s.memMax.push(p.memory_mb_max);
    s.disk.push(p.disk_bytes ?? null);
    prev = t;
  }
  return s;
}

/** True when no point has a disk figure (the service has no watch_dirs or working_dir). */
export function noDisk(s: Series): boolean {
  return s.disk.every((d) => d === null);
}
