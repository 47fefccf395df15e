// Hand-written shapes of the API answers the service screens read (host/src/wire/*.rs). Replaced by the
// generated src/gen/api.ts once it is merged; keep field names exactly as on the wire.
export type Status = "stopped" | "starting" | "running" | "backoff" | "stopping" | "exited" | "fatal";
export type HealthState = "unknown" | "healthy" | "unhealthy";

export interface ExitInfo {
  code?: number;
  signal?: string;
  at: string;
}

export interface HealthSpec {
  probe: string;
  config: Record<string, unknown>;
  interval_s: number;
  timeout_s: number;
  retries: number;
  start_period_s: number;
}

export interface ServiceView {
  name: string;
  command: string | string[];
  working_dir?: string;
  env: Record<string, string>;
  env_file?: string;
  port?: number;
  enabled: boolean;
  restart: "always" | "on-failure" | "never";
  max_restarts: number;
  stop_signal: string;
  stop_timeout_s: number;
  watch_dirs: string[];
  max_memory_mb?: number;
  expose_caddy: boolean;
  caddy_subdomain?: string;
  caddy_path?: string;
  health?: HealthSpec;
  health_check_url?: string;
  depends_on: string[];
  source: "api" | "config";
  status: Status;
  pid?: number;
  uptime_s?: number;
  restart_count: number;
  last_exit?: ExitInfo;
  next_start_at?: string;
  health_status?: HealthState;
  memory_mb?: number;
  cpu_percent?: number;
  [key: string]: unknown;
}

export interface SupervisorStatus {
  status: string;
  version: string;
  pid: number;
  uptime_s: number;
  started_at: string;
  data_dir: string;
  managed_services: number;
  counts: Record<string, number>;
  memory_mb?: number;
  cpu_percent?: number;
}

export interface StatusResponse {
  supervisor: SupervisorStatus;
}

/** A stored service event, also the payload of the lifecycle/health/job/caddy topics. */
export interface ServiceEvent {
  id: number;
  kind: "lifecycle" | "health" | "caddy" | "job";
  service: string;
  time: string;
  from: Status;
  to: Status;
  pid?: number;
  exit_code?: number;
  signal?: string;
  health?: HealthState;
  reason: string;
}

export interface MetricsEvent {
  time: string;
  kind: "service" | "job";
  name: string;
  memory_mb: number;
  cpu_percent: number;
}

export interface CronEvent {
  id: number;
  time: string;
  job: string;
  execution: number;
  phase: "queued" | "started" | "skipped" | "finished";
  status: string;
  exit_code?: number;
  signal?: string;
  message?: string;
}

export interface HealthCheck {
  time: string;
  result: string;
  passed: boolean;
  message: string;
  latency_ms: number;
}

export interface HealthReport {
  service: string;
  check?: HealthSpec;
  state?: HealthState;
  consecutive_failures: number;
  history: HealthCheck[];
}

export interface MetricPoint {
  time: string;
  samples: number;
  cpu_percent: number;
  cpu_percent_max: number;
  memory_mb: number;
  memory_mb_max: number;
  disk_bytes?: number;
  disk_partial?: boolean;
}

export interface MetricsHistory {
  since: string;
  until: string;
  step_s: number;
  interval_s: number;
  points: MetricPoint[];
}

export interface LogLine {
  id: number;
  service: string;
  stream: "stdout" | "stderr";
  time: string;
  line: string;
  partial?: boolean;
}

export interface LogsPage {
  lines: LogLine[];
  next_before_id?: number;
  truncated?: boolean;
  scanned?: number;
}

/** `GET /api/overview` (helper api; see notes/api.md). */
export interface OverviewResponse {
  time: string;
  services: {
    name: string;
    health: { time: string; passed: boolean; latency_ms: number }[];
    resources: { time: string; cpu_percent: number; memory_mb: number }[];
  }[];
  cron_due: { name: string; next_run_at: string }[];
}

export interface JobView {
  id: string;
  kind: string;
  service: string;
  status: string;
  created_at: string;
  started_at?: string;
  steps: { status: string }[];
}

export interface CronJobView {
  name: string;
  enabled: boolean;
  next_run_at?: string;
  [key: string]: unknown;
}
