// One cron job (/cron/<name>): its definition, run now / stop / edit / delete, and its execution
// history (trigger, start, duration, exit, peak memory and CPU time, status) with each execution's
// output, and its fixes (components/fixes_panel). Refetched on every `cron` event of this job, so
// running executions update live.
import { useEffect, useState } from "preact/hooks";
import { useLocation, useRoute } from "preact-iso";
import { ApiError, del, get, post, qs, seg } from "../api";
import { ConfirmDialog } from "../components/form_confirm";
import { FixesPanel } from "../components/fixes_panel";
import { countdown, duration, executionOutput, exitText, mib, when } from "../lib/cron_view";
import { useLive, useNow } from "../lib/use_live";
import type { CronEvent, CronJobView, Execution, ExecutionsPage } from "../lib/wire";
import { LastResult } from "./cron";

const PAGE = 20;

/**
 * One job. A job named like a fixed route (`tick`, `status`, `validate`) is shadowed by it (405), so it
 * is then found in the list instead.
 */
async function loadJob(name: string): Promise<CronJobView> {
  try {
    return await get<CronJobView>(`/api/cron/${seg(name)}`);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 405)) throw e;
    const found = (await get<CronJobView[]>("/api/cron")).find((j) => j.name === name);
    if (!found) throw e;
    return found;
  }
}

// Whether the daemon serves one execution with its output so far (`GET /api/cron/{name}/executions/{id}`);
// an older one answers 404/405 and the output then shows when the execution ends.
let liveOutput = true;

