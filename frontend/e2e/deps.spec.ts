// Dependencies in the browser, against real services: db (answers its health check after 1 s) <- api
// (healthy) <- worker (restarts with api), registered through the API. api's page draws the graph
// around it (its text equivalent, the links, axe, screenshots into target/dashboard-screens/), follows
// a state change live, the form edits a dependency as rows, and an unknown name and a cycle are refused
// on the depends_on field with nothing changed. A service waiting for a dependency that never gets
// healthy shows `waiting` with why, on the overview (tooltip) and on its page.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { test, expect, serviceRow, unique } from "./fixtures";
import { freePort, repoRoot, sh } from "./harness";

const SCREENS = path.join(repoRoot, "target", "dashboard-screens");

test("the graph around a service, live; a dependency edited in the form; an unknown name and a cycle refused", async ({ page, daemon }) => {
  test.setTimeout(120_000);
  const db = unique("db");
  const api = unique("api");
  const worker = unique("worker");
  const port = await freePort();
  await daemon.addService(db, `sleep 1; exec python3 -m http.server ${port} --bind 127.0.0.1`, { port, health: { probe: "http", interval_s: 1 } }, false);
  await daemon.addService(api, sh.sleeper(), { depends_on: { [db]: { condition: "healthy" } } }, false);
  await daemon.addService(worker, sh.sleeper(), { depends_on: { [api]: { condition: "started", restart: true } } }, false);
  await daemon.waitStatus(worker, "running", 30_000);

  await page.goto(`/services/${api}`);
  const section = page.getByTestId("dep-graph");
  await expect(section.getByRole("heading", { level: 2, name: "Dependencies" })).toBeVisible();
  const items = section.getByTestId("dep-list").getByRole("listitem");
  await expect(items).toHaveText([`${api} depends on ${db} (healthy, satisfied)`, `${worker} depends on ${api} (started, restarts with it, satisfied)`]);
  const svg = section.getByTestId("dep-graph-svg");
  await expect(svg.locator("title").first()).toHaveText(`Dependency graph of ${api}`);
  await expect(svg.locator("desc")).toContainText(`${api} needs 1 service and 1 service needs it`);
  await expect(svg.locator("a.dep-node")).toHaveCount(3);
  await expect(svg.locator("a.dep-node.center")).toContainText(api);
  await expect(svg.locator("g.dep-edge[data-state=satisfied]")).toHaveCount(2);
  await expect(svg.locator("a.dep-node", { hasText: db })).toContainText("running · healthy");
  await expect(items.first().getByRole("link", { name: db, exact: true })).toHaveAttribute("href", `/services/${db}`);
  await expect(items.nth(1).getByRole("link", { name: worker, exact: true })).toHaveAttribute("href", `/services/${worker}`);

  // Accessible, and photographed in both themes.
  await mkdir(SCREENS, { recursive: true });
  for (const theme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: theme });
    await expect(items.first()).toBeVisible();
    const found = await new AxeBuilder({ page }).include("[data-testid=dep-graph]").analyze();
    const serious = found.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
    await section.screenshot({ path: path.join(SCREENS, `service-deps-1280x800-${theme}.png`), animations: "disabled" });
  }
  await page.emulateMedia({ colorScheme: "light" });
  // On a phone the drawing scrolls inside its own box; the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect(svg).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
  await page.setViewportSize({ width: 1280, height: 800 });
  await expect(page.getByText(`${db} (healthy); waits up to 60 s`)).toBeVisible();

  // Live: db stopped (its dependents with it, or left without it) is seen without a reload.
  await daemon.api("POST", `/api/services/${db}/stop`);
  await expect(items.first()).toHaveText(new RegExp(`^${api} depends on ${db} \\(healthy, (unmet|blocked)`));
  await expect(svg.locator("a.dep-node", { hasText: db })).toContainText("stopped");
  await daemon.api("POST", `/api/services/${worker}/start`);
  await expect(items).toHaveText([`${api} depends on ${db} (healthy, satisfied)`, `${worker} depends on ${api} (started, restarts with it, satisfied)`], {
    timeout: 30_000,
  });

  // A node of the drawing leads to that service's page, whose graph is around it (no reload).
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
  await svg.locator("a.dep-node", { hasText: db }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${db}$`));
  await expect(page.getByTestId("dep-graph").locator("#dep-graph-title")).toHaveText(`Dependency graph of ${db}`);
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

  // The form: worker's dependency on api as a row; add db (healthy) and save.
  await page.goto(`/services/${worker}/edit`);
  await expect(page.getByLabel("dependency 1", { exact: true })).toHaveValue(api);
  await expect(page.getByLabel("restart with dependency 1")).toBeChecked();
  await expect(page.getByText("no effect yet")).toHaveCount(0);
  await page.getByRole("button", { name: "Add dependency" }).click();
  await page.getByLabel("dependency 2", { exact: true }).fill(db);
  await page.getByLabel("condition of dependency 2").selectOption("healthy");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${worker}$`));
  expect((await daemon.service(worker)).depends_on).toEqual({
    [api]: { condition: "started", restart: true },
    [db]: { condition: "healthy", restart: false },
  });
  await expect(page.getByTestId("dep-list").getByRole("listitem").filter({ hasText: `${worker} depends on ${db} (healthy` })).toHaveCount(1);

  // db needing a service that does not exist, then worker (db -> worker -> db): refused on the field.
  await page.goto(`/services/${db}/edit`);
  await page.getByRole("button", { name: "Add dependency" }).click();
  const name = page.getByLabel("dependency 1", { exact: true });
  await name.fill("no-such-service");
  await page.getByRole("button", { name: "Save" }).click();
  const error = page.locator("#depends_on-error");
  await expect(error).toContainText("no-such-service");
  await expect(name).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(new RegExp(`/services/${db}/edit$`));
  await name.fill(worker);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(error).toContainText("->");
  await expect(error).toContainText(db);
  await expect(error).toContainText(worker);
  await expect(page).toHaveURL(new RegExp(`/services/${db}/edit$`));
  expect((await daemon.service(db)).depends_on).toEqual({});
});

