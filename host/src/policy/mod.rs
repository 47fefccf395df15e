//! The command-safety policy: asks the `command-policy` plugin (`[policy] plugin`, the built-in
//! `policy` by default) about every command tend runs on someone's behalf, fails closed (a missing,
//! wrong-world, suspended, trapping or slow plugin means deny, with a reason saying which), and
//! records every decision in the audit trail *before* the caller can act on it. With each question it
//! sends what the plugin cannot see for itself (`facts`: protected paths, the daemon's pid, names
//! and cwd, the working dir with its symlinks resolved) and the operator's `[policy]` lists. It runs
//! nothing and knows no HTTP; what the rules are is the plugin's business (`plugins/policy`).

mod facts;
mod settings;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use facts::HostFacts;
pub use settings::PolicySettings;

use crate::plugins::{Outcome, PluginHost, PolicyAnswer, PolicyRequest};
use crate::store::{NewAudit, Store};
use crate::wire::{CommandType, Decision, Origin, Payload, PolicyEvent, WorkflowCommand};

/// What is asked about one command.
pub struct Ask<'a> {
    pub command: &'a WorkflowCommand,
    /// What will be executed (for `shell`: `["sh", "-c", command]`).
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub service: &'a str,
    /// The environment the command runs with (the service's env).
    pub vars: &'a BTreeMap<String, String>,
    /// Who asks.
    pub origin: Origin,
}

/// The answer: allowed, or denied with a reason. Already audited when returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// Why it was denied (empty when allowed).
    pub reason: String,
    /// The audit row recording this decision (0 when it could not be written: then it is a denial).
    pub audit_id: i64,
}

/// A verdict with who gave it, for the dry run's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detailed {
    pub verdict: Verdict,
    pub plugin: String,
    pub plugin_version: Option<String>,
}

#[derive(Clone)]
pub struct Policy {
    plugins: PluginHost,
    store: Store,
    /// Every audited decision is also published as a `policy` event.
    bus: crate::events::Bus,
    settings: PolicySettings,
    /// Sent with every question: what is protected, who the daemon is.
    facts: HostFacts,
}

impl Policy {
    pub fn new(
        plugins: PluginHost,
        store: Store,
        bus: crate::events::Bus,
        settings: PolicySettings,
        facts: HostFacts,
    ) -> Policy {
        Policy {
            plugins,
            store,
            bus,
            settings,
            facts,
        }
    }

    /// Asks the policy plugin; a trap, timeout or missing plugin means deny.
    pub async fn evaluate(&self, ask: Ask<'_>) -> Verdict {
        let service = ask.service;
        self.evaluate_detailed(ask, Some(service)).await.verdict
    }

