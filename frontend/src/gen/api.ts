// GENERATED FILE, DO NOT EDIT: the API's types, from the Rust types in host/src/wire
// (host/src/wire/typescript.rs). Regenerate with `cargo xtask gen-types`; `cargo xtask test`
// fails while this file is stale.

/**
 * Why a request failed. Every code means one thing on every front end.
 */
export type Code = "not_found" | "conflict" | "invalid" | "unauthorized" | "forbidden" | "too_many_requests" | "too_large" | "shutting_down" | "unavailable" | "timeout" | "insufficient_storage" | "internal" | "method_not_allowed" | "unsupported_media_type" | "idle_timeout" | "too_many_connections";

/**
 * Every REST error answer: `{"error":{"code","message","field"}}`.
 */
export type ErrorBody = { error: ErrorDetail, };

/**
 * One error. `message` is a sentence about the value, never prefixed by the field's name; `field`
 * is set for every `invalid` (a dotted path into the body, a query parameter, `name` for a path
 * segment, `body` for the body as a whole).
 */
export type ErrorDetail = { code: Code, message: string, field?: string, };

/**
 * How a service's program is given: an argv array runs directly, a string runs through `/bin/sh -c`.
 */
export type CommandLine = string | Array<string>;

export type RestartPolicy = "always" | "on-failure" | "never";

/**
 * Exponential backoff between restarts: `initial_delay_ms * multiplier^(attempt-1)`, capped at
 * `max_delay_ms`, spread by +/- `jitter` (a fraction), and forgotten once the service has stayed up
 * for `reset_after_s`.
 */
export type Backoff = { initial_delay_ms: number, max_delay_ms: number, multiplier: number, jitter: number, reset_after_s: number, };

/**
 * A service's health check: a probe plugin called every `interval_s`; `retries` consecutive failures
 * after the first `start_period_s` restart the service under its restart policy.
 */
export type HealthSpec = { probe: string, 
/**
 * Probe-specific settings (JSON object), merged over the plugin manifest's `[config]`.
 */
config: JsonValue, interval_s: number, timeout_s: number, retries: number, start_period_s: number, };

/**
 * When a dependency counts as ready. Compose's long names (`service_started`, `service_healthy`,
 * `service_completed_successfully`) are accepted too.
 */
export type DependencyCondition = "started" | "healthy" | "completed";

/**
 * One edge of `depends_on`.
 */
export type Dependency = { condition: DependencyCondition, 
/**
 * Restart this service after the dependency restarted and is ready again.
 */
restart: boolean, };

/**
 * `depends_on`, as compose writes it: a list of names (`["db"]`, each `started`), or a map from name
 * to `{condition, restart}`. Always answered as the map.
 */
export type Dependencies = Record<string, Dependency>;

/**
 * A service as users register it (REST body, `tend.toml` entry). Unknown fields are rejected.
 */
export type ServiceSpec = { name: string, command: CommandLine, working_dir?: string, env: { [key in string]: string }, env_file?: string, port?: number, enabled: boolean, restart: RestartPolicy, max_restarts: number, backoff: Backoff, stop_signal: string, stop_timeout_s: number, watch_dirs: Array<string>, 
/**
 * Restart the service when its process tree's RSS stays above this many MiB (see metrics).
 */
max_memory_mb?: number, 
/**
 * Route to this service through Caddy (needs `port`; see `caddy` and README, "Caddy reverse proxy").
 */
expose_caddy: boolean, caddy_subdomain?: string, caddy_path?: string, 
/**
 * Request headers Caddy sets on the way to the service (`expose_caddy`; see README, "Caddy").
 */
caddy_headers?: { [key in string]: string }, health?: HealthSpec, health_check_url?: string, 
/**
 * Services this one needs, with when each counts as ready (see `Dependencies`; README,
 * "Dependencies"). Starting this service starts them first.
 */
depends_on: Dependencies, 
/**
 * How long a start waits for its dependencies' conditions before it fails, seconds.
 */
depends_timeout_s: number, 
/**
 * This service's auto-fix mode, over the daemon's `[autofix]` modes; none: the daemon's.
 */
autofix?: FixMode, 
/**
 * What a Kubernetes export needs that tend does not (`tend export k8s`); the daemon ignores it.
 */
k8s?: K8sSettings, };

/**
 * Lifecycle states (see `lifecycle`).
 */
export type Status = "stopped" | "waiting" | "starting" | "running" | "backoff" | "stopping" | "exited" | "fatal";

export type HealthState = "unknown" | "healthy" | "unhealthy";

/**
 * How a process ended: an exit code, or the signal that killed it.
 */
export type ExitInfo = { code?: number, signal?: string, 
/**
 * RFC 3339 time of the exit.
 */
at: string, };

/**
 * Where a service definition came from. `config` services are owned by `tend.toml`.
 */
export type Source = "api" | "config";

/**
 * One unmet dependency of a `waiting` service.
 */
export type WaitingFor = { service: string, condition: DependencyCondition, 
/**
 * What holds it up, e.g. "db is starting", "db is fatal: gave up after 10 restarts": a
 * dependency that failed for good blocks its dependents (they stay waiting, without a timeout)
 * until it is started again.
 */
reason: string, 
/**
 * The dependency failed for good (fatal, or a `completed` one exited non-zero).
 */
blocked: boolean, };

/**
 * Runtime view of one service.
 */
export type ServiceState = { status: Status, pid?: number, 
/**
 * Seconds since the current process started, when running.
 */
uptime_s?: number, restart_count: number, last_exit?: ExitInfo, 
/**
 * When in `backoff`: RFC 3339 time of the next start attempt.
 */
next_start_at?: string, 
/**
 * Health of the current run, for services with a health check. (`health_status` on the wire: in a
 * service view, `health` is the check's configuration.)
 */
health_status?: HealthState, 
/**
 * Resident memory of the whole process tree at the last sample, MiB.
 */
memory_mb?: number, 
/**
 * CPU use of the whole process tree over the last sample interval, % of one core.
 */
cpu_percent?: number, 
/**
 * When `waiting`: the dependencies whose condition does not hold yet, and why.
 */
waiting_for?: Array<WaitingFor>, };

/**
 * `GET /api/services/{name}` and list entries: the spec plus its runtime state.
 */
export type ServiceView = { source: Source, name: string, command: CommandLine, working_dir?: string, env: { [key in string]: string }, env_file?: string, port?: number, enabled: boolean, restart: RestartPolicy, max_restarts: number, backoff: Backoff, stop_signal: string, stop_timeout_s: number, watch_dirs: Array<string>, 
/**
 * Restart the service when its process tree's RSS stays above this many MiB (see metrics).
 */
max_memory_mb?: number, 
/**
 * Route to this service through Caddy (needs `port`; see `caddy` and README, "Caddy reverse proxy").
 */
expose_caddy: boolean, caddy_subdomain?: string, caddy_path?: string, 
/**
 * Request headers Caddy sets on the way to the service (`expose_caddy`; see README, "Caddy").
 */
caddy_headers?: { [key in string]: string }, health?: HealthSpec, health_check_url?: string, 
/**
 * Services this one needs, with when each counts as ready (see `Dependencies`; README,
 * "Dependencies"). Starting this service starts them first.
 */
depends_on: Dependencies, 
/**
 * How long a start waits for its dependencies' conditions before it fails, seconds.
 */
depends_timeout_s: number, 
/**
 * This service's auto-fix mode, over the daemon's `[autofix]` modes; none: the daemon's.
 */
autofix?: FixMode, 
/**
 * What a Kubernetes export needs that tend does not (`tend export k8s`); the daemon ignores it.
 */
k8s?: K8sSettings, status: Status, pid?: number, 
/**
 * Seconds since the current process started, when running.
 */
uptime_s?: number, restart_count: number, last_exit?: ExitInfo, 
/**
 * When in `backoff`: RFC 3339 time of the next start attempt.
 */
next_start_at?: string, 
/**
 * Health of the current run, for services with a health check. (`health_status` on the wire: in a
 * service view, `health` is the check's configuration.)
 */
health_status?: HealthState, 
/**
 * Resident memory of the whole process tree at the last sample, MiB.
 */
memory_mb?: number, 
/**
 * CPU use of the whole process tree over the last sample interval, % of one core.
 */
cpu_percent?: number, 
/**
 * When `waiting`: the dependencies whose condition does not hold yet, and why.
 */
waiting_for?: Array<WaitingFor>, };

