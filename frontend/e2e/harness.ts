// The end-to-end harness: a REAL `tend daemon` (the binary from TEND_BIN, else ../target/debug/tend,
// built with the dashboard embedded) on port 0 in a fresh temp data dir, its REST API driven with the
// bearer token for setting up test data, the one-time sign-in link from `tend dashboard --no-open`, and
// halt/restart on the same port for the reconnection test. Every wait polls a condition with a
// deadline; nothing sleeps for a fixed time. Also a throwaway Caddy (admin API and HTTP port on free
// ports) for the proxy screen, and fixture plugins installed before start (the fixes screens' scripted
// fixer). Owns no assertions about the UI.
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile, open } from "node:fs/promises";
import { createHash } from "node:crypto";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository root (frontend/e2e/../..). */
export const repoRoot = path.resolve(here, "..", "..");
export const tendBin = process.env.TEND_BIN ?? path.join(repoRoot, "target", "debug", "tend");

/** Settings the caller's shell may have that must not leak into the daemon or the CLI under test. */
const LEAKY = [
  "TEND_URL",
  "TEND_TOKEN",
  "TEND_HOST",
  "TEND_PORT",
  "TEND_DATA_DIR",
  "TEND_CONFIG",
  "TEND_LOG",
  "TEND_CONTROL_PORT",
  "TEND_CONTAINMENT",
  "TEND_ENVIRONMENT",
  "LOG_MAX_BYTES",
  "LOG_BACKUP_COUNT",
  "LOG_RETENTION_DAYS",
  "LOG_MIN_FREE_MB",
  "MONITOR_INTERVAL",
];
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of LEAKY) delete env[k];
  for (const k of Object.keys(env)) if (k.startsWith("CADDY_")) delete env[k];
  return env;
}

/** Calls `check` until it returns something other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A free TCP port on 127.0.0.1 (bound and released; good enough for a test's own children). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
  });
}

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
}

export interface DaemonOptions {
  /** Extra `tend.toml` text (the `[caddy]` table is written by the harness when `caddy` is set), or
   *  a function making it once the daemon's temp dir exists (e.g. after starting a scripted LLM
   *  server whose port goes into `[llm]`, or naming directories inside that dir). */
  toml?: string | ((dir: string) => Promise<string>);
  /** Start a throwaway Caddy and point the daemon at it. */
  caddy?: boolean;
  /** Fixture plugins (`cargo xtask build-plugins` builds them into target/plugins/fixtures) installed
   *  under their own names in `<data_dir>/plugins` before the daemon starts, e.g. `fixer-script`. */
  plugins?: string[];
}

