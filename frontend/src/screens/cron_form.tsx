// Add / edit a cron job (/cron/new, /cron/<name>/edit): every field of the cron spec, a live preview of
// the schedule (its description and next fire times, from `GET /api/cron/validate`), the API's errors
// next to their fields, a raw JSON view, delete, tend.toml jobs read-only.
import { useEffect, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { ApiError, get, qs } from "../api";
import { AreaField, CheckField, CommandField, Group, SelectField, TextField, type FormState } from "../components/form_fields";
import { EntryForm } from "../components/form_page";
import { CATCH_UP, CRON_DEFAULTS as D, OVERLAP, cronModel } from "../lib/form_cron";
import { when } from "../lib/cron_view";
import type { ValidateResponse } from "../lib/wire";

/** What the schedule means, checked by the daemon as it is typed (debounced). */
function SchedulePreview(props: { schedule: string; timezone: string }) {
  const [answer, setAnswer] = useState<ValidateResponse | { error: string } | null>(null);
  useEffect(() => {
    const schedule = props.schedule.trim();
    if (!schedule) return setAnswer(null);
    let live = true;
    const t = setTimeout(() => {
      get<ValidateResponse>(`/api/cron/validate${qs({ schedule, timezone: props.timezone.trim() || undefined, count: 3 })}`).then(
        (v) => live && setAnswer(v),
        (e: unknown) => live && setAnswer({ error: e instanceof ApiError ? `${e.field ?? ""}${e.field ? ": " : ""}${e.message}` : String(e) }),
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [props.schedule, props.timezone]);
  if (!answer) return null;
  return (
    <div class="field wide" aria-live="polite" data-testid="schedule-preview">
      {"error" in answer ? (
        <span class="muted">Not a valid schedule yet: {answer.error}</span>
      ) : (
        <span>
          <strong>{answer.description}</strong> <span class="muted">({answer.timezone}); next: {answer.next.map((t) => when(t, answer.timezone)).join(", ")}</span>
        </span>
      )}
    </div>
  );
}

function fields(form: FormState, editing: boolean) {
  return (
    <>
      <Group title="Job">
        <TextField
          path="name"
          form={form}
          required
          disabled={editing}
          hint={editing ? "a cron job cannot be renamed" : "1-63 of a-z 0-9 _ -, starting with a letter or digit"}
        />
        <TextField
          path="schedule"
          form={form}
          required
          placeholder="0 2 * * *"
          hint="5 fields (min hour dom month dow), 6 with seconds first, 7 with a year, or @hourly, @daily, …"
        />
        <TextField path="timezone" form={form} placeholder={D.timezone} hint="IANA name, e.g. Europe/London or UTC" />
        <SchedulePreview schedule={String(form.draft.schedule ?? "")} timezone={String(form.draft.timezone ?? "")} />
        <CommandField form={form} />
        <TextField path="working_dir" form={form} placeholder={D.working_dir} hint="absolute path" />
        <AreaField path="env_vars" form={form} placeholder="KEY=VALUE" hint="KEY=VALUE per line; overrides env_file" />
        <TextField path="env_file" form={form} hint="dotenv file read at each execution (relative to working_dir)" />
        <CheckField path="enabled" form={form} hint="disabled jobs keep their history and can still be run by hand" />
      </Group>
      <Group title="Execution">
        <TextField path="timeout" form={form} inputMode="numeric" placeholder={D.timeout} hint="seconds; then the whole tree is stopped" />
        <SelectField path="overlap" form={form} options={OVERLAP} hint="a fire while an execution runs" />
        <SelectField path="catch_up" form={form} options={CATCH_UP} hint="latest: run the latest fire missed while down, once" />
        <TextField path="jitter_s" form={form} inputMode="numeric" placeholder={D.jitter_s} hint="delay each fire by 0..jitter_s s" />
        <TextField path="retries" form={form} inputMode="numeric" placeholder={D.retries} hint="run a failed or timed-out execution again" />
        <TextField path="retry_delay_s" form={form} inputMode="numeric" placeholder={D.retry_delay_s} />
      </Group>
    </>
  );
}

export function CronForm() {
  const { params } = useRoute();
  return (
    <EntryForm
      key={params.name ?? "new"}
      noun="cron job"
      addTitle="Add cron job"
      model={cronModel}
      api="/api/cron"
      viewHref={(n) => `/cron/${encodeURIComponent(n)}`}
      listHref="/cron"
      name={params.name}
      fields={fields}
    />
  );
}
