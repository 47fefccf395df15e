import { describe, expect, it } from "vitest";
import { buildRestart, restartErrorTarget, splitWords } from "./form_restart";

const draft = { pre: "", post: "", args: "", isSafe: true, production: false, timeout: "" };

describe("custom restart request", () => {
  it("splits args with shell quoting", () => {
    expect(splitWords(`--config "my file.yaml" -x 'a b' c\\ d ""`)).toEqual({ words: ["--config", "my file.yaml", "-x", "a b", "c d", ""] });
    expect(splitWords(`"open`)).toEqual({ error: "unbalanced double quote" });
    expect(splitWords("   ")).toEqual({ words: [] });
  });

  it("makes one command per line, typed by an optional prefix, with the flags and timeout", () => {
    const b = buildRestart({ ...draft, pre: "make: clean\n\nmake build\n", post: "exec: touch \"a b\"", args: "--port 8001", timeout: "30" });
    expect(b.errors).toEqual({ pre: undefined, post: undefined, args: undefined, timeout: undefined });
    expect(b.body).toEqual({
      pre_commands: [
        { command_type: "make", command: "clean", is_safe: true, allowed_in_production: false, timeout_s: 30 },
        { command_type: "shell", command: "make build", is_safe: true, allowed_in_production: false, timeout_s: 30 },
      ],
      post_commands: [{ command_type: "exec", command: 'touch "a b"', is_safe: true, allowed_in_production: false, timeout_s: 30 }],
      args: ["--port", "8001"],
    });
    expect(b.lines).toEqual({ pre: [1, 3], post: [1] });
  });

  it("reports a bad timeout and unbalanced args", () => {
    const b = buildRestart({ ...draft, args: "'x", timeout: "soon" });
    expect(b.errors.args).toBe("unbalanced single quote");
    expect(b.errors.timeout).toBe("must be a whole number of seconds");
  });

  it("maps an API field back to the input and the line typed", () => {
    const lines = { pre: [1, 3], post: [2] };
    expect(restartErrorTarget("pre_commands[1].command", lines)).toEqual({ input: "pre", prefix: "line 3: " });
    expect(restartErrorTarget("post_commands[0].command_type", lines)).toEqual({ input: "post", prefix: "line 2: " });
    expect(restartErrorTarget("pre_commands", lines)).toEqual({ input: "pre", prefix: "" });
    expect(restartErrorTarget("pre_commands[0].timeout_s", lines)).toEqual({ input: "timeout", prefix: "" });
    expect(restartErrorTarget("args[3]", lines)).toEqual({ input: "args", prefix: "" });
    expect(restartErrorTarget("body", lines)).toBeNull();
  });
});
