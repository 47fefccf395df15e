//! The scheduling rules as pure functions: what a fire does while earlier executions run (the overlap
//! policy), which missed fire time catch-up and tick run, whether an execution is retried, and which
//! status an ended execution gets. No processes, no clock: unit-tested below.

use chrono::{DateTime, Duration, Utc};

use super::job::Compiled;
use crate::process::Exit;
use crate::wire::{CatchUp, ExecutionStatus, Overlap};

/// Queued executions per job beyond which further fires are skipped.
pub const MAX_QUEUE: usize = 100;

/// How far back `POST /api/cron/tick` looks for a fire time that is "due now": the old system called
/// it once a minute.
pub const TICK_WINDOW_S: i64 = 60;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Start,
    Queue,
    Skip(String),
    /// Stop these executions, then start.
    Replace(Vec<i64>),
}

/// What a new execution does, given the ids of the job's running executions and its queue length.
pub fn on_fire(overlap: Overlap, running: &[i64], queued: usize) -> Decision {
    let busy = |what: &str| match running {
        [one] => format!("execution {one} is still running{what}"),
        many => format!("executions {many:?} are still running{what}"),
    };
    match overlap {
        _ if running.is_empty() && queued == 0 => Decision::Start,
        Overlap::Allow => Decision::Start,
        Overlap::Skip if running.is_empty() => Decision::Start,
        Overlap::Skip => Decision::Skip(busy(" (overlap: skip)")),
        Overlap::Queue if queued >= MAX_QUEUE => Decision::Skip(format!(
            "{queued} executions are queued already (overlap: queue)"
        )),
        Overlap::Queue => Decision::Queue,
        Overlap::Replace if running.is_empty() => Decision::Start,
        Overlap::Replace => Decision::Replace(running.to_vec()),
    }
}

/// With `overlap: queue`, whether the next queued execution may start now.
pub fn may_dequeue(running: usize) -> bool {
    running == 0
}

/// The fire time catch-up runs at boot: the latest one after `baseline` (the last claimed fire time,
/// else the job's creation) and not after `now`.
pub fn catch_up_slot(
    catch_up: CatchUp,
    job: &Compiled,
    baseline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match catch_up {
        CatchUp::None => None,
        CatchUp::Latest => job.schedule.latest_between(job.tz, baseline, now),
    }
}

/// The fire time a tick at `now` is about: the latest within the last `TICK_WINDOW_S` seconds.
pub fn tick_slot(job: &Compiled, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.schedule
        .latest_between(job.tz, now - Duration::seconds(TICK_WINDOW_S), now)
}

/// Why a running execution was told to stop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    Requested,
    Replaced(i64),
    Removed,
    Shutdown,
    TimedOut,
}

impl StopReason {
    pub fn message(&self) -> String {
        match self {
            StopReason::Requested => "stopped on request".into(),
            StopReason::Replaced(by) => format!("replaced by execution {by} (overlap: replace)"),
            StopReason::Removed => "the job was removed".into(),
            StopReason::Shutdown => "the daemon shut down".into(),
            StopReason::TimedOut => "ran past its timeout".into(),
        }
    }
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The leader exited on its own.
    Exited(Exit),
    /// Stopped (its exit, if reaped, is informational).
    Stopped(StopReason),
    SpawnFailed(String),
}

/// The status and message an ending is recorded with.
pub fn status_of(ending: &Ending, killed: bool) -> (ExecutionStatus, Option<String>) {
    let sigkill = if killed { "; SIGKILL was needed" } else { "" };
    match ending {
        Ending::Exited(exit) if exit.success() => (ExecutionStatus::Succeeded, None),
        Ending::Exited(exit) => (ExecutionStatus::Failed, Some(format!("{exit}"))),
        Ending::Stopped(StopReason::TimedOut) => (
            ExecutionStatus::TimedOut,
            Some(format!(
                "ran past its timeout; its process tree was stopped{sigkill}"
            )),
        ),
        Ending::Stopped(reason) => (
            ExecutionStatus::Stopped,
            Some(format!("{}{sigkill}", reason.message())),
        ),
        Ending::SpawnFailed(why) => (
            ExecutionStatus::Failed,
            Some(format!("cannot start: {why}")),
        ),
    }
}

