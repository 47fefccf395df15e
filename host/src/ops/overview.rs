//! `overview`: every service's recent health results and last hour of CPU and memory, and the cron jobs
//! due soon, for the dashboard's overview in one call. One store read per kind of figure whatever the
//! number of services; states and supervisor figures are `services` and `status`.

use chrono::{DateTime, Duration, Utc};

use super::{Ops, Result};
use crate::metrics::Kind;
use crate::wire::{
    CRON_DUE_HOURS, CronDue, OVERVIEW_HEALTH, Overview, ResourcePoint, ServiceOverview,
};

impl Ops {
    pub async fn overview(&self) -> Result<Overview> {
        let now = Utc::now();
        let mut names: Vec<String> = self.sup.list().into_iter().map(|v| v.spec.name).collect();
        names.sort();
        let mut health = self
            .store
            .recent_health_checks(&names, OVERVIEW_HEALTH)
            .await?;
        let mut resources = self
            .metrics
            .recent(Kind::Service, now.timestamp_millis())
            .await?;
        let services = names
            .into_iter()
            .map(|name| ServiceOverview {
                health: health.remove(&name).unwrap_or_default(),
                resources: resources
                    .remove(&name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| ResourcePoint {
                        time: p.time,
                        cpu_percent: p.cpu_percent,
                        memory_mb: p.memory_mb,
                    })
                    .collect(),
                name,
            })
            .collect();
        Ok(Overview {
            time: crate::store::fmt_time(now),
            services,
            cron_due: self.cron_due(now),
        })
    }

    /// Enabled jobs whose next fire time is within `CRON_DUE_HOURS` of `now`, soonest first.
    fn cron_due(&self, now: DateTime<Utc>) -> Vec<CronDue> {
        let until = now + Duration::hours(CRON_DUE_HOURS);
        let mut due: Vec<(DateTime<Utc>, CronDue)> = self
            .cron
            .list()
            .into_iter()
            .filter(|j| j.spec.enabled)
            .filter_map(|j| {
                let next = j.state.next_run_at?;
                let at = DateTime::parse_from_rfc3339(&next)
                    .ok()?
                    .with_timezone(&Utc);
                (at <= until).then(|| {
                    let name = j.spec.name;
                    (
                        at,
                        CronDue {
                            name,
                            next_run_at: next,
                        },
                    )
                })
            })
            .collect();
        due.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.name.cmp(&b.1.name)));
        due.into_iter().map(|(_, d)| d).collect()
    }
}
