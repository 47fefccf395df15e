//! One fix from incident to verdict: ask the fixer, decide by mode, and for `auto` (or an approval)
//! check the edits, ask the policy about every command (origin `agent`) before any write, back up,
//! write, run the commands, then restart and verify (`verify.rs`); a failed verification restores
//! the backup byte-exact (`restore.rs`) and tries anew with that attempt in the incident's history,
//! up to `max_attempts`. Every step rewrites the fix record and publishes an `agent` event.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::apply::{self, sha256_hex};
use super::restore::restore_after_failure;
use super::verify::restart_and_verify;
use super::{Inner, Trigger, backup, incident, new_record, propose};
use crate::policy::Ask;
use crate::wire::{
    Author, Decision, FixAnswer, FixCommandRun, FixDecision, FixMode, FixStatus, FixView, Origin,
    Proposal, StepStatus, TargetKind, WorkflowCommand,
};

/// A command's default timeout when the proposal names none.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How an applied fix ended.
pub(super) enum Outcome {
    Done,
    /// Verification failed and the backup was restored: try again.
    Retry,
    /// Waiting for approval: the target's slot was already given up (see [`park`]).
    Parked,
}

/// The hash the loop detection compares: the edits and commands, nothing the fixer may vary freely.
pub fn proposal_hash(p: &Proposal) -> String {
    let json = serde_json::to_string(&(&p.edits, &p.commands)).unwrap_or_default();
    sha256_hex(json.as_bytes())
}

pub(super) fn trigger_of(fix: &FixView) -> Trigger {
    Trigger {
        kind: fix.trigger,
        target: fix.target,
        name: fix.name.clone(),
        origin: fix.origin,
        model: fix.incident.as_ref().and_then(|i| i.model.clone()),
        health_message: fix.incident.as_ref().and_then(|i| i.health_message.clone()),
    }
}

/// The fix's task: diagnose, and go on with retries while verification fails. Answers the last
/// attempt's id, whose hold on the target's slot the task must give up, or `None` when the fix
/// waits for approval (the slot may be an approval's by then).
pub(super) async fn diagnose(inner: Arc<Inner>, first: FixView, t: Trigger) -> Option<String> {
    let mut fix = first;
    loop {
        let outcome = once(&inner, &mut fix, &t).await;
        if !matches!(outcome, Outcome::Retry) {
            return (!matches!(outcome, Outcome::Parked)).then_some(fix.id);
        }
        if !next_attempt(&inner, &mut fix, &t).await {
            // Restored, and no retry follows (the limit, or the daemon closing): the job ends.
            inner.end_job(&fix).await;
            return Some(fix.id);
        }
    }
}

/// An approved fix's task: apply and verify, then retries like `diagnose` (the same answer).
pub(super) async fn apply_and_verify(inner: Arc<Inner>, mut fix: FixView) -> Option<String> {
    let t = trigger_of(&fix);
    let root = fix
        .incident
        .as_ref()
        .map(|i| PathBuf::from(&i.working_dir))
        .unwrap_or_default();
    let mut outcome = apply_verify(&inner, &mut fix, &root).await;
    while matches!(outcome, Outcome::Retry) {
        if !next_attempt(&inner, &mut fix, &t).await {
            // Restored, and no retry follows: the job ends with this attempt.
            inner.end_job(&fix).await;
            break;
        }
        outcome = once(&inner, &mut fix, &t).await;
    }
    (!matches!(outcome, Outcome::Parked)).then_some(fix.id)
}

/// Ends the fix `awaiting-approval` (which gives the target's slot up, see [`end`]).
async fn park(inner: &Inner, fix: &mut FixView) -> Outcome {
    end(
        inner,
        fix,
        FixStatus::AwaitingApproval,
        "approve mode: waiting for `tend fix approve` or POST /api/fixes/{id}/approve",
    )
    .await;
    Outcome::Parked
}

