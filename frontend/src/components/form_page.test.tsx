// The add/edit form in a DOM: what it sends, and where the API's errors end up (next to the field they
// name with aria-invalid/aria-describedby, or in a form-level alert); tend.toml entries read-only.
import { render } from "preact";
import { LocationProvider } from "preact-iso";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EntryForm } from "./form_page";
import { serviceModel } from "../lib/form_service";
import { serviceFields } from "../screens/service_form";

type Answer = { status: number; body: unknown };

function mount(answers: Answer[], name?: string) {
  const sent: { method: string; url: string; body: unknown }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      sent.push({ method: init.method ?? "GET", url, body: init.body ? JSON.parse(String(init.body)) : undefined });
      const a = answers.shift() ?? { status: 500, body: { error: { code: "internal", message: "no answer" } } };
      return new Response(JSON.stringify(a.body), { status: a.status, headers: { "content-type": "application/json" } });
    }),
  );
  const root = document.createElement("div");
  document.body.appendChild(root);
  render(
    <LocationProvider>
      <EntryForm
        noun="service"
        addTitle="Add service"
        model={serviceModel}
        api="/api/services"
        viewHref={(n) => `/services/${n}`}
        listHref="/"
        name={name}
        fields={serviceFields}
      />
    </LocationProvider>,
    root,
  );
  return { root, sent };
}

const input = (root: HTMLElement, path: string) => root.querySelector<HTMLInputElement>(`[id="field-${path}"]`)!;
function type(root: HTMLElement, path: string, value: string) {
  const el = input(root, path);
  el.value = value;
  el.dispatchEvent(new Event("input", { bubbles: true }));
}
const save = (root: HTMLElement) => root.querySelector<HTMLButtonElement>('button[type="submit"]')!.click();

afterEach(() => {
  document.body.innerHTML = "";
  vi.unstubAllGlobals();
});

describe("EntryForm", () => {
  it("shows a field error from the API next to the field it names", async () => {
    const { root, sent } = mount([
      { status: 422, body: { error: { code: "invalid", message: "must be between 1.0 and 100.0", field: "backoff.multiplier" } } },
    ]);
    type(root, "name", "web");
    type(root, "command", "sleep 1");
    type(root, "backoff.multiplier", "0.5");
    save(root);
    await vi.waitFor(() => expect(input(root, "backoff.multiplier").getAttribute("aria-invalid")).toBe("true"));
    expect(sent).toEqual([
      {
        method: "POST",
        url: "/api/services",
        body: { name: "web", command: "sleep 1", enabled: true, restart: "always", backoff: { multiplier: 0.5 }, expose_caddy: false },
      },
    ]);
    const field = input(root, "backoff.multiplier");
    expect(field.getAttribute("aria-describedby")).toBe("backoff.multiplier-error");
    expect(root.querySelector('[id="backoff.multiplier-error"]')!.textContent).toBe("must be between 1.0 and 100.0");
    expect(root.querySelector('[role="alert"]')).toBeNull();
  });

  it("puts an error about a field the form does not show in a form-level alert", async () => {
    const { root } = mount([{ status: 422, body: { error: { code: "invalid", message: "unknown field `foo`", field: "foo" } } }]);
    type(root, "name", "web");
    type(root, "command", "x");
    save(root);
    await vi.waitFor(() => expect(root.querySelector('[role="alert"]')?.textContent).toBe("foo: unknown field `foo`"));
    expect(root.querySelector('[aria-invalid="true"]')).toBeNull();
  });

  it("catches a malformed number in the browser and sends nothing", async () => {
    const { root, sent } = mount([]);
    type(root, "name", "web");
    type(root, "command", "x");
    type(root, "port", "80x");
    save(root);
    await vi.waitFor(() => expect(input(root, "port").getAttribute("aria-invalid")).toBe("true"));
    expect(sent).toEqual([]);
  });

  it("shows a tend.toml entry read-only, with the reason and no Save", async () => {
    const { root, sent } = mount([{ status: 200, body: { name: "web", command: ["sleep", "1"], source: "config", status: "running" } }], "web");
    await vi.waitFor(() => expect(root.textContent).toContain("defined in tend.toml"));
    expect(sent[0]).toMatchObject({ method: "GET", url: "/api/services/web" });
    expect(root.querySelector('button[type="submit"]')).toBeNull();
    expect(input(root, "command").readOnly).toBe(true);
    expect(root.querySelector("h1")!.textContent).toBe("Edit web");
  });

  it("edits with PUT to the entry", async () => {
    const { root, sent } = mount(
      [
        { status: 200, body: { name: "web", command: "sleep 1", port: 8000, source: "api", status: "running" } },
        { status: 200, body: { name: "web", command: "sleep 2", source: "api", status: "running" } },
      ],
      "web",
    );
    await vi.waitFor(() => expect(input(root, "port").value).toBe("8000"));
    type(root, "command", "sleep 2");
    save(root);
    await vi.waitFor(() => expect(sent.length).toBe(2));
    expect(sent[1]).toEqual({
      method: "PUT",
      url: "/api/services/web",
      body: { name: "web", command: "sleep 2", port: 8000, enabled: true, restart: "always", expose_caddy: false },
    });
  });
});

