//! One sampled process tree (a service's run or a watched job execution): which processes belong to it
//! and what each had used at the previous sample, so that CPU time and I/O become per-interval deltas.
//!
//! Membership without scanning `/proc`: a tree is its leader, every descendant reached through the
//! `children` files of known members, and the orphans the daemon adopted as subreaper that carry the
//! tree's group or `TEND_INSTANCE` marker (`Adoptions`). Because the daemon is a child subreaper,
//! every process that leaves its parent ends up as one of those, so nothing escapes. The `children`
//! files are walked at most every few seconds (`Clock::walk_every_ticks`); in between, the known
//! members are re-read and late finds are accounted so totals stay exact and rates stay plausible.
//! Kernels without `children` files fall back to `Tree::scan` (a full `/proc` pass) on every sample.
//! The members a walk finds are handed back to the tree (`Tree::note_members`), so a descendant later
//! re-parented to the daemon, its environment cleared, is still stopped with the tree it came from.
//!
//! A run in a cgroup of its own needs none of that: its members are `cgroup.procs` and its CPU time is
//! the cgroup's `cpu.stat` (which also counts processes that ended between two samples); only the
//! per-process figures (memory, threads, descriptors, I/O) are still read from `/proc`.
//!
//! What did not run is not read again: the cost of a sample follows what changed, not how many
//! processes exist. A cgroup whose `cpu.stat` did not move ran nothing, so no process in it started,
//! ended, grew, opened a file or did I/O: its last reading stands (with no use) and that one read is
//! all. Without a cgroup the same holds per single-threaded process, from `/proc/<pid>/schedstat`
//! (exact run time and times scheduled, unlike `stat`'s clock-tick CPU times): an unchanged one keeps
//! its figures, and a walk takes its children from the last sample (a process that did not run forked
//! nothing). Memory is the one figure that can move without the process running (the kernel reclaims
//! pages, or collapses them into huge pages), so everything is read afresh at least every
//! `Clock::reread_every_ticks`.

use std::collections::HashMap;
use std::sync::Arc;

use super::procfs::{self, Stat};
use crate::process::Tree;

/// What a member had used at the previous sample, and its figures then.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    start_ticks: u64,
    cpu_ticks: u64,
    read_bytes: u64,
    write_bytes: u64,
    ppid: u32,
    rss_pages: u64,
    threads: u64,
    open_fds: u64,
    /// `schedstat` (run ns, times scheduled), read before the other files, of a process that had one
    /// thread; `None` otherwise (a multi-threaded process is always read afresh).
    sched: Option<(u64, u64)>,
    /// `Clock::now_ticks` when the figures were read.
    read_at: u64,
    /// Its `children` were read since it last ran: its children in `seen` are all it has.
    children_known: bool,
}

/// Figures of one tree at one sample.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reading {
    pub processes: u64,
    pub rss_bytes: u64,
    /// % of one core since the previous sample (over the tree's lifetime at its first sample).
    pub cpu_percent: f64,
    /// CPU seconds used since the previous sample.
    pub cpu_seconds: f64,
    pub threads: u64,
    pub open_fds: u64,
    /// Storage bytes read / written since the previous sample.
    pub read_bytes: u64,
    pub write_bytes: u64,
    /// Storage bytes read / written per second over the interval.
    pub read_bps: f64,
    pub write_bps: f64,
    /// Seconds since the previous sample (0 at the first).
    pub elapsed_s: f64,
}

/// Clock and kernel facts shared by all trees of one sample.
pub struct Clock {
    /// Now, in clock ticks since boot.
    pub now_ticks: u64,
    pub ticks_per_second: u64,
    pub page_size: u64,
    pub children_supported: bool,
    /// Look for new descendants (read every member's `children`) at least this often, in ticks.
    pub walk_every_ticks: u64,
    /// Whether `/proc/<pid>/schedstat` exists (see the module's doc).
    pub schedstat_supported: bool,
    /// Read every member afresh at least this often, in ticks, even when it did not run.
    pub reread_every_ticks: u64,
}

pub struct Tracker {
    pub tree: Arc<Tree>,
    seen: HashMap<u32, Seen>,
    /// `Clock::now_ticks` of the previous sample.
    last_ticks: Option<u64>,
    /// `Clock::now_ticks` of the last walk through the `children` files.
    last_walk: Option<u64>,
    /// A member seen before was gone at the last sample: the tree is changing, walk again.
    lost_member: bool,
    /// The cgroup's `usage_usec` at the previous sample (runs in a cgroup of their own).
    cgroup_usec: Option<u64>,
    /// The figures of the last sample that read the members, and when it was (`Clock::now_ticks`).
    last_read: Option<(Reading, u64)>,
}

