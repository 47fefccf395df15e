//! Retention of what grows with use: database log lines older than `retention_days`, and the audit,
//! jobs and events tables by age and row count (`[retention]`, SQL in `store/retention.rs`); at start
//! and then every `interval_s`. Log files are bounded by rotation instead and are not touched here.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{RetentionSettings, Store, fmt_time};

/// Runs until `stop` turns true (or its sender is gone). `retention_days` 0 keeps log lines forever.
pub(super) async fn run(
    store: Store,
    retention_days: u32,
    history: RetentionSettings,
    mut stop: watch::Receiver<bool>,
) {
    let every = Duration::from_secs(history.interval_s.max(1));
    loop {
        if retention_days > 0 {
            prune_logs(&store, retention_days).await;
        }
        prune_history(&store, &history).await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// `now - days` as stored text; None for 0 (no age limit).
fn cutoff(days: u32) -> Option<String> {
    if days == 0 {
        return None;
    }
    chrono::TimeDelta::try_days(i64::from(days))
        .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        .map(fmt_time)
}

async fn prune_logs(store: &Store, retention_days: u32) {
    let Some(cutoff) = cutoff(retention_days) else {
        return;
    };
    match store.prune_logs(&cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(lines = n, retention_days, "pruned old log lines"),
        Err(e) => tracing::warn!(error = %e, "pruning old log lines failed"),
    }
}

async fn prune_history(store: &Store, s: &RetentionSettings) {
    match store.prune_history(s, cutoff).await {
        Ok(p) if p.audit + p.jobs + p.events == 0 => {}
        Ok(p) => tracing::info!(
            audit = p.audit,
            jobs = p.jobs,
            events = p.events,
            "pruned old history rows"
        ),
        Err(e) => tracing::warn!(error = %e, "pruning the audit, jobs and events tables failed"),
    }
}
