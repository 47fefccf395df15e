// The previewed plan of the onboarding screen, editable before it is applied: per service its name,
// command (one line, split shell-like), port, env rows and health path, with its working dir, data
// dir, confidence and evidence (collapsible) shown; cron jobs and setup steps (command, reason,
// whether the plugin calls it safe) each removable (a changed port carries over to the env values
// and command words that held the old one); the plan's notes, confidence and author. All of
// it comes from the project and the plugin (or a model), so all of it is rendered as text. Each input
// shows the error of its API field path (`plan.services[1].port`) next to it.
import type { ComponentChildren } from "preact";
import { commandText, pct, serviceField, setPort, type FieldErrors, type PlanDraft, type ServiceDraft } from "../lib/onboard";
import { visible } from "../lib/text";
import type { Evidence } from "../gen/api";

export const fieldId = (path: string) => `f-${path.replace(/[^A-Za-z0-9_-]/g, "_")}`;

export function Field(p: { path: string; label: string; error?: string | undefined; wide?: boolean; children: (a: Record<string, string | undefined>) => ComponentChildren }) {
  const id = fieldId(p.path);
  const err = p.error ? `${id}-error` : undefined;
  return (
    <div class={`field${p.wide ? " wide" : ""}`}>
      <label for={id}>{p.label}</label>
      {p.children({ id, "aria-invalid": err ? "true" : undefined, "aria-describedby": err })}
      {p.error ? (
        <span id={err} class="error" data-testid={`error-${p.path}`}>
          {p.error}
        </span>
      ) : null}
    </div>
  );
}

function EvidenceList({ items }: { items: Evidence[] }) {
  if (!items.length) return null;
  return (
    <details class="evidence">
      <summary>Evidence ({items.length})</summary>
      <ul>
        {items.map((e, i) => (
          <li key={i}>
            <code>{visible(e.path)}</code>: {visible(e.reason)}
          </li>
        ))}
      </ul>
    </details>
  );
}

type Edit = (fn: (d: PlanDraft) => void) => void;

