//! Watches the user plugin dir and calls back once per burst of changes (debounced `DEBOUNCE`).
//! The callback runs on the watcher's thread: it should only send a message.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// Watching stops when this is dropped.
pub struct Watcher {
    _debouncer: Debouncer<RecommendedWatcher>,
}

pub fn watch(dir: &Path, on_change: impl Fn() + Send + 'static) -> anyhow::Result<Watcher> {
    let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| match res {
        Ok(events) if !events.is_empty() => on_change(),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "plugin dir watcher error"),
    })
    .context("cannot start the plugin dir watcher")?;
    debouncer
        .watcher()
        .watch(dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("cannot watch {}", dir.display()))?;
    Ok(Watcher { _debouncer: debouncer })
}
