// The logic of the add/edit forms, without any DOM: a form is a flat draft keyed by the API's dotted
// field paths (`backoff.multiplier`, `health.probe`), turned into the exact JSON body the API takes
// (only what the user set, so the server's defaults apply to the rest) and back from a view; and an
// API error `{code, message, field}` turned into the field it names, or a form-level message.
import { ApiError } from "../api";
import { depsBody, draftOf } from "./form_deps";

/** How a field's text becomes JSON. */
export type Kind =
  | "text" // a string; empty = left out
  | "int" // a non-negative whole number
  | "float" // a number
  | "bool" // a checkbox; always sent
  | "select" // one of `options`; always sent when set
  | "lines" // one string per line -> array
  | "map" // KEY=VALUE per line -> object
  | "json" // a JSON object
  | "command" // string (shell) or argv (one per line), by the draft's `command_mode`
  | "deps"; // `depends_on` rows (lib/form_deps.ts) -> the map of name to {condition, restart}

export interface FieldDef {
  path: string;
  kind: Kind;
  options?: readonly string[];
}

/** Text inputs hold strings, checkboxes booleans; `command_mode` is `shell` or `argv`. */
export type Draft = Record<string, string | boolean>;
export type FieldErrors = Record<string, string>;

export interface FormModel {
  fields: readonly FieldDef[];
  /** The draft of a new entry. */
  empty(): Draft;
  /**
   * Groups sent only when one of their fields is set (`health`: all of it is left out when empty, so a
   * service without a check stays without one).
   */
  optionalGroups?: readonly string[];
}

const INT = /^\d+$/;

function setPath(obj: Record<string, unknown>, path: string, value: unknown) {
  const parts = path.split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const p of path.split(".")) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/** `KEY=VALUE` per line (split at the first `=`; blank lines ignored) -> object, or an error. */
export function parseMap(text: string): { value: Record<string, string> } | { error: string } {
  const value: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) return { error: `line ${i + 1}: expected KEY=VALUE` };
    const key = line.slice(0, eq).trim();
    if (Object.prototype.hasOwnProperty.call(value, key)) return { error: `line ${i + 1}: ${key} is set twice` };
    value[key] = line.slice(eq + 1);
  }
  return { value };
}

const lines = (text: string) =>
  text
    .split("\n")
    .map((l) => l.replace(/\r$/, ""))
    .filter((l) => l.trim() !== "");

/**
 * The request body for a draft: only fields the user set, converted to their JSON types. Values the
 * browser can tell are malformed (a word in a number field, a line without `=`) are reported per field
 * and left out; everything else is the server's to judge.
 */
export function buildBody(model: FormModel, draft: Draft): { body: Record<string, unknown>; errors: FieldErrors } {
  const body: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  const groups = model.optionalGroups ?? [];
  const groupSet = (g: string) =>
    model.fields.some((f) => f.path.startsWith(`${g}.`) && f.kind !== "bool" && String(draft[f.path] ?? "").trim() !== "");
  for (const f of model.fields) {
    const group = groups.find((g) => f.path.startsWith(`${g}.`));
    if (group && !groupSet(group)) continue;
    const raw = draft[f.path];
    if (f.kind === "bool") {
      if (typeof raw === "boolean") setPath(body, f.path, raw);
      continue;
    }
    const text = typeof raw === "string" ? raw : "";
    const trimmed = text.trim();
    if (f.kind === "command") {
      // Always sent, even empty, so the server's "must not be empty" lands on `command`.
      setPath(body, f.path, draft.command_mode === "argv" ? lines(text) : trimmed ? text : "");
      continue;
    }
    if (trimmed === "") continue;
    switch (f.kind) {
      case "text":
      case "select":
        setPath(body, f.path, trimmed);
        break;
      case "int":
        if (INT.test(trimmed) && Number.isSafeInteger(Number(trimmed))) setPath(body, f.path, Number(trimmed));
        else errors[f.path] = "must be a whole number (0 or more)";
        break;
      case "float": {
        const n = Number(trimmed);
        if (Number.isFinite(n)) setPath(body, f.path, n);
        else errors[f.path] = "must be a number";
        break;
      }
      case "lines":
        setPath(body, f.path, lines(text));
        break;
      case "map": {
        const m = parseMap(text);
        if ("error" in m) errors[f.path] = m.error;
        else setPath(body, f.path, m.value);
        break;
      }
      case "deps": {
        const d = depsBody(text);
        if (d.error) errors[f.path] = d.error;
        else if (d.value) setPath(body, f.path, d.value);
        break;
      }
      case "json": {
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch (e) {
          errors[f.path] = `not valid JSON (${(e as Error).message})`;
          break;
        }
        if (typeof v !== "object" || v === null || Array.isArray(v)) errors[f.path] = "must be a JSON object";
        else setPath(body, f.path, v);
        break;
      }
    }
  }
  return { body, errors };
}

