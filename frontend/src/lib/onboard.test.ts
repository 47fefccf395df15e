import { describe, expect, it } from "vitest";
import { PLAN } from "../testing/plan_fixture";
import { buildRequest, draftPlan, errorSlot, joinCommand, knownFields, previewQuery, setPort, splitCommand } from "./onboard";

const FIELDS = { project: "shop", model: "", name: "" };

describe("splitCommand / joinCommand", () => {
  it("splits like a shell without expanding anything", () => {
    expect(splitCommand(`python3 -c 'print("a b")' "x \\"y\\"" c\\ d  $HOME`)).toEqual({ argv: ["python3", "-c", 'print("a b")', 'x "y"', "c d", "$HOME"] });
    expect(splitCommand("''")).toEqual({ argv: [""] });
    expect(splitCommand("a 'b")).toEqual({ error: "a ' quote is not closed" });
    expect(splitCommand('a "b')).toEqual({ error: 'a " quote is not closed' });
  });

  it("joins an argv into a line that splits back to it", () => {
    for (const argv of [["uvicorn", "app:app"], ["sh", "-c", "echo 'hi' && exit 1"], ["a b", "", "it's", "$X"]]) {
      expect(splitCommand(joinCommand(argv))).toEqual({ argv });
    }
    expect(joinCommand(["python3", "-m", "http.server", "8000"])).toBe("python3 -m http.server 8000");
  });
});

describe("plan editor", () => {
  it("sends the previewed plan back unchanged when nothing is edited", () => {
    const { request, errors } = buildRequest(FIELDS, draftPlan(PLAN));
    expect(errors).toEqual({});
    expect(request).toEqual({ project: "shop", plan: PLAN });
  });

  it("puts every edit into the OnboardRequest and leaves the rest of the plan alone", () => {
    const d = draftPlan(PLAN);
    const api = d.services[0]!;
    api.name = " shop-api ";
    api.command = "uvicorn 'app.main:app' --port 20005 --log-level debug";
    api.port = "20005";
    api.env = [{ name: "PORT", value: "20005" }, { name: "LOG", value: "debug" }, { name: "", value: "" }];
    api.health_path = "";
    const web = d.services[1]!;
    web.command = "npm run start -- --host 127.0.0.1";
    web.port = "";
    d.cron_jobs.splice(0, 1);
    d.setup.splice(1, 1);
    const { request, errors } = buildRequest({ project: " shop ", model: "opus", name: "shop2" }, d);
    expect(errors).toEqual({});
    expect(request.project).toBe("shop");
    expect(request.model).toBe("opus");
    expect(request.name).toBe("shop2");
    const plan = request.plan!;
    expect(plan.services[0]).toEqual({
      ...PLAN.services[0],
      name: "shop-api",
      command: ["uvicorn", "app.main:app", "--port", "20005", "--log-level", "debug"],
      port: 20005,
      env: { PORT: "20005", LOG: "debug" },
      health_path: undefined,
    });
    expect("health_path" in plan.services[0]!).toBe(false);
    // A shell string stays a string; an emptied port is left out.
    expect(plan.services[1]!.command).toBe("npm run start -- --host 127.0.0.1");
    expect("port" in plan.services[1]!).toBe(false);
    expect(plan.cron_jobs).toEqual([]);
    expect(plan.setup).toEqual([PLAN.setup[0]]);
    expect(plan.notes).toEqual(PLAN.notes);
    expect(plan.root).toBe(PLAN.root);
    // The preview itself is not touched by editing.
    expect(PLAN.services[0]!.name).toBe("api");
    expect(PLAN.cron_jobs).toHaveLength(1);
  });

  it("indexes field errors by the service's place in the request after a removal", () => {
    const d = draftPlan(PLAN);
    d.services.splice(0, 1);
    d.services[0]!.port = "70000";
    d.services[0]!.env.push({ name: "", value: "orphan" });
    d.services[0]!.health_path = "health";
    d.services[0]!.name = "";
    const { errors } = buildRequest({ project: "", model: "", name: "" }, d);
    expect(errors).toEqual({
      project: "name a project or give its absolute path",
      "plan.services[0].name": "a service needs a name",
      "plan.services[0].port": "a port is a whole number from 1 to 65535",
      "plan.services[0].env": "every value needs a variable name",
      "plan.services[0].health_path": "a health path starts with /",
    });
  });

  it("refuses duplicate names, duplicate env names, a broken command and an empty plan", () => {
    const d = draftPlan(PLAN);
    d.services[1]!.name = "api";
    d.services[0]!.env.push({ name: "PORT", value: "1" });
    d.services[0]!.command = "uvicorn 'app";
    const { errors } = buildRequest(FIELDS, d);
    expect(errors["plan.services[1].name"]).toBe("another service is named api");
    expect(errors["plan.services[0].env"]).toBe("PORT is set twice");
    expect(errors["plan.services[0].command"]).toBe("a ' quote is not closed");
    const empty = draftPlan(PLAN);
    empty.services = [];
    empty.cron_jobs = [];
    expect(buildRequest(FIELDS, empty).errors.plan).toMatch(/nothing left/);
  });

  it("builds the preview query from the set fields only", () => {
    expect(previewQuery({ project: "/srv/a b", model: "", name: " " })).toBe("?project=%2Fsrv%2Fa+b");
    expect(previewQuery({ project: "shop", model: "opus", name: "x" })).toBe("?project=shop&model=opus&name=x");
  });

  it("shows an API error at the input it names, or the nearest one", () => {
    const known = knownFields(draftPlan(PLAN));
    expect(errorSlot("plan.services[1].port", known)).toBe("plan.services[1].port");
    expect(errorSlot("plan.services[0].env.PORT", known)).toBe("plan.services[0].env");
    expect(errorSlot("plan.services[1]", known)).toBe("plan.services[1].name");
    expect(errorSlot("plan.services[1].working_dir", known)).toBe("plan.services[1].name");
    expect(errorSlot("model", known)).toBe("model");
    expect(errorSlot("plan.cron_jobs[0].schedule", known)).toBeNull();
    expect(errorSlot(undefined, known)).toBeNull();
  });

  it("carries a changed port over to the env values and command words that held the old one", () => {
    const d = draftPlan(PLAN);
    setPort(d.services[0]!, "20010");
    expect(d.services[0]!.command).toBe("uvicorn app.main:app --port 20010");
    expect(d.services[0]!.env).toEqual([{ name: "PORT", value: "20010" }]);
    const web = d.services[1]!;
    web.command = "npm start -- --port=20002 --x 120002";
    setPort(web, "21000");
    expect(web.command).toBe("npm start -- --port=21000 --x 120002");
    expect(web.env).toEqual([{ name: "PORT", value: "21000" }, { name: "NODE_ENV", value: "production" }]);
    // Half-typed or emptied: only the field changes.
    setPort(web, "");
    setPort(web, "2");
    expect(web.port).toBe("2");
    expect(web.env[0]!.value).toBe("21000");
    const { request } = buildRequest(FIELDS, d);
    expect(request.plan!.services[0]!.command).toEqual(["uvicorn", "app.main:app", "--port", "20010"]);
  });
});
