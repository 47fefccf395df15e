// What the log view shows and where it comes from: the newest lines over REST (`tail`), then live over
// the service's own SSE follow stream (`after_id`, so nothing falls between the two; read in a worker,
// lib/log_worker.ts, which posts the lines in batches), older pages on
// demand (`before_id`), or a server-side search (`q`, `regex`) whose later matches are picked from the
// live lines here. Lines arriving in one animation frame are applied in one go; while paused they go
// to a second bounded ring and the shown buffer stays still. Both rings are bounded, so memory is too,
// whatever the service writes. The DOM side is components/log_view.tsx.
import { signal } from "@preact/signals";
import { ApiError, get, qs, seg } from "../api";
import { LogBuffer } from "./logbuffer";
import { strip } from "./ansi";
import type { LogLine, LogsPage } from "./types";

/** Lines kept in memory for the view (older ones are dropped and re-read on scroll up). */
export const CAPACITY = 50_000;
/** Lines read per request (first tail, older pages, search pages). */
export const PAGE = 1000;

export interface Line {
  id: number;
  stream: "stdout" | "stderr";
  time: string;
  line: string;
}

export type StreamFilter = "all" | "stdout" | "stderr";

export interface Search {
  q: string;
  regex: boolean;
}

const compact = (l: LogLine): Line => ({ id: l.id, stream: l.stream, time: l.time, line: l.line });

/** The client-side test for live lines during a search (the server did the stored ones). `null` when
 *  the pattern is valid for the server but not for JavaScript: live matches are then not added. */
export function matcher(s: Search): ((line: string) => boolean) | null {
  if (s.regex) {
    try {
      const re = new RegExp(s.q, "i");
      return (l) => re.test(strip(l));
    } catch {
      return null;
    }
  }
  const needle = s.q.toLowerCase();
  return (l) => strip(l).toLowerCase().includes(needle);
}

export class LogSession {
  readonly buffer = new LogBuffer<Line>(CAPACITY);
  /** Lines that arrived while paused, shown on resume. */
  private held = new LogBuffer<Line>(CAPACITY);
  private incoming: Line[] = [];
  private frame = 0;
  private es: EventSource | null = null;
  private worker: Worker | null | undefined;
  /** The current follow stream (an EventSource, or a token for the worker's); stale callbacks are ignored. */
  private follow: object | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retry = 500;
  private lastSeen = 0;
  private olderCursor: number | undefined;
  private match: ((line: string) => boolean) | null = null;
  private epoch = 0;
  private closed = false;

  /** Bumped once per frame in which the shown buffer changed. */
  readonly version = signal(0);
  readonly paused = signal(false);
  /** Lines held while paused. */
  readonly heldCount = signal(0);
  readonly hasOlder = signal(false);
  readonly loadingOlder = signal(false);
  readonly loading = signal(true);
  readonly live = signal<"connecting" | "live" | "lost">("connecting");
  readonly error = signal<string | null>(null);
  readonly search = signal<Search | null>(null);
  readonly searchNote = signal<string | null>(null);
  readonly stream = signal<StreamFilter>("all");
  /** Counts resets (new stream filter, search, reload): the view starts again at the newest line. */
  generation = 0;
  /** Older lines dropped from memory at the old end since the last reset (re-read on scroll up). */
  readonly evicted = signal(0);

  constructor(readonly service: string) {}

  private base() {
    return `/api/services/${seg(this.service)}/logs`;
  }

  private streamParam() {
    return this.stream.value === "all" ? undefined : this.stream.value;
  }

