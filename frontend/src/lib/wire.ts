// The API shapes the forms, cron, plugins, proxy, audit and supervisor screens read: re-exported from
// the types generated out of `wire` (src/gen/api.ts), so a change of the API breaks the build here.
export type {
  AuditEntry,
  AuditPage,
  CaddyConfigView,
  CaddyReloadReport,
  CaddyService,
  CapturedOutput,
  CommandType,
  CronEvent,
  CronJobView,
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
  SessionView,
  StatusResponse,
  SupervisorLogs,
  ValidateResponse,
  WorkflowCommand,
} from "../gen/api";

