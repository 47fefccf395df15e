//! A run's process tree and the loops that stop trees. Where cgroups contain runs, a tree is its cgroup:
//! members are `cgroup.procs`, the stop is the signal to each, `cgroup.kill` after the grace, done when
//! `cgroup.events` says `populated 0` (`drain_cgroup`), then the directory goes. Otherwise membership
//! comes from `/proc`: the leader's group (only while the leader's pid is provably still the run's),
//! the `TEND_INSTANCE` marker, ancestry (a child of a member is a member, whatever its session or
//! environment), the descendants followed through fork events (`lineage.rs`), sticky once seen, so a process re-parented to the daemon stays in the tree it came
//! from; signals to the group and every member, SIGKILL after the grace, done only when `/proc` shows
//! nothing of the tree (`drain_with`). Every stop in the daemon (a service's run, a cron execution, a
//! job's command, what a killed daemon left behind) goes through one of the two; nothing here waits
//! for an exit other than the leader's, which the reaper hands over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::sync::oneshot;

use super::cgroup::{CgroupUsage, RunGroup};
use super::{Ended, stat};

/// How long processes may survive SIGKILL (uninterruptible sleep) before a stop gives up on them.
const GIVE_UP_AFTER_KILL: Duration = Duration::from_secs(10);
/// While waiting out the grace, how often a cgroup's processes are listed again so that newcomers get
/// the stop signal too (an emptied cgroup wakes the wait at once through inotify).
const RESIGNAL_EVERY: Duration = Duration::from_millis(50);

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

/// One run's process tree: its session/group leader, its environment marker and, where cgroups
/// contain runs, its cgroup.
///
/// Without a cgroup, membership is sticky: a process seen once as a member (pid + start time) stays one
/// until it is gone, because `/proc/<pid>/environ` reads empty while a process is inside `execve` or
/// exiting, and because a process re-parented to the daemon no longer shows where it came from.
#[derive(Debug)]
pub struct Tree {
    pub leader: u32,
    pub leader_start: u64,
    pub instance: String,
    cgroup: Option<RunGroup>,
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
    /// A tree found through `/proc` (group, marker, ancestry).
    #[cfg(test)]
    pub fn new(leader: u32, leader_start: u64, instance: String) -> Tree {
        Tree::with_cgroup(leader, leader_start, instance, None)
    }

