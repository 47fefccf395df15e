// Auto-fix in the browser against a real daemon whose fixer is the `fixer-script` fixture (the broken
// service prints the proposal it answers with): "Fix now" on the service page, the proposal waiting for
// approval with its diff and the policy's decision, approve behind a confirmation, the file fixed and
// the service running, then restore putting the file back byte-exact; a rejection seen live and the
// API's refusal shown; and a cron job's page fixing too (nothing scripted: "no-fix").
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { test, expect, unique } from "./fixtures";
import { brokenService, FIXER_SCRIPT_TOML, waitFor } from "./harness";

test.use({ daemonOptions: { plugins: ["fixer-script"], toml: FIXER_SCRIPT_TOML } });

test("fix now, approve, the service runs, restore puts the file back", async ({ page, daemon }) => {
  test.setTimeout(120_000);
  const name = unique("broken");
  const root = await brokenService(daemon, name, "model");
  const conf = path.join(root, "conf.txt");

  await page.goto(`/services/${name}`);
  const fixes = page.getByTestId("fixes");
  await expect(fixes.getByRole("heading", { level: 2, name: "Fixes" })).toBeVisible();
  await expect(fixes).toContainText("No fixes yet.");
  await fixes.getByRole("button", { name: "Fix now" }).click();
  // A model's proposal waits for a person; the list and the progress follow the event stream.
  const progress = page.getByTestId("fix-progress");
  await expect(progress).toContainText("awaiting-approval", { timeout: 30_000 });
  await expect(fixes.getByTestId("fix-row").first().getByTestId("fix-status")).toHaveText("awaiting-approval");
  await expect(fixes.getByTestId("fix-row").first()).toContainText("model: scripted-model");
  expect(await readFile(conf, "utf8")).toBe("mode = broken\n");

  await progress.getByRole("link").click();
  await expect(page).toHaveURL(/\/fixes\/\d+$/);
  await expect(page.getByTestId("diagnosis")).toHaveText("conf.txt sets mode = broken; the service wants mode = fixed");
  const diff = page.getByTestId("diff");
  await expect(diff.locator(".diff-del")).toHaveText("-mode = broken");
  await expect(diff.locator(".diff-add")).toHaveText("+mode = fixed");
  const decision = page.getByTestId("decision-row");
  await expect(decision).toContainText("echo checked");
  await expect(decision).toContainText("judged when applied");
  await expect(decision).toContainText("fixer: a harmless check");
  // What the service logged is text: the markup is shown, never made an element.
  await expect(page.getByTestId("log-tail")).toContainText("fatal: mode is broken <img src=x onerror=alert(1)>");
  await expect(page.locator("main img")).toHaveCount(0);

  // Approve: confirmed first (cancel changes nothing), then applied, the command run, verified.
  await page.getByRole("button", { name: "Approve" }).click();
  const dialog = page.getByRole("dialog", { name: "Approve this fix?" });
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  expect(await readFile(conf, "utf8")).toBe("mode = broken\n");
  await page.getByRole("button", { name: "Approve" }).click();
  await page.getByRole("dialog", { name: "Approve this fix?" }).getByRole("button", { name: "Approve" }).click();
  await expect(page.getByTestId("fix-state")).toHaveText("verified", { timeout: 60_000 });
  await expect(page.getByTestId("action-result")).toContainText("Approved: the fix is verified");
  await expect(decision).toContainText("allowed");
  await expect(decision).toContainText("ok");
  expect(await readFile(conf, "utf8")).toBe("mode = fixed\n");
  expect((await daemon.service(name)).status).toBe("running");
  await expect(page.getByRole("button", { name: "Approve" })).toHaveCount(0);

  // Restore: the file comes back byte-exact, recorded as a restore of this fix.
  await page.getByRole("button", { name: "Restore" }).click();
  await page.getByRole("dialog", { name: "Restore the files?" }).getByRole("button", { name: "Restore" }).click();
  await expect(page.getByTestId("action-result")).toContainText(/Restored: restore \d+ is/);
  await expect(page.getByTestId("restored-by")).toBeVisible();
  await expect(page.getByRole("button", { name: "Restore" })).toHaveCount(0);
  expect(await readFile(conf, "utf8")).toBe("mode = broken\n");

  // The service page lists both records.
  await page.getByRole("link", { name: `Back to service ${name}` }).click();
  await expect(page.getByTestId("fixes").getByTestId("fix-row")).toHaveCount(2);
  await expect(page.getByTestId("fixes").getByTestId("fix-row").first()).toContainText("restore");
});

test("a fix rejected elsewhere shows live, confirming then shows the API's error, and nothing changed", async ({ page, daemon }) => {
  const name = unique("rejected");
  const root = await brokenService(daemon, name, "model");
  const fix = await daemon.api("POST", `/api/services/${name}/fix`);
  await waitFor("the fix to await approval", async () => (await daemon.api("GET", `/api/fixes/${fix.id}`)).status === "awaiting-approval", 30_000);
  await page.goto(`/fixes/${fix.id}`);
  await expect(page.getByTestId("fix-state")).toHaveText("awaiting-approval");
  // Rejected elsewhere while the confirmation is open: the page follows the event stream, and
  // confirming then shows the API's refusal.
  await page.getByRole("button", { name: "Reject" }).click();
  const dialog = page.getByRole("dialog", { name: "Reject this fix?" });
  await expect(dialog).toBeVisible();
  await daemon.api("POST", `/api/fixes/${fix.id}/reject`);
  await expect(page.getByTestId("fix-state")).toHaveText("rejected");
  await dialog.getByRole("button", { name: "Reject" }).click();
  await expect(page.getByRole("alert")).toContainText(/^reject: .*awaiting/);
  expect(await readFile(path.join(root, "conf.txt"), "utf8")).toBe("mode = broken\n");
  await page.goto("/fixes/999999");
  await expect(page.getByRole("alert")).toHaveText("No fix with id “999999”.");
});

test("a cron job's page has its fixes too: fix now, and the fixer finding nothing safe", async ({ page, daemon }) => {
  const name = unique("job");
  const root = path.join(daemon.dir, name);
  await mkdir(root, { recursive: true });
  await daemon.api("POST", "/api/cron", { name, schedule: "0 3 1 1 *", command: "echo nothing to script; exit 2", working_dir: root });
  await page.goto(`/cron/${name}`);
  const fixes = page.getByTestId("fixes");
  await expect(fixes).toContainText("No fixes yet.");
  await fixes.getByRole("button", { name: "Fix now" }).click();
  await expect(page.getByTestId("fix-progress")).toContainText("no-fix", { timeout: 30_000 });
  await expect(fixes.getByTestId("fix-row")).toHaveCount(1);
  await page.getByTestId("fix-progress").getByRole("link").click();
  await expect(page.getByTestId("fix-state")).toHaveText("no-fix");
  await expect(page.getByRole("link", { name: `Back to cron job ${name}` })).toBeVisible();
});
