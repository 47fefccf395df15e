//! The dashboard's TypeScript types, generated from this module's Rust types (ts-rs) into one
//! checked-in file, `frontend/src/gen/api.ts`. A test, not a build step: `cargo test` fails while the
//! file differs from what the types say, and `cargo xtask gen-types` (this test with
//! `TEND_WRITE_TYPES=1`) rewrites it. Nothing here is compiled into the daemon.
//!
//! A type that crosses HTTP or SSE derives `TS` and is listed in `declarations` (in a fixed order, so
//! the file is stable). Optional fields match what serde emits: a struct whose `Option` fields are all
//! `skip_serializing_if = "Option::is_none"` carries `#[ts(optional_fields)]` (`field?: T`); an
//! `Option` serialised as `null` stays `T | null`. In such a struct a non-`Option` field skipped when
//! empty or false needs `#[ts(optional = nullable)]` (`field?: T`: the struct attribute would make it
//! required; on a non-`Option` type `nullable` adds no `| null`). 64-bit integers are `number`.

use std::path::{Path, PathBuf};

use ts_rs::{Config, TS};

use super::*;

const OUT: &str = "../frontend/src/gen/api.ts";

const HEADER: &str = "\
// GENERATED FILE, DO NOT EDIT: the API's types, from the Rust types in host/src/wire
// (host/src/wire/typescript.rs). Regenerate with `cargo xtask gen-types`; `cargo xtask test`
// fails while this file is stale.
";

/// One declaration: the TypeScript name, its text, and the names it refers to.
struct Decl {
    name: String,
    text: String,
    uses: Vec<String>,
}

fn decl<T: TS + ?Sized + 'static>(cfg: &Config) -> Decl {
    let mut text = T::docs().unwrap_or_default();
    text.push_str("export ");
    text.push_str(&T::decl(cfg));
    Decl {
        name: T::ident(cfg),
        text,
        uses: T::dependencies(cfg)
            .into_iter()
            .map(|d| d.ts_name)
            .collect(),
    }
}

macro_rules! decls {
    ($cfg:expr; $($t:ty),* $(,)?) => { vec![$(decl::<$t>($cfg)),*] };
}

/// Every type of the API, by area (the order of `wire/mod.rs`).
fn declarations(cfg: &Config) -> Vec<Decl> {
    let mut all = decls![cfg;
        // errors
        Code, ErrorBody, ErrorDetail,
        // services
        CommandLine, RestartPolicy, Backoff, HealthSpec, DependencyCondition, Dependency, Dependencies,
        ServiceSpec, Status, HealthState, ExitInfo, Source, WaitingFor, ServiceState, ServiceView, HealthCheck, HealthReport, ActionResponse, Action, Graph, GraphNode,
        GraphEdge,
        // service events, logs, metrics
        EventKind, Event, EventsPage, EventParams,
        Stream, LogLine, LogsPage, LogParams, DownloadParams,
        HistoryParams, MetricsHistory, MetricPoint,
        // the daemon
        StatusResponse, SupervisorStatus, ContainmentStatus, SupervisorLogs, TailParams,
        ShutdownResponse,
        // the dashboard's overview
        Overview, ServiceOverview, HealthPoint, ResourcePoint, CronDue,
        // the event bus
        Topic, CronPhase, CronEvent, CaddyEvent, PluginAction, PluginEvent, PolicyEvent,
        MetricsEvent, AgentEvent, EventStreamParams,
        // cron
        Overlap, CatchUp, CronJobSpec, Trigger, ExecutionStatus, CapturedOutput, Execution, LastRun,
        CronJobState, CronJobView, CronJobStatus, CronStatus, ExecutionsPage, TickResponse,
        CronActionResponse, ValidateResponse, ExecutionParams, ValidateParams,
        // custom restarts and jobs
        CommandType, WorkflowCommand, CustomRestartRequest, JobStatus, StepPhase, Decision,
        StepStatus, JobStep, JobView, JobsPage, JobParams,
        // auto-fix (the fixer's contract, the fix records)
        IncidentKind, TargetKind, PortHolder, Attempt, Incident, Edit, FixCommand, Author, Proposal,
        FixAnswer, FixMode, FixStatus, FixKind, FixRequest, FileDiff, FixDecision,
        FixCommandRun, FixView, FixesPage,
        // policy and audit
        Origin, AuditEntry, AuditPage, PolicyCheckRequest, PolicyCheckResponse, AuditParams,
        // plugins
        PluginSource, PluginGrants, PluginLimits, LatencyHistogram, PluginCallError, PluginStats,
        PluginRejection, PluginState, PluginCode, PluginInfo, ReloadAction, ReloadEntry, ReloadReport,
        // caddy
        CaddyState, CaddyStatus, CaddyService, CaddyConfigView, CaddyReloadReport,
        // dashboard sign-in
        LoginRequest, SignInCode, SessionView, SessionEnded,
        // the LLM gateway
        Role, ToolCall, Message, Tool, CompletionRequest, FinishReason, Usage, Completion, Purpose,
        CompletionDelta, LlmStatus, LlmModelView, LlmUsage,
        // onboarding
        Evidence, PlannedService, PlannedCron, SetupStep, Plan, PreviewParams, OnboardRequest,
        OnboardStatus, OnboardStepKind, OnboardStepStatus, OnboardStep, OnboardJob, OnboardJobParams,
        OnboardJobsPage,
        // importing other supervisors' files
        ImportFormat, ImportRequest, ImportWarning, ImportResult,
        // exporting to other engines
        K8sSettings, ExportParams, ExportDocument, ExportWarning, ExportResult,
        // chat
        ChatRequest, ChatRole, ChatProposal, ChatToolUse, ChatMessage, ConversationSummary,
        Conversation, ChatEvent,
        // JSON values (configs, the daemon's own log records)
        serde_json::Value,
    ];
    all.push(topic_data(cfg));
    all
}