/**
 * One health check result (`GET /api/services/{name}/health`).
 */
export type HealthCheck = { time: string, 
/**
 * `healthy`, `degraded` or `unhealthy` as the probe said, or the failure kind of the call
 * (`timeout`, `trap`, `denied`, ...).
 */
result: string, passed: boolean, message: string, latency_ms: number, };

/**
 * `GET /api/services/{name}/health`.
 */
export type HealthReport = { service: string, check?: HealthSpec, state?: HealthState, consecutive_failures: number, 
/**
 * Newest last.
 */
history: Array<HealthCheck>, };

/**
 * `POST /api/services/{name}/{start,stop,restart}` and `DELETE` answer with the resulting state.
 */
export type ActionResponse = { name: string, action: string, status: Status, pid?: number, 
/**
 * Seconds since the current process started, when running.
 */
uptime_s?: number, restart_count: number, last_exit?: ExitInfo, 
/**
 * When in `backoff`: RFC 3339 time of the next start attempt.
 */
next_start_at?: string, 
/**
 * Health of the current run, for services with a health check. (`health_status` on the wire: in a
 * service view, `health` is the check's configuration.)
 */
health_status?: HealthState, 
/**
 * Resident memory of the whole process tree at the last sample, MiB.
 */
memory_mb?: number, 
/**
 * CPU use of the whole process tree over the last sample interval, % of one core.
 */
cpu_percent?: number, 
/**
 * When `waiting`: the dependencies whose condition does not hold yet, and why.
 */
waiting_for?: Array<WaitingFor>, };

/**
 * What `POST /api/services/{name}/{action}` (and the control port's verbs of the same names) ask of
 * a running service.
 */
export type Action = "start" | "stop" | "restart";

/**
 * `GET /api/graph`: services as nodes, `depends_on` edges, and the start order.
 */
export type Graph = { 
/**
 * Every service, by name.
 */
nodes: Array<GraphNode>, 
/**
 * Every `depends_on` edge, sorted by service then dependency.
 */
edges: Array<GraphEdge>, 
/**
 * Start order in groups: each group's services depend only on earlier groups' and start in
 * parallel; stop runs the groups in reverse.
 */
order: Array<Array<string>>, };

export type GraphNode = { name: string, status: Status, health_status?: HealthState, waiting_for?: Array<WaitingFor>, };

/**
 * `service` depends on `dependency`.
 */
export type GraphEdge = { service: string, dependency: string, condition: DependencyCondition, restart: boolean, 
/**
 * The condition holds now.
 */
satisfied: boolean, };

export type EventKind = "lifecycle" | "health" | "caddy" | "job";

/**
 * One lifecycle transition or health change, as stored in the events table.
 */
export type Event = { id: number, kind: EventKind, service: string, 
/**
 * RFC 3339 with milliseconds, UTC.
 */
time: string, from: Status, to: Status, pid?: number, exit_code?: number, signal?: string, health?: HealthState, reason: string, };

/**
 * `GET /api/services/{name}/events`: oldest first.
 */
export type EventsPage = { events: Array<Event>, };

/**
 * The query of `GET /api/services/{name}/events` and `.../health`: how many entries (default 100,
 * at most 10000).
 */
export type EventParams = { limit?: number, };

export type Stream = "stdout" | "stderr";

/**
 * One captured output line.
 */
export type LogLine = { id: number, service: string, stream: Stream, 
/**
 * RFC 3339 with microseconds, UTC.
 */
time: string, line: string, 
/**
 * True when this is a piece of an over-long line that continues in the next record.
 */
partial?: boolean, };

/**
 * `GET /api/services/{name}/logs`: oldest first.
 */
export type LogsPage = { lines: Array<LogLine>, 
/**
 * In `tail`, `before_id` and search reads: there are older lines (or matches) than these, or a
 * search stopped early (`truncated`); pass this as `before_id` for the next older page. Absent:
 * the start of the stored log was reached.
 */
next_before_id?: number, 
/**
 * A search stopped after examining `MAX_SEARCH_SCAN` lines before it found `limit` matches:
 * older matches may exist; `next_before_id` continues from where it stopped.
 */
truncated?: boolean, 
/**
 * Search reads: how many stored lines this request examined.
 */
scanned?: number, };

/**
 * The query of `GET /api/services/{name}/logs` and `.../logs/follow`: `tail` (the last N lines),
 * `after_id` + `limit` (paging forwards) or `before_id` + `limit` (paging backwards), optionally one
 * `stream` and lines since an RFC 3339 time. `q` searches (backwards from `before_id` or the newest
 * line) for lines containing it, or matching it with `regex=true`; case-insensitive unless
 * `case_sensitive=true`. The follow stream takes neither `before_id` nor a search.
 */
export type LogParams = { tail?: number, after_id?: number, limit?: number, stream?: Stream, since?: string, before_id?: number, q?: string, regex?: boolean, case_sensitive?: boolean, };

/**
 * The query of `GET /api/services/{name}/logs/download`: optionally one stream.
 */
export type DownloadParams = { stream?: Stream, };

/**
 * The query of `GET /api/services/{name}/metrics`.
 */
export type HistoryParams = { 
/**
 * RFC 3339 time or a duration back from now (`15m`, `24h`, `7d`); default `1h`.
 */
since?: string, 
/**
 * Width of each point (`60`, `5m`, `1h`); default: the sampling interval, widened to at most
 * 1000 points.
 */
step?: string, };

/**
 * `GET /api/services/{name}/metrics`.
 */
export type MetricsHistory = { 
/**
 * `service` or `job`.
 */
kind: string, name: string, 
/**
 * RFC 3339, UTC: the range read.
 */
since: string, until: string, 
/**
 * Width of each point, seconds.
 */
step_s: number, 
/**
 * The sampling interval of raw data, seconds.
 */
interval_s: number, 
/**
 * Oldest first; steps without samples are left out.
 */
points: Array<MetricPoint>, };

/**
 * One step: averages over its samples, unless named `_max`.
 */
export type MetricPoint = { 
/**
 * Start of the step, RFC 3339, UTC.
 */
time: string, 
/**
 * Raw samples behind this point.
 */
samples: number, 
/**
 * % of one core.
 */
cpu_percent: number, cpu_percent_max: number, 
/**
 * Resident memory of the whole process tree, MiB.
 */
memory_mb: number, memory_mb_max: number, processes: number, threads: number, open_fds: number, 
/**
 * Storage I/O, bytes per second.
 */
read_bytes_per_s: number, write_bytes_per_s: number, 
/**
 * Disk usage of the watch_dirs (largest in the step), when known.
 */
disk_bytes?: number, 
/**
 * True when a disk walk behind `disk_bytes` hit its deadline.
 */
disk_partial?: boolean, };

/**
 * `GET /api/status`.
 */
export type StatusResponse = { supervisor: SupervisorStatus, services: { [key in string]: ServiceState }, };

export type SupervisorStatus = { status: string, version: string, pid: number, uptime_s: number, started_at: string, data_dir: string, managed_services: number, 
/**
 * Number of services in each status.
 */
counts: { [key in string]: number }, 
/**
 * Resident memory of the daemon itself at the last metrics sample, MiB.
 */
memory_mb?: number, 
/**
 * CPU use of the daemon itself over the last sample interval, % of one core.
 */
cpu_percent?: number, 
/**
 * The Caddy integration (see `CaddyStatus`).
 */
caddy?: CaddyStatus, 
/**
 * How the daemon keeps a run's processes together (and stops all of them).
 */
containment?: ContainmentStatus, };

