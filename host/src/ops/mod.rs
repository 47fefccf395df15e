//! The operations layer: everything a front end can ask of the daemon, as methods of one `Ops` that
//! take and return `wire` types and fail with one `Error` (a `Code` from `wire/error.rs`). The REST
//! handlers (`api/`), the control port (`control/`), the dashboard, and the chat's tools (`chat/`) are
//! adapters over it: they parse their own input, call one method, and render the answer and the error
//! code their way. Validation of every request happens here or below, before anything changes.
//! Knows no HTTP and no line protocol; holds no state of its own beyond the subsystems' handles and
//! the dashboard's sign-in state (`SignIn`: one-time codes, recent failures; `sessions.rs`).

mod chat;
mod compat;
mod cron;
mod error;
mod events;
mod export;
mod fixes;
mod import;
mod input;
mod jobs;
mod llm;
mod logs;
mod onboard;
mod overview;
mod plugins;
mod policy;
mod services;
mod sessions;

use std::path::PathBuf;

use tokio::sync::mpsc;

pub use compat::CompatSettings;
pub use error::{Error, Result};
pub use export::ExportSettings;
pub(crate) use input::backticked_after;
pub use input::{json, replace_body, typed};
pub use sessions::SignIn;

use crate::caddy::Caddy;
use crate::cron::Scheduler;
use crate::events::Bus;
use crate::llm::Gateway;
use crate::logs::LogHub;
use crate::metrics::Metrics;
use crate::plugins::PluginHost;
use crate::policy::Policy;
use crate::store::Store;
use crate::supervisor::Supervisor;
use crate::wire::{StatusResponse, SupervisorLogs, TailParams};
use crate::workflow::Workflows;

/// Every subsystem an operation may act on; cheap to clone (handles).
#[derive(Clone)]
pub struct Ops {
    pub sup: Supervisor,
    pub store: Store,
    pub hub: LogHub,
    pub plugins: PluginHost,
    pub cron: Scheduler,
    pub metrics: Metrics,
    pub policy: Policy,
    pub workflows: Workflows,
    /// Auto-fix: triggers, records, approve/reject/restore.
    pub fixer: crate::fix::Fixer,
    /// Onboarding: previews and the jobs that apply plans.
    pub onboarding: crate::onboard::Onboarding,
    pub caddy: Caddy,
    pub bus: Bus,
    /// The LLM gateway (`[llm]`).
    pub llm: Gateway,
    pub data_dir: PathBuf,
    /// Asks the daemon to shut down (`POST /api/supervisor/shutdown`, the control port's `shutdown`).
    pub shutdown: mpsc::Sender<()>,
    /// Dashboard sign-in: one-time codes, failed sign-ins, the token and session lifetime.
    pub sign_in: SignIn,
    /// The replaced dashboard's routes (`[compat]`).
    pub compat: CompatSettings,
    /// Exports to other engines (`[export]`).
    pub export: ExportSettings,
}

/// Most records `supervisor_logs` returns.
const MAX_TAIL: usize = 10_000;

impl Ops {
    /// The supervisor and every service, with the daemon's own usage and the Caddy integration.
    pub fn status(&self) -> StatusResponse {
        let mut status = self.sup.status();
        if let Some((memory_mb, cpu_percent)) = self.metrics.own_usage() {
            status.supervisor.memory_mb = Some(memory_mb);
            status.supervisor.cpu_percent = Some(cpu_percent);
        }
        status.supervisor.caddy = Some(self.caddy.status());
        let containment = crate::process::containment();
        status.supervisor.containment = Some(Box::new(crate::wire::ContainmentStatus {
            kind: containment.kind().into(),
            root: containment.root().map(Into::into),
        }));
        status
    }

    /// The last records of the daemon's own log (`tend.log`).
    pub async fn supervisor_logs(&self, p: &TailParams) -> Result<SupervisorLogs> {
        let tail = p.tail.unwrap_or(200);
        if tail > MAX_TAIL {
            return Err(Error::invalid("tail", format!("at most {MAX_TAIL}")));
        }
        let dir = self.data_dir.clone();
        let lines = tokio::task::spawn_blocking(move || crate::logs::read_daemon_log(&dir, tail))
            .await
            .map_err(Error::internal)?
            .map_err(|e| Error::internal(format_args!("cannot read tend.log: {e}")))?;
        Ok(SupervisorLogs { lines })
    }

    /// Asks the daemon to stop every service and exit; returns at once. Asking twice is harmless
    /// (a full channel means a shutdown is already under way).
    pub fn shutdown(&self) {
        let _ = self.shutdown.try_send(());
    }
}
