//! Automatic triggers, read off the event bus (so the supervisor and cron need no hook of their own):
//! a service entering `fatal`, `restarts_trigger` starts of a service within `restarts_window_s`, a
//! service turning `unhealthy`, a cron execution of a job with a working dir ending failed or timed
//! out. Each becomes a `Fixer::trigger` with origin `agent`; a target without a working dir is passed
//! over, a trigger refused (auto-fix off for the target) is only logged.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;

use super::{Fixer, Trigger};
use crate::wire::{
    CronPhase, EventKind, ExecutionStatus, HealthState, IncidentKind, Origin, Payload, Status,
    TargetKind,
};

/// The pure part: what an event asks for, given the recent starts of each service.
pub struct Detector {
    restarts_trigger: usize,
    window: Duration,
    starts: HashMap<String, VecDeque<Instant>>,
}

impl Detector {
    pub fn new(restarts_trigger: u32, window: Duration) -> Detector {
        Detector {
            restarts_trigger: restarts_trigger as usize,
            window,
            starts: HashMap::new(),
        }
    }

    pub fn on(&mut self, payload: &Payload, now: Instant) -> Option<Trigger> {
        let t = |kind, target, name: &str, health_message| Trigger {
            kind,
            target,
            name: name.to_string(),
            origin: Origin::Agent,
            model: None,
            health_message,
        };
        match payload {
            Payload::Service(e) if e.kind == EventKind::Lifecycle && e.to == Status::Fatal => {
                self.starts.remove(&e.service);
                Some(t(
                    IncidentKind::CrashLoop,
                    TargetKind::Service,
                    &e.service,
                    None,
                ))
            }
            Payload::Service(e) if e.kind == EventKind::Lifecycle && e.to == Status::Starting => {
                // A start after a crash (from backoff or exited) counts; a first start does not.
                if !matches!(e.from, Status::Backoff | Status::Exited) {
                    return None;
                }
                let q = self.starts.entry(e.service.clone()).or_default();
                q.push_back(now);
                while q
                    .front()
                    .is_some_and(|&s| now.duration_since(s) > self.window)
                {
                    q.pop_front();
                }
                if q.len() >= self.restarts_trigger {
                    q.clear();
                    return Some(t(
                        IncidentKind::CrashLoop,
                        TargetKind::Service,
                        &e.service,
                        None,
                    ));
                }
                None
            }
            Payload::Service(e)
                if e.kind == EventKind::Health && e.health == Some(HealthState::Unhealthy) =>
            {
                Some(t(
                    IncidentKind::HealthFailure,
                    TargetKind::Service,
                    &e.service,
                    Some(e.reason.clone()),
                ))
            }
            Payload::Cron(c)
                if c.phase == CronPhase::Finished
                    && matches!(
                        c.status,
                        ExecutionStatus::Failed | ExecutionStatus::TimedOut
                    ) =>
            {
                Some(t(
                    IncidentKind::CronFailure,
                    TargetKind::CronJob,
                    &c.job,
                    None,
                ))
            }
            _ => None,
        }
    }
}

pub async fn run(fixer: Fixer) {
    let s = fixer.settings().clone();
    let mut detector = Detector::new(s.restarts_trigger, Duration::from_secs(s.restarts_window_s));
    let mut events = fixer.inner.bus.subscribe();
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "auto-fix fell behind the event bus");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let Some(t) = detector.on(&ev.payload, Instant::now()) else {
            continue;
        };
        // A service or cron job without a working dir has no project to fix.
        if !fixer.has_project(t.target, &t.name) {
            continue;
        }
        let f = fixer.clone();
        tokio::spawn(async move {
            match f.trigger(t.clone()).await {
                Ok(_) => {}
                Err(e) => tracing::info!(target = %t.name, error = %e, "automatic fix not started"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Event;

    fn lifecycle(from: Status, to: Status) -> Payload {
        Payload::Service(Event {
            id: 1,
            kind: EventKind::Lifecycle,
            service: "web".into(),
            time: String::new(),
            from,
            to,
            pid: None,
            exit_code: None,
            signal: None,
            health: None,
            reason: String::new(),
        })
    }

    #[test]
    fn fatal_and_repeated_crash_restarts_trigger_a_first_start_does_not() {
        let mut d = Detector::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(
            d.on(&lifecycle(Status::Stopped, Status::Starting), t0)
                .is_none()
        );
        assert!(
            d.on(&lifecycle(Status::Backoff, Status::Starting), t0)
                .is_none()
        );
        assert!(
            d.on(&lifecycle(Status::Backoff, Status::Starting), t0)
                .is_none()
        );
        let t = d
            .on(&lifecycle(Status::Backoff, Status::Starting), t0)
            .unwrap();
        assert_eq!(t.kind, IncidentKind::CrashLoop);
        assert_eq!(t.origin, Origin::Agent);
        // Outside the window the count starts again.
        let later = t0 + Duration::from_secs(120);
        assert!(
            d.on(&lifecycle(Status::Backoff, Status::Starting), later)
                .is_none()
        );
        let fatal = d
            .on(&lifecycle(Status::Backoff, Status::Fatal), later)
            .unwrap();
        assert_eq!(fatal.name, "web");
    }
}
