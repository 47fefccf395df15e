// The dashboard against a daemon that goes away and comes back (banner, then live updates again
// without a reload), and entries owned by tend.toml (shown read-only with the reason). This file's
// worker has its own daemon, with a service in its config file, because it restarts it.
import { test, expect, serviceRow, unique } from "./fixtures";
import { sh } from "./harness";

test.use({ daemonOptions: { toml: '[services.from-file]\ncommand = "exec sleep 100000"\n' } });

test("a lost connection shows a banner and recovers by itself", async ({ page, daemon }) => {
  test.setTimeout(90_000);
  const name = unique("survivor");
  await daemon.addService(name, sh.sleeper());
  await page.goto("/");
  await expect(serviceRow(page, name).getByTestId("state")).toHaveText("running");
  await expect(page.getByTestId("connection-lost")).toHaveCount(0);
  // Marks the document: a full reload would lose it.
  await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

  await daemon.halt();
  await expect(page.getByTestId("connection-lost")).toBeVisible({ timeout: 20_000 });
  await daemon.restart();
  // The page reconnects by itself (its retry backs off to at most 10 s).
  await expect(page.getByTestId("connection-lost")).toHaveCount(0, { timeout: 30_000 });
  await daemon.waitStatus(name, "running");
  // Live again: a change made elsewhere shows without a reload.
  await daemon.api("POST", `/api/services/${name}/stop`);
  await expect(serviceRow(page, name).getByTestId("state")).toHaveText("stopped");
  expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
});

test("a service defined in tend.toml is shown read-only with the reason", async ({ page }) => {
  await page.goto("/services/from-file/edit");
  await expect(page.getByText("defined in tend.toml").first()).toBeVisible();
  await expect(page.getByLabel("command", { exact: true })).not.toBeEditable();
  const save = page.getByRole("button", { name: "Save" });
  if (await save.count()) await expect(save).toBeDisabled();
});
