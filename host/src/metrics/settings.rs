//! `MetricsSettings`: the sampling interval (`--monitor-interval` / `MONITOR_INTERVAL` /
//! `[metrics] interval_s`) and the rest of the `[metrics]` table of `tend.toml`. Plain data with the
//! documented defaults (README, "Metrics"); `config` merges the sources, `validate` rejects nonsense.

use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Seconds between two samples of every running service and watched job (at least 1).
    /// The default, `DEFAULT_INTERVAL_S`, is chosen in its doc.
    pub interval_s: u64,
    /// Serve `GET /metrics` without the bearer token.
    pub public: bool,
    /// Seconds between two disk-usage walks of a service's `watch_dirs`.
    pub disk_interval_s: u64,
    /// Longest one service's disk walk may take; a walk cut short reports what it counted as partial.
    pub disk_timeout_s: u64,
    /// Consecutive samples over `max_memory_mb` that restart a service.
    pub memory_limit_samples: u32,
    /// Hours raw samples are kept.
    pub raw_retention_hours: u64,
    /// Days one-minute averages are kept.
    pub minute_retention_days: u64,
    /// Days fifteen-minute averages are kept (the whole history's horizon).
    pub retention_days: u64,
}

/// 30 s: the shortest interval whose cost stays under the idle budget (0.02 % of one core with 100
/// sleeping services, sample and history write included: a sample's cost now follows what changed,
/// but each still writes a history row per service). It still gives two samples per one-minute
/// roll-up (so that tier's maxima differ from its averages) and restarts a service over
/// `max_memory_mb` within about a minute (3 samples). The replaced system sampled every 60 s.
pub const DEFAULT_INTERVAL_S: u64 = 30;

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            interval_s: DEFAULT_INTERVAL_S,
            public: false,
            disk_interval_s: 300,
            disk_timeout_s: 10,
            memory_limit_samples: 3,
            raw_retention_hours: 24,
            minute_retention_days: 7,
            retention_days: 90,
        }
    }
}

impl MetricsSettings {
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            (
                "interval_s (--monitor-interval, MONITOR_INTERVAL)",
                self.interval_s,
            ),
            ("disk_interval_s", self.disk_interval_s),
            ("disk_timeout_s", self.disk_timeout_s),
            ("memory_limit_samples", u64::from(self.memory_limit_samples)),
            ("raw_retention_hours", self.raw_retention_hours),
            ("minute_retention_days", self.minute_retention_days),
            ("retention_days", self.retention_days),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("metrics.{name} must be at least 1"));
        }
        if self.interval_s > 86_400 {
            return Err("metrics.interval_s (--monitor-interval) must be at most 86400".into());
        }
        let bounded = [
            ("disk_interval_s", self.disk_interval_s, 86_400),
            ("disk_timeout_s", self.disk_timeout_s, 3_600),
            (
                "memory_limit_samples",
                u64::from(self.memory_limit_samples),
                1_000,
            ),
            // Far past any real window (data older than the epoch is kept), small enough that no
            // arithmetic made with them overflows.
            ("raw_retention_hours", self.raw_retention_hours, 24_000_000),
            (
                "minute_retention_days",
                self.minute_retention_days,
                1_000_000,
            ),
            ("retention_days", self.retention_days, 1_000_000),
        ];
        if let Some((name, value, max)) = bounded.iter().find(|(_, v, max)| v > max) {
            return Err(format!("metrics.{name} must be at most {max}, got {value}"));
        }
        if self.raw_retention_hours > self.minute_retention_days * 24
            || self.minute_retention_days > self.retention_days
        {
            return Err(
                "metrics retention must not shrink with coarser data: raw_retention_hours <= \
                 minute_retention_days * 24 and minute_retention_days <= retention_days"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_zero_is_not() {
        assert_eq!(MetricsSettings::default().validate(), Ok(()));
        let s = MetricsSettings {
            interval_s: 0,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().contains("interval_s"));
        let s = MetricsSettings {
            raw_retention_hours: 24 * 30,
            ..Default::default()
        };
        assert!(s.validate().unwrap_err().contains("retention"));
    }
}
