// The chat's logic without any DOM (tested in chat.test.ts): the SSE messages of `POST /api/chat`
// turned into `ChatEvent`s and folded into the exchange being shown (text in order, tools, proposals,
// the end), the conversation list however the daemon wraps it, and what a confirmed proposal calls:
// the dashboard's ordinary API (start/stop/restart, fix, or the service's definition with the
// proposed `changes` put back), never anything the chat itself does.
import { get, post, put, seg } from "../api";
import type { ChatEvent, ChatProposal, ChatToolUse, ConversationSummary, JsonValue, Usage } from "../gen/api";
import type { SseMessage } from "./sse";

export const ACTIONS = ["start", "stop", "restart", "fix", "edit"] as const;
export type Action = (typeof ACTIONS)[number];

export interface Exchange {
  /** The person's message. */
  user: string;
  /** The answer so far. */
  text: string;
  tools: ChatToolUse[];
  proposals: ChatProposal[];
  status: "streaming" | "done" | "error" | "stopped";
  error?: string;
  usage?: Usage;
}

export const newExchange = (user: string): Exchange => ({ user, text: "", tools: [], proposals: [], status: "streaming" });

/** The event an SSE message carries, or null when it is not one of the chat's (ignored). */
export function chatEvent(m: SseMessage): ChatEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(m.data);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null) return null;
  const type = (data as { type?: unknown }).type ?? m.event;
  if (typeof type !== "string") return null;
  return { ...(data as object), type } as ChatEvent;
}

/** `ex` after `ev` (the conversation id is the caller's business). */
export function applyChatEvent(ex: Exchange, ev: ChatEvent): Exchange {
  switch (ev.type) {
    case "delta":
      return { ...ex, text: ex.text + (typeof ev.text === "string" ? ev.text : "") };
    case "tool":
      return { ...ex, tools: [...ex.tools, { name: ev.name, arguments: ev.arguments, result: ev.result }] };
    case "proposal": {
      const p: ChatProposal = { action: ev.action, service: ev.service, reason: ev.reason };
      if (ev.changes !== undefined) p.changes = ev.changes;
      return { ...ex, proposals: [...ex.proposals, p] };
    }
    case "done":
      return { ...ex, status: "done", usage: ev.usage };
    case "error":
      return { ...ex, status: "error", error: `${ev.message} (${ev.code})` };
    default:
      return ex;
  }
}

/** `GET /api/chat/conversations` as a list, whether it answers a bare array or `{conversations}`. */
export function conversationList(x: unknown): ConversationSummary[] {
  if (Array.isArray(x)) return x as ConversationSummary[];
  const inner = (x as { conversations?: unknown } | null)?.conversations;
  return Array.isArray(inner) ? (inner as ConversationSummary[]) : [];
}

export const isAction = (a: string): a is Action => (ACTIONS as readonly string[]).includes(a);

/** What the confirm button says, e.g. "Restart web". */
export function actionLabel(p: ChatProposal): string {
  const verb = p.action === "edit" ? "Edit" : p.action === "fix" ? "Fix" : p.action.charAt(0).toUpperCase() + p.action.slice(1);
  return `${verb} ${p.service}`;
}

/** What confirming does, in a sentence. */
export function actionEffect(p: ChatProposal): string {
  switch (p.action) {
    case "start":
    case "stop":
    case "restart":
      return `tend will ${p.action} the service ${p.service} now.`;
    case "fix":
      return `tend's fixer will diagnose ${p.service} and propose a fix (applied as your fix settings say).`;
    case "edit":
      return `The definition of ${p.service} will be changed as shown, and the service restarted if it runs.`;
    default:
      return "This action is not one the dashboard knows.";
  }
}

/** The service definition after the proposed changes: the fields of `changes` replace the view's. */
export function edited(view: Record<string, unknown>, changes: JsonValue | undefined): Record<string, unknown> {
  if (!changes || typeof changes !== "object" || Array.isArray(changes)) throw new Error("the proposal carries no changes to make");
  return { ...view, ...changes };
}

/** Carries out a confirmed proposal through the ordinary API; answers a sentence saying what happened. */
export async function runProposal(p: ChatProposal): Promise<{ text: string; link?: string }> {
  const base = `/api/services/${seg(p.service)}`;
  switch (p.action) {
    case "start":
    case "stop":
    case "restart": {
      const r = await post<{ state?: { status?: string } }>(`${base}/${p.action}`);
      return { text: `${p.action}: done${r?.state?.status ? `, ${p.service} is ${r.state.status}` : ""}` };
    }
    case "fix": {
      const f = await post<{ id: string; status: string }>(`${base}/fix`, {});
      return { text: `fix ${f.id} started (${f.status})`, link: `/fixes/${seg(f.id)}` };
    }
    case "edit": {
      const view = await get<Record<string, unknown>>(base);
      await put(base, edited(view, p.changes));
      return { text: `edit: ${p.service}'s definition is changed` };
    }
    default:
      throw new Error(`unknown action ${JSON.stringify(p.action)}`);
  }
}