/**
 * `supervisor.containment` of `GET /api/status`: `{"kind": "cgroup2", "root": "<dir>"}` (every run in
 * a cgroup of its own under `root`) or `{"kind": "process-group+marker+subreaper"}`.
 */
export type ContainmentStatus = { kind: string, root?: string, };

/**
 * `GET /api/supervisor/logs`: lines of the daemon's own `tend.log` (JSON objects from `tracing`).
 */
export type SupervisorLogs = { lines: Array<JsonValue>, };

/**
 * The query of `GET /api/supervisor/logs`: the last `tail` records (default 200, at most 10000).
 */
export type TailParams = { tail?: number, };

/**
 * `POST /api/supervisor/shutdown`: `{"status": "shutting_down"}`.
 */
export type ShutdownResponse = { status: string, };

/**
 * `GET /api/overview`.
 */
export type Overview = { 
/**
 * When this was read, RFC 3339, UTC.
 */
time: string, 
/**
 * Every registered service, by name.
 */
services: Array<ServiceOverview>, 
/**
 * Enabled cron jobs whose next fire time is within `CRON_DUE_HOURS`, soonest first.
 */
cron_due: Array<CronDue>, };

/**
 * One service's recent figures.
 */
export type ServiceOverview = { name: string, 
/**
 * The last `OVERVIEW_HEALTH` check results, oldest first (empty without a check).
 */
health: Array<HealthPoint>, 
/**
 * The last hour in one-minute steps, oldest first; steps without samples are left out.
 */
resources: Array<ResourcePoint>, };

/**
 * One health check result, in brief (`GET /api/services/{name}/health` has the rest).
 */
export type HealthPoint = { time: string, passed: boolean, latency_ms: number, };

/**
 * One step of resource usage, in brief (`GET /api/services/{name}/metrics` has the rest).
 */
export type ResourcePoint = { 
/**
 * Start of the step, RFC 3339, UTC.
 */
time: string, 
/**
 * Average % of one core over the step.
 */
cpu_percent: number, 
/**
 * Average resident memory of the whole process tree, MiB.
 */
memory_mb: number, };

/**
 * A cron job due soon.
 */
export type CronDue = { name: string, 
/**
 * RFC 3339, UTC (as the job's `next_run_at`).
 */
next_run_at: string, };

/**
 * What an event is about. The SSE event name is `as_str()`.
 */
export type Topic = "lifecycle" | "health" | "metrics" | "cron" | "job" | "caddy" | "plugin" | "policy" | "agent";

/**
 * Where a cron execution is.
 */
export type CronPhase = "queued" | "started" | "skipped" | "finished";

/**
 * `cron` topic.
 */
export type CronEvent = { time: string, job: string, 
/**
 * The execution (`GET /api/cron/{job}/executions`).
 */
execution: number, phase: CronPhase, trigger: Trigger, attempt: number, scheduled_at?: string, 
/**
 * The execution's status after this phase.
 */
status: ExecutionStatus, pid?: number, exit_code?: number, signal?: string, duration_ms?: number, message?: string, };

/**
 * `caddy` topic, daemon-wide: one attempt to bring Caddy in step with the exposed services.
 */
export type CaddyEvent = { time: string, 
/**
 * `applied` or `failed`.
 */
result: string, 
/**
 * The exposed services the config routes.
 */
services: Array<string>, error?: string, };

/**
 * What happened to a plugin.
 */
export type PluginAction = "loaded" | "rejected" | "removed" | "suspended";

/**
 * `plugin` topic.
 */
export type PluginEvent = { time: string, plugin: string, action: PluginAction, version?: string, 
/**
 * Why it was rejected, until when it is suspended.
 */
message?: string, };

/**
 * `policy` topic: a decision, as audited (`GET /api/audit` has the full row).
 */
export type PolicyEvent = { time: string, audit_id: number, origin: Origin, service?: string, command: string, decision: Decision, reason?: string, };

/**
 * `metrics` topic: a process tree's current figures (live only).
 */
export type MetricsEvent = { time: string, 
/**
 * `service` or `job` (a cron execution's tree).
 */
kind: string, name: string, memory_mb: number, cpu_percent: number, };

/**
 * `agent` topic: room for what the LLM agents report.
 */
export type AgentEvent = { time: string, agent: string, service?: string, message: string, };

/**
 * Query of `GET /api/events`.
 */
export type EventStreamParams = { 
/**
 * Comma-separated topics; default: all but `metrics`.
 */
topics?: string, 
/**
 * Only events about this service.
 */
service?: string, 
/**
 * Replay stored events with a greater id first (`Last-Event-ID` wins when both are given).
 */
after?: number, };

/**
 * What a job does when it fires while an earlier execution of it is still running.
 */
export type Overlap = "skip" | "queue" | "allow" | "replace";

/**
 * What a job does about fire times missed while the daemon was down.
 */
export type CatchUp = "none" | "latest";

/**
 * A cron job as users register it (REST body, `[cron.<name>]` in `tend.toml`). Unknown fields are
 * rejected.
 */
export type CronJobSpec = { name: string, command: CommandLine, 
/**
 * 5 fields, 6 with seconds first, 7 with a year last, or a macro (`@hourly`, `@daily`, ...).
 */
schedule: string, working_dir?: string, enabled: boolean, 
/**
 * Seconds an execution may run before its whole process tree is stopped.
 */
timeout: number, 
/**
 * dotenv file read at each execution (relative paths are taken from `working_dir`).
 */
env_file?: string, 
/**
 * Variables on top of `env_file`.
 */
env_vars: { [key in string]: string }, 
/**
 * IANA zone the schedule is read in; absent: the daemon's zone.
 */
timezone?: string, overlap: Overlap, catch_up: CatchUp, 
/**
 * Each fire is delayed by a random 0..=jitter_s seconds.
 */
jitter_s: number, 
/**
 * A failed or timed-out execution is run again up to this many times.
 */
retries: number, retry_delay_s: number, 
/**
 * This job's auto-fix mode, over the daemon's `[autofix]` modes; none: the daemon's.
 */
autofix?: FixMode, 
/**
 * What a Kubernetes export needs that tend does not (`tend export k8s`); the daemon ignores it.
 */
k8s?: K8sSettings, };

/**
 * Why an execution was started.
 */
export type Trigger = "schedule" | "manual" | "tick" | "retry" | "catch_up";

export type ExecutionStatus = "queued" | "running" | "succeeded" | "failed" | "timed_out" | "stopped" | "skipped";

/**
 * One output stream of an execution as stored: everything when it fits in 128 KiB, else the first
 * and the last 64 KiB (the whole stream is in the execution's log file).
 */
export type CapturedOutput = { 
/**
 * The output (all of it unless `truncated`; then its first 64 KiB).
 */
text: string, 
/**
 * When `truncated`: the last 64 KiB.
 */
tail?: string, 
/**
 * Bytes written in total.
 */
bytes: number, truncated: boolean, };

/**
 * One run (or skipped run) of a cron job.
 */
export type Execution = { id: number, job: string, trigger: Trigger, status: ExecutionStatus, 
/**
 * 0 for a first attempt, n for the n-th retry.
 */
attempt: number, 
/**
 * The fire time this execution belongs to (absent for manual runs). RFC 3339, UTC.
 */
scheduled_at?: string, 
/**
 * When the trigger happened.
 */
created_at: string, started_at?: string, ended_at?: string, duration_ms?: number, pid?: number, exit_code?: number, signal?: string, stdout: CapturedOutput, stderr: CapturedOutput, 
/**
 * The whole output: `<data_dir>/logs/cron/<job>/<id>.log`, in the service log format.
 */
log_file?: string, 
/**
 * Peak resident memory of the process tree, bytes.
 */
max_rss_bytes?: number, 
/**
 * CPU time (user + system) of the process tree, milliseconds.
 */
cpu_time_ms?: number, 
/**
 * The highest CPU use of the process tree over one sampling interval, % of one core; absent
 * when the run was too short for two samples (`--monitor-interval`).
 */
peak_cpu_percent?: number, 
/**
 * Why it was skipped, stopped or could not start.
 */
message?: string, };

