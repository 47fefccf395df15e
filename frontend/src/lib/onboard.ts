// The onboarding screen's logic without any DOM (tested in onboard.test.ts): a previewed `Plan` turned
// into an editable draft (each service's name, command as one line, port, env rows, health path;
// services, cron jobs and setup steps removable), the draft turned back into the exact
// `OnboardRequest` that `POST /api/onboard` takes, with local mistakes keyed by the same field paths
// the API names (`plan.services[1].port`), so both show next to the same input.
import type { CommandLine, OnboardJob, OnboardRequest, Plan, PlannedCron, PlannedService, SetupStep } from "../gen/api";

export interface EnvRow {
  name: string;
  value: string;
}

export interface ServiceDraft {
  /** The plan's service as previewed: what the draft leaves alone (working dir, evidence...). */
  orig: PlannedService;
  name: string;
  /** The command as one line: a shell string as is, an argv quoted shell-like. */
  command: string;
  /** Whether the plan gave a shell string (kept a string) rather than an argv (split back). */
  shell: boolean;
  port: string;
  env: EnvRow[];
  health_path: string;
}

export interface PlanDraft {
  plan: Plan;
  services: ServiceDraft[];
  cron_jobs: PlannedCron[];
  setup: SetupStep[];
}

export type FieldErrors = Record<string, string>;

/** Field path of service `i`'s `field`, as the API names it. */
export const serviceField = (i: number, field: string) => `plan.services[${i}].${field}`;

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argv word as the shell would need it: bare when safe, else single-quoted. */
export function quoteWord(w: string): string {
  if (SAFE_WORD.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/** An argv as one line that `splitCommand` gives back unchanged. */
export function joinCommand(argv: string[]): string {
  return argv.map(quoteWord).join(" ");
}

/**
 * A line split into words the way a POSIX shell would, for quoting only: whitespace separates,
 * '...' is literal, "..." allows \" \\ \$ \` escapes, a backslash outside quotes escapes the next
 * character. No expansion of any kind. An unterminated quote is an error.
 */
export function splitCommand(line: string): { argv: string[] } | { error: string } {
  const argv: string[] = [];
  let word = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { error: "a ' quote is not closed" };
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      let j = i + 1;
      for (;; j++) {
        if (j >= line.length) return { error: 'a " quote is not closed' };
        const d = line[j]!;
        if (d === '"') break;
        if (d === "\\" && j + 1 < line.length && '"\\$`'.includes(line[j + 1]!)) {
          word += line[j + 1];
          j++;
        } else word += d;
      }
      i = j;
    } else if (c === "\\") {
      if (i + 1 >= line.length) return { error: "a \\ ends the line" };
      word += line[i + 1];
      inWord = true;
      i++;
    } else if (/\s/.test(c)) {
      if (inWord) argv.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) argv.push(word);
  return { argv };
}

function commandLine(c: CommandLine): { command: string; shell: boolean } {
  return typeof c === "string" ? { command: c, shell: true } : { command: joinCommand(c), shell: false };
}

export function draftService(s: PlannedService): ServiceDraft {
  return {
    orig: s,
    name: s.name,
    ...commandLine(s.command),
    port: s.port === undefined || s.port === null ? "" : String(s.port),
    env: Object.entries(s.env ?? {}).map(([name, value]) => ({ name, value })),
    health_path: s.health_path ?? "",
  };
}

export function draftPlan(plan: Plan): PlanDraft {
  return { plan, services: plan.services.map(draftService), cron_jobs: [...plan.cron_jobs], setup: [...plan.setup] };
}

function buildService(d: ServiceDraft, i: number, errors: FieldErrors): PlannedService {
  const out: PlannedService = { ...d.orig, name: d.name.trim() };
  if (!out.name) errors[serviceField(i, "name")] = "a service needs a name";
  if (d.shell) {
    if (!d.command.trim()) errors[serviceField(i, "command")] = "the command is empty";
    out.command = d.command;
  } else {
    const split = splitCommand(d.command);
    if ("error" in split) errors[serviceField(i, "command")] = split.error;
    else if (!split.argv.length) errors[serviceField(i, "command")] = "the command is empty";
    else out.command = split.argv;
  }
  const port = d.port.trim();
  delete out.port;
  if (port) {
    const n = /^\d+$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) errors[serviceField(i, "port")] = "a port is a whole number from 1 to 65535";
    else out.port = n;
  }
  const env: Record<string, string> = {};
  for (const row of d.env) {
    const name = row.name.trim();
    if (!name && !row.value) continue;
    if (!name) errors[serviceField(i, "env")] = "every value needs a variable name";
    else if (name in env) errors[serviceField(i, "env")] = `${name} is set twice`;
    else env[name] = row.value;
  }
  out.env = env;
  const health = d.health_path.trim();
  delete out.health_path;
  if (health) {
    if (!health.startsWith("/")) errors[serviceField(i, "health_path")] = "a health path starts with /";
    else out.health_path = health;
  }
  return out;
}

