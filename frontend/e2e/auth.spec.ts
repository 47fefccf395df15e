// Sign-in and sign-out in the browser: the one-time link from `tend dashboard --no-open` signs in
// (and is spent), the token pasted into the form signs in, and after "Sign out" the session cookie the
// browser held is refused by the API.
import { test, expect, signIn } from "./fixtures";

test("the one-time link signs in, leaves no code in the URL, and works only once", async ({ browser, daemon }) => {
  const context = await browser.newContext({ baseURL: daemon.url });
  const page = await context.newPage();
  const link = await daemon.signInLink();
  await page.goto(link);
  await expect(page.getByRole("heading", { level: 1, name: "Services" })).toBeVisible();
  expect(page.url()).not.toContain("code=");
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.httpOnly);
  expect(session, `an HttpOnly session cookie, got ${JSON.stringify(cookies)}`).toBeTruthy();
  expect(session!.sameSite).toBe("Strict");
  // The token never reaches the page's storage.
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }));
  expect(stored).not.toContain(daemon.token);
  await context.close();

  // The same link in a fresh browser is refused, with the reason shown.
  const again = await browser.newContext({ baseURL: daemon.url });
  const page2 = await again.newPage();
  await page2.goto(link);
  await expect(page2.getByRole("alert")).toBeVisible();
  await expect(page2.getByRole("heading", { level: 1, name: "Services" })).toHaveCount(0);
  expect((await page2.request.get("/api/status")).status()).toBe(401);
  await again.close();
});

test("the token pasted into the sign-in form signs in", async ({ browser, daemon }) => {
  const context = await browser.newContext({ baseURL: daemon.url });
  const page = await context.newPage();
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
  await page.getByLabel("Token").fill("not-the-token");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();
  await page.getByLabel("Token").fill(daemon.token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Services" })).toBeVisible();
  await context.close();
});

test("sign out ends the session: the cookie no longer works", async ({ browser, daemon, playwright }) => {
  const context = await browser.newContext({ baseURL: daemon.url });
  const page = await context.newPage();
  await signIn(page, daemon);
  const cookieHeader = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  // The cookie works before...
  const before = await playwright.request.newContext({ baseURL: daemon.url, extraHTTPHeaders: { cookie: cookieHeader } });
  expect((await before.get("/api/status")).status()).toBe(200);
  await before.dispose();

  await page.getByRole("link", { name: "Supervisor" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Supervisor" })).toBeVisible();
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);

  // ...and not after, even replayed by hand.
  const after = await playwright.request.newContext({ baseURL: daemon.url, extraHTTPHeaders: { cookie: cookieHeader } });
  expect((await after.get("/api/status")).status()).toBe(401);
  await after.dispose();
  // The page itself is back at the sign-in form after a reload.
  await page.reload();
  await expect(page.getByLabel("Token")).toBeVisible();
  await context.close();
});
