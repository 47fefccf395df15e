import { describe, expect, it } from "vitest";
import { actionLabel, applyChatEvent, chatEvent, conversationList, edited, newExchange } from "./chat";

describe("chat events", () => {
  it("reads the event from the data's type (or the SSE name), and ignores what is not JSON", () => {
    expect(chatEvent({ event: "delta", data: '{"type":"delta","text":"a"}', id: "" })).toEqual({ type: "delta", text: "a" });
    expect(chatEvent({ event: "delta", data: '{"text":"b"}', id: "" })).toEqual({ type: "delta", text: "b" });
    expect(chatEvent({ event: "message", data: "keep-alive", id: "" })).toBeNull();
    expect(chatEvent({ event: "message", data: "3", id: "" })).toBeNull();
  });

  it("folds an exchange: text in order, tools, proposals, then done or error; unknown events change nothing", () => {
    let ex = newExchange("hi");
    for (const text of ["a", "b", "c"]) ex = applyChatEvent(ex, { type: "delta", text });
    ex = applyChatEvent(ex, { type: "tool", name: "cron_jobs", arguments: "{}", result: "[]" });
    ex = applyChatEvent(ex, { type: "proposal", action: "stop", service: "web", reason: "r" });
    ex = applyChatEvent(ex, { type: "bogus" } as never);
    expect(ex).toEqual({ user: "hi", text: "abc", tools: [{ name: "cron_jobs", arguments: "{}", result: "[]" }], proposals: [{ action: "stop", service: "web", reason: "r" }], status: "streaming" });
    expect(applyChatEvent(ex, { type: "done", message: 3, usage: { input_tokens: 1, output_tokens: 2 } }).status).toBe("done");
    expect(applyChatEvent(ex, { type: "error", code: "unavailable", message: "down" })).toMatchObject({ status: "error", error: "down (unavailable)" });
  });

  it("takes the conversation list bare or wrapped", () => {
    const c = { id: "1", title: "t", created_at: "", updated_at: "", message_count: 2 };
    expect(conversationList([c])).toEqual([c]);
    expect(conversationList({ conversations: [c] })).toEqual([c]);
    expect(conversationList(null)).toEqual([]);
  });
});

describe("proposals", () => {
  it("names the action and merges an edit's changes over the definition", () => {
    expect(actionLabel({ action: "restart", service: "web", reason: "" })).toBe("Restart web");
    expect(actionLabel({ action: "fix", service: "api", reason: "" })).toBe("Fix api");
    expect(edited({ name: "web", port: 1, env: { A: "1" } }, { port: 2 })).toEqual({ name: "web", port: 2, env: { A: "1" } });
    expect(() => edited({ name: "web" }, undefined)).toThrow(/no changes/);
    expect(() => edited({ name: "web" }, [1])).toThrow(/no changes/);
  });
});
