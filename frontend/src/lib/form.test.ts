import { describe, expect, it } from "vitest";
import { ApiError } from "../api";
import { buildBody, draftFrom, fieldOf, mapError, parseMap, unknownFields } from "./form";
import { SERVICE_FIELDS, serviceModel } from "./form_service";
import { cronModel, cronSpecOf } from "./form_cron";
import { emptyRow, rowsOf, rowsText, type DepRow } from "./form_deps";

const draft = (over: Record<string, string | boolean>) => ({ ...serviceModel.empty(), ...over });

describe("buildBody (service)", () => {
  it("sends only what was set, with the API's types, and leaves health out when empty", () => {
    const { body, errors } = buildBody(
      serviceModel,
      draft({ name: "web", command: "python3 -m http.server", port: "8000", "backoff.multiplier": "1.5", env: "A=1\nB=x=y\n\n" }),
    );
    expect(errors).toEqual({});
    expect(body).toEqual({
      name: "web",
      command: "python3 -m http.server",
      port: 8000,
      enabled: true,
      restart: "always",
      expose_caddy: false,
      backoff: { multiplier: 1.5 },
      env: { A: "1", B: "x=y" },
    });
  });

  it("builds argv, lists and the nested health object", () => {
    const { body, errors } = buildBody(
      serviceModel,
      draft({
        name: "w",
        command_mode: "argv",
        command: "python3\n-m\nhttp.server\n",
        watch_dirs: "/srv/a\n/srv/b",
        "health.probe": "http",
        "health.config": '{"path": "/health"}',
        "health.retries": "5",
      }),
    );
    expect(errors).toEqual({});
    expect(body.command).toEqual(["python3", "-m", "http.server"]);
    expect(body.watch_dirs).toEqual(["/srv/a", "/srv/b"]);
    expect(body.health).toEqual({ probe: "http", config: { path: "/health" }, retries: 5 });
  });

  it("sends health without a probe when other health fields are set, so the server names health.probe", () => {
    const { body } = buildBody(serviceModel, draft({ name: "w", command: "x", "health.interval_s": "5" }));
    expect(body.health).toEqual({ interval_s: 5 });
  });

  it("reports malformed numbers, env lines and JSON on their fields and leaves them out", () => {
    const { body, errors } = buildBody(
      serviceModel,
      draft({ name: "w", command: "x", port: "80a", "backoff.jitter": "lots", env: "A=1\nnope", "health.probe": "http", "health.config": "[1]" }),
    );
    expect(errors).toEqual({
      port: "must be a whole number (0 or more)",
      "backoff.jitter": "must be a number",
      env: "line 2: expected KEY=VALUE",
      "health.config": "must be a JSON object",
    });
    expect(body.port).toBeUndefined();
    expect(body.env).toBeUndefined();
  });

  it("always sends command, empty included, so the server's error lands on it", () => {
    expect(buildBody(serviceModel, draft({ name: "w" })).body.command).toBe("");
  });
});

describe("draftFrom", () => {
  it("round-trips a service view through the form (view-only fields and empty defaults dropped)", () => {
    const view = {
      name: "web",
      command: ["python3", "app.py"],
      env: { A: "1" },
      port: 8000,
      enabled: false,
      restart: "on-failure",
      max_restarts: 10,
      backoff: { initial_delay_ms: 1000, max_delay_ms: 60000, multiplier: 2.0, jitter: 0.1, reset_after_s: 60 },
      stop_signal: "SIGTERM",
      stop_timeout_s: 10,
      watch_dirs: [],
      expose_caddy: true,
      caddy_subdomain: "app",
      health: { probe: "http", config: {}, interval_s: 5, timeout_s: 5, retries: 3, start_period_s: 0 },
      depends_on: { db: { condition: "healthy", restart: true }, cache: { condition: "started", restart: false } },
      depends_timeout_s: 60,
      source: "api",
      status: "running",
      pid: 42,
    };
    const d = draftFrom(serviceModel, view);
    expect(d.command_mode).toBe("argv");
    expect(d["health.config"]).toBe("");
    const { body, errors } = buildBody(serviceModel, d);
    expect(errors).toEqual({});
    expect(body).toEqual({
      name: "web",
      command: ["python3", "app.py"],
      env: { A: "1" },
      port: 8000,
      enabled: false,
      restart: "on-failure",
      max_restarts: 10,
      backoff: { initial_delay_ms: 1000, max_delay_ms: 60000, multiplier: 2, jitter: 0.1, reset_after_s: 60 },
      stop_signal: "SIGTERM",
      stop_timeout_s: 10,
      expose_caddy: true,
      caddy_subdomain: "app",
      health: { probe: "http", interval_s: 5, timeout_s: 5, retries: 3, start_period_s: 0 },
      depends_on: { db: { condition: "healthy", restart: true }, cache: { condition: "started", restart: false } },
      depends_timeout_s: 60,
    });
  });

  it("keeps a shell command a string", () => {
    const d = draftFrom(serviceModel, { name: "a", command: "sleep 1" });
    expect(d.command_mode).toBe("shell");
    expect(buildBody(serviceModel, d).body.command).toBe("sleep 1");
  });
});

