// Hooks the fescreens screens share: data fetched over REST and fetched again when the event bus says
// it changed (history over REST, change notices over SSE), and a clock for countdowns.
import { useEffect, useRef, useState } from "preact/hooks";
import { subscribe, type Topic } from "../live";

export interface Live<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  /** Fetch again now (after an action). */
  reload: () => void;
}

/**
 * `load()` at mount, when `deps` change, and whenever an event of `topics` arrives that `relevant`
 * accepts. Refetches never overlap: events arriving during one cause exactly one more afterwards.
 */
export function useLive<T>(
  load: () => Promise<T>,
  topics: Topic[],
  relevant: (event: unknown) => boolean = () => true,
  deps: unknown[] = [],
): Live<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const state = useRef({ inFlight: false, again: false, alive: true, load, relevant });
  state.current.load = load;
  state.current.relevant = relevant;

  const run = () => {
    const s = state.current;
    if (s.inFlight) {
      s.again = true;
      return;
    }
    s.inFlight = true;
    s.load().then(
      (d) => {
        if (!s.alive) return;
        setData(d);
        setError(null);
      },
      (e: unknown) => {
        if (s.alive) setError(e instanceof Error ? e.message : String(e));
      },
    ).finally(() => {
      s.inFlight = false;
      if (s.alive) setLoading(false);
      if (s.again && s.alive) {
        s.again = false;
        run();
      }
    });
  };

  useEffect(() => {
    state.current.alive = true;
    setLoading(true);
    run();
    const offs = topics.map((t) =>
      subscribe(t, (events: unknown[]) => {
        if (events.some((e) => state.current.relevant(e))) run();
      }),
    );
    return () => {
      state.current.alive = false;
      offs.forEach((off) => off());
    };
  }, deps);

  return { data, error, loading, reload: run };
}

/** The current time, updated every `ms` while the component is mounted. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
