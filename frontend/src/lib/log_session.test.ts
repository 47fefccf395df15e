import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CAPACITY, LogSession, matcher } from "./log_session";

class FakeSource {
  static all: FakeSource[] = [];
  url: string;
  closed = false;
  listeners: ((ev: MessageEvent) => void)[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(url: string) {
    this.url = url;
    FakeSource.all.push(this);
  }
  addEventListener(_name: string, fn: (ev: MessageEvent) => void) {
    this.listeners.push(fn);
  }
  send(id: number, line = `line ${id}`, stream = "stdout") {
    const data = JSON.stringify({ id, service: "web", stream, time: "2026-12-05T12:00:00Z", line });
    for (const fn of this.listeners) fn({ data } as MessageEvent);
  }
  close() {
    this.closed = true;
  }
}

let frames: FrameRequestCallback[] = [];
const runFrame = () => {
  const f = frames;
  frames = [];
  for (const cb of f) cb(0);
};
const lines = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, service: "web", stream: "stdout", time: "t", line: `line ${from + i}` }));
let requests: string[] = [];
let answer: (url: string) => unknown = () => ({ lines: [] });

beforeEach(() => {
  FakeSource.all = [];
  frames = [];
  requests = [];
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal("cancelAnimationFrame", () => {});
  vi.stubGlobal("fetch", async (url: string) => {
    requests.push(url);
    return new Response(JSON.stringify(answer(url)), { status: 200 });
  });
});
afterEach(() => vi.unstubAllGlobals());

const ids = (s: LogSession) => s.buffer.toArray().map((l) => l.id);

describe("LogSession", () => {
  it("loads the newest lines, then follows after the last one, one batch per frame", async () => {
    answer = () => ({ lines: lines(10, 12), next_before_id: 10 });
    const s = new LogSession("web");
    await s.reset();
    expect(requests[0]).toBe("/api/services/web/logs?tail=1000");
    expect(FakeSource.all[0]!.url).toBe("/api/services/web/logs/follow?after_id=12");
    expect(s.hasOlder.value).toBe(true);
    const es = FakeSource.all[0]!;
    es.send(12); // repeated after a reconnect: dropped
    es.send(13);
    es.send(14);
    expect(ids(s)).toEqual([10, 11, 12]);
    expect(frames).toHaveLength(1);
    runFrame();
    expect(ids(s)).toEqual([10, 11, 12, 13, 14]);
  });

  it("holds lines while paused and shows them on resume", async () => {
    answer = () => ({ lines: lines(1, 2) });
    const s = new LogSession("web");
    await s.reset();
    s.pause();
    const es = FakeSource.all[0]!;
    for (let i = 3; i <= 10; i++) es.send(i);
    runFrame();
    expect(ids(s)).toEqual([1, 2]);
    expect(s.heldCount.value).toBe(8);
    s.resume();
    expect(ids(s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(s.heldCount.value).toBe(0);
  });

  it("stays bounded when more than it keeps arrives while paused; older ones are re-read", async () => {
    answer = () => ({ lines: lines(1, 5) });
    const s = new LogSession("web");
    await s.reset();
    s.pause();
    const es = FakeSource.all[0]!;
    const last = 5 + CAPACITY + 1234;
    for (let i = 6; i <= last; i++) es.send(i);
    runFrame();
    s.resume();
    expect(s.buffer.length).toBe(CAPACITY);
    expect(s.buffer.last!.id).toBe(last);
    expect(s.hasOlder.value).toBe(true);
    answer = () => ({ lines: lines(last - CAPACITY - 99, last - CAPACITY), next_before_id: last - CAPACITY - 99 });
    const added = await s.loadOlder();
    expect(requests.at(-1)).toBe(`/api/services/web/logs?before_id=${last - CAPACITY + 1}&limit=1000`);
    expect(added).toBe(100);
    expect(s.buffer.length).toBe(CAPACITY);
    expect(s.buffer.atLatest).toBe(false);
  });

  it("searches on the server and keeps only matching live lines", async () => {
    answer = () => ({ lines: [{ id: 7, service: "web", stream: "stderr", time: "t", line: "ERROR boom" }] });
    const s = new LogSession("web");
    await s.reset();
    await s.find({ q: "error", regex: false });
    expect(requests.at(-1)).toBe("/api/services/web/logs?q=error&limit=1000");
    const es = FakeSource.all.at(-1)!;
    es.send(8, "all fine");
    es.send(9, "another \x1b[31mError\x1b[0m");
    runFrame();
    expect(ids(s)).toEqual([7, 9]);
    await s.find(null);
    expect(requests.at(-1)).toBe("/api/services/web/logs?tail=1000");
  });

  it("a refused search shows why and goes back to the live log", async () => {
    answer = (url) => (url.includes("q=") ? { error: { code: "invalid", message: "bad regex", field: "q" } } : { lines: lines(1, 2) });
    vi.stubGlobal("fetch", async (url: string) => {
      requests.push(url);
      return new Response(JSON.stringify(answer(url)), { status: url.includes("q=") ? 422 : 200 });
    });
    const s = new LogSession("web");
    await s.find({ q: "(", regex: true });
    expect(s.error.value).toBe("q: bad regex");
    expect(s.search.value).toBeNull();
    expect(ids(s)).toEqual([1, 2]);
    expect(FakeSource.all.at(-1)!.url).toBe("/api/services/web/logs/follow?after_id=2");
  });

  it("reopens the follow stream after the last line it saw", async () => {
    vi.useFakeTimers();
    answer = () => ({ lines: lines(1, 3) });
    const s = new LogSession("web");
    await s.reset();
    const es = FakeSource.all[0]!;
    es.send(4);
    es.onerror!();
    expect(s.live.value).toBe("lost");
    expect(es.closed).toBe(true);
    vi.advanceTimersByTime(600);
    expect(FakeSource.all.at(-1)!.url).toBe("/api/services/web/logs/follow?after_id=4");
    s.close();
    vi.useRealTimers();
  });

  it("matches live lines like the server: case-insensitive, regex optional, colours ignored", () => {
    expect(matcher({ q: "err", regex: false })!("\x1b[1mERR\x1b[0m x")).toBe(true);
    expect(matcher({ q: "^GET /\\d+", regex: true })!("GET /42")).toBe(true);
    expect(matcher({ q: "(?<x", regex: true })).toBeNull();
  });
});
