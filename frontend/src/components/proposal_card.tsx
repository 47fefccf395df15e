// One action the model proposed in the chat (restart, stop, start, fix, edit a service), with its
// reason in the model's words. Nothing happens until the person clicks the action and confirms it in
// a dialog; only then does the dashboard call the ordinary API (lib/chat `runProposal`). The model's
// words and the proposed changes are shown as text.
import { useState } from "preact/hooks";
import { ConfirmDialog } from "./confirm_dialog";
import { actionEffect, actionLabel, isAction, runProposal } from "../lib/chat";
import { visible } from "../lib/text";
import type { ChatProposal } from "../gen/api";

export function ProposalCard({ p }: { p: ChatProposal }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ text: string; link?: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const known = isAction(p.action);
  const label = visible(actionLabel(p));

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await runProposal(p));
    } catch (e) {
      setError(`${p.action}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };

  return (
    <div class="proposal card" data-testid="proposal">
      <p>
        <strong>Proposed:</strong> <span data-testid="proposal-action">{visible(p.action)}</span> <span class="mono">{visible(p.service)}</span>
      </p>
      <p class="proposal-reason">{visible(p.reason)}</p>
      {p.changes !== undefined ? <pre class="output mono" data-testid="proposal-changes">{visible(JSON.stringify(p.changes, null, 2))}</pre> : null}
      <div class="row">
        <button type="button" disabled={!known || busy || !!result} onClick={() => setConfirming(true)}>
          {label}…
        </button>
        {!known ? <span class="muted">not an action the dashboard offers</span> : null}
        {result ? (
          <span role="status" data-testid="proposal-result">
            {result.link ? <a href={result.link}>{visible(result.text)}</a> : visible(result.text)}
          </span>
        ) : null}
      </div>
      {error ? (
        <p role="alert" class="error-box">
          {error}
        </p>
      ) : null}
      {confirming ? (
        <ConfirmDialog title={`${label}?`} confirm={label} busy={busy} onConfirm={confirm} onCancel={() => setConfirming(false)}>
          <p>{visible(actionEffect(p))}</p>
          <p class="muted">Proposed by the model: {visible(p.reason)}</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
