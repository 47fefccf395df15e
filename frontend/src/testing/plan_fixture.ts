// A previewed plan for the onboarding tests: two services (an argv and a shell string), a cron job and
// two setup steps.
import type { Plan } from "../gen/api";

export const PLAN: Plan = {
  project: "shop",
  root: "/home/u/Code/shop",
  data_dir: "/home/u/.shop",
  services: [
    {
      name: "api",
      command: ["uvicorn", "app.main:app", "--port", "20001"],
      working_dir: "/home/u/Code/shop",
      port: 20001,
      env: { PORT: "20001" },
      health_path: "/health",
      data_dir: true,
      confidence: 0.9,
      evidence: [{ path: "app/main.py", reason: "creates the FastAPI app" }],
    },
    {
      name: "web",
      command: "npm run start",
      working_dir: "/home/u/Code/shop/web",
      port: 20002,
      env: { PORT: "20002", NODE_ENV: "production" },
      data_dir: false,
      confidence: 0.7,
      evidence: [],
    },
  ],
  cron_jobs: [{ name: "report", schedule: "0 3 * * *", command: ["python3", "report.py"], working_dir: "/home/u/Code/shop", env: {}, evidence: [] }],
  setup: [
    { command: { command_type: "shell", command: "npm ci", is_safe: true, allowed_in_production: true, reason: "install" }, working_dir: "/home/u/Code/shop/web" },
    { command: { command_type: "shell", command: "make db", is_safe: false, allowed_in_production: false, reason: "db" }, working_dir: "/home/u/Code/shop" },
  ],
  confidence: 0.8,
  evidence: [],
  notes: ["two services"],
  author: "rule",
  source: "python,node",
  plugin: "onboarder",
};
