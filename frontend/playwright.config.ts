// End-to-end tests of the dashboard in Debian's chromium (never a downloaded browser) against a real
// daemon: `npm run e2e` after `cargo build -p tend` with the dashboard embedded (`cargo xtask test`
// does both). TEND_BIN picks another binary, CHROMIUM another browser. Each worker runs its own daemon
// (e2e/fixtures.ts); two workers on the project's 2-core machines.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./e2e",
  outputDir: "../target/playwright",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: Number(process.env.E2E_WORKERS ?? 2),
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  reporter: [["list"]],
  use: {
    browserName: "chromium",
    headless: true,
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
  },
});
