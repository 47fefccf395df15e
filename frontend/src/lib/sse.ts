// A Server-Sent Events reader for a `fetch` response body (`POST /api/chat` streams its answer; the
// browser's EventSource only does GET). The parser follows the WHATWG rules that matter here: lines end
// in LF, CR or CRLF (a CRLF split across two chunks is one line end), `data:` lines of one event joined
// with "\n", one optional space after the colon, comments (`:`) ignored, an event dispatched at a blank
// line and only if it has data. Bytes are decoded as a stream, so a UTF-8 character split across
// chunks survives.

export interface SseMessage {
  /** `message` when the event named none. */
  event: string;
  data: string;
  id: string;
}

/** Feed it text as it arrives; it calls `onMessage` for every complete event. */
export class SseParser {
  private buf = "";
  private data: string[] = [];
  private event = "";
  private id = "";
  private lastWasCr = false;

  constructor(private onMessage: (m: SseMessage) => void) {}

  feed(text: string) {
    // A CR ended the previous chunk: an LF opening this one belongs to it.
    if (this.lastWasCr && text.startsWith("\n")) text = text.slice(1);
    this.lastWasCr = false;
    this.buf += text;
    for (;;) {
      const cr = this.buf.indexOf("\r");
      const lf = this.buf.indexOf("\n");
      let end: number;
      if (cr < 0 && lf < 0) return;
      else if (cr < 0) end = lf;
      else if (lf < 0) end = cr;
      else end = Math.min(cr, lf);
      const line = this.buf.slice(0, end);
      let next = end + 1;
      if (this.buf[end] === "\r") {
        if (next === this.buf.length) this.lastWasCr = true;
        else if (this.buf[next] === "\n") next++;
      }
      this.buf = this.buf.slice(next);
      this.line(line);
    }
  }

  private line(line: string) {
    if (line === "") {
      if (this.data.length) this.onMessage({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
      this.data = [];
      this.event = "";
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
  }
}

/** Reads `body` to its end (or until `signal` aborts), calling `onMessage` for each event. */
export async function readSse(body: ReadableStream<Uint8Array>, onMessage: (m: SseMessage) => void, signal?: AbortSignal): Promise<void> {
  const parser = new SseParser(onMessage);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
  } finally {
    signal?.removeEventListener("abort", cancel);
    reader.releaseLock();
  }
}
