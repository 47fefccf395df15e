//! A run's process tree and the one loop that stops trees: membership from `/proc` (the leader's group,
//! the `TEND_INSTANCE` marker, sticky once seen), signals to the group and to every member, SIGKILL after
//! the grace period, done only when `/proc` shows nothing of the tree. Every stop in the daemon (a
//! service's run, a cron execution, a job's command, what a killed daemon left behind) goes through
//! `drain_with`; nothing here waits for an exit other than the leader's, which the reaper hands over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::sync::oneshot;

use super::{Ended, stat};

fn all_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

fn environ_has_prefix(pid: u32, prefix: &[u8]) -> bool {
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(env) => env.split(|&b| b == 0).any(|var| var.starts_with(prefix)),
        Err(_) => false,
    }
}

fn signal_pid(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// One run's process tree: its session/group leader and its environment marker.
///
/// Membership is sticky: a process seen once as a member (pid + start time) stays one until it is gone,
/// because `/proc/<pid>/environ` reads empty while a process is inside `execve` or exiting.
#[derive(Debug)]
pub struct Tree {
    pub leader: u32,
    pub leader_start: u64,
    pub instance: String,
    seen: Mutex<BTreeMap<u32, u64>>,
}

/// The result of one look at `/proc` for a tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Live (non-zombie) members.
    pub members: Vec<u32>,
    /// Processes started after the leader whose environment could not be read (mid-exec or exiting):
    /// they may be members; look again.
    pub uncertain: Vec<u32>,
}

impl Scan {
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.uncertain.is_empty()
    }
}