impl Tracker {
    pub fn new(tree: Arc<Tree>) -> Tracker {
        Tracker {
            tree,
            seen: HashMap::new(),
            last_ticks: None,
            last_walk: None,
            lost_member: false,
            cgroup_usec: None,
            last_read: None,
        }
    }

    /// Reads every member: the leader, the `adopted` roots and the members known from before; and, on
    /// a walk, every descendant reachable through `children` files. Walks happen at the first sample,
    /// every `walk_every_ticks`, and after a member vanished; between walks new processes are found
    /// only as adopted orphans. (The `children` reads are a third of a sample's cost.)
    pub fn sample(&mut self, clock: &Clock, adopted: &[u32], buf: &mut Vec<u8>) -> Reading {
        let cgroup = self.tree.cgroup_usage();
        if let (Some(usage), Some(before), Some(last), Some((read, read_at))) =
            (cgroup, self.cgroup_usec, self.last_ticks, self.last_read)
            && usage.cpu_usec == before
            && clock.now_ticks.saturating_sub(read_at) < clock.reread_every_ticks
        {
            // Nothing in the cgroup ran since the previous sample.
            self.last_ticks = Some(clock.now_ticks);
            return Reading {
                processes: read.processes,
                rss_bytes: read.rss_bytes,
                threads: read.threads,
                open_fds: read.open_fds,
                elapsed_s: clock.now_ticks.saturating_sub(last) as f64
                    / clock.ticks_per_second.max(1) as f64,
                ..Reading::default()
            };
        }
        let cgroup_procs = cgroup.and_then(|_| self.tree.cgroup_procs());
        let walk = cgroup_procs.is_none()
            && clock.children_supported
            && (self.lost_member
                || self
                    .last_walk
                    .is_none_or(|w| clock.now_ticks.saturating_sub(w) >= clock.walk_every_ticks));
        let mut queue: Vec<u32> = if let Some(procs) = cgroup_procs {
            procs
        } else if clock.children_supported {
            let mut q = vec![self.tree.leader];
            q.extend_from_slice(adopted);
            if !walk {
                q.extend(self.seen.keys());
            }
            q
        } else {
            self.tree.scan().members
        };
        // On a walk, the children of a member that did not run are the ones it had.
        let mut children_of: HashMap<u32, Vec<u32>> = HashMap::new();
        if walk {
            for (&pid, s) in &self.seen {
                children_of.entry(s.ppid).or_default().push(pid);
            }
        }
        let mut now: HashMap<u32, Seen> = HashMap::with_capacity(self.seen.len() + 1);
        let mut r = Reading::default();
        let mut cpu_delta = 0u64;
        let mut lifetime_cpu = 0u64;
        // Use within this interval (for rates): `cpu_delta` minus what late finds used before it.
        let (mut cpu_rate, mut read_rate, mut write_rate) = (0.0, 0.0, 0.0);
        while let Some(pid) = queue.pop() {
            if now.contains_key(&pid) {
                continue;
            }
            let before = self.seen.get(&pid).copied();
            // Read first: a change while the rest is read shows at the next sample.
            let sched = if clock.schedstat_supported && before.is_none_or(|s| s.sched.is_some()) {
                procfs::schedstat(pid, buf)
            } else {
                None
            };
            if let Some(s) = before
                && sched.is_some()
                && s.sched == sched
                && clock.now_ticks.saturating_sub(s.read_at) < clock.reread_every_ticks
            {
                // Did not run since the previous sample: same figures, no use, and no children
                // other than those it had when it last ran.
                let mut s = s;
                lifetime_cpu += s.cpu_ticks;
                r.processes += 1;
                r.rss_bytes += s.rss_pages * clock.page_size;
                r.threads += s.threads;
                r.open_fds += s.open_fds;
                if walk && s.children_known {
                    if let Some(children) = children_of.get(&pid) {
                        queue.extend_from_slice(children);
                    }
                } else if walk {
                    procfs::children(pid, s.threads, buf, &mut queue);
                    s.children_known = true;
                }
                now.insert(pid, s);
                continue;
            }
            let Some(st) = procfs::stat(pid, buf) else {
                continue;
            };
            // Zombies hold nothing; anything older than the leader is a reused pid, not a member.
            if st.is_dead() || st.start_ticks < self.tree.leader_start {
                continue;
            }
            if pid == self.tree.leader && st.start_ticks != self.tree.leader_start {
                continue;
            }
            let (read, write) = procfs::io(pid, buf);
            let open_fds = procfs::open_fds(pid);
            let seen = Seen {
                start_ticks: st.start_ticks,
                cpu_ticks: st.cpu_ticks,
                read_bytes: read,
                write_bytes: write,
                ppid: st.ppid,
                rss_pages: st.rss_pages,
                threads: st.threads,
                open_fds,
                sched: sched.filter(|_| st.threads == 1),
                read_at: clock.now_ticks,
                children_known: walk,
            };
            let (before, share) = self.baseline(pid, &st, clock.now_ticks);
            let cpu = seen.cpu_ticks.saturating_sub(before.cpu_ticks);
            let read = seen.read_bytes.saturating_sub(before.read_bytes);
            let write = seen.write_bytes.saturating_sub(before.write_bytes);
            cpu_delta += cpu;
            lifetime_cpu += seen.cpu_ticks;
            r.read_bytes += read;
            r.write_bytes += write;
            cpu_rate += cpu as f64 * share;
            read_rate += read as f64 * share;
            write_rate += write as f64 * share;
            r.processes += 1;
            r.rss_bytes += st.rss_pages * clock.page_size;
            r.threads += st.threads;
            r.open_fds += open_fds;
            now.insert(pid, seen);
            if walk {
                procfs::children(pid, st.threads, buf, &mut queue);
            }
        }
        let tps = clock.ticks_per_second.max(1) as f64;
        if walk || (cgroup.is_none() && !clock.children_supported) {
            self.tree
                .note_members(now.iter().map(|(&pid, s)| (pid, s.start_ticks)));
        }
        match self.last_ticks {
            Some(last) => {
                r.elapsed_s = clock.now_ticks.saturating_sub(last) as f64 / tps;
                r.cpu_seconds = cpu_delta as f64 / tps;
                if r.elapsed_s > 0.0 {
                    r.cpu_percent = cpu_rate / tps / r.elapsed_s * 100.0;
                    r.read_bps = read_rate / r.elapsed_s;
                    r.write_bps = write_rate / r.elapsed_s;
                }
            }
            None => {
                // No previous sample: the average over the tree's life is the best estimate.
                let lived = clock.now_ticks.saturating_sub(self.tree.leader_start) as f64 / tps;
                r.cpu_seconds = lifetime_cpu as f64 / tps;
                if lived > 0.0 {
                    r.cpu_percent = r.cpu_seconds / lived * 100.0;
                }
            }
        }
        if let Some(usage) = cgroup {
            // The cgroup's own count replaces the sum over the processes seen: exact, and it includes
            // processes that ended since the previous sample.
            let total = usage.cpu_usec as f64 / 1e6;
            match self.cgroup_usec.filter(|_| self.last_ticks.is_some()) {
                Some(before) => {
                    r.cpu_seconds = usage.cpu_usec.saturating_sub(before) as f64 / 1e6;
                    r.cpu_percent = if r.elapsed_s > 0.0 {
                        r.cpu_seconds / r.elapsed_s * 100.0
                    } else {
                        0.0
                    };
                }
                None => {
                    let lived = clock.now_ticks.saturating_sub(self.tree.leader_start) as f64 / tps;
                    r.cpu_seconds = total;
                    r.cpu_percent = if lived > 0.0 {
                        total / lived * 100.0
                    } else {
                        0.0
                    };
                }
            }
            self.cgroup_usec = Some(usage.cpu_usec);
        }
        self.lost_member = self.seen.keys().any(|pid| !now.contains_key(pid));
        self.seen = now;
        self.last_ticks = Some(clock.now_ticks);
        self.last_read = Some((r, clock.now_ticks));
        // A full `/proc` scan (no `children` files) is a walk too.
        if walk || !clock.children_supported {
            self.last_walk = Some(clock.now_ticks);
        }
        r
    }

