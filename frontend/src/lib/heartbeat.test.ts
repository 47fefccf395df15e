import { describe, expect, it } from "vitest";
import { paint, push, slots, summary, type Beat } from "./heartbeat";

const beat = (passed: boolean, i = 0): Beat => ({ time: `2026-12-05T00:00:${String(i).padStart(2, "0")}Z`, passed });

describe("heartbeat", () => {
  it("pads missing results on the left and keeps the newest on the right", () => {
    expect(slots([beat(true), beat(false)], 5)).toEqual(["none", "none", "none", "ok", "bad"]);
  });

  it("shows only the last N results", () => {
    const beats = [beat(false), ...Array.from({ length: 30 }, () => beat(true))];
    const s = slots(beats, 30);
    expect(s).toHaveLength(30);
    expect(s.every((k) => k === "ok")).toBe(true);
  });

  it("summarises for screen readers", () => {
    const beats = [...Array.from({ length: 28 }, () => beat(true)), beat(false), beat(false)];
    expect(summary(beats)).toBe("health: 28 of 30 passed");
    expect(summary([])).toBe("health: no results");
  });

  it("push keeps a bounded history", () => {
    let b: Beat[] = [];
    for (let i = 0; i < 40; i++) b = push(b, beat(i % 2 === 0, i), 30);
    expect(b).toHaveLength(30);
    expect(b[29]!.time).toBe(beat(false, 39).time);
  });

  it("paints one bar per slot in the slot's colour", () => {
    const rects: [string, number, number, number, number][] = [];
    const fake = {
      fillStyle: "",
      clearRect() {},
      fillRect(x: number, y: number, w: number, h: number) {
        rects.push([fake.fillStyle, x, y, w, h]);
      },
    };
    const ctx = fake as unknown as CanvasRenderingContext2D;
    paint(ctx, ["none", "ok", "bad"], 100, 20, { ok: "green", bad: "red", none: "grey" });
    expect(rects.map((r) => r[0])).toEqual(["grey", "green", "red"]);
    expect(rects[1]![4]).toBe(20);
    expect(rects[0]![4]).toBeLessThan(20);
  });
});