/**
 * The latest execution of a job, in brief.
 */
export type LastRun = { id: number, trigger: Trigger, status: ExecutionStatus, scheduled_at?: string, started_at?: string, ended_at?: string, exit_code?: number, signal?: string, };

/**
 * Runtime view of one job.
 */
export type CronJobState = { 
/**
 * The schedule in plain English ("At 09:00, on Monday through Friday"), as
 * `GET /api/cron/validate` describes it.
 */
schedule_description: string, 
/**
 * The zone the schedule is read in (`timezone`, else the daemon's).
 */
effective_timezone: string, 
/**
 * The next fire time (RFC 3339, UTC), absent when disabled or never again.
 */
next_run_at?: string, 
/**
 * Ids of the executions running now.
 */
running: Array<number>, 
/**
 * Executions waiting (overlap `queue`).
 */
queued: number, last_run?: LastRun, };

/**
 * `GET /api/cron/{name}` and list entries.
 */
export type CronJobView = { source: Source, name: string, command: CommandLine, 
/**
 * 5 fields, 6 with seconds first, 7 with a year last, or a macro (`@hourly`, `@daily`, ...).
 */
schedule: string, working_dir?: string, enabled: boolean, 
/**
 * Seconds an execution may run before its whole process tree is stopped.
 */
timeout: number, 
/**
 * dotenv file read at each execution (relative paths are taken from `working_dir`).
 */
env_file?: string, 
/**
 * Variables on top of `env_file`.
 */
env_vars: { [key in string]: string }, 
/**
 * IANA zone the schedule is read in; absent: the daemon's zone.
 */
timezone?: string, overlap: Overlap, catch_up: CatchUp, 
/**
 * Each fire is delayed by a random 0..=jitter_s seconds.
 */
jitter_s: number, 
/**
 * A failed or timed-out execution is run again up to this many times.
 */
retries: number, retry_delay_s: number, 
/**
 * This job's auto-fix mode, over the daemon's `[autofix]` modes; none: the daemon's.
 */
autofix?: FixMode, 
/**
 * What a Kubernetes export needs that tend does not (`tend export k8s`); the daemon ignores it.
 */
k8s?: K8sSettings, 
/**
 * The schedule in plain English ("At 09:00, on Monday through Friday"), as
 * `GET /api/cron/validate` describes it.
 */
schedule_description: string, 
/**
 * The zone the schedule is read in (`timezone`, else the daemon's).
 */
effective_timezone: string, 
/**
 * The next fire time (RFC 3339, UTC), absent when disabled or never again.
 */
next_run_at?: string, 
/**
 * Ids of the executions running now.
 */
running: Array<number>, 
/**
 * Executions waiting (overlap `queue`).
 */
queued: number, last_run?: LastRun, };

/**
 * One job in `GET /api/cron/status`.
 */
export type CronJobStatus = { enabled: boolean, schedule: string, 
/**
 * The schedule in plain English ("At 09:00, on Monday through Friday"), as
 * `GET /api/cron/validate` describes it.
 */
schedule_description: string, 
/**
 * The zone the schedule is read in (`timezone`, else the daemon's).
 */
effective_timezone: string, 
/**
 * The next fire time (RFC 3339, UTC), absent when disabled or never again.
 */
next_run_at?: string, 
/**
 * Ids of the executions running now.
 */
running: Array<number>, 
/**
 * Executions waiting (overlap `queue`).
 */
queued: number, last_run?: LastRun, };

/**
 * `GET /api/cron/status`.
 */
export type CronStatus = { 
/**
 * The daemon's zone, used by jobs without `timezone`.
 */
timezone: string, 
/**
 * The earliest next fire time of any job.
 */
next_fire_at?: string, 
/**
 * Executions running now, over all jobs.
 */
running: number, jobs: { [key in string]: CronJobStatus }, };

/**
 * `GET /api/cron/{name}/executions`: newest first; pass `next_before_id` as `before_id` for the next page.
 */
export type ExecutionsPage = { executions: Array<Execution>, next_before_id?: number, };

/**
 * `POST /api/cron/tick`: the executions it created (at most one per job and fire time).
 */
export type TickResponse = { fired: Array<Execution>, };

/**
 * `POST /api/cron/{name}/stop` and `DELETE /api/cron/{name}`.
 */
export type CronActionResponse = { name: string, action: string, 
/**
 * Executions stopped (or cancelled while queued), by id.
 */
executions: Array<number>, };

/**
 * `GET /api/cron/validate?schedule=...&timezone=...`.
 */
export type ValidateResponse = { schedule: string, 
/**
 * The 6- or 7-field form (seconds first; day-of-week 0 or 7 = Sunday).
 */
normalized: string, timezone: string, description: string, 
/**
 * The next fire times, RFC 3339 in `timezone`.
 */
next: Array<string>, };

/**
 * The query of `GET /api/cron/{name}/executions`: page size (default 20, at most 500) and the
 * `next_before_id` of the previous page.
 */
export type ExecutionParams = { limit?: number, before_id?: number, };

/**
 * The query of `GET /api/cron/validate`: a schedule (required), its zone, how many fire times
 * (default 5, at most 100).
 */
export type ValidateParams = { schedule?: string, timezone?: string, count?: number, };

/**
 * How a workflow command is run: `shell` as `sh -c <command>`, `make` as `make <args...>`, `exec` as
 * the argv split from `command` with shell-like quoting (no shell).
 */
export type CommandType = "shell" | "make" | "exec";

/**
 * One pre- or post-command (the seed format).
 */
export type WorkflowCommand = { command_type: CommandType, command: string, 
/**
 * Declared by the caller; `false` is denied unless `[policy] allow_unsafe`.
 */
is_safe: boolean, 
/**
 * Declared by the caller; required when the daemon's environment is `production`.
 */
allowed_in_production: boolean, 
/**
 * Seconds before the command's tree is killed and the step fails.
 */
timeout_s?: number, };

/**
 * The body of a custom restart.
 */
export type CustomRestartRequest = { pre_commands: Array<WorkflowCommand>, post_commands: Array<WorkflowCommand>, 
/**
 * Appended to the service's command for the next run only.
 */
args: Array<string>, };

/**
 * Where a background job is.
 */
export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "interrupted" | "cancelled";

/**
 * The part of a custom restart a step belongs to.
 */
export type StepPhase = "pre" | "restart" | "post";

/**
 * The command policy's answer for a step.
 */
export type Decision = "allow" | "deny";

/**
 * How a step went. `pending` and `running` change; the others are final.
 */
export type StepStatus = "pending" | "running" | "ok" | "failed" | "denied" | "timed_out" | "skipped" | "cancelled";

/**
 * One step of a job: a pre- or post-command, or the restart itself.
 */
export type JobStep = { phase: StepPhase, 
/**
 * Position within its phase (0 for the restart).
 */
index: number, 
/**
 * The command as given (for the restart: the service's command with the extra args).
 */
command: string, 
/**
 * Absent for the restart step.
 */
command_type: CommandType | null, 
/**
 * What is (or was) executed.
 */
argv: Array<string>, 
/**
 * The policy's decision; absent for the restart and for steps that never got that far.
 */
decision: Decision | null, 
/**
 * Why the policy denied the command.
 */
reason: string | null, status: StepStatus, exit_code: number | null, signal: string | null, 
/**
 * The command's pid, or the service's new pid after the restart.
 */
pid: number | null, started_at: string | null, duration_ms: number | null, 
/**
 * The last lines of stdout and stderr, merged in arrival order (at most 64 lines, 8 KiB).
 */
output_tail: string, 
/**
 * A one-line summary of how the step ended (`exited with code 3`, `timed out after 2 s`, ...).
 */
message: string | null, };

