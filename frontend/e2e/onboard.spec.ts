// Onboarding in the browser against a real daemon and the built-in onboarder plugin: a copy of the
// `py-script` fixture project under the daemon's own `[onboard] projects_root`, previewed by its bare
// name, its service renamed in the editable plan, applied, the job followed to success, and the
// service running on the overview and answering on its port. A bad project shows the API's error
// next to the project field and registers nothing.
import { cp, mkdir } from "node:fs/promises";
import path from "node:path";
import { test, expect, serviceRow, unique } from "./fixtures";
import { repoRoot } from "./harness";

test.use({
  daemonOptions: {
    // Projects and data dirs inside the daemon's temp dir: nothing lands in the real home.
    toml: async (dir) => {
      await mkdir(path.join(dir, "projects", "empty-project"), { recursive: true });
      await mkdir(path.join(dir, "home"), { recursive: true });
      return `\n[onboard]\nprojects_root = "${path.join(dir, "projects")}"\ndata_root = "${path.join(dir, "home")}"\n`;
    },
  },
});

const SHOTS = path.join(repoRoot, "target", "dashboard-screens");

test("preview a project, rename its service, apply, and see it running", async ({ page, daemon }) => {
  test.setTimeout(120_000);
  const project = unique("pyscript");
  await cp(path.join(repoRoot, "tests", "fixtures", "onboard", "py-script"), path.join(daemon.dir, "projects", project), { recursive: true });
  const name = unique("renamed");
  const registered = async () => ((await daemon.api("GET", "/api/services")) as { name: string }[]).map((s) => s.name);
  const before = await registered();

  await page.goto("/");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Onboard" }).click();
  await expect(page).toHaveURL(/\/onboard$/);
  await page.getByLabel(/^Project/).fill(project);
  await page.getByRole("button", { name: "Preview" }).click();
  const plan = page.getByTestId("plan");
  await expect(plan.getByRole("heading", { level: 2 })).toHaveText(`Plan for ${project}`, { timeout: 30_000 });
  const svc = plan.getByTestId("planned-service-0");
  await expect(svc.getByLabel(/^Command/)).toHaveValue(/server\.py/);
  await expect(svc.getByLabel("Port", { exact: true })).toHaveValue(/^\d+$/);
  await svc.getByText(/^Evidence/).click();
  await expect(svc.locator("details.evidence")).toContainText("server.py");
  // The preview registered nothing.
  expect(await registered()).toEqual(before);
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, "onboard-preview-1280x800-light.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: path.join(SHOTS, "onboard-preview-390x844-light.png"), fullPage: true });
  // The page itself never scrolls sideways on a phone.
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await page.setViewportSize({ width: 1280, height: 800 });

  await svc.getByLabel("Name", { exact: true }).fill(name);
  await page.getByRole("button", { name: "Apply" }).click();
  const job = page.getByTestId("onboard-job");
  await expect(job.getByTestId("job-status")).toHaveText("succeeded", { timeout: 90_000 });
  await expect(job.getByTestId("job-step").filter({ hasText: "confirm" })).toContainText("ok");
  await page.screenshot({ path: path.join(SHOTS, "onboard-job-1280x800-light.png"), fullPage: true });

  // The job is in the address: a reload shows it again, and it is listed among the recent ones.
  await expect(page).toHaveURL(/\/onboard\?job=/);
  await page.reload();
  await expect(page.getByTestId("onboard-job").getByTestId("job-status")).toHaveText("succeeded");
  await expect(page.getByTestId("recent-job").filter({ hasText: project })).toContainText("succeeded");

  const s = await daemon.service(name);
  expect(s.status).toBe("running");
  const body = await (await fetch(`http://127.0.0.1:${s.port}/`)).text();
  expect(body).toBe("py-script\n");

  await page.getByTestId("onboard-job").getByRole("link", { name: `service ${name}` }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${name}$`));
  await page.goto("/");
  await expect(serviceRow(page, name).getByTestId("state")).toHaveText("running");
});

test("a project that leaves the root, or has nothing to run, is refused next to the project field", async ({ page, daemon }) => {
  const jobs = async () => ((await daemon.api("GET", "/api/onboard/jobs")) as { jobs: unknown[] }).jobs.length;
  const services = async () => ((await daemon.api("GET", "/api/services")) as unknown[]).length;
  const before = [await jobs(), await services()];
  await page.goto("/onboard");
  const field = page.getByLabel(/^Project/);
  await field.fill("../outside");
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("error-project")).toBeVisible();
  await expect(field).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("plan")).toHaveCount(0);

  await field.fill("empty-project");
  await page.getByRole("button", { name: "Preview" }).click();
  await expect(page.getByTestId("error-project")).toContainText(/nothing/i);
  await expect(page.getByTestId("plan")).toHaveCount(0);
  expect([await jobs(), await services()]).toEqual(before);
});
