//! The `metric_samples` table: raw samples, their one- and fifteen-minute roll-ups, pruning, and
//! step-aggregated reads. Tiers, buckets and retention are decided by `metrics::history`; this file only
//! knows how to say them in SQL.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Result, Store};

/// One row to insert (a raw sample: `samples` = 1, maxima = the values).
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSample {
    pub kind: &'static str,
    pub name: String,
    /// Unix ms.
    pub t: i64,
    pub cpu_percent: f64,
    pub rss_bytes: u64,
    pub processes: u64,
    pub threads: u64,
    pub open_fds: u64,
    pub read_bps: f64,
    pub write_bps: f64,
    pub disk_bytes: Option<u64>,
    pub disk_partial: bool,
}

/// Rows of one tier grouped into one step: sums weighted by `samples`, so that buckets from several
/// tiers merge exactly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricBucket {
    /// Start of the step, Unix ms.
    pub t: i64,
    pub samples: i64,
    pub cpu_sum: f64,
    pub cpu_max: f64,
    pub rss_sum: f64,
    pub rss_max: i64,
    pub processes_sum: f64,
    pub threads_sum: f64,
    pub fds_sum: f64,
    pub read_sum: f64,
    pub write_sum: f64,
    pub disk_bytes: Option<i64>,
    pub disk_partial: bool,
}

/// CPU and memory of one target over one step, as sums weighted by `samples` (so buckets of two tiers
/// merge exactly): the overview's reduced `MetricBucket`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageBucket {
    pub name: String,
    /// Start of the step, Unix ms.
    pub t: i64,
    pub samples: i64,
    pub cpu_sum: f64,
    pub rss_sum: f64,
}

/// The aggregate columns shared by roll-ups and reads, over rows grouped by a bucket.
const WEIGHTED: &str = "SUM(samples), SUM(cpu_percent * samples), MAX(cpu_percent_max), \
     SUM(rss_bytes * samples), MAX(rss_bytes_max), SUM(processes * samples), SUM(threads * samples), \
     SUM(open_fds * samples), SUM(read_bps * samples), SUM(write_bps * samples), MAX(disk_bytes), \
     MAX(disk_partial)";

/// SQLite allows 32766 bound values per statement; 12 per row.
const ROWS_PER_INSERT: usize = 1000;

