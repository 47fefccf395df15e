// Add / edit a service (/services/new, /services/<name>/edit): every field of the service spec, the
// API's errors next to the fields they name (`depends_on` as rows: components/deps_field), a raw JSON
// view, delete, tend.toml entries read-only.
import { useRoute } from "preact-iso";
import { AreaField, CheckField, CommandField, Group, SelectField, TextField, type FormState } from "../components/form_fields";
import { EntryForm } from "../components/form_page";
import { DepsField } from "../components/deps_field";
import { RESTART, SERVICE_DEFAULTS as D, SERVICE_FIELDS, serviceModel } from "../lib/form_service";

export function serviceFields(form: FormState, editing: boolean) {
  return (
    <>
      {editing && !form.readOnly && <p class="muted">Saving restarts the service with the new definition if it is running.</p>}
      <Group title="Program">
        <TextField
          path="name"
          form={form}
          required
          disabled={editing}
          hint={editing ? "a service cannot be renamed" : "1-63 of a-z 0-9 _ -, starting with a letter or digit"}
        />
        <CommandField form={form} />
        <TextField path="working_dir" form={form} placeholder={D.working_dir} hint="absolute path of an existing directory" />
        <TextField path="port" form={form} inputMode="numeric" hint="the port the service listens on (1-65535)" />
        <AreaField path="env" form={form} placeholder={"KEY=VALUE\nLOG_LEVEL=info"} hint="KEY=VALUE per line; overrides env_file" />
        <TextField path="env_file" form={form} hint="dotenv file read at every start (relative to working_dir)" />
        <CheckField path="enabled" form={form} hint="start on creation and at every daemon boot" />
      </Group>
      <Group title="Restarts">
        <SelectField path="restart" form={form} options={RESTART} hint="on-failure: only after a non-zero exit or a signal" />
        <TextField path="max_restarts" form={form} inputMode="numeric" placeholder={D.max_restarts} hint="consecutive restarts before fatal" />
        <TextField path="backoff.initial_delay_ms" form={form} inputMode="numeric" placeholder={D["backoff.initial_delay_ms"]} />
        <TextField path="backoff.multiplier" form={form} inputMode="decimal" placeholder={D["backoff.multiplier"]} hint="1.0-100.0" />
        <TextField path="backoff.max_delay_ms" form={form} inputMode="numeric" placeholder={D["backoff.max_delay_ms"]} />
        <TextField path="backoff.jitter" form={form} inputMode="decimal" placeholder={D["backoff.jitter"]} hint="fraction, e.g. 0.1 = ±10%" />
        <TextField
          path="backoff.reset_after_s"
          form={form}
          inputMode="numeric"
          placeholder={D["backoff.reset_after_s"]}
          hint="a run this long resets the count"
        />
        <TextField path="stop_signal" form={form} placeholder={D.stop_signal} hint="TERM, SIGINT, …" />
        <TextField path="stop_timeout_s" form={form} inputMode="numeric" placeholder={D.stop_timeout_s} hint="1-3600 s before SIGKILL" />
        <TextField path="max_memory_mb" form={form} inputMode="numeric" hint="restart when the tree's RSS stays above this (MiB)" />
        <AreaField path="watch_dirs" form={form} rows={2} hint="one directory per line whose disk usage is tracked (default: working_dir)" />
      </Group>
      <Group title="Dependencies">
        <DepsField form={form} />
        <TextField
          path="depends_timeout_s"
          form={form}
          inputMode="numeric"
          placeholder={D.depends_timeout_s}
          hint="seconds a start waits for the conditions before it fails"
        />
      </Group>
      <Group title="Health check">
        <TextField path="health.probe" form={form} hint="http, tcp or a probe plugin; empty: no health check" />
        <AreaField
          path="health.config"
          form={form}
          rows={3}
          placeholder={'{"path": "/health", "expect_status": [200, 299]}'}
          hint="the probe's settings, a JSON object"
        />
        <TextField path="health.interval_s" form={form} inputMode="numeric" placeholder={D["health.interval_s"]} />
        <TextField path="health.timeout_s" form={form} inputMode="numeric" placeholder={D["health.timeout_s"]} />
        <TextField path="health.retries" form={form} inputMode="numeric" placeholder={D["health.retries"]} hint="failures that make it unhealthy" />
        <TextField path="health.start_period_s" form={form} inputMode="numeric" placeholder={D["health.start_period_s"]} />
        <TextField path="health_check_url" form={form} hint="shorthand for an http probe of this URL" />
        {!form.readOnly && (
          <div class="field wide">
            <button
              type="button"
              onClick={() => {
                for (const f of SERVICE_FIELDS) if (f.path.startsWith("health.")) form.set(f.path, "");
              }}
            >
              Clear health check
            </button>
          </div>
        )}
      </Group>
      <Group title="Caddy">
        <CheckField path="expose_caddy" form={form} hint="route to 127.0.0.1:<port> through Caddy (needs port)" />
        <TextField path="caddy_subdomain" form={form} hint="host <subdomain>.<base_domain>; default: the name" />
        <TextField path="caddy_path" form={form} hint="legacy path routing: /segment[/segment…]" />
        <AreaField path="caddy_headers" form={form} rows={2} placeholder="X-Env=prod" hint="Header=value per line, set on requests to the service" />
      </Group>
    </>
  );
}

export function ServiceForm() {
  const { params } = useRoute();
  return (
    <EntryForm
      key={params.name ?? "new"}
      noun="service"
      addTitle="Add service"
      model={serviceModel}
      api="/api/services"
      viewHref={(n) => `/services/${encodeURIComponent(n)}`}
      listHref="/"
      name={params.name}
      fields={serviceFields}
    />
  );
}
