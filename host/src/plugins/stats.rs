//! Per-plugin call statistics and the suspension rule: `suspend_after_traps` traps in a row suspend
//! a plugin for 10 s, doubling with every further suspension up to 10 min; one good call forgives.
//! Pure bookkeeping: time comes in as arguments; the caller logs what `record` reports.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use crate::wire::{LatencyHistogram, PluginCallError, PluginStats};

/// Upper bounds of the latency buckets, in microseconds (one more bucket counts the rest).
const BOUNDS_US: [u64; 17] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
const LAST_ERRORS: usize = 10;
const FIRST_SUSPENSION: Duration = Duration::from_secs(10);
const LONGEST_SUSPENSION: Duration = Duration::from_secs(600);

#[derive(Clone, Debug)]
pub struct Stats {
    calls: u64,
    ok: u64,
    failures: BTreeMap<&'static str, u64>,
    denials: u64,
    consecutive_traps: u32,
    /// Suspensions since the last good call: the exponent of the backoff.
    suspensions: u32,
    suspended_until: Option<SystemTime>,
    latency: [u64; BOUNDS_US.len() + 1],
    last_errors: VecDeque<PluginCallError>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            calls: 0,
            ok: 0,
            failures: BTreeMap::new(),
            denials: 0,
            consecutive_traps: 0,
            suspensions: 0,
            suspended_until: None,
            latency: [0; BOUNDS_US.len() + 1],
            last_errors: VecDeque::new(),
        }
    }
}

/// One finished call, as `Stats::record` needs it.
pub struct CallRecord<'a> {
    pub kind: &'static str,
    /// `Some` for failures: what went wrong.
    pub error: Option<String>,
    pub is_trap: bool,
    pub latency: Duration,
    pub denials: &'a [String],
}

impl Stats {
    /// While suspended: until when.
    pub fn suspended(&self, now: SystemTime) -> Option<SystemTime> {
        self.suspended_until.filter(|u| *u > now)
    }

    /// A call refused because the plugin is suspended.
    pub fn record_refused(&mut self) {
        self.calls += 1;
        *self.failures.entry("suspended").or_default() += 1;
    }

    /// Counts a call; returns `Some(until)` when this call got the plugin suspended.
    pub fn record(
        &mut self,
        call: CallRecord<'_>,
        now: SystemTime,
        suspend_after: u32,
    ) -> Option<SystemTime> {
        self.calls += 1;
        let us = u64::try_from(call.latency.as_micros()).unwrap_or(u64::MAX);
        self.latency[BOUNDS_US.partition_point(|b| *b < us)] += 1;
        // Formatted only for what is kept: a good call without denials (the common case) needs none.
        let time = || crate::store::fmt_time(now.into());
        for d in call.denials {
            self.denials += 1;
            self.push_error(PluginCallError {
                time: time(),
                kind: "denied".into(),
                message: d.clone(),
            });
        }
        match call.error {
            None => {
                self.ok += 1;
                self.consecutive_traps = 0;
                self.suspensions = 0;
                None
            }
            Some(message) => {
                *self.failures.entry(call.kind).or_default() += 1;
                self.push_error(PluginCallError {
                    time: time(),
                    kind: call.kind.into(),
                    message,
                });
                if !call.is_trap {
                    return None;
                }
                self.consecutive_traps += 1;
                if suspend_after == 0 || self.consecutive_traps < suspend_after {
                    return None;
                }
                let backoff = FIRST_SUSPENSION
                    .saturating_mul(1 << self.suspensions.min(16))
                    .min(LONGEST_SUSPENSION);
                self.suspensions += 1;
                let until = now + backoff;
                self.suspended_until = Some(until);
                Some(until)
            }
        }
    }

    /// A new version of the plugin was loaded: it starts unsuspended, with a clean trap record.
    pub fn forgive(&mut self) {
        self.consecutive_traps = 0;
        self.suspensions = 0;
        self.suspended_until = None;
    }

    fn push_error(&mut self, e: PluginCallError) {
        if self.last_errors.len() == LAST_ERRORS {
            self.last_errors.pop_front();
        }
        self.last_errors.push_back(e);
    }

