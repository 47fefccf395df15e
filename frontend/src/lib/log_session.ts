// What the log view shows and where it comes from: the newest lines over REST (`tail`), then live over
// the service's own SSE follow stream (`after_id`, so nothing falls between the two), older pages on
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
      this.error.value = e instanceof ApiError ? (e.field ? `${e.field}: ${e.message}` : e.message) : String(e);
      if (s) this.search.value = s; // keep the query visible for fixing
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
    const es = new EventSource(url);
    this.es = es;
    this.live.value = "connecting";
    es.onopen = () => {
      this.live.value = "live";
      this.retry = 500;
    };
    es.addEventListener("log", (ev) => {
      let l: LogLine;
      try {
        l = JSON.parse((ev as MessageEvent<string>).data) as LogLine;
      } catch {
        return;
      }
      if (l.id <= this.lastSeen) return;
      this.lastSeen = l.id;
      if (this.match && !this.match(l.line)) return;
      if (this.search.value && !this.match) return;
      this.incoming.push(compact(l));
      if (!this.frame) this.frame = requestAnimationFrame(this.flush);
    });
    es.onerror = () => {
      // Reopen ourselves after the last line seen (the follow stream does not resume by Last-Event-ID).
      es.close();
      if (this.es !== es) return;
      this.es = null;
      this.live.value = "lost";
      this.retryTimer = setTimeout(() => this.open(this.lastSeen || undefined), this.retry);
      this.retry = Math.min(this.retry * 2, 10_000);
    };
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
  }
}
