import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

class FakeSource {
  static last: FakeSource | null = null;
  static CLOSED = 2;
  readyState = 1;
  url: string;
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(url: string) {
    this.url = url;
    FakeSource.last = this;
  }
  addEventListener(name: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
  }
  emit(name: string, data: unknown, id = "") {
    for (const fn of this.listeners.get(name) ?? []) fn({ data: JSON.stringify(data), lastEventId: id } as MessageEvent);
  }
  close() {
    this.readyState = 2;
  }
}

let frames: FrameRequestCallback[] = [];
const runFrame = () => {
  const f = frames;
  frames = [];
  for (const cb of f) cb(0);
};

beforeEach(() => {
  vi.resetModules();
  frames = [];
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => frames.push(cb));
});
afterEach(() => vi.unstubAllGlobals());

describe("live", () => {
  it("delivers a burst of events once per animation frame", async () => {
    const live = await import("./live");
    const batches: number[] = [];
    live.subscribe("lifecycle", (evs) => batches.push(evs.length));
    live.connect();
    const es = FakeSource.last!;
    es.onopen!();
    expect(live.connection.value).toBe("open");
    for (let i = 1; i <= 1000; i++) es.emit("lifecycle", { id: i }, String(i));
    expect(batches).toEqual([]);
    expect(frames).toHaveLength(1);
    runFrame();
    expect(batches).toEqual([1000]);
  });

  it("shows a lost connection and reopens after the last id, counting the recovery", async () => {
    vi.useFakeTimers();
    const live = await import("./live");
    live.connect();
    const first = FakeSource.last!;
    first.onopen!();
    first.emit("health", { id: 41 }, "41");
    first.readyState = FakeSource.CLOSED;
    first.onerror!();
    expect(live.connection.value).toBe("lost");
    vi.advanceTimersByTime(600);
    const second = FakeSource.last!;
    expect(second).not.toBe(first);
    expect(second.url).toContain("after=41");
    second.onopen!();
    expect(live.connection.value).toBe("open");
    expect(live.reconnected.value).toBe(1);
    vi.useRealTimers();
  });
});
