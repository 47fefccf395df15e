import { describe, expect, it } from "vitest";
import { fmtBytes, fmtCountdown, fmtCpu, fmtDuration, fmtMem } from "./format";

describe("format", () => {
  it("durations use the two largest units", () => {
    expect(fmtDuration(0)).toBe("0s");
    expect(fmtDuration(59.9)).toBe("59s");
    expect(fmtDuration(61)).toBe("1m 01s");
    expect(fmtDuration(3600 * 4 + 12 * 60 + 5)).toBe("4h 12m");
    expect(fmtDuration(86_400 * 3 + 3600 * 4)).toBe("3d 4h");
    expect(fmtDuration(undefined)).toBe("—");
    expect(fmtDuration(-1)).toBe("—");
  });

  it("countdowns", () => {
    const now = Date.parse("2026-12-05T12:00:00Z");
    expect(fmtCountdown(now + 59_000, now)).toBe("in 59s");
    expect(fmtCountdown(now + 59_001, now)).toBe("in 1m 00s");
    expect(fmtCountdown(now + (2 * 3600 + 3 * 60) * 1000, now)).toBe("in 2h 03m");
    expect(fmtCountdown(now, now)).toBe("due");
    expect(fmtCountdown(now - 5000, now)).toBe("due");
    expect(fmtCountdown(NaN, now)).toBe("—");
  });

  it("memory, bytes and cpu", () => {
    expect(fmtMem(0.5)).toBe("512 KB");
    expect(fmtMem(12.25)).toBe("12.3 MB");
    expect(fmtMem(512)).toBe("512 MB");
    expect(fmtMem(2048)).toBe("2.00 GB");
    expect(fmtMem(undefined)).toBe("—");
    expect(fmtBytes(512)).toBe("512 B");
    expect(fmtBytes(73_400_320)).toBe("70.0 MB");
    expect(fmtCpu(0.42)).toBe("0.4%");
    expect(fmtCpu(180.2)).toBe("180%");
  });
});
