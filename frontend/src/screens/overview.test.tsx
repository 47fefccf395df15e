import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { FakeSource } from "../testing/fake_event_source";

// The overview against a stubbed daemon: the contract's names and ids, and a lifecycle event from the
// bus changing one row in the frame it arrives in.

const service = (name: string, over: object = {}) => ({
  name, command: "sleep 1", env: {}, enabled: true, restart: "always", max_restarts: 10, backoff: {}, stop_signal: "SIGTERM",
  stop_timeout_s: 10, watch_dirs: [], expose_caddy: false, depends_on: {}, source: "api", status: "running", pid: 41,
  uptime_s: 5, restart_count: 0, ...over,
});
const answers: Record<string, unknown> = {
  "/api/services": [service("web", { port: 8080 }), service("<b>x</b>", { status: "stopped", pid: undefined, uptime_s: undefined }),
    service("queue", { status: "waiting", pid: undefined, uptime_s: undefined, waiting_for: [{ service: "db", condition: "healthy", reason: "db is fatal: gave up", blocked: true }] })],
  "/api/status": { supervisor: { status: "running", version: "0.1.0", pid: 1, uptime_s: 9, started_at: new Date().toISOString(), data_dir: "/d", managed_services: 3, counts: { running: 1, stopped: 1, waiting: 1 } }, services: {} },
  "/api/overview": { time: "", services: [{ name: "web", health: [{ time: "t", passed: true, latency_ms: 1 }, { time: "t", passed: false, latency_ms: 1 }], resources: [] }], cron_due: [] },
};
let frames: FrameRequestCallback[] = [];

beforeEach(() => {
  frames = [];
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal("fetch", async (url: string) => {
    const body = answers[url.split("?")[0]!] ?? { jobs: [] };
    return new Response(JSON.stringify(body), { status: 200 });
  });
  HTMLCanvasElement.prototype.getContext = (() => null) as never;
});
afterEach(() => vi.unstubAllGlobals());

const settle = () => act(async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); });

describe("Overview", () => {
  it("shows the contract's table and follows a lifecycle event live", async () => {
    const { Overview } = await import("./overview");
    const live = await import("../live");
    const root = document.createElement("div");
    document.body.append(root);
    await act(() => render(<Overview />, root));
    await settle();
    expect(root.querySelector("h1")!.textContent).toBe("Services");
    expect(root.querySelector("table[aria-label=Services]")).not.toBeNull();
    const row = root.querySelector('[data-testid="service-row-web"]')!;
    expect(row.querySelector("a")!.getAttribute("href")).toBe("/services/web");
    expect(row.querySelector("[data-testid=state]")!.textContent).toBe("running");
    expect(row.querySelector("[data-testid=restarts]")!.textContent).toBe("0");
    expect(row.querySelector("canvas[role=img]")!.getAttribute("aria-label")).toBe("health: 1 of 2 passed");
    for (const a of ["Start web", "Stop web", "Restart web"]) expect(row.querySelector(`button[aria-label="${a}"]`)).not.toBeNull();
    expect([...root.querySelectorAll("h2")].map((h) => h.textContent)).toEqual(["Supervisor", "Cron due in 24 h", "Running jobs", "Recent failures"]);
    // A name is text, never markup.
    expect(root.querySelector('[data-testid="service-row-<b>x</b>"] a')!.textContent).toBe("<b>x</b>");
    expect(root.querySelector("b")).toBeNull();
    // Waiting: its own badge, the reasons as its tooltip, a blocked dependency flagged; counted.
    const queue = root.querySelector('[data-testid="service-row-queue"]')!;
    const badge = queue.querySelector("[data-testid=state]")!;
    expect([badge.textContent, badge.className]).toEqual(["waiting", "badge waiting blocked"]);
    expect(badge.getAttribute("title")).toBe("waiting for db (healthy, blocked): db is fatal: gave up");
    expect((queue.querySelector('button[aria-label="Start queue"]') as HTMLButtonElement).disabled).toBe(true);
    expect(root.querySelector(".badge.waiting.count")!.textContent).toBe("1 waiting");

    live.connect();
    FakeSource.last.emit("lifecycle", { id: 9, kind: "lifecycle", service: "web", time: new Date().toISOString(), from: "running", to: "backoff", pid: 41, exit_code: 3, reason: "exited with code 3" }, "9");
    expect(row.querySelector("[data-testid=state]")!.textContent).toBe("running");
    await act(() => { for (const f of frames.splice(0)) f(0); });
    expect(row.querySelector("[data-testid=state]")!.textContent).toBe("backoff");
    expect(row.querySelector("[data-testid=restarts]")!.textContent).toBe("1");
    expect(root.textContent).toContain("exit code 3");
    live.disconnect();
  });
});