/** While `exec` runs, its output so far, fetched once a second. */
function useRunningOutput(job: string, exec: Execution): Execution {
  const [live, setLive] = useState<Execution | null>(null);
  const running = exec.status === "running";
  useEffect(() => {
    setLive(null);
    if (!running || !liveOutput) return;
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = () =>
      get<Execution>(`/api/cron/${seg(job)}/executions/${exec.id}`).then(
        (e) => {
          if (!alive) return;
          setLive(e);
          if (e.status === "running") timer = setTimeout(poll, 1000);
        },
        (err: unknown) => {
          if (err instanceof ApiError && (err.status === 404 || err.status === 405)) liveOutput = false;
          else if (alive) timer = setTimeout(poll, 2000);
        },
      );
    poll();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [job, exec.id, running]);
  return live && live.id === exec.id && running ? live : exec;
}

function Output(props: { job: string; exec: Execution; now: number }) {
  const e = useRunningOutput(props.job, props.exec);
  if (e.status === "running" || e.status === "queued") {
    const since = e.started_at ? Date.parse(e.started_at) : Date.parse(e.created_at);
    return (
      <div>
        <p class="muted" aria-live="polite">
          Execution {e.id} is {e.status}
          {e.status === "running" ? ` for ${duration(props.now - since)}${e.pid ? ` (pid ${e.pid})` : ""}` : ""}.
          {liveOutput ? " Output so far:" : " Its output shows here when it ends."}
        </p>
        <pre data-testid="execution-output" class="output" aria-busy="true">
          {executionOutput(e)}
        </pre>
      </div>
    );
  }
  const text = executionOutput(e);
  return (
    <div>
      <p class="muted">
        Execution {e.id}: {e.status.replace("_", " ")}, {exitText(e)}, {duration(e.duration_ms)}
        {e.message ? ` — ${e.message}` : ""}
        {e.log_file ? (
          <>
            {" "}
            · whole output in <code>{e.log_file}</code>
          </>
        ) : null}
      </p>
      <pre data-testid="execution-output" class="output">
        {text || "(no output)"}
      </pre>
    </div>
  );
}

export function CronDetail() {
  const { params } = useRoute();
  const { route } = useLocation();
  const name = params.name!;
  const now = useNow();
  const [limit, setLimit] = useState(PAGE);
  const [selected, setSelected] = useState<number | null>(null);
  const [message, setMessage] = useState<{ text: string; bad: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);

  const mine = (e: unknown) => (e as CronEvent).job === name;
  const job = useLive(() => loadJob(name), ["cron"], mine, [name]);
  const page = useLive(
    () => get<ExecutionsPage>(`/api/cron/${seg(name)}/executions${qs({ limit })}`),
    ["cron"],
    mine,
    [name, limit],
  );

  async function act(what: "run" | "stop") {
    setBusy(true);
    setMessage(null);
    try {
      if (what === "run") {
        const e = await post<Execution>(`/api/cron/${seg(name)}/run`);
        setSelected(e.id);
        setMessage({ text: `execution ${e.id} ${e.status}`, bad: false });
      } else {
        const r = await post<{ executions: number[] }>(`/api/cron/${seg(name)}/stop`);
        setMessage({ text: `stopped ${r.executions.length} execution(s)`, bad: false });
      }
    } catch (e) {
      setMessage({ text: e instanceof ApiError ? e.message : String(e), bad: true });
    } finally {
      setBusy(false);
      job.reload();
      page.reload();
    }
  }

  async function remove() {
    setBusy(true);
    try {
      await del(`/api/cron/${seg(name)}`);
      route("/cron");
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  const j = job.data;
  const execs = page.data?.executions ?? [];
  const chosen = execs.find((e) => e.id === selected) ?? null;
  const fromFile = j?.source === "config";

  return (
    <main class="page">
      <div class="row spread">
        <h1>{name}</h1>
        <div class="row">
          <button type="button" disabled={busy} onClick={() => act("run")}>
            Run now
          </button>
          <button type="button" disabled={busy || !j || (!j.running.length && !j.queued)} onClick={() => act("stop")}>
            Stop
          </button>
          <a class="button" href={`/cron/${seg(name)}/edit`}>
            Edit
          </a>
          <button
            type="button"
            class="danger"
            disabled={fromFile}
            title={fromFile ? "defined in tend.toml: remove it there" : undefined}
            onClick={() => setConfirming(true)}
          >
            Delete
          </button>
        </div>
      </div>
      <p role="status" class={`status-line${message?.bad ? " error" : ""}`}>
        {message?.text ?? ""}
      </p>
      {job.error && (
        <p role="alert" class="error-box">
          {job.error}
        </p>
      )}
      {j && (
        <section aria-labelledby="def-h">
          <h2 id="def-h">Definition</h2>
          <dl class="kv">
            <dt>Schedule</dt>
            <dd>
              <code>{j.schedule}</code> {j.schedule_description ? <span class="muted">({j.schedule_description})</span> : null}
            </dd>
            <dt>Zone</dt>
            <dd>{j.effective_timezone}</dd>
            <dt>Next run</dt>
            <dd title={when(j.next_run_at)}>
              {j.enabled ? `${countdown(j.next_run_at, now)} (${when(j.next_run_at, j.effective_timezone)} ${j.effective_timezone})` : "disabled"}
            </dd>
            <dt>Last result</dt>
            <dd>
              <LastResult job={j} />
            </dd>
            <dt>Command</dt>
            <dd>
              <code>{typeof j.command === "string" ? j.command : JSON.stringify(j.command)}</code>
            </dd>
            <dt>Overlap / catch-up</dt>
            <dd>
              {j.overlap ?? "skip"} / {j.catch_up ?? "none"}
            </dd>
            <dt>Timeout, retries</dt>
            <dd>
              {j.timeout ?? 300} s, {j.retries ?? 0} retries
            </dd>
            <dt>Enabled</dt>
            <dd>{j.enabled ? "yes" : "no"}</dd>
            <dt>Source</dt>
            <dd>{fromFile ? "defined in tend.toml (read-only here)" : "API"}</dd>
          </dl>
        </section>
      )}
      <h2>Executions</h2>
      {page.error && (
        <p role="alert" class="error-box">
          {page.error}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Executions">
          <thead>
            <tr>
              <th>#</th>
              <th>Trigger</th>
              <th class="hide-narrow">Started</th>
              <th>Duration</th>
              <th>Exit</th>
              <th class="hide-narrow">Peak memory</th>
              <th class="hide-narrow">CPU time</th>
              <th>Status</th>
              <th>
                <span class="sr-only">Output</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {execs.map((e) => {
              const running = e.status === "running";
              const started = e.started_at ?? e.created_at;
              return (
                <tr
                  key={e.id}
                  data-testid="execution-row"
                  class={`clickable${selected === e.id ? " selected" : ""}`}
                  onClick={() => setSelected(e.id)}
                >
                  <td class="num">{e.id}</td>
                  <td>
                    {e.trigger.replace("_", " ")}
                    {e.attempt ? ` #${e.attempt}` : ""}
                  </td>
                  <td class="hide-narrow nowrap">{when(started)}</td>
                  <td class="num nowrap">{running ? duration(now - Date.parse(started)) : duration(e.duration_ms)}</td>
                  <td class="nowrap">{exitText(e)}</td>
                  <td class="num hide-narrow nowrap">{mib(e.max_rss_bytes)}</td>
                  <td class="num hide-narrow nowrap">{duration(e.cpu_time_ms)}</td>
                  <td>
                    <span class={`badge ${e.status}`}>{e.status.replace("_", " ")}</span>
                  </td>
                  <td>
                    <button
                      type="button"
                      aria-pressed={selected === e.id}
                      aria-label={`Output of execution ${e.id}`}
                      onClick={(ev) => {
                        ev.stopPropagation();
                        setSelected(e.id);
                      }}
                    >
                      Output
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {!page.loading && !execs.length && <p class="muted">No executions yet. "Run now" starts one.</p>}
      {page.data?.next_before_id !== undefined && limit < 500 && (
        <button type="button" onClick={() => setLimit((l) => Math.min(500, l + PAGE * 5))}>
          Show older executions
        </button>
      )}
      {chosen && (
        <section aria-labelledby="out-h">
          <h2 id="out-h">Output of execution {chosen.id}</h2>
          <Output job={name} exec={chosen} now={now} />
        </section>
      )}
      <FixesPanel target="cron-job" name={name} />
      {confirming && (
        <ConfirmDialog
          title={`Delete ${name}?`}
          confirm="Delete"
          busy={busy}
          error={deleteError}
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        >
          <p>Running executions are stopped and the job removed. Its execution history is kept.</p>
        </ConfirmDialog>
      )}
    </main>
  );
}
