import { describe, expect, it } from "vitest";
import { logLine } from "./supervisor";

describe("supervisor log lines", () => {
  it("puts time, level and message first, then the other fields", () => {
    expect(
      logLine({ timestamp: "2030-01-01T00:00:00Z", level: "INFO", message: "transition", target: "tend::x", service: "web", pid: 4, to: "running" }),
    ).toBe("2030-01-01T00:00:00Z INFO  transition  service=web pid=4 to=running");
    expect(logLine({ timestamp: "t", level: "ERROR", message: "<b>boom</b>" })).toBe("t ERROR <b>boom</b>");
    expect(logLine("not an object")).toBe('"not an object"');
  });
});
