// Figures of the cron screens as people read them: countdowns to the next run, durations, peak memory,
// how an execution ended, times in a job's zone, and its stored output as plain text (whole, or head and
// tail when the store cut it; terminal escape sequences removed).
import type { CapturedOutput, Execution } from "./wire";

/** "in 4m 05s", "in 2h 03m", "in 3d 4h"; "due" once the time has come. */
export function countdown(targetIso: string | undefined, nowMs: number): string {
  if (!targetIso) return "—";
  const t = Date.parse(targetIso);
  if (Number.isNaN(t)) return "—";
  const s = Math.ceil((t - nowMs) / 1000);
  if (s <= 0) return "due";
  return `in ${span(s)}`;
}

function span(s: number): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** "850 ms", "12.3 s", "4m 05s", "2h 10m". */
export function duration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return span(Math.round(ms / 1000));
}

/** Bytes as MiB with one decimal ("—" when unknown). */
export function mib(bytes: number | undefined | null): string {
  if (bytes === undefined || bytes === null) return "—";
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** How an execution (or a last run) ended: "exit 0", "signal SIGKILL", or "—" while it runs. */
export function exitText(e: { exit_code?: number | null; signal?: string | null }): string {
  if (e.signal) return `signal ${e.signal}`;
  if (e.exit_code !== undefined && e.exit_code !== null) return `exit ${e.exit_code}`;
  return "—";
}

/** One stored stream as text: all of it, or its head, a marker and its tail when the store cut it. */
export function streamText(o: CapturedOutput): string {
  if (!o.truncated) return o.text;
  const omitted = o.bytes - byteLength(o.text) - byteLength(o.tail ?? "");
  return `${o.text}\n… ${omitted > 0 ? `${omitted} bytes` : "output"} not kept here (the whole output is in the execution's log file) …\n${o.tail ?? ""}`;
}

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

// CSI / OSC sequences and lone escape characters.
// eslint-disable-next-line no-control-regex
const ANSI_RE = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** Text without terminal escape sequences (colours, cursor moves): output shown as plain text. */
export function stripAnsi(text: string): string {
  return text.includes("\x1b") ? text.replace(ANSI_RE, "") : text;
}

/** stdout, then stderr under a heading when there is any; escape sequences removed. */
export function executionOutput(e: Execution): string {
  const out = stripAnsi(streamText(e.stdout));
  const err = stripAnsi(streamText(e.stderr));
  if (!err) return out;
  return `${out}${out && !out.endsWith("\n") ? "\n" : ""}--- stderr ---\n${err}`;
}

/** An RFC 3339 stamp, short, in the browser's zone or in `timeZone` (an IANA name); "—" when absent. */
export function when(iso: string | undefined | null, timeZone?: string): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  try {
    return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium", timeZone });
  } catch {
    // A zone this browser does not know: its own zone rather than nothing.
    return d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  }
}
