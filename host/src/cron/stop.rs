//! Stopping an execution's process tree the way the supervisor stops a service: SIGTERM to the group
//! and every member, SIGKILL to whatever is left after the grace period, done only when `/proc` shows
//! nothing of the tree. Every signal goes through `process`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use crate::process::{self, Ended, Tree};

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
    let deadline = Instant::now() + grace;
    let signalled: BTreeSet<u32> = tree.signal(Signal::SIGTERM).members.into_iter().collect();
    let mut killed = false;
    if let Some(mut rx) = exit.take() {
        match tokio::time::timeout_at(deadline.into(), &mut rx).await {
            Ok(res) => *ended = res.ok(),
            Err(_) => {
                killed = true;
                tree.signal(Signal::SIGKILL);
                *ended = rx.await.ok();
            }
        }
    }
    killed | drain(tree, signalled, deadline).await
}

/// Drives the tree to empty: members not yet signalled get SIGTERM, everything left gets SIGKILL once
/// `deadline` passes. Descendants that are not our children cannot be waited for, so this looks at
/// `/proc` again, backing off from 1 ms to 20 ms.
async fn drain(tree: &Tree, mut signalled: BTreeSet<u32>, deadline: Instant) -> bool {
    let mut killed = false;
    let give_up = deadline + Duration::from_secs(10);
    let mut pause = Duration::from_millis(1);
    // Processes whose environment stays unreadable this long are not ours (or are stuck).
    let mut uncertain_since: BTreeMap<u32, Instant> = BTreeMap::new();
    loop {
        let scan = tree.scan();
        let now = Instant::now();
        for &pid in &scan.members {
            if signalled.insert(pid) {
                process::signal_pid(pid, Signal::SIGTERM);
            }
        }
        uncertain_since.retain(|pid, _| scan.uncertain.contains(pid));
        for &pid in &scan.uncertain {
            uncertain_since.entry(pid).or_insert(now);
        }
        let waiting = uncertain_since
            .values()
            .any(|&t| now.duration_since(t) < Duration::from_secs(1));
        if scan.members.is_empty() && !waiting {
            return killed;
        }
        if now >= deadline && !scan.members.is_empty() {
            killed = true;
            for &pid in &scan.members {
                process::signal_pid(pid, Signal::SIGKILL);
            }
        }
        if now >= give_up {
            tracing::error!(instance = %tree.instance, left = ?scan.members, "execution processes survive SIGKILL (uninterruptible sleep?)");
            return killed;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