/** The draft showing an existing entry (a GET view, or a body typed into the raw JSON view). */
export function draftFrom(model: FormModel, view: unknown): Draft {
  const draft: Draft = { ...model.empty() };
  for (const f of model.fields) {
    const v = getPath(view, f.path);
    if (v === undefined || v === null) {
      if (f.kind !== "bool" && f.kind !== "select") draft[f.path] = "";
      continue;
    }
    switch (f.kind) {
      case "bool":
        draft[f.path] = v === true;
        break;
      case "command":
        draft.command_mode = Array.isArray(v) ? "argv" : "shell";
        draft[f.path] = Array.isArray(v) ? v.map(String).join("\n") : String(v);
        break;
      case "lines":
        draft[f.path] = Array.isArray(v) ? v.map(String).join("\n") : String(v);
        break;
      case "map":
        draft[f.path] =
          typeof v === "object"
            ? Object.entries(v as Record<string, unknown>)
                .map(([k, val]) => `${k}=${String(val)}`)
                .join("\n")
            : String(v);
        break;
      case "deps":
        draft[f.path] = draftOf(v);
        break;
      case "json":
        // An empty object is the default: shown as an empty field so the form stays quiet.
        draft[f.path] =
          typeof v === "object" && Object.keys(v as object).length === 0 ? "" : JSON.stringify(v, null, 2);
        break;
      default:
        draft[f.path] = String(v);
    }
  }
  return draft;
}

/**
 * Paths in `body` the form has no input for (`foo`, `backoff.foo`): switching from the raw JSON view to
 * the form would drop them, so the form refuses and names them.
 */
export function unknownFields(model: FormModel, body: unknown): string[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return [];
  const paths = new Set(model.fields.map((f) => f.path));
  const groups = new Set(model.fields.filter((f) => f.path.includes(".")).map((f) => f.path.split(".")[0]!));
  const out: string[] = [];
  for (const [k, v] of Object.entries(body)) {
    if (paths.has(k)) continue;
    if (!groups.has(k)) {
      out.push(k);
      continue;
    }
    if (typeof v === "object" && v !== null && !Array.isArray(v))
      for (const sub of Object.keys(v)) if (!paths.has(`${k}.${sub}`)) out.push(`${k}.${sub}`);
  }
  return out;
}

/**
 * Which form field an API error's `field` belongs to: the field itself, or the nearest field above it
 * (`env.FOO` -> `env`, `watch_dirs[2]` -> `watch_dirs`, `health.config.url` -> `health.config`); null
 * for `body`, no field, or a path the form does not show (then it is a form-level message).
 */
export function fieldOf(apiField: string | undefined, fields: readonly FieldDef[]): string | null {
  if (!apiField || apiField === "body") return null;
  const known = new Set(fields.map((f) => f.path));
  let path = apiField;
  for (;;) {
    if (known.has(path)) return path;
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    if (cut <= 0) return null;
    path = path.slice(0, cut);
  }
}

export interface MappedError {
  /** Errors shown next to their fields. */
  fields: FieldErrors;
  /** A message for the form as a whole (role="alert"), or null. */
  form: string | null;
}

/**
 * An error from saving, mapped for display. `creating`: a 409 without a field on a create is the name
 * being taken, so it is shown on `name`.
 */
export function mapError(e: unknown, fields: readonly FieldDef[], creating = false): MappedError {
  if (!(e instanceof ApiError)) return { fields: {}, form: String(e) };
  const target =
    fieldOf(e.field, fields) ?? (creating && e.code === "conflict" && !e.field && fields.some((f) => f.path === "name") ? "name" : null);
  if (target) return { fields: { [target]: e.message }, form: null };
  const where = e.field && e.field !== "body" ? `${e.field}: ` : "";
  return { fields: {}, form: `${where}${e.message}` };
}
