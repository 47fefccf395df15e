import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { FakeSource } from "../testing/fake_event_source";

// The Fixes section against a stubbed daemon: the model picker from `GET /api/llm`, "Fix now" posting
// the chosen model, and the list read again when a fixer event about this target arrives (and only then).
const row = (id: string, status: string) => ({
  id, kind: "fix", target: "cron-job", name: "backup", status, trigger: "cron-failure", origin: "agent", mode: "auto",
  created_at: "2026-12-05T12:00:00Z", updated_at: "2026-12-05T12:00:00Z", attempt: 1, diffs: [], decisions: [],
  commands: [], llm_calls: 1, usage: { input_tokens: 10, output_tokens: 5 }, duration_ms: 1,
  proposal: { diagnosis: "d", confidence: 1, edits: [], commands: [], restart: true, author: "rule", source: "missing-dir" },
});
let listed: object[];
let posts: { url: string; body: string }[];
let gets: string[];
let frames: FrameRequestCallback[];

beforeEach(() => {
  listed = [row("1", "verified")];
  posts = [];
  gets = [];
  frames = [];
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    if (init?.method === "POST") {
      posts.push({ url, body: String(init.body) });
      listed = [row("2", "diagnosing"), ...listed];
      return new Response(JSON.stringify(listed[0]), { status: 202 });
    }
    gets.push(url);
    if (url === "/api/llm")
      return new Response(JSON.stringify({ configured: true, default: "opus", models: [{ name: "opus" }, { name: "local" }] }));
    return new Response(JSON.stringify({ fixes: listed }));
  });
});
afterEach(() => vi.unstubAllGlobals());

const settle = () => act(async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); });

describe("FixesPanel", () => {
  it("fixes with the chosen model and follows the fixer's events about this target", async () => {
    const { FixesPanel } = await import("./fixes_panel");
    const live = await import("../live");
    const root = document.createElement("div");
    document.body.append(root);
    await act(() => render(<FixesPanel target="cron-job" name="backup" />, root));
    await settle();
    const rows = () => [...root.querySelectorAll("[data-testid=fix-row]")].map((r) => r.textContent);
    expect(rows()).toHaveLength(1);
    expect(rows()[0]).toMatch(/^fix 1verifiedcron failurerule: missing-dir.*15$/);
    const select = root.querySelector("select")!;
    expect([...select.options].map((o) => o.textContent)).toEqual(["default (opus)", "opus", "local"]);
    select.value = "local";
    await act(() => {
      select.dispatchEvent(new Event("change"));
    });
    await act(() => [...root.querySelectorAll("button")].find((b) => b.textContent === "Fix now")!.click());
    await settle();
    expect(posts).toEqual([{ url: "/api/cron/backup/fix", body: JSON.stringify({ model: "local" }) }]);
    expect(root.querySelector("[data-testid=fix-progress]")!.textContent).toBe("Fix 2: diagnosing…");
    expect(root.querySelector("[data-testid=fix-progress] a")!.getAttribute("href")).toBe("/fixes/2");

    live.connect();
    listed = [row("2", "verified"), row("1", "verified")];
    const before = gets.length;
    FakeSource.last.emit("agent", { time: "", agent: "fixer", message: 'fix 2 of cron job "backup-old": verified', topic: "agent", id: 1 });
    await act(() => { for (const f of frames.splice(0)) f(0); });
    await settle();
    expect(gets.length).toBe(before);
    FakeSource.last.emit("agent", { time: "", agent: "fixer", message: 'fix 2 of cron job "backup": verified', topic: "agent", id: 2 });
    await act(() => { for (const f of frames.splice(0)) f(0); });
    await settle();
    expect(gets.length).toBe(before + 1);
    expect(root.querySelector("[data-testid=fix-progress]")!.textContent).toBe("Fix 2: verified");
    live.disconnect();
  });
});
