import { describe, expect, it } from "vitest";
import { readSse, SseParser, type SseMessage } from "./sse";

function parse(chunks: string[]): SseMessage[] {
  const out: SseMessage[] = [];
  const p = new SseParser((m) => out.push(m));
  for (const c of chunks) p.feed(c);
  return out;
}

/** Every way of cutting `text` in two. */
function everySplit(text: string): string[][] {
  const out: string[][] = [];
  for (let i = 0; i <= text.length; i++) out.push([text.slice(0, i), text.slice(i)]);
  return out;
}

describe("SseParser", () => {
  const stream = 'event: conversation\ndata: {"type":"conversation","id":"c1"}\n\nevent: delta\ndata: {"type":"delta","text":"Hel"}\n\n';
  const expected = [
    { event: "conversation", data: '{"type":"conversation","id":"c1"}', id: "" },
    { event: "delta", data: '{"type":"delta","text":"Hel"}', id: "" },
  ];

  it("gives the same events however the stream is cut into chunks", () => {
    for (const chunks of everySplit(stream)) expect(parse(chunks)).toEqual(expected);
    expect(parse([...stream])).toEqual(expected);
  });

  it("accepts CRLF and CR line ends, including a CRLF split across chunks", () => {
    const crlf = stream.replace(/\n/g, "\r\n");
    for (const chunks of everySplit(crlf)) expect(parse(chunks)).toEqual(expected);
    expect(parse([...crlf])).toEqual(expected);
    expect(parse([stream.replace(/\n/g, "\r")])).toEqual(expected);
  });

  it("joins multi-line data with newlines, strips one space only, skips comments and empty events", () => {
    const out = parse([": keep-alive\n\nevent: delta\ndata:one\ndata:  two\ndata\nid: 7\n\ndata: last"]);
    expect(out).toEqual([{ event: "delta", data: "one\n two\n", id: "7" }]);
  });

  it("names an event without `event:` `message` and resets the name after each event", () => {
    expect(parse(["event: a\ndata: 1\n\ndata: 2\n\n"])).toEqual([
      { event: "a", data: "1", id: "" },
      { event: "message", data: "2", id: "" },
    ]);
  });
});

describe("readSse", () => {
  it("decodes UTF-8 split across byte chunks and reads to the end", async () => {
    const bytes = new TextEncoder().encode("event: delta\ndata: héllo ✓\n\n");
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 3) c.enqueue(bytes.slice(i, i + 3));
        c.close();
      },
    });
    const out: SseMessage[] = [];
    await readSse(body, (m) => out.push(m));
    expect(out).toEqual([{ event: "delta", data: "héllo ✓", id: "" }]);
  });

  it("stops reading when the signal aborts", async () => {
    const enc = new TextEncoder();
    let ctl!: ReadableStreamDefaultController<Uint8Array>;
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctl = c;
        c.enqueue(enc.encode("data: first\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    const abort = new AbortController();
    const out: string[] = [];
    const done = readSse(body, (m) => {
      out.push(m.data);
      abort.abort();
    }, abort.signal);
    await done;
    expect(out).toEqual(["first"]);
    expect(cancelled).toBe(true);
    expect(() => ctl.enqueue(enc.encode("data: late\n\n"))).toThrow();
  });
});