    /// What `pid` had used at the previous sample, and the share of its use since then that falls
    /// in this interval. A process not seen then counts from zero when it started after the last walk
    /// (nothing of it was ever counted): all of it when it started in this interval, else the share of
    /// its life this interval is. Otherwise it was missed by a walk, and counts from now.
    fn baseline(&self, pid: u32, st: &Stat, now_ticks: u64) -> (Seen, f64) {
        let zero = Seen {
            start_ticks: st.start_ticks,
            ..Seen::default()
        };
        if let Some(s) = self
            .seen
            .get(&pid)
            .filter(|s| s.start_ticks == st.start_ticks)
        {
            return (*s, 1.0);
        }
        let (Some(last), Some(walked)) = (self.last_ticks, self.last_walk) else {
            return (zero, 1.0);
        };
        if st.start_ticks >= last {
            (zero, 1.0)
        } else if st.start_ticks >= walked {
            let lived = now_ticks.saturating_sub(st.start_ticks).max(1) as f64;
            (
                zero,
                (now_ticks.saturating_sub(last) as f64 / lived).min(1.0),
            )
        } else {
            let now = Seen {
                start_ticks: st.start_ticks,
                cpu_ticks: st.cpu_ticks,
                read_bytes: u64::MAX,
                write_bytes: u64::MAX,
                ..Seen::default()
            };
            (now, 1.0)
        }
    }
}