/** The body of `POST /api/onboard` from the screen's fields and the edited plan, or what is wrong. */
export function buildRequest(
  fields: { project: string; model: string; name: string },
  draft: PlanDraft,
): { request: OnboardRequest; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const project = fields.project.trim();
  if (!project) errors.project = "name a project or give its absolute path";
  const services = draft.services.map((d, i) => buildService(d, i, errors));
  const seen = new Set<string>();
  services.forEach((s, i) => {
    if (s.name && seen.has(s.name)) errors[serviceField(i, "name")] = `another service is named ${s.name}`;
    seen.add(s.name);
  });
  if (!services.length && !draft.cron_jobs.length) errors.plan = "nothing left to apply: every service and cron job was removed";
  const request: OnboardRequest = {
    project,
    plan: { ...draft.plan, services, cron_jobs: draft.cron_jobs, setup: draft.setup },
  };
  if (fields.model) request.model = fields.model;
  if (fields.name.trim()) request.name = fields.name.trim();
  return { request, errors };
}

/** The query of `GET /api/onboard/preview`. */
export function previewQuery(fields: { project: string; model: string; name: string }): string {
  const q = new URLSearchParams({ project: fields.project.trim() });
  if (fields.model) q.set("model", fields.model);
  if (fields.name.trim()) q.set("name", fields.name.trim());
  return `?${q}`;
}

/** Whether the job has ended (nothing more will change). */
export const jobDone = (j: OnboardJob) => j.status === "succeeded" || j.status === "failed";

/** The registered names that are services of the job's plan (they get links to their pages). */
export function registeredServices(j: OnboardJob): string[] {
  const services = new Set((j.plan?.services ?? []).map((s) => s.name));
  return j.registered.filter((n) => services.has(n));
}

/** A confidence (0..1) as a percentage. */
export const pct = (c: number) => `${Math.round(Math.max(0, Math.min(1, c)) * 100)} %`;

/**
 * Where an API error's `field` is shown: the input of that exact path, else the nearest one it is
 * inside of (`plan.services[0].env.PORT` -> `plan.services[0].env`, `plan.services[2]` -> that
 * service's name), else null (shown above the form).
 */
export function errorSlot(field: string | undefined, known: readonly string[]): string | null {
  if (!field) return null;
  if (known.includes(field)) return field;
  let best: string | null = null;
  for (const k of known) if (field.startsWith(`${k}.`) || field.startsWith(`${k}[`)) if (!best || k.length > best.length) best = k;
  if (best) return best;
  const svc = /^plan\.services\[(\d+)\]/.exec(field);
  if (svc && known.includes(serviceField(Number(svc[1]), "name"))) return serviceField(Number(svc[1]), "name");
  return null;
}

/** Every field path the editor has an input for. */
export function knownFields(draft: PlanDraft | null): string[] {
  const out = ["project", "model", "name"];
  draft?.services.forEach((_, i) => out.push(...["name", "command", "port", "env", "health_path"].map((f) => serviceField(i, f))));
  return out;
}

/** A command line as one line of text (an argv quoted shell-like). */
export const commandText = (c: CommandLine) => (typeof c === "string" ? c : joinCommand(c));

/**
 * Service draft `d` with its port changed to `port`, carried along where the plan used the old one:
 * env values equal to it (`PORT`) and command words equal to it (`--port 20001`) follow, so the
 * service still listens where it is registered. A word merely containing the number is left alone.
 */
export function setPort(d: ServiceDraft, port: string): void {
  const old = d.port.trim();
  d.port = port;
  const next = port.trim();
  if (!/^\d+$/.test(old) || !/^\d+$/.test(next)) return;
  for (const row of d.env) if (row.value === old) row.value = next;
  if (d.shell) d.command = d.command.replace(new RegExp(`(^|[\\s=:])${old}(?=$|\\s)`, "g"), `$1${next}`);
  else {
    const split = splitCommand(d.command);
    if ("argv" in split && split.argv.includes(old)) d.command = joinCommand(split.argv.map((w) => (w === old ? next : w)));
  }
}
