import { describe, expect, it } from "vitest";
import { percentileText, percentileUs } from "./plugin_stats";

describe("plugin latency percentiles", () => {
  const bounds_us = [50, 1000, 5000, 10_000_000];
  it("is the upper bound of the bucket holding the call", () => {
    const h = { bounds_us, counts: [0, 90, 9, 1, 0] };
    expect(percentileUs(h, 0.5)).toBe(1000);
    expect(percentileUs(h, 0.99)).toBe(5000);
    expect(percentileText(h, 0.5)).toBe("≤ 1 ms");
    expect(percentileText(h, 1)).toBe("≤ 10 s");
  });
  it("says so past the last bound and without calls", () => {
    expect(percentileText({ bounds_us, counts: [0, 0, 0, 0, 3] }, 0.5)).toBe("> 10 s");
    expect(percentileText({ bounds_us, counts: [0, 0, 0, 0, 0] }, 0.5)).toBe("—");
    expect(percentileText({ bounds_us: [50], counts: [4, 0] }, 0.99)).toBe("≤ 50 µs");
  });
});
