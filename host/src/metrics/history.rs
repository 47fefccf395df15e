//! The metrics history: which tier keeps which age of data, the roll-up and pruning schedule, and reads
//! (`since`/`step` parsing, stitching the tiers together, step aggregation). SQL is `store`'s.
//!
//! Tiers: raw samples (every `interval_s`) for `raw_retention_hours` (24 h), one-minute averages for
//! `minute_retention_days` (7 d), fifteen-minute averages for `retention_days` (90 d). Roll-ups run
//! once a minute on complete buckets, so a coarser tier always covers the time its finer tier was
//! pruned from. A read takes each part of its range from the finest tier that still holds it; a step
//! that straddles two tiers merges their rows weighted by sample counts.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};

use super::MetricsSettings;
use crate::store::{MetricBucket, Store, StoreError};
use crate::wire::ResourcePoint;

pub const MINUTE_MS: i64 = 60_000;
pub const QUARTER_MS: i64 = 15 * MINUTE_MS;
/// Most points one read may return.
pub const MAX_POINTS: i64 = 10_000;
/// Range read when `since` is not given.
const DEFAULT_RANGE_MS: i64 = 3_600_000;
const MIB: f64 = 1024.0 * 1024.0;

pub use crate::wire::{MetricPoint, MetricsHistory};

/// A bad query parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    pub field: &'static str,
    pub message: String,
}

/// A parsed `?since=&step=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryQuery {
    pub since_ms: i64,
    pub until_ms: i64,
    pub step_ms: i64,
}

/// `90`, `90s`, `15m`, `2h`, `7d` -> milliseconds.
fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = digits.parse().ok()?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => MINUTE_MS,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

impl HistoryQuery {
    /// `since`: an RFC 3339 time or a duration back from now (`90s`, `15m`, `24h`, `7d`; default
    /// `1h`). `step`: a duration (default: the sampling interval, widened to at most 1000 points).
    pub fn parse(
        since: Option<&str>,
        step: Option<&str>,
        now: DateTime<Utc>,
        interval_s: u64,
    ) -> Result<HistoryQuery, QueryError> {
        let until_ms = now.timestamp_millis();
        let since_ms = match since {
            None => until_ms - DEFAULT_RANGE_MS,
            Some(s) => match DateTime::parse_from_rfc3339(s) {
                Ok(t) => t.timestamp_millis(),
                Err(_) => {
                    until_ms
                        - parse_duration(s).ok_or_else(|| QueryError {
                            field: "since",
                            message: format!(
                                "{s:?} is neither an RFC 3339 time nor a duration like 15m, 24h, 7d"
                            ),
                        })?
                }
            },
        };
        if since_ms >= until_ms {
            return Err(QueryError {
                field: "since",
                message: "must be in the past".into(),
            });
        }
        let range = until_ms - since_ms;
        let step_ms = match step {
            Some(s) => {
                let ms = parse_duration(s)
                    .filter(|&ms| ms >= 1000)
                    .ok_or_else(|| QueryError {
                        field: "step",
                        message: format!(
                            "{s:?} is not a duration of at least one second (like 60, 5m, 1h)"
                        ),
                    })?;
                if range / ms > MAX_POINTS {
                    return Err(QueryError {
                        field: "step",
                        message: format!(
                            "{s} over this range gives {} points; at most {MAX_POINTS}",
                            range / ms
                        ),
                    });
                }
                ms
            }
            None => {
                let widest = (range + 999) / 1000;
                let ms = (interval_s as i64 * 1000).max(widest);
                // Whole seconds.
                (ms + 999) / 1000 * 1000
            }
        };
        Ok(HistoryQuery {
            since_ms,
            until_ms,
            step_ms,
        })
    }
}

fn floor_to(t: i64, unit: i64) -> i64 {
    t.div_euclid(unit) * unit
}

/// Where each tier's data begins, seen at `now_ms` (aligned to the coarser tier's buckets, so tiers
/// partition time exactly). Pruning uses the same boundaries.
pub fn horizons(settings: &MetricsSettings, now_ms: i64) -> [i64; 3] {
    let raw = floor_to(
        now_ms - settings.raw_retention_hours as i64 * 3_600_000,
        MINUTE_MS,
    );
    let minute = floor_to(
        now_ms - settings.minute_retention_days as i64 * 86_400_000,
        QUARTER_MS,
    );
    let quarter = floor_to(
        now_ms - settings.retention_days as i64 * 86_400_000,
        QUARTER_MS,
    );
    [raw, minute, quarter]
}

