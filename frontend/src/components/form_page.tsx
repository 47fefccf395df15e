// The page shared by the add/edit forms of services and cron jobs: loads the entry to edit, keeps the
// draft, switches to a raw JSON view of the exact body, saves (POST to add, PUT to edit), shows the
// API's errors next to the fields they name (else in a form-level alert), deletes after a confirmation,
// and shows entries owned by tend.toml read-only with the reason.
import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, del, get, post, put, seg } from "../api";
import { buildBody, draftFrom, mapError, unknownFields, type Draft, type FieldErrors, type FormModel } from "../lib/form";
import type { FormState } from "./form_fields";
import { ConfirmDialog } from "./form_confirm";

export interface EntryFormProps {
  /** "service" or "cron job": used in headings and messages. */
  noun: string;
  /** h1 when adding, e.g. "Add service". */
  addTitle: string;
  model: FormModel;
  /** REST collection, e.g. "/api/services". */
  api: string;
  /** Where an entry is shown, e.g. (n) => `/services/${n}`. */
  viewHref: (name: string) => string;
  /** Where to go after a delete or a cancelled add. */
  listHref: string;
  /** Present when editing. */
  name?: string;
  fields: (form: FormState, editing: boolean) => ComponentChildren;
}

function focusFirstError() {
  // After the render that shows the errors.
  requestAnimationFrame(() => {
    const el = document.querySelector<HTMLElement>('form [aria-invalid="true"], form [role="alert"]');
    el?.focus();
  });
}

