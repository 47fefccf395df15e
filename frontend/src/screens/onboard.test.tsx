import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render } from "preact";
import { act } from "preact/test-utils";
import { LocationProvider } from "preact-iso";
import { FakeSource } from "../testing/fake_event_source";
import { PLAN } from "../testing/plan_fixture";
import type { OnboardJob, Plan } from "../gen/api";

// The onboarding screen against a stubbed daemon: preview shows the plan (project text stays text),
// edits in the form reach `POST /api/onboard`, the API's field errors land next to the input they
// name, and the job is followed to its end with links to what it registered.
const HOSTILE = `<img src=x onerror="alert(1)">`;
let calls: { url: string; method: string; body: string }[];
let previewAnswer: () => Response;
let applyAnswer: () => Response;
let jobAnswer: () => OnboardJob;

const plan = (): Plan => ({ ...structuredClone(PLAN), notes: [`found ${HOSTILE}`] });
const job = (over: Partial<OnboardJob> = {}): OnboardJob => ({
  id: "j1", project: "shop", root: PLAN.root, status: "queued", created_at: "2026-12-06T06:00:00Z", steps: [], registered: [], message: "", ...over,
});

beforeEach(() => {
  calls = [];
  previewAnswer = () => new Response(JSON.stringify(plan()));
  applyAnswer = () => new Response(JSON.stringify(job()), { status: 202 });
  jobAnswer = () => job();
  vi.stubGlobal("EventSource", FakeSource);
  vi.stubGlobal("requestAnimationFrame", () => 0);
  vi.stubGlobal("fetch", async (url: string, init?: RequestInit) => {
    const method = init?.method ?? "GET";
    calls.push({ url, method, body: String(init?.body ?? "") });
    if (url === "/api/llm") return new Response(JSON.stringify({ configured: false, default: null, models: [] }));
    if (url.startsWith("/api/onboard/preview")) return previewAnswer();
    if (url === "/api/onboard") return applyAnswer();
    if (url === "/api/onboard/jobs/j1") return new Response(JSON.stringify(jobAnswer()));
    if (url === "/api/onboard/jobs?limit=10") return new Response(JSON.stringify({ jobs: [jobAnswer()] }));
    return new Response("{}", { status: 404 });
  });
});
const roots: HTMLElement[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) {
    render(null, r);
    r.remove();
  }
  vi.unstubAllGlobals();
});

const settle = () => act(async () => { for (let i = 0; i < 8; i++) await new Promise((r) => setTimeout(r, 0)); });
/** Lets timers and promises run until `cond` holds (at most ~5 s). */
async function until(cond: () => boolean) {
  for (let i = 0; i < 100 && !cond(); i++) await act(async () => void (await new Promise((r) => setTimeout(r, 50))));
  expect(cond()).toBe(true);
}
const button = (root: Element, text: string) => [...root.querySelectorAll("button")].find((b) => b.textContent === text);
const input = (root: Element, id: string) => root.querySelector<HTMLInputElement>(`#${id}`)!;
async function type(el: HTMLInputElement, value: string) {
  await act(() => {
    el.value = value;
    el.dispatchEvent(new Event("input"));
  });
}

async function mount() {
  const { Onboard } = await import("./onboard");
  const root = document.createElement("div");
  document.body.append(root);
  roots.push(root);
  history.replaceState(null, "", "/onboard");
  await act(() =>
    render(
      <LocationProvider>
        <Onboard />
      </LocationProvider>,
      root,
    ),
  );
  await settle();
  return root;
}

async function preview(root: Element, project = "shop") {
  await type(input(root, "f-project"), project);
  await act(() => void root.querySelector("form")!.dispatchEvent(new Event("submit", { cancelable: true })));
  await settle();
}

