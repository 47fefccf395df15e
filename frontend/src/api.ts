// The one way the dashboard talks to the REST API: same-origin fetch with the session cookie (the
// browser sends it; the token never reaches this code), JSON in and out, and the API's error shape
// `{"error":{"code","message","field"}}` turned into an `ApiError` that forms map onto their fields.
// `postStream` is the same for a POST answered with Server-Sent Events (the chat).
import { signal } from "@preact/signals";
import { readSse, type SseMessage } from "./lib/sse";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** False once the API answered 401: the app shows the sign-in page. */
export const signedIn = signal<boolean | null>(null);

// Counts sign-ins: a 401 answering a request sent before the latest sign-in (e.g. the shell's first
// status check, racing the one-time link's exchange) says nothing about the new session.
let generation = 0;

/** Called once a sign-in succeeded. */
export function markSignedIn() {
  generation += 1;
  signedIn.value = true;
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

export async function request<T>(method: Method, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] = "application/json";
  }
  const sentIn = generation;
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network", `the daemon cannot be reached (${String(e)})`);
  }
  if (res.status === 401 && sentIn === generation) signedIn.value = false;
  const text = await res.text();
  let json: unknown = undefined;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      if (!res.ok) throw new ApiError(res.status, "http", text.slice(0, 200));
      throw new ApiError(res.status, "http", "the daemon answered something that is not JSON");
    }
  }
  if (!res.ok) throw errorOf(res, json);
  return json as T;
}

function errorOf(res: Response, json: unknown): ApiError {
  const err = (json as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
  return new ApiError(res.status, err?.code ?? "http", err?.message ?? res.statusText, err?.field);
}

/**
 * POSTs `body` and reads the answer as Server-Sent Events, calling `onMessage` for each, until the
 * stream ends or `signal` aborts (which also cancels the request, so the daemon sees the client go).
 * A refusal before the stream starts (4xx/5xx JSON) throws an `ApiError` like `request`; an abort
 * resolves quietly.
 */
export async function postStream(path: string, body: unknown, onMessage: (m: SseMessage) => void, signal?: AbortSignal): Promise<void> {
  const init: RequestInit = {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
  };
  if (signal) init.signal = signal;
  const sentIn = generation;
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (signal?.aborted) return;
    throw new ApiError(0, "network", `the daemon cannot be reached (${String(e)})`);
  }
  if (res.status === 401 && sentIn === generation) signedIn.value = false;
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(res.status, "http", text.slice(0, 200) || res.statusText);
    }
    throw errorOf(res, json);
  }
  if (!res.body) throw new ApiError(res.status, "http", "the daemon answered without a body");
  try {
    await readSse(res.body, onMessage, signal);
  } catch (e) {
    if (signal?.aborted) return;
    throw new ApiError(0, "network", `the answer broke off (${String(e)})`);
  }
}

export const get = <T>(path: string) => request<T>("GET", path);
export const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {});
export const put = <T>(path: string, body: unknown) => request<T>("PUT", path, body);
export const del = <T>(path: string) => request<T>("DELETE", path);

/** `encodeURIComponent` for one path segment (service and job names). */
export const seg = (s: string) => encodeURIComponent(s);

/** A query string from defined values only. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}
