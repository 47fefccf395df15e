// The API shapes the fescreens screens read (forms, cron, custom restart, plugins, proxy, audit,
// supervisor), written by hand after host/src/wire/*.rs until the generated src/gen/api.ts lands; the
// names are the Rust ones so that switching to the generated module is an import change.

export type CommandLine = string | string[];
export type Source = "api" | "config";

export interface ServiceSpec {
  name: string;
  command: CommandLine;
  working_dir?: string;
  env?: Record<string, string>;
  env_file?: string;
  port?: number;
  enabled?: boolean;
  restart?: "always" | "on-failure" | "never";
  max_restarts?: number;
  backoff?: Partial<{
    initial_delay_ms: number;
    max_delay_ms: number;
    multiplier: number;
    jitter: number;
    reset_after_s: number;
  }>;
  stop_signal?: string;
  stop_timeout_s?: number;
  watch_dirs?: string[];
  max_memory_mb?: number;
  expose_caddy?: boolean;
  caddy_subdomain?: string;
  caddy_path?: string;
  caddy_headers?: Record<string, string>;
  health?: {
    probe: string;
    config?: unknown;
    interval_s?: number;
    timeout_s?: number;
    retries?: number;
    start_period_s?: number;
  };
  health_check_url?: string;
  depends_on?: string[];
}

export interface ServiceView extends ServiceSpec {
  source: Source;
  status: string;
}

export type Trigger = "schedule" | "manual" | "tick" | "retry" | "catch_up";
export type ExecutionStatus = "queued" | "running" | "succeeded" | "failed" | "timed_out" | "stopped" | "skipped";

export interface CronJobSpec {
  name: string;
  command: CommandLine;
  schedule: string;
  working_dir?: string;
  enabled?: boolean;
  timeout?: number;
  env_file?: string;
  env_vars?: Record<string, string>;
  timezone?: string;
  overlap?: "skip" | "queue" | "allow" | "replace";
  catch_up?: "none" | "latest";
  jitter_s?: number;
  retries?: number;
  retry_delay_s?: number;
}

export interface LastRun {
  id: number;
  trigger: Trigger;
  status: ExecutionStatus;
  scheduled_at?: string;
  started_at?: string;
  ended_at?: string;
  exit_code?: number;
  signal?: string;
}

export interface CronJobView extends CronJobSpec {
  source: Source;
  effective_timezone: string;
  next_run_at?: string;
  running: number[];
  queued: number;
  last_run?: LastRun;
  /** Added for the dashboard by the api helper (the describer's text); absent on older daemons. */
  schedule_description?: string;
}

export interface CapturedOutput {
  text: string;
  tail?: string;
  bytes: number;
  truncated: boolean;
}

export interface Execution {
  id: number;
  job: string;
  trigger: Trigger;
  status: ExecutionStatus;
  attempt: number;
  scheduled_at?: string;
  created_at: string;
  started_at?: string;
  ended_at?: string;
  duration_ms?: number;
  pid?: number;
  exit_code?: number;
  signal?: string;
  stdout: CapturedOutput;
  stderr: CapturedOutput;
  log_file?: string;
  max_rss_bytes?: number;
  cpu_time_ms?: number;
  message?: string;
}

export interface ExecutionsPage {
  executions: Execution[];
  next_before_id?: number;
}

export interface ValidateResponse {
  schedule: string;
  normalized: string;
  timezone: string;
  description: string;
  next: string[];
}

/** `cron` topic payload. */
export interface CronEvent {
  id?: number;
  time: string;
  job: string;
  execution: number;
  phase: "queued" | "started" | "skipped" | "finished";
  status: ExecutionStatus;
}

export type CommandType = "shell" | "make" | "exec";

export interface WorkflowCommand {
  command_type: CommandType;
  command: string;
  is_safe?: boolean;
  allowed_in_production?: boolean;
  timeout_s?: number;
}

export interface CustomRestartRequest {
  pre_commands: WorkflowCommand[];
  post_commands: WorkflowCommand[];
  args: string[];
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "interrupted" | "cancelled";
export type StepStatus = "pending" | "running" | "ok" | "failed" | "denied" | "timed_out" | "skipped" | "cancelled";

export interface JobStep {
  phase: "pre" | "restart" | "post";
  index: number;
  command: string;
  command_type: CommandType | null;
  argv: string[];
  decision: "allow" | "deny" | null;
  reason: string | null;
  status: StepStatus;
  exit_code: number | null;
  signal: string | null;
  pid: number | null;
  started_at: string | null;
  duration_ms: number | null;
  output_tail: string;
  message: string | null;
}

export interface JobView {
  id: string;
  kind: string;
  service: string;
  origin: string;
  status: JobStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  request: CustomRestartRequest;
  steps: JobStep[];
  error: string | null;
}

/** A service event (`job`, `lifecycle`, ... topics). */
export interface ServiceEvent {
  id: number;
  kind: string;
  service: string;
  time: string;
  reason: string;
}

export interface LatencyHistogram {
  bounds_us: number[];
  counts: number[];
}

export interface PluginInfo {
  name: string;
  state: "loaded" | "suspended" | "rejected";
  world: string;
  wit?: string;
  version: string;
  description: string;
  source: "builtin" | "user" | "user-overrides-builtin";
  path?: string;
  sha256: string;
  grants: { hosts: string[]; paths: string[]; env: string[] };
  limits: { memory_mb: number; timeout_ms: number; max_response_bytes: number };
  loaded_at: string;
  stats: {
    calls: number;
    ok: number;
    failures: Record<string, number>;
    denials: number;
    consecutive_traps: number;
    latency: LatencyHistogram;
    last_errors: { time: string; kind: string; message: string }[];
  };
  suspended_until?: string;
  rejected?: { time: string; reason: string; sha256?: string };
}

export interface ReloadReport {
  plugins: {
    name: string;
    action: "loaded" | "unchanged" | "rejected" | "removed";
    source: string;
    reason?: string;
    previous_kept?: boolean;
  }[];
}

export interface CaddyStatus {
  state: "idle" | "applied" | "failing" | "disabled";
  admin_url: string;
  plugin: string;
  exposed: number;
  last_applied_at?: string;
  last_error?: string;
  last_error_at?: string;
  failures: number;
  next_retry_at?: string;
  supervisor_file: string;
}

export interface CaddyService {
  name: string;
  upstream: string;
  subdomain?: string;
  path?: string;
  health: string;
  headers?: [string, string][];
}

export interface CaddyConfigView {
  plugin: string;
  settings: Record<string, unknown>;
  services: CaddyService[];
  config?: unknown;
  caddyfile?: string;
  error?: string;
  applied?: unknown;
  in_sync: boolean;
  status: CaddyStatus;
}

export interface CaddyReloadReport {
  action: string;
  status: CaddyStatus;
}

export interface AuditEntry {
  id: number;
  time: string;
  origin: string;
  service?: string;
  command_type: CommandType;
  command: string;
  argv: string[];
  cwd: string;
  environment: string;
  is_safe: boolean;
  allowed_in_production: boolean;
  decision: "allow" | "deny";
  reason: string;
  plugin: string;
  plugin_version?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_before_id?: number;
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
  caddy?: CaddyStatus;
  containment?: { kind: string; root?: string };
}

export interface StatusResponse {
  supervisor: SupervisorStatus;
  services: Record<string, { status: string }>;
}

export interface SupervisorLogs {
  lines: Record<string, unknown>[];
}