/// Starts the next attempt's record (same job) when the limit allows; false when it does not.
async fn next_attempt(inner: &Arc<Inner>, fix: &mut FixView, t: &Trigger) -> bool {
    if fix.attempt >= inner.settings.max_attempts
        || inner.closing.load(std::sync::atomic::Ordering::SeqCst)
    {
        return false;
    }
    let mut next = new_record(t, FixStatus::Diagnosing, fix.attempt + 1);
    next.job_id = fix.job_id.clone();
    match inner.store.insert_fix(&next).await {
        Ok(id) => next.id = id,
        Err(e) => {
            tracing::error!(error = %e, "cannot record a fix's retry");
            return false;
        }
    }
    inner
        .active()
        .insert((t.target, t.name.clone()), next.id.clone());
    inner.event(&next);
    *fix = next;
    true
}

/// Ends the fix `failed` because an edit does not apply (checked in memory: nothing was written).
async fn refused(inner: &Inner, fix: &mut FixView, reason: &impl std::fmt::Display) -> Outcome {
    fix.apply_result = Some(format!("invalid: {reason}; nothing was written"));
    end(
        inner,
        fix,
        FixStatus::Failed,
        format!("the proposal was refused: {reason}"),
    )
    .await;
    Outcome::Done
}

/// Ends the fix with `status` and `reason`. A fix that is over (but for `restored`, which a retry
/// may follow) or waits for approval gives the target's slot up BEFORE the status can be read:
/// whoever sees it may start the next fix or approve this one at once, and must not be answered
/// "fix N is running" (409, or 200 with the old fix) by a task that is merely on its way out.
pub(super) async fn end(
    inner: &Inner,
    fix: &mut FixView,
    status: FixStatus,
    reason: impl Into<String>,
) {
    if (status.is_final() && status != FixStatus::Restored) || status == FixStatus::AwaitingApproval
    {
        inner.finish_if(&(fix.target, fix.name.clone()), &fix.id);
    }
    fix.status = status;
    fix.reason = Some(reason.into());
    inner.save(fix).await;
    inner.event(fix);
}

/// One attempt: incident, proposal, mode.
async fn once(inner: &Arc<Inner>, fix: &mut FixView, t: &Trigger) -> Outcome {
    let started = Instant::now();
    let (incident, root) = match incident::build(inner, t).await {
        Ok(x) => x,
        Err(e) => {
            end(
                inner,
                fix,
                FixStatus::Failed,
                format!("cannot build the incident: {e}"),
            )
            .await;
            return Outcome::Done;
        }
    };
    fix.incident = Some(incident.clone());
    inner.save(fix).await;
    let call = propose::propose(&inner.plugins, &inner.settings.plugin, incident, &root).await;
    fix.llm_calls = call.llm_calls;
    fix.usage = call.usage;
    fix.duration_ms = call.duration_ms.max(started.elapsed().as_millis() as u64);
    let proposal = match call.answer {
        Err(e) => {
            end(
                inner,
                fix,
                FixStatus::Failed,
                format!("the fixer failed: {e}"),
            )
            .await;
            return Outcome::Done;
        }
        Ok(FixAnswer::NoSafeFix { reason }) => {
            end(
                inner,
                fix,
                FixStatus::NoFix,
                format!("no safe fix: {reason}"),
            )
            .await;
            return Outcome::Done;
        }
        Ok(FixAnswer::Fix { proposal }) => proposal,
    };
    // Model-written when it says so, or when the plugin called a model while making it.
    let author = if proposal.author == Author::Model || call.llm_calls > 0 {
        Author::Model
    } else {
        Author::Rule
    };
    let over = match t.target {
        TargetKind::Service => inner.sup.get(&t.name).ok().and_then(|v| v.spec.autofix),
        TargetKind::CronJob => inner.cron.get(&t.name).ok().and_then(|v| v.spec.autofix),
    };
    fix.mode = inner.settings.mode_for(author, over);
    let hash = proposal_hash(&proposal);
    fix.proposal = Some(proposal);
    fix.proposal_hash = Some(hash.clone());
    // The diff (and the validity) is shown in every mode.
    let plan = apply::check(
        &root,
        &fix.proposal
            .as_ref()
            .map(|p| p.edits.clone())
            .unwrap_or_default(),
    );
    match &plan {
        Ok(plan) => {
            fix.diffs = plan
                .files
                .iter()
                .map(|f| crate::wire::FileDiff {
                    path: f.rel.clone(),
                    diff: apply::unified_diff(f),
                })
                .collect();
        }
        Err(r) => return refused(inner, fix, &r).await,
    }
    // The same edits and commands as an earlier attempt that failed: a loop, stopped here.
    let earlier = inner
        .store
        .list_fixes(t.target, &t.name, 50)
        .await
        .unwrap_or_default();
    if let Some(same) = earlier.iter().find(|f| {
        f.id != fix.id
            && f.proposal_hash.as_deref() == Some(hash.as_str())
            && matches!(f.status, FixStatus::Restored | FixStatus::Failed)
    }) {
        end(
            inner,
            fix,
            FixStatus::Skipped,
            format!(
                "the same proposal failed before (fix {}); not applied again",
                same.id
            ),
        )
        .await;
        return Outcome::Done;
    }
    match fix.mode {
        FixMode::Off => {
            end(
                inner,
                fix,
                FixStatus::Skipped,
                "auto-fix is off for this kind of proposal",
            )
            .await;
            Outcome::Done
        }
        FixMode::Propose => {
            end(
                inner,
                fix,
                FixStatus::Proposed,
                "propose mode: recorded, nothing was changed",
            )
            .await;
            Outcome::Done
        }
        FixMode::Approve => park(inner, fix).await,
        FixMode::Auto => apply_verify(inner, fix, &root).await,
    }
}

