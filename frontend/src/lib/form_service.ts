// The service add/edit form's model: every field of the service spec a user sets (README
// "Configuration" > "Services", "Health checks", "Caddy reverse proxy", "Dependencies"), by its API
// path. `depends_on` is edited as rows (lib/form_deps.ts, components/deps_field.tsx).
import type { Draft, FieldDef, FormModel } from "./form";

export const RESTART = ["always", "on-failure", "never"] as const;

export const SERVICE_FIELDS: readonly FieldDef[] = [
  { path: "name", kind: "text" },
  { path: "command", kind: "command" },
  { path: "working_dir", kind: "text" },
  { path: "env", kind: "map" },
  { path: "env_file", kind: "text" },
  { path: "port", kind: "int" },
  { path: "enabled", kind: "bool" },
  { path: "restart", kind: "select", options: RESTART },
  { path: "max_restarts", kind: "int" },
  { path: "backoff.initial_delay_ms", kind: "int" },
  { path: "backoff.multiplier", kind: "float" },
  { path: "backoff.max_delay_ms", kind: "int" },
  { path: "backoff.jitter", kind: "float" },
  { path: "backoff.reset_after_s", kind: "int" },
  { path: "stop_signal", kind: "text" },
  { path: "stop_timeout_s", kind: "int" },
  { path: "max_memory_mb", kind: "int" },
  { path: "watch_dirs", kind: "lines" },
  { path: "expose_caddy", kind: "bool" },
  { path: "caddy_subdomain", kind: "text" },
  { path: "caddy_path", kind: "text" },
  { path: "caddy_headers", kind: "map" },
  { path: "health.probe", kind: "text" },
  { path: "health.config", kind: "json" },
  { path: "health.interval_s", kind: "int" },
  { path: "health.timeout_s", kind: "int" },
  { path: "health.retries", kind: "int" },
  { path: "health.start_period_s", kind: "int" },
  { path: "health_check_url", kind: "text" },
  { path: "depends_on", kind: "deps" },
  { path: "depends_timeout_s", kind: "int" },
];

export const serviceModel: FormModel = {
  fields: SERVICE_FIELDS,
  optionalGroups: ["health"],
  empty(): Draft {
    const d: Draft = { command_mode: "shell", enabled: true, expose_caddy: false, restart: "always" };
    for (const f of SERVICE_FIELDS) if (!(f.path in d)) d[f.path] = "";
    return d;
  },
};

/** The server's defaults, shown as placeholders (README "Services", "Health checks"). */
export const SERVICE_DEFAULTS: Record<string, string> = {
  working_dir: "the daemon's",
  max_restarts: "10",
  "backoff.initial_delay_ms": "1000",
  "backoff.multiplier": "2.0",
  "backoff.max_delay_ms": "60000",
  "backoff.jitter": "0.1",
  "backoff.reset_after_s": "60",
  stop_signal: "SIGTERM",
  stop_timeout_s: "10",
  "health.interval_s": "10",
  "health.timeout_s": "5",
  "health.retries": "3",
  "health.start_period_s": "0",
  depends_timeout_s: "60",
};