describe("Onboard", () => {
  it("previews, applies the edited plan, and follows the job to the registered services", async () => {
    const root = await mount();
    // No model configured: no model picker.
    expect(root.querySelector("#field-model")).toBeNull();
    await preview(root);
    expect(calls.find((c) => c.url.startsWith("/api/onboard/preview"))!.url).toBe("/api/onboard/preview?project=shop");
    const planEl = root.querySelector("[data-testid=plan]")!;
    expect(planEl.querySelector("[data-testid=plan-notes]")!.textContent).toBe(`found ${HOSTILE}`);
    expect(root.querySelector("img")).toBeNull();
    expect(planEl.querySelector("[data-testid=plan-author]")!.textContent).toBe("rules: python,node (plugin onboarder)");
    expect(planEl.querySelector("details.evidence")!.textContent).toContain("app/main.py: creates the FastAPI app");
    expect(input(root, "f-plan_services_0__command").value).toBe("uvicorn app.main:app --port 20001");

    await type(input(root, "f-plan_services_0__name"), "shop-api");
    await type(input(root, "f-plan_services_0__port"), "20009");
    await act(() => button(root, "Remove cron job report")!.click());
    await act(() => button(root, "Remove setup step 2")!.click());
    await act(() => button(root, "Apply")!.click());
    await settle();
    const post = calls.find((c) => c.method === "POST")!;
    expect(post.url).toBe("/api/onboard");
    const body = JSON.parse(post.body);
    expect(body.project).toBe("shop");
    expect(body.plan.services.map((s: { name: string; port: number }) => [s.name, s.port])).toEqual([["shop-api", 20009], ["web", 20002]]);
    // The new port went where the old one was: the argv and PORT.
    expect(body.plan.services[0].command).toEqual(["uvicorn", "app.main:app", "--port", "20009"]);
    expect(body.plan.services[0].env).toEqual({ PORT: "20009" });
    expect(body.plan.cron_jobs).toEqual([]);
    expect(body.plan.setup).toHaveLength(1);

    // The job is read at once; here it has already failed after registering one service.
    jobAnswer = () =>
      job({
        status: "failed",
        registered: ["shop-api"],
        message: "web did not come up; shop-api stays registered",
        steps: [
          { kind: "register", target: "shop-api", status: "ok", message: "registered" },
          { kind: "confirm", target: "web", status: "failed", message: `exited with code 1: ${HOSTILE}` },
        ],
        plan: body.plan,
      });
    // Read again by the poll (the live stream is not connected here).
    await until(() => root.querySelector("[data-testid=job-status]")?.textContent === "failed");
    const jobEl = root.querySelector("[data-testid=onboard-job]")!;
    expect(jobEl.querySelector("[data-testid=job-status]")!.textContent).toBe("failed");
    expect(jobEl.querySelector("[data-testid=job-message]")!.textContent).toBe("web did not come up; shop-api stays registered");
    expect([...jobEl.querySelectorAll("[data-testid=job-step]")].map((s) => s.textContent)).toEqual([
      "ok register shop-api: registered",
      `failed confirm web: exited with code 1: ${HOSTILE}`,
    ]);
    expect(root.querySelector("img")).toBeNull();
    const link = jobEl.querySelector<HTMLAnchorElement>("[data-testid=job-registered] a")!;
    expect(link.textContent).toBe("service shop-api");
    expect(link.getAttribute("href")).toBe("/services/shop-api");
    expect(jobEl.querySelector("[data-testid=job-registered]")!.textContent).toContain("Still registered");
    // The job is in the address, and listed among the recent ones.
    expect(location.pathname + location.search).toBe("/onboard?job=j1");
    await until(() => root.querySelector("[data-testid=recent-job]")?.textContent?.includes("failed") === true);
    expect(root.querySelector("[data-testid=recent-job] a")!.getAttribute("href")).toBe("/onboard?job=j1");
  });

  it("shows the API's errors next to the field they name", async () => {
    const root = await mount();
    previewAnswer = () => new Response(JSON.stringify({ error: { code: "invalid", message: "nothing found in /x: no files", field: "project" } }), { status: 422 });
    await preview(root, "/x");
    expect(root.querySelector("[data-testid=error-project]")!.textContent).toBe("nothing found in /x: no files");
    expect(input(root, "f-project").getAttribute("aria-invalid")).toBe("true");
    expect(root.querySelector("[data-testid=plan]")).toBeNull();

    previewAnswer = () => new Response(JSON.stringify(plan()));
    await preview(root);
    expect(root.querySelector("[data-testid=error-project]")).toBeNull();
    applyAnswer = () => new Response(JSON.stringify({ error: { code: "invalid", message: "port 20002 is in use", field: "plan.services[1].port" } }), { status: 422 });
    await act(() => button(root, "Apply")!.click());
    await settle();
    expect(root.querySelector("[data-testid='error-plan.services[1].port']")!.textContent).toBe("port 20002 is in use");
    expect(root.querySelector("[data-testid=onboard-job]")).toBeNull();

    // A local mistake is caught before anything is sent.
    const posts = calls.filter((c) => c.method === "POST").length;
    await type(input(root, "f-plan_services_0__port"), "http");
    await act(() => button(root, "Apply")!.click());
    await settle();
    expect(root.querySelector("[data-testid='error-plan.services[0].port']")!.textContent).toBe("a port is a whole number from 1 to 65535");
    expect(calls.filter((c) => c.method === "POST").length).toBe(posts);
  });
});