test("a service waiting for a dependency shows waiting and why, on the overview and on its page", async ({ page, daemon }) => {
  const never = unique("never");
  const app = unique("app");
  // Nothing listens on this port: never's health check never passes.
  const port = await freePort();
  await daemon.addService(never, sh.sleeper(), { port, health: { probe: "http", interval_s: 1 } }, false);
  await daemon.addService(app, sh.sleeper(), { depends_on: { [never]: { condition: "healthy" } }, depends_timeout_s: 600 }, false);
  await daemon.waitStatus(app, "waiting");

  await page.goto("/");
  const badge = serviceRow(page, app).getByTestId("state");
  await expect(badge).toHaveText("waiting");
  await expect(badge).toHaveClass(/\bwaiting\b/);
  await expect(badge).toHaveAttribute("title", new RegExp(`^waiting for ${never} \\(healthy\\)`));
  // Its own colour: not the colour of any other status.
  const colour = (cls: string) => page.evaluate((c) => {
    const el = document.createElement("span");
    el.className = `badge ${c}`;
    document.body.append(el);
    const v = getComputedStyle(el).color;
    el.remove();
    return v;
  }, cls);
  const others = await Promise.all(["running", "starting", "stopped", "fatal"].map(colour));
  expect(others).not.toContain(await colour("waiting"));

  await serviceRow(page, app).getByRole("link", { name: app }).click();
  const waiting = page.getByTestId("waiting-for");
  await expect(waiting).toContainText(`${never} (healthy)`);
  await expect(page.getByTestId("dep-list").getByRole("listitem")).toHaveText([new RegExp(`^${app} depends on ${never} \\(healthy, unmet`)]);
  await expect(page.getByTestId("dep-graph-svg").locator("g.dep-edge")).toHaveAttribute("data-state", "unmet");
});
