// The log view's memory: a fixed-capacity ring of lines ordered by id. New lines go in at the end and
// push the oldest out; older pages (loaded on scroll up) go in at the start and, when the ring is
// full, push the newest out, after which the buffer no longer reaches the live end (`atLatest` false)
// and "Jump to latest" reloads it. Every operation is O(lines added); nothing is ever copied whole, so
// a 200,000-line burst costs the same per line as one line. Tested in logbuffer.test.ts.

export interface HasId {
  id: number;
}

export class LogBuffer<T extends HasId> {
  private ring: (T | undefined)[];
  private head = 0;
  private len = 0;
  /** Lines pushed out at the old end since the last `clear` (for "N older lines dropped"). */
  evicted = 0;
  /** False once newest lines were dropped to make room for older ones. */
  atLatest = true;
  /** Changes on every mutation, so views can tell that they must re-read. */
  version = 0;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new Error("capacity must be at least 1");
    this.ring = new Array(capacity);
  }

  get length(): number {
    return this.len;
  }

  /** Line `i` (0 = oldest kept). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.len) return undefined;
    return this.ring[(this.head + i) % this.capacity];
  }

  get first(): T | undefined {
    return this.at(0);
  }

  get last(): T | undefined {
    return this.at(this.len - 1);
  }

  /** Appends lines newer than the last one kept (older or repeated ids, e.g. after a reconnect, are
   *  skipped). Returns how many were added. */
  append(lines: readonly T[]): number {
    let added = 0;
    let lastId = this.last?.id ?? -Infinity;
    for (const l of lines) {
      if (l.id <= lastId) continue;
      lastId = l.id;
      if (this.len === this.capacity) {
        this.ring[this.head] = l;
        this.head = (this.head + 1) % this.capacity;
        this.evicted++;
      } else {
        this.ring[(this.head + this.len) % this.capacity] = l;
        this.len++;
      }
      added++;
    }
    if (added) this.version++;
    return added;
  }

  /** Puts older lines (oldest first, as the API returns them) before the first one kept. Lines not
   *  older than the first kept are skipped. When full, the newest lines make room. Returns how many
   *  were added. */
  prepend(lines: readonly T[]): number {
    const firstId = this.first?.id ?? Infinity;
    let added = 0;
    // Walk newest to oldest so each goes directly in front of the current first line.
    let bound = firstId;
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = lines[i]!;
      if (l.id >= bound) continue;
      bound = l.id;
      if (this.len === this.capacity) {
        // Drop the newest line to make room at the old end.
        this.len--;
        this.atLatest = false;
      }
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.ring[this.head] = l;
      this.len++;
      added++;
      if (added === this.capacity) break;
    }
    if (added) this.version++;
    return added;
  }

  clear(): void {
    this.ring = new Array(this.capacity);
    this.head = 0;
    this.len = 0;
    this.evicted = 0;
    this.atLatest = true;
    this.version++;
  }

  /** Index of the line with `id`, or -1 (binary search: ids increase). */
  indexOf(id: number): number {
    let lo = 0;
    let hi = this.len - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.at(mid)!.id;
      if (v === id) return mid;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** A copy of the kept lines, oldest first (tests and the paused view's snapshot). */
  toArray(): T[] {
    const out: T[] = new Array(this.len);
    for (let i = 0; i < this.len; i++) out[i] = this.at(i)!;
    return out;
  }
}
