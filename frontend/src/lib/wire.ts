// The API shapes the fescreens screens read, from the types generated out of `wire` (src/gen/api.ts),
// plus what the generated file does not carry yet: `schedule_description` of a cron view (added by the
// api helper for the dashboard) and the dashboard sessions (auth helper; `wire/session.rs`).
import type { CronJobView as GenCronJobView } from "../gen/api";

export type {
  AuditEntry,
  AuditPage,
  CaddyConfigView,
  CaddyReloadReport,
  CaddyService,
  CapturedOutput,
  CommandType,
  CronEvent,
  CustomRestartRequest,
  Event as ServiceEvent,
  Execution,
  ExecutionsPage,
  JobStep,
  JobView,
  LatencyHistogram,
  PluginInfo,
  PolicyCheckResponse,
  ReloadReport,
  StatusResponse,
  SupervisorLogs,
  ValidateResponse,
  WorkflowCommand,
} from "../gen/api";

export type CronJobView = GenCronJobView & {
  /** The describer's plain-English reading of `schedule`; absent on daemons from before the dashboard. */
  schedule_description?: string;
};

/** `GET /api/sessions` entries (host/src/wire/session.rs). */
export interface SessionView {
  id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  user_agent: string | null;
  current: boolean;
}