/// `TopicData[t]`: the `data:` of a `GET /api/events` SSE event named `t` (`BusEvent::data`): a
/// service event as `Event`, any other payload with its `topic` and (stored topics only) `id`.
fn topic_data(cfg: &Config) -> Decl {
    let event = Event::ident(cfg);
    let mut uses = vec![event.clone()];
    let mut other = |ident: String, t: Topic| {
        uses.push(ident.clone());
        let id = if t.persisted() { ", id: number" } else { "" };
        format!("{ident} & {{ topic: \"{t}\"{id} }}")
    };
    let mut fields = Vec::new();
    for t in Topic::ALL {
        let ty = match t {
            Topic::Lifecycle | Topic::Health | Topic::Job => event.clone(),
            // Per-service Caddy failures are service events; daemon-wide apply results are not.
            Topic::Caddy => format!("{event} | ({})", other(CaddyEvent::ident(cfg), t)),
            Topic::Metrics => other(MetricsEvent::ident(cfg), t),
            Topic::Cron => other(CronEvent::ident(cfg), t),
            Topic::Plugin => other(PluginEvent::ident(cfg), t),
            Topic::Policy => other(PolicyEvent::ident(cfg), t),
            Topic::Agent => other(AgentEvent::ident(cfg), t),
        };
        fields.push(format!("{t}: {ty}, "));
    }
    Decl {
        name: "TopicData".into(),
        text: format!(
            "/**\n * The `data:` of a `GET /api/events` SSE event, by event name (the topic).\n */\n\
             export type TopicData = {{ {}}};",
            fields.concat()
        ),
        uses,
    }
}

fn render() -> String {
    let cfg = Config::new().with_large_int("number");
    let all = declarations(&cfg);
    let mut declared = std::collections::BTreeSet::new();
    for d in &all {
        assert!(
            declared.insert(d.name.as_str()),
            "{} is declared twice",
            d.name
        );
    }
    for d in &all {
        for u in &d.uses {
            assert!(
                declared.contains(u.as_str()),
                "{} refers to {u}, which `declarations` in host/src/wire/typescript.rs does not list",
                d.name
            );
        }
    }
    let mut out = String::from(HEADER);
    for d in &all {
        out.push('\n');
        out.push_str(&d.text);
        out.push('\n');
    }
    out
}

fn out_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(OUT)
}

#[test]
fn frontend_types_are_up_to_date() {
    let want = render();
    let path = out_path();
    if std::env::var_os("TEND_WRITE_TYPES").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| have.lines().count().min(want.lines().count()))
            + 1;
        panic!(
            "frontend/src/gen/api.ts is stale (first difference at line {line}): run `cargo xtask gen-types`"
        );
    }
}

#[test]
fn optional_fields_follow_what_serde_emits() {
    let cfg = Config::new().with_large_int("number");
    // Skipped when `None`: may be absent, never null.
    let exit = ExitInfo::decl(&cfg);
    assert!(exit.contains("code?: number,"), "{exit}");
    // A struct-level `#[serde(default)]` field is always serialised.
    assert!(Backoff::decl(&cfg).contains("jitter: number,"));
    // Serialised as `null`.
    let step = JobStep::decl(&cfg);
    assert!(step.contains("exit_code: number | null,"), "{step}");
    // Flattened parts keep their optional markers and renames.
    let view = ServiceView::decl(&cfg);
    assert!(view.contains("health_status?: HealthState"), "{view}");
    assert!(view.contains("working_dir?: string"), "{view}");
    // Skipped when empty or false.
    assert!(LogLine::decl(&cfg).contains("partial?: boolean"));
    assert!(PluginEvent::decl(&cfg).contains("message?: string,"));
    assert!(CaddyService::decl(&cfg).contains("headers?: Array<[string, string]>"));
    assert!(MetricPoint::decl(&cfg).contains("disk_partial?: boolean"));
}
