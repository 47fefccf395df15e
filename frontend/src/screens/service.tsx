// Service detail (/services/<name>): state and actions, what a waiting service waits for (blocked
// ones marked), the dependency graph around it (components/dep_graph), the definition (env values
// masked until revealed), the events timeline (newest first, live), health history with each probe's
// message, resource charts (1 h / 24 h / 7 d, shared cursor), its fixes with "Fix now"
// (components/fixes_panel) and the custom restart form (fescreens' component); "Ask about this
// service" opens a chat about it (components/chat_panel) on the page.
// History is read over REST once; the event bus adds what happens while the page is open.
import { useEffect, useState } from "preact/hooks";
import { signal, useComputed, useSignal, type Signal } from "@preact/signals";
import { useLocation, useRoute } from "preact-iso";
import { ApiError, del, get, post, seg } from "../api";
import { reconnected, subscribe } from "../live";
import { StateBadge } from "../components/state_badge";
import { ConfirmDialog } from "../components/confirm_dialog";
import { CustomRestart } from "../components/custom_restart";
import { FixesPanel } from "../components/fixes_panel";
import { ChatPanel } from "../components/chat_panel";
import { MetricsCharts } from "../components/metrics_charts";
import { DepGraph } from "../components/dep_graph";
import { now } from "../lib/clock";
import { fmtCountdown, fmtCpu, fmtDuration, fmtMem, fmtTime } from "../lib/format";
import { applyEvent, applyMetrics, describe, exitText, isFailure, live, uptimeAt, waitingText, withState, type LiveView } from "../lib/service_state";
import { visible } from "../lib/text";
import type { ActionResponse, HealthReport, MetricsEvent, ServiceEvent, ServiceView } from "../lib/types";

const MAX_EVENTS = 500;

