// Proxy (/proxy): the Caddy integration's status, the routes of exposed services, the generated
// Caddyfile, whether Caddy runs what would be generated now, and reload. Refetched on `caddy`, `health` and
// `lifecycle` events (routes follow services; their health shows in the route table).
import { useState } from "preact/hooks";
import { ApiError, get, post } from "../api";
import { when } from "../lib/cron_view";
import { useLive } from "../lib/use_live";
import type { JsonValue } from "../gen/api";
import type { CaddyConfigView, CaddyReloadReport, CaddyService } from "../lib/wire";

function host(s: CaddyService, settings: JsonValue): string {
  const get = (k: string) => (settings && typeof settings === "object" && !Array.isArray(settings) ? settings[k] : undefined);
  if (s.subdomain) return `${s.subdomain}.${String(get("base_domain") ?? "localhost")}`;
  if (s.path) return `${String(get("domain") ?? "*")}${s.path}`;
  return "—";
}

export function Proxy() {
  const view = useLive(() => get<CaddyConfigView>("/api/caddy/config"), ["caddy", "health", "lifecycle"]);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ text: string; bad: boolean } | null>(null);

  async function reload() {
    setBusy(true);
    setResult(null);
    try {
      const r = await post<CaddyReloadReport>("/api/caddy/reload");
      setResult({ text: `Reloaded: ${r.action} (${r.status.state})`, bad: false });
    } catch (e) {
      setResult({ text: `Reload failed: ${e instanceof ApiError ? e.message : String(e)}`, bad: true });
    } finally {
      setBusy(false);
      view.reload();
    }
  }

  const v = view.data;
  const st = v?.status;
  const badge = st ? (st.state === "applied" ? "ok" : st.state === "failing" ? "bad" : "idle") : "idle";
  return (
    <main class="page">
      <div class="row spread">
        <h1>Proxy</h1>
        <button type="button" disabled={busy} onClick={reload}>
          Reload Caddy
        </button>
      </div>
      <p role="status" class={`status-line${result?.bad ? " error" : ""}`}>
        {result?.text ?? ""}
      </p>
      {view.error && (
        <p role="alert" class="error-box">
          {view.error}
        </p>
      )}
      {v && st && (
        <>
          <h2>Caddy</h2>
          <dl class="kv" data-testid="caddy-status">
            <dt>State</dt>
            <dd>
              <span class={`badge ${badge}`}>{st.state}</span>{" "}
              <span class="muted">
                {st.state === "idle" && "no service is exposed; Caddy is not contacted"}
                {st.state === "disabled" && "[caddy] enabled = false"}
                {v.in_sync ? " · Caddy runs the current configuration" : st.state === "applied" || st.state === "failing" ? " · out of sync with what would be generated now" : ""}
              </span>
            </dd>
            <dt>Admin API</dt>
            <dd class="mono">{st.admin_url}</dd>
            <dt>Generator</dt>
            <dd class="mono">{v.plugin}</dd>
            <dt>Exposed services</dt>
            <dd>{st.exposed}</dd>
            <dt>Last applied</dt>
            <dd>{when(st.last_applied_at)}</dd>
            {st.last_error && (
              <>
                <dt>Last error</dt>
                <dd class="error">
                  {st.last_error} ({when(st.last_error_at)}; {st.failures} failure(s) in a row
                  {st.next_retry_at ? `, next retry ${when(st.next_retry_at)}` : ""})
                </dd>
              </>
            )}
            <dt>Caddyfile written to</dt>
            <dd class="mono">{st.supervisor_file}</dd>
          </dl>
          <h2>Routes</h2>
          <div class="table-wrap">
            <table aria-label="Routes">
              <thead>
                <tr>
                  <th>Service</th>
                  <th>Host / path</th>
                  <th>Upstream</th>
                  <th>Health</th>
                  <th class="hide-narrow">Headers</th>
                </tr>
              </thead>
              <tbody>
                {v.services.map((s) => (
                  <tr key={s.name}>
                    <td>
                      <a href={`/services/${encodeURIComponent(s.name)}`}>{s.name}</a>
                    </td>
                    <td class="mono">{host(s, v.settings)}</td>
                    <td class="mono">{s.upstream}</td>
                    <td>
                      <span class={`badge ${s.health === "healthy" ? "ok" : s.health === "unhealthy" ? "bad" : "idle"}`}>{s.health}</span>
                    </td>
                    <td class="hide-narrow mono">{(s.headers ?? []).map(([k, val]) => `${k}: ${val}`).join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {!v.services.length && (
            <p class="muted">
              No service is exposed. Set <code>expose_caddy</code> and <code>port</code> on a service to route to it.
            </p>
          )}
          <h2>Caddyfile</h2>
          {v.error && <p class="error-box">Generating failed: {v.error}</p>}
          <pre data-testid="caddyfile" class="output">
            {v.caddyfile ?? "(nothing generated)"}
          </pre>
        </>
      )}
    </main>
  );
}