/// Checks again, asks the policy about every command, backs up, writes, runs the commands, restarts
/// and verifies; restores on a failure after the first write.
async fn apply_verify(inner: &Arc<Inner>, fix: &mut FixView, root: &Path) -> Outcome {
    let Some(proposal) = fix.proposal.clone() else {
        end(inner, fix, FixStatus::Failed, "no proposal to apply").await;
        return Outcome::Done;
    };
    fix.status = FixStatus::Applying;
    inner.save(fix).await;
    inner.event(fix);
    // Checked again: time passed since the proposal (an approval may come hours later).
    let plan = match apply::check(root, &proposal.edits) {
        Ok(p) => p,
        Err(r) => return refused(inner, fix, &r).await,
    };
    // Every command is judged before anything is written; one denial refuses the whole proposal.
    let (env, service) = environment(inner, fix);
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    for (i, c) in proposal.commands.iter().enumerate() {
        let wc = WorkflowCommand {
            command_type: c.command_type,
            command: c.command.clone(),
            is_safe: c.is_safe,
            allowed_in_production: c.allowed_in_production,
            timeout_s: c.timeout_s.map(u64::from),
        };
        let argv = match crate::workflow::command_argv(&wc) {
            Ok(a) => a,
            Err(e) => {
                fix.apply_result =
                    Some(format!("invalid: commands[{i}]: {e}; nothing was written"));
                end(inner, fix, FixStatus::Failed, format!("commands[{i}]: {e}")).await;
                return Outcome::Done;
            }
        };
        let verdict = inner
            .policy
            .evaluate(Ask {
                command: &wc,
                argv: &argv,
                cwd: root,
                service: &service,
                vars: &env,
                origin: Origin::Agent,
            })
            .await;
        fix.decisions.push(FixDecision {
            command: c.command.clone(),
            decision: if verdict.allowed {
                Decision::Allow
            } else {
                Decision::Deny
            },
            reason: verdict.reason.clone(),
            audit_id: verdict.audit_id,
        });
        if verdict.allowed {
            allowed.push((wc, argv));
        } else {
            denied.push(format!(
                "commands[{i}] `{}` denied by the command policy: {}",
                c.command, verdict.reason
            ));
        }
    }
    // Every command was asked about (and audited), so the record shows each decision; one denial
    // refuses the whole proposal.
    if !denied.is_empty() {
        fix.apply_result = Some("denied by the command policy; nothing was written".into());
        end(inner, fix, FixStatus::Failed, denied.join("; ")).await;
        return Outcome::Done;
    }
    // Back up everything the plan touches, then write.
    let dir = backup::dir_of(&inner.backups, &fix.name, &fix.id);
    let (id, name, files, dirs) = (
        fix.id.clone(),
        fix.name.clone(),
        plan.touched(),
        plan.dirs.clone(),
    );
    let root_buf = root.to_path_buf();
    let dir2 = dir.clone();
    let snap = tokio::task::spawn_blocking(move || {
        backup::snapshot(&dir2, &id, &name, &root_buf, &files, &dirs)
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = snap {
        fix.apply_result = Some(format!("cannot back up: {e}; nothing was written"));
        end(
            inner,
            fix,
            FixStatus::Failed,
            format!("cannot back up: {e}"),
        )
        .await;
        return Outcome::Done;
    }
    fix.backup = Some(dir.to_string_lossy().into_owned());
    let keep = inner.settings.keep_backups;
    let target_dir = inner.backups.join(&fix.name);
    let _ = tokio::task::spawn_blocking(move || backup::prune(&target_dir, keep)).await;
    let root_buf = root.to_path_buf();
    let plan2 = plan.clone();
    let written = tokio::task::spawn_blocking(move || plan2.write(&root_buf))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    if let Err(e) = written {
        fix.apply_result = Some(format!("writing failed: {e}"));
        return restore_after_failure(inner, fix, format!("writing failed: {e}"), false).await;
    }
    fix.apply_result = Some(format!(
        "{} file(s) written, {} director(ies) created",
        plan.files.len(),
        plan.dirs.len()
    ));
    inner.save(fix).await;
    // The commands, in order, like a job's steps.
    let (_stop_tx, stop_rx) = watch::channel(None);
    for (i, (wc, argv)) in allowed.iter().enumerate() {
        let ran = crate::workflow::step::run(
            crate::workflow::step::Launch {
                argv,
                cwd: Some(root.to_path_buf()),
                env: env.clone(),
                instance: format!("{}.fix{}.cmd{i}", inner.sup.node(), fix.id),
                timeout: wc
                    .timeout_s
                    .map(Duration::from_secs)
                    .unwrap_or(COMMAND_TIMEOUT),
            },
            stop_rx.clone(),
        )
        .await;
        let ok = ran.status == StepStatus::Ok;
        fix.commands.push(FixCommandRun {
            command: wc.command.clone(),
            status: ran.status.as_str().into(),
            exit_code: ran.exit_code,
            message: ran.message.clone(),
            output_tail: ran.output_tail,
        });
        inner.save(fix).await;
        if !ok {
            let why = format!("commands[{i}] `{}` {}", wc.command, ran.message);
            return restore_after_failure(inner, fix, why, true).await;
        }
    }
    fix.status = FixStatus::Verifying;
    inner.save(fix).await;
    inner.event(fix);
    let verdict = restart_and_verify(inner, fix).await;
    match verdict {
        Ok(msg) => {
            fix.verify_result = Some(msg.clone());
            end(inner, fix, FixStatus::Verified, msg).await;
            Outcome::Done
        }
        Err(msg) => {
            fix.verify_result = Some(msg.clone());
            restore_after_failure(inner, fix, format!("verification failed: {msg}"), true).await
        }
    }
}

/// The environment commands run with and the name the audit records.
fn environment(
    inner: &Inner,
    fix: &FixView,
) -> (std::collections::BTreeMap<String, String>, String) {
    let mut env = match fix.target {
        TargetKind::Service => inner
            .sup
            .get(&fix.name)
            .ok()
            .and_then(|v| crate::spec::service_env(&v.spec).ok())
            .unwrap_or_default(),
        TargetKind::CronJob => inner
            .cron
            .get(&fix.name)
            .map(|v| v.spec.env_vars.clone())
            .unwrap_or_default(),
    };
    env.insert("TEND_FIX_ID".into(), fix.id.clone());
    (env, fix.name.clone())
}