    pub(super) fn with_cgroup(
        leader: u32,
        leader_start: u64,
        instance: String,
        cgroup: Option<RunGroup>,
    ) -> Tree {
        Tree {
            leader,
            leader_start,
            instance,
            cgroup,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// A run a daemon that died recorded: its cgroup if that still exists, else found through `/proc`.
    pub fn recorded(leader: u32, leader_start: u64, instance: String) -> Tree {
        let cgroup = RunGroup::existing(&instance);
        Tree::with_cgroup(leader, leader_start, instance, cgroup)
    }

    /// Whether the run has a cgroup of its own (its members are then `cgroup.procs`).
    pub fn in_cgroup(&self) -> bool {
        self.cgroup.is_some()
    }

    /// CPU (and memory, when available) of the whole run from its cgroup; `None` without one.
    pub fn cgroup_usage(&self) -> Option<CgroupUsage> {
        self.cgroup.as_ref()?.usage()
    }

    /// The run's processes from its cgroup (`None` without one): exact and without a `/proc` pass.
    pub fn cgroup_procs(&self) -> Option<Vec<u32>> {
        let me = std::process::id();
        let mut procs = self.cgroup.as_ref()?.procs();
        procs.retain(|&p| p != me);
        Some(procs)
    }

    /// Whether the leader's pid still names this run's leader, or names nobody. A group id is only
    /// ours then: a pid cannot be reused while a group of that id has members, so once another process
    /// holds the pid, processes in a group of that id are that process's, never the run's.
    fn group_is_ours(&self) -> bool {
        stat(self.leader).is_none_or(|s| s.start_ticks == self.leader_start)
    }

    /// Whether the leader is still this tree's (same start time) and not a zombie: a recorded pid may
    /// have been reused since.
    pub fn leader_alive(&self) -> bool {
        stat(self.leader).is_some_and(|s| s.start_ticks == self.leader_start && s.state != b'Z')
    }

    /// Members: with a cgroup, its processes. Otherwise: the leader's process group (while the group
    /// is provably the run's), anything carrying the marker that started no earlier than the leader,
    /// the children of members (whatever their session or environment), and everything seen as a
    /// member before that still exists.
    pub fn scan(&self) -> Scan {
        if let Some(members) = self.cgroup_procs() {
            return Scan {
                members,
                uncertain: Vec::new(),
            };
        }
        let me = std::process::id();
        let marker = format!("TEND_INSTANCE={}", self.instance).into_bytes();
        let group = self.group_is_ours();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Descendants followed through fork events count as seen before (verified by start time).
        seen.extend(super::lineage::members(&self.instance));
        let mut scan = Scan::default();
        let mut still = BTreeMap::new();
        // Processes that are not members (yet): (pid, parent, start), for the ancestry pass.
        let mut others: Vec<(u32, i32, u64)> = Vec::new();
        // Members that exited and are not reaped yet: their children are members too.
        let mut dead: BTreeSet<u32> = BTreeSet::new();
        for pid in all_pids() {
            if pid == me {
                continue;
            }
            let Some(st) = stat(pid) else { continue };
            // Kernel threads (children of kthreadd) have no environment and are never ours.
            if st.start_ticks < self.leader_start || st.ppid == 2 || pid == 2 {
                continue;
            }
            if pid == self.leader && st.start_ticks != self.leader_start {
                continue;
            }
            if st.state == b'Z' {
                // A dead member's children are still members until they are re-parented.
                if pid == self.leader || seen.get(&pid) == Some(&st.start_ticks) {
                    dead.insert(pid);
                }
                continue;
            }
            let member = seen.get(&pid) == Some(&st.start_ticks)
                || (group && st.pgrp == self.leader as i32)
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
            } else {
                others.push((pid, st.ppid, st.start_ticks));
            }
        }
        // A child of a member is a member, however it detached (setsid, a cleared environment).
        loop {
            let before = others.len();
            others.retain(|&(pid, ppid, start)| {
                let parent = ppid as u32;
                let child = ppid > 0 && (still.contains_key(&parent) || dead.contains(&parent));
                if child {
                    still.insert(pid, start);
                    scan.members.push(pid);
                }
                !child
            });
            if others.len() == before {
                break;
            }
        }
        scan.uncertain.retain(|p| !still.contains_key(p));
        *seen = still;
        scan
    }

    /// Records processes the metrics sampler found below the tree's members (pid, start time), so a
    /// descendant that is later re-parented to the daemon stays in the tree it came from.
    pub fn note_members(&self, found: impl IntoIterator<Item = (u32, u64)>) {
        if self.cgroup.is_some() {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.extend(found);
    }

    /// Whether anything of the tree is left (with a cgroup: `populated`).
    pub fn occupied(&self) -> bool {
        match &self.cgroup {
            Some(g) => g.populated(),
            None => !self.scan().is_empty(),
        }
    }

    /// Sends `sig` to the process group (when provably the run's) and to every member. Returns the
    /// scan it acted on.
    pub fn signal(&self, sig: Signal) -> Scan {
        // Scan first: once the leader is gone, its children are re-parented and no longer show it.
        let scan = self.scan();
        if self.cgroup.is_none() && self.group_is_ours() {
            let _ = killpg(Pid::from_raw(self.leader as i32), sig);
        }
        for &pid in &scan.members {
            signal_pid(pid, sig);
        }
        scan
    }

    /// SIGKILL to all of the tree: `cgroup.kill`, or to the group and every member.
    fn kill_all(&self) {
        match &self.cgroup {
            Some(g) => g.kill(),
            None => {
                self.signal(Signal::SIGKILL);
            }
        }
    }

    /// Removes the run's cgroup once the tree is empty (a no-op without one).
    pub fn release(&self) {
        if let Some(g) = &self.cgroup {
            g.remove();
        }
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
                    self.kill_all();
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
        match &self.cgroup {
            Some(g) => drain_cgroup(g, sig, signalled, deadline).await,
            None => drain_with(&self.instance, || self.scan(), sig, signalled, deadline).await,
        }
    }
}

/// What a daemon that died left running on this data dir: the runs it recorded (`trees`), every
/// process that carries one of its markers (`TEND_INSTANCE=<prefix>...`) and, where cgroups contain
/// runs, every run cgroup under this data dir's directory (found by the directory, whatever became of
/// the pids it recorded).
pub struct Leftovers {
    prefix: String,
    trees: Vec<Tree>,
    groups: Vec<RunGroup>,
}

impl Leftovers {
    pub fn new(prefix: String, trees: Vec<Tree>) -> Leftovers {
        Leftovers {
            prefix,
            trees,
            groups: RunGroup::all(),
        }
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
        for g in &self.groups {
            scan.members
                .extend(g.procs().into_iter().filter(|&p| p != me));
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
        let groups = futures_util::future::join_all(
            self.groups
                .iter()
                .map(|g| drain_cgroup(g, sig, BTreeSet::new(), deadline)),
        );
        let rest = drain_with(&label, || self.scan(), sig, BTreeSet::new(), deadline);
        let (groups, rest) = tokio::join!(groups, rest);
        for g in &self.groups {
            g.remove();
        }
        super::cgroup::swept();
        groups.into_iter().any(|k| k) || rest
    }
}

/// The stopping loop of a cgroup: its processes get `sig` (newcomers too, looked for every
/// `RESIGNAL_EVERY`), `cgroup.kill` once `deadline` passes, done when `cgroup.events` says
/// `populated 0` (an inotify wake-up, not a poll). Returns whether `cgroup.kill` was needed.
async fn drain_cgroup(
    group: &RunGroup,
    sig: Signal,
    mut signalled: BTreeSet<u32>,
    deadline: Instant,
) -> bool {
    let me = std::process::id();
    loop {
        for pid in group.procs() {
            if pid != me && signalled.insert(pid) {
                signal_pid(pid, sig);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        if group.wait_empty(deadline.min(now + RESIGNAL_EVERY)).await {
            return false;
        }
    }
    if !group.populated() {
        return false;
    }
    group.kill();
    if !group.wait_empty(Instant::now() + GIVE_UP_AFTER_KILL).await {
        tracing::error!(cgroup = %group.dir.display(), left = ?group.procs(), "processes survive cgroup.kill (uninterruptible sleep?)");
    }
    true
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
    let give_up = deadline + GIVE_UP_AFTER_KILL;
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
