//! Retention: deletes database log lines older than `retention_days`, at start and then hourly. Log
//! files are bounded by rotation instead and are not touched here.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Store, fmt_time};

const EVERY: Duration = Duration::from_secs(3600);

/// Runs until `stop` turns true (or its sender is gone). `retention_days` 0 keeps lines forever.
pub(super) async fn run(store: Store, retention_days: u32, mut stop: watch::Receiver<bool>) {
    if retention_days == 0 {
        return;
    }
    loop {
        prune_once(&store, retention_days).await;
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

async fn prune_once(store: &Store, retention_days: u32) {
    let cutoff = chrono::TimeDelta::try_days(i64::from(retention_days))
        .and_then(|age| chrono::Utc::now().checked_sub_signed(age));
    let Some(cutoff) = cutoff else { return };
    match store.prune_logs(&fmt_time(cutoff)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(lines = n, retention_days, "pruned old log lines"),
        Err(e) => tracing::warn!(error = %e, "pruning old log lines failed"),
    }
}