  /** (Re)starts from the newest lines: first load, stream change, clear search, jump to latest. */
  async reset(): Promise<void> {
    const epoch = ++this.epoch;
    this.generation++;
    this.close();
    this.closed = false;
    this.buffer.clear();
    this.held.clear();
    this.incoming = [];
    this.heldCount.value = 0;
    this.evicted.value = 0;
    this.error.value = null;
    this.searchNote.value = null;
    this.loading.value = true;
    const s = this.search.value;
    try {
      let page: LogsPage;
      if (s) {
        this.match = matcher(s);
        if (!this.match) this.searchNote.value = "This pattern only runs on the server: new lines are not searched live.";
        page = await get<LogsPage>(this.base() + qs({ q: s.q, regex: s.regex || undefined, limit: PAGE, stream: this.streamParam() }));
      } else {
        this.match = null;
        page = await get<LogsPage>(this.base() + qs({ tail: PAGE, stream: this.streamParam() }));
      }
      if (epoch !== this.epoch) return;
      this.buffer.append(page.lines.map(compact));
      this.olderCursor = page.next_before_id;
      this.hasOlder.value = page.next_before_id !== undefined || (!s && page.lines.length >= PAGE);
      if (page.truncated) this.searchNote.value = `Searched the newest ${page.scanned ?? "many"} lines; scroll up to search further back.`;
      // Follow from the newest line the daemon had when it answered the search (or tail).
      this.lastSeen = page.lines.length ? page.lines[page.lines.length - 1]!.id : 0;
      if (s) {
        // A search page does not say how far the log reaches: follow from now, lines after the newest
        // match that were written before now did not match.
        this.open(undefined);
      } else {
        this.open(this.lastSeen || undefined);
      }
    } catch (e) {
      if (epoch !== this.epoch) return;
      const msg = e instanceof ApiError ? (e.field ? `${e.field}: ${e.message}` : e.message) : String(e);
      if (s) {
        // A refused search (bad regex, ...) changes nothing: back to the live log, the reason shown.
        this.search.value = null;
        await this.reset();
        this.error.value = msg;
        return;
      }
      this.error.value = msg;
    } finally {
      if (epoch === this.epoch) {
        this.loading.value = false;
        this.version.value++;
      }
    }
  }

  private open(afterId: number | undefined) {
    if (this.closed) return;
    const url = `${this.base()}/follow${qs({ after_id: afterId, tail: afterId === undefined ? 0 : undefined, stream: this.streamParam() })}`;
    this.live.value = "connecting";
    const worker = this.useWorker();
    if (worker) {
      const token = {};
      this.follow = token;
      worker.onmessage = (ev: MessageEvent<{ type: string; lines?: Line[] }>) => {
        if (this.follow !== token) return;
        const m = ev.data;
        if (m.type === "lines") this.receive(m.lines!);
        else if (m.type === "open") this.opened();
        else if (m.type === "error") this.lost();
      };
      worker.postMessage({ type: "open", url });
      return;
    }
    const es = new EventSource(url);
    this.es = es;
    this.follow = es;
    es.onopen = () => this.opened();
    es.addEventListener("log", (ev) => {
      try {
        this.receive([compact(JSON.parse((ev as MessageEvent<string>).data) as LogLine)]);
      } catch {
        // A malformed line is skipped.
      }
    });
    es.onerror = () => {
      es.close();
      if (this.follow === es) this.lost();
    };
  }

  /** The follow stream's reader: a worker where the browser has them (lib/log_worker.ts), else this
   *  thread (tests, very old browsers). */
  private useWorker(): Worker | null {
    if (this.worker !== undefined) return this.worker;
    this.worker = null;
    if (typeof Worker !== "undefined" && typeof window !== "undefined" && !("__vitest_worker__" in globalThis)) {
      try {
        this.worker = new Worker(new URL("./log_worker.ts", import.meta.url), { type: "module" });
      } catch {
        this.worker = null;
      }
    }
    return this.worker;
  }

  private opened() {
    this.live.value = "live";
    this.retry = 500;
  }

  /** The stream ended or failed: reopen after the last line seen (the follow stream does not resume by
   *  `Last-Event-ID`), with backoff. */
  private lost() {
    this.follow = null;
    this.es = null;
    this.live.value = "lost";
    if (this.closed) return;
    this.retryTimer = setTimeout(() => this.open(this.lastSeen || undefined), this.retry);
    this.retry = Math.min(this.retry * 2, 10_000);
  }

