// The API shapes the service screens read: the generated types (src/gen/api.ts, from host/src/wire),
// plus the few additions of helper api's branch (overview, log paging) that reach src/gen/api.ts when
// that branch is merged; they are written here exactly as notes/api.md documents them until then.
import type { LogsPage as GenLogsPage, TopicData } from "../gen/api";

export type {
  Status,
  HealthState,
  ExitInfo,
  HealthSpec,
  ServiceView,
  ServiceState,
  ActionResponse,
  SupervisorStatus,
  StatusResponse,
  MetricsEvent,
  HealthCheck,
  HealthReport,
  MetricPoint,
  MetricsHistory,
  LogLine,
  JobView,
} from "../gen/api";

/** A stored service event: `GET /api/services/{name}/events` and the lifecycle/health/job/caddy topics. */
export type { Event as ServiceEvent } from "../gen/api";

/** A `cron` topic event (with the bus id). */
export type CronEvent = TopicData["cron"];

/** `GET /api/services/{name}/logs` with the paging/search fields of notes/api.md. */
export type LogsPage = GenLogsPage & { next_before_id?: number; truncated?: boolean; scanned?: number };

/** `GET /api/overview` (notes/api.md). */
export interface OverviewResponse {
  time: string;
  services: {
    name: string;
    health: { time: string; passed: boolean; latency_ms: number }[];
    resources: { time: string; cpu_percent: number; memory_mb: number }[];
  }[];
  cron_due: { name: string; next_run_at: string }[];
}
