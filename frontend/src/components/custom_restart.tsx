// Custom restart of one service (README "Custom restart workflows"), embedded in the service detail:
// pre/post commands and args, the job's steps with the command policy's answer for each, live progress
// (the `job` topic of this service triggers a refetch of its latest job, which is also polled once a
// second while it runs), and cancel.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, get, post, qs, seg } from "../api";
import { buildRestart, restartErrorTarget, type RestartDraft } from "../lib/form_restart";
import { duration, exitText, stripAnsi, when } from "../lib/cron_view";
import { useLive, useNow } from "../lib/use_live";
import type { JobStep, JobView, PolicyCheckResponse, ServiceEvent, WorkflowCommand } from "../lib/wire";

interface Check {
  label: string;
  command: WorkflowCommand;
  answer?: PolicyCheckResponse;
  error?: string;
}

type Input = "pre" | "post" | "args" | "timeout";

function stepLabel(s: JobStep) {
  return s.phase === "restart" ? "restart" : `${s.phase}[${s.index}]`;
}

function Step(props: { step: JobStep; now: number }) {
  const s = props.step;
  const running = s.status === "running";
  const elapsed = running && s.started_at ? duration(props.now - Date.parse(s.started_at)) : duration(s.duration_ms);
  return (
    <li data-testid="job-step" data-status={s.status}>
      <div class="row">
        <strong class="mono">{stepLabel(s)}</strong>
        <span class={`badge ${s.status === "ok" ? "ok" : s.status}`} data-testid="step-status">
          {s.status.replace("_", " ")}
        </span>
        {s.decision && (
          <span class={`badge ${s.decision}`} data-testid="step-decision">
            policy {s.decision}
          </span>
        )}
        <code class="cmd">{s.command_type && s.command_type !== "shell" ? `${s.command_type}: ${s.command}` : s.command}</code>
      </div>
      <div class="muted">
        {[
          s.reason ? `policy: ${s.reason}` : null,
          s.status !== "pending" && s.status !== "skipped" ? elapsed : null,
          exitText(s) !== "—" ? exitText(s) : null,
          s.pid ? `pid ${s.pid}` : null,
          s.message,
        ]
          .filter(Boolean)
          .join(" · ")}
      </div>
      {s.output_tail && (
        <details open={running}>
          <summary>Output (last lines)</summary>
          <pre>{stripAnsi(s.output_tail)}</pre>
        </details>
      )}
    </li>
  );
}

function Job(props: { job: JobView; onCancel: () => void; cancelling: boolean }) {
  const j = props.job;
  const now = useNow();
  const active = j.status === "queued" || j.status === "running";
  return (
    <div class="job" aria-live="polite">
      <div class="row">
        <span>
          Job <span class="mono">{j.id}</span>
        </span>
        <span class={`badge ${j.status}`} data-testid="job-status">
          {j.status}
        </span>
        <span class="muted">
          {j.origin}, {when(j.created_at)}
          {j.request.args.length ? ` · args ${j.request.args.map((a) => JSON.stringify(a)).join(" ")}` : ""}
        </span>
        {active && (
          <button type="button" class="danger" disabled={props.cancelling} onClick={props.onCancel}>
            Cancel job
          </button>
        )}
      </div>
      {j.error && <p class="error">{j.error}</p>}
      <ol class="steps" data-testid="job-steps">
        {j.steps.map((s) => (
          <Step key={`${s.phase}-${s.index}`} step={s} now={now} />
        ))}
      </ol>
    </div>
  );
}