/// The daemon's adopted orphans (children that are not leaders), each assigned to the tree it belongs
/// to by process group or marker. Remembered by pid and start time so each environment is read once.
#[derive(Default)]
pub struct Adoptions {
    known: HashMap<u32, (u64, String)>,
}

impl Adoptions {
    /// Orphans per tree instance. `trees` are the trees being sampled.
    pub fn assign(&mut self, trees: &[Arc<Tree>], buf: &mut Vec<u8>) -> HashMap<String, Vec<u32>> {
        let leaders: HashMap<u32, &Tree> = trees.iter().map(|t| (t.leader, &**t)).collect();
        let mut out: HashMap<String, Vec<u32>> = HashMap::new();
        let mut still = HashMap::new();
        for pid in procfs::own_children(buf) {
            if leaders.contains_key(&pid) {
                continue;
            }
            let Some(st) = procfs::stat(pid, buf) else {
                continue;
            };
            if st.is_dead() {
                continue;
            }
            let instance = match self.known.remove(&pid) {
                Some((start, instance)) if start == st.start_ticks => Some(instance),
                _ => match leaders.get(&(st.pgrp as u32)) {
                    Some(t) if st.start_ticks >= t.leader_start => Some(t.instance.clone()),
                    _ => procfs::instance_of(pid),
                },
            };
            // Not remembered when unknown: the environment reads empty while a process is in execve.
            if let Some(i) = instance {
                out.entry(i.clone()).or_default().push(pid);
                still.insert(pid, (st.start_ticks, i));
            }
        }
        self.known = still;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        let tps = crate::process::ticks_per_second();
        Clock {
            now_ticks: procfs::uptime_ticks(tps),
            ticks_per_second: tps,
            page_size: procfs::page_size(),
            children_supported: procfs::children_supported(),
            walk_every_ticks: 0,
            schedstat_supported: procfs::schedstat_supported(),
            reread_every_ticks: 0,
        }
    }

    #[test]
    fn counts_cpu_between_samples_as_a_delta() {
        let me = std::process::id();
        let mut buf = Vec::new();
        let start = procfs::stat(me, &mut buf).unwrap().start_ticks;
        let mut t = Tracker::new(Arc::new(Tree::new(me, start, "test".into())));
        let first = t.sample(&clock(), &[], &mut buf);
        assert!(first.processes >= 1 && first.rss_bytes > 0 && first.threads >= 1);
        assert_eq!(first.elapsed_s, 0.0);
        // Burn ~200 ms of CPU, then sample again.
        let busy = std::time::Instant::now();
        let mut x = 0u64;
        while busy.elapsed() < std::time::Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let second = t.sample(&clock(), &[], &mut buf);
        assert!(second.elapsed_s > 0.2, "{second:?}");
        assert!(second.cpu_seconds > 0.1, "{second:?}");
        assert!(second.cpu_percent > 20.0, "{second:?}");
        // A tree whose leader's start time does not match is a reused pid: nothing is counted.
        let mut stale = Tracker::new(Arc::new(Tree::new(me, start + 1, "test".into())));
        assert_eq!(stale.sample(&clock(), &[], &mut buf).processes, 0);
    }
}
