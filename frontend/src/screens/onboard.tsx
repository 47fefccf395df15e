// Onboarding (/onboard): name a project (a bare name under `[onboard] projects_root`, or an absolute
// path), optionally a model and the project's name; "Preview" shows the plan `GET
// /api/onboard/preview` makes (nothing registered), editable (components/plan_editor); "Apply" posts
// it (`POST /api/onboard`, 202 with the job) and follows the job (`GET /api/onboard/jobs/{id}`, read
// again on each `agent` event of the onboarder and every half second until it ends) step by step,
// ending with links to what was registered, or the failure and what stayed registered. API errors
// are shown next to the input whose field they name. The job followed is in the address
// (`/onboard?job=ID`), so a reload or a link from the recent jobs list shows it again.
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, get, post, seg } from "../api";
import { subscribe } from "../live";
import { Field, fieldId, PlanEditor } from "../components/plan_editor";
import { ModelSelect, useModels } from "../components/model_select";
import { buildRequest, draftPlan, errorSlot, jobDone, knownFields, previewQuery, registeredServices, type FieldErrors, type PlanDraft } from "../lib/onboard";
import { fmtTime } from "../lib/format";
import { useLive } from "../lib/use_live";
import { visible } from "../lib/text";
import type { OnboardJob, OnboardJobsPage, OnboardStep, Plan } from "../gen/api";

const POLL_MS = 500;

const STEP_TEXT: Record<OnboardStep["kind"], string> = {
  analyze: "analyse",
  data_dir: "data dir",
  setup: "setup",
  register: "register",
  start: "start",
  confirm: "confirm",
};

const stepTone = (s: OnboardStep["status"]) => (s === "ok" ? "ok" : s === "failed" ? "bad" : s === "running" ? "warn" : "idle");
const jobTone = (s: OnboardJob["status"]) => (s === "succeeded" ? "succeeded" : s === "failed" ? "failed" : s === "running" ? "starting" : "queued");

/** Follows job `id` until it ends: polled, and read again at once on an onboarder event. */
function useJob(id: string | null, first: OnboardJob | null): { job: OnboardJob | null; error: string | null } {
  const [job, setJob] = useState<OnboardJob | null>(first);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setJob(first);
    if (!id) return;
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let inFlight = false;
    const load = () => {
      if (inFlight) return;
      inFlight = true;
      clearTimeout(timer);
      get<OnboardJob>(`/api/onboard/jobs/${seg(id)}`)
        .then(
          (j) => {
            if (!alive) return;
            setJob(j);
            setError(null);
            if (!jobDone(j)) timer = setTimeout(load, POLL_MS);
          },
          (e: unknown) => {
            if (!alive) return;
            setError(e instanceof Error ? e.message : String(e));
            timer = setTimeout(load, POLL_MS * 4);
          },
        )
        .finally(() => (inFlight = false));
    };
    const off = subscribe("agent", (evs) => {
      if (evs.some((e) => e.agent === "onboard")) load();
    });
    load();
    return () => {
      alive = false;
      clearTimeout(timer);
      off();
    };
  }, [id]);
  return { job, error };
}

function JobView({ job, error }: { job: OnboardJob; error: string | null }) {
  const services = registeredServices(job);
  const others = job.registered.filter((n) => !services.includes(n));
  return (
    <section aria-labelledby="h-job" data-testid="onboard-job">
      <h2 id="h-job" class="row">
        Applying {visible(job.project)}{" "}
        <span class={`badge ${jobTone(job.status)}`} data-testid="job-status">
          {job.status}
        </span>
      </h2>
      {job.message ? (
        <p data-testid="job-message" role={job.status === "failed" ? "alert" : undefined} class={job.status === "failed" ? "error-box" : undefined}>
          {visible(job.message)}
        </p>
      ) : null}
      {error ? <p class="muted">Reading the job failed ({error}); trying again.</p> : null}
      <ol class="steps" data-testid="job-steps" aria-live="polite">
        {job.steps.map((s, i) => (
          <li key={i} data-testid="job-step">
            <span class={`badge ${stepTone(s.status)}`}>{s.status}</span> <strong>{STEP_TEXT[s.kind] ?? s.kind}</strong> <span class="mono">{visible(s.target)}</span>
            {s.message.includes("\n") ? <pre class="output">{visible(s.message)}</pre> : s.message ? <span class="step-message">: {visible(s.message)}</span> : null}
          </li>
        ))}
      </ol>
      {job.registered.length ? (
        <div data-testid="job-registered">
          <p>{job.status === "failed" ? "Still registered (nothing was removed; fix or delete these):" : jobDone(job) ? "Registered:" : "Registered so far:"}</p>
          <ul>
            {services.map((n) => (
              <li key={n}>
                <a href={`/services/${seg(n)}`}>service {visible(n)}</a>
              </li>
            ))}
            {others.map((n) => (
              <li key={n}>
                <a href={`/cron/${seg(n)}`}>cron job {visible(n)}</a>
              </li>
            ))}
          </ul>
        </div>
      ) : job.status === "failed" ? (
        <p data-testid="job-registered">Nothing was registered.</p>
      ) : null}
    </section>
  );
}

