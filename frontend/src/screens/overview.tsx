// The overview (/): every service as one table row (state, with a waiting service's reasons as the
// badge's tooltip, marked blocked when a dependency failed for good; heartbeat, pid, uptime, restarts,
// CPU, memory with sparkline, port, actions), then supervisor figures, cron jobs due in 24 h, running
// jobs and recent failures. Data and live updates live in lib/overview_store.ts; a row re-renders only
// when its own signals change, and its canvases paint in the shared per-frame batch.
import { useEffect, useState } from "preact/hooks";
import { signal, useComputed } from "@preact/signals";
import { post, seg, ApiError } from "../api";
import { StateBadge } from "../components/state_badge";
import { Heartbeat } from "../components/heartbeat";
import { Sparkline } from "../components/sparkline";
import { Countdown } from "../components/countdown";
import { now } from "../lib/clock";
import { fmtAgo, fmtCpu, fmtDuration, fmtMem } from "../lib/format";
import { uptimeAt, waitingTitle, withState } from "../lib/service_state";
import * as store from "../lib/overview_store";
import type { Row } from "../lib/overview_store";
import type { ActionResponse, ServiceView } from "../lib/types";

type Action = "start" | "stop" | "restart";
const actionError = signal<string | null>(null);

async function act(row: Row, action: Action) {
  actionError.value = null;
  try {
    const res = await post<ActionResponse>(`/api/services/${seg(row.name)}/${action}`);
    // The answer is the resulting state: show it now (the bus's events confirm it).
    row.view.value = withState(row.view.value, res, Date.now());
  } catch (e) {
    actionError.value = `${action} ${row.name}: ${e instanceof ApiError ? e.message : String(e)}`;
  }
}

function Actions({ row }: { row: Row }) {
  const [busy, setBusy] = useState<Action | null>(null);
  const status = row.view.value.status;
  const run = (a: Action) => {
    setBusy(a);
    act(row, a).finally(() => setBusy(null));
  };
  const active = status === "running" || status === "starting" || status === "backoff" || status === "waiting";
  return (
    <div class="row actions">
      <button type="button" aria-label={`Start ${row.name}`} title="Start" disabled={busy !== null || active} onClick={() => run("start")}>
        ▶
      </button>
      <button type="button" aria-label={`Stop ${row.name}`} title="Stop" disabled={busy !== null || status === "stopped"} onClick={() => run("stop")}>
        ■
      </button>
      <button type="button" aria-label={`Restart ${row.name}`} title="Restart" disabled={busy !== null} onClick={() => run("restart")}>
        ↻
      </button>
    </div>
  );
}

function PortCell({ v }: { v: ServiceView }) {
  if (!v.port) return <td class="hide-narrow muted">—</td>;
  // The daemon knows where Caddy routes a service, not the public address: the tag leads to Proxy.
  const href = `${location.protocol}//${location.hostname}:${v.port}/`;
  return (
    <td class="hide-narrow">
      <a href={href} target="_blank" rel="noreferrer noopener">
        :{v.port}
      </a>
      {v.expose_caddy ? (
        <a class="tag" href="/proxy" title={`exposed through Caddy${v.caddy_subdomain ? ` as ${v.caddy_subdomain}` : ""}${v.caddy_path ? ` at ${v.caddy_path}` : ""} (see Proxy)`}>
          Caddy{v.caddy_path ? ` ${v.caddy_path}` : v.caddy_subdomain ? ` ${v.caddy_subdomain}` : ""}
        </a>
      ) : null}
    </td>
  );
}

function ServiceRow({ row }: { row: Row }) {
  const v = row.view.value;
  const uptime = useComputed(() => fmtDuration(uptimeAt(row.view.value, now.value)));
  const href = `/services/${seg(row.name)}`;
  return (
    <tr data-testid={`service-row-${row.name}`}>
      <td class="name">
        <a href={href}>{row.name}</a>
      </td>
      <td>
        <StateBadge
          status={v.status}
          title={v.status === "waiting" ? waitingTitle(v.waiting_for) : undefined}
          blocked={v.status === "waiting" && !!v.waiting_for?.some((w) => w.blocked)}
        />
        {v.health_status === "unhealthy" ? <span class="badge bad health-flag">unhealthy</span> : null}
      </td>
      <td>
        <Heartbeat beats={row.beats} check={!!(v.health || v.health_check_url)} />
      </td>
      <td class="hide-narrow num">{v.pid ?? "—"}</td>
      <td class="num hide-narrow">
        <span class="tick">{uptime}</span>
      </td>
      <td class="num" data-testid="restarts">
        {v.restart_count}
      </td>
      <td class="hide-narrow num">
        <span class="tick short">{fmtCpu(v.cpu_percent)}</span>
      </td>
      <td>
        <div class="mem">
          <span class="num tick">{fmtMem(v.memory_mb)}</span>
          <Sparkline values={row.mem} label={`memory of ${row.name} over the last hour`} />
        </div>
      </td>
      <PortCell v={v} />
      <td>
        <Actions row={row} />
      </td>
    </tr>
  );
}

