// What the fixes screens show of a fix record (`FixView`), as pure functions (tested in
// fixes.test.ts): a unified diff split into typed lines (rendered as text, never as HTML), which
// actions a status allows, badge tones, and which `agent` events concern a target or a fix.
import type { AgentEvent, Edit, FixStatus, FixView, IncidentKind, TargetKind } from "../gen/api";

export type { FixView, FixesPage, FixStatus, FixDecision, FileDiff, FixCommandRun, LlmStatus } from "../gen/api";

export type DiffKind = "add" | "del" | "ctx" | "hunk" | "meta";
export interface DiffLine {
  kind: DiffKind;
  text: string;
}

/** A unified diff's lines, each with its kind: `+`/`-`/` ` body lines, `@@` hunk headers, and the
 *  `---`/`+++` file headers, `\ No newline` notes and tend's `mode 644 -> 755` line as `meta`. A trailing newline adds no line. */
export function diffLines(diff: string): DiffLine[] {
  const lines = diff.split("\n");
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  let inHunk = false;
  return lines.map((text) => {
    let kind: DiffKind;
    if (text.startsWith("@@")) {
      inHunk = true;
      kind = "hunk";
    } else if (!inHunk && (text.startsWith("--- ") || text.startsWith("+++ ") || text === "---" || text === "+++")) kind = "meta";
    else if (text.startsWith("\\")) kind = "meta";
    else if (text.startsWith("+")) kind = "add";
    else if (text.startsWith("-")) kind = "del";
    else if (inHunk && (text.startsWith(" ") || text === "")) kind = "ctx";
    else kind = "meta";
    return { kind, text };
  });
}

/** Lines added and removed. */
export function diffStat(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const l of diffLines(diff)) {
    if (l.kind === "add") added++;
    else if (l.kind === "del") removed++;
  }
  return { added, removed };
}

export interface FixActions {
  approve: boolean;
  reject: boolean;
  restore: boolean;
}

/** What a person may do with a fix now (the API still decides: a 409 is shown as it comes). */
export function fixActions(f: Pick<FixView, "status" | "restored_by" | "backup">): FixActions {
  const waiting = f.status === "awaiting-approval";
  return {
    approve: waiting,
    reject: waiting,
    // Applied (a fix verified, or a restore that went through) and not undone yet.
    restore: f.status === "verified" && !f.restored_by && !!f.backup,
  };
}

/** Still moving on its own (the job runs). */
export function isRunning(s: FixStatus): boolean {
  return s === "diagnosing" || s === "applying" || s === "verifying";
}

/** The badge class of a status (styles.css colours `ok`, `warn`, `bad`, `idle`). */
export function statusTone(s: FixStatus): "ok" | "warn" | "bad" | "idle" {
  switch (s) {
    case "verified":
      return "ok";
    case "diagnosing":
    case "applying":
    case "verifying":
    case "awaiting-approval":
    case "proposed":
      return "warn";
    case "failed":
      return "bad";
    default:
      return "idle";
  }
}

export const TRIGGER_TEXT: Record<IncidentKind, string> = {
  "crash-loop": "crash loop",
  "health-failure": "health failure",
  "cron-failure": "cron failure",
  manual: "manual",
};

/** `1,234` tokens in + out. */
export function tokens(f: Pick<FixView, "usage">): number {
  return f.usage.input_tokens + f.usage.output_tokens;
}

/** `rule: port-in-use`, `model: opus`, or `—` before the fixer answered. */
export function authorText(f: Pick<FixView, "proposal">): string {
  return f.proposal ? `${f.proposal.author}: ${f.proposal.source}` : "—";
}

/** One edit in a sentence (the diff shows the bytes). */
export function editText(e: Edit): string {
  switch (e.op) {
    case "replace":
      return `replace in ${e.path}`;
    case "create":
      return `create ${e.path}${e.executable ? " (executable)" : ""}`;
    case "create_dir":
      return `create directory ${e.path}`;
    case "set_executable":
      return `${e.executable ? "set" : "clear"} the exec bit of ${e.path}`;
  }
}

const TARGET_WORD: Record<TargetKind, string> = { service: "service", "cron-job": "cron job" };

/** The fixer's `agent` events about target `name`: `fix 3 of service "web": verified (...)`. */
export function concernsTarget(e: unknown, target: TargetKind, name: string): boolean {
  const a = e as Partial<AgentEvent> | null;
  if (!a || a.agent !== "fixer" || typeof a.message !== "string") return false;
  if (target === "service" && a.service !== undefined) return a.service === name;
  return a.message.includes(` of ${TARGET_WORD[target]} ${JSON.stringify(name)}:`);
}

/** The `/api` base of a target's fixes. */
export function targetBase(target: TargetKind, name: string): string {
  return `${target === "service" ? "/api/services" : "/api/cron"}/${encodeURIComponent(name)}`;
}

/** The dashboard page of a target. */
export function targetHref(target: TargetKind, name: string): string {
  return `${target === "service" ? "/services" : "/cron"}/${encodeURIComponent(name)}`;
}
