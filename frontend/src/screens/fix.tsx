// One fix (/fixes/<id>): what failed (the incident: kind, exit, restarts, the log tail), what the fixer
// said (diagnosis, confidence, author), the unified diff of every file, the command policy's decision
// on every command, what applying, the commands and verifying did, and approve / reject (while it
// awaits approval) and restore (once applied), each confirmed first. Read again on every fixer
// `agent` event about the same target. Everything a service or a model wrote is rendered as text.
import { useState } from "preact/hooks";
import type { ComponentChildren } from "preact";
import { useRoute } from "preact-iso";
import { ApiError, get, post } from "../api";
import { ConfirmDialog } from "../components/confirm_dialog";
import { FixStatusBadge } from "../components/fixes_panel";
import { fmtDuration, fmtTime } from "../lib/format";
import {
  authorText,
  concernsTarget,
  diffLines,
  diffStat,
  editText,
  fixActions,
  isRunning,
  targetHref,
  tokens,
  TRIGGER_TEXT,
  type FileDiff,
  type FixView,
} from "../lib/fixes";
import { visible } from "../lib/text";
import { useLive } from "../lib/use_live";

type Action = "approve" | "reject" | "restore";

const ACTION_TEXT: Record<Action, { title: string; confirm: string; body: string }> = {
  approve: {
    title: "Approve this fix?",
    confirm: "Approve",
    body: "tend backs up the files, applies the edits, runs the allowed commands, restarts and verifies.",
  },
  reject: { title: "Reject this fix?", confirm: "Reject", body: "Nothing is changed; the fix ends rejected." },
  restore: {
    title: "Restore the files?",
    confirm: "Restore",
    body: "The files come back byte-exact as they were before this fix (files it created are deleted) and the target restarts. The current state is backed up first, so the restore can be undone too.",
  },
};

function Diff({ d }: { d: FileDiff }) {
  const stat = diffStat(d.diff);
  return (
    <figure class="diff-file">
      <figcaption>
        <span class="mono">{visible(d.path)}</span>{" "}
        <span class="muted">
          +{stat.added} −{stat.removed}
        </span>
      </figcaption>
      <pre class="diff" data-testid="diff" tabIndex={0} aria-label={`Diff of ${d.path}`}>
        {diffLines(d.diff).map((l, i) => (
          <span key={i} class={`diff-line diff-${l.kind}`}>
            {visible(l.text)}
            {"\n"}
          </span>
        ))}
      </pre>
    </figure>
  );
}

function Row({ k, children, testid }: { k: string; children: ComponentChildren; testid?: string }) {
  return (
    <div>
      <dt>{k}</dt>
      <dd data-testid={testid}>{children}</dd>
    </div>
  );
}

function Incident({ f }: { f: FixView }) {
  const i = f.incident;
  if (!i) return null;
  const exit = i.exit_code !== undefined && i.exit_code !== null ? `code ${i.exit_code}` : i.signal ? `signal ${i.signal}` : "—";
  return (
    <section aria-labelledby="h-incident">
      <h2 id="h-incident">Incident</h2>
      <dl class="definition">
        <Row k="Kind">{TRIGGER_TEXT[i.kind]}</Row>
        <Row k="Command">
          <span class="mono">{visible(i.command)}</span>
        </Row>
        <Row k="Working dir">
          <span class="mono">{visible(i.working_dir)}</span>
        </Row>
        <Row k="Exit">{exit}</Row>
        <Row k="Restarts">{i.restarts}</Row>
        {i.port ? <Row k="Port">{i.port}</Row> : null}
        {i.port_holder ? (
          <Row k="Port holder">
            pid {i.port_holder.pid} <span class="mono">{visible(i.port_holder.command)}</span> ({i.port_holder.leftover ? "a leftover of this service" : "another process"})
          </Row>
        ) : null}
        {i.health_message ? <Row k="Health">{visible(i.health_message)}</Row> : null}
        {i.env_names.length ? <Row k="Env names">{visible(i.env_names.join(", "))}</Row> : null}
        {i.previous.length ? <Row k="Earlier attempts">{i.previous.map((a) => `${a.outcome}: ${a.diagnosis}`).join("; ")}</Row> : null}
      </dl>
      <h3>Last log lines</h3>
      {i.log_tail.length ? (
        <pre class="output" data-testid="log-tail" tabIndex={0} aria-label="Last log lines">
          {visible(i.log_tail.join("\n"))}
        </pre>
      ) : (
        <p class="muted">None.</p>
      )}
    </section>
  );
}