function ServicesTable() {
  const rows = store.rows.value;
  if (!store.loaded.value) return <p class="muted" aria-busy="true">Loading services…</p>;
  if (!rows.length)
    return (
      <p class="muted">
        No services yet. <a href="/onboard">Onboard a project</a> or <a href="/services/new">add one</a>.
      </p>
    );
  return (
    <div class="table-wrap">
      <table aria-label="Services" class="services">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">State</th>
            <th scope="col">Health</th>
            <th scope="col" class="hide-narrow">PID</th>
            <th scope="col" class="hide-narrow">Uptime</th>
            <th scope="col">Restarts</th>
            <th scope="col" class="hide-narrow">CPU</th>
            <th scope="col">Memory</th>
            <th scope="col" class="hide-narrow">Port</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <ServiceRow key={r.name} row={r} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Supervisor() {
  const s = store.supervisor.value;
  const uptime = useComputed(() => {
    const sv = store.supervisor.value;
    return sv ? fmtDuration((now.value - Date.parse(sv.started_at)) / 1000) : "—";
  });
  return (
    <section class="card" aria-labelledby="h-supervisor">
      <h2 id="h-supervisor">Supervisor</h2>
      {s ? (
        <dl class="figures">
          <div>
            <dt>Version</dt>
            <dd>{s.version}</dd>
          </div>
          <div>
            <dt>Uptime</dt>
            <dd>{uptime}</dd>
          </div>
          <div>
            <dt>Services</dt>
            <dd>
              {s.managed_services}
              {Object.entries(s.counts)
                .filter(([, n]) => n > 0)
                .map(([k, n]) => (
                  <span key={k} class={`badge ${k} count`}>
                    {n} {k}
                  </span>
                ))}
            </dd>
          </div>
          <div>
            <dt>Memory</dt>
            <dd>{fmtMem(s.memory_mb)}</dd>
          </div>
          <div>
            <dt>CPU</dt>
            <dd>{fmtCpu(s.cpu_percent)}</dd>
          </div>
          <div>
            <dt>PID</dt>
            <dd>{s.pid}</dd>
          </div>
        </dl>
      ) : (
        <p class="muted">—</p>
      )}
    </section>
  );
}

function CronDue() {
  const due = store.cronDue.value;
  return (
    <section class="card" aria-labelledby="h-cron">
      <h2 id="h-cron">Cron due in 24 h</h2>
      {due.length ? (
        <ul class="plain">
          {due.map((c) => (
            <li key={c.name}>
              <a href={`/cron/${seg(c.name)}`}>{c.name}</a> <Countdown at={c.next_run_at} />
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">Nothing due.</p>
      )}
    </section>
  );
}

function RunningJobs() {
  const jobs = store.jobs.value;
  return (
    <section class="card" aria-labelledby="h-jobs">
      <h2 id="h-jobs">Running jobs</h2>
      {jobs.length ? (
        <ul class="plain">
          {jobs.map((j) => {
            const done = j.steps.filter((s) => s.status !== "pending" && s.status !== "running").length;
            return (
              <li key={j.id}>
                <a href={`/services/${seg(j.service)}`}>{j.service}</a> {j.kind} #{j.id}{" "}
                <span class={`badge ${j.status}`}>{j.status}</span>{" "}
                <span class="muted">
                  {done}/{j.steps.length} steps
                </span>
              </li>
            );
          })}
        </ul>
      ) : (
        <p class="muted">No jobs running.</p>
      )}
    </section>
  );
}

function Failures() {
  const fs = store.failures.value;
  const t = now.value;
  return (
    <section class="card" aria-labelledby="h-failures">
      <h2 id="h-failures">Recent failures</h2>
      {fs.length ? (
        <ul class="plain failures">
          {fs.map((f) => (
            <li key={f.key}>
              {f.service.startsWith("cron ") ? (
                <a href={`/cron/${seg(f.service.slice(5))}`}>{f.service}</a>
              ) : (
                <a href={`/services/${seg(f.service)}`}>{f.service}</a>
              )}{" "}
              <span class="muted">{f.time ? fmtAgo(f.time, t) : ""}</span>
              <div class="failure-text">{f.text}</div>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No failures seen.</p>
      )}
    </section>
  );
}

export function Overview() {
  useEffect(() => store.start(), []);
  return (
    <main class="page">
      <div class="row page-head">
        <h1>Services</h1>
        <a class="button primary" href="/services/new">
          Add service
        </a>
      </div>
      {store.loadError.value ? (
        <p role="alert" class="error-box">
          {store.loadError.value}
        </p>
      ) : null}
      {actionError.value ? (
        <p role="alert" class="error-box">
          {actionError.value}
        </p>
      ) : null}
      <div class="cards">
        <Supervisor />
        <CronDue />
        <RunningJobs />
        <Failures />
      </div>
      <ServicesTable />
    </main>
  );
}
