// The "Fixes" section of a service's or cron job's page: its fixes (newest first: status, trigger,
// author, time, tokens; each links to /fixes/<id>) and "Fix now" (`POST .../fix`, with a model of
// `GET /api/llm` when models are configured). The list is read again on every fixer `agent` event
// about this target, so a running fix moves through its states without a reload.
import { useEffect, useState } from "preact/hooks";
import { get, post } from "../api";
import { fmtTime } from "../lib/format";
import { authorText, concernsTarget, isRunning, statusTone, targetBase, tokens, TRIGGER_TEXT, type FixView, type FixesPage, type LlmStatus } from "../lib/fixes";
import { useLive } from "../lib/use_live";
import { visible } from "../lib/text";
import type { TargetKind } from "../gen/api";

const SHOWN = 20;

export function FixStatusBadge({ status }: { status: FixView["status"] }) {
  return (
    <span class={`badge ${statusTone(status)}`} data-testid="fix-status">
      {status}
    </span>
  );
}

/** The models a person may pick, or null when none are configured (the daemon's default then). */
function useModels(): LlmStatus | null {
  const [llm, setLlm] = useState<LlmStatus | null>(null);
  useEffect(() => {
    let alive = true;
    // Without models (or on an older daemon) the picker is simply not shown.
    get<LlmStatus>("/api/llm").then((s) => alive && setLlm(s.configured && s.models.length ? s : null), () => {});
    return () => {
      alive = false;
    };
  }, []);
  return llm;
}

export function FixesPanel({ target, name }: { target: TargetKind; name: string }) {
  const base = targetBase(target, name);
  const fixes = useLive(() => get<FixesPage>(`${base}/fixes`), ["agent"], (e) => concernsTarget(e, target, name), [target, name]);
  const llm = useModels();
  const [model, setModel] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<{ id: string; joined: boolean } | null>(null);

  const fixNow = async () => {
    setBusy(true);
    setError(null);
    try {
      const before = new Set((fixes.data?.fixes ?? []).map((f) => f.id));
      const f = await post<FixView>(`${base}/fix`, model ? { model } : {});
      setStarted({ id: f.id, joined: before.has(f.id) });
      fixes.reload();
    } catch (e) {
      setError(`fix: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const list = fixes.data?.fixes ?? [];
  const current = started ? list.find((f) => f.id === started.id) : undefined;
  return (
    <section aria-labelledby="h-fixes" data-testid="fixes">
      <h2 id="h-fixes">Fixes</h2>
      <div class="row fix-now">
        {llm ? (
          <label>
            Model{" "}
            <select value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
              <option value="">default{llm.default ? ` (${llm.default})` : ""}</option>
              {llm.models.map((m) => (
                <option key={m.name} value={m.name}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <button type="button" disabled={busy} onClick={fixNow}>
          Fix now
        </button>
        {started ? (
          <span aria-live="polite" data-testid="fix-progress">
            <a href={`/fixes/${encodeURIComponent(started.id)}`}>
              {started.joined ? "Joined running fix" : "Fix"} {started.id}
            </a>
            {": "}
            {current ? current.status : "started"}
            {current && isRunning(current.status) ? "…" : ""}
          </span>
        ) : null}
      </div>
      {error ? (
        <p role="alert" class="error-box">
          {error}
        </p>
      ) : null}
      {fixes.error && !fixes.data ? (
        <p role="alert" class="error-box">
          {fixes.error}
        </p>
      ) : null}
      {fixes.loading && !fixes.data ? (
        <p class="muted" aria-busy="true">
          Loading…
        </p>
      ) : list.length ? (
        <div class="table-wrap" tabIndex={0} role="region" aria-label="Fixes, newest first">
          <table aria-label="Fixes">
            <thead>
              <tr>
                <th scope="col">Fix</th>
                <th scope="col">Status</th>
                <th scope="col">Trigger</th>
                <th scope="col">Author</th>
                <th scope="col" class="hide-narrow">Started</th>
                <th scope="col" class="hide-narrow">Tokens</th>
              </tr>
            </thead>
            <tbody>
              {list.slice(0, SHOWN).map((f) => (
                <tr key={f.id} data-testid="fix-row">
                  <td>
                    <a href={`/fixes/${encodeURIComponent(f.id)}`}>
                      {f.kind === "restore" ? "restore" : "fix"} {f.id}
                    </a>
                  </td>
                  <td>
                    <FixStatusBadge status={f.status} />
                  </td>
                  <td>{TRIGGER_TEXT[f.trigger]}</td>
                  <td class="message">{visible(authorText(f))}</td>
                  <td class="hide-narrow num">
                    <time dateTime={f.created_at}>{fmtTime(f.created_at)}</time>
                  </td>
                  <td class="hide-narrow num">{tokens(f)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <p class="muted">No fixes yet.</p>
      )}
    </section>
  );
}
