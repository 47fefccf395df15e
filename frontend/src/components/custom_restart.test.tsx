// The custom-restart component in a DOM: the request it sends, an API error shown on the line typed, the
// job's steps with the policy's answer, and cancel.
import { render } from "preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CustomRestart } from "./custom_restart";
import type { JobStep, JobView } from "../lib/wire";

const step = (over: Partial<JobStep>): JobStep => ({
  phase: "pre",
  index: 0,
  command: "make build",
  command_type: "shell",
  argv: ["/bin/sh", "-c", "make build"],
  decision: "allow",
  reason: null,
  status: "ok",
  exit_code: 0,
  signal: null,
  pid: 10,
  started_at: "2030-01-01T00:00:00Z",
  duration_ms: 1200,
  output_tail: "built\n",
  message: "exited with code 0",
  ...over,
});

const job = (over: Partial<JobView>): JobView => ({
  id: "7",
  kind: "custom-restart",
  service: "web",
  origin: "dashboard",
  status: "running",
  created_at: "2030-01-01T00:00:00Z",
  started_at: "2030-01-01T00:00:00Z",
  finished_at: null,
  request: { pre_commands: [], post_commands: [], args: [] },
  steps: [],
  error: null,
  ...over,
});

function mount(route: (method: string, url: string, body: unknown) => { status: number; body: unknown }) {
  const sent: { method: string; url: string; body: unknown }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const body = init.body ? JSON.parse(String(init.body)) : undefined;
      const method = init.method ?? "GET";
      sent.push({ method, url, body });
      const a = route(method, url, body);
      return new Response(JSON.stringify(a.body), { status: a.status });
    }),
  );
  const root = document.createElement("div");
  document.body.appendChild(root);
  render(<CustomRestart name="web" />, root);
  return { root, sent };
}

function type(root: HTMLElement, id: string, value: string) {
  const el = root.querySelector<HTMLInputElement | HTMLTextAreaElement>(`#${id}`)!;
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}
const button = (root: HTMLElement, name: string) =>
  [...root.querySelectorAll("button")].find((b) => b.textContent === name) as HTMLButtonElement | undefined;

afterEach(() => {
  document.body.innerHTML = "";
  vi.unstubAllGlobals();
});

describe("CustomRestart", () => {
  it("sends the commands and args, then shows each step with the policy's answer", async () => {
    let current: JobView | null = null;
    const { root, sent } = mount((method, url) => {
      if (method === "POST" && url === "/api/services/web/custom-restart") {
        current = job({
          steps: [
            step({}),
            step({ phase: "restart", command: "app --port 1", command_type: null, decision: null, status: "running", exit_code: null, duration_ms: null, output_tail: "" }),
            step({ phase: "post", command: "rm -rf /", decision: "deny", reason: "deletes the root", status: "pending", exit_code: null, output_tail: "" }),
          ],
        });
        return { status: 202, body: current };
      }
      return { status: 200, body: { jobs: current ? [current] : [] } };
    });
    await vi.waitFor(() => expect(sent.length).toBe(1));
    type(root, "cr-pre", "make build\n\nexec: touch \"a b\"");
    type(root, "cr-post", "rm -rf /");
    type(root, "cr-args", "--port '1'");
    button(root, "Run custom restart")!.click();
    await vi.waitFor(() => expect(root.querySelector('[data-testid="job-steps"]')).not.toBeNull());
    expect(sent[1]).toEqual({
      method: "POST",
      url: "/api/services/web/custom-restart",
      body: {
        pre_commands: [
          { command_type: "shell", command: "make build", is_safe: true, allowed_in_production: false },
          { command_type: "exec", command: 'touch "a b"', is_safe: true, allowed_in_production: false },
        ],
        post_commands: [{ command_type: "shell", command: "rm -rf /", is_safe: true, allowed_in_production: false }],
        args: ["--port", "1"],
      },
    });
    const steps = [...root.querySelectorAll('[data-testid="job-step"]')];
    expect(steps.map((s) => s.querySelector('[data-testid="step-status"]')!.textContent)).toEqual(["ok", "running", "pending"]);
    expect(steps[0]!.querySelector('[data-testid="step-decision"]')!.textContent).toBe("policy allow");
    expect(steps[2]!.textContent).toContain("policy deny");
    expect(steps[2]!.textContent).toContain("policy: deletes the root");
    expect(button(root, "Cancel job")).toBeDefined();
  });

  it("shows an API error about a command on the line it was typed", async () => {
    const { root } = mount((method) =>
      method === "POST"
        ? { status: 422, body: { error: { code: "invalid", message: "unbalanced quotes", field: "pre_commands[1].command" } } }
        : { status: 200, body: { jobs: [] } },
    );
    type(root, "cr-pre", "echo ok\n\nexec: touch \"a");
    button(root, "Run custom restart")!.click();
    await vi.waitFor(() => expect(root.querySelector("#cr-pre-error")?.textContent).toBe("line 3: unbalanced quotes"));
    expect(root.querySelector("#cr-pre")!.getAttribute("aria-invalid")).toBe("true");
  });

  it("cancels the running job", async () => {
    let current = job({ steps: [step({ status: "running", exit_code: null, duration_ms: null })] });
    const { root, sent } = mount((method, url) => {
      if (method === "POST" && url === "/api/jobs/7/cancel") {
        current = job({ status: "cancelled", error: "cancelled", steps: [step({ status: "cancelled", signal: "SIGTERM", exit_code: null })] });
        return { status: 200, body: current };
      }
      return { status: 200, body: { jobs: [current] } };
    });
    await vi.waitFor(() => expect(button(root, "Cancel job")).toBeDefined());
    button(root, "Cancel job")!.click();
    await vi.waitFor(() => expect(root.querySelector('[data-testid="job-status"]')!.textContent).toBe("cancelled"));
    expect(sent.some((s) => s.method === "POST" && s.url === "/api/jobs/7/cancel")).toBe(true);
    expect(button(root, "Cancel job")).toBeUndefined();
    expect(root.querySelector('[role="status"]')!.textContent).toBe("Job cancelled.");
  });

  it("asks the policy about each command before running anything", async () => {
    const { root, sent } = mount((method, url, body) => {
      if (method === "POST" && url === "/api/policy/evaluate") {
        const cmd = (body as { command: { command: string } }).command.command;
        const deny = cmd.startsWith("rm");
        return {
          status: 200,
          body: { allowed: !deny, decision: deny ? "deny" : "allow", reason: deny ? "recursive delete of /" : "", plugin: "policy", audit_id: 1, argv: [], cwd: "/" },
        };
      }
      return { status: 200, body: { jobs: [] } };
    });
    type(root, "cr-pre", "make build");
    type(root, "cr-post", "rm -rf /");
    button(root, "Check policy")!.click();
    await vi.waitFor(() => expect(root.querySelectorAll('[data-testid="policy-check"] li').length).toBe(2));
    const items = [...root.querySelectorAll('[data-testid="policy-check"] li')].map((li) => li.textContent);
    expect(items[0]).toContain("pre[0]policy allow");
    expect(items[1]).toContain("policy deny");
    expect(items[1]).toContain("policy: recursive delete of /");
    expect(sent.filter((s) => s.url === "/api/policy/evaluate").map((s) => s.body)).toEqual([
      { service: "web", command: { command_type: "shell", command: "make build", is_safe: true, allowed_in_production: false } },
      { service: "web", command: { command_type: "shell", command: "rm -rf /", is_safe: true, allowed_in_production: false } },
    ]);
    expect(sent.some((s) => s.url.includes("custom-restart"))).toBe(false);
  });
});
