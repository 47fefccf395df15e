import { describe, expect, it } from "vitest";
import { rowWindow } from "./window";

describe("rowWindow", () => {
  it("covers the viewport plus the overscan on both sides", () => {
    const w = rowWindow(1000, 200, 20, 50_000, 5);
    expect(w[0]).toEqual({ index: 45, start: 900 });
    expect(w.at(-1)).toEqual({ index: 65, start: 1300 });
  });

  it("stays bounded whatever the count, and clamps at both ends", () => {
    expect(rowWindow(0, 800, 20, 1_000_000, 20)).toHaveLength(61);
    expect(rowWindow(0, 800, 20, 3, 20).map((r) => r.index)).toEqual([0, 1, 2]);
    const end = rowWindow(49_990 * 20, 800, 20, 50_000, 20);
    expect(end.at(-1)!.index).toBe(49_999);
    expect(rowWindow(0, 800, 20, 0, 20)).toEqual([]);
  });
});