function commandText(c: ServiceView["command"]): string {
  return Array.isArray(c) ? c.map((w) => (/[\s"'\\]/.test(w) ? JSON.stringify(w) : w)).join(" ") : c;
}

function Definition({ v }: { v: ServiceView }) {
  const revealed = useSignal(false);
  const env = Object.entries(v.env ?? {});
  const rows: [string, string][] = [
    ["Command", commandText(v.command)],
    ["Working dir", v.working_dir ?? "—"],
    ["Port", v.port ? String(v.port) : "—"],
    ["Enabled", v.enabled ? "yes" : "no"],
    ["Restart", `${v.restart}, at most ${v.max_restarts} in a row`],
    ["Stop", `${v.stop_signal}, then SIGKILL after ${v.stop_timeout_s} s`],
  ];
  if (v.env_file) rows.push(["Env file", v.env_file]);
  if (v.max_memory_mb) rows.push(["Memory limit", `${v.max_memory_mb} MB`]);
  if (v.watch_dirs.length) rows.push(["Watch dirs", v.watch_dirs.join(", ")]);
  if (v.expose_caddy)
    rows.push(["Caddy", [v.caddy_subdomain && `subdomain ${v.caddy_subdomain}`, v.caddy_path && `path ${v.caddy_path}`].filter(Boolean).join(", ") || "exposed"]);
  if (v.health) {
    rows.push(["Health check", `${v.health.probe} every ${v.health.interval_s} s (timeout ${v.health.timeout_s} s, ${v.health.retries} retries)`]);
    const cfg = v.health.config && typeof v.health.config === "object" ? JSON.stringify(v.health.config) : "";
    if (cfg && cfg !== "{}") rows.push(["Probe config", cfg]);
  }
  else if (v.health_check_url) rows.push(["Health check", `http ${v.health_check_url}`]);
  const deps = Object.entries(v.depends_on).map(([name, d]) => `${name} (${d.condition}${d.restart ? ", restarts with it" : ""})`);
  if (deps.length) rows.push(["Depends on", `${deps.join(", ")}; waits up to ${v.depends_timeout_s} s`]);
  return (
    <section aria-labelledby="h-def">
      <h2 id="h-def">Definition</h2>
      {v.source === "config" ? <p class="muted">This service is defined in tend.toml: edit it there.</p> : null}
      <dl class="definition">
        {rows.map(([k, val]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd class={k === "Command" ? "mono" : undefined}>{visible(val)}</dd>
          </div>
        ))}
      </dl>
      <h3 class="row">
        Environment
        {env.length ? (
          <button type="button" aria-pressed={revealed.value} onClick={() => (revealed.value = !revealed.value)}>
            {revealed.value ? "Hide values" : "Reveal values"}
          </button>
        ) : null}
      </h3>
      {env.length ? (
        <div class="table-wrap">
          <table aria-label="Environment" class="env">
            <tbody>
              {env.map(([k, val]) => (
                <tr key={k}>
                  <th scope="row" class="mono">
                    {visible(k)}
                  </th>
                  <td class="mono" data-testid="env-value">
                    {revealed.value ? visible(val) : "••••••"}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">No variables.</p>
      )}
    </section>
  );
}

function Events({ events }: { events: Signal<ServiceEvent[]> }) {
  const list = events.value;
  return (
    <section aria-labelledby="h-events">
      <h2 id="h-events">Events</h2>
      {list.length ? (
        <ol class="timeline" data-testid="events" tabIndex={0} aria-label="Events, newest first">
          {list.map((e) => (
            <li key={e.id} class={isFailure(e) ? "bad" : undefined}>
              <time dateTime={e.time}>{fmtTime(e.time)}</time>
              <span class={`badge kind ${e.kind === "lifecycle" ? e.to : e.kind === "health" ? (e.health === "healthy" ? "ok" : "bad") : "idle"}`}>
                {e.kind === "lifecycle" ? e.to : e.kind}
              </span>
              <span class="event-text">{describe(e)}</span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted" data-testid="events">
          No events yet.
        </p>
      )}
    </section>
  );
}

function Health({ report }: { report: HealthReport | null }) {
  if (!report) return null;
  const history = [...report.history].reverse();
  return (
    <section aria-labelledby="h-health">
      <h2 id="h-health">Health</h2>
      {!report.check ? (
        <p class="muted">No health check configured.</p>
      ) : (
        <>
          <p>
            <span class={`badge ${report.state === "healthy" ? "ok" : report.state === "unhealthy" ? "bad" : "idle"}`}>{report.state ?? "unknown"}</span>{" "}
            <span class="muted">
              probe {report.check.probe}, every {report.check.interval_s} s; {report.consecutive_failures} consecutive failures
            </span>
          </p>
          {history.length ? (
            <div class="table-wrap health-table" tabIndex={0} role="region" aria-label="Health check history">
              <table aria-label="Health checks">
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Result</th>
                    <th scope="col" class="hide-narrow">Latency</th>
                    <th scope="col">Message</th>
                  </tr>
                </thead>
                <tbody>
                  {history.map((h, i) => (
                    <tr key={`${h.time}-${i}`}>
                      <td class="num">{fmtTime(h.time)}</td>
                      <td>
                        <span class={`badge ${h.passed ? "ok" : "bad"}`}>{h.result}</span>
                      </td>
                      <td class="hide-narrow num">{h.latency_ms} ms</td>
                      <td class="message">{visible(h.message)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : (
            <p class="muted">No checks ran yet.</p>
          )}
        </>
      )}
    </section>
  );
}

function Summary({ view }: { view: Signal<LiveView> }) {
  const v = view.value;
  const uptime = useComputed(() => fmtDuration(uptimeAt(view.value, now.value)));
  const nextStart = useComputed(() => (view.value.next_start_at ? fmtCountdown(Date.parse(view.value.next_start_at), now.value) : ""));
  return (
    <dl class="figures summary">
      <div>
        <dt>PID</dt>
        <dd>{v.pid ?? "—"}</dd>
      </div>
      <div>
        <dt>Uptime</dt>
        <dd>{uptime}</dd>
      </div>
      <div>
        <dt>Restarts</dt>
        <dd data-testid="restarts">{v.restart_count}</dd>
      </div>
      <div>
        <dt>CPU</dt>
        <dd>{fmtCpu(v.cpu_percent)}</dd>
      </div>
      <div>
        <dt>Memory</dt>
        <dd>{fmtMem(v.memory_mb)}</dd>
      </div>
      <div>
        <dt>Health</dt>
        <dd>{v.health_status ?? "—"}</dd>
      </div>
      {v.last_exit ? (
        <div>
          <dt>Last exit</dt>
          <dd>
            {exitText(v.last_exit.code, v.last_exit.signal) || "—"} <span class="muted">{fmtTime(v.last_exit.at)}</span>
          </dd>
        </div>
      ) : null}
      {v.status === "backoff" && v.next_start_at ? (
        <div>
          <dt>Next start</dt>
          <dd>{nextStart}</dd>
        </div>
      ) : null}
    </dl>
  );
}

/** A waiting service's unmet dependencies, each with why; those that failed for good marked blocked. */
function Waiting({ view }: { view: Signal<LiveView> }) {
  const v = view.value;
  if (v.status !== "waiting") return null;
  const list = v.waiting_for ?? [];
  return (
    <div class="notice waiting-for" role="status" data-testid="waiting-for">
      <strong>Waiting for its dependencies</strong>
      {list.length ? (
        <ul>
          {list.map((w) => (
            <li key={w.service} data-blocked={w.blocked ? "true" : undefined}>
              {waitingText(w)}
            </li>
          ))}
        </ul>
      ) : (
        <span class="muted"> (no reason given yet)</span>
      )}
    </div>
  );
}

type Action = "start" | "stop" | "restart";

export function ServiceDetail() {
  const { params } = useRoute();
  const { route } = useLocation();
  const name = params.name ?? "";
  const [view] = useState(() => signal<LiveView | null>(null));
  const [events] = useState(() => signal<ServiceEvent[]>([]));
  const [health, setHealth] = useState<HealthReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  const [busy, setBusy] = useState<Action | "delete" | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [chatOpen, setChatOpen] = useState(false);
  const [chatConv, setChatConv] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const base = `/api/services/${seg(name)}`;
    const fail = (e: unknown) => {
      if (!alive) return;
      if (e instanceof ApiError && e.status === 404) setMissing(true);
      else setError(e instanceof Error ? e.message : String(e));
    };
    const loadView = () => get<ServiceView>(base).then((v) => alive && (view.value = live(v, Date.now())), fail);
    const loadEvents = () =>
      get<{ events: ServiceEvent[] }>(`${base}/events?limit=200`).then((p) => {
        if (!alive) return;
        // Live events may have arrived first: merge by id, newest first.
        const seen = new Set(events.value.map((e) => e.id));
        const merged = [...events.value, ...p.events.filter((e) => !seen.has(e.id))];
        merged.sort((a, b) => b.id - a.id);
        events.value = merged.slice(0, MAX_EVENTS);
      }, fail);
    const loadHealth = () => get<HealthReport>(`${base}/health?limit=50`).then((h) => alive && setHealth(h), fail);
    view.value = null;
    events.value = [];
    setMissing(false);
    setError(null);
    loadView();
    loadEvents();
    loadHealth();
    let refresh: ReturnType<typeof setTimeout> | undefined;
    const refreshView = () => {
      clearTimeout(refresh);
      refresh = setTimeout(loadView, 500);
    };
    const onEvents = (evs: ServiceEvent[]) => {
      const mine = evs.filter((e) => e.service === name);
      if (!mine.length) return;
      if (view.value) for (const e of mine) view.value = applyEvent(view.value, e);
      const seen = new Set(events.value.map((e) => e.id));
      const fresh = mine.filter((e) => !seen.has(e.id)).reverse();
      events.value = [...fresh, ...events.value].slice(0, MAX_EVENTS);
      refreshView();
    };
    const unsubs = [
      subscribe("lifecycle", onEvents),
      subscribe("health", (evs) => {
        onEvents(evs);
        if (evs.some((e) => e.service === name)) loadHealth();
      }),
      subscribe("job", onEvents),
      subscribe("caddy", (evs) => onEvents(evs.filter((e) => "service" in e))),
      subscribe("metrics", (ms) => {
        for (const m of ms) if (m.kind === "service" && m.name === name && view.value) view.value = applyMetrics(view.value, m);
      }),
    ];
    // Probe results that do not change the health state are not on the bus: re-read them now and then.
    const healthTimer = setInterval(loadHealth, 15_000);
    const unsubReconnect = reconnected.subscribe(() => {
      loadView();
      loadEvents();
    });
    return () => {
      alive = false;
      clearTimeout(refresh);
      clearInterval(healthTimer);
      unsubReconnect();
      for (const u of unsubs) u();
    };
  }, [name]);

  const act = async (a: Action) => {
    setBusy(a);
    setError(null);
    try {
      const res = await post<ActionResponse>(`/api/services/${seg(name)}/${a}`);
      if (view.value) view.value = withState(view.value, res, Date.now());
    } catch (e) {
      setError(`${a}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(null);
    }
  };

  const remove = async () => {
    setBusy("delete");
    setError(null);
    try {
      await del(`/api/services/${seg(name)}`);
      setConfirming(false);
      route("/");
    } catch (e) {
      setConfirming(false);
      setError(`delete: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(null);
    }
  };

  if (missing)
    return (
      <main class="page">
        <h1>{name}</h1>
        <p role="alert">
          No service named “{name}”. <a href="/">Back to the overview</a>
        </p>
      </main>
    );
  const v = view.value;
  return (
    <main class="page service">
      <div class="row page-head">
        <h1>
          <span class="name">{name}</span>
          {v ? <StateBadge status={v.status} /> : null}
        </h1>
        <nav class="row" aria-label="Service">
          <a class="button" href={`/services/${seg(name)}/logs`}>
            Logs
          </a>
          <a class="button" href={`/services/${seg(name)}/edit`}>
            Edit
          </a>
          <button type="button" aria-expanded={chatOpen} aria-controls="service-chat" onClick={() => setChatOpen(!chatOpen)}>
            Ask about this service
          </button>
        </nav>
      </div>
      <div class="row service-actions">
        <button type="button" disabled={!v || busy !== null} onClick={() => act("start")}>
          Start
        </button>
        <button type="button" disabled={!v || busy !== null} onClick={() => act("stop")}>
          Stop
        </button>
        <button type="button" disabled={!v || busy !== null} onClick={() => act("restart")}>
          Restart
        </button>
        <button
          type="button"
          class="danger"
          disabled={!v || busy !== null || v.source === "config"}
          title={v?.source === "config" ? "defined in tend.toml" : undefined}
          onClick={() => setConfirming(true)}
        >
          Delete
        </button>
        {busy ? <span class="muted">{busy}…</span> : null}
      </div>
      {error ? (
        <p role="alert" class="error-box">
          {error}
        </p>
      ) : null}
      {confirming ? (
        <ConfirmDialog title={`Delete ${name}?`} confirm="Delete" busy={busy === "delete"} onConfirm={remove} onCancel={() => setConfirming(false)}>
          <p>The service is stopped and its definition removed. Its logs and events are kept.</p>
        </ConfirmDialog>
      ) : null}
      {chatOpen ? (
        <section id="service-chat" aria-labelledby="h-chat" data-testid="service-chat">
          <h2 id="h-chat" class="row">
            Ask about {name}
            <a href={chatConv ? `/chat?c=${encodeURIComponent(chatConv)}` : `/chat?service=${encodeURIComponent(name)}`} class="muted">
              open in the chat screen
            </a>
          </h2>
          <ChatPanel service={name} conversation={null} onConversation={setChatConv} />
        </section>
      ) : null}
      {v ? <Summary view={view as Signal<LiveView>} /> : <p class="muted" aria-busy="true">Loading…</p>}
      {v ? <Waiting view={view as Signal<LiveView>} /> : null}
      <DepGraph name={name} />
      <div class="detail-grid">
        <div>
          {v ? <Definition v={v} /> : null}
          <Health report={health} />
        </div>
        <div>
          <Events events={events} />
        </div>
      </div>
      <FixesPanel target="service" name={name} />
      <section aria-labelledby="h-res">
        <h2 id="h-res">Resources</h2>
        <MetricsCharts name={name} />
      </section>
      <section aria-labelledby="h-cr">
        <h2 id="h-cr">Custom restart</h2>
        <CustomRestart name={name} />
      </section>
    </main>
  );
}
