// Plugins (/plugins): every plugin with its world, version, source, grants, calls, latency p50/p99,
// errors and state; reload (rescan <data-dir>/plugins) with its report. Refetched on `plugin` events.
import { useState } from "preact/hooks";
import { ApiError, get, post } from "../api";
import { percentileText } from "../lib/plugin_stats";
import { when } from "../lib/cron_view";
import { useLive } from "../lib/use_live";
import type { PluginInfo, ReloadReport } from "../lib/wire";

function grants(p: PluginInfo): string {
  const g = p.grants;
  const parts = [
    g.hosts.length ? `hosts ${g.hosts.join(", ")}` : "",
    g.paths.length ? `paths ${g.paths.join(", ")}` : "",
    g.env.length ? `env ${g.env.join(", ")}` : "",
    g.llm ? "llm (models through tend's gateway)" : "",
    g.project ? "project (read-only)" : "",
  ].filter(Boolean);
  return parts.length ? parts.join("; ") : "none";
}

const sourceLabel = (s: PluginInfo["source"]) => (s === "user-overrides-builtin" ? "user (overrides built-in)" : s);

export function Plugins() {
  const plugins = useLive(() => get<PluginInfo[]>("/api/plugins"), ["plugin"]);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<{ text: string; bad: boolean } | null>(null);

  async function reload() {
    setBusy(true);
    setReport(null);
    try {
      const r = await post<ReloadReport>("/api/plugins/reload");
      const changed = r.plugins.filter((e) => e.action !== "unchanged");
      const rejected = r.plugins.filter((e) => e.action === "rejected");
      const text = changed.length
        ? changed
            .map((e) => `${e.name}: ${e.action}${e.reason ? ` (${e.reason})` : ""}${e.previous_kept ? ", previous version kept" : ""}`)
            .join("; ")
        : `Reloaded: ${r.plugins.length} plugin(s), all unchanged.`;
      setReport({ text, bad: rejected.length > 0 });
    } catch (e) {
      setReport({ text: e instanceof ApiError ? e.message : String(e), bad: true });
    } finally {
      setBusy(false);
      plugins.reload();
    }
  }

  const list = plugins.data ?? [];
  return (
    <main class="page">
      <div class="row spread">
        <h1>Plugins</h1>
        <button type="button" disabled={busy} onClick={reload}>
          Reload plugins
        </button>
      </div>
      <p role="status" class={`status-line${report?.bad ? " error" : ""}`}>
        {report?.text ?? ""}
      </p>
      {plugins.error && (
        <p role="alert" class="error-box">
          {plugins.error}
        </p>
      )}
      <div class="table-wrap">
        <table aria-label="Plugins">
          <thead>
            <tr>
              <th>Name</th>
              <th>World</th>
              <th>Version</th>
              <th>Source</th>
              <th class="hide-narrow">Grants</th>
              <th class="num">Calls</th>
              <th class="num">p50</th>
              <th class="num">p99</th>
              <th class="num">Errors</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {list.map((p) => {
              const errors = Object.values(p.stats.failures).reduce((a, b) => a + b, 0);
              const last = p.stats.last_errors[p.stats.last_errors.length - 1];
              return (
                <tr key={p.name} data-testid={`plugin-row-${p.name}`}>
                  <td>
                    <span class="mono">{p.name}</span>
                    <br />
                    <small class="muted hide-narrow">{p.description}</small>
                    <details class="plugin-more">
                      <summary>
                        <small>Details</small>
                      </summary>
                      <dl class="kv">
                        <dt>Limits</dt>
                        <dd>
                          {p.limits.memory_mb} MiB, {p.limits.timeout_ms} ms, responses ≤ {p.limits.max_response_bytes} bytes
                        </dd>
                        <dt>Grants</dt>
                        <dd>{grants(p)}</dd>
                        <dt>File</dt>
                        <dd class="mono">{p.path ?? "embedded in tend"}</dd>
                        <dt>sha256</dt>
                        <dd class="mono">{p.sha256}</dd>
                        <dt>Loaded</dt>
                        <dd>
                          {when(p.loaded_at)}
                          {p.code === "precompiled"
                            ? " (code precompiled into tend)"
                            : p.from_cache
                              ? " (from the compile cache)"
                              : ""}
                        </dd>
                        <dt>Failures</dt>
                        <dd>
                          {Object.entries(p.stats.failures)
                            .map(([k, n]) => `${n} ${k}`)
                            .join(", ") || "none"}
                          {p.stats.consecutive_traps ? `; ${p.stats.consecutive_traps} traps in a row` : ""}
                        </dd>
                      </dl>
                      {p.stats.last_errors.length > 0 && (
                        <ul class="plain">
                          {p.stats.last_errors
                            .slice()
                            .reverse()
                            .map((e, i) => (
                              <li key={i}>
                                <small>
                                  {when(e.time)} <strong>{e.kind}</strong>: {e.message}
                                </small>
                              </li>
                            ))}
                        </ul>
                      )}
                    </details>
                  </td>
                  <td class="mono">{p.world}</td>
                  <td class="nowrap">
                    {p.version}
                    {p.wit ? <small class="muted hide-narrow"> (wit {p.wit})</small> : null}
                  </td>
                  <td class="nowrap">{sourceLabel(p.source)}</td>
                  <td class="hide-narrow">{grants(p)}</td>
                  <td class="num">{p.stats.calls}</td>
                  <td class="num nowrap">{percentileText(p.stats.latency, 0.5)}</td>
                  <td class="num nowrap">{percentileText(p.stats.latency, 0.99)}</td>
                  <td class="num" title={last ? `${last.kind}: ${last.message} (${when(last.time)})` : undefined}>
                    {errors}
                    {p.stats.denials ? <small class="muted"> ({p.stats.denials} denied)</small> : null}
                  </td>
                  <td>
                    <span class={`badge ${p.state === "loaded" ? "ok" : p.state === "suspended" ? "warn" : "bad"}`}>{p.state}</span>
                    {p.suspended_until ? <small class="muted"> until {when(p.suspended_until)}</small> : null}
                    {p.rejected ? (
                      <div class="error">
                        <small>rejected: {p.rejected.reason}</small>
                      </div>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p class="muted">
        User plugins live in <code>&lt;data-dir&gt;/plugins</code> (<code>NAME.wasm</code> + <code>NAME.toml</code>); changes are picked
        up by a file watcher, or now with “Reload plugins”. p50/p99 are the upper bounds of the latency buckets.
      </p>
    </main>
  );
}