/**
 * A background job (`GET /api/jobs/{id}`).
 */
export type JobView = { id: string, 
/**
 * `custom-restart`.
 */
kind: string, service: string, 
/**
 * Who asked.
 */
origin: Origin, status: JobStatus, created_at: string, started_at: string | null, finished_at: string | null, request: CustomRestartRequest, steps: Array<JobStep>, 
/**
 * Why the job failed, was interrupted or was cancelled.
 */
error: string | null, };

/**
 * `GET /api/jobs`: newest first.
 */
export type JobsPage = { jobs: Array<JobView>, };

/**
 * The query of `GET /api/jobs`: by service, by status (a `JobStatus` name), how many (default 50,
 * at most 1000).
 */
export type JobParams = { service?: string, status?: string, limit?: number, };

export type IncidentKind = "crash-loop" | "health-failure" | "cron-failure" | "manual";

export type TargetKind = "service" | "cron-job";

/**
 * A process listening on the service's port when it failed to bind.
 */
export type PortHolder = { pid: number, command: string, 
/**
 * A process of one of this service's earlier runs (true), or a stranger (false).
 */
leftover: boolean, };

/**
 * An earlier fix of the same target and how it went.
 */
export type Attempt = { diagnosis: string, 
/**
 * `verified`, `verify-failed`, `rejected`, `denied`, `invalid`, `failed`.
 */
outcome: string, detail: string, };

/**
 * What a fixer is told.
 */
export type Incident = { kind: IncidentKind, target: TargetKind, name: string, 
/**
 * The command as configured (a shell string, or the argv joined by spaces).
 */
command: string, argv: Array<string>, 
/**
 * Absolute: the `project` interface's root.
 */
working_dir: string, exit_code: number | null, signal: string | null, restarts: number, 
/**
 * Oldest first.
 */
log_tail: Array<string>, 
/**
 * Names only, never values.
 */
env_names: Array<string>, 
/**
 * Relative to the root when inside it.
 */
env_file: string | null, port: number | null, port_holder: PortHolder | null, health_message: string | null, 
/**
 * Earlier fixes of this target, oldest first.
 */
previous: Array<Attempt>, 
/**
 * The model the person asking named; `None`: the configured default.
 */
model: string | null, };

/**
 * One change to the project. Paths are relative to the root, `/`-separated.
 */
export type Edit = { "op": "replace", path: string, base_sha256: string, old: string, new: string, } | { "op": "create", path: string, content: string, executable: boolean, } | { "op": "create_dir", path: string, } | { "op": "set_executable", path: string, base_sha256: string, executable: boolean, };

/**
 * A command the host runs in the working directory after the edits, judged by the command policy
 * with origin `agent`.
 */
export type FixCommand = { command_type: CommandType, command: string, is_safe: boolean, allowed_in_production: boolean, timeout_s?: number, reason: string, };

export type Author = "rule" | "model";

export type Proposal = { diagnosis: string, 
/**
 * 0.0 to 1.0.
 */
confidence: number, edits: Array<Edit>, commands: Array<FixCommand>, 
/**
 * Restart the service (or run the job again) afterwards.
 */
restart: boolean, author: Author, 
/**
 * The rule's name or the model's.
 */
source: string, };

/**
 * A fixer's answer.
 */
export type FixAnswer = { "answer": "fix", proposal: Proposal, } | { "answer": "no_safe_fix", reason: string, };

/**
 * How far the host goes with a proposal: `off` (no fixer is asked), `propose` (recorded, nothing
 * changed), `approve` (waits for a person), `auto` (applied, verified, restored on failure).
 */
export type FixMode = "off" | "propose" | "approve" | "auto";

/**
 * Where a fix is. `awaiting-approval` waits for a person; `proposed`, `rejected`, `verified`,
 * `restored`, `failed`, `no-fix` and `skipped` are final.
 */
export type FixStatus = "diagnosing" | "proposed" | "awaiting-approval" | "rejected" | "applying" | "verifying" | "verified" | "restored" | "failed" | "no-fix" | "skipped";

/**
 * A fix record: a fix proper, or the restore of one (itself restorable).
 */
export type FixKind = "fix" | "restore";

/**
 * The body of `POST /api/services/{name}/fix` and `POST /api/cron/{name}/fix` (optional).
 */
export type FixRequest = { 
/**
 * A model of `[llm.models]` for this fix; default: the configured one.
 */
model?: string, };

/**
 * One edited file's change, as a unified diff.
 */
export type FileDiff = { path: string, diff: string, };

/**
 * The command policy's answer about one of the proposal's commands (in the audit trail too).
 */
export type FixDecision = { command: string, decision: Decision, reason: string, audit_id: number, };

/**
 * How one of the proposal's commands ran.
 */
export type FixCommandRun = { command: string, 
/**
 * `ok`, `failed`, `timed_out`.
 */
status: string, exit_code?: number, message: string, output_tail: string, };

/**
 * A fix as `GET /api/fixes/{id}` answers it.
 */
export type FixView = { id: string, kind: FixKind, target: TargetKind, 
/**
 * The service's or cron job's name.
 */
name: string, status: FixStatus, 
/**
 * What started it.
 */
trigger: IncidentKind, origin: Origin, 
/**
 * The mode that applied to it.
 */
mode: FixMode, created_at: string, updated_at: string, 
/**
 * The background job (`/api/jobs/{id}`) that ran it.
 */
job_id?: string, 
/**
 * Which try of this incident (1 first; a retry after a failed verification adds one).
 */
attempt: number, incident?: Incident, proposal?: Proposal, 
/**
 * A hash of the proposal's edits and commands: the same proposal again after it failed stops.
 */
proposal_hash?: string, diffs: Array<FileDiff>, decisions: Array<FixDecision>, 
/**
 * What applying did (or why it did not).
 */
apply_result?: string, commands: Array<FixCommandRun>, verify_result?: string, 
/**
 * Why it ended as it did (skipped, failed, rejected, restored).
 */
reason?: string, 
/**
 * The backup directory of what it changed.
 */
backup?: string, 
/**
 * For a `restore`: the fix it restored.
 */
restores?: string, 
/**
 * The restore record that undid this one.
 */
restored_by?: string, llm_calls: number, usage: Usage, duration_ms: number, };

/**
 * `GET /api/services/{name}/fixes`, `GET /api/cron/{name}/fixes`: newest first.
 */
export type FixesPage = { fixes: Array<FixView>, };

/**
 * The front end (or daemon part) a request came through. Serialised as the lowercase name, which is
 * also what the store keeps in its `origin` columns, so rows written before this enum stay readable.
 */
export type Origin = "rest" | "tcp" | "cli" | "dashboard" | "agent" | "cron" | "boot";

/**
 * One decision of the command policy, as recorded before the answer was used.
 */
export type AuditEntry = { id: number, 
/**
 * RFC 3339, UTC.
 */
time: string, 
/**
 * Who asked.
 */
origin: Origin, 
/**
 * The service the command was for (none for a dry run without one).
 */
service?: string, command_type: CommandType, 
/**
 * The command as given.
 */
command: string, 
/**
 * What it would execute.
 */
argv: Array<string>, cwd: string, 
/**
 * The daemon's environment at the time (`[policy] environment`).
 */
environment: string, is_safe: boolean, allowed_in_production: boolean, decision: Decision, 
/**
 * Why it was denied (empty when allowed).
 */
reason: string, 
/**
 * The policy plugin asked.
 */
plugin: string, 
/**
 * Its manifest version; absent when no plugin of that name was loaded.
 */
plugin_version?: string, };

/**
 * `GET /api/audit`: newest first; `next_before_id` pages on.
 */
