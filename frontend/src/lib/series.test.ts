import { describe, expect, it } from "vitest";
import { noDisk, toSeries } from "./series";
import type { MetricPoint } from "./types";

const p = (time: string, cpu: number, disk?: number): MetricPoint => ({
  time, samples: 3, cpu_percent: cpu, cpu_percent_max: cpu * 2, memory_mb: 10, memory_mb_max: 12, disk_bytes: disk,
  processes: 1, threads: 1, open_fds: 3, read_bytes_per_s: 0, write_bytes_per_s: 0,
});

describe("toSeries", () => {
  it("turns points into columns in epoch seconds", () => {
    const s = toSeries([p("2026-12-05T12:00:00Z", 1, 100), p("2026-12-05T12:00:30Z", 2, 100)], 30);
    expect(s.x).toEqual([1796472000, 1796472030]);
    expect(s.cpu).toEqual([1, 2]);
    expect(s.cpuMax).toEqual([2, 4]);
    expect(noDisk(s)).toBe(false);
  });

  it("breaks the line where steps are missing", () => {
    const s = toSeries([p("2026-12-05T12:00:00Z", 1), p("2026-12-05T12:05:00Z", 2)], 30);
    expect(s.x).toEqual([1796472000, 1796472030, 1796472300]);
    expect(s.cpu).toEqual([1, null, 2]);
    expect(noDisk(s)).toBe(true);
  });
});
