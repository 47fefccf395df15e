import { describe, expect, it } from "vitest";
import { LogBuffer } from "./logbuffer";

const L = (id: number) => ({ id, line: `l${id}` });
const ids = (b: LogBuffer<{ id: number }>) => b.toArray().map((l) => l.id);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => L(a + i));

describe("LogBuffer", () => {
  it("appends in order and evicts the oldest past capacity", () => {
    const b = new LogBuffer(3);
    expect(b.append([L(1), L(2)])).toBe(2);
    expect(ids(b)).toEqual([1, 2]);
    b.append([L(3), L(4), L(5)]);
    expect(ids(b)).toEqual([3, 4, 5]);
    expect(b.length).toBe(3);
    expect(b.evicted).toBe(2);
    expect(b.first?.id).toBe(3);
    expect(b.last?.id).toBe(5);
    expect(b.atLatest).toBe(true);
  });

  it("skips repeated and older ids on append (a reconnect replays overlap)", () => {
    const b = new LogBuffer(10);
    b.append([L(1), L(2), L(3)]);
    expect(b.append([L(2), L(3), L(4)])).toBe(1);
    expect(ids(b)).toEqual([1, 2, 3, 4]);
  });

  it("stays bounded under a burst far larger than its capacity", () => {
    const b = new LogBuffer(50_000);
    for (let start = 1; start <= 200_000; start += 1000) b.append(range(start, start + 999));
    expect(b.length).toBe(50_000);
    expect(b.first?.id).toBe(150_001);
    expect(b.last?.id).toBe(200_000);
    expect(b.evicted).toBe(150_000);
  });

  it("prepends older pages before the first line, skipping overlap", () => {
    const b = new LogBuffer(10);
    b.append([L(10), L(11)]);
    expect(b.prepend([L(7), L(8), L(9), L(10)])).toBe(3);
    expect(ids(b)).toEqual([7, 8, 9, 10, 11]);
    expect(b.atLatest).toBe(true);
  });

  it("drops the newest lines when older ones are prepended into a full ring", () => {
    const b = new LogBuffer(4);
    b.append(range(5, 8));
    expect(b.prepend(range(2, 4))).toBe(3);
    expect(ids(b)).toEqual([2, 3, 4, 5]);
    expect(b.atLatest).toBe(false);
  });

  it("finds lines by id and reads by index across the wrap point", () => {
    const b = new LogBuffer(4);
    b.append(range(1, 6)); // wraps: keeps 3..6
    expect(b.indexOf(3)).toBe(0);
    expect(b.indexOf(6)).toBe(3);
    expect(b.indexOf(2)).toBe(-1);
    expect(b.at(2)?.id).toBe(5);
    expect(b.at(4)).toBeUndefined();
  });

  it("clear resets everything and bumps the version", () => {
    const b = new LogBuffer(2);
    b.append(range(1, 3));
    b.prepend([L(0)]);
    const v = b.version;
    b.clear();
    expect(b.length).toBe(0);
    expect(b.evicted).toBe(0);
    expect(b.atLatest).toBe(true);
    expect(b.version).toBeGreaterThan(v);
    b.append([L(1)]);
    expect(ids(b)).toEqual([1]);
  });
});
