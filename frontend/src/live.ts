// One Server-Sent Events connection per tab to the daemon's event bus (`/api/events`). Screens
// subscribe to topics; events are queued and delivered once per animation frame, inside one signals
// `batch`, so a burst of thousands of events costs one render per frame, not one per event. A lost
// connection is shown (`connection`) and retried with backoff, resuming after the last stored event
// id it saw (the browser sends `Last-Event-ID` on its own retries; our own reopen passes `after`).
// `reconnected` counts recoveries: screens re-read what is not replayed (live-only metrics, REST
// figures) when it changes.
import { batch, signal } from "@preact/signals";
import type { TopicData } from "./gen/api";

export type Topic = "lifecycle" | "health" | "metrics" | "cron" | "job" | "caddy" | "plugin" | "policy" | "agent";
export const TOPICS: Topic[] = ["lifecycle", "health", "metrics", "cron", "job", "caddy", "plugin", "policy", "agent"];

export type ConnectionState = "connecting" | "open" | "lost";
export const connection = signal<ConnectionState>("connecting");
/** Increments each time the stream is open again after it was lost. */
export const reconnected = signal(0);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (events: any[]) => void;
const handlers = new Map<Topic, Set<Handler>>();
const queue = new Map<Topic, unknown[]>();
let frame = 0;
let source: EventSource | null = null;
let lastId: string | null = null;
let retry = 500;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let wasLost = false;

/** Calls `handler` with the batch of `topic` events that arrived since the last frame. The payload
 *  type is the topic's (`TopicData`), unless the caller names a narrower view of it. */
export function subscribe<K extends Topic, T = TopicData[K]>(topic: K, handler: (events: T[]) => void): () => void {
  let set = handlers.get(topic);
  if (!set) handlers.set(topic, (set = new Set()));
  set.add(handler as Handler);
  return () => set.delete(handler as Handler);
}

function flush() {
  frame = 0;
  const pending = [...queue.entries()];
  queue.clear();
  batch(() => {
    for (const [topic, events] of pending)
      for (const h of handlers.get(topic) ?? []) {
        try {
          h(events);
        } catch (e) {
          // One screen's bug must not stop the others' updates.
          console.error(`handler of ${topic} events failed`, e);
        }
      }
  });
}

function enqueue(topic: Topic, data: unknown) {
  let q = queue.get(topic);
  if (!q) queue.set(topic, (q = []));
  q.push(data);
  if (!frame) frame = requestAnimationFrame(flush);
}

/** Opens the stream (idempotent). */
export function connect() {
  if (source) return;
  clearTimeout(retryTimer);
  const params = new URLSearchParams({ topics: TOPICS.join(",") });
  if (lastId) params.set("after", lastId);
  const es = new EventSource(`/api/events?${params}`);
  source = es;
  if (connection.value !== "lost") connection.value = "connecting";
  es.onopen = () => {
    connection.value = "open";
    retry = 500;
    if (wasLost) {
      wasLost = false;
      reconnected.value++;
    }
  };
  for (const topic of TOPICS) {
    es.addEventListener(topic, (ev) => {
      const msg = ev as MessageEvent<string>;
      if (msg.lastEventId) lastId = msg.lastEventId;
      try {
        enqueue(topic, JSON.parse(msg.data));
      } catch {
        // A malformed event is dropped; the REST history stays the source of truth.
      }
    });
  }
  es.onerror = () => {
    connection.value = "lost";
    wasLost = true;
    // EventSource retries by itself (sending Last-Event-ID) unless the server refused it outright.
    if (es.readyState === EventSource.CLOSED) {
      es.close();
      source = null;
      retryTimer = setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10_000);
    }
  };
}

export function disconnect() {
  clearTimeout(retryTimer);
  source?.close();
  source = null;
}