export type AuditPage = { entries: Array<AuditEntry>, next_before_id?: number, };

/**
 * `POST /api/policy/evaluate`: asks the policy about a command without running it.
 */
export type PolicyCheckRequest = { 
/**
 * A registered service: its working dir and environment are used, as for its workflow steps.
 */
service?: string, command: WorkflowCommand, 
/**
 * Overrides the working dir (absolute).
 */
cwd?: string, };

/**
 * The dry run's answer (already audited, with the caller's origin).
 */
export type PolicyCheckResponse = { allowed: boolean, decision: Decision, 
/**
 * Why it was denied (empty when allowed).
 */
reason: string, plugin: string, plugin_version?: string, 
/**
 * The audit record of this decision.
 */
audit_id: number, 
/**
 * What would run, and where.
 */
argv: Array<string>, cwd: string, };

/**
 * The query of `GET /api/audit`: filters (`q`: text in the command, argv, reason or service, ASCII
 * case-insensitive), page size (default 100, at most 1000) and the `next_before_id` of the previous
 * page.
 */
export type AuditParams = { service?: string, decision?: Decision, origin?: Origin, q?: string, limit?: number, before_id?: number, };

/**
 * Where a plugin was loaded from.
 */
export type PluginSource = "builtin" | "user" | "user-overrides-builtin";

/**
 * What a plugin may reach: the manifest's grants narrowed to what the daemon allows.
 */
export type PluginGrants = { 
/**
 * `host`, `host:port` or `$target` (the checked service's own host:port).
 */
hosts: Array<string>, 
/**
 * Directories preopened read-only (host path = guest path).
 */
paths: Array<string>, 
/**
 * Names of daemon environment variables passed through.
 */
env: Array<string>, 
/**
 * May complete conversations through the LLM gateway (`llm`; fixer and onboarder plugins).
 */
llm: boolean, 
/**
 * May read the project an operation is about (`project`, jailed to its root; fixer and
 * onboarder plugins).
 */
project: boolean, };

/**
 * Per-call limits in force for a plugin.
 */
export type PluginLimits = { memory_mb: number, timeout_ms: number, max_response_bytes: number, };

/**
 * Call latencies counted into fixed buckets: `counts[i]` calls took at most `bounds_us[i]`
 * (and more than the bound before); the last count is everything slower than the last bound.
 */
export type LatencyHistogram = { bounds_us: Array<number>, counts: Array<number>, };

/**
 * One failed (or denied) call.
 */
export type PluginCallError = { 
/**
 * RFC 3339, UTC.
 */
time: string, 
/**
 * The outcome kind: `trap`, `timeout`, `out_of_memory`, `denied`, `plugin_error`, ...
 */
kind: string, message: string, };

export type PluginStats = { 
/**
 * Calls asked for, including those refused while suspended.
 */
calls: number, ok: number, 
/**
 * Failed calls by outcome kind.
 */
failures: { [key in string]: number }, 
/**
 * Capability requests refused by the sandbox (a call may have several, and may still succeed).
 */
denials: number, 
/**
 * Traps (including timeouts and out-of-memory) since the last successful call.
 */
consecutive_traps: number, latency: LatencyHistogram, 
/**
 * Newest last.
 */
last_errors: Array<PluginCallError>, };

/**
 * Why the last attempt to load a plugin's files failed.
 */
export type PluginRejection = { 
/**
 * RFC 3339, UTC.
 */
time: string, reason: string, 
/**
 * sha256 of the rejected `.wasm`, when it could be read.
 */
sha256?: string, };

/**
 * Whether a plugin can be called.
 */
export type PluginState = "loaded" | "suspended" | "rejected";

/**
 * Where a loaded plugin's compiled code came from.
 */
export type PluginCode = "precompiled" | "cache" | "compiled";

/**
 * `GET /api/plugins/{name}` and list entries.
 */
export type PluginInfo = { name: string, state: PluginState, 
/**
 * The world from the manifest (empty when a rejected plugin's manifest did not parse).
 */
world: string, 
/**
 * The `tend:plugin` package version the component was built against (`0.2.3` for every 0.2.x component, or `0.1.0`, which
 * the host adapts); absent when nothing is loaded.
 */
wit?: string, version: string, description: string, source: PluginSource, 
/**
 * The `.wasm` file; absent for built-ins, which are embedded in the binary.
 */
path?: string, sha256: string, 
/**
 * Effective grants (manifest ∩ daemon settings).
 */
grants: PluginGrants, limits: PluginLimits, 
/**
 * The manifest's `[config]`: defaults under each service's probe config.
 */
config: JsonValue, 
/**
 * `true` when the code was not compiled at this load (`code` is `precompiled` or `cache`).
 */
from_cache: boolean, 
/**
 * Where the compiled code came from; absent when nothing is loaded.
 */
code?: PluginCode, 
/**
 * RFC 3339, UTC; empty when never loaded.
 */
loaded_at: string, stats: PluginStats, suspended_until?: string, 
/**
 * The last rejected version of this plugin's files, while they are still the current files.
 */
rejected?: PluginRejection, };

export type ReloadAction = "loaded" | "unchanged" | "rejected" | "removed";

export type ReloadEntry = { name: string, action: ReloadAction, source: PluginSource, reason?: string, 
/**
 * For `rejected`: whether an earlier version is still loaded.
 */
previous_kept?: boolean, };

/**
 * `POST /api/plugins/reload`.
 */
export type ReloadReport = { plugins: Array<ReloadEntry>, };

/**
 * Where the integration stands.
 */
export type CaddyState = "idle" | "applied" | "failing" | "disabled";

/**
 * The integration's status: `supervisor.caddy` in `/api/status`, `status` in the other answers.
 */
export type CaddyStatus = { state: CaddyState, admin_url: string, 
/**
 * The `proxy-config` plugin that generates the configuration.
 */
plugin: string, 
/**
 * Services with `expose_caddy`.
 */
exposed: number, 
/**
 * RFC 3339: when Caddy last accepted a configuration from this daemon.
 */
last_applied_at?: string, last_error?: string, last_error_at?: string, 
/**
 * Failed attempts in a row.
 */
failures: number, next_retry_at?: string, 
/**
 * Where the readable rendering is written (`CADDY_SUPERVISOR_FILE`).
 */
supervisor_file: string, };

/**
 * One exposed service as given to the generator.
 */
export type CaddyService = { name: string, 
/**
 * `host:port` the proxy sends requests to.
 */
upstream: string, subdomain?: string, path?: string, 
/**
 * `healthy`, `unhealthy` or `unknown`.
 */
health: string, headers?: Array<[string, string]>, };

/**
 * `GET /api/caddy/config`: what would be applied now, and what was applied last.
 */
export type CaddyConfigView = { plugin: string, 
/**
 * The settings JSON the generator gets.
 */
settings: JsonValue, services: Array<CaddyService>, 
/**
 * The generated JSON (`route`, optional `server` and `tls_policy`); absent when generation failed.
 */
config?: JsonValue, 
/**
 * The readable rendering (a Caddyfile for the built-in generator).
 */
caddyfile?: string, 
/**
 * Why generation failed.
 */
error?: string, 
/**
 * The configuration Caddy last accepted from this daemon.
 */
applied?: JsonValue, 
/**
 * `config` equals `applied`.
 */
in_sync: boolean, status: CaddyStatus, };

/**
 * `POST /api/caddy/reload` (success; failures answer 502 with the error).
 */
export type CaddyReloadReport = { 
/**
 * What the reload did, e.g. `inserted the route group into server srv0`.
 */
action: string, status: CaddyStatus, };

/**
 * `POST /api/login`: exactly one of `code` (from `tend dashboard`) or `token` (the API token, pasted
 * by hand).
 */
export type LoginRequest = { code?: string, token?: string, };

/**
 * `POST /api/sessions/code`: a sign-in code, valid once until `expires_at`.
 */
