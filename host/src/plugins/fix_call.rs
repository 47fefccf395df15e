//! Calling `fixer` plugins: `PluginHost::propose_fix` (as `check` is for probes) and the plain data
//! its callers see (`FixCall`, `wire::Incident`, `wire::FixAnswer`), so that nothing outside
//! `plugins` names a WIT type. A fixer call is an agent call: it runs in the agent pool under the
//! plugin's long deadline, with the incident's working dir as the `project` root and the LLM
//! gateway (purpose `fix`, the incident's model as the default) behind `llm`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Store;

use super::PluginHost;
use super::bindings::host::tend::plugin::fixing as wit;
use super::bindings::{WitVersion, World};
use super::loader::Exports;
use super::outcome::Outcome;
use super::sandbox::{AgentCtx, CallState, LlmTally};
use crate::wire;

/// What a `fixer` call came to.
#[derive(Clone, Debug, PartialEq)]
pub struct FixCall {
    /// The plugin's answer, or why there is none as a sentence: the plugin is missing, not a
    /// fixer, suspended, trapped, timed out or returned `err`.
    pub answer: Result<wire::FixAnswer, String>,
    /// `llm` completions the plugin made (a proposal made with any is `Author::Model`).
    pub llm_calls: u32,
    /// Tokens those completions used.
    pub usage: wire::Usage,
    pub duration_ms: u64,
}

