import { describe, expect, it } from "vitest";
import { countdown, duration, executionOutput, exitText, mib, streamText, stripAnsi, when } from "./cron_view";
import type { Execution } from "./wire";

describe("cron figures", () => {
  const now = Date.parse("2030-01-01T00:00:00Z");
  it("counts down to the next run", () => {
    expect(countdown("2030-01-01T00:00:09.2Z", now)).toBe("in 10s");
    expect(countdown("2030-01-01T00:04:05Z", now)).toBe("in 4m 05s");
    expect(countdown("2030-01-01T02:03:00Z", now)).toBe("in 2h 03m");
    expect(countdown("2030-01-04T04:00:00Z", now)).toBe("in 3d 4h");
    expect(countdown("2029-12-31T23:59:59Z", now)).toBe("due");
    expect(countdown(undefined, now)).toBe("—");
  });
  it("formats durations, memory and exits", () => {
    expect(duration(850)).toBe("850 ms");
    expect(duration(12_340)).toBe("12.3 s");
    expect(duration(245_000)).toBe("4m 05s");
    expect(duration(undefined)).toBe("—");
    expect(mib(1048576 * 12.25)).toBe("12.3 MiB");
    expect(exitText({ exit_code: 0 })).toBe("exit 0");
    expect(exitText({ exit_code: null, signal: "SIGKILL" })).toBe("signal SIGKILL");
    expect(exitText({})).toBe("—");
  });
  it("shows a cut stream as head, marker and tail, and stderr after stdout", () => {
    expect(streamText({ text: "abc", bytes: 3, truncated: false })).toBe("abc");
    const cut = streamText({ text: "head", tail: "tail", bytes: 20, truncated: true });
    expect(cut.startsWith("head\n… 12 bytes not kept here")).toBe(true);
    expect(cut.endsWith("\ntail")).toBe(true);
    const e = {
      stdout: { text: "out", bytes: 3, truncated: false },
      stderr: { text: "err\n", bytes: 4, truncated: false },
    } as Execution;
    expect(executionOutput(e)).toBe("out\n--- stderr ---\nerr\n");
  });

  it("shows a fire time in the job's zone", () => {
    expect(when("2026-12-07T03:00:00+01:00", "Europe/Paris")).toContain("3:00:00");
    expect(when("2026-12-07T03:00:00+01:00", "UTC")).toContain("2:00:00");
    expect(when("2026-12-07T03:00:00+01:00", "Not/AZone")).not.toBe("—");
    expect(when(undefined)).toBe("—");
  });

  it("drops terminal escape sequences from output, keeping the text", () => {
    expect(stripAnsi("\x1b[32mgreen-text\x1b[0m <b>x</b>")).toBe("green-text <b>x</b>");
    expect(stripAnsi("\x1b]8;;http://x\x07link\x1b]8;;\x07 \x1b[2K\x1bM")).toBe("link ");
    const e = { stdout: { text: "\x1b[1mbold\x1b[0m\n", bytes: 13, truncated: false }, stderr: { text: "", bytes: 0, truncated: false } } as Execution;
    expect(executionOutput(e)).toBe("bold\n");
  });
});
