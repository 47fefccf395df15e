import { describe, expect, it } from "vitest";
import { concernsTarget, diffLines, diffStat, editText, fixActions, isRunning, statusTone } from "./fixes";

const DIFF = `--- a/conf.txt
+++ b/conf.txt
@@ -1,3 +1,3 @@
 keep
--- removed line that starts with dashes
-mode = broken
+mode = fixed
+++ added line that starts with pluses
 <script>alert(1)</script>
\\ No newline at end of file
mode 644 -> 755
`;

describe("diffLines", () => {
  it("types every line of a unified diff, headers apart from body lines that look like them", () => {
    const kinds = diffLines(DIFF).map((l) => l.kind);
    expect(kinds).toEqual(["meta", "meta", "hunk", "ctx", "del", "del", "add", "add", "ctx", "meta", "meta"]);
  });

  it("keeps each line's text exactly (it is rendered as text, markup included)", () => {
    const lines = diffLines(DIFF);
    expect(lines[8]).toEqual({ kind: "ctx", text: " <script>alert(1)</script>" });
    expect(lines.map((l) => l.text).join("\n") + "\n").toBe(DIFF);
  });

  it("a new file's diff from /dev/null and an empty diff", () => {
    const created = diffLines("--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n");
    expect(created.map((l) => l.kind)).toEqual(["meta", "meta", "hunk", "add"]);
    expect(diffLines("")).toEqual([]);
  });

  it("counts added and removed lines, not headers", () => {
    expect(diffStat(DIFF)).toEqual({ added: 2, removed: 2 });
  });
});

describe("fixActions", () => {
  it("approve and reject only while awaiting approval", () => {
    expect(fixActions({ status: "awaiting-approval" })).toEqual({ approve: true, reject: true, restore: false });
    for (const status of ["proposed", "rejected", "failed", "diagnosing", "applying"] as const)
      expect(fixActions({ status, backup: "/b" })).toEqual({ approve: false, reject: false, restore: false });
  });

  it("restore once applied with a backup, and not twice", () => {
    expect(fixActions({ status: "verified", backup: "/b" }).restore).toBe(true);
    expect(fixActions({ status: "verified", backup: "/b", restored_by: "7" }).restore).toBe(false);
    expect(fixActions({ status: "verified" }).restore).toBe(false);
    expect(fixActions({ status: "restored", backup: "/b" }).restore).toBe(false);
  });
});

describe("status", () => {
  it("running states and tones", () => {
    expect(["diagnosing", "applying", "verifying"].every((s) => isRunning(s as never))).toBe(true);
    expect(isRunning("awaiting-approval")).toBe(false);
    expect(statusTone("verified")).toBe("ok");
    expect(statusTone("failed")).toBe("bad");
    expect(statusTone("awaiting-approval")).toBe("warn");
    expect(statusTone("no-fix")).toBe("idle");
  });
});

describe("concernsTarget", () => {
  const ev = (message: string, service?: string, agent = "fixer") => ({ time: "", agent, service, message });
  it("a service's fixer events by the event's service", () => {
    expect(concernsTarget(ev('fix 3 of service "web": verified', "web"), "service", "web")).toBe(true);
    expect(concernsTarget(ev('fix 3 of service "web2": verified', "web2"), "service", "web")).toBe(false);
    expect(concernsTarget(ev("something", "web", "other-agent"), "service", "web")).toBe(false);
  });
  it("a cron job's by the message, which names it quoted", () => {
    expect(concernsTarget(ev('fix 4 of cron job "backup": failed (x)'), "cron-job", "backup")).toBe(true);
    expect(concernsTarget(ev('fix 4 of cron job "backup-2": failed'), "cron-job", "backup")).toBe(false);
    expect(concernsTarget(null, "cron-job", "backup")).toBe(false);
  });
});

describe("editText", () => {
  it("names each kind of edit", () => {
    expect(editText({ op: "replace", path: "a.py", base_sha256: "x", old: "1", new: "2" })).toBe("replace in a.py");
    expect(editText({ op: "create", path: "b", content: "", executable: true })).toBe("create b (executable)");
    expect(editText({ op: "create_dir", path: "logs" })).toBe("create directory logs");
    expect(editText({ op: "set_executable", path: "run.sh", base_sha256: "x", executable: true })).toBe("set the exec bit of run.sh");
  });
});
