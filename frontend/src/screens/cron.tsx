// Cron jobs (/cron): schedule and its plain-English description, zone, next run with a live countdown,
// last result, enabled; run now, stop, enable/disable. Refetched when a `cron` event arrives.
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post, put, qs, seg } from "../api";
import { cronSpecOf } from "../lib/form_cron";
import { countdown, exitText, when } from "../lib/cron_view";
import { useLive, useNow } from "../lib/use_live";
import type { CronJobView, ValidateResponse } from "../lib/wire";

// Descriptions for daemons whose views do not carry `schedule_description` yet, asked once per schedule.
const described = new Map<string, Promise<string>>();
function describe(schedule: string, zone: string): Promise<string> {
  const key = `${schedule}\u0000${zone}`;
  let p = described.get(key);
  if (!p) {
    p = get<ValidateResponse>(`/api/cron/validate${qs({ schedule, timezone: zone, count: 1 })}`).then(
      (v) => v.description,
      () => "",
    );
    described.set(key, p);
  }
  return p;
}

function Description(props: { job: CronJobView }) {
  const [text, setText] = useState(props.job.schedule_description ?? "");
  useEffect(() => {
    if (props.job.schedule_description) return setText(props.job.schedule_description);
    let live = true;
    describe(props.job.schedule, props.job.effective_timezone).then((d) => live && setText(d));
    return () => {
      live = false;
    };
  }, [props.job.schedule, props.job.effective_timezone, props.job.schedule_description]);
  return <span data-testid="schedule-description">{text}</span>;
}

export function LastResult(props: { job: CronJobView }) {
  const r = props.job.last_run;
  const queued = props.job.queued ? <span class="muted"> +{props.job.queued} queued</span> : null;
  if (props.job.running.length)
    return (
      <span>
        <span class="badge running">running</span>
        {queued}
      </span>
    );
  if (!r) return <span class="muted">never ran</span>;
  return (
    <span title={`${r.trigger}, ${when(r.ended_at ?? r.started_at)}`}>
      <span class={`badge ${r.status}`}>{r.status.replace("_", " ")}</span>{" "}
      <span class="muted hide-narrow">{exitText(r) === "—" ? "" : exitText(r)}</span>
    </span>
  );
}

function Row(props: { job: CronJobView; now: number; act: (job: CronJobView, what: "run" | "stop" | "toggle") => void; busy: boolean }) {
  const { job, now } = props;
  const n = job.name;
  const fromFile = job.source === "config";
  return (
    <tr data-testid={`cron-row-${n}`}>
      <td>
        <a href={`/cron/${seg(n)}`}>{n}</a>
      </td>
      <td>
        <code class="schedule">{job.schedule}</code>
        <br />
        <small class="muted">
          <Description job={job} />
        </small>
      </td>
      <td class="hide-narrow">{job.effective_timezone}</td>
      <td class="nowrap">
        <span data-testid="next-run" title={`${when(job.next_run_at, job.effective_timezone)} ${job.effective_timezone}`}>
          {job.enabled ? countdown(job.next_run_at, now) : "disabled"}
        </span>
      </td>
      <td>
        <LastResult job={job} />
      </td>
      <td data-testid="enabled">{job.enabled ? "yes" : "no"}</td>
      <td class="nowrap">
        <div class="row">
          <button type="button" aria-label={`Run ${n} now`} disabled={props.busy} onClick={() => props.act(job, "run")}>
            Run now
          </button>
          <button
            type="button"
            aria-label={`Stop ${n}`}
            disabled={props.busy || (!job.running.length && !job.queued)}
            onClick={() => props.act(job, "stop")}
          >
            Stop
          </button>
          <button
            type="button"
            aria-label={`${job.enabled ? "Disable" : "Enable"} ${n}`}
            disabled={props.busy || fromFile}
            title={fromFile ? "defined in tend.toml: change it there" : undefined}
            onClick={() => props.act(job, "toggle")}
          >
            {job.enabled ? "Disable" : "Enable"}
          </button>
        </div>
      </td>
    </tr>
  );
}

export function Cron() {
  const jobs = useLive(() => get<CronJobView[]>("/api/cron"), ["cron"]);
  const now = useNow();
  const [busy, setBusy] = useState<string | null>(null);
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);

  // A countdown that reaches zero means the view is stale (next_run_at moved on): fetch it again.
  const due = jobs.data?.some((j) => j.enabled && j.next_run_at && Date.parse(j.next_run_at) <= now - 1000);
  useEffect(() => {
    if (due) jobs.reload();
  }, [due]);

  async function act(job: CronJobView, what: "run" | "stop" | "toggle") {
    setBusy(job.name);
    setMessage(null);
    try {
      if (what === "run") {
        const e = await post<{ id: number; status: string }>(`/api/cron/${seg(job.name)}/run`);
        setMessage({ text: `${job.name}: execution ${e.id} ${e.status}`, bad: false });
      } else if (what === "stop") {
        const r = await post<{ executions: number[] }>(`/api/cron/${seg(job.name)}/stop`);
        setMessage({ text: `${job.name}: stopped ${r.executions.length} execution(s)`, bad: false });
      } else {
        const spec = { ...cronSpecOf(job as unknown as Record<string, unknown>), enabled: !job.enabled };
        await put(`/api/cron/${seg(job.name)}`, spec);
        setMessage({ text: `${job.name} ${job.enabled ? "disabled" : "enabled"}`, bad: false });
      }
    } catch (e) {
      setMessage({ text: `${job.name}: ${e instanceof ApiError ? e.message : String(e)}`, bad: true });
    } finally {
      setBusy(null);
      jobs.reload();
    }
  }

  const list = jobs.data ?? [];
  return (
    <main class="page">
      <div class="row spread">
        <h1>Cron jobs</h1>
        <a class="button" href="/cron/new">
          Add cron job
        </a>
      </div>
      <p role="status" class={`status-line${message?.bad ? " error" : ""}`}>
        {message?.text ?? ""}
      </p>
      {jobs.error && (
        <p role="alert" class="error-box">
          {jobs.error}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Cron jobs">
          <thead>
            <tr>
              <th>Name</th>
              <th>Schedule</th>
              <th class="hide-narrow">Zone</th>
              <th>Next run</th>
              <th>Last result</th>
              <th>Enabled</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((j) => (
              <Row key={j.name} job={j} now={now} act={act} busy={busy === j.name} />
            ))}
          </tbody>
        </table>
      </div>
      {!jobs.loading && !list.length && !jobs.error && (
        <p class="muted">
          No cron jobs yet. <a href="/cron/new">Add one</a>, or define <code>[cron.&lt;name&gt;]</code> tables in tend.toml.
        </p>
      )}
    </main>
  );
}
