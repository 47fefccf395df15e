// A chat with the configured model (`POST /api/chat`, its answer read as Server-Sent Events from the
// fetch body): the conversation so far (`GET /api/chat/conversations/{id}`), then each exchange as it
// streams in: the answer's text piece by piece, the tools the model used (name, collapsible answer),
// and each proposed action as a card the person may confirm (components/proposal_card). "Stop" aborts
// the request, which cancels the model's call upstream. Used by the chat screen and, with `service`
// set, on a service's page. Everything the model wrote is untrusted: rendered as text, no markdown.
import { Fragment, type ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, get, postStream, seg } from "../api";
import { ModelSelect, useLlm } from "./model_select";
import { ProposalCard } from "./proposal_card";
import { applyChatEvent, chatEvent, newExchange, type Exchange } from "../lib/chat";
import { visible } from "../lib/text";
import type { ChatMessage, ChatRequest, ChatToolUse, Conversation } from "../gen/api";

function ToolUse({ t }: { t: ChatToolUse }) {
  return (
    <details class="tool-use" data-testid="tool-use">
      <summary>
        <span class="badge idle">tool</span> <span class="mono">{visible(t.name)}</span> <span class="muted mono">{visible(t.arguments)}</span>
      </summary>
      <pre class="output">{visible(t.result)}</pre>
    </details>
  );
}

function Turn(p: { who: "user" | "assistant"; text: string; tools?: ChatToolUse[]; children?: ComponentChildren; testid?: string }) {
  return (
    <li class={`chat-turn ${p.who}`} data-testid={p.testid ?? `chat-${p.who}`}>
      <span class="chat-who">{p.who === "user" ? "You" : "tend"}</span>
      {(p.tools ?? []).map((t, i) => (
        <ToolUse key={i} t={t} />
      ))}
      {p.text ? <div class="chat-text">{visible(p.text)}</div> : null}
      {p.children}
    </li>
  );
}

function History({ messages }: { messages: ChatMessage[] }) {
  return (
    <>
      {messages.map((m) =>
        m.role === "user" ? (
          <Turn key={m.id} who="user" text={m.content} />
        ) : m.role === "assistant" ? (
          <Turn key={m.id} who="assistant" text={m.content} tools={m.tools}>
            {m.proposals.map((p, i) => (
              <ProposalCard key={i} p={p} />
            ))}
          </Turn>
        ) : (
          (m.tools.length ? m.tools : [{ name: "tool", arguments: "", result: m.content }]).map((t, i) => (
            <li key={`${m.id}-${i}`} class="chat-turn tool">
              <ToolUse t={t} />
            </li>
          ))
        ),
      )}
    </>
  );
}

