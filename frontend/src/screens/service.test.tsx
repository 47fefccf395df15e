import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { LocationProvider, Router, Route } from "preact-iso";
import { FakeSource } from "../testing/fake_event_source";

// The service page against a stubbed daemon: the contract's names, env values masked until revealed,
// events newest first with a live one added on top. (uPlot itself is not exercised: jsdom has no canvas.)
vi.mock("../components/metrics_charts", () => ({ MetricsCharts: () => null }));


const ev = (id: number, from: string, to: string, extra: object = {}) => ({
  id, kind: "lifecycle", service: "web", time: `2026-12-05T12:00:0${id}.000Z`, from, to, reason: "r", ...extra,
});
const answers: Record<string, unknown> = {
  "/api/services/web": {
    name: "web", command: ["python3", "-m", "http.server"], env: { SECRET: "hunter2" }, enabled: true, restart: "always",
    max_restarts: 10, backoff: {}, stop_signal: "SIGTERM", stop_timeout_s: 10, watch_dirs: [], expose_caddy: false,
    depends_on: {}, source: "api", status: "running", pid: 7, uptime_s: 3, restart_count: 1,
  },
  "/api/services/web/events": { events: [ev(1, "stopped", "starting"), ev(2, "starting", "running", { pid: 7 })] },
  "/api/services/web/health": {
    service: "web", check: { probe: "http", config: {}, interval_s: 5, timeout_s: 5, retries: 3, start_period_s: 0 },
    state: "unhealthy", consecutive_failures: 1,
    history: [{ time: "2026-12-05T12:00:05Z", result: "unhealthy", passed: false, message: "GET /: status 500", latency_ms: 2 }],
  },
};
let frames: FrameRequestCallback[] = [];

beforeEach(() => {
  frames = [];
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", (cb: FrameRequestCallback) => frames.push(cb));
  vi.stubGlobal("fetch", async (url: string) => new Response(JSON.stringify(answers[url.split("?")[0]!] ?? {}), { status: 200 }));
  history.replaceState(null, "", "/services/web");
});
afterEach(() => vi.unstubAllGlobals());

const settle = () => act(async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); });

describe("ServiceDetail", () => {
  it("shows the contract's page and adds live events on top", async () => {
    const { ServiceDetail } = await import("./service");
    const live = await import("../live");
    const root = document.createElement("div");
    document.body.append(root);
    await act(() =>
      render(
        <LocationProvider>
          <Router>
            <Route path="/services/:name" component={ServiceDetail} />
            <Route default component={() => null} />
          </Router>
        </LocationProvider>,
        root,
      ),
    );
    await settle();
    const h1 = root.querySelector("h1")!;
    expect(h1.textContent).toBe("webrunning");
    expect(h1.querySelector("[data-testid=state]")!.textContent).toBe("running");
    const links = Object.fromEntries([...root.querySelectorAll("a")].map((a) => [a.textContent, a.getAttribute("href")]));
    expect(links["Logs"]).toBe("/services/web/logs");
    expect(links["Edit"]).toBe("/services/web/edit");
    const buttons = [...root.querySelectorAll("button")].map((b) => b.textContent);
    for (const b of ["Start", "Stop", "Restart", "Delete", "Reveal values"]) expect(buttons).toContain(b);
    expect([...root.querySelectorAll("h2")].map((h) => h.textContent)).toEqual(["Definition", "Health", "Events", "Fixes", "Resources", "Custom restart"]);
    expect(root.textContent).toContain("python3 -m http.server");
    expect(root.textContent).toContain("GET /: status 500");

    const value = root.querySelector("[data-testid=env-value]")!;
    expect(value.textContent).not.toContain("hunter2");
    const reveal = [...root.querySelectorAll("button")].find((b) => b.textContent === "Reveal values")!;
    await act(() => reveal.click());
    expect(value.textContent).toBe("hunter2");
    expect(reveal.getAttribute("aria-pressed")).toBe("true");

    const items = () => [...root.querySelectorAll("[data-testid=events] li")].map((li) => li.textContent);
    expect(items()[0]).toContain("starting → running");
    live.connect();
    FakeSource.last.emit("lifecycle", ev(3, "running", "backoff", { exit_code: 3, reason: "exited with code 3" }));
    FakeSource.last.emit("lifecycle", { ...ev(4, "running", "backoff"), service: "other" });
    await act(() => { for (const f of frames.splice(0)) f(0); });
    expect(items()).toHaveLength(3);
    expect(items()[0]).toContain("running → backoff: exit code 3: exited with code 3");
    expect(h1.querySelector("[data-testid=state]")!.textContent).toBe("backoff");
    live.disconnect();
  });

  it("says what a waiting service waits for, blocked ones marked", async () => {
    const { ServiceDetail } = await import("./service");
    const saved = answers["/api/services/web"];
    answers["/api/services/web"] = {
      ...(saved as object), status: "waiting", pid: undefined, uptime_s: undefined,
      waiting_for: [
        { service: "db", condition: "healthy", reason: "db is starting", blocked: false },
        { service: "setup", condition: "completed", reason: "setup exited with code 2", blocked: true },
      ],
    };
    try {
      const root = document.createElement("div");
      document.body.append(root);
      await act(() =>
        render(
          <LocationProvider>
            <Router>
              <Route path="/services/:name" component={ServiceDetail} />
              <Route default component={() => null} />
            </Router>
          </LocationProvider>,
          root,
        ),
      );
      await settle();
      const notice = root.querySelector("[data-testid=waiting-for]")!;
      expect(notice.getAttribute("role")).toBe("status");
      const items = [...notice.querySelectorAll("li")];
      expect(items.map((li) => [li.textContent, li.getAttribute("data-blocked")])).toEqual([
        ["db (healthy): db is starting", null],
        ["setup (completed, blocked): setup exited with code 2", "true"],
      ]);
      expect(root.querySelector("h1 [data-testid=state]")!.className).toBe("badge waiting");
    } finally {
      answers["/api/services/web"] = saved;
    }
  });
});
