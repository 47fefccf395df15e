// Logs of one service (/services/<name>/logs): live follow with pause and "Jump to latest", a
// stdout/stderr filter, server-side search (substring or regex), timestamps/wrap/colour toggles,
// older lines on scroll up and a download link. The data side is lib/log_session.ts, the list
// components/log_view.tsx; this screen is the toolbar around them.
import { useEffect, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { seg } from "../api";
import { LogView, type LogViewOptions } from "../components/log_view";
import { CAPACITY, LogSession, type StreamFilter } from "../lib/log_session";

const fmt = (n: number) => n.toLocaleString("en");

function Count({ session }: { session: LogSession }) {
  void session.version.value;
  const n = session.buffer.length;
  const parts = [`${fmt(n)} ${session.search.value ? "matching " : ""}lines`];
  if (session.evicted.value) parts.push(`${fmt(session.evicted.value)} older dropped from memory (kept: ${fmt(CAPACITY)})`);
  if (session.paused.value) parts.push(`paused: ${fmt(session.heldCount.value)} new`);
  if (!session.buffer.atLatest) parts.push("not showing the newest lines");
  if (session.loadingOlder.value) parts.push("loading older…");
  return (
    <p class="muted log-count" data-testid="log-count" aria-live="off">
      {parts.join(" · ")}
    </p>
  );
}

export function Logs() {
  const { params } = useRoute();
  const name = params.name ?? "";
  const [session, setSession] = useState<LogSession | null>(null);
  const [opts, setOpts] = useState<LogViewOptions>({ timestamps: true, wrap: false, colours: true });
  const [q, setQ] = useState("");
  const [regex, setRegex] = useState(false);
  const [jump, setJump] = useState(0);

  useEffect(() => {
    const s = new LogSession(name);
    setSession(s);
    void s.reset();
    return () => s.dispose();
  }, [name]);

  if (!session) return <main class="page" aria-busy="true" />;
  const paused = session.paused.value;
  const stream = session.stream.value;
  const download = `/api/services/${seg(name)}/logs/download${stream === "all" ? "" : `?stream=${stream}`}`;
  const toggle = (k: keyof LogViewOptions) => setOpts({ ...opts, [k]: !opts[k] });
  const live = session.live.value;

  return (
    <main class="page logs">
      <div class="row page-head">
        <h1>
          <a href={`/services/${seg(name)}`}>{name}</a> <span class="muted">logs</span>
        </h1>
        <span class={`badge ${live === "live" ? "ok" : live === "lost" ? "bad" : "warn"}`} title="live follow">
          {live}
        </span>
      </div>
      <div class="row log-toolbar">
        <button
          type="button"
          aria-pressed={paused}
          onClick={() => (paused ? session.resume() : session.pause())}
        >
          {paused ? "Resume" : "Pause"}
        </button>
        <button
          type="button"
          onClick={() => {
            void session.jumpToLatest().then(() => setJump((n) => n + 1));
            setJump((n) => n + 1);
          }}
        >
          Jump to latest
        </button>
        <label class="row inline">
          Stream
          <select value={stream} onChange={(e) => void session.setStream((e.target as HTMLSelectElement).value as StreamFilter)}>
            <option value="all">all</option>
            <option value="stdout">stdout</option>
            <option value="stderr">stderr</option>
          </select>
        </label>
        <label class="row inline">
          <input type="checkbox" checked={opts.timestamps} onChange={() => toggle("timestamps")} /> Timestamps
        </label>
        <label class="row inline">
          <input type="checkbox" checked={opts.wrap} onChange={() => toggle("wrap")} /> Wrap
        </label>
        <label class="row inline">
          <input type="checkbox" checked={opts.colours} onChange={() => toggle("colours")} /> Colours
        </label>
        <a class="button" href={download} download={`${name}.log`}>
          Download
        </a>
      </div>
      <form
        class="row log-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          if (q) void session.find({ q, regex });
        }}
      >
        <label class="sr-only" for="log-q">
          Search logs
        </label>
        <input id="log-q" type="search" placeholder="Search logs" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
        <label class="row inline">
          <input type="checkbox" checked={regex} onChange={() => setRegex(!regex)} /> Regex
        </label>
        <button type="submit">Search</button>
        <button
          type="button"
          disabled={!session.search.value}
          onClick={() => {
            setQ("");
            void session.find(null).then(() => setJump((n) => n + 1));
          }}
        >
          Clear search
        </button>
      </form>
      {session.error.value ? (
        <p role="alert" class="error-box">
          {session.error.value}
        </p>
      ) : null}
      {session.searchNote.value ? <p class="muted">{session.searchNote.value}</p> : null}
      <Count session={session} />
      <LogView session={session} opts={opts} jump={jump} />
    </main>
  );
}