export type SignInCode = { code: string, 
/**
 * RFC 3339, UTC.
 */
expires_at: string, };

/**
 * One session (`GET /api/sessions`, and the answer of `POST /api/login`). `id` is a public name for
 * it, not its secret.
 */
export type SessionView = { id: string, created_at: string, 
/**
 * Updated at most once a minute.
 */
last_seen_at: string, expires_at: string, 
/**
 * The `User-Agent` of the sign-in request (at most 256 characters).
 */
user_agent: string | null, 
/**
 * Whether this is the session of the request that asked.
 */
current: boolean, };

/**
 * `POST /api/logout` and `DELETE /api/sessions/{id}`: the session that ended.
 */
export type SessionEnded = { 
/**
 * `signed_out` (logout) or `revoked` (delete).
 */
status: string, id: string, };

export type Role = "system" | "user" | "assistant" | "tool";

/**
 * A tool the model asked to call.
 */
export type ToolCall = { id: string, name: string, 
/**
 * The arguments: a JSON object, as text (as the model wrote it).
 */
arguments: string, };

export type Message = { role: Role, content: string, 
/**
 * On `assistant` messages: the calls the model asked for, in its order.
 */
tool_calls?: Array<ToolCall>, 
/**
 * On `tool` messages: the call this message answers.
 */
tool_call_id?: string, };

/**
 * A tool the model may call.
 */
export type Tool = { name: string, description: string, 
/**
 * JSON Schema of the arguments (an object schema).
 */
parameters: unknown, };

/**
 * One completion. `model`: a name from `[llm.models]`, else the configured default.
 */
export type CompletionRequest = { model?: string, messages: Array<Message>, tools?: Array<Tool>, 
/**
 * JSON Schema the answer's content must match.
 */
response_schema?: unknown, max_tokens?: number, temperature?: number, };

export type FinishReason = "stop" | "tool_calls" | "length" | "other";

export type Usage = { input_tokens: number, output_tokens: number, };

/**
 * A model's answer.
 */
export type Completion = { 
/**
 * Role `assistant`.
 */
message: Message, finish_reason: FinishReason, usage: Usage, 
/**
 * The `[llm.models]` name that answered.
 */
model: string, 
/**
 * From sending the (last, after retries) request to the end of the answer.
 */
latency_ms: number, };

/**
 * What an LLM call is for: usage is recorded and budgeted per purpose.
 */
export type Purpose = "fix" | "onboard" | "chat" | "test";

/**
 * A piece of an answer's text as it streams in (the `delta` events of `POST /api/llm/complete`
 * with `Accept: text/event-stream`).
 */
export type CompletionDelta = { text: string, };

/**
 * `GET /api/llm`: the configured models (never a key), the budgets and today's (UTC) usage.
 */
export type LlmStatus = { 
/**
 * Whether any model is configured (`[llm.models]`).
 */
configured: boolean, 
/**
 * The model used when a request names none.
 */
default: string | null, 
/**
 * Tokens (in + out) all models may use per UTC day; `null`: no global budget.
 */
daily_token_budget: number | null, 
/**
 * Today, `YYYY-MM-DD` (UTC): what `used_today` and `usage` count.
 */
day: string, 
/**
 * Tokens (in + out) all models used today.
 */
used_today: number, models: Array<LlmModelView>, };

/**
 * One `[llm.models.<name>]` entry as configured, without its key.
 */
export type LlmModelView = { name: string, 
/**
 * `openai` or `anthropic`.
 */
provider: string, base_url: string, 
/**
 * The provider's model name.
 */
model: string, 
/**
 * Where the key comes from: `env:NAME` or `file:PATH`; `null`: no key (a local server).
 */
key: string | null, 
/**
 * Whether that variable is set, or that file readable and not empty, now.
 */
key_present: boolean, timeout_s: number, max_tokens: number, max_tokens_field: string, daily_token_budget: number | null, tools: boolean, retries: number, stream: boolean, 
/**
 * Tokens (in + out) this model used today.
 */
used_today: number, 
/**
 * Today's usage by purpose.
 */
usage: Array<LlmUsage>, };

/**
 * One model's usage for one purpose on one day.
 */
export type LlmUsage = { purpose: string, 
/**
 * Calls, failed ones included.
 */
calls: number, errors: number, input_tokens: number, output_tokens: number, 
/**
 * Summed over the calls.
 */
latency_ms: number, };

/**
 * A file that led to a choice, and which choice.
 */
export type Evidence = { 
/**
 * Relative to the project root.
 */
path: string, reason: string, };

/**
 * A service the plan would register. `name`..`health_path` become the service's definition (with
 * `DATA_DIR` pointing at the plan's `data_dir` when `data_dir` is set); the rest explains it.
 */
export type PlannedService = { name: string, command: CommandLine, 
/**
 * Absolute.
 */
working_dir: string, port?: number, 
/**
 * What the plan sets (`PORT`, the framework's variables); never values of the project's
 * `.env` files.
 */
env: { [key in string]: string }, 
/**
 * Absolute.
 */
env_file?: string, 
/**
 * An HTTP path answering 2xx when the service is up: becomes an `http` health check.
 */
health_path?: string, 
/**
 * The service keeps data: `DATA_DIR` is set to the plan's `data_dir`.
 */
data_dir: boolean, 
/**
 * 0.0 to 1.0.
 */
confidence: number, evidence: Array<Evidence>, };

/**
 * A cron job the plan would register.
 */
export type PlannedCron = { name: string, schedule: string, command: CommandLine, 
/**
 * Absolute.
 */
working_dir: string, env: { [key in string]: string }, env_file?: string, evidence: Array<Evidence>, };

/**
 * A setup step, run before anything is registered, judged by the command policy (origin `agent`).
 */
export type SetupStep = { command: FixCommand, 
/**
 * Absolute.
 */
working_dir: string, };

/**
 * What `GET /api/onboard/preview` answers and `POST /api/onboard` takes back (edited or not).
 */
export type Plan = { 
/**
 * The project's name: the root's directory name unless given.
 */
project: string, 
/**
 * Absolute, canonical.
 */
root: string, 
/**
 * Created when the plan is applied (`~/.{project}/` by default, `[onboard] data_root`).
 */
data_dir: string, services: Array<PlannedService>, cron_jobs: Array<PlannedCron>, setup: Array<SetupStep>, confidence: number, evidence: Array<Evidence>, notes: Array<string>, author: Author, 
/**
 * The detectors (`python,procfile`) or the model.
 */
source: string, 
/**
 * The plugin that made it.
 */
plugin: string, 
/**
 * Model calls made for it, when a model refined it.
 */
usage?: Usage, };

/**
 * Query of `GET /api/onboard/preview`.
 */
export type PreviewParams = { 
/**
 * A bare name (under `[onboard] projects_root`) or an absolute path.
 */
project: string, 
/**
 * Refine the detected plan with this model (`[llm.models]`); without it no model is asked.
 */
model?: string, 
/**
 * The project's name when it should differ from the directory's.
 */
name?: string, };

/**
 * Body of `POST /api/onboard`.
 */
export type OnboardRequest = { project: string, model?: string, name?: string, 
/**
 * The plan to apply (from the preview, possibly edited); absent: analyse now and apply.
 */
plan?: Plan, };

export type OnboardStatus = "queued" | "running" | "succeeded" | "failed";

export type OnboardStepKind = "analyze" | "data_dir" | "setup" | "register" | "start" | "confirm";

export type OnboardStepStatus = "pending" | "running" | "ok" | "failed" | "skipped";

export type OnboardStep = { kind: OnboardStepKind, 
/**
 * The service, cron job or command it is about.
 */
target: string, status: OnboardStepStatus, 
/**
 * What happened, in a sentence (a policy denial's reason, the last log lines of a service that
 * did not come up).
 */
message: string, };

/**
 * An onboarding job as `POST /api/onboard` (202) and `GET /api/onboard/jobs/{id}` answer it.
 */