impl Store {
    pub async fn insert_metric_samples(&self, rows: &[MetricSample]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR REPLACE INTO metric_samples (tier, kind, name, t, samples, cpu_percent, \
                 cpu_percent_max, rss_bytes, rss_bytes_max, processes, threads, open_fds, read_bps, \
                 write_bps, disk_bytes, disk_partial) ",
            );
            q.push_values(chunk, |mut b, r| {
                let rss = r.rss_bytes.min(i64::MAX as u64) as i64;
                b.push("0")
                    .push_bind(r.kind)
                    .push_bind(&r.name)
                    .push_bind(r.t)
                    .push("1")
                    .push_bind(r.cpu_percent)
                    .push_bind(r.cpu_percent)
                    .push_bind(rss as f64)
                    .push_bind(rss)
                    .push_bind(r.processes as f64)
                    .push_bind(r.threads as f64)
                    .push_bind(r.open_fds as f64)
                    .push_bind(r.read_bps)
                    .push_bind(r.write_bps)
                    .push_bind(r.disk_bytes.map(|d| d.min(i64::MAX as u64) as i64))
                    .push_bind(r.disk_partial);
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Aggregates tier `from` rows with `since <= t < until` into `bucket_ms` buckets of tier `to`,
    /// replacing those buckets (so a roll-up can be redone). Returns the rows written.
    pub async fn rollup_metrics(
        &self,
        from: u8,
        to: u8,
        bucket_ms: i64,
        since: i64,
        until: i64,
    ) -> Result<u64> {
        let done = sqlx::query(
            "INSERT OR REPLACE INTO metric_samples (tier, kind, name, t, samples, cpu_percent, \
             cpu_percent_max, rss_bytes, rss_bytes_max, processes, threads, open_fds, read_bps, \
             write_bps, disk_bytes, disk_partial) \
             SELECT ?1, kind, name, (t / ?2) * ?2 AS b, SUM(samples), \
                    SUM(cpu_percent * samples) / SUM(samples), MAX(cpu_percent_max), \
                    SUM(rss_bytes * samples) / SUM(samples), MAX(rss_bytes_max), \
                    SUM(processes * samples) / SUM(samples), SUM(threads * samples) / SUM(samples), \
                    SUM(open_fds * samples) / SUM(samples), SUM(read_bps * samples) / SUM(samples), \
                    SUM(write_bps * samples) / SUM(samples), MAX(disk_bytes), MAX(disk_partial) \
             FROM metric_samples WHERE tier = ?3 AND t >= ?4 AND t < ?5 GROUP BY kind, name, b",
        )
        .bind(i64::from(to))
        .bind(bucket_ms)
        .bind(i64::from(from))
        .bind(since)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes tier `tier` rows older than `before` (Unix ms).
    pub async fn prune_metrics(&self, tier: u8, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM metric_samples WHERE tier = ? AND t < ?")
            .bind(i64::from(tier))
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The newest `t` in a tier, to resume roll-ups after a restart.
    pub async fn newest_metric_time(&self, tier: u8) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MAX(t) FROM metric_samples WHERE tier = ?")
            .bind(i64::from(tier))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get(0))
    }

    /// Rows of one target and tier with `since <= t < until`, grouped into steps of `step_ms`.
    pub async fn metric_buckets(
        &self,
        tier: u8,
        kind: &str,
        name: &str,
        since: i64,
        until: i64,
        step_ms: i64,
    ) -> Result<Vec<MetricBucket>> {
        let rows = sqlx::query(&format!(
            "SELECT (t / ?1) * ?1 AS b, {WEIGHTED} FROM metric_samples \
             WHERE tier = ?2 AND kind = ?3 AND name = ?4 AND t >= ?5 AND t < ?6 GROUP BY b ORDER BY b"
        ))
        .bind(step_ms)
        .bind(i64::from(tier))
        .bind(kind)
        .bind(name)
        .bind(since)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(bucket).collect())
    }

    /// CPU and memory of every target of `kind` in one tier with `since <= t < until`: the rows as
    /// stored when `step_ms` is `None` (a roll-up tier read at its own bucket width: no grouping, no
    /// sort), else grouped into steps of `step_ms` per name. Rows in no particular order.
    pub async fn usage_all(
        &self,
        tier: u8,
        kind: &str,
        since: i64,
        until: i64,
        step_ms: Option<i64>,
    ) -> Result<Vec<UsageBucket>> {
        let sql = match step_ms {
            None => {
                "SELECT name, t, samples, cpu_percent * samples, rss_bytes * samples \
                 FROM metric_samples WHERE tier = ?1 AND kind = ?2 AND t >= ?3 AND t < ?4"
            }
            Some(_) => {
                "SELECT name, (t / ?5) * ?5 AS b, SUM(samples), SUM(cpu_percent * samples), \
                 SUM(rss_bytes * samples) FROM metric_samples \
                 WHERE tier = ?1 AND kind = ?2 AND t >= ?3 AND t < ?4 GROUP BY name, b"
            }
        };
        let mut query = sqlx::query(sql)
            .bind(i64::from(tier))
            .bind(kind)
            .bind(since)
            .bind(until);
        if let Some(step) = step_ms {
            query = query.bind(step);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| UsageBucket {
                name: r.get(0),
                t: r.get(1),
                samples: r.get(2),
                cpu_sum: r.get(3),
                rss_sum: r.get(4),
            })
            .collect())
    }
}

