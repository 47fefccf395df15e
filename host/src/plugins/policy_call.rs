//! Calling `command-policy` plugins: `PluginHost::evaluate_policy` (as `check` is for probes) and the
//! plain data its callers see, so that nothing outside `plugins` names a WIT type. Plugins built
//! against `tend:plugin@0.1.0` are adapted here: they get the request without the fields 0.2 added
//! (protected paths, daemon facts, `[policy]` lists, resolved paths) and can only allow or deny.

use std::time::Duration;

use wasmtime::Store;

use super::PluginHost;
use super::bindings::{World, command_policy as wit, v0_1::command_policy as wit_v0_1};
use super::loader::{Exports, PolicyPre};
use super::outcome::Outcome;
use super::sandbox::CallState;

/// One question to a `command-policy` plugin (the WIT `command-request`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyRequest {
    pub argv: Vec<String>,
    pub shell: Option<String>,
    pub command_type: String,
    pub cwd: String,
    pub service: String,
    pub environment: String,
    pub production: bool,
    pub is_safe: bool,
    pub allowed_in_production: bool,
    pub allow_unsafe: bool,
    pub vars: Vec<(String, String)>,
    pub origin: String,
    /// Paths no command may write, delete or name (tend's data dir), canonical.
    pub protected_paths: Vec<String>,
    pub daemon_pid: u32,
    /// The daemon's executable path and command line.
    pub daemon_names: Vec<String>,
    pub daemon_cwd: Option<String>,
    /// `[policy] interpreters` and `[policy] programs`.
    pub interpreters: Vec<String>,
    pub programs: Vec<String>,
    /// The second question after `PolicyAnswer::Resolve`: each path with its canonical form.
    pub resolved_paths: Option<Vec<(String, String)>>,
}

/// A `command-policy` plugin's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyAnswer {
    Allow,
    Deny(String),
    /// Ask again with these paths canonicalised (`resolved_paths`).
    Resolve(Vec<String>),
}

/// The answer and the version (manifest `version`) of the plugin that gave it, when one was loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyCall {
    pub outcome: Outcome<PolicyAnswer>,
    pub version: Option<String>,
}

impl PluginHost {
    /// Calls `evaluate` of a `command-policy` plugin, within `timeout` (and the plugin's own
    /// `limits.timeout_ms`). Never blocks the async runtime; never panics. A failed evaluation
    /// (timeout, trap, out of memory) is that request's denial and does not count toward
    /// suspending the plugin: one hostile command must not get the policy suspended for everyone
    /// (`call_export` is told so by the world).
    pub async fn evaluate_policy(
        &self,
        plugin: &str,
        request: PolicyRequest,
        timeout: Duration,
    ) -> PolicyCall {
        let (outcome, version) = self
            .call_export(plugin, World::CommandPolicy, timeout, None, None, |p, _| {
                let Exports::CommandPolicy(pre) = &p.exports else {
                    return None;
                };
                let pre = pre.clone();
                Some(move |mut store: Store<CallState>| async move {
                    let answer = match pre {
                        PolicyPre::V0_2(pre) => {
                            let policy = pre.instantiate_async(&mut store).await?;
                            let decision =
                                policy.call_evaluate(&mut store, &request.into()).await?;
                            match decision {
                                wit::Decision::Allow => PolicyAnswer::Allow,
                                wit::Decision::Deny(reason) => PolicyAnswer::Deny(reason),
                                wit::Decision::Resolve(paths) => PolicyAnswer::Resolve(paths),
                            }
                        }
                        PolicyPre::V0_1(pre) => {
                            let policy = pre.instantiate_async(&mut store).await?;
                            let decision =
                                policy.call_evaluate(&mut store, &request.into()).await?;
                            match decision {
                                wit_v0_1::Decision::Allow => PolicyAnswer::Allow,
                                wit_v0_1::Decision::Deny(reason) => PolicyAnswer::Deny(reason),
                            }
                        }
                    };
                    Ok(Outcome::Ok(answer))
                })
            })
            .await;
        PolicyCall { outcome, version }
    }
}

impl From<PolicyRequest> for wit::CommandRequest {
    fn from(request: PolicyRequest) -> Self {
        wit::CommandRequest {
            argv: request.argv,
            shell: request.shell,
            command_type: request.command_type,
            cwd: request.cwd,
            service: request.service,
            environment: request.environment,
            production: request.production,
            is_safe: request.is_safe,
            allowed_in_production: request.allowed_in_production,
            allow_unsafe: request.allow_unsafe,
            vars: request.vars,
            origin: request.origin,
            protected_paths: request.protected_paths,
            daemon_pid: request.daemon_pid,
            daemon_names: request.daemon_names,
            daemon_cwd: request.daemon_cwd,
            interpreters: request.interpreters,
            programs: request.programs,
            resolved_paths: request.resolved_paths,
        }
    }
}

/// The 0.1 request: 0.2's without the fields 0.2 added. A 0.1 policy never sees what tend protects
/// (its data dir, its own process); it never answers `resolve`, so it is asked once.
impl From<PolicyRequest> for wit_v0_1::CommandRequest {
    fn from(request: PolicyRequest) -> Self {
        wit_v0_1::CommandRequest {
            argv: request.argv,
            shell: request.shell,
            command_type: request.command_type,
            cwd: request.cwd,
            service: request.service,
            environment: request.environment,
            production: request.production,
            is_safe: request.is_safe,
            allowed_in_production: request.allowed_in_production,
            allow_unsafe: request.allow_unsafe,
            vars: request.vars,
            origin: request.origin,
        }
    }
}
