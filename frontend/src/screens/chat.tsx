// Chat (/chat): the stored conversations on the side (newest first; open one, delete one behind a
// confirmation) and the chat panel (components/chat_panel) for the open one or a new one.
// `?service=NAME` starts a conversation about that service (the service page's "Ask about this
// service"); `?c=ID` opens a stored conversation.
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { del, get, seg } from "../api";
import { ChatPanel } from "../components/chat_panel";
import { ConfirmDialog } from "../components/confirm_dialog";
import { conversationList } from "../lib/chat";
import { fmtTime } from "../lib/format";
import { useLive } from "../lib/use_live";
import { visible } from "../lib/text";
import type { ConversationSummary } from "../gen/api";

export function Chat() {
  const { query, route } = useLocation();
  const open = query.c ?? null;
  const service = query.service || undefined;
  const list = useLive(() => get<unknown>("/api/chat/conversations").then(conversationList), []);
  const [deleting, setDeleting] = useState<ConversationSummary | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const conversations = list.data ?? [];
  const current = conversations.find((c) => c.id === open);
  const about = service ?? current?.service;

  const go = (c: string | null) => route(c ? `/chat?c=${encodeURIComponent(c)}` : "/chat");
  const remove = async () => {
    if (!deleting) return;
    setBusy(true);
    setError(null);
    try {
      await del(`/api/chat/conversations/${seg(deleting.id)}`);
      if (deleting.id === open) go(null);
      list.reload();
    } catch (e) {
      setError(`delete: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
      setDeleting(null);
    }
  };

  return (
    <main class="page chat-page">
      <div class="row page-head">
        <h1>Chat{about ? <span class="muted"> about {visible(about)}</span> : null}</h1>
        <button type="button" onClick={() => go(null)}>
          New conversation
        </button>
      </div>
      <div class="chat-layout">
        <aside aria-labelledby="h-convs" class="chat-side">
          <h2 id="h-convs">Conversations</h2>
          {error ? (
            <p role="alert" class="error-box">
              {error}
            </p>
          ) : null}
          {list.error && !list.data ? (
            <p role="alert" class="error-box">
              {list.error}
            </p>
          ) : conversations.length ? (
            <ul class="conv-list" data-testid="conversations">
              {conversations.map((c) => (
                <li key={c.id} data-testid="conversation" class={c.id === open ? "selected" : undefined}>
                  <a href={`/chat?c=${encodeURIComponent(c.id)}`} aria-current={c.id === open ? "page" : undefined}>
                    {visible(c.title || "(untitled)")}
                  </a>
                  <span class="muted">
                    {c.service ? `${visible(c.service)} · ` : ""}
                    {c.message_count} messages · <time dateTime={c.updated_at}>{fmtTime(c.updated_at)}</time>
                  </span>
                  <button type="button" class="danger" aria-label={`Delete conversation ${c.title}`} onClick={() => setDeleting(c)}>
                    Delete
                  </button>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">{list.loading ? "Loading…" : "No conversations yet."}</p>
          )}
        </aside>
        <section aria-label="Chat" class="chat-main">
          {/* Not keyed by the conversation: the one this panel starts comes back as `open` while its
              answer still streams, and a remount would abort it. The panel follows `conversation`. */}
          <ChatPanel
            conversation={open}
            service={open ? current?.service : service}
            onConversation={(id) => {
              list.reload();
              if (id !== open) route(`/chat?c=${encodeURIComponent(id)}`, true);
            }}
          />
        </section>
      </div>
      {deleting ? (
        <ConfirmDialog title="Delete this conversation?" confirm="Delete" busy={busy} onConfirm={remove} onCancel={() => setDeleting(null)}>
          <p>“{visible(deleting.title)}” and its messages are removed from the store.</p>
        </ConfirmDialog>
      ) : null}
    </main>
  );
}
