// The model picker of the onboarding screen and the chat: the models of `GET /api/llm`, hidden when
// none is configured (the request then names no model and the daemon uses its default, or none).
import { useEffect, useState } from "preact/hooks";
import { get } from "../api";
import type { LlmStatus } from "../gen/api";

/** The configured models, or null when there are none (or the daemon does not say). */
export function useModels(): LlmStatus | null {
  return useLlm().models;
}

/** `models` as `useModels`; `none` once the daemon said no model is configured (not before). */
export function useLlm(): { models: LlmStatus | null; none: boolean } {
  const [state, setState] = useState<{ models: LlmStatus | null; none: boolean }>({ models: null, none: false });
  useEffect(() => {
    let alive = true;
    get<LlmStatus>("/api/llm").then(
      (s) => alive && setState(s.configured && s.models.length ? { models: s, none: false } : { models: null, none: true }),
      () => {},
    );
    return () => {
      alive = false;
    };
  }, []);
  return state;
}

export function ModelSelect(p: {
  llm: LlmStatus | null;
  value: string;
  onChange: (v: string) => void;
  /** The default option's text ("default (opus)" when unset). */
  none?: string;
  error?: string | undefined;
  id?: string;
}) {
  if (!p.llm) return null;
  const id = p.id ?? "field-model";
  return (
    <div class="field">
      <label for={id}>Model</label>
      <select
        id={id}
        value={p.value}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={p.error ? `${id}-error` : undefined}
        onChange={(e) => p.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">{p.none ?? `default${p.llm.default ? ` (${p.llm.default})` : ""}`}</option>
        {p.llm.models.map((m) => (
          <option key={m.name} value={m.name}>
            {m.name}
          </option>
        ))}
      </select>
      {p.error ? (
        <span id={`${id}-error`} class="error">
          {p.error}
        </span>
      ) : null}
    </div>
  );
}
