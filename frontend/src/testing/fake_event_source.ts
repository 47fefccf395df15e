// An `EventSource` stand-in for component tests (stubbed with `vi.stubGlobal("EventSource", ...)`):
// records the last one made, and `emit` delivers a named event the way the browser would.
export class FakeSource {
  static last: FakeSource;
  static CLOSED = 2;
  readyState = 1;
  listeners = new Map<string, ((ev: MessageEvent) => void)[]>();
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSource.last = this;
  }
  addEventListener(name: string, fn: (ev: MessageEvent) => void) {
    this.listeners.set(name, [...(this.listeners.get(name) ?? []), fn]);
  }
  emit(name: string, data: unknown, lastEventId = "") {
    for (const fn of this.listeners.get(name) ?? []) fn({ data: JSON.stringify(data), lastEventId } as MessageEvent);
  }
  close() {}
}