export type OnboardJob = { id: string, project: string, root: string, status: OnboardStatus, created_at: string, ended_at?: string, 
/**
 * The plan being applied (absent while it is being made).
 */
plan?: Plan, steps: Array<OnboardStep>, 
/**
 * Names registered by this job (they stay registered when a later step fails).
 */
registered: Array<string>, 
/**
 * The outcome in a sentence.
 */
message: string, };

/**
 * Query of `GET /api/onboard/jobs`.
 */
export type OnboardJobParams = { 
/**
 * At most this many jobs, newest first (default 50, at most 500).
 */
limit?: number, };

/**
 * `GET /api/onboard/jobs`: newest first.
 */
export type OnboardJobsPage = { jobs: Array<OnboardJob>, };

/**
 * The formats `tend import` reads.
 */
export type ImportFormat = "magictunnel" | "supervisord" | "pm2" | "process-compose" | "procfile" | "compose";

/**
 * `POST /api/import`.
 */
export type ImportRequest = { 
/**
 * Detected from `file_name` and `content` when absent.
 */
format?: ImportFormat, 
/**
 * The file's name (detection, messages); `%(here)s` and relative paths use `base_dir`.
 */
file_name: string, 
/**
 * The file's text (a PM2 `.config.js` as the JSON its `module.exports` evaluates to).
 */
content: string, 
/**
 * The absolute directory relative paths of the file are taken from, and the working directory
 * of services that name none.
 */
base_dir: string, 
/**
 * Convert and validate, register nothing.
 */
dry_run: boolean, 
/**
 * PM2: merge each app's `env_<NAME>` over its `env` (as `pm2 start --env NAME`).
 */
env_name?: string, 
/**
 * supervisord: the values of the `%(ENV_X)s` the file expands (the importing user's environment).
 */
environment?: { [key in string]: string }, };

/**
 * A field of the imported file that tend does not carry over, and why.
 */
export type ImportWarning = { 
/**
 * The object in the file: `program:web`, `services.db`, `apps[0]`, ...
 */
object: string, 
/**
 * The field of that object (or the section, for a whole object that is skipped).
 */
field: string, reason: string, };

/**
 * `POST /api/import`'s answer: the services in the order they were (or would be) registered,
 * dependencies first.
 */
export type ImportResult = { format: ImportFormat, dry_run: boolean, services: Array<ServiceSpec>, warnings: Array<ImportWarning>, };

/**
 * `[services.<name>.k8s]` / `[cron.<name>.k8s]`: what a Kubernetes export needs that tend itself
 * does not. Read by exports only; the daemon ignores it.
 */
export type K8sSettings = { 
/**
 * The container image the command runs in (over `--image`).
 */
image?: string, };

/**
 * `GET /api/export/{target}` query (and `tend export` flags). Absent lists select everything:
 * every service and every cron job. Naming services or jobs selects only those.
 */
export type ExportParams = { 
/**
 * Services to export (repeat the parameter); none named and no `cron` named: all of them.
 */
service: Array<string>, 
/**
 * Cron jobs to export (repeat the parameter); none named and no `service` named: all of them.
 */
cron: Array<string>, 
/**
 * The default container image (Kubernetes); a service's own `k8s.image` wins.
 */
image?: string, 
/**
 * Kubernetes: Gateway API `HTTPRoute`s instead of `Ingress`.
 */
gateway: boolean, 
/**
 * Kubernetes namespace / Nomad namespace of every object; none: the engine's default.
 */
namespace?: string, };

/**
 * One file of an export.
 */
export type ExportDocument = { 
/**
 * Relative, `/`-separated path (where `tend export --out DIR` writes it).
 */
path: string, 
/**
 * `application/yaml`, `application/json`, ...
 */
media_type: string, body: string, };

/**
 * A field the target cannot carry over (also named in the object's `tend.dev/unmapped` annotation
 * where the format has annotations).
 */
export type ExportWarning = { 
/**
 * `service/<name>` or `cron/<name>`.
 */
object: string, 
/**
 * The field as the spec names it (`backoff.jitter`, `schedule`, `health.probe`).
 */
field: string, reason: string, };

/**
 * `GET /api/export/{target}`: the documents, in the order the plugin gave them, and the warnings.
 */
export type ExportResult = { 
/**
 * `k8s`, `nomad`, or another `deploy-export` plugin's name.
 */
target: string, 
/**
 * The plugin that rendered it.
 */
plugin: string, documents: Array<ExportDocument>, warnings: Array<ExportWarning>, };

/**
 * Body of `POST /api/chat`.
 */
export type ChatRequest = { 
/**
 * Continue this conversation; absent: start one.
 */
conversation?: string, 
/**
 * The person's message (1 to 16,384 bytes).
 */
message: string, 
/**
 * Talk about this service: its definition, recent events, log tail and metrics go with the
 * first message as context.
 */
service?: string, 
/**
 * A model of `[llm.models]`; absent: the default.
 */
model?: string, };

export type ChatRole = "user" | "assistant" | "tool";

/**
 * An action the model suggests; the dashboard offers it as a button, the person confirms, and the
 * dashboard calls the matching API itself.
 */
export type ChatProposal = { 
/**
 * `start`, `stop`, `restart`, `fix`, `edit`.
 */
action: string, service: string, 
/**
 * Why, in the model's words.
 */
reason: string, 
/**
 * For `edit`: the fields of the service's definition to change; the dashboard merges them into
 * the definition it has and sends it whole (`PUT /api/services/{name}`).
 */
changes?: JsonValue, };

/**
 * A tool call the model made and what it was answered (shortened).
 */
export type ChatToolUse = { name: string, 
/**
 * JSON.
 */
arguments: string, 
/**
 * The answer given to the model, at most 2,000 characters.
 */
result: string, };

export type ChatMessage = { id: number, role: ChatRole, content: string, tools: Array<ChatToolUse>, proposals: Array<ChatProposal>, created_at: string, usage?: Usage, };

export type ConversationSummary = { id: string, 
/**
 * The first message, shortened.
 */
title: string, service?: string, model?: string, created_at: string, updated_at: string, 
/**
 * How many messages the conversation holds. `message_count` on the wire: `Conversation`
 * flattens this summary next to its own `messages` list, and one JSON object cannot carry two
 * `messages` keys (the TypeScript type would not even compile).
 */
message_count: number, };

/**
 * `GET /api/chat/conversations/{id}`.
 */
export type Conversation = { messages: Array<ChatMessage>, id: string, 
/**
 * The first message, shortened.
 */
title: string, service?: string, model?: string, created_at: string, updated_at: string, 
/**
 * How many messages the conversation holds. `message_count` on the wire: `Conversation`
 * flattens this summary next to its own `messages` list, and one JSON object cannot carry two
 * `messages` keys (the TypeScript type would not even compile).
 */
message_count: number, };

/**
 * The `data:` of one SSE event of `POST /api/chat`; the SSE `event:` is the variant's name.
 */
export type ChatEvent = { "type": "conversation", id: string, } | { "type": "delta", text: string, } | { "type": "tool" } & ChatToolUse | { "type": "proposal" } & ChatProposal | { "type": "done", message: number, usage: Usage, } | { "type": "error", code: string, message: string, };

export type JsonValue = number | string | boolean | Array<JsonValue> | { [key in string]: JsonValue } | null;

/**
 * The `data:` of a `GET /api/events` SSE event, by event name (the topic).
 */
export type TopicData = { lifecycle: Event, health: Event, metrics: MetricsEvent & { topic: "metrics" }, cron: CronEvent & { topic: "cron", id: number }, job: Event, caddy: Event | (CaddyEvent & { topic: "caddy", id: number }), plugin: PluginEvent & { topic: "plugin", id: number }, policy: PolicyEvent & { topic: "policy", id: number }, agent: AgentEvent & { topic: "agent", id: number }, };
