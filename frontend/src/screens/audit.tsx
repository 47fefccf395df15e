// Audit (/audit): every decision of the command policy, newest first, filtered by decision, origin,
// service and a search of the command, argv, reason or service; older pages on demand. New decisions
// (`policy` events) refresh the first page.
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, qs } from "../api";
import { when } from "../lib/cron_view";
import { subscribe } from "../live";
import type { AuditEntry, AuditPage } from "../lib/wire";

const ORIGINS = ["rest", "tcp", "cli", "dashboard", "agent", "cron", "boot"];
const LIMIT = 100;

interface Filters {
  decision: string;
  origin: string;
  service: string;
  q: string;
}

// Daemons without the `q` parameter refuse it (422 naming `q`); the search then runs over the page here.
let serverSearch = true;
const matches = (e: AuditEntry, q: string) =>
  [e.command, e.argv.join(" "), e.reason, e.service ?? ""].some((s) => s.toLowerCase().includes(q.toLowerCase()));

async function fetchPage(f: Filters, before?: number): Promise<AuditPage> {
  const params = { decision: f.decision, origin: f.origin, service: f.service.trim(), limit: LIMIT, before_id: before };
  const q = f.q.trim();
  if (q && serverSearch) {
    try {
      return await get<AuditPage>(`/api/audit${qs({ ...params, q })}`);
    } catch (e) {
      if (!(e instanceof ApiError && e.field === "q")) throw e;
      serverSearch = false;
    }
  }
  const page = await get<AuditPage>(`/api/audit${qs(params)}`);
  return q ? { ...page, entries: page.entries.filter((e) => matches(e, q)) } : page;
}

export function Audit() {
  const [filters, setFilters] = useState<Filters>({ decision: "", origin: "", service: "", q: "" });
  const [applied, setApplied] = useState(filters);
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [next, setNext] = useState<number | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);

  // Text filters apply after a pause in typing; selects at once.
  useEffect(() => {
    const t = setTimeout(() => setApplied(filters), 300);
    return () => clearTimeout(t);
  }, [filters.q, filters.service]);
  useEffect(() => setApplied(filters), [filters.decision, filters.origin]);

  useEffect(() => {
    let live = true;
    setLoading(true);
    fetchPage(applied).then(
      (p) => {
        if (!live) return;
        setEntries(p.entries);
        setNext(p.next_before_id);
        setError(null);
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(e instanceof Error ? e.message : String(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [applied, tick]);

  useEffect(() => subscribe("policy", () => setTick((t) => t + 1)), []);

  async function older() {
    if (next === undefined) return;
    try {
      const p = await fetchPage(applied, next);
      setEntries((es) => [...es, ...p.entries]);
      setNext(p.next_before_id);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  const set = (k: keyof Filters) => (e: Event) => setFilters((f) => ({ ...f, [k]: (e.currentTarget as HTMLInputElement).value }));
  return (
    <main class="page">
      <h1>Audit</h1>
      <p class="muted">Every decision of the command policy (custom-restart steps, dry runs), newest first.</p>
      <form class="row filters" role="search" aria-label="Filter decisions" onSubmit={(e) => e.preventDefault()}>
        <label>
          Decision
          <select value={filters.decision} onChange={set("decision")}>
            <option value="">all</option>
            <option value="allow">allow</option>
            <option value="deny">deny</option>
          </select>
        </label>
        <label>
          Origin
          <select value={filters.origin} onChange={set("origin")}>
            <option value="">all</option>
            {ORIGINS.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service
          <input type="text" value={filters.service} onInput={set("service")} autoComplete="off" spellcheck={false} />
        </label>
        <label>
          Search
          <input type="search" value={filters.q} onInput={set("q")} autoComplete="off" spellcheck={false} placeholder="command, reason…" />
        </label>
      </form>
      {error && (
        <p role="alert" class="error-box">
          {error}
        </p>
      )}
      {/* Focusable so that keyboard users can scroll it sideways on a narrow screen (no links inside). */}
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Policy decisions, scrollable">
        <table aria-label="Policy decisions" aria-busy={loading}>
          <thead>
            <tr>
              <th>Time</th>
              <th>Decision</th>
              <th>Command</th>
              <th>Service</th>
              <th class="hide-narrow">Origin</th>
              <th>Reason</th>
              <th class="hide-narrow">Policy</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.id} data-testid="audit-row">
                <td class="nowrap">{when(e.time)}</td>
                <td>
                  <span class={`badge ${e.decision}`}>{e.decision}</span>
                </td>
                <td class="cmd" title={`argv: ${JSON.stringify(e.argv)}\ncwd: ${e.cwd}`}>
                  {e.command_type !== "shell" ? `${e.command_type}: ` : ""}
                  {e.command}
                </td>
                <td>{e.service ?? "—"}</td>
                <td class="hide-narrow">{e.origin}</td>
                <td>{e.reason || <span class="muted">—</span>}</td>
                <td class="hide-narrow nowrap">
                  {e.plugin}
                  {e.plugin_version ? ` ${e.plugin_version}` : ""}
                  <br />
                  <small class="muted">
                    {e.environment}
                    {e.is_safe ? ", declared safe" : ""}
                    {e.allowed_in_production ? ", production ok" : ""}
                  </small>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {!loading && !entries.length && !error && <p class="muted">No decisions match.</p>}
      {next !== undefined && (
        <button type="button" onClick={older}>
          Load older
        </button>
      )}
    </main>
  );
}
