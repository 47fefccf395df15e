// `depends_on` in the service form: the rows the editor shows (name, condition, restart), kept in the
// flat draft as one JSON string (the draft holds only strings and booleans), read from either form the
// API accepts (a list of names, or the map a GET answers) and sent as the map. No DOM.
import type { Dependencies, DependencyCondition } from "../gen/api";

export const CONDITIONS: readonly DependencyCondition[] = ["started", "healthy", "completed"];

export interface DepRow {
  name: string;
  condition: DependencyCondition;
  restart: boolean;
}

export const emptyRow = (): DepRow => ({ name: "", condition: "started", restart: false });

/** The draft text of some rows ("" for none, so an untouched form stays empty). */
export function rowsText(rows: readonly DepRow[]): string {
  return rows.length ? JSON.stringify(rows) : "";
}

/** Compose's long condition names, as the API accepts them. */
function condition(s: unknown): DependencyCondition | null {
  switch (s) {
    case undefined:
    case "started":
    case "service_started":
      return "started";
    case "healthy":
    case "service_healthy":
      return "healthy";
    case "completed":
    case "service_completed_successfully":
      return "completed";
    default:
      return null;
  }
}

/**
 * The rows of a `depends_on` value: a list of names (each `started`) or a map of name to
 * `{condition, restart}`. Null for anything else (the raw JSON view then keeps it for the API to judge).
 */
export function rowsFromValue(v: unknown): DepRow[] | null {
  if (Array.isArray(v)) {
    if (!v.every((n) => typeof n === "string")) return null;
    return v.map((name: string) => ({ name, condition: "started" as const, restart: false }));
  }
  if (typeof v !== "object" || v === null) return null;
  const rows: DepRow[] = [];
  for (const [name, d] of Object.entries(v as Record<string, unknown>)) {
    if (typeof d !== "object" || d === null) return null;
    const dep = d as { condition?: unknown; restart?: unknown };
    const c = condition(dep.condition);
    if (c === null) return null;
    rows.push({ name, condition: c, restart: dep.restart === true });
  }
  return rows;
}

/** The rows in the draft (none when the text is empty or not rows: only this module writes it). */
export function rowsOf(text: string | boolean | undefined): DepRow[] {
  if (typeof text !== "string" || !text.trim()) return [];
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.map((r: Partial<DepRow> | null) => ({
    name: typeof r?.name === "string" ? r.name : "",
    condition: condition(r?.condition) ?? "started",
    restart: r?.restart === true,
  }));
}

/** The draft value of a `depends_on` from a view or a raw body ("" when it is not one of the forms). */
export function draftOf(v: unknown): string {
  const rows = rowsFromValue(v);
  return rows ? rowsText(rows) : "";
}

/**
 * The body's `depends_on` map from the draft's rows, or the error shown on the field: a row without a
 * service, a service listed twice. Undefined when there are no rows (the server's default: none).
 */
export function depsBody(text: string | boolean | undefined): { value?: Dependencies; error?: string } {
  const rows = rowsOf(text);
  if (!rows.length) return {};
  const value: Dependencies = {};
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const name = r.name.trim();
    if (!name) return { error: `dependency ${i + 1}: choose a service` };
    if (Object.prototype.hasOwnProperty.call(value, name)) return { error: `${name} is listed twice` };
    value[name] = { condition: r.condition, restart: r.restart };
  }
  return { value };
}