    pub fn to_wire(&self) -> PluginStats {
        PluginStats {
            calls: self.calls,
            ok: self.ok,
            failures: self
                .failures
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            denials: self.denials,
            consecutive_traps: self.consecutive_traps,
            latency: LatencyHistogram {
                bounds_us: BOUNDS_US.to_vec(),
                counts: self.latency.to_vec(),
            },
            last_errors: self.last_errors.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trap() -> CallRecord<'static> {
        CallRecord {
            kind: "trap",
            error: Some("unreachable".into()),
            is_trap: true,
            latency: Duration::from_micros(70),
            denials: &[],
        }
    }

    fn ok(latency: Duration) -> CallRecord<'static> {
        CallRecord {
            kind: "ok",
            error: None,
            is_trap: false,
            latency,
            denials: &[],
        }
    }

    #[test]
    fn traps_in_a_row_suspend_with_doubling_backoff_and_success_forgives() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut s = Stats::default();
        assert_eq!(s.record(trap(), t0, 3), None);
        assert_eq!(s.record(trap(), t0, 3), None);
        assert_eq!(s.record(trap(), t0, 3), Some(t0 + Duration::from_secs(10)));
        assert_eq!(s.suspended(t0), Some(t0 + Duration::from_secs(10)));
        assert_eq!(
            s.suspended(t0 + Duration::from_secs(10)),
            None,
            "over when the time comes"
        );
        // On probation: the next trap suspends again, for twice as long.
        let t1 = t0 + Duration::from_secs(11);
        assert_eq!(s.record(trap(), t1, 3), Some(t1 + Duration::from_secs(20)));
        let mut t = t1;
        let mut last = Duration::ZERO;
        for _ in 0..10 {
            t += Duration::from_secs(700);
            last = s.record(trap(), t, 3).unwrap().duration_since(t).unwrap();
        }
        assert_eq!(last, Duration::from_secs(600), "capped at 10 min");
        s.record(ok(Duration::from_millis(1)), t, 3);
        assert_eq!(s.to_wire().consecutive_traps, 0);
        assert_eq!(s.record(trap(), t, 3), None, "a good call resets the count");
    }

    #[test]
    fn non_traps_do_not_suspend_and_a_failure_between_keeps_the_count() {
        let now = SystemTime::UNIX_EPOCH;
        let mut s = Stats::default();
        for _ in 0..5 {
            let e = CallRecord {
                kind: "plugin_error",
                error: Some("no".into()),
                is_trap: false,
                latency: Duration::ZERO,
                denials: &[],
            };
            assert_eq!(s.record(e, now, 1), None);
        }
        assert_eq!(s.suspended(now), None);
        assert_eq!(
            Stats::default().record(trap(), now, 0),
            None,
            "0 disables suspension"
        );
    }

    #[test]
    fn counters_histogram_and_last_errors() {
        let now = SystemTime::UNIX_EPOCH;
        let mut s = Stats::default();
        s.record(ok(Duration::from_micros(50)), now, 3);
        s.record(ok(Duration::from_micros(51)), now, 3);
        s.record(ok(Duration::from_secs(11)), now, 3);
        let denials = ["http 10.0.0.1:80".to_string()];
        s.record(
            CallRecord {
                denials: &denials,
                ..ok(Duration::from_millis(3))
            },
            now,
            3,
        );
        for _ in 0..12 {
            s.record(trap(), now, 100);
        }
        s.record_refused();
        let w = s.to_wire();
        assert_eq!(w.calls, 17);
        assert_eq!(w.ok, 4);
        assert_eq!(w.denials, 1);
        assert_eq!(
            w.failures,
            BTreeMap::from([("trap".into(), 12), ("suspended".into(), 1)])
        );
        assert_eq!(w.latency.counts.len(), w.latency.bounds_us.len() + 1);
        assert_eq!(w.latency.counts[0], 1, "50us is within the first bucket");
        assert_eq!(w.latency.counts[1], 13, "51us and the 70us traps");
        assert_eq!(w.latency.counts[6], 1, "3 ms is within 5 ms");
        assert_eq!(*w.latency.counts.last().unwrap(), 1, "over 10 s");
        assert_eq!(w.last_errors.len(), 10);
        assert!(
            w.last_errors.iter().all(|e| e.kind == "trap"),
            "the denial was pushed out"
        );
        assert_eq!(w.consecutive_traps, 12);
    }
}
