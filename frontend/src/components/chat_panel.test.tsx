import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";

// The chat panel against a stubbed daemon whose `POST /api/chat` answers a stream the test feeds
// chunk by chunk: deltas shown as they arrive and as text (markup never becomes an element), a tool
// use, a proposal that does nothing until confirmed and then calls the ordinary API, Stop aborting
// the request, and refusals shown inline.
const HOSTILE = `<img src=x onerror="alert(1)">`;
const enc = new TextEncoder();

interface Call {
  url: string;
  method: string;
  body: string;
  signal?: AbortSignal | null;
}
let calls: Call[];
let stream: ReadableStreamDefaultController<Uint8Array>;
let chatAnswer: () => Response;
let actionAnswer: () => Response;

const sse = (event: string, data: object) => `event: ${event}\r\ndata: ${JSON.stringify({ type: event, ...data })}\r\n\r\n`;
const feed = async (text: string) => {
  await act(async () => {
    stream.enqueue(enc.encode(text));
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
  });
};
const settle = () => act(async () => { for (let i = 0; i < 8; i++) await new Promise((r) => setTimeout(r, 0)); });

beforeEach(() => {
  calls = [];
  chatAnswer = () =>
    new Response(new ReadableStream<Uint8Array>({ start: (c) => void (stream = c) }), { status: 200, headers: { "content-type": "text/event-stream" } });
  actionAnswer = () => new Response(JSON.stringify({ name: "web", action: "restart", state: { status: "running" } }));
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    calls.push({ url, method, body: String(init?.body ?? ""), signal: init?.signal ?? null });
    if (url === "/api/llm") return new Response(JSON.stringify({ configured: true, default: "opus", models: [{ name: "opus" }, { name: "local" }] }));
    if (url === "/api/chat") return chatAnswer();
    if (url === "/api/services/web" && method === "GET") return new Response(JSON.stringify({ name: "web", command: "x", status: "running", port: 8000, env: { A: "1" } }));
    return actionAnswer();
  });
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
    this.open = false;
  };
});
const roots: HTMLElement[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) {
    render(null, r);
    r.remove();
  }
  vi.unstubAllGlobals();
});

async function mount(props: { service?: string } = {}) {
  const { ChatPanel } = await import("./chat_panel");
  const root = document.createElement("div");
  document.body.append(root);
  roots.push(root);
  const convs: string[] = [];
  await act(() => render(<ChatPanel conversation={null} service={props.service} onConversation={(id) => convs.push(id)} />, root));
  await settle();
  return { root, convs };
}

async function send(root: Element, text: string) {
  const area = root.querySelector("textarea")!;
  await act(() => {
    area.value = text;
    area.dispatchEvent(new Event("input"));
  });
  await act(() => void root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true })));
  await settle();
}
const button = (root: Element, text: string) => [...root.querySelectorAll("button")].find((b) => b.textContent === text);
const answer = (root: Element) => root.querySelector("[data-testid=chat-answer] .chat-text")?.textContent ?? "";
const actionCalls = () => calls.filter((c) => c.url.startsWith("/api/services/"));