describe("depends_on", () => {
  const rows = (r: DepRow[]) => rowsText(r);

  it("reads the map a GET answers into rows and sends it back as the map", () => {
    const d = draftFrom(serviceModel, { name: "api", command: "x", depends_on: { db: { condition: "healthy", restart: true } } });
    expect(rowsOf(d.depends_on)).toEqual([{ name: "db", condition: "healthy", restart: true }]);
    expect(buildBody(serviceModel, d).body.depends_on).toEqual({ db: { condition: "healthy", restart: true } });
  });

  it("reads compose's list form and long condition names (typed into the raw view)", () => {
    const list = draftFrom(serviceModel, { name: "a", command: "x", depends_on: ["db", "cache"] });
    expect(buildBody(serviceModel, list).body.depends_on).toEqual({
      db: { condition: "started", restart: false },
      cache: { condition: "started", restart: false },
    });
    const long = draftFrom(serviceModel, { depends_on: { setup: { condition: "service_completed_successfully" } } });
    expect(rowsOf(long.depends_on)).toEqual([{ name: "setup", condition: "completed", restart: false }]);
  });

  it("leaves depends_on out when there are no rows, so the server's default (none) applies", () => {
    expect(draftFrom(serviceModel, { depends_on: {} }).depends_on).toBe("");
    expect("depends_on" in buildBody(serviceModel, draft({ name: "a", command: "x" })).body).toBe(false);
    expect("depends_on" in buildBody(serviceModel, draft({ name: "a", command: "x", depends_on: rows([]) })).body).toBe(false);
  });

  it("names a row without a service and a service listed twice on the field, and sends neither", () => {
    const empty = buildBody(serviceModel, draft({ name: "a", command: "x", depends_on: rows([{ name: "db", condition: "started", restart: false }, emptyRow()]) }));
    expect(empty.errors).toEqual({ depends_on: "dependency 2: choose a service" });
    expect(empty.body.depends_on).toBeUndefined();
    const twice = buildBody(
      serviceModel,
      draft({ name: "a", command: "x", depends_on: rows([{ name: "db", condition: "started", restart: false }, { name: " db", condition: "healthy", restart: false }]) }),
    );
    expect(twice.errors).toEqual({ depends_on: "db is listed twice" });
  });

  it("sends depends_timeout_s as a number, and shows the API's errors about a dependency on the field", () => {
    expect(buildBody(serviceModel, draft({ name: "a", command: "x", depends_timeout_s: "90" })).body.depends_timeout_s).toBe(90);
    expect(buildBody(serviceModel, draft({ name: "a", command: "x", depends_timeout_s: "soon" })).errors).toEqual({
      depends_timeout_s: "must be a whole number (0 or more)",
    });
    expect(mapError(new ApiError(422, "invalid", "cycle: a -> b -> a", "depends_on"), SERVICE_FIELDS).fields).toEqual({
      depends_on: "cycle: a -> b -> a",
    });
    expect(mapError(new ApiError(422, "invalid", "no service named ghost", "depends_on.ghost"), SERVICE_FIELDS).fields).toEqual({
      depends_on: "no service named ghost",
    });
  });
});