export function CustomRestart(props: { name: string }) {
  const name = props.name;
  const [draft, setDraftState] = useState<RestartDraft>({ pre: "", post: "", args: "", isSafe: true, production: false, timeout: "" });
  // `run` reads the latest draft from here: a submit may come before the render after the last keystroke.
  const draftRef = useRef(draft);
  const [errors, setErrors] = useState<Partial<Record<Input, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [cancelMsg, setCancelMsg] = useState<string | null>(null);
  const [checks, setChecks] = useState<Check[] | null>(null);

  const latest = useLive(
    () => get<{ jobs: JobView[] }>(`/api/jobs${qs({ service: name, limit: 1 })}`).then((p) => p.jobs[0] ?? null),
    ["job"],
    (e) => (e as ServiceEvent).service === name,
    [name],
  );

  const set = (k: keyof RestartDraft, v: string | boolean) => {
    draftRef.current = { ...draftRef.current, [k]: v };
    setDraftState(draftRef.current);
    if (k in errors) setErrors((es) => ({ ...es, [k]: undefined }));
    setChecks(null);
  };

  async function run(ev: Event) {
    ev.preventDefault();
    setFormError(null);
    setCancelMsg(null);
    const built = buildRestart(draftRef.current);
    const local = Object.fromEntries(Object.entries(built.errors).filter(([, v]) => v)) as Partial<Record<Input, string>>;
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      await post<JobView>(`/api/services/${seg(name)}/custom-restart`, built.body);
      latest.reload();
    } catch (e) {
      const target = e instanceof ApiError ? restartErrorTarget(e.field, built.lines) : null;
      if (target && e instanceof ApiError) setErrors({ [target.input]: `${target.prefix}${e.message}` });
      else setFormError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  // The policy's answer for each command before anything runs (`POST /api/policy/evaluate`: a dry run,
  // audited like any decision).
  async function checkPolicy() {
    setFormError(null);
    const built = buildRestart(draftRef.current);
    const list: Check[] = [
      ...built.body.pre_commands.map((c, i) => ({ label: `pre[${i}]`, command: c })),
      ...built.body.post_commands.map((c, i) => ({ label: `post[${i}]`, command: c })),
    ];
    if (!list.length) {
      setChecks([]);
      return;
    }
    setBusy(true);
    const answers = await Promise.all(
      list.map((c) =>
        post<PolicyCheckResponse>("/api/policy/evaluate", { service: name, command: c.command }).then(
          (answer): Check => ({ ...c, answer }),
          (e: unknown): Check => ({ ...c, error: e instanceof Error ? e.message : String(e) }),
        ),
      ),
    );
    setChecks(answers);
    setBusy(false);
  }

  async function cancel() {
    const j = latest.data;
    if (!j) return;
    setBusy(true);
    try {
      const r = await post<JobView>(`/api/jobs/${seg(j.id)}/cancel`);
      setCancelMsg(r.status === "cancelled" ? "Job cancelled." : "Cancelling: the job is stopping…");
    } catch (e) {
      setCancelMsg(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
      latest.reload();
    }
  }

  const area = (k: "pre" | "post", label: string, id: string, placeholder: string) => (
    <div class="field">
      <label for={id}>{label}</label>
      <textarea
        id={id}
        rows={3}
        spellcheck={false}
        placeholder={placeholder}
        value={draft[k]}
        onInput={(e) => set(k, (e.currentTarget as HTMLTextAreaElement).value)}
        aria-invalid={errors[k] ? "true" : undefined}
        aria-describedby={errors[k] ? `${id}-error` : "cr-lines-hint"}
      />
      {errors[k] && (
        <span id={`${id}-error`} class="error">
          {errors[k]}
        </span>
      )}
    </div>
  );

  const job = latest.data;
  const active = job && (job.status === "queued" || job.status === "running");
  // Events come when a step ends; a step starting and its output so far (output_tail) are only in the
  // job itself, so it is also fetched once a second while it runs.
  useEffect(() => {
    if (!active) return;
    const t = setInterval(latest.reload, 1000);
    return () => clearInterval(t);
  }, [job?.id, active]);
  return (
    <section aria-label={`Custom restart of ${name}`} class="custom-restart">
      <form onSubmit={run} noValidate>
        {formError && <p role="alert" class="form-error">{formError}</p>}
        <div class="form-grid">
          {area("pre", "Pre commands", "cr-pre", "make: build\n./migrate.sh")}
          {area("post", "Post commands", "cr-post", "curl -fsS localhost:8000/health")}
        </div>
        <p id="cr-lines-hint" class="muted hint">
          One command per line, run one after the other through <code>/bin/sh -c</code>; start a line with{" "}
          <code>make:</code> or <code>exec:</code> to run make targets or an argv without a shell. Each command is put to the
          command policy first.
        </p>
        <div class="form-grid">
          <div class="field">
            <label for="cr-args">Args</label>
            <input
              id="cr-args"
              type="text"
              spellcheck={false}
              autoComplete="off"
              placeholder="--config production.yaml"
              value={draft.args}
              onInput={(e) => set("args", (e.currentTarget as HTMLInputElement).value)}
              aria-invalid={errors.args ? "true" : undefined}
              aria-describedby={errors.args ? "cr-args-error" : "cr-args-hint"}
            />
            <span id="cr-args-hint" class="hint muted">
              appended to the command for the restarted run only (shell quoting)
            </span>
            {errors.args && (
              <span id="cr-args-error" class="error">
                {errors.args}
              </span>
            )}
          </div>
          <div class="field">
            <label for="cr-timeout">Timeout per command (s)</label>
            <input
              id="cr-timeout"
              type="text"
              inputMode="numeric"
              placeholder="600"
              value={draft.timeout}
              onInput={(e) => set("timeout", (e.currentTarget as HTMLInputElement).value)}
              aria-invalid={errors.timeout ? "true" : undefined}
              aria-describedby={errors.timeout ? "cr-timeout-error" : undefined}
            />
            {errors.timeout && (
              <span id="cr-timeout-error" class="error">
                {errors.timeout}
              </span>
            )}
          </div>
          <div class="field check">
            <label class="row">
              <input type="checkbox" checked={draft.isSafe} onChange={(e) => set("isSafe", (e.currentTarget as HTMLInputElement).checked)} />
              Declared safe
            </label>
            <label class="row">
              <input
                type="checkbox"
                checked={draft.production}
                onChange={(e) => set("production", (e.currentTarget as HTMLInputElement).checked)}
              />
              Allowed in production
            </label>
          </div>
        </div>
        <div class="row actions">
          <button type="submit" class="primary" disabled={busy || !!active}>
            Run custom restart
          </button>
          <button type="button" disabled={busy} onClick={checkPolicy}>
            Check policy
          </button>
          {active && <span class="muted">one custom restart at a time: this service has one {job.status}</span>}
        </div>
        {checks && (
          <ul class="steps" data-testid="policy-check" aria-label="Policy answers">
            {!checks.length && <li class="muted">No commands to check.</li>}
            {checks.map((c) => (
              <li key={c.label}>
                <div class="row">
                  <strong class="mono">{c.label}</strong>
                  {c.answer && <span class={`badge ${c.answer.decision}`}>policy {c.answer.decision}</span>}
                  <code class="cmd">{c.command.command_type !== "shell" ? `${c.command.command_type}: ${c.command.command}` : c.command.command}</code>
                </div>
                {c.answer?.reason && <div class="muted">policy: {c.answer.reason}</div>}
                {c.error && <div class="error">{c.error}</div>}
              </li>
            ))}
          </ul>
        )}
      </form>
      <p role="status" class="status-line">
        {cancelMsg ?? ""}
      </p>
      {latest.error && <p class="error">{latest.error}</p>}
      {job && <Job job={job} onCancel={cancel} cancelling={busy} />}
    </section>
  );
}
