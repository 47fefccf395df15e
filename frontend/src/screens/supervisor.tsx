// Supervisor (/supervisor): the daemon itself (version, uptime, pid, data dir, memory, CPU,
// containment, services by status), its own log, the dashboard's sign-in sessions with revoke, and
// sign out.
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, del, get, post, qs, seg, signedIn } from "../api";
import { disconnect } from "../live";
import { duration, when } from "../lib/cron_view";
import { useLive, useNow } from "../lib/use_live";
import type { JsonValue } from "../gen/api";
import type { SessionView, StatusResponse, SupervisorLogs } from "../lib/wire";

const TAIL = 200;
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
const SKIP = new Set(["timestamp", "level", "target", "message", "id"]);

/** One record of tend.log as a line of text: time, level, message, then its other fields. */
export function logLine(record: JsonValue): string {
  if (!record || typeof record !== "object" || Array.isArray(record)) return JSON.stringify(record);
  const r = record;
  const fields = Object.entries(r)
    .filter(([k]) => !SKIP.has(k))
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${String(r.timestamp ?? "")} ${String(r.level ?? "").padEnd(5)} ${String(r.message ?? "")}${fields ? `  ${fields}` : ""}`;
}

function Log() {
  const [tail, setTail] = useState(TAIL);
  const [level, setLevel] = useState("");
  // The daemon's log has no event stream: following it means asking again every 2 s.
  const [follow, setFollow] = useState(false);
  const logs = useLive(() => get<SupervisorLogs>(`/api/supervisor/logs${qs({ tail })}`), [], undefined, [tail]);
  const rank = (l: string) => LEVELS.indexOf(l);
  const lines = (logs.data?.lines ?? []).filter(
    (r) => !level || (r && typeof r === "object" && !Array.isArray(r) && rank(String(r.level ?? "")) >= rank(level)),
  );
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (!follow) return;
    const t = setInterval(logs.reload, 2000);
    return () => clearInterval(t);
  }, [follow]);
  // Newest last, as in the file: show the end, unless the reader scrolled up to read something.
  const atEnd = useRef(true);
  useEffect(() => {
    if (pre.current && atEnd.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [logs.data]);
  return (
    <section aria-labelledby="log-h">
      <div class="row spread">
        <h2 id="log-h">Log</h2>
        <div class="row">
          <label class="row">
            Level
            <select value={level} onChange={(e) => setLevel((e.currentTarget as HTMLSelectElement).value)}>
              <option value="">all</option>
              {LEVELS.slice(1).map((l) => (
                <option key={l} value={l}>
                  {l} and above
                </option>
              ))}
            </select>
          </label>
          <label class="row">
            Lines
            <select value={String(tail)} onChange={(e) => setTail(Number((e.currentTarget as HTMLSelectElement).value))}>
              {[200, 1000, 5000].map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <label class="row">
            <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.currentTarget as HTMLInputElement).checked)} />
            Follow
          </label>
          <button type="button" onClick={logs.reload}>
            Refresh
          </button>
        </div>
      </div>
      {logs.error && <p class="error-box">{logs.error}</p>}
      <pre
        ref={pre}
        onScroll={(e) => {
          const el = e.currentTarget as HTMLPreElement;
          atEnd.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        data-testid="supervisor-log" class="log-pre" tabIndex={0} aria-label="Supervisor log, newest last">
        {lines.map((r, i) => (
          <div key={i} class={`level-${r && typeof r === "object" && !Array.isArray(r) ? String(r.level ?? "") : ""}`}>
            {logLine(r)}
          </div>
        ))}
      </pre>
    </section>
  );
}

function Sessions(props: { onSignedOut: () => void }) {
  const sessions = useLive(() => get<SessionView[]>("/api/sessions"), []);
  const [message, setMessage] = useState<string | null>(null);

  async function revoke(s: SessionView) {
    setMessage(null);
    try {
      await del(`/api/sessions/${seg(s.id)}`);
      if (s.current) return props.onSignedOut();
      setMessage(`Session ${s.id} revoked.`);
    } catch (e) {
      setMessage(e instanceof ApiError ? e.message : String(e));
    }
    sessions.reload();
  }

  const list = sessions.data ?? [];
  return (
    <section aria-labelledby="sessions-h">
      <h2 id="sessions-h">Sessions</h2>
      <p role="status" class="status-line">
        {message ?? ""}
      </p>
      {sessions.error && (
        <p class="error-box">
          {sessions.error}
          {/* A daemon from before dashboard sign-in has no sessions route. */}
          {/no such route/.test(sessions.error) ? " (this daemon has no dashboard sessions)" : ""}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Sessions">
          <thead>
            <tr>
              <th>Session</th>
              <th>Signed in</th>
              <th class="hide-narrow">Last seen</th>
              <th class="hide-narrow">Expires</th>
              <th class="hide-narrow">Browser</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((s) => (
              <tr key={s.id} data-testid={`session-row-${s.id}`}>
                <td class="nowrap">
                  <span class="mono">{s.id}</span> {s.current && <span class="badge ok">this browser</span>}
                </td>
                <td class="nowrap">{when(s.created_at)}</td>
                <td class="hide-narrow nowrap">{when(s.last_seen_at)}</td>
                <td class="hide-narrow nowrap">{when(s.expires_at)}</td>
                <td class="hide-narrow">{s.user_agent ?? "—"}</td>
                <td>
                  <button type="button" class="danger" aria-label={s.current ? "Revoke (this browser)" : `Revoke ${s.id}`} onClick={() => revoke(s)}>
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!sessions.loading && !list.length && !sessions.error && <p class="muted">No dashboard sessions.</p>}
    </section>
  );
}

export function Supervisor() {
  const { route } = useLocation();
  const status = useLive(() => get<StatusResponse>("/api/status"), ["lifecycle"]);
  const now = useNow();
  const [signOutError, setSignOutError] = useState<string | null>(null);

  function signedOut() {
    disconnect();
    signedIn.value = false;
    route("/login");
  }

  async function signOut() {
    setSignOutError(null);
    try {
      await post("/api/logout");
    } catch (e) {
      // 409: this browser has no session (e.g. the dev server's token); there is nothing to end.
      if (!(e instanceof ApiError && (e.status === 409 || e.status === 401))) {
        setSignOutError(e instanceof Error ? e.message : String(e));
        return;
      }
    }
    signedOut();
  }

  const s = status.data?.supervisor;
  return (
    <main class="page">
      <div class="row spread">
        <h1>Supervisor</h1>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </div>
      {signOutError && (
        <p role="alert" class="error-box">
          {signOutError}
        </p>
      )}
      {status.error && (
        <p role="alert" class="error-box">
          {status.error}
        </p>
      )}
      {s && (
        <dl class="kv" data-testid="supervisor-info">
          <dt>Version</dt>
          <dd>{s.version}</dd>
          <dt>Status</dt>
          <dd>{s.status}</dd>
          <dt>Uptime</dt>
          <dd title={`since ${when(s.started_at)}`}>{duration(now - Date.parse(s.started_at))}</dd>
          <dt>Pid</dt>
          <dd>{s.pid}</dd>
          <dt>Data dir</dt>
          <dd class="mono">{s.data_dir}</dd>
          <dt>Memory, CPU</dt>
          <dd>
            {s.memory_mb !== undefined ? `${s.memory_mb.toFixed(1)} MiB` : "—"}, {s.cpu_percent !== undefined ? `${s.cpu_percent.toFixed(1)} %` : "—"}
          </dd>
          <dt>Services</dt>
          <dd>
            {s.managed_services}
            {Object.keys(s.counts).length
              ? ` (${Object.entries(s.counts)
                  .map(([k, v]) => `${v} ${k}`)
                  .join(", ")})`
              : ""}
          </dd>
          {s.containment && (
            <>
              <dt>Containment</dt>
              <dd>
                {s.containment.kind}
                {s.containment.root ? <span class="mono"> {s.containment.root}</span> : null}
              </dd>
            </>
          )}
        </dl>
      )}
      <Sessions onSignedOut={signedOut} />
      <Log />
    </main>
  );
}