    /// `evaluate`, saying which plugin (and version) answered. `service` is what the audit records
    /// (`None` for a dry run without a service).
    pub async fn evaluate_detailed(&self, ask: Ask<'_>, service: Option<&str>) -> Detailed {
        let s = &self.settings;
        let cwd = ask.cwd.to_string_lossy().into_owned();
        // The plugin cannot see the file system: it judges the working dir with its symlinks
        // resolved (the audit keeps the path as given).
        let real_cwd = {
            let path = ask.cwd.to_path_buf();
            tokio::task::spawn_blocking(move || facts::canonical(&path))
                .await
                .unwrap_or_else(|_| cwd.clone())
        };
        let request = PolicyRequest {
            argv: ask.argv.to_vec(),
            shell: (ask.command.command_type == CommandType::Shell)
                .then(|| ask.command.command.clone()),
            command_type: ask.command.command_type.as_str().into(),
            cwd: real_cwd,
            service: ask.service.into(),
            environment: s.environment.clone(),
            production: s.production(),
            is_safe: ask.command.is_safe,
            allowed_in_production: ask.command.allowed_in_production,
            allow_unsafe: s.allow_unsafe,
            vars: ask
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            origin: ask.origin.as_str().into(),
            protected_paths: self.facts.protected.clone(),
            daemon_pid: self.facts.pid,
            daemon_names: self.facts.names.clone(),
            daemon_cwd: self.facts.cwd.clone(),
            interpreters: s.interpreters.clone(),
            programs: s.programs.clone(),
            resolved_paths: None,
        };
        let timeout = Duration::from_millis(s.timeout_ms);
        let mut call = self
            .plugins
            .evaluate_policy(&s.plugin, request.clone(), timeout)
            .await;
        // The plugin cannot see symlinks: it names the paths it judged, the host resolves them and
        // asks once more (a second `resolve` is a denial, below).
        if let Outcome::Ok(PolicyAnswer::Resolve(paths)) = &call.outcome {
            match facts::resolve_all(paths.clone()).await {
                Ok(resolved) => {
                    let again = PolicyRequest {
                        resolved_paths: Some(resolved),
                        ..request
                    };
                    call = self
                        .plugins
                        .evaluate_policy(&s.plugin, again, timeout)
                        .await;
                }
                Err(why) => {
                    call.outcome = Outcome::Ok(PolicyAnswer::Deny(why));
                }
            }
        }
        let (allowed, reason) = match call.outcome {
            Outcome::Ok(PolicyAnswer::Allow) => (true, String::new()),
            Outcome::Ok(PolicyAnswer::Resolve(_)) => (
                false,
                format!(
                    "policy plugin `{}` asked to resolve paths a second time; the command is denied",
                    s.plugin
                ),
            ),
            Outcome::Ok(PolicyAnswer::Deny(reason)) if reason.trim().is_empty() => (
                false,
                format!("denied by policy plugin `{}` (no reason given)", s.plugin),
            ),
            Outcome::Ok(PolicyAnswer::Deny(reason)) => (false, reason),
            failed => (false, failure(&s.plugin, &failed, s.timeout_ms)),
        };
        let decision = if allowed {
            Decision::Allow
        } else {
            Decision::Deny
        };
        let written = self
            .store
            .insert_audit(&NewAudit {
                origin: ask.origin.as_str(),
                service,
                command_type: ask.command.command_type,
                command: &ask.command.command,
                argv: ask.argv,
                cwd: &cwd,
                environment: &s.environment,
                is_safe: ask.command.is_safe,
                allowed_in_production: ask.command.allowed_in_production,
                decision,
                reason: &reason,
                plugin: &s.plugin,
                plugin_version: call.version.as_deref(),
            })
            .await;
        let verdict = match written {
            Ok(audit_id) => Verdict {
                allowed,
                reason,
                audit_id,
            },
            // An unrecorded decision is not one to act on.
            Err(e) => {
                tracing::error!(error = %e, "cannot write the policy audit record; denying");
                Verdict {
                    allowed: false,
                    reason: format!("the decision could not be audited ({e}); denied"),
                    audit_id: 0,
                }
            }
        };
        if verdict.audit_id > 0 {
            self.bus.publish(Payload::Policy(PolicyEvent {
                time: crate::store::now_rfc3339(),
                audit_id: verdict.audit_id,
                origin: ask.origin,
                service: service.map(str::to_string),
                command: ask.command.command.clone(),
                decision,
                reason: verdict.reason.clone(),
            }));
        }
        if !verdict.allowed {
            tracing::info!(
                service = ask.service,
                origin = ask.origin.as_str(),
                command = %ask.command.command,
                reason = %verdict.reason,
                "command denied by the policy"
            );
        }
        Detailed {
            verdict,
            plugin: s.plugin.clone(),
            plugin_version: call.version,
        }
    }
}

/// Why a plugin call that gave no answer is a denial.
fn failure(plugin: &str, outcome: &Outcome<PolicyAnswer>, timeout_ms: u64) -> String {
    let what = match outcome {
        Outcome::Ok(_) => return String::new(),
        Outcome::NotFound => {
            "is not loaded (see `tend plugin ls`); every command is denied until it is".to_string()
        }
        Outcome::Trap(m) => format!("trapped: {m}"),
        Outcome::Timeout => format!(
            "timed out (policy.timeout_ms = {timeout_ms}, or the plugin's limits.timeout_ms)"
        ),
        Outcome::OutOfMemory => "ran out of memory (limits.memory_mb)".to_string(),
        Outcome::Denied(m) => format!("failed after being denied a capability: {m}"),
        Outcome::WrongWorld(m) => format!("is not a command policy: {m}"),
        Outcome::PluginError(m) => format!("failed: {m}"),
        suspended @ Outcome::Suspended { .. } => {
            format!("is {}", suspended.to_string().trim_start_matches("plugin "))
        }
    };
    format!("policy plugin `{plugin}` {what}; the command is denied")
}
