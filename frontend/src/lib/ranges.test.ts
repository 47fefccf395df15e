import { describe, expect, it } from "vitest";
import { RANGES, maxPoints, metricsQuery } from "./ranges";

describe("ranges", () => {
  it("asks the metrics API for each range", () => {
    expect(metricsQuery("1h")).toBe("?since=1h&step=30");
    expect(metricsQuery("24h")).toBe("?since=24h&step=300");
    expect(metricsQuery("7d")).toBe("?since=7d&step=1800");
  });

  it("keeps every chart to a few hundred points, with steps that are whole sampling intervals", () => {
    for (const r of RANGES) {
      expect(maxPoints(r.key)).toBeLessThanOrEqual(400);
      expect(maxPoints(r.key)).toBeGreaterThanOrEqual(100);
      expect(r.step % 10).toBe(0);
    }
    expect(RANGES.map((r) => r.label)).toEqual(["1 h", "24 h", "7 d"]);
  });
});
