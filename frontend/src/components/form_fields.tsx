// Inputs of the add/edit forms. Each is labelled by its API field name (the UI contract: e2e finds
// them by it), shows a hint, and shows the field's error next to it: `<path>-error`, with the input
// `aria-invalid="true"` and `aria-describedby="<path>-error"`.
import type { ComponentChildren } from "preact";
import type { Draft, FieldErrors } from "../lib/form";

export interface FormState {
  draft: Draft;
  errors: FieldErrors;
  set(path: string, value: string | boolean): void;
  /** The latest value, including a change not rendered yet (two edits in one task build on each other). */
  current(path: string): string | boolean | undefined;
  readOnly: boolean;
}

const inputId = (path: string) => `field-${path}`;

function described(path: string, error: string | undefined, hint: unknown) {
  if (error) return { "aria-invalid": "true" as const, "aria-describedby": `${path}-error` };
  return hint ? { "aria-describedby": `${path}-hint` } : {};
}

function Wrap(props: { path: string; form: FormState; hint?: ComponentChildren; children: ComponentChildren; wide?: boolean }) {
  const error = props.form.errors[props.path];
  return (
    <div class={`field${props.wide ? " wide" : ""}`}>
      <label for={inputId(props.path)} class="mono">
        {props.path}
      </label>
      {props.children}
      {props.hint && (
        <span id={`${props.path}-hint`} class="hint muted">
          {props.hint}
        </span>
      )}
      {error && (
        <span id={`${props.path}-error`} class="error">
          {error}
        </span>
      )}
    </div>
  );
}

interface FieldProps {
  path: string;
  form: FormState;
  hint?: ComponentChildren;
  placeholder?: string;
  /** `number` shows a numeric keyboard on phones (the value is still parsed by the model). */
  inputMode?: "numeric" | "decimal";
  required?: boolean;
  disabled?: boolean;
}

export function TextField(p: FieldProps) {
  const v = p.form.draft[p.path];
  return (
    <Wrap path={p.path} form={p.form} hint={p.hint}>
      <input
        id={inputId(p.path)}
        type="text"
        value={typeof v === "string" ? v : ""}
        placeholder={p.placeholder}
        inputMode={p.inputMode}
        required={p.required}
        readOnly={p.form.readOnly || p.disabled}
        autoComplete="off"
        spellcheck={false}
        onInput={(e) => p.form.set(p.path, (e.currentTarget as HTMLInputElement).value)}
        {...described(p.path, p.form.errors[p.path], p.hint)}
      />
    </Wrap>
  );
}

export function AreaField(p: FieldProps & { rows?: number }) {
  const v = p.form.draft[p.path];
  return (
    <Wrap path={p.path} form={p.form} hint={p.hint} wide>
      <textarea
        id={inputId(p.path)}
        rows={p.rows ?? 3}
        value={typeof v === "string" ? v : ""}
        placeholder={p.placeholder}
        readOnly={p.form.readOnly}
        spellcheck={false}
        onInput={(e) => p.form.set(p.path, (e.currentTarget as HTMLTextAreaElement).value)}
        {...described(p.path, p.form.errors[p.path], p.hint)}
      />
    </Wrap>
  );
}

export function SelectField(p: FieldProps & { options: readonly string[] }) {
  const v = p.form.draft[p.path];
  return (
    <Wrap path={p.path} form={p.form} hint={p.hint}>
      <select
        id={inputId(p.path)}
        value={typeof v === "string" ? v : ""}
        disabled={p.form.readOnly}
        onChange={(e) => p.form.set(p.path, (e.currentTarget as HTMLSelectElement).value)}
        {...described(p.path, p.form.errors[p.path], p.hint)}
      >
        {p.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </Wrap>
  );
}

export function CheckField(p: FieldProps) {
  const error = p.form.errors[p.path];
  return (
    <div class="field check">
      <label class="row">
        <input
          type="checkbox"
          id={inputId(p.path)}
          checked={p.form.draft[p.path] === true}
          disabled={p.form.readOnly}
          onChange={(e) => p.form.set(p.path, (e.currentTarget as HTMLInputElement).checked)}
          {...described(p.path, error, p.hint)}
        />
        <span class="mono">{p.path}</span>
      </label>
      {p.hint && (
        <span id={`${p.path}-hint`} class="hint muted">
          {p.hint}
        </span>
      )}
      {error && (
        <span id={`${p.path}-error`} class="error">
          {error}
        </span>
      )}
    </div>
  );
}

/** `command`: a shell string or an argv, one argument per line (the radio picks which). */
export function CommandField(p: { form: FormState }) {
  const argv = p.form.draft.command_mode === "argv";
  const hint = argv
    ? "argv: one argument per line, run directly"
    : "run through /bin/sh -c (switch to argv to run a program directly)";
  return (
    <>
      <fieldset class="field wide radio-row" disabled={p.form.readOnly}>
        <legend class="muted">command form</legend>
        <label>
          <input
            type="radio"
            name="command_mode"
            checked={!argv}
            onChange={() => p.form.set("command_mode", "shell")}
          />{" "}
          shell string
        </label>
        <label>
          <input type="radio" name="command_mode" checked={argv} onChange={() => p.form.set("command_mode", "argv")} />{" "}
          argv array
        </label>
      </fieldset>
      {argv ? (
        <AreaField path="command" form={p.form} hint={hint} rows={4} placeholder={"python3\napp.py"} />
      ) : (
        <Wrap path="command" form={p.form} hint={hint} wide>
          <input
            id={inputId("command")}
            type="text"
            value={String(p.form.draft.command ?? "")}
            readOnly={p.form.readOnly}
            autoComplete="off"
            spellcheck={false}
            placeholder="python3 -m http.server 8000"
            onInput={(e) => p.form.set("command", (e.currentTarget as HTMLInputElement).value)}
            {...described("command", p.form.errors.command, hint)}
          />
        </Wrap>
      )}
    </>
  );
}

/** A titled group of fields laid out in a responsive grid. */
export function Group(props: { title: string; children: ComponentChildren }) {
  return (
    <fieldset class="form-group">
      <legend>{props.title}</legend>
      <div class="form-grid">{props.children}</div>
    </fieldset>
  );
}