impl PluginHost {
    /// Calls `propose` of a `fixer` plugin about `incident`, with `root` (the incident's working dir)
    /// as its `project` root. Never blocks the async runtime; never panics.
    pub async fn propose_fix(
        &self,
        plugin: &str,
        incident: wire::Incident,
        root: &Path,
    ) -> FixCall {
        let started = Instant::now();
        let tally = Arc::new(Mutex::new(LlmTally::default()));
        let agent = AgentCtx {
            project: Some(crate::project::Project::new(root)),
            purpose: wire::Purpose::Fix,
            default_model: incident.model.clone(),
            llm: self.llm(),
            tally: tally.clone(),
        };
        let incident = wit::Incident::from(incident);
        let (outcome, _) = self
            .call_export(
                plugin,
                World::Fixer,
                Duration::MAX,
                None,
                Some(agent),
                |p, _| {
                    let Exports::Fixer(pre) = &p.exports else {
                        return None;
                    };
                    let pre = pre.clone();
                    Some(move |mut store: Store<CallState>| async move {
                        let fixer = pre.instantiate_async(&mut store).await?;
                        Ok(match fixer.call_propose(&mut store, &incident).await? {
                            Ok(answer) => Outcome::Ok(answer),
                            Err(message) => Outcome::PluginError(message),
                        })
                    })
                },
            )
            .await;
        let tally = *tally.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match outcome {
            Outcome::Ok(answer) => Ok(from_wit(answer, tally.calls > 0)),
            Outcome::NotFound => Err(format!("no plugin named {plugin} is loaded")),
            Outcome::WrongWorld(_) if self.is_v0_1_fixer(plugin) => Err(format!(
                "plugin {plugin} was built against tend:plugin@0.1.0, whose `fixer` world was a \
                 sketch; rebuild it against tend:plugin@{}",
                WitVersion::V0_2.as_str()
            )),
            Outcome::PluginError(m) => Err(format!("fixer plugin {plugin} found no answer: {m}")),
            other => Err(format!("fixer plugin {plugin}: {other}")),
        };
        FixCall {
            answer,
            llm_calls: tally.calls,
            usage: tally.usage,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn is_v0_1_fixer(&self, plugin: &str) -> bool {
        self.inner
            .registry
            .get(plugin)
            .is_some_and(|p| p.world == World::Fixer && p.wit == WitVersion::V0_1)
    }
}

impl From<wire::Incident> for wit::Incident {
    fn from(i: wire::Incident) -> Self {
        wit::Incident {
            kind: match i.kind {
                wire::IncidentKind::CrashLoop => wit::IncidentKind::CrashLoop,
                wire::IncidentKind::HealthFailure => wit::IncidentKind::HealthFailure,
                wire::IncidentKind::CronFailure => wit::IncidentKind::CronFailure,
                wire::IncidentKind::Manual => wit::IncidentKind::Manual,
            },
            target: match i.target {
                wire::TargetKind::Service => wit::TargetKind::Service,
                wire::TargetKind::CronJob => wit::TargetKind::CronJob,
            },
            name: i.name,
            command: i.command,
            argv: i.argv,
            working_dir: i.working_dir,
            exit_code: i.exit_code,
            signal: i.signal,
            restarts: i.restarts,
            log_tail: i.log_tail,
            env_names: i.env_names,
            env_file: i.env_file,
            port: i.port,
            port_holder: i.port_holder.map(|h| wit::PortHolder {
                pid: h.pid,
                command: h.command,
                leftover: h.leftover,
            }),
            health_message: i.health_message,
            previous: i
                .previous
                .into_iter()
                .map(|a| wit::Attempt {
                    diagnosis: a.diagnosis,
                    outcome: a.outcome,
                    detail: a.detail,
                })
                .collect(),
            model: i.model,
        }
    }
}

/// The plugin's answer as plain data. A plugin that called `llm` while making the proposal made a
/// model-written proposal, whatever it says (the WIT's rule for `author`); a confidence outside
/// 0..=1 (or NaN) is clamped, so that a caller can compare it with a threshold.
fn from_wit(answer: wit::Answer, used_llm: bool) -> wire::FixAnswer {
    let p = match answer {
        wit::Answer::NoSafeFix(reason) => return wire::FixAnswer::NoSafeFix { reason },
        wit::Answer::Fix(p) => p,
    };
    let author = match p.author {
        _ if used_llm => wire::Author::Model,
        wit::Author::Rule => wire::Author::Rule,
        wit::Author::Model => wire::Author::Model,
    };
    let confidence = if p.confidence.is_nan() {
        0.0
    } else {
        p.confidence.clamp(0.0, 1.0)
    };
    wire::FixAnswer::Fix {
        proposal: wire::Proposal {
            diagnosis: p.diagnosis,
            confidence,
            edits: p.edits.into_iter().map(edit).collect(),
            commands: p.commands.into_iter().map(command).collect(),
            restart: p.restart,
            author,
            source: p.source,
        },
    }
}

fn edit(e: wit::Edit) -> wire::Edit {
    match e {
        wit::Edit::Replace(r) => wire::Edit::Replace {
            path: r.path,
            base_sha256: r.base_sha256,
            old: r.old,
            new: r.new,
        },
        wit::Edit::Create(c) => wire::Edit::Create {
            path: c.path,
            content: c.content,
            executable: c.executable,
        },
        wit::Edit::CreateDir(path) => wire::Edit::CreateDir { path },
        wit::Edit::SetExecutable(m) => wire::Edit::SetExecutable {
            path: m.path,
            base_sha256: m.base_sha256,
            executable: m.executable,
        },
    }
}

fn command(c: wit::Command) -> wire::FixCommand {
    wire::FixCommand {
        command_type: match c.command_type {
            wit::CommandType::Shell => wire::CommandType::Shell,
            wit::CommandType::Make => wire::CommandType::Make,
            wit::CommandType::Exec => wire::CommandType::Exec,
        },
        command: c.command,
        is_safe: c.is_safe,
        allowed_in_production: c.allowed_in_production,
        timeout_s: c.timeout_s,
        reason: c.reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(author: wit::Author, confidence: f32) -> wit::Answer {
        wit::Answer::Fix(wit::Proposal {
            diagnosis: "d".into(),
            confidence,
            edits: vec![
                wit::Edit::CreateDir("logs".into()),
                wit::Edit::SetExecutable(wit::ModeEdit {
                    path: "run.sh".into(),
                    base_sha256: "ab".into(),
                    executable: true,
                }),
            ],
            commands: vec![wit::Command {
                command_type: wit::CommandType::Exec,
                command: "true".into(),
                is_safe: true,
                allowed_in_production: false,
                timeout_s: Some(3),
                reason: "r".into(),
            }],
            restart: true,
            author,
            source: "rule-x".into(),
        })
    }

    #[test]
    fn answers_convert_field_for_field_and_llm_use_makes_a_model_proposal() {
        let wire::FixAnswer::Fix { proposal: p } =
            from_wit(proposal(wit::Author::Rule, 0.5), false)
        else {
            panic!("a fix")
        };
        assert_eq!(
            (p.author, p.confidence, p.restart),
            (wire::Author::Rule, 0.5, true)
        );
        assert_eq!(
            p.edits,
            [
                wire::Edit::CreateDir {
                    path: "logs".into()
                },
                wire::Edit::SetExecutable {
                    path: "run.sh".into(),
                    base_sha256: "ab".into(),
                    executable: true
                }
            ]
        );
        assert_eq!(p.commands[0].command_type, wire::CommandType::Exec);
        assert_eq!(p.commands[0].timeout_s, Some(3));
        let wire::FixAnswer::Fix { proposal: p } = from_wit(proposal(wit::Author::Rule, 7.0), true)
        else {
            panic!("a fix")
        };
        assert_eq!((p.author, p.confidence), (wire::Author::Model, 1.0));
        let wire::FixAnswer::Fix { proposal: p } =
            from_wit(proposal(wit::Author::Model, f32::NAN), false)
        else {
            panic!("a fix")
        };
        assert_eq!(p.confidence, 0.0);
        assert_eq!(
            from_wit(wit::Answer::NoSafeFix("no".into()), true),
            wire::FixAnswer::NoSafeFix {
                reason: "no".into()
            }
        );
    }
}