/// A bucket from the step column and the `WEIGHTED` columns after it.
fn bucket(r: &SqliteRow) -> MetricBucket {
    MetricBucket {
        t: r.get(0),
        samples: r.get(1),
        cpu_sum: r.get(2),
        cpu_max: r.get(3),
        rss_sum: r.get(4),
        rss_max: r.get(5),
        processes_sum: r.get(6),
        threads_sum: r.get(7),
        fds_sum: r.get(8),
        read_sum: r.get(9),
        write_sum: r.get(10),
        disk_bytes: r.get(11),
        disk_partial: r.get::<Option<i64>, _>(12).unwrap_or(0) != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, t: i64, cpu: f64, rss: u64) -> MetricSample {
        MetricSample {
            kind: "service",
            name: name.into(),
            t,
            cpu_percent: cpu,
            rss_bytes: rss,
            processes: 2,
            threads: 3,
            open_fds: 4,
            read_bps: 0.0,
            write_bps: 10.0,
            disk_bytes: Some(100),
            disk_partial: false,
        }
    }

    #[tokio::test]
    async fn rollup_prune_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let rows: Vec<MetricSample> = (0..120)
            .map(|i| sample("web", i * 1000, i as f64, 1000 + i as u64))
            .chain([sample("db", 5000, 50.0, 7)])
            .collect();
        store.insert_metric_samples(&rows).await.unwrap();
        assert_eq!(store.newest_metric_time(0).await.unwrap(), Some(119_000));
        assert_eq!(store.newest_metric_time(1).await.unwrap(), None);

        // Two one-minute buckets for web, one for db; redoing the roll-up changes nothing.
        assert_eq!(
            store
                .rollup_metrics(0, 1, 60_000, 0, 120_000)
                .await
                .unwrap(),
            3
        );
        store
            .rollup_metrics(0, 1, 60_000, 0, 120_000)
            .await
            .unwrap();
        let minutes = store
            .metric_buckets(1, "service", "web", 0, i64::MAX, 60_000)
            .await
            .unwrap();
        assert_eq!(minutes.len(), 2);
        assert_eq!(minutes[0].samples, 60);
        assert!(
            (minutes[0].cpu_sum / 60.0 - 29.5).abs() < 1e-9,
            "{minutes:?}"
        );
        assert_eq!(minutes[1].cpu_max, 119.0);
        assert_eq!(minutes[1].rss_max, 1119);
        assert_eq!(minutes[0].disk_bytes, Some(100));

        // Raw rows in 30 s steps: the weighted sums equal plain sums of the raw values.
        let steps = store
            .metric_buckets(0, "service", "web", 10_000, 70_000, 30_000)
            .await
            .unwrap();
        assert_eq!(
            steps.iter().map(|b| b.t).collect::<Vec<_>>(),
            [0, 30_000, 60_000]
        );
        assert_eq!(steps[0].samples, 20);
        assert_eq!(steps[1].cpu_sum, (30..60).sum::<i64>() as f64);

        // CPU and memory of every target at once: the rows as stored, or grouped into steps.
        let mut rows = store
            .usage_all(1, "service", 0, i64::MAX, None)
            .await
            .unwrap();
        rows.sort_by(|a, b| (&a.name, a.t).cmp(&(&b.name, b.t)));
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["db", "web", "web"]);
        assert_eq!((rows[1].samples, rows[1].cpu_sum), (60, minutes[0].cpu_sum));
        assert_eq!(rows[0].rss_sum, 7.0);
        let mut steps = store
            .usage_all(0, "service", 10_000, 70_000, Some(30_000))
            .await
            .unwrap();
        steps.retain(|r| r.name == "web");
        steps.sort_by_key(|r| r.t);
        assert_eq!(
            steps.iter().map(|b| b.t).collect::<Vec<_>>(),
            [0, 30_000, 60_000]
        );
        assert_eq!(steps[1].cpu_sum, (30..60).sum::<i64>() as f64);

        assert_eq!(store.prune_metrics(0, 60_000).await.unwrap(), 61);
        assert_eq!(
            store
                .metric_buckets(0, "service", "web", 0, i64::MAX, 1000)
                .await
                .unwrap()
                .len(),
            60
        );
    }
}