function ServiceEditor(p: { s: ServiceDraft; i: number; errors: FieldErrors; edit: Edit; dataDir: string; busy: boolean }) {
  const { s, i, errors, edit } = p;
  const f = (field: string) => serviceField(i, field);
  const set = (fn: (s: ServiceDraft) => void) => edit((d) => fn(d.services[i]!));
  const text = (field: "name" | "command" | "port" | "health_path", label: string, wide = false, hint?: string) => (
    <Field path={f(field)} label={label} error={errors[f(field)]} wide={wide}>
      {(a) => (
        <input
          {...a}
          type="text"
          value={s[field]}
          disabled={p.busy}
          autoComplete="off"
          spellcheck={false}
          inputMode={field === "port" ? "numeric" : undefined}
          placeholder={hint}
          class={field === "command" ? "mono" : undefined}
          onInput={(e) => {
            const v = (e.currentTarget as HTMLInputElement).value;
            set((d) => (field === "port" ? setPort(d, v) : (d[field] = v)));
          }}
        />
      )}
    </Field>
  );
  return (
    <fieldset class="form-group planned" data-testid={`planned-service-${i}`}>
      <legend>
        Service {i + 1}: {visible(s.orig.name)}
      </legend>
      <div class="form-grid">
        {text("name", "Name")}
        {text("port", "Port", false, "none")}
        {text("health_path", "Health path", false, "none: the port is checked")}
        {text("command", s.shell ? "Command (run by /bin/sh -c)" : "Command (split like a shell, nothing expanded)", true)}
        <div class="field wide">
          <span class="label">Environment</span>
          <table class="env-rows" aria-label={`Environment of service ${i + 1}`}>
            <tbody>
              {s.env.map((row, r) => (
                <tr key={r}>
                  <td>
                    <input
                      type="text"
                      class="mono"
                      aria-label={`variable ${r + 1} name`}
                      value={row.name}
                      disabled={p.busy}
                      spellcheck={false}
                      onInput={(e) => {
                        const v = (e.currentTarget as HTMLInputElement).value;
                        set((d) => (d.env[r]!.name = v));
                      }}
                    />
                  </td>
                  <td>
                    <input
                      type="text"
                      class="mono"
                      aria-label={`variable ${r + 1} value`}
                      value={row.value}
                      disabled={p.busy}
                      spellcheck={false}
                      onInput={(e) => {
                        const v = (e.currentTarget as HTMLInputElement).value;
                        set((d) => (d.env[r]!.value = v));
                      }}
                    />
                  </td>
                  <td>
                    <button type="button" disabled={p.busy} aria-label={`Remove variable ${r + 1}`} onClick={() => set((d) => void d.env.splice(r, 1))}>
                      ✕
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="row">
            <button type="button" disabled={p.busy} onClick={() => set((d) => void d.env.push({ name: "", value: "" }))}>
              Add variable
            </button>
          </div>
          {errors[f("env")] ? (
            <span class="error" data-testid={`error-${f("env")}`}>
              {errors[f("env")]}
            </span>
          ) : null}
        </div>
      </div>
      <dl class="kv">
        <dt>Working dir</dt>
        <dd class="mono">{visible(s.orig.working_dir)}</dd>
        {s.orig.env_file ? (
          <>
            <dt>Env file</dt>
            <dd class="mono">{visible(s.orig.env_file)} (names only; its values stay in the file)</dd>
          </>
        ) : null}
        {s.orig.data_dir ? (
          <>
            <dt>Data dir</dt>
            <dd class="mono">DATA_DIR={visible(p.dataDir)}</dd>
          </>
        ) : null}
        <dt>Confidence</dt>
        <dd>{pct(s.orig.confidence)}</dd>
      </dl>
      <EvidenceList items={s.orig.evidence} />
      <div class="row">
        <button type="button" class="danger" disabled={p.busy} onClick={() => edit((d) => void d.services.splice(i, 1))}>
          Remove service {visible(s.name || s.orig.name)}
        </button>
      </div>
    </fieldset>
  );
}

export function PlanEditor(p: { draft: PlanDraft; errors: FieldErrors; edit: Edit; busy: boolean }) {
  const { draft, edit } = p;
  const plan = draft.plan;
  return (
    <section aria-labelledby="h-plan" data-testid="plan">
      <h2 id="h-plan">Plan for {visible(plan.project)}</h2>
      <dl class="kv">
        <dt>Root</dt>
        <dd class="mono">{visible(plan.root)}</dd>
        <dt>Data dir</dt>
        <dd class="mono">{visible(plan.data_dir)}</dd>
        <dt>Confidence</dt>
        <dd data-testid="plan-confidence">{pct(plan.confidence)}</dd>
        <dt>Made by</dt>
        <dd data-testid="plan-author">
          {plan.author === "model" ? "a model" : "rules"}: {visible(plan.source || "—")}
          {plan.plugin ? ` (plugin ${visible(plan.plugin)})` : ""}
          {plan.usage ? `, ${plan.usage.input_tokens + plan.usage.output_tokens} tokens` : ""}
        </dd>
      </dl>
      {plan.notes.length ? (
        <ul class="notes" data-testid="plan-notes">
          {plan.notes.map((n, i) => (
            <li key={i}>{visible(n)}</li>
          ))}
        </ul>
      ) : null}
      <EvidenceList items={plan.evidence} />
      <h3>Services ({draft.services.length})</h3>
      {draft.services.length ? (
        draft.services.map((s, i) => <ServiceEditor key={`${s.orig.name}-${i}`} s={s} i={i} errors={p.errors} edit={edit} dataDir={plan.data_dir} busy={p.busy} />)
      ) : (
        <p class="muted">No services.</p>
      )}
      <h3>Cron jobs ({draft.cron_jobs.length})</h3>
      {draft.cron_jobs.length ? (
        <ul class="steps" data-testid="planned-cron">
          {draft.cron_jobs.map((c, i) => (
            <li key={`${c.name}-${i}`}>
              <div class="row spread">
                <span>
                  <strong>{visible(c.name)}</strong> <code class="schedule">{visible(c.schedule)}</code>
                </span>
                <button type="button" disabled={p.busy} onClick={() => edit((d) => void d.cron_jobs.splice(i, 1))}>
                  Remove cron job {visible(c.name)}
                </button>
              </div>
              <code class="cmd">{visible(commandText(c.command))}</code> <span class="muted">in {visible(c.working_dir)}</span>
              <EvidenceList items={c.evidence} />
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No cron jobs.</p>
      )}
      <h3>Setup steps ({draft.setup.length})</h3>
      {draft.setup.length ? (
        <ol class="steps" data-testid="planned-setup">
          {draft.setup.map((s, i) => (
            <li key={`${s.command.command}-${i}`}>
              <div class="row spread">
                <code class="cmd">{visible(s.command.command)}</code>
                <button type="button" disabled={p.busy} onClick={() => edit((d) => void d.setup.splice(i, 1))}>
                  Remove setup step {i + 1}
                </button>
              </div>
              <span class={`badge ${s.command.is_safe ? "ok" : "warn"}`}>{s.command.is_safe ? "safe" : "not marked safe"}</span>{" "}
              {visible(s.command.reason)} <span class="muted">in {visible(s.working_dir)}; the command policy decides when applied</span>
            </li>
          ))}
        </ol>
      ) : (
        <p class="muted">No setup steps.</p>
      )}
    </section>
  );
}