function Proposal({ f }: { f: FixView }) {
  const p = f.proposal;
  return (
    <section aria-labelledby="h-proposal">
      <h2 id="h-proposal">Proposal</h2>
      {p ? (
        <>
          <p data-testid="diagnosis" class="diagnosis">
            {visible(p.diagnosis)}
          </p>
          <dl class="figures">
            <Row k="Confidence">{Math.round(p.confidence * 100)}%</Row>
            <Row k="Author">{visible(authorText(f))}</Row>
            <Row k="Restart after">{p.restart ? "yes" : "no"}</Row>
          </dl>
          {p.edits.length ? (
            <ul class="edits">
              {p.edits.map((e, i) => (
                <li key={i} class="mono">
                  {visible(editText(e))}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No file edits.</p>
          )}
        </>
      ) : (
        <p class="muted">{isRunning(f.status) ? "The fixer is looking at it…" : "No proposal."}</p>
      )}
      {f.diffs.length ? (
        <>
          <h3>Changes</h3>
          {f.diffs.map((d) => (
            <Diff key={d.path} d={d} />
          ))}
        </>
      ) : null}
    </section>
  );
}

function Commands({ f }: { f: FixView }) {
  const cmds = f.proposal?.commands ?? [];
  // The policy judges the commands when the fix is applied (after an approval), not when proposed.
  const pending = f.status === "awaiting-approval" || f.status === "proposed" || f.status === "diagnosing";
  if (!cmds.length && !f.decisions.length && !f.commands.length) return null;
  return (
    <section aria-labelledby="h-commands">
      <h2 id="h-commands">Commands</h2>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Commands and policy decisions">
        <table aria-label="Policy decisions">
          <thead>
            <tr>
              <th scope="col">Command</th>
              <th scope="col">Decision</th>
              <th scope="col">Reason</th>
              <th scope="col">Ran</th>
            </tr>
          </thead>
          <tbody>
            {(cmds.length ? cmds.map((c) => c.command) : f.decisions.map((d) => d.command)).map((command, i) => {
              const d = f.decisions.find((x) => x.command === command) ?? f.decisions[i];
              const run = f.commands.find((x) => x.command === command);
              const why = cmds.find((c) => c.command === command)?.reason;
              return (
                <tr key={i} data-testid="decision-row">
                  <td class="mono">{visible(command)}</td>
                  <td>{d ? <span class={`badge ${d.decision}`}>{d.decision === "allow" ? "allowed" : "denied"}</span> : <span class="muted">{pending ? "judged when applied" : "not judged"}</span>}</td>
                  <td class="message">{d ? visible(d.reason) : why ? <span class="muted">fixer: {visible(why)}</span> : ""}</td>
                  <td class="message">
                    {run ? (
                      <>
                        {run.status}
                        {run.exit_code !== undefined ? ` (exit ${run.exit_code})` : ""}
                        {run.message ? `: ${visible(run.message)}` : ""}
                        {run.output_tail ? <pre class="output">{visible(run.output_tail)}</pre> : null}
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Results({ f }: { f: FixView }) {
  return (
    <section aria-labelledby="h-results">
      <h2 id="h-results">Result</h2>
      <dl class="definition">
        <Row k="Status" testid="fix-state">
          <FixStatusBadge status={f.status} />
        </Row>
        {f.reason ? <Row k="Why">{visible(f.reason)}</Row> : null}
        <Row k="Applied" testid="apply-result">
          {f.apply_result ? visible(f.apply_result) : "—"}
        </Row>
        <Row k="Verified" testid="verify-result">
          {f.verify_result ? visible(f.verify_result) : "—"}
        </Row>
        {f.backup ? (
          <Row k="Backup">
            <span class="mono">{visible(f.backup)}</span>
          </Row>
        ) : null}
        {f.restores ? (
          <Row k="Restores">
            <a href={`/fixes/${encodeURIComponent(f.restores)}`}>fix {f.restores}</a>
          </Row>
        ) : null}
        {f.restored_by ? (
          <Row k="Restored by" testid="restored-by">
            <a href={`/fixes/${encodeURIComponent(f.restored_by)}`}>restore {f.restored_by}</a>
          </Row>
        ) : null}
      </dl>
    </section>
  );
}

export function FixDetail() {
  const { params } = useRoute();
  const id = params.id ?? "";
  const [target, setTarget] = useState<FixView | null>(null);
  const fix = useLive(
    async () => {
      let f: FixView;
      try {
        f = await get<FixView>(`/api/fixes/${encodeURIComponent(id)}`);
      } catch (e) {
        throw e instanceof ApiError && e.status === 404 ? new Error(`No fix with id “${id}”.`) : e;
      }
      setTarget(f);
      return f;
    },
    ["agent"],
    // A restore of this fix is a new record of the same target: its events update `restored_by` here.
    (e) => !!target && concernsTarget(e, target.target, target.name),
    [id],
  );
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<{ action: Action; fix: FixView } | null>(null);

  const act = async (a: Action) => {
    setBusy(true);
    setError(null);
    try {
      const res = await post<FixView>(`/api/fixes/${encodeURIComponent(id)}/${a}`);
      setDone({ action: a, fix: res });
      fix.reload();
    } catch (e) {
      setError(`${a}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
      setConfirming(null);
    }
  };

  const f = fix.data;
  if (!f) {
    return (
      <main class="page">
        <h1>Fix {id}</h1>
        {fix.error ? (
          <p role="alert" class="error-box">
            {fix.error}
          </p>
        ) : (
          <p class="muted" aria-busy="true">
            Loading…
          </p>
        )}
      </main>
    );
  }
  const actions = fixActions(f);
  const what = f.target === "service" ? "service" : "cron job";
  return (
    <main class="page fix">
      <div class="row page-head">
        <h1>
          <span>
            {f.kind === "restore" ? "Restore" : "Fix"} {f.id}
          </span>{" "}
          <FixStatusBadge status={f.status} />
        </h1>
        <nav class="row" aria-label="Fix">
          <a class="button" href={targetHref(f.target, f.name)}>
            Back to {what} {f.name}
          </a>
        </nav>
      </div>
      <dl class="figures summary">
        <Row k="Target">
          {what} <a href={targetHref(f.target, f.name)}>{f.name}</a>
        </Row>
        <Row k="Trigger">{TRIGGER_TEXT[f.trigger]}</Row>
        <Row k="Mode">{f.mode}</Row>
        <Row k="Origin">{f.origin}</Row>
        <Row k="Attempt">{f.attempt}</Row>
        <Row k="Started">
          <time dateTime={f.created_at}>{fmtTime(f.created_at)}</time>
        </Row>
        <Row k="Duration">{fmtDuration(f.duration_ms / 1000)}</Row>
        <Row k="Tokens">
          {tokens(f)} <span class="muted">({f.llm_calls} calls)</span>
        </Row>
      </dl>
      {actions.approve || actions.reject || actions.restore ? (
        <div class="row fix-actions">
          {actions.approve ? (
            <button type="button" class="primary" disabled={busy} onClick={() => setConfirming("approve")}>
              Approve
            </button>
          ) : null}
          {actions.reject ? (
            <button type="button" disabled={busy} onClick={() => setConfirming("reject")}>
              Reject
            </button>
          ) : null}
          {actions.restore ? (
            <button type="button" class="danger" disabled={busy} onClick={() => setConfirming("restore")}>
              Restore
            </button>
          ) : null}
        </div>
      ) : null}
      {done ? (
        <p role="status" data-testid="action-result">
          {done.action === "restore" ? (
            <>
              Restored: <a href={`/fixes/${encodeURIComponent(done.fix.id)}`}>restore {done.fix.id}</a> is {done.fix.status}.
            </>
          ) : (
            `${done.action === "approve" ? "Approved" : "Rejected"}: the fix is ${f.status}.`
          )}
        </p>
      ) : null}
      {error ? (
        <p role="alert" class="error-box">
          {error}
        </p>
      ) : null}
      {fix.error ? (
        <p role="alert" class="error-box">
          {fix.error}
        </p>
      ) : null}
      {confirming ? (
        <ConfirmDialog title={ACTION_TEXT[confirming].title} confirm={ACTION_TEXT[confirming].confirm} busy={busy} onConfirm={() => act(confirming)} onCancel={() => setConfirming(null)}>
          <p>{ACTION_TEXT[confirming].body}</p>
        </ConfirmDialog>
      ) : null}
      <div class="detail-grid">
        <div>
          <Proposal f={f} />
          <Commands f={f} />
        </div>
        <div>
          <Results f={f} />
          <Incident f={f} />
        </div>
      </div>
    </main>
  );
}
