//! The scheduler's one task: sleeps until the earliest due fire time or retry, or until a job changes;
//! fires what is due, plans each fired job's next time, and sleeps again. There is no polling loop:
//! besides fires it wakes only once a minute, to notice a stepped wall clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Inner, PendingRetry, runner};
use crate::wire::Trigger;

/// The longest sleep: fire times are wall-clock times and the timer is monotonic.
const MAX_SLEEP: Duration = Duration::from_secs(60);

pub(super) async fn run(inner: Arc<Inner>) {
    loop {
        // Armed before looking at the jobs, so a change made meanwhile is not missed.
        let notified = inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if inner.closing() {
            return;
        }
        let now = Utc::now();
        let (fires, retries, earliest) = take_due(&inner, now);
        if !fires.is_empty() || !retries.is_empty() {
            for (name, slot) in fires {
                let inner = inner.clone();
                tokio::spawn(async move {
                    let fired = runner::fire_slot(&inner, &name, slot, Trigger::Schedule);
                    match crate::panics::catch(fired).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            tracing::error!(job = %name, error = %e, "cannot fire a cron job");
                        }
                        Err(why) => {
                            tracing::error!(job = %name, panic = %why, "firing a cron job panicked");
                        }
                    }
                });
            }
            for (name, r) in retries {
                let inner = inner.clone();
                tokio::spawn(async move {
                    let fired =
                        runner::fire_now(&inner, &name, Trigger::Retry, r.scheduled_at, r.attempt);
                    match crate::panics::catch(fired).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => {
                            tracing::error!(job = %name, error = %e, "cannot retry a cron job");
                        }
                        Err(why) => {
                            tracing::error!(job = %name, panic = %why, "retrying a cron job panicked");
                        }
                    }
                });
            }
            continue;
        }
        let wait = earliest
            .map(|at| (at - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = &mut notified => {}
        }
    }
}

type DueFires = Vec<(String, DateTime<Utc>)>;
type DueRetries = Vec<(String, PendingRetry)>;

/// Takes what is due at `now` (planning each fired job's next time) and the earliest time after it.
fn take_due(inner: &Inner, now: DateTime<Utc>) -> (DueFires, DueRetries, Option<DateTime<Utc>>) {
    let mut jobs = inner.jobs();
    let (mut fires, mut retries, mut earliest) = (Vec::new(), Vec::new(), None);
    let mut consider = |t: DateTime<Utc>| {
        earliest = Some(earliest.map_or(t, |e: DateTime<Utc>| e.min(t)));
    };
    for (name, job) in jobs.iter_mut() {
        if let Some(due) = job.next
            && due.at <= now
        {
            fires.push((name.clone(), due.slot));
            job.plan_next(now);
        }
        if let Some(due) = job.next {
            consider(due.at);
        }
        if !job.retries.is_empty() {
            let (ready, later): (Vec<_>, Vec<_>) = std::mem::take(&mut job.retries)
                .into_iter()
                .partition(|r| r.at <= now);
            retries.extend(ready.into_iter().map(|r| (name.clone(), r)));
            for r in &later {
                consider(r.at);
            }
            job.retries = later;
        }
    }
    (fires, retries, earliest)
}
