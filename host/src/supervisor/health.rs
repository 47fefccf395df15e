//! Health checks of running services: one probe task per run (calling a probe plugin every
//! `interval_s`), and the rules that turn check results into health states (pure, unit-tested below).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::plugins::{Outcome, PluginHost, ProbeTarget};
use crate::store::now_rfc3339;
use crate::wire::{HealthCheck, HealthSpec, HealthState};

/// A check result sent from a probe task to its service actor.
pub struct Report {
    /// Which run of the service was checked; reports of earlier runs are ignored.
    pub run: u64,
    pub check: HealthCheck,
    pub in_start_period: bool,
}

/// A health change the actor must record; `restart` when the service is now unhealthy.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub from: HealthState,
    pub to: HealthState,
    pub reason: String,
    pub restart: bool,
}

/// Health of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracker {
    pub state: HealthState,
    pub failures: u32,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            state: HealthState::Unknown,
            failures: 0,
        }
    }
}

impl Tracker {
    /// Applies one check result. Failures during the start period do not count; a pass ends it.
    pub fn observe(
        &mut self,
        check: &HealthCheck,
        in_start_period: bool,
        retries: u32,
    ) -> Option<Change> {
        let from = self.state;
        if check.passed {
            self.failures = 0;
            if from == HealthState::Healthy {
                return None;
            }
            self.state = HealthState::Healthy;
            return Some(Change {
                from,
                to: self.state,
                reason: format!("health {} -> healthy: {}", from.as_str(), check.message),
                restart: false,
            });
        }
        if in_start_period && from != HealthState::Healthy {
            return None;
        }
        self.failures += 1;
        if self.failures < retries || from == HealthState::Unhealthy {
            return None;
        }
        self.state = HealthState::Unhealthy;
        Some(Change {
            from,
            to: self.state,
            reason: format!(
                "health {} -> unhealthy after {} consecutive failed checks: {}",
                from.as_str(),
                self.failures,
                check.message
            ),
            restart: true,
        })
    }
}

/// Starts the probe task of one run. It ends when the actor drops the receiver or aborts it.
pub fn spawn_checker(
    plugins: PluginHost,
    service: String,
    port: Option<u16>,
    spec: HealthSpec,
    run: u64,
    tx: mpsc::Sender<Report>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let interval = Duration::from_secs(spec.interval_s);
        let start_period = Duration::from_secs(spec.start_period_s);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let check = check_once(&plugins, &service, port, &spec).await;
            let report = Report {
                run,
                check,
                in_start_period: started.elapsed() < start_period,
            };
            if tx.send(report).await.is_err() {
                return;
            }
        }
    })
}

/// One check of `service` through its probe plugin, the way every run's probe task checks it: the
/// target is the service's own port on 127.0.0.1, the probe's config and timeout come from `spec`.
/// `tend agent`'s `/healthz` runs the same call on each request.
pub async fn check_once(
    plugins: &PluginHost,
    service: &str,
    port: Option<u16>,
    spec: &HealthSpec,
) -> HealthCheck {
    let target = ProbeTarget {
        service: service.to_string(),
        host: "127.0.0.1".into(),
        port,
        config: spec.config.clone(),
        timeout: Duration::from_secs(spec.timeout_s),
    };
    let time = now_rfc3339();
    let called = Instant::now();
    match plugins.check(&spec.probe, target).await {
        Outcome::Ok(h) => HealthCheck {
            time,
            result: h.status.as_str().into(),
            passed: h.status.passes(),
            message: h.message,
            latency_ms: h.latency_ms,
        },
        other => HealthCheck {
            time,
            result: other.kind().into(),
            passed: false,
            message: format!("probe {}: {other}", spec.probe),
            latency_ms: called.elapsed().as_millis().min(u32::MAX as u128) as u32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(passed: bool) -> HealthCheck {
        HealthCheck {
            time: String::new(),
            result: if passed { "healthy" } else { "unhealthy" }.into(),
            passed,
            message: if passed { "HTTP 200" } else { "HTTP 500" }.into(),
            latency_ms: 1,
        }
    }

    #[test]
    fn becomes_healthy_on_the_first_pass() {
        let mut t = Tracker::default();
        let c = t.observe(&check(true), false, 3).unwrap();
        assert_eq!(
            (c.from, c.to, c.restart),
            (HealthState::Unknown, HealthState::Healthy, false)
        );
        assert_eq!(
            t.observe(&check(true), false, 3),
            None,
            "no change, no event"
        );
    }

    #[test]
    fn unhealthy_after_retries_consecutive_failures_once() {
        let mut t = Tracker::default();
        t.observe(&check(true), false, 3);
        assert_eq!(t.observe(&check(false), false, 3), None);
        assert_eq!(t.observe(&check(false), false, 3), None);
        let c = t.observe(&check(false), false, 3).unwrap();
        assert_eq!((c.to, c.restart), (HealthState::Unhealthy, true));
        assert!(c.reason.contains("3 consecutive"), "{}", c.reason);
        assert_eq!(
            t.observe(&check(false), false, 3),
            None,
            "already unhealthy"
        );
    }

    #[test]
    fn a_pass_resets_the_count() {
        let mut t = Tracker::default();
        t.observe(&check(false), false, 2);
        t.observe(&check(true), false, 2);
        assert_eq!(t.observe(&check(false), false, 2), None);
        assert_eq!(t.failures, 1);
    }

    #[test]
    fn start_period_failures_do_not_count() {
        let mut t = Tracker::default();
        for _ in 0..5 {
            assert_eq!(t.observe(&check(false), true, 1), None);
        }
        assert_eq!((t.state, t.failures), (HealthState::Unknown, 0));
        // Once healthy, the start period no longer shields failures.
        t.observe(&check(true), true, 1);
        assert!(t.observe(&check(false), true, 1).is_some_and(|c| c.restart));
    }
}
