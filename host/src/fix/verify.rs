//! Proving a fix: the target is restarted (a service) or run again (a cron job) and must show it
//! works: a service turns healthy (with a health check) or its new run stays up, the same pid, for
//! `verify_window_s`; a cron job's new execution succeeds. Reads state, never writes files.

use std::time::{Duration, Instant};

use super::Inner;
use crate::wire::{FixView, Status, TargetKind};

/// How often verification looks at the target's state.
const POLL: Duration = Duration::from_millis(200);

/// Restarts a service (answers its new pid) or runs a cron job again (answers the execution's id).
pub(super) async fn restart_target(inner: &Inner, fix: &FixView) -> Result<Option<u32>, String> {
    let reason = format!("auto-fix {}", fix.id);
    match fix.target {
        TargetKind::Service => inner
            .sup
            .restart_because(&fix.name, &reason)
            .await
            .map(|s| s.pid)
            .map_err(|e| e.to_string()),
        TargetKind::CronJob => inner
            .cron
            .run(&fix.name)
            .await
            .map(|e| Some(e.id as u32))
            .map_err(|e| e.to_string()),
    }
}

/// Restarts the target and waits for it to prove itself: a service healthy (with a check) or up for
/// `verify_window_s`, a cron job's new execution succeeding.
pub(super) async fn restart_and_verify(inner: &Inner, fix: &FixView) -> Result<String, String> {
    let restart = fix.proposal.as_ref().is_none_or(|p| p.restart);
    match fix.target {
        TargetKind::Service => {
            if restart || inner.sup.status_of(&fix.name) != Some(Status::Running) {
                restart_target(inner, fix).await?;
            }
            verify_service(
                inner,
                &fix.name,
                Duration::from_secs(inner.settings.verify_window_s),
            )
            .await
        }
        TargetKind::CronJob => {
            let execution = inner.cron.run(&fix.name).await.map_err(|e| e.to_string())?;
            loop {
                let e = inner
                    .cron
                    .execution_of(&fix.name, execution.id)
                    .await
                    .map_err(|e| e.to_string())?;
                if e.status.is_final() {
                    return if e.status == crate::wire::ExecutionStatus::Succeeded {
                        Ok(format!("execution {} succeeded", e.id))
                    } else {
                        Err(format!(
                            "execution {} ended {} (exit code {:?})",
                            e.id,
                            e.status.as_str(),
                            e.exit_code
                        ))
                    };
                }
                // tidy:allow-sleep: an execution's end is polled from its record (no waiter API).
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// A service proves a fix by turning healthy (with a health check) or by staying up, the same run,
/// for `window`.
async fn verify_service(inner: &Inner, name: &str, window: Duration) -> Result<String, String> {
    let view = inner
        .sup
        .get(name)
        .map_err(|_| "the service was removed".to_string())?;
    let health = view.spec.effective_health();
    let bound = match &health {
        Some(h) => Duration::from_secs(
            h.start_period_s
                .saturating_add(
                    (u64::from(h.retries) + 1).saturating_mul(h.interval_s + h.timeout_s),
                )
                .saturating_add(5)
                .min(3600),
        ),
        None => window + Duration::from_secs(5),
    };
    let started = Instant::now();
    let mut pid: Option<u32> = None;
    let mut up_since: Option<Instant> = None;
    loop {
        let state = inner
            .sup
            .get(name)
            .map_err(|_| "the service was removed".to_string())?
            .state;
        match state.status {
            Status::Running => {
                if pid.is_some() && state.pid != pid {
                    return Err(format!(
                        "the service restarted (pid {:?} -> {:?}) within the verification window",
                        pid, state.pid
                    ));
                }
                pid = state.pid;
                let since = *up_since.get_or_insert_with(Instant::now);
                match &health {
                    Some(_) if state.health == Some(crate::wire::HealthState::Healthy) => {
                        return Ok(format!("healthy (pid {})", pid.unwrap_or_default()));
                    }
                    Some(_) => {}
                    None if since.elapsed() >= window => {
                        return Ok(format!(
                            "up for {} s (pid {})",
                            window.as_secs(),
                            pid.unwrap_or_default()
                        ));
                    }
                    None => {}
                }
            }
            Status::Starting => {}
            other => {
                let last = state
                    .last_exit
                    .as_ref()
                    .map(|e| match (e.code, &e.signal) {
                        (Some(c), _) => format!(", last exit code {c}"),
                        (None, Some(s)) => format!(", last exit {s}"),
                        _ => String::new(),
                    })
                    .unwrap_or_default();
                return Err(format!("the service is {}{last}", other.as_str()));
            }
        }
        if started.elapsed() >= bound {
            return Err(match &health {
                Some(_) => format!(
                    "not healthy within {} s (health: {})",
                    bound.as_secs(),
                    state.health.map_or("unknown", |h| h.as_str())
                ),
                None => format!("did not stay up for {} s", window.as_secs()),
            });
        }
        // tidy:allow-sleep: the service's state is sampled from the registry while the window runs.
        tokio::time::sleep(POLL).await;
    }
}
