// The custom-restart form's logic (README "Custom restart workflows"): command lines -> the request's
// `pre_commands`/`post_commands`, the args typed with shell quoting -> `args`, and an API error about
// `pre_commands[i]...` mapped back to the line the user typed.
import type { CommandType, CustomRestartRequest, WorkflowCommand } from "./wire";

const TYPES: CommandType[] = ["shell", "make", "exec"];

/** Splits words the way a shell would: spaces separate, '...' and "..." quote, \ escapes. */
export function splitWords(text: string): { words: string[] } | { error: string } {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === "\\" && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === "\\") {
      if (i + 1 < text.length) cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return { error: `unbalanced ${quote === '"' ? "double" : "single"} quote` };
  if (inWord) words.push(cur);
  return { words };
}

export interface RestartDraft {
  pre: string;
  post: string;
  args: string;
  isSafe: boolean;
  production: boolean;
  timeout: string;
}

export interface BuiltRequest {
  body: CustomRestartRequest;
  errors: Record<"pre" | "post" | "args" | "timeout", string | undefined>;
  /** For each phase, the 1-based line number of each command in the request. */
  lines: { pre: number[]; post: number[] };
}

/** One command per non-empty line; `make: TARGETS` or `exec: ARGV` pick the type, else `shell`. */
function commands(text: string, common: Omit<WorkflowCommand, "command_type" | "command">) {
  const out: WorkflowCommand[] = [];
  const lines: number[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "").trim();
    if (!line) return;
    const m = /^(shell|make|exec):\s*(.*)$/.exec(line);
    const type = (m && TYPES.includes(m[1] as CommandType) ? m[1] : "shell") as CommandType;
    out.push({ command_type: type, command: m ? m[2]! : line, ...common });
    lines.push(i + 1);
  });
  return { out, lines };
}

export function buildRestart(d: RestartDraft): BuiltRequest {
  const errors: BuiltRequest["errors"] = { pre: undefined, post: undefined, args: undefined, timeout: undefined };
  const common: Omit<WorkflowCommand, "command_type" | "command"> = {
    is_safe: d.isSafe,
    allowed_in_production: d.production,
  };
  const t = d.timeout.trim();
  if (t) {
    if (/^\d+$/.test(t)) common.timeout_s = Number(t);
    else errors.timeout = "must be a whole number of seconds";
  }
  const pre = commands(d.pre, common);
  const post = commands(d.post, common);
  const split = splitWords(d.args);
  let args: string[] = [];
  if ("error" in split) errors.args = split.error;
  else args = split.words;
  return { body: { pre_commands: pre.out, post_commands: post.out, args }, errors, lines: { pre: pre.lines, post: post.lines } };
}

/**
 * Which input an API error's `field` is about: `pre_commands[2].command` -> the "pre" box, with the
 * line it came from; `args[1]` -> "args"; `...timeout_s` -> "timeout"; else null (the form).
 */
export function restartErrorTarget(
  field: string | undefined,
  lines: BuiltRequest["lines"],
): { input: "pre" | "post" | "args" | "timeout"; prefix: string } | null {
  if (!field) return null;
  const m = /^(pre|post)_commands(?:\[(\d+)\])?(?:\.(\w+))?/.exec(field);
  if (m) {
    const phase = m[1] as "pre" | "post";
    if (m[3] === "timeout_s") return { input: "timeout", prefix: "" };
    const line = m[2] !== undefined ? lines[phase][Number(m[2])] : undefined;
    return { input: phase, prefix: line ? `line ${line}: ` : "" };
  }
  if (/^args(\[\d+\])?$/.test(field)) return { input: "args", prefix: "" };
  return null;
}