impl Tree {
    pub fn new(leader: u32, leader_start: u64, instance: String) -> Tree {
        Tree {
            leader,
            leader_start,
            instance,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether the leader is still this tree's (same start time) and not a zombie: a recorded pid may
    /// have been reused since.
    pub fn leader_alive(&self) -> bool {
        stat(self.leader).is_some_and(|s| s.start_ticks == self.leader_start && s.state != b'Z')
    }

    /// Members: the leader's process group, anything carrying the marker that started no earlier than the
    /// leader, and everything seen as a member before that still exists.
    pub fn scan(&self) -> Scan {
        let me = std::process::id();
        let marker = format!("TEND_INSTANCE={}", self.instance).into_bytes();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut scan = Scan::default();
        let mut still = BTreeMap::new();
        for pid in all_pids() {
            if pid == me {
                continue;
            }
            let Some(st) = stat(pid) else { continue };
            // Kernel threads (children of kthreadd) have no environment and are never ours.
            if st.state == b'Z' || st.start_ticks < self.leader_start || st.ppid == 2 || pid == 2 {
                continue;
            }
            let member = seen.get(&pid) == Some(&st.start_ticks)
                || st.pgrp == self.leader as i32
                || match std::fs::read(format!("/proc/{pid}/environ")) {
                    Ok(env) if env.is_empty() => {
                        scan.uncertain.push(pid);
                        false
                    }
                    Ok(env) => env.split(|&b| b == 0).any(|var| var == marker.as_slice()),
                    Err(_) => false,
                };
            if member {
                still.insert(pid, st.start_ticks);
                scan.members.push(pid);
            }
        }
        *seen = still;
        scan
    }

    /// Sends `sig` to the process group and to every member. Returns the scan it acted on.
    pub fn signal(&self, sig: Signal) -> Scan {
        let _ = killpg(Pid::from_raw(self.leader as i32), sig);
        let scan = self.scan();
        for &pid in &scan.members {
            signal_pid(pid, sig);
        }
        scan
    }

    /// Stops the whole tree: `sig` to the group and every member, SIGKILL to everything once `grace` has
    /// passed, done only when nothing of the tree is left. `exit` is the leader's pending exit, if it has
    /// not been reaped yet. Returns the leader's end and whether SIGKILL was needed.
    pub async fn stop(
        &self,
        sig: Signal,
        exit: Option<oneshot::Receiver<Ended>>,
        grace: Duration,
    ) -> (Option<Ended>, bool) {
        let deadline = Instant::now() + grace;
        let signalled: BTreeSet<u32> = self.signal(sig).members.into_iter().collect();
        let mut killed = false;
        let mut ended = None;
        if let Some(mut rx) = exit {
            match tokio::time::timeout_at(deadline.into(), &mut rx).await {
                Ok(res) => ended = res.ok(),
                Err(_) => {
                    killed = true;
                    self.signal(Signal::SIGKILL);
                    ended = rx.await.ok();
                }
            }
        }
        killed |= self.drain(sig, signalled, deadline).await;
        (ended, killed)
    }

    /// Drives the tree to empty: members not in `signalled` get `sig`, everything left gets SIGKILL once
    /// `deadline` passes. Returns whether SIGKILL was needed.
    pub async fn drain(&self, sig: Signal, signalled: BTreeSet<u32>, deadline: Instant) -> bool {
        drain_with(&self.instance, || self.scan(), sig, signalled, deadline).await
    }
}

/// What a daemon that died left running on this data dir: the runs it recorded (`trees`) and every
/// process that carries one of its markers (`TEND_INSTANCE=<prefix>...`).
pub struct Leftovers {
    prefix: String,
    trees: Vec<Tree>,
}

impl Leftovers {
    pub fn new(prefix: String, trees: Vec<Tree>) -> Leftovers {
        Leftovers { prefix, trees }
    }

    /// Every marked process and every member of a recorded tree.
    pub fn scan(&self) -> Scan {
        let me = std::process::id();
        let needle = format!("TEND_INSTANCE={}", self.prefix).into_bytes();
        let mut scan = Scan {
            members: all_pids()
                .into_iter()
                .filter(|&pid| pid != me)
                .filter(|&pid| stat(pid).is_some_and(|s| s.state != b'Z'))
                .filter(|&pid| environ_has_prefix(pid, &needle))
                .collect(),
            uncertain: Vec::new(),
        };
        for tree in &self.trees {
            let s = tree.scan();
            scan.members.extend(s.members);
            scan.uncertain.extend(s.uncertain);
        }
        for list in [&mut scan.members, &mut scan.uncertain] {
            list.sort_unstable();
            list.dedup();
        }
        scan.uncertain
            .retain(|pid| scan.members.binary_search(pid).is_err());
        scan
    }

    /// Stops all of it: `sig` to every process, SIGKILL after `grace`, done when nothing is left.
    /// Returns whether SIGKILL was needed.
    pub async fn stop(&self, sig: Signal, grace: Duration) -> bool {
        let label = format!("{}*", self.prefix);
        let deadline = Instant::now() + grace;
        drain_with(&label, || self.scan(), sig, BTreeSet::new(), deadline).await
    }
}

/// The stopping loop: members not in `signalled` get `sig`, everything left gets SIGKILL once
/// `deadline` passes, done when `scan` finds nothing (processes whose environment stays unreadable
/// for a second are given up on). Descendants that are not our children cannot be waited for, so this
/// looks at `/proc` again, backing off from 1 ms to 20 ms. Returns whether SIGKILL was needed.
async fn drain_with(
    label: &str,
    mut scan: impl FnMut() -> Scan,
    sig: Signal,
    mut signalled: BTreeSet<u32>,
    deadline: Instant,
) -> bool {
    let mut killed = false;
    let give_up = deadline + Duration::from_secs(10);
    let mut pause = Duration::from_millis(1);
    // Processes whose environment stays unreadable this long are not ours (or are stuck).
    let mut uncertain_since: BTreeMap<u32, Instant> = BTreeMap::new();
    loop {
        let scan = scan();
        let now = Instant::now();
        for &pid in &scan.members {
            if signalled.insert(pid) {
                signal_pid(pid, sig);
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
                signal_pid(pid, Signal::SIGKILL);
            }
        }
        if now >= give_up {
            tracing::error!(instance = %label, left = ?scan.members, "processes survive SIGKILL (uninterruptible sleep?)");
            return killed;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
