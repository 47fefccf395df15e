// The API shapes the service screens read, re-exported from the types generated out of host/src/wire
// (src/gen/api.ts), so a change of the API breaks the build here.
import type { TopicData } from "../gen/api";

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
  LogsPage,
  Overview as OverviewResponse,
} from "../gen/api";

/** A stored service event: `GET /api/services/{name}/events` and the lifecycle/health/job/caddy topics. */
export type { Event as ServiceEvent } from "../gen/api";

/** A `cron` topic event (with the bus id). */
export type CronEvent = TopicData["cron"];
