import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { LocationProvider, Router, Route } from "preact-iso";
import { FakeSource } from "../testing/fake_event_source";

// The fix page against a stubbed daemon: everything the service and the model wrote shown as text
// (markup in a diff, a diagnosis or a log line never becomes an element), the diff's lines typed, the
// policy's decisions, approve behind a confirmation posting to the API, and the API's error shown.
const HOSTILE = `<img src=x onerror="alert(1)">`;
const fix = (over: object = {}) => ({
  id: "3", kind: "fix", target: "service", name: "web", status: "awaiting-approval", trigger: "manual",
  origin: "dashboard", mode: "approve", created_at: "2026-12-05T12:00:00Z", updated_at: "2026-12-05T12:00:01Z",
  attempt: 1,
  incident: {
    kind: "manual", target: "service", name: "web", command: "python3 app.py", argv: [], working_dir: "/srv/web",
    exit_code: 1, restarts: 4, log_tail: ["Traceback", `ValueError: ${HOSTILE}`], env_names: ["PORT"], previous: [],
  },
  proposal: {
    diagnosis: `PORT is not a number ${HOSTILE}`, confidence: 0.8, restart: true, author: "model", source: "opus",
    edits: [{ op: "replace", path: "app.py", base_sha256: "x", old: "abc", new: "8080" }],
    commands: [
      { command_type: "shell", command: "make build", is_safe: true, allowed_in_production: true, reason: "build" },
      { command_type: "shell", command: "rm -rf ~", is_safe: true, allowed_in_production: true, reason: "SYSTEM said so" },
    ],
  },
  diffs: [{ path: "app.py", diff: `--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n-PORT = 'abc'\n+PORT = '8080'\n ${HOSTILE}\n` }],
  decisions: [
    { command: "make build", decision: "allow", reason: "make is allowed", audit_id: 1 },
    { command: "rm -rf ~", decision: "deny", reason: "destructive", audit_id: 2 },
  ],
  commands: [], llm_calls: 2, usage: { input_tokens: 1000, output_tokens: 234 }, duration_ms: 1500,
  ...over,
});

let posts: string[] = [];
let approveAnswer: () => Response;

beforeEach(() => {
  posts = [];
  approveAnswer = () => new Response(JSON.stringify(fix({ status: "applying" })), { status: 202 });
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", () => 0);
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    if (init?.method === "POST") {
      posts.push(url);
      return approveAnswer();
    }
    return new Response(JSON.stringify(fix()), { status: 200 });
  });
  history.replaceState(null, "", "/fixes/3");
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
    this.open = true;
  };
});
afterEach(() => vi.unstubAllGlobals());

const settle = () => act(async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); });

async function mount() {
  const { FixDetail } = await import("./fix");
  const root = document.createElement("div");
  document.body.append(root);
  await act(() =>
    render(
      <LocationProvider>
        <Router>
          <Route path="/fixes/:id" component={FixDetail} />
          <Route default component={() => null} />
        </Router>
      </LocationProvider>,
      root,
    ),
  );
  await settle();
  return root;
}

const button = (root: Element, text: string) => [...root.querySelectorAll("button")].find((b) => b.textContent === text);

describe("FixDetail", () => {
  it("renders what the service and the model wrote as text, the diff typed by line", async () => {
    const root = await mount();
    expect(root.querySelector("h1")!.textContent).toBe("Fix 3 awaiting-approval");
    expect(root.querySelector("img")).toBeNull();
    expect(root.querySelector("[data-testid=diagnosis]")!.textContent).toBe(`PORT is not a number ${HOSTILE}`);
    expect(root.querySelector("[data-testid=log-tail]")!.textContent).toContain(`ValueError: ${HOSTILE}`);
    const lines = [...root.querySelectorAll("[data-testid=diff] .diff-line")];
    expect(lines.map((l) => l.className)).toEqual([
      "diff-line diff-meta", "diff-line diff-meta", "diff-line diff-hunk", "diff-line diff-del", "diff-line diff-add", "diff-line diff-ctx",
    ]);
    expect(lines[5]!.textContent).toBe(` ${HOSTILE}\n`);
    const rows = [...root.querySelectorAll("[data-testid=decision-row]")].map((r) => r.textContent);
    expect(rows[0]).toContain("make buildallowedmake is allowed");
    expect(rows[1]).toContain("rm -rf ~denieddestructive");
    expect(root.textContent).toContain("model: opus");
    expect(root.textContent).toContain("1234");
    expect(button(root, "Restore")).toBeUndefined();
  });

  it("approves after a confirmation, and shows the API's error when it refuses", async () => {
    const root = await mount();
    await act(() => button(root, "Approve")!.click());
    const dialog = root.querySelector("dialog")!;
    expect(dialog.textContent).toContain("Approve this fix?");
    expect(posts).toEqual([]);
    await act(() => ([...dialog.querySelectorAll("button")].find((b) => b.textContent === "Approve")!).click());
    await settle();
    expect(posts).toEqual(["/api/fixes/3/approve"]);
    expect(root.querySelector("[data-testid=action-result]")!.textContent).toContain("Approved");

    approveAnswer = () =>
      new Response(JSON.stringify({ error: { code: "conflict", message: "fix 3 is verified, not awaiting approval" } }), { status: 409 });
    await act(() => button(root, "Reject")!.click());
    await act(() => ([...root.querySelector("dialog")!.querySelectorAll("button")].find((b) => b.textContent === "Reject")!).click());
    await settle();
    expect(root.querySelector("[role=alert]")!.textContent).toBe("reject: fix 3 is verified, not awaiting approval");
  });
});
