// The log follow stream, read off the main thread: a dedicated worker holds the EventSource, parses
// each line's JSON and posts what arrived in batches (at most every 16 ms). During a burst of
// hundreds of thousands of lines the page's own thread then handles one message per batch instead of
// one event per line, so clicks (Pause) are never stuck behind the stream. Protocol:
// in  {type:"open", url} | {type:"close"};
// out {type:"open"} | {type:"lines", lines} | {type:"error"} (the stream is closed; the page reopens it).
/// <reference lib="webworker" />

interface Line {
  id: number;
  stream: "stdout" | "stderr";
  time: string;
  line: string;
}

let es: EventSource | null = null;
let batch: Line[] = [];
let timer: ReturnType<typeof setTimeout> | undefined;

const post = (m: unknown) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);

function flush() {
  timer = undefined;
  if (!batch.length) return;
  const lines = batch;
  batch = [];
  post({ type: "lines", lines });
}

function close() {
  es?.close();
  es = null;
  clearTimeout(timer);
  timer = undefined;
  batch = [];
}

self.onmessage = (ev: MessageEvent<{ type: "open"; url: string } | { type: "close" }>) => {
  const m = ev.data;
  close();
  if (m.type !== "open") return;
  const source = new EventSource(m.url);
  es = source;
  source.onopen = () => post({ type: "open" });
  source.addEventListener("log", (e) => {
    try {
      const l = JSON.parse((e as MessageEvent<string>).data) as Line;
      batch.push({ id: l.id, stream: l.stream, time: l.time, line: l.line });
    } catch {
      return;
    }
    if (timer === undefined) timer = setTimeout(flush, 16);
  });
  source.onerror = () => {
    if (es !== source) return;
    flush();
    close();
    post({ type: "error" });
  };
};