export function ChatPanel(p: {
  /** Talk about this service (its context goes with the first message). */
  service?: string | undefined;
  /** Show and continue this conversation; null: a new one. */
  conversation: string | null;
  /** A new conversation was started (its id), or an exchange ended (the list may change). */
  onConversation?: (id: string) => void;
}) {
  const { models: llm, none: noModel } = useLlm();
  const [model, setModel] = useState("");
  const [history, setHistory] = useState<ChatMessage[]>([]);
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [exchanges, setExchanges] = useState<Exchange[]>([]);
  const [message, setMessage] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [fieldError, setFieldError] = useState<{ field: string; message: string } | null>(null);
  const conv = useRef<string | null>(p.conversation);
  const abort = useRef<AbortController | null>(null);
  const streaming = exchanges.some((e) => e.status === "streaming");

  useEffect(() => {
    // The conversation this panel just started comes back as the prop: it is already on screen.
    if (p.conversation !== null && p.conversation === conv.current && (exchanges.length || history.length)) return;
    abort.current?.abort();
    conv.current = p.conversation;
    setExchanges([]);
    setHistory([]);
    setHistoryError(null);
    setError(null);
    if (!p.conversation) return;
    let alive = true;
    get<Conversation>(`/api/chat/conversations/${seg(p.conversation)}`).then(
      (c) => alive && setHistory(c.messages),
      (e: unknown) => alive && setHistoryError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      alive = false;
    };
  }, [p.conversation]);

  useEffect(() => () => abort.current?.abort(), []);

  const update = (fn: (e: Exchange) => Exchange) => setExchanges((xs) => (xs.length ? [...xs.slice(0, -1), fn(xs[xs.length - 1]!)] : xs));

  const send = async (ev: Event) => {
    ev.preventDefault();
    const text = message;
    if (!text.trim() || streaming) return;
    setError(null);
    setFieldError(null);
    const req: ChatRequest = { message: text };
    if (conv.current) req.conversation = conv.current;
    if (p.service) req.service = p.service;
    if (model) req.model = model;
    const ctrl = new AbortController();
    abort.current = ctrl;
    setExchanges((xs) => [...xs, newExchange(text)]);
    setMessage("");
    let began = false;
    try {
      await postStream(
        "/api/chat",
        req,
        (m) => {
          began = true;
          const e = chatEvent(m);
          if (!e) return;
          if (e.type === "conversation") {
            conv.current = e.id;
            p.onConversation?.(e.id);
          } else update((x) => applyChatEvent(x, e));
        },
        ctrl.signal,
      );
      update((x) => (x.status !== "streaming" ? x : ctrl.signal.aborted ? { ...x, status: "stopped" } : { ...x, status: "error", error: "the answer ended before it was complete" }));
    } catch (e) {
      if (began) {
        // Broke off midway: the message is stored, the answer is not.
        update((x) => ({ ...x, status: "error", error: e instanceof Error ? e.message : String(e) }));
        return;
      }
      // Refused before the stream began: nothing of this exchange exists; give the message back.
      setExchanges((xs) => xs.slice(0, -1));
      setMessage(text);
      if (e instanceof ApiError && e.field && (e.field === "message" || e.field === "model" || e.field === "service")) setFieldError({ field: e.field, message: e.message });
      else setError(e instanceof Error ? e.message : String(e));
    } finally {
      if (abort.current === ctrl) abort.current = null;
      if (conv.current) p.onConversation?.(conv.current);
    }
  };

  const stop = () => abort.current?.abort();
  const msgError = fieldError && fieldError.field !== "model" ? fieldError : null;
  return (
    <div class="chat" data-testid="chat">
      {p.service ? (
        <p class="muted">
          About service <span class="mono">{visible(p.service)}</span>: its definition, recent events, log tail and metrics go with the first message. The chat only reads; actions it proposes wait for your
          click.
        </p>
      ) : null}
      {noModel ? (
        <p class="notice" data-testid="chat-no-model">
          No model is configured: the chat needs one (<span class="mono">[llm.models]</span> in tend.toml).
        </p>
      ) : null}
      {historyError ? (
        <p role="alert" class="error-box">
          {historyError}
        </p>
      ) : null}
      <ol class="chat-log" aria-live="polite" aria-label="Conversation">
        <History messages={history} />
        {exchanges.map((x, i) => (
          <Fragment key={i}>
            <Turn who="user" text={x.user} />
            <Turn who="assistant" text={x.text} tools={x.tools} testid="chat-answer">
              {x.status === "streaming" && !x.text ? (
                <span class="muted" aria-busy="true">
                  thinking…
                </span>
              ) : null}
              {x.proposals.map((pr, j) => (
                <ProposalCard key={j} p={pr} />
              ))}
              {x.status === "error" ? (
                <p role="alert" class="error-box" data-testid="chat-error">
                  {visible(x.error ?? "failed")}
                </p>
              ) : x.status === "stopped" ? (
                <p class="muted" data-testid="chat-stopped">
                  Stopped; this answer was not kept.
                </p>
              ) : x.status === "done" && x.usage ? (
                <p class="muted chat-usage">{x.usage.input_tokens + x.usage.output_tokens} tokens</p>
              ) : null}
            </Turn>
          </Fragment>
        ))}
      </ol>
      {!history.length && !exchanges.length && !historyError ? <p class="muted">Ask about your services: what is failing, why, what to do.</p> : null}
      {error ? (
        <p role="alert" class="error-box" data-testid="chat-error">
          {error}
        </p>
      ) : null}
      <form class="chat-form" onSubmit={send}>
        <div class="field wide">
          <label for="chat-message">Message</label>
          <textarea
            id="chat-message"
            rows={3}
            value={message}
            aria-invalid={msgError ? "true" : undefined}
            aria-describedby={msgError ? "chat-message-error" : undefined}
            onInput={(e) => setMessage((e.currentTarget as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(e);
            }}
          />
          {msgError ? (
            <span id="chat-message-error" class="error">
              {msgError.field === "service" ? `service: ${msgError.message}` : msgError.message}
            </span>
          ) : null}
        </div>
        <div class="row">
          <ModelSelect llm={llm} id="chat-model" value={model} onChange={setModel} error={fieldError?.field === "model" ? fieldError.message : undefined} />
          <button type="submit" class="primary" disabled={streaming || !message.trim()}>
            Send
          </button>
          {streaming ? (
            <button type="button" onClick={stop}>
              Stop
            </button>
          ) : null}
        </div>
      </form>
    </div>
  );
}