/// A failed or timed-out attempt is retried while retries are left.
pub fn should_retry(status: ExecutionStatus, attempt: u32, retries: u32) -> bool {
    matches!(status, ExecutionStatus::Failed | ExecutionStatus::TimedOut) && attempt < retries
}

#[cfg(test)]
mod tests {
    use nix::sys::signal::Signal;

    use super::*;
    use crate::cron::schedule::Schedule;

    fn job(expr: &str) -> Compiled {
        Compiled {
            schedule: Schedule::parse(expr).unwrap(),
            tz: chrono_tz::UTC,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn overlap_policies() {
        use Overlap::*;
        for o in [Skip, Queue, Allow, Replace] {
            assert_eq!(on_fire(o, &[], 0), Decision::Start, "{o:?}");
        }
        assert!(matches!(on_fire(Skip, &[4], 0), Decision::Skip(m) if m.contains("execution 4")));
        assert_eq!(on_fire(Queue, &[4], 0), Decision::Queue);
        // Something queued already: a new one waits its turn even if nothing runs this instant.
        assert_eq!(on_fire(Queue, &[], 2), Decision::Queue);
        assert!(matches!(on_fire(Queue, &[4], MAX_QUEUE), Decision::Skip(_)));
        assert_eq!(on_fire(Allow, &[4, 5], 0), Decision::Start);
        assert_eq!(on_fire(Replace, &[4, 5], 0), Decision::Replace(vec![4, 5]));
        assert!(may_dequeue(0) && !may_dequeue(1));
    }

    #[test]
    fn catch_up_runs_only_the_latest_missed_fire() {
        let j = job("*/10 * * * * *");
        let (base, now) = (utc("2024-01-01T00:00:05Z"), utc("2024-01-01T00:01:03Z"));
        assert_eq!(catch_up_slot(CatchUp::None, &j, base, now), None);
        assert_eq!(
            catch_up_slot(CatchUp::Latest, &j, base, now),
            Some(utc("2024-01-01T00:01:00Z"))
        );
        // Nothing missed: the baseline is the last claimed fire time.
        let base = utc("2024-01-01T00:01:00Z");
        assert_eq!(catch_up_slot(CatchUp::Latest, &j, base, now), None);
    }

    #[test]
    fn tick_looks_back_one_minute() {
        let j = job("30 0 * * * *");
        assert_eq!(
            tick_slot(&j, utc("2024-01-01T10:00:45Z")),
            Some(utc("2024-01-01T10:00:30Z"))
        );
        assert_eq!(tick_slot(&j, utc("2024-01-01T10:01:31Z")), None);
    }

    #[test]
    fn statuses_and_retries() {
        use ExecutionStatus::*;
        assert_eq!(
            status_of(&Ending::Exited(Exit::Code(0)), false).0,
            Succeeded
        );
        let (s, m) = status_of(&Ending::Exited(Exit::Code(3)), false);
        assert_eq!((s, m.as_deref()), (Failed, Some("exited with code 3")));
        assert_eq!(
            status_of(&Ending::Exited(Exit::Signal(Signal::SIGSEGV)), false).0,
            Failed
        );
        let (s, m) = status_of(&Ending::Stopped(StopReason::TimedOut), true);
        assert_eq!(s, TimedOut);
        assert!(m.unwrap().contains("SIGKILL"));
        assert_eq!(
            status_of(&Ending::Stopped(StopReason::Requested), false).0,
            Stopped
        );
        assert_eq!(
            status_of(&Ending::SpawnFailed("nope".into()), false).0,
            Failed
        );
        assert!(should_retry(Failed, 0, 2));
        assert!(should_retry(TimedOut, 1, 2));
        assert!(!should_retry(Failed, 2, 2));
        assert!(!should_retry(Stopped, 0, 2));
        assert!(!should_retry(Succeeded, 0, 2));
    }
}