export function Onboard() {
  const llm = useModels();
  const [fields, setFields] = useState({ project: "", model: "", name: "" });
  const [draft, setDraft] = useState<PlanDraft | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState<"preview" | "apply" | null>(null);
  const { query, route } = useLocation();
  const [started, setStarted] = useState<OnboardJob | null>(null);
  const jobId = query.job ?? null;
  const { job, error: jobError } = useJob(jobId, started?.id === jobId ? started : null);
  const recent = useLive(() => get<OnboardJobsPage>("/api/onboard/jobs?limit=10"), ["agent"], (e) => (e as { agent?: string }).agent === "onboard");
  const top = useRef<HTMLDivElement>(null);

  const edit = (fn: (d: PlanDraft) => void) =>
    setDraft((d) => {
      if (!d) return d;
      const next: PlanDraft = structuredClone(d);
      fn(next);
      return next;
    });

  const fail = (e: unknown, what: string) => {
    if (e instanceof ApiError) {
      const slot = errorSlot(e.field, knownFields(draft));
      if (slot) {
        setErrors({ [slot]: e.message });
        setFormError(null);
        document.getElementById(slot === "model" ? "field-model" : fieldId(slot))?.focus();
        return;
      }
      setFormError(`${what}: ${e.message}${e.field ? ` (${e.field})` : ""}`);
    } else setFormError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    setErrors({});
  };

  const preview = async (ev: Event) => {
    ev.preventDefault();
    if (!fields.project.trim()) {
      setErrors({ project: "name a project or give its absolute path" });
      return;
    }
    setBusy("preview");
    setErrors({});
    setFormError(null);
    if (jobId) route("/onboard");
    try {
      const plan = await get<Plan>(`/api/onboard/preview${previewQuery(fields)}`);
      setDraft(draftPlan(plan));
    } catch (e) {
      setDraft(null);
      fail(e, "preview");
    } finally {
      setBusy(null);
    }
  };

  const apply = async () => {
    if (!draft) return;
    const { request, errors: local } = buildRequest(fields, draft);
    setErrors(local);
    setFormError(local.plan ?? null);
    if (Object.keys(local).length) return;
    setBusy("apply");
    try {
      const j = await post<OnboardJob>("/api/onboard", request);
      setStarted(j);
      route(`/onboard?job=${encodeURIComponent(j.id)}`);
      recent.reload();
      top.current?.scrollIntoView?.();
    } catch (e) {
      fail(e, "apply");
    } finally {
      setBusy(null);
    }
  };

  // The list shows the followed job's end even when the event stream is not there to say so.
  useEffect(() => {
    if (job && jobDone(job)) recent.reload();
  }, [job?.id, job?.status]);

  const running = !!job && !jobDone(job);
  const setField = (k: "project" | "name") => (e: Event) => {
    const v = (e.currentTarget as HTMLInputElement).value;
    setFields((f) => ({ ...f, [k]: v }));
  };
  return (
    <main class="page onboard">
      <div class="row page-head" ref={top}>
        <h1>Onboard a project</h1>
      </div>
      <p class="muted">
        tend looks at the project's files and proposes services, cron jobs and setup steps. Nothing is registered until you apply the plan.
      </p>
      <form class="form-grid" onSubmit={preview}>
        <Field path="project" label="Project (a name under the projects root, or an absolute path)" error={errors.project} wide>
          {(a) => <input {...a} type="text" value={fields.project} autoComplete="off" spellcheck={false} placeholder="myproject or /home/me/src/myproject" onInput={setField("project")} />}
        </Field>
        <Field path="name" label="Name (optional)" error={errors.name}>
          {(a) => <input {...a} type="text" value={fields.name} autoComplete="off" spellcheck={false} placeholder="the directory's name" onInput={setField("name")} />}
        </Field>
        <ModelSelect llm={llm} value={fields.model} none="no model (rules only)" error={errors.model} onChange={(model) => setFields((f) => ({ ...f, model }))} />
        <div class="field actions-row">
          <button type="submit" disabled={busy !== null || running}>
            {busy === "preview" ? "Previewing…" : "Preview"}
          </button>
        </div>
      </form>
      {formError ? (
        <p role="alert" class="error-box" data-testid="form-error">
          {formError}
        </p>
      ) : null}
      {job ? <JobView job={job} error={jobError} /> : jobId && jobError ? <p role="alert" class="error-box">{jobError}</p> : null}
      {draft && !jobId ? (
        <>
          <PlanEditor draft={draft} errors={errors} edit={edit} busy={busy !== null} />
          <div class="row actions">
            <button type="button" class="primary" disabled={busy !== null} onClick={apply}>
              {busy === "apply" ? "Applying…" : "Apply"}
            </button>
            <span class="muted">Registers and starts the services above, then checks each answers on its port.</span>
          </div>
        </>
      ) : null}
      <RecentJobs jobs={recent.data?.jobs ?? []} current={jobId} />
    </main>
  );
}

function RecentJobs({ jobs, current }: { jobs: OnboardJob[]; current: string | null }) {
  if (!jobs.length) return null;
  return (
    <section aria-labelledby="h-recent">
      <h2 id="h-recent">Recent onboardings</h2>
      <div class="table-wrap">
        <table aria-label="Recent onboardings">
          <thead>
            <tr>
              <th scope="col">Project</th>
              <th scope="col">Status</th>
              <th scope="col" class="hide-narrow">Started</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((j) => (
              <tr key={j.id} data-testid="recent-job" class={j.id === current ? "selected" : undefined}>
                <td>
                  <a href={`/onboard?job=${encodeURIComponent(j.id)}`}>{visible(j.project)}</a>
                </td>
                <td>
                  <span class={`badge ${jobTone(j.status)}`}>{j.status}</span>
                </td>
                <td class="hide-narrow num">
                  <time dateTime={j.created_at}>{fmtTime(j.created_at)}</time>
                </td>
                <td class="message">{visible(j.message)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