describe("error mapping", () => {
  it("finds the field an API path names, or the nearest one above it", () => {
    expect(fieldOf("health.probe", SERVICE_FIELDS)).toBe("health.probe");
    expect(fieldOf("backoff.multiplier", SERVICE_FIELDS)).toBe("backoff.multiplier");
    expect(fieldOf("env.FOO", SERVICE_FIELDS)).toBe("env");
    expect(fieldOf("watch_dirs[2]", SERVICE_FIELDS)).toBe("watch_dirs");
    expect(fieldOf("command[0]", SERVICE_FIELDS)).toBe("command");
    expect(fieldOf("health.config.url", SERVICE_FIELDS)).toBe("health.config");
  });

  it("leaves body, unknown fields and containers to the form", () => {
    expect(fieldOf("body", SERVICE_FIELDS)).toBeNull();
    expect(fieldOf(undefined, SERVICE_FIELDS)).toBeNull();
    expect(fieldOf("foo", SERVICE_FIELDS)).toBeNull();
    expect(fieldOf("backoff", SERVICE_FIELDS)).toBeNull();
  });

  it("maps an ApiError to its field, else to a form-level message naming the field", () => {
    expect(mapError(new ApiError(422, "invalid", "must be between 1.0 and 100.0", "backoff.multiplier"), SERVICE_FIELDS)).toEqual({
      fields: { "backoff.multiplier": "must be between 1.0 and 100.0" },
      form: null,
    });
    expect(mapError(new ApiError(422, "invalid", "unknown field `foo`", "foo"), SERVICE_FIELDS)).toEqual({
      fields: {},
      form: "foo: unknown field `foo`",
    });
    expect(mapError(new ApiError(422, "invalid", "malformed JSON", "body"), SERVICE_FIELDS)).toEqual({
      fields: {},
      form: "malformed JSON",
    });
    expect(mapError(new ApiError(0, "network", "the daemon cannot be reached"), SERVICE_FIELDS).form).toBe(
      "the daemon cannot be reached",
    );
  });

  it("shows a name conflict on create on the name field, and other conflicts on the form", () => {
    const taken = new ApiError(409, "conflict", 'a service named "web" already exists');
    expect(mapError(taken, SERVICE_FIELDS, true).fields).toEqual({ name: 'a service named "web" already exists' });
    expect(mapError(taken, SERVICE_FIELDS, false).form).toBe('a service named "web" already exists');
  });
});

describe("parseMap", () => {
  it("splits at the first = and refuses duplicates", () => {
    expect(parseMap("A=1\r\nB==2")).toEqual({ value: { A: "1", B: "=2" } });
    expect(parseMap("A=1\nA=2")).toEqual({ error: "line 2: A is set twice" });
    expect(parseMap("=x")).toEqual({ error: "line 1: expected KEY=VALUE" });
  });
});

describe("cron model", () => {
  it("builds a cron body and strips a view's read-only fields", () => {
    const d = { ...cronModel.empty(), name: "backup", schedule: "0 2 * * *", command: "./backup.sh", timezone: "Europe/London", retries: "2" };
    expect(buildBody(cronModel, d)).toEqual({
      body: {
        name: "backup",
        schedule: "0 2 * * *",
        timezone: "Europe/London",
        command: "./backup.sh",
        enabled: true,
        overlap: "skip",
        catch_up: "none",
        retries: 2,
      },
      errors: {},
    });
    expect(
      cronSpecOf({ name: "a", schedule: "@daily", command: "x", source: "api", next_run_at: "t", running: [], queued: 0, schedule_description: "Every day" }),
    ).toEqual({ name: "a", schedule: "@daily", command: "x" });
  });
});

describe("unknownFields", () => {
  it("names what the form could not show, top-level and inside its groups", () => {
    expect(unknownFields(serviceModel, { name: "a", command: "x", env: { ANY: "1" }, backoff: { multiplier: 2, foo: 1 }, bar: true })).toEqual([
      "backoff.foo",
      "bar",
    ]);
    expect(unknownFields(serviceModel, { health: { probe: "http", config: { url: "u" } } })).toEqual([]);
    expect(unknownFields(serviceModel, [1])).toEqual([]);
  });
});