/// The `(tier, since, until)` reads that cover `q`, oldest first.
pub fn segments(q: &HistoryQuery, settings: &MetricsSettings) -> Vec<(u8, i64, i64)> {
    let [raw, minute, horizon] = horizons(settings, q.until_ms);
    let since = q.since_ms.max(horizon);
    let until = q.until_ms + 1;
    let mut out = Vec::new();
    if since < minute {
        out.push((2, since, minute));
    }
    if since < raw {
        out.push((1, since.max(minute), raw));
    }
    out.push((0, since.max(raw), until));
    out
}

/// Merges buckets with the same start (from different tiers) and turns them into points.
pub fn points(mut buckets: Vec<MetricBucket>) -> Vec<MetricPoint> {
    buckets.sort_by_key(|b| b.t);
    let mut merged: Vec<MetricBucket> = Vec::with_capacity(buckets.len());
    for b in buckets {
        match merged.last_mut() {
            Some(m) if m.t == b.t => {
                m.samples += b.samples;
                m.cpu_sum += b.cpu_sum;
                m.cpu_max = m.cpu_max.max(b.cpu_max);
                m.rss_sum += b.rss_sum;
                m.rss_max = m.rss_max.max(b.rss_max);
                m.processes_sum += b.processes_sum;
                m.threads_sum += b.threads_sum;
                m.fds_sum += b.fds_sum;
                m.read_sum += b.read_sum;
                m.write_sum += b.write_sum;
                m.disk_bytes = m.disk_bytes.max(b.disk_bytes);
                m.disk_partial |= b.disk_partial;
            }
            _ => merged.push(b),
        }
    }
    merged
        .into_iter()
        .filter(|b| b.samples > 0)
        .map(|b| {
            let n = b.samples as f64;
            MetricPoint {
                time: rfc3339_ms(b.t),
                samples: b.samples as u64,
                cpu_percent: b.cpu_sum / n,
                cpu_percent_max: b.cpu_max,
                memory_mb: b.rss_sum / n / MIB,
                memory_mb_max: b.rss_max as f64 / MIB,
                processes: b.processes_sum / n,
                threads: b.threads_sum / n,
                open_fds: b.fds_sum / n,
                read_bytes_per_s: b.read_sum / n,
                write_bytes_per_s: b.write_sum / n,
                disk_bytes: b.disk_bytes.map(|d| d.max(0) as u64),
                disk_partial: b.disk_partial,
            }
        })
        .collect()
}

pub fn rfc3339_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Reads the history of one target.
pub async fn read(
    store: &Store,
    settings: &MetricsSettings,
    kind: &str,
    name: &str,
    q: HistoryQuery,
) -> Result<MetricsHistory, StoreError> {
    let mut buckets = Vec::new();
    for (tier, since, until) in segments(&q, settings) {
        if since < until {
            buckets.extend(
                store
                    .metric_buckets(tier, kind, name, since, until, q.step_ms)
                    .await?,
            );
        }
    }
    Ok(MetricsHistory {
        kind: kind.into(),
        name: name.into(),
        since: rfc3339_ms(q.since_ms),
        until: rfc3339_ms(q.until_ms),
        step_s: (q.step_ms / 1000) as u64,
        interval_s: settings.interval_s,
        points: points(buckets),
    })
}

/// Range and step of `recent`.
pub const RECENT_RANGE_MS: i64 = 3_600_000;
pub const RECENT_STEP_MS: i64 = MINUTE_MS;
/// The newest minutes `recent` reads from raw samples: the minute tier lags behind by up to a
/// roll-up period (a minute) plus the bucket being filled.
const RECENT_RAW_MS: i64 = 2 * MINUTE_MS;

