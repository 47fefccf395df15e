// The admin screens in the browser: plugins (list and reload), proxy (routes, Caddyfile, reload
// against a real Caddy) and audit (policy decisions with filters). This file's worker runs its daemon
// with a throwaway Caddy.
import { test, expect, unique } from "./fixtures";
import { evaluate, FIXER_SCRIPT_TOML, freePort } from "./harness";

// The same options as screens.spec's, so both share one worker's daemon.
test.use({ daemonOptions: { caddy: true, plugins: ["fixer-script"], toml: FIXER_SCRIPT_TOML } });

test("plugins are listed and reloaded", async ({ page, daemon }) => {
  await page.goto("/plugins");
  await expect(page.getByRole("heading", { level: 1, name: "Plugins" })).toBeVisible();
  const table = page.getByRole("table", { name: "Plugins" });
  const plugins = (await daemon.api("GET", "/api/plugins")) as unknown;
  const names = (Array.isArray(plugins) ? plugins : (plugins as { plugins: { name: string }[] }).plugins).map(
    (p: { name: string }) => p.name,
  );
  expect(names.length).toBeGreaterThan(0);
  for (const n of names) await expect(table).toContainText(n);
  await page.getByRole("button", { name: "Reload plugins" }).click();
  await expect(page.getByRole("status").filter({ hasText: /\S/ })).toBeVisible();
});

test("proxy shows the routes and the Caddyfile, and reloads Caddy", async ({ page, daemon }) => {
  const name = unique("site");
  const port = await freePort();
  await daemon.addService(name, ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1"], {
    port,
    expose_caddy: true,
  });
  await page.goto("/proxy");
  await expect(page.getByRole("heading", { level: 1, name: "Proxy" })).toBeVisible();
  await expect(page.getByRole("table", { name: "Routes" })).toContainText(name);
  await expect(page.getByTestId("caddyfile")).toContainText(String(port));
  await page.getByRole("button", { name: "Reload Caddy" }).click();
  await expect(page.getByRole("status").filter({ hasText: /applied|reloaded|ok/i })).toBeVisible();
});

test("audit lists policy decisions and filters them", async ({ page, daemon }) => {
  await evaluate(daemon, "rm -rf /");
  await evaluate(daemon, "make build");
  await page.goto("/audit");
  await expect(page.getByRole("heading", { level: 1, name: "Audit" })).toBeVisible();
  const table = page.getByRole("table", { name: "Policy decisions" });
  await expect(table).toContainText("rm -rf /");
  await expect(table).toContainText("make build");
  await page.getByRole("combobox", { name: "Decision" }).selectOption("deny");
  await expect(table).toContainText("rm -rf /");
  await expect(table).not.toContainText("make build");
  await page.getByRole("combobox", { name: "Decision" }).selectOption("allow");
  await expect(table).toContainText("make build");
  await expect(table).not.toContainText("rm -rf /");
});