/** Copies fixture `name`'s manifest and component into `<dataDir>/plugins` (manifest first). */
async function installFixture(dataDir: string, name: string): Promise<void> {
  const from = path.join(process.env.TEND_PLUGINS_DIR ?? path.join(repoRoot, "target", "plugins"), "fixtures");
  const to = path.join(dataDir, "plugins");
  await mkdir(to, { recursive: true, mode: 0o700 });
  for (const ext of ["toml", "wasm"]) {
    const src = path.join(from, `${name}.${ext}`);
    await copyFile(src, path.join(to, `${name}.${ext}`)).catch((e) => {
      throw new Error(`cannot install fixture plugin ${name} from ${src} (run \`cargo xtask build-plugins\`): ${String(e)}`);
    });
  }
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what} answered ${status}: ${body}`);
  }
}

export class Daemon {
  private constructor(
    private child: ChildProcess,
    readonly dir: string,
    readonly dataDir: string,
    readonly url: string,
    readonly token: string,
    readonly logFile: string,
    readonly caddy: Caddy | null,
  ) {}

  static async start(opts: DaemonOptions = {}): Promise<Daemon> {
    const dir = await mkdtemp(path.join(tmpdir(), "tend-e2e-"));
    // mkdtemp creates the dir 0700, which the daemon requires of its data dir.
    const dataDir = path.join(dir, "data");
    const logFile = path.join(dir, "daemon.out");
    let caddy: Caddy | null = null;
    let toml = typeof opts.toml === "function" ? await opts.toml(dir) : (opts.toml ?? "");
    if (opts.caddy) {
      caddy = await Caddy.start(dir);
      toml += `\n[caddy]\nadmin_url = "http://127.0.0.1:${caddy.adminPort}"\nport = ${caddy.httpPort}\ntls = "off"\nbind = "127.0.0.1"\n`;
    } else {
      // Never talk to a Caddy that happens to run on this machine's default admin port.
      toml += `\n[caddy]\nadmin_url = "http://127.0.0.1:9"\n`;
    }
    await writeFile(path.join(dir, "tend.toml"), toml);
    try {
      if (opts.plugins?.length) await mkdir(dataDir, { recursive: true, mode: 0o700 });
      for (const p of opts.plugins ?? []) await installFixture(dataDir, p);
      const { child, url } = await Daemon.spawn(dir, 0);
      const token = (await readFile(path.join(dataDir, "token"), "utf8")).trim();
      return new Daemon(child, dir, dataDir, url, token, logFile, caddy);
    } catch (e) {
      await caddy?.stop();
      throw e;
    }
  }

  /** Runs `tend daemon` on `<dir>/data` and port `port` (0: a free one); resolves once it answers. */
  private static async spawn(dir: string, port: number): Promise<{ child: ChildProcess; url: string }> {
    const dataDir = path.join(dir, "data");
    const logFile = path.join(dir, "daemon.out");
    const out = await open(logFile, "a");
    const args = ["daemon", "--port", String(port), "--control-port", "0", "--data-dir", dataDir];
    const child = spawn(tendBin, [...args, "--config", path.join(dir, "tend.toml")], {
      env: cleanEnv(),
      stdio: ["ignore", out.fd, out.fd],
    });
    await out.close();
    let spawnError: Error | null = null;
    child.once("error", (e) => (spawnError = e));
    const tail = async () => (await readFile(logFile, "utf8").catch(() => "")).split("\n").slice(-30).join("\n");
    try {
      const url = await waitFor("daemon.json", async () => {
        if (spawnError) throw new Error(`cannot start ${tendBin}: ${String(spawnError)} (build it: cargo build -p tend)`);
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`the daemon exited at startup (${child.exitCode ?? child.signalCode}):\n${await tail()}`);
        const text = await readFile(path.join(dataDir, "daemon.json"), "utf8").catch(() => null);
        if (!text) return undefined;
        try {
          return String((JSON.parse(text) as { url: string }).url).replace(/\/$/, "");
        } catch {
          return undefined; // half-written; the next poll sees the whole file
        }
      });
      await waitFor("/healthz", async () => (await fetch(`${url}/healthz`)).ok);
      return { child, url };
    } catch (e) {
      await terminate(child, 5_000);
      throw new Error(`${String(e)}\n--- daemon output ---\n${await tail()}`);
    }
  }

  /** Stops the daemon (SIGTERM, wait) and leaves it stopped until `restart`. */
  async halt(): Promise<void> {
    await terminate(this.child, 30_000);
  }

  /** Starts the daemon again on the same data dir and port (sessions and services persist). */
  async restart(): Promise<void> {
    await terminate(this.child, 30_000);
    const port = Number(new URL(this.url).port);
    const { child, url } = await Daemon.spawn(this.dir, port);
    if (url !== this.url) throw new Error(`the restarted daemon answers at ${url}, not ${this.url}`);
    this.child = child;
  }

  /** SIGTERM and wait (the daemon stops its services first), then remove the temp dir. */
  async stop(): Promise<void> {
    await terminate(this.child, 30_000);
    await this.caddy?.stop();
    if (!process.env.TEND_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }

  /** A REST call with the bearer token; throws `ApiFailure` on a non-2xx answer. */
  async api<T = any>(method: string, p: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    } else if (method !== "GET" && method !== "DELETE") {
      headers["content-type"] = "application/json";
      init.body = "{}";
    }
    const res = await fetch(`${this.url}${p}`, init);
    const text = await res.text();
    if (!res.ok) throw new ApiFailure(res.status, text, `${method} ${p}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Registers a service through the API (shell command string) and waits until it runs. */
  async addService(name: string, command: string | string[], extra: Record<string, unknown> = {}, waitRunning = true) {
    await this.api("POST", "/api/services", { name, command, ...extra });
    if (waitRunning) await this.waitStatus(name, "running");
  }

  async service(name: string): Promise<any> {
    return this.api("GET", `/api/services/${encodeURIComponent(name)}`);
  }

  async waitStatus(name: string, status: string, timeoutMs = 20_000): Promise<any> {
    return waitFor(`${name} to be ${status}`, async () => {
      const s = await this.service(name);
      return s.status === status ? s : undefined;
    }, timeoutMs);
  }

  /** The one-time sign-in link that `tend dashboard --no-open` prints. */
  async signInLink(): Promise<string> {
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        tendBin,
        ["--data-dir", this.dataDir, "dashboard", "--no-open"],
        { env: cleanEnv(), timeout: 20_000 },
        (err, stdout, stderr) => (err ? reject(new Error(`tend dashboard --no-open failed: ${String(err)}\n${stderr}`)) : resolve({ stdout, stderr })),
      );
    });
    const m = /https?:\/\/\S+\/login#code=\S+/.exec(stdout);
    if (!m) throw new Error(`tend dashboard --no-open printed no sign-in link:\n${stdout}\n${stderr}`);
    return m[0];
  }

  async output(): Promise<string> {
    return readFile(this.logFile, "utf8").catch(() => "");
  }
}