/// CPU and memory of the last hour of every target of `kind` in one-minute steps, by name, oldest
/// first: the minute tier's rows as stored (about 60 per target, no grouping) and the raw samples of
/// the newest minutes grouped, instead of every raw sample of the hour.
pub async fn recent(
    store: &Store,
    kind: &str,
    now_ms: i64,
) -> Result<BTreeMap<String, Vec<ResourcePoint>>, StoreError> {
    let since = floor_to(now_ms - RECENT_RANGE_MS, RECENT_STEP_MS);
    let raw_from = floor_to(now_ms, MINUTE_MS) - RECENT_RAW_MS;
    let minutes = store.usage_all(1, kind, since, raw_from, None).await?;
    let raw = store
        .usage_all(0, kind, raw_from, now_ms + 1, Some(RECENT_STEP_MS))
        .await?;
    // (samples, cpu sum, rss sum) per name and step start.
    let mut steps: BTreeMap<String, BTreeMap<i64, (i64, f64, f64)>> = BTreeMap::new();
    for u in minutes.into_iter().chain(raw) {
        let s = steps.entry(u.name).or_default().entry(u.t).or_default();
        s.0 += u.samples;
        s.1 += u.cpu_sum;
        s.2 += u.rss_sum;
    }
    Ok(steps
        .into_iter()
        .map(|(name, by_t)| {
            let points = by_t
                .into_iter()
                .filter(|(_, (n, _, _))| *n > 0)
                .map(|(t, (n, cpu, rss))| ResourcePoint {
                    time: rfc3339_ms(t),
                    cpu_percent: hundredths(cpu / n as f64),
                    memory_mb: hundredths(rss / n as f64 / MIB),
                })
                .collect();
            (name, points)
        })
        .collect())
}