  private receive(lines: readonly Line[]) {
    for (const l of lines) {
      if (l.id <= this.lastSeen) continue;
      this.lastSeen = l.id;
      if (this.search.value && !(this.match && this.match(l.line))) continue;
      this.incoming.push(l);
    }
    if (this.incoming.length && !this.frame) this.frame = requestAnimationFrame(this.flush);
  }

  private flush = () => {
    this.frame = 0;
    const lines = this.incoming;
    this.incoming = [];
    if (!lines.length) return;
    if (this.paused.value) {
      this.held.append(lines);
      this.heldCount.value = this.held.length + this.held.evicted;
      return;
    }
    if (!this.buffer.atLatest) return; // the view shows older lines; "Jump to latest" reloads
    const before = this.buffer.evicted;
    this.buffer.append(lines);
    if (this.buffer.evicted !== before) {
      this.evicted.value = this.buffer.evicted;
      this.hasOlder.value = true;
      this.olderCursor = undefined;
    }
    this.version.value++;
  };

  pause() {
    this.paused.value = true;
  }

  /** Shows what arrived while paused. */
  resume() {
    this.paused.value = false;
    const held = this.held;
    if (held.length) {
      if (held.evicted > 0 || !this.buffer.atLatest) {
        // More arrived than fits: show the newest, older ones are re-read on scroll up.
        this.buffer.clear();
        this.olderCursor = undefined;
        this.hasOlder.value = true;
      }
      const before = this.buffer.evicted;
      this.buffer.append(held.toArray());
      if (this.buffer.evicted !== before) this.hasOlder.value = true;
      this.evicted.value = this.buffer.evicted;
    }
    this.held.clear();
    this.heldCount.value = 0;
    this.version.value++;
  }

  /** Back to the newest lines; reloads when the shown buffer no longer reaches them. */
  jumpToLatest() {
    if (!this.buffer.atLatest) {
      this.paused.value = false;
      return this.reset();
    }
    this.resume();
    return Promise.resolve();
  }

  /** Reads the page before the first line shown (scroll up). Returns how many lines were added. */
  async loadOlder(): Promise<number> {
    if (this.loadingOlder.value || !this.hasOlder.value) return 0;
    const first = this.buffer.first;
    const before = this.olderCursor ?? first?.id;
    if (before === undefined) return 0;
    const epoch = this.epoch;
    const s = this.search.value;
    this.loadingOlder.value = true;
    try {
      const page = await get<LogsPage>(
        this.base() + qs({ before_id: before, limit: PAGE, stream: this.streamParam(), q: s?.q, regex: s?.regex || undefined }),
      );
      if (epoch !== this.epoch) return 0;
      const added = this.buffer.prepend(page.lines.map(compact));
      this.olderCursor = page.next_before_id;
      this.hasOlder.value = page.next_before_id !== undefined;
      if (s) this.searchNote.value = page.truncated ? `Searched back to line ${page.next_before_id}; scroll up to search further.` : null;
      if (added) this.version.value++;
      return added;
    } catch (e) {
      if (epoch === this.epoch) {
        if (e instanceof ApiError && e.status === 422 && e.field === "before_id") {
          // A daemon older than `before_id`: stop asking.
          this.hasOlder.value = false;
          this.searchNote.value = "This daemon cannot read older lines page by page; use Download for the whole log.";
        } else {
          this.error.value = e instanceof ApiError ? e.message : String(e);
        }
      }
      return 0;
    } finally {
      this.loadingOlder.value = false;
    }
  }

  setStream(s: StreamFilter) {
    this.stream.value = s;
    return this.reset();
  }

  find(s: Search | null) {
    this.search.value = s;
    this.paused.value = false;
    return this.reset();
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.es?.close();
    this.es = null;
    this.follow = null;
    this.worker?.postMessage({ type: "close" });
  }

  /** Ends the session for good (the screen unmounts). */
  dispose() {
    this.close();
    this.worker?.terminate();
    this.worker = null;
  }
}
