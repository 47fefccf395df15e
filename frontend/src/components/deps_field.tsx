// The service form's `depends_on` editor: one row per dependency (the service, typed or picked from
// the registered ones; its condition; whether this service restarts with it), add and remove. The rows
// live in the draft as lib/form_deps.ts keeps them; the API's error on `depends_on` (an unknown
// service, a cycle `a -> b -> a`) is shown under the rows like other field errors (`depends_on-error`,
// each input `aria-invalid`).
import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import { CONDITIONS, emptyRow, rowsOf, rowsText, type DepRow } from "../lib/form_deps";
import type { FormState } from "./form_fields";

const PATH = "depends_on";

/** Names of the registered services (for the datalist), this one left out; asked for once `wanted`
 *  (a dependency row is being edited), not with every form. */
function useServiceNames(self: string, wanted: boolean): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    if (!wanted) return;
    let alive = true;
    get<{ name: string }[]>("/api/services").then(
      (list) => alive && setNames(list.map((s) => s.name).filter((n) => n !== self).sort()),
      // Only suggestions: a name can still be typed.
      () => {},
    );
    return () => {
      alive = false;
    };
  }, [self, wanted]);
  return names;
}

export function DepsField({ form }: { form: FormState }) {
  const self = typeof form.draft.name === "string" ? form.draft.name : "";
  const [wanted, setWanted] = useState(false);
  const names = useServiceNames(self, wanted);
  const rows = rowsOf(form.draft[PATH]);
  const error = form.errors[PATH];
  const set = (next: DepRow[]) => form.set(PATH, rowsText(next));
  // From the latest rows, not this render's: a change may still be waiting for its render.
  const latest = () => rowsOf(form.current(PATH));
  const update = (i: number, patch: Partial<DepRow>) => set(latest().map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const invalid = error ? { "aria-invalid": "true" as const, "aria-describedby": `${PATH}-error` } : { "aria-describedby": `${PATH}-hint` };
  return (
    <fieldset class="field wide deps-field" data-testid="depends-on">
      <legend class="mono">{PATH}</legend>
      {rows.length ? (
        <ul class="dep-rows">
          {rows.map((r, i) => (
            <li key={i} class="row dep-row">
              <input
                type="text"
                list="depends-on-services"
                aria-label={`dependency ${i + 1}`}
                placeholder="service"
                value={r.name}
                readOnly={form.readOnly}
                autoComplete="off"
                spellcheck={false}
                onFocus={() => setWanted(true)}
                onInput={(e) => update(i, { name: (e.currentTarget as HTMLInputElement).value })}
                {...invalid}
              />
              <select
                aria-label={`condition of dependency ${i + 1}`}
                value={r.condition}
                disabled={form.readOnly}
                onChange={(e) => update(i, { condition: (e.currentTarget as HTMLSelectElement).value as DepRow["condition"] })}
              >
                {CONDITIONS.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
              <label class="row">
                <input
                  type="checkbox"
                  aria-label={`restart with dependency ${i + 1}`}
                  checked={r.restart}
                  disabled={form.readOnly}
                  onChange={(e) => update(i, { restart: (e.currentTarget as HTMLInputElement).checked })}
                />
                restart with it
              </label>
              {!form.readOnly && (
                <button type="button" aria-label={`Remove dependency ${i + 1}`} onClick={() => set(latest().filter((_, j) => j !== i))}>
                  Remove
                </button>
              )}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">No dependencies.</p>
      )}
      {!form.readOnly && (
        <div>
          <button
            type="button"
            onClick={() => {
              setWanted(true);
              set([...latest(), emptyRow()]);
            }}
          >
            Add dependency
          </button>
        </div>
      )}
      <datalist id="depends-on-services">
        {names.map((n) => (
          <option key={n} value={n} />
        ))}
      </datalist>
      <span id={`${PATH}-hint`} class="hint muted">
        started first, in order; condition: started (running), healthy (its health check passed), completed (a
        one-shot that exited 0). restart with it: restart this service after that one restarted.
      </span>
      {error && (
        <span id={`${PATH}-error`} class="error">
          {error}
        </span>
      )}
    </fieldset>
  );
}