/// `x` to two decimals: what a sparkline shows, and a third of the answer's bytes for 200 services.
fn hundredths(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Roll-ups and pruning, resumable: remembers how far each coarser tier has been rolled up.
#[derive(Debug, Default)]
pub struct Maintenance {
    rolled: [Option<i64>; 2],
}

impl Maintenance {
    /// Rolls complete buckets up into tiers 1 and 2, then prunes every tier at its horizon.
    pub async fn run(
        &mut self,
        store: &Store,
        settings: &MetricsSettings,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        for (i, (from, to, bucket)) in [(0u8, 1u8, MINUTE_MS), (1, 2, QUARTER_MS)]
            .into_iter()
            .enumerate()
        {
            let since = match self.rolled[i] {
                Some(t) => t,
                // After a restart: redo the newest bucket (it may have been incomplete), else begin
                // with the oldest data of the finer tier.
                None => store.newest_metric_time(to).await?.unwrap_or_default(),
            };
            let until = floor_to(now_ms, bucket);
            if until > since {
                store.rollup_metrics(from, to, bucket, since, until).await?;
                self.rolled[i] = Some(until);
            }
        }
        let [raw, minute, quarter] = horizons(settings, now_ms);
        store.prune_metrics(0, raw).await?;
        store.prune_metrics(1, minute).await?;
        store.prune_metrics(2, quarter).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-10T12:00:30Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn parses_since_and_step() {
        let q = HistoryQuery::parse(Some("15m"), Some("60"), now(), 10).unwrap();
        assert_eq!(q.until_ms - q.since_ms, 15 * MINUTE_MS);
        assert_eq!(q.step_ms, 60_000);
        let q = HistoryQuery::parse(Some("2030-01-10T11:00:30Z"), None, now(), 10).unwrap();
        assert_eq!(q.until_ms - q.since_ms, 3_600_000);
        assert_eq!(q.step_ms, 10_000);
        // 7 days at the default step would exceed 1000 points: the step widens.
        let q = HistoryQuery::parse(Some("7d"), None, now(), 1).unwrap();
        assert_eq!(q.step_ms, 605_000);
        let e = HistoryQuery::parse(Some("yesterday"), None, now(), 10).unwrap_err();
        assert_eq!(e.field, "since");
        let e = HistoryQuery::parse(Some("2031-01-01T00:00:00Z"), None, now(), 10).unwrap_err();
        assert_eq!(e.field, "since");
        let e = HistoryQuery::parse(None, Some("0"), now(), 10).unwrap_err();
        assert_eq!(e.field, "step");
        let e = HistoryQuery::parse(Some("90d"), Some("1s"), now(), 10).unwrap_err();
        assert!(e.message.contains("at most"), "{e:?}");
    }

    #[test]
    fn segments_partition_the_range_by_tier() {
        let s = MetricsSettings::default();
        let q = HistoryQuery::parse(Some("30d"), Some("1d"), now(), 10).unwrap();
        let seg = segments(&q, &s);
        assert_eq!(seg.len(), 3);
        assert_eq!(seg[0].0, 2);
        assert_eq!(seg[0].1, q.since_ms);
        assert_eq!((seg[0].2, seg[1].0), (seg[1].1, 1));
        assert_eq!((seg[1].2, seg[2].0), (seg[2].1, 0));
        assert_eq!(seg[1].1 % QUARTER_MS, 0);
        assert_eq!(seg[2].1 % MINUTE_MS, 0);
        let q = HistoryQuery::parse(Some("1h"), None, now(), 10).unwrap();
        assert_eq!(segments(&q, &s), [(0, q.since_ms, q.until_ms + 1)]);
    }

    #[test]
    fn buckets_of_two_tiers_merge_by_weight() {
        let b = |t, samples, cpu_sum| MetricBucket {
            t,
            samples,
            cpu_sum,
            cpu_max: cpu_sum,
            rss_sum: samples as f64 * MIB,
            rss_max: 2 * 1024 * 1024,
            ..Default::default()
        };
        let p = points(vec![
            b(60_000, 1, 90.0),
            b(0, 60, 600.0),
            b(60_000, 3, 30.0),
        ]);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].time, "1970-01-01T00:00:00.000Z");
        assert_eq!(p[1].samples, 4);
        assert_eq!(p[1].cpu_percent, 30.0);
        assert_eq!(p[1].cpu_percent_max, 90.0);
        assert_eq!((p[1].memory_mb, p[1].memory_mb_max), (1.0, 2.0));
    }

    #[tokio::test]
    async fn recent_stitches_the_minute_tier_and_the_newest_raw_samples() {
        use crate::store::MetricSample;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let now = 10 * 3_600_000 + 30_000; // 30 s into a minute
        let sample = |name: &str, t: i64, cpu: f64| MetricSample {
            kind: "service",
            name: name.into(),
            t,
            cpu_percent: cpu,
            rss_bytes: 2 * 1024 * 1024,
            processes: 1,
            threads: 1,
            open_fds: 3,
            read_bps: 0.0,
            write_bps: 0.0,
            disk_bytes: None,
            disk_partial: false,
        };
        // Raw samples every 10 s over the last 90 minutes, for two services; a job is not a service.
        let mut rows = Vec::new();
        let mut t = now - 90 * MINUTE_MS;
        while t <= now {
            rows.push(sample("a", t, 10.0));
            rows.push(sample("b", t, 30.0));
            rows.push(MetricSample {
                kind: "job",
                ..sample("j", t, 50.0)
            });
            t += 10_000;
        }
        store.insert_metric_samples(&rows).await.unwrap();
        // The roll-up has reached the minute before last, as it may lag.
        let rolled = floor_to(now, MINUTE_MS) - MINUTE_MS;
        store
            .rollup_metrics(0, 1, MINUTE_MS, 0, rolled)
            .await
            .unwrap();

        let got = recent(&store, "service", now).await.unwrap();
        assert_eq!(got.keys().collect::<Vec<_>>(), ["a", "b"]);
        let a = &got["a"];
        // Every minute of the hour once: 60 complete ones and the current one.
        assert_eq!(a.len(), 61, "{a:?}");
        let starts: Vec<i64> = a
            .iter()
            .map(|p| {
                DateTime::parse_from_rfc3339(&p.time)
                    .unwrap()
                    .timestamp_millis()
            })
            .collect();
        assert!(
            starts.windows(2).all(|w| w[1] - w[0] == MINUTE_MS),
            "{starts:?}"
        );
        assert_eq!(starts[0], floor_to(now - RECENT_RANGE_MS, MINUTE_MS));
        assert!(
            a.iter()
                .all(|p| p.cpu_percent == 10.0 && p.memory_mb == 2.0)
        );
        assert!(got["b"].iter().all(|p| p.cpu_percent == 30.0));
    }
}