describe("ChatPanel", () => {
  it("streams the answer as text, shows the tool used, and a proposal acts only once confirmed", async () => {
    const { root, convs } = await mount({ service: "web" });
    const select = root.querySelector("select")!;
    select.value = "local";
    await act(() => {
      select.dispatchEvent(new Event("change"));
    });
    await send(root, "why did web restart?");
    const post = calls.find((c) => c.url === "/api/chat")!;
    expect(JSON.parse(post.body)).toEqual({ message: "why did web restart?", service: "web", model: "local" });
    expect(root.querySelector("[data-testid=chat-user]")!.textContent).toContain("why did web restart?");

    await feed(sse("conversation", { id: "c7" }) + sse("delta", { text: "It was " }).slice(0, 20));
    expect(convs).toEqual(["c7"]);
    expect(answer(root)).toBe("");
    await feed(sse("delta", { text: "It was " }).slice(20));
    expect(answer(root)).toBe("It was ");
    await feed(sse("tool", { name: "service_logs", arguments: '{"name":"web"}', result: `Traceback ${HOSTILE}` }));
    await feed(sse("delta", { text: `killed ${HOSTILE}\nby OOM.` }));
    expect(answer(root)).toBe(`It was killed ${HOSTILE}\nby OOM.`);
    expect(root.querySelector("img")).toBeNull();
    const tool = root.querySelector("[data-testid=tool-use]")!;
    expect(tool.querySelector("summary")!.textContent).toContain('service_logs {"name":"web"}');
    expect(tool.querySelector("pre")!.textContent).toBe(`Traceback ${HOSTILE}`);
    // Stop is offered while the answer streams.
    expect(button(root, "Stop")).toBeDefined();

    await feed(sse("proposal", { action: "restart", service: "web", reason: "it leaks memory" }));
    await feed(sse("done", { message: 12, usage: { input_tokens: 100, output_tokens: 20 } }));
    await act(async () => {
      stream.close();
    });
    await settle();
    expect(button(root, "Stop")).toBeUndefined();
    expect(root.textContent).toContain("120 tokens");
    const card = root.querySelector("[data-testid=proposal]")!;
    expect(card.textContent).toContain("it leaks memory");
    // Nothing happens without the click, and cancelling the confirmation does nothing either.
    expect(actionCalls()).toEqual([]);
    await act(() => button(card, "Restart web…")!.click());
    const dialog = root.querySelector("dialog")!;
    expect(dialog.textContent).toContain("Restart web?");
    await act(() => button(dialog, "Cancel")!.click());
    expect(root.querySelector("dialog")).toBeNull();
    expect(actionCalls()).toEqual([]);
    await act(() => button(card, "Restart web…")!.click());
    await act(() => button(root.querySelector("dialog")!, "Restart web")!.click());
    await settle();
    expect(actionCalls().map((c) => `${c.method} ${c.url}`)).toEqual(["POST /api/services/web/restart"]);
    expect(card.querySelector("[data-testid=proposal-result]")!.textContent).toBe("restart: done, web is running");
    expect(button(card, "Restart web…")!.disabled).toBe(true);

    // The next message continues the conversation.
    await send(root, "thanks");
    expect(JSON.parse(calls.filter((c) => c.url === "/api/chat")[1]!.body)).toEqual({ conversation: "c7", message: "thanks", service: "web", model: "local" });
  });

  it("an edit proposal puts the service's definition back with the changes; a refusal is shown", async () => {
    const { root } = await mount();
    await send(root, "make it bigger");
    await feed(sse("conversation", { id: "c1" }) + sse("proposal", { action: "edit", service: "web", reason: "needs memory", changes: { max_memory_mb: 512 } }) + sse("done", { message: 2, usage: { input_tokens: 1, output_tokens: 1 } }));
    const card = root.querySelector("[data-testid=proposal]")!;
    expect(card.querySelector("[data-testid=proposal-changes]")!.textContent).toBe('{\n  "max_memory_mb": 512\n}');
    actionAnswer = () => new Response(JSON.stringify({ error: { code: "invalid", message: "max_memory_mb: too small", field: "max_memory_mb" } }), { status: 422 });
    await act(() => button(card, "Edit web…")!.click());
    await act(() => button(root.querySelector("dialog")!, "Edit web")!.click());
    await settle();
    const put = actionCalls().find((c) => c.method === "PUT")!;
    expect(put.url).toBe("/api/services/web");
    expect(JSON.parse(put.body)).toEqual({ name: "web", command: "x", status: "running", port: 8000, env: { A: "1" }, max_memory_mb: 512 });
    expect(card.querySelector("[role=alert]")!.textContent).toBe("edit: max_memory_mb: too small");
  });

  it("Stop aborts the request and keeps nothing of the answer", async () => {
    const { root } = await mount();
    await send(root, "long question");
    await feed(sse("conversation", { id: "c2" }) + sse("delta", { text: "partial" }));
    const post = calls.find((c) => c.url === "/api/chat")!;
    expect(post.signal!.aborted).toBe(false);
    await act(() => button(root, "Stop")!.click());
    await settle();
    expect(post.signal!.aborted).toBe(true);
    expect(root.querySelector("[data-testid=chat-stopped]")!.textContent).toContain("Stopped");
    expect(button(root, "Stop")).toBeUndefined();
  });

  it("says when no model is configured", async () => {
    const { root: withModels } = await mount();
    expect(withModels.querySelector("[data-testid=chat-no-model]")).toBeNull();
    const real = fetch;
    vi.stubGlobal("fetch", async (url: string, init?: RequestInit) =>
      url === "/api/llm" ? new Response(JSON.stringify({ configured: false, default: null, models: [] })) : real(url, init),
    );
    const { root } = await mount();
    expect(root.querySelector("[data-testid=chat-no-model]")!.textContent).toContain("No model is configured");
    expect(root.querySelector("select")).toBeNull();
  });

  it("shows an error event inline, and a refused request next to the message, giving it back", async () => {
    const { root } = await mount();
    await send(root, "hello");
    await feed(sse("conversation", { id: "c3" }) + sse("error", { code: "unavailable", message: "the model did not answer" }));
    expect(root.querySelector("[data-testid=chat-error]")!.textContent).toBe("the model did not answer (unavailable)");

    // A stream that breaks off after it began: the exchange shows the error, the box stays empty.
    await send(root, "and then?");
    await feed(sse("delta", { text: "half" }));
    await act(async () => stream.error(new Error("connection reset")));
    await settle();
    const answers = root.querySelectorAll("[data-testid=chat-answer]");
    expect(answers[answers.length - 1]!.querySelector("[data-testid=chat-error]")!.textContent).toMatch(/^the answer broke off/);
    expect(root.querySelector("textarea")!.value).toBe("");

    chatAnswer = () => new Response(JSON.stringify({ error: { code: "invalid", message: "model: unknown model nope", field: "model" } }), { status: 422 });
    await send(root, "again");
    expect(root.querySelector("#chat-model-error")!.textContent).toBe("model: unknown model nope");
    expect(root.querySelector("textarea")!.value).toBe("again");
    chatAnswer = () => new Response(JSON.stringify({ error: { code: "unavailable", message: "no model is configured" } }), { status: 503 });
    await send(root, "again");
    expect([...root.querySelectorAll("[data-testid=chat-error]")].map((e) => e.textContent)).toContain("no model is configured");
  });
});