describe("depends_on rows", () => {
  const rows = (root: HTMLElement) =>
    [...root.querySelectorAll<HTMLLIElement>(".dep-row")].map((li) => [
      li.querySelector<HTMLInputElement>('input[type="text"]')!.value,
      li.querySelector<HTMLSelectElement>("select")!.value,
      li.querySelector<HTMLInputElement>('input[type="checkbox"]')!.checked,
    ]);
  const labelled = <T extends HTMLElement>(root: HTMLElement, label: string) => root.querySelector<T>(`[aria-label="${label}"]`)!;
  const button = (root: HTMLElement, text: string) => [...root.querySelectorAll("button")].find((b) => b.textContent?.trim() === text)!;

  it("shows the map a GET answers as rows, edits them, sends the map, and shows a cycle on the field", async () => {
    const { root, sent } = mount(
      [
        {
          status: 200,
          body: { name: "api", command: "x", depends_on: { db: { condition: "healthy", restart: false } }, depends_timeout_s: 60, source: "api", status: "running" },
        },
        { status: 200, body: [{ name: "api" }, { name: "db" }, { name: "worker" }] },
        { status: 422, body: { error: { code: "invalid", message: "dependency cycle: api -> worker -> api", field: "depends_on" } } },
      ],
      "api",
    );
    await vi.waitFor(() => expect(rows(root)).toEqual([["db", "healthy", false]]));
    expect(input(root, "depends_timeout_s").value).toBe("60");
    expect(root.textContent).not.toContain("no effect yet");

    button(root, "Add dependency").click();
    await vi.waitFor(() => expect(rows(root)).toHaveLength(2));
    // The datalist suggests the other services.
    await vi.waitFor(() => expect([...root.querySelectorAll("#depends-on-services option")].map((o) => o.getAttribute("value"))).toEqual(["db", "worker"]));
    const name = labelled<HTMLInputElement>(root, "dependency 2");
    name.value = "worker";
    name.dispatchEvent(new Event("input", { bubbles: true }));
    const restart = labelled<HTMLInputElement>(root, "restart with dependency 2");
    restart.click();
    const cond = labelled<HTMLSelectElement>(root, "condition of dependency 1");
    cond.value = "started";
    cond.dispatchEvent(new Event("change", { bubbles: true }));
    await vi.waitFor(() => expect(rows(root)).toEqual([["db", "started", false], ["worker", "started", true]]));
    save(root);
    await vi.waitFor(() => expect(sent).toHaveLength(3));
    expect(sent[2]).toMatchObject({
      method: "PUT",
      url: "/api/services/api",
      body: { depends_on: { db: { condition: "started", restart: false }, worker: { condition: "started", restart: true } }, depends_timeout_s: 60 },
    });
    await vi.waitFor(() => expect(root.querySelector('[id="depends_on-error"]')?.textContent).toBe("dependency cycle: api -> worker -> api"));
    expect(labelled(root, "dependency 1").getAttribute("aria-invalid")).toBe("true");
    expect(labelled(root, "dependency 1").getAttribute("aria-describedby")).toBe("depends_on-error");

    // Removing a row leaves the other.
    button(root, "Remove").click();
    await vi.waitFor(() => expect(rows(root)).toEqual([["worker", "started", true]]));
  });

  it("refuses a row without a service in the browser and sends nothing", async () => {
    const { root, sent } = mount([]);
    type(root, "name", "api");
    type(root, "command", "x");
    button(root, "Add dependency").click();
    await vi.waitFor(() => expect(rows(root)).toHaveLength(1));
    save(root);
    await vi.waitFor(() => expect(root.querySelector('[id="depends_on-error"]')?.textContent).toBe("dependency 1: choose a service"));
    expect(sent.filter((s) => s.method !== "GET")).toEqual([]);
  });
});
