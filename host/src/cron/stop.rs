//! Stopping an execution's process tree the way the supervisor stops a service: SIGTERM to the group
//! and every member, SIGKILL to whatever is left after the grace period, done only when `/proc` shows
//! nothing of the tree. Every signal goes through `process`.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use crate::process::{Ended, Tree};

/// Between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// Stops `tree`. `exit` is the leader's pending exit (taken once it arrives, into `ended`). Returns
/// whether SIGKILL was needed.
pub async fn stop_tree(
    tree: &Tree,
    exit: &mut Option<oneshot::Receiver<Ended>>,
    ended: &mut Option<Ended>,
    grace: Duration,
) -> bool {
    let pending = exit.take();
    let had_exit = pending.is_some();
    let (end, killed) = tree.stop(Signal::SIGTERM, pending, grace).await;
    if had_exit {
        *ended = end;
    }
    killed
}
