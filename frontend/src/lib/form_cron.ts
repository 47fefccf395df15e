// The cron job add/edit form's model: every field of the cron spec (README "Cron jobs"), by its API path.
import type { Draft, FieldDef, FormModel } from "./form";

export const OVERLAP = ["skip", "queue", "allow", "replace"] as const;
export const CATCH_UP = ["none", "latest"] as const;

export const CRON_FIELDS: readonly FieldDef[] = [
  { path: "name", kind: "text" },
  { path: "schedule", kind: "text" },
  { path: "timezone", kind: "text" },
  { path: "command", kind: "command" },
  { path: "working_dir", kind: "text" },
  { path: "enabled", kind: "bool" },
  { path: "timeout", kind: "int" },
  { path: "env_vars", kind: "map" },
  { path: "env_file", kind: "text" },
  { path: "overlap", kind: "select", options: OVERLAP },
  { path: "catch_up", kind: "select", options: CATCH_UP },
  { path: "jitter_s", kind: "int" },
  { path: "retries", kind: "int" },
  { path: "retry_delay_s", kind: "int" },
];

export const cronModel: FormModel = {
  fields: CRON_FIELDS,
  empty(): Draft {
    const d: Draft = { command_mode: "shell", enabled: true, overlap: "skip", catch_up: "none" };
    for (const f of CRON_FIELDS) if (!(f.path in d)) d[f.path] = "";
    return d;
  },
};

export const CRON_DEFAULTS: Record<string, string> = {
  timezone: "the daemon's zone",
  working_dir: "the daemon's",
  timeout: "300",
  jitter_s: "0",
  retries: "0",
  retry_delay_s: "10",
};

/** Fields a cron view adds to its spec; left out of a PUT built from a view (enable/disable). */
export const CRON_VIEW_ONLY = [
  "source",
  "effective_timezone",
  "next_run_at",
  "running",
  "queued",
  "last_run",
  "schedule_description",
] as const;

/** The spec part of a view: what `PUT /api/cron/{name}` takes back. */
export function cronSpecOf(view: Record<string, unknown>): Record<string, unknown> {
  const spec = { ...view };
  for (const k of CRON_VIEW_ONLY) delete spec[k];
  return spec;
}
