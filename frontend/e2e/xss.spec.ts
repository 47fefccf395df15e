// Everything a service produced is text: a service whose command, log lines, environment and cron
// output carry `<img src=x onerror=alert(1)>` and ANSI sequences shows those characters literally on
// every screen, no element is made of them, and no dialog opens (the fixture fails the test if one
// does).
import { test, expect, serviceRow, unique } from "./fixtures";

const PAYLOAD = "<img src=x onerror=alert(1)>";
const SCRIPT = "<script>alert(2)</script>";

/** Elements made from the payloads (ansi_up's colour spans are fine; an img or a script is not). */
async function injected(page: import("@playwright/test").Page): Promise<number> {
  return page.evaluate(
    () =>
      document.querySelectorAll('img[src="x"], [onerror]').length +
      [...document.scripts].filter((s) => (s.textContent ?? "").includes("alert")).length,
  );
}

test("service output, names and definitions are rendered as text", async ({ page, daemon }) => {
  const name = unique("xss");
  // printf's format is fixed; the payloads arrive as arguments, so the shell never interprets them.
  const command = `printf '%s\\n' '${PAYLOAD}' '${SCRIPT}'; printf '\\033[31mred-text\\033[0m plain\\n'; exec sleep 100000`;
  await daemon.addService(name, command, { env: { EVIL: PAYLOAD } });

  await page.goto("/");
  await expect(serviceRow(page, name)).toBeVisible();
  expect(await injected(page)).toBe(0);

  await page.goto(`/services/${name}`);
  await expect(page.getByRole("heading", { level: 1 })).toContainText(name);
  // The definition shows the command as typed.
  await expect(page.getByText(PAYLOAD, { exact: false }).first()).toBeVisible();
  const reveal = page.getByRole("button", { name: /^Reveal/ }).first();
  if (await reveal.count()) await reveal.click();
  expect(await injected(page)).toBe(0);

  await page.goto(`/services/${name}/logs`);
  const view = page.getByTestId("log-view");
  await expect(view).toContainText(PAYLOAD);
  await expect(view).toContainText(SCRIPT);
  await expect(view).toContainText("red-text plain");
  // The escape sequence itself never reaches the page, with colours on or off.
  const text = (await view.textContent()) ?? "";
  expect(text).not.toContain("\u001b");
  await page.getByLabel("Colours").setChecked(!(await page.getByLabel("Colours").isChecked()));
  await expect(view).toContainText(PAYLOAD);
  expect((await view.textContent()) ?? "").not.toContain("\u001b");
  expect(await injected(page)).toBe(0);
});

test("cron output is rendered as text", async ({ page, daemon }) => {
  const name = unique("xsscron");
  await daemon.api("POST", "/api/cron", {
    name,
    schedule: "0 4 * * *",
    command: `printf '%s\\n' '${PAYLOAD}'; printf '\\033[32mgreen-text\\033[0m\\n'`,
  });
  await daemon.api("POST", `/api/cron/${name}/run`);
  await page.goto(`/cron/${name}`);
  const row = page.getByRole("table", { name: "Executions" }).getByTestId("execution-row").first();
  await expect(row).toContainText(/succeeded/i);
  await row.click();
  const output = page.getByTestId("execution-output");
  await expect(output).toContainText(PAYLOAD);
  await expect(output).toContainText("green-text");
  expect(await injected(page)).toBe(0);
});