/** A Caddy with only its admin API configured, on free ports; tend adds its own server on `httpPort`. */
export class Caddy {
  private constructor(
    readonly child: ChildProcess,
    readonly adminPort: number,
    readonly httpPort: number,
  ) {}

  static async start(dir: string): Promise<Caddy> {
    const adminPort = await freePort();
    const httpPort = await freePort();
    const config = path.join(dir, "caddy.json");
    await writeFile(config, JSON.stringify({ admin: { listen: `127.0.0.1:${adminPort}` } }));
    const env = cleanEnv();
    env.XDG_DATA_HOME = path.join(dir, "caddy-data");
    env.XDG_CONFIG_HOME = path.join(dir, "caddy-config");
    const child = spawn(process.env.CADDY ?? "caddy", ["run", "--config", config], { env, stdio: "ignore" });
    const caddy = new Caddy(child, adminPort, httpPort);
    try {
      await waitFor("caddy's admin API", async () => {
        if (child.exitCode !== null) throw new Error(`caddy exited (${child.exitCode})`);
        return (await fetch(`http://127.0.0.1:${adminPort}/config/`)).ok;
      });
    } catch (e) {
      await caddy.stop();
      throw e;
    }
    return caddy;
  }

  async stop(): Promise<void> {
    await terminate(this.child, 10_000);
  }
}

/** Puts a shell command to the command policy (audited, nothing run). */
export function evaluate(daemon: Daemon, command: string) {
  return daemon.api("POST", "/api/policy/evaluate", { command: { command_type: "shell", command, is_safe: true } });
}

/** Shell commands (run by tend through /bin/sh -c) that several specs use for their services. */
export const sh = {
  /** Prints `tick N` every `everyS` seconds, and `marker N` on every tenth line. */
  ticker: (everyS = 0.2) =>
    `i=0; while true; do i=$((i+1)); if [ $((i % 10)) -eq 0 ]; then echo "marker $i"; else echo "tick $i"; fi; sleep ${everyS}; done`,
  sleeper: () => "exec sleep 100000",
};

/** `[autofix]` settings for a daemon whose fixer is the `fixer-script` fixture (install it with
 *  `plugins: ["fixer-script"]`): no cooldown, room for many attempts, a one-second stability window. */
export const FIXER_SCRIPT_TOML = `[autofix]\nplugin = "fixer-script"\ncooldown_s = 0\nmax_attempts = 50\nverify_window_s = 1\n`;

/**
 * A service that is broken until its `conf.txt` says `mode = fixed`, in its own project dir
 * `<daemon dir>/<name>`, printing the proposal the `fixer-script` fixture answers with (replace
 * `broken` by `fixed` in conf.txt, written by `author`; a model's proposal waits for approval by
 * default). It logs markup when broken (shown as text, or the dialog guard fails the test). Never
 * restarted by the supervisor, so only a fix restarts it. Returns the project dir.
 */
export async function brokenService(daemon: Daemon, name: string, author: "rule" | "model" = "model"): Promise<string> {
  const root = path.join(daemon.dir, name);
  await mkdir(root, { recursive: true });
  const conf = "mode = broken\n";
  await writeFile(path.join(root, "conf.txt"), conf);
  const proposal = {
    diagnosis: "conf.txt sets mode = broken; the service wants mode = fixed",
    confidence: 0.9,
    edits: [{ op: "replace", path: "conf.txt", base_sha256: createHash("sha256").update(conf).digest("hex"), old: "broken", new: "fixed" }],
    commands: [{ command_type: "shell", command: "echo checked", is_safe: true, allowed_in_production: true, reason: "a harmless check" }],
    restart: true,
    author,
    source: author === "model" ? "scripted-model" : "scripted-rule",
  };
  const file = path.join(daemon.dir, `${name}.proposal`);
  await writeFile(file, JSON.stringify(proposal));
  const line = `echo "TEND-FIX-SCRIPT: $(cat '${file}')"; grep -q 'mode = fixed' conf.txt || { echo 'fatal: mode is broken <img src=x onerror=alert(1)>' >&2; exit 1; }; exec sleep 100000`;
  await daemon.api("POST", "/api/services", { name, command: ["/bin/sh", "-c", line], working_dir: root, restart: "never" });
  await waitFor(`${name} to print its script and exit`, async () => {
    const s = await daemon.service(name);
    return s.status !== "starting" && s.status !== "running" && s.status !== "stopped";
  }, 20_000);
  return root;
}
