//! Startup: makes the store agree with the config file's `[cron.<name>]` tables, closes executions a
//! previous daemon left open, loads every job, starts the engine, and runs catch-up fires.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::{Inner, Job, Scheduler, engine, job, plan, runner, tz};
use crate::store::Store;
use crate::wire::{CronJobSpec, ExecutionStatus, LastRun, Source, Trigger};

impl Scheduler {
    /// Loads the jobs and starts scheduling. Call after the supervisor has stopped what a killed
    /// predecessor left running (that includes executions: they carry this node's marker and, with
    /// cgroups, are in run cgroups under this data dir's directory).
    pub async fn boot(
        store: Store,
        bus: crate::events::Bus,
        node: String,
        data_dir: &Path,
        file_jobs: Vec<CronJobSpec>,
    ) -> anyhow::Result<Scheduler> {
        reconcile_file(&store, &file_jobs).await?;
        let abandoned = store
            .close_abandoned_executions("the daemon stopped before this execution ended")
            .await?;
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                "closed cron executions a previous daemon left open"
            );
        }
        let default_tz = tz::local_zone();
        let now = Utc::now();
        let mut jobs = BTreeMap::new();
        let mut catch_up = Vec::new();
        for stored in store.list_cron_jobs().await? {
            let name = stored.spec.name.clone();
            let compiled = match job::compile(&stored.spec, default_tz) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(job = %name, error = %e, "stored cron job is invalid; not scheduled");
                    continue;
                }
            };
            let mut job = Job::new(stored.spec, stored.source, compiled, now);
            job.last = last_run(&store, &name).await?;
            let baseline = stored
                .last_slot
                .as_deref()
                .and_then(parse_time)
                .or_else(|| parse_time(&stored.created_at));
            if job.spec.enabled
                && let Some(baseline) = baseline
                && let Some(slot) =
                    plan::catch_up_slot(job.spec.catch_up, &job.compiled, baseline, now)
            {
                catch_up.push((name.clone(), slot));
            }
            jobs.insert(name, job);
        }
        tracing::info!(
            jobs = jobs.len(),
            timezone = default_tz.name(),
            "cron scheduler ready"
        );
        let inner = Arc::new(Inner {
            store,
            node,
            logs_dir: data_dir.join("logs").join("cron"),
            default_tz,
            jobs: Mutex::new(jobs),
            wake: Notify::new(),
            closing: AtomicBool::new(false),
            metrics: std::sync::OnceLock::new(),
            bus,
        });
        let engine = tokio::spawn(engine::run(inner.clone()));
        for (name, slot) in catch_up {
            tracing::info!(job = %name, slot = %slot, "catching up a missed fire time");
            let inner = inner.clone();
            tokio::spawn(async move {
                if let Err(e) = runner::fire_slot(&inner, &name, slot, Trigger::CatchUp).await {
                    tracing::error!(job = %name, error = %e, "cannot catch up a cron job");
                }
            });
        }
        Ok(Scheduler {
            inner,
            engine: Arc::new(Mutex::new(Some(engine))),
        })
    }
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The latest execution that ran (or was meant to: skipped ones are not results).
async fn last_run(store: &Store, name: &str) -> anyhow::Result<Option<LastRun>> {
    let recent = store.list_executions(name, None, 50).await?;
    Ok(recent
        .iter()
        .find(|e| e.status.is_final() && e.status != ExecutionStatus::Skipped)
        .map(LastRun::from))
}

/// File jobs are upserted as `config`; config jobs no longer in the file are removed. The file wins
/// over an API job of the same name.
async fn reconcile_file(store: &Store, file_jobs: &[CronJobSpec]) -> anyhow::Result<()> {
    let existing = store.list_cron_jobs().await?;
    for spec in file_jobs {
        if existing
            .iter()
            .any(|j| j.spec.name == spec.name && j.source == Source::Api)
        {
            tracing::warn!(job = %spec.name, "the config file defines a cron job registered through the API; the file wins");
        }
        store.upsert_cron_job(spec, Source::Config).await?;
    }
    for old in existing.iter().filter(|j| j.source == Source::Config) {
        if !file_jobs.iter().any(|j| j.name == old.spec.name) {
            tracing::info!(job = %old.spec.name, "removed from the config file; unregistering");
            store.delete_cron_job(&old.spec.name).await?;
        }
    }
    Ok(())
}