export function EntryForm(p: EntryFormProps) {
  const { route } = useLocation();
  const editing = p.name !== undefined;
  // The handlers read the latest draft from refs: a submit can come in the same task as the last
  // keystroke, before the render that would give them a fresh closure.
  const [draft, setDraftState] = useState<Draft>(() => p.model.empty());
  const draftRef = useRef(draft);
  const setDraft = (d: Draft) => {
    draftRef.current = d;
    setDraftState(d);
  };
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [loading, setLoading] = useState(editing);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [source, setSource] = useState<string>("api");
  const [raw, setRawState] = useState<string | null>(null);
  const rawRef = useRef(raw);
  const setRaw = (r: string | null) => {
    rawRef.current = r;
    setRawState(r);
  };
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const alertRef = useRef<HTMLParagraphElement>(null);

  useEffect(() => {
    if (!editing) return;
    let live = true;
    setLoading(true);
    get<Record<string, unknown>>(`${p.api}/${seg(p.name!)}`).then(
      (view) => {
        if (!live) return;
        setDraft(draftFrom(p.model, view));
        setSource(String(view.source ?? "api"));
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setLoadError(e instanceof ApiError ? e.message : String(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [p.name]);

  const readOnly = source === "config";
  const form: FormState = {
    draft,
    errors,
    readOnly,
    set(path, value) {
      setDraft({ ...draftRef.current, [path]: value });
      if (errors[path]) setErrors((es) => {
        const { [path]: _gone, ...rest } = es;
        return rest;
      });
    },
    current: (path) => draftRef.current[path],
  };

  function showRaw(on: boolean) {
    if (on) {
      setRaw(JSON.stringify(buildBody(p.model, draftRef.current).body, null, 2));
      setErrors({});
      return;
    }
    try {
      const parsed: unknown = JSON.parse(rawRef.current ?? "{}");
      const unknown = unknownFields(p.model, parsed);
      if (unknown.length) {
        setErrors({ json: `the form has no field for ${unknown.join(", ")}: remove it, or save from this view` });
        return;
      }
      setDraft(draftFrom(p.model, parsed));
      setRaw(null);
      setErrors({});
    } catch (e) {
      setErrors({ json: `not valid JSON (${(e as Error).message})` });
    }
  }

  async function save(ev: Event) {
    ev.preventDefault();
    if (readOnly || busy) return;
    setFormError(null);
    let body: unknown;
    const raw = rawRef.current;
    if (raw !== null) {
      try {
        body = JSON.parse(raw);
      } catch (e) {
        setErrors({ json: `not valid JSON (${(e as Error).message})` });
        focusFirstError();
        return;
      }
    } else {
      const built = buildBody(p.model, draftRef.current);
      if (Object.keys(built.errors).length) {
        setErrors(built.errors);
        focusFirstError();
        return;
      }
      body = built.body;
    }
    setErrors({});
    setBusy(true);
    try {
      const saved = editing
        ? await put<{ name: string }>(`${p.api}/${seg(p.name!)}`, body)
        : await post<{ name: string }>(p.api, body);
      route(p.viewHref(saved.name ?? p.name ?? ""));
    } catch (e) {
      const mapped = mapError(e, p.model.fields, !editing);
      if (raw !== null) {
        // The raw view has no per-field inputs: the whole message goes to the form, naming the field.
        const field = e instanceof ApiError && e.field && e.field !== "body" ? `${e.field}: ` : "";
        setFormError(mapped.form ?? `${field}${e instanceof Error ? e.message : String(e)}`);
        setErrors({ json: "the API refused this body (see above)" });
      } else {
        setErrors(mapped.fields);
        setFormError(mapped.form);
      }
      focusFirstError();
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setDeleteError(null);
    try {
      await del(`${p.api}/${seg(p.name!)}`);
      setConfirming(false);
      route(p.listHref);
    } catch (e) {
      setDeleteError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  }

  const title = editing ? `Edit ${p.name}` : p.addTitle;
  if (loading) {
    return (
      <main class="page" aria-busy="true">
        <h1>{title}</h1>
        <p class="muted">Loading…</p>
      </main>
    );
  }
  if (loadError) {
    return (
      <main class="page">
        <h1>{title}</h1>
        <p role="alert" class="error">
          {loadError}
        </p>
        <a href={p.listHref}>Back</a>
      </main>
    );
  }

  return (
    <main class="page entry-form">
      <div class="row spread">
        <h1>{title}</h1>
        <div class="row">
          <button type="button" aria-pressed={raw !== null} onClick={() => showRaw(raw === null)}>
            Raw JSON
          </button>
          {editing && (
            <a class="button" href={p.viewHref(p.name!)}>
              Back
            </a>
          )}
        </div>
      </div>
      {readOnly && (
        <p class="notice" data-testid="read-only">
          <strong>Read-only: defined in tend.toml.</strong> This {p.noun} comes from the config file, which owns it:
          the file is reconciled at every boot, so an edit made here would be undone, and the API refuses it (409).
          Change it in tend.toml instead. Start, stop and run still work.
        </p>
      )}
      <form onSubmit={save} noValidate aria-label={title}>
        {formError && (
          <p role="alert" class="form-error" ref={alertRef} tabIndex={-1}>
            {formError}
          </p>
        )}
        {raw !== null ? (
          <div class="field wide">
            <label for="field-json">JSON</label>
            <textarea
              id="field-json"
              class="raw-json"
              rows={22}
              spellcheck={false}
              readOnly={readOnly}
              value={raw}
              onInput={(e) => setRaw((e.currentTarget as HTMLTextAreaElement).value)}
              aria-invalid={errors.json ? "true" : undefined}
              aria-describedby={errors.json ? "json-error" : "json-hint"}
            />
            <span id="json-hint" class="hint muted">
              The exact body {editing ? "PUT" : "POST"} sends. Switch back to the form to edit field by field.
            </span>
            {errors.json && (
              <span id="json-error" class="error">
                {errors.json}
              </span>
            )}
          </div>
        ) : (
          p.fields(form, editing)
        )}
        {!readOnly && (
          <div class="row actions">
            <button type="submit" class="primary" disabled={busy}>
              Save
            </button>
            <a class="button" href={editing ? p.viewHref(p.name!) : p.listHref}>
              Cancel
            </a>
            {editing && (
              <button type="button" class="danger push-right" onClick={() => setConfirming(true)}>
                Delete
              </button>
            )}
          </div>
        )}
      </form>
      {confirming && (
        <ConfirmDialog
          title={`Delete ${p.name}?`}
          confirm="Delete"
          busy={busy}
          error={deleteError}
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        >
          <p>
            The {p.noun} is stopped and its definition removed. Its history (logs, events
            {p.noun === "cron job" ? ", executions" : ""}) is kept.
          </p>
        </ConfirmDialog>
      )}
    </main>
  );
}
