//! What a supervisor costs, read from `/proc`: which processes are its own (the supervisor and any
//! helper it spawned, not the services it runs), their memory (`smaps_rollup`: PSS, its private/shared
//! split, RSS), threads, and CPU time to the nanosecond (the process CPU clock, `clock_getcpuclockid`,
//! which counts threads that already ended; `/proc/<pid>/stat`'s ticks are 10 ms, too coarse for
//! a goal of 0.02 % of a core over 30 s).

use std::collections::BTreeMap;

use anyhow::{Context, bail};

/// Memory and threads summed over a set of processes, in kB as the kernel reports them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub pss_kb: u64,
    /// PSS of anonymous memory (heap, stacks): what is the process's alone.
    pub pss_anon_kb: u64,
    /// PSS of file pages (the binary, shared libraries).
    pub pss_file_kb: u64,
    pub private_kb: u64,
    pub shared_kb: u64,
    pub rss_kb: u64,
    pub threads: u64,
    pub processes: u64,
}

impl Usage {
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "pss_mb": mb(self.pss_kb), "pss_anon_mb": mb(self.pss_anon_kb),
            "pss_file_mb": mb(self.pss_file_kb), "private_mb": mb(self.private_kb),
            "shared_mb": mb(self.shared_kb), "rss_mb": mb(self.rss_kb),
            "threads": self.threads, "processes": self.processes,
        })
    }
}

/// kB (kernel's 1024 bytes) -> MB (10^6 bytes), as the table counts.
pub fn mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

/// `root` and its descendants, leaving out every process in `services` and everything below them:
/// the supervisor's own processes.
pub fn own_processes(root: u32, services: &[u32]) -> anyhow::Result<Vec<u32>> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Some(pid) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read.
        if let Ok(ppid) = ppid(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut own = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        if services.contains(&pid) {
            continue;
        }
        own.push(pid);
        todo.extend(children.get(&pid).into_iter().flatten());
    }
    Ok(own)
}

fn stat_fields(pid: u32) -> anyhow::Result<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    let rest = stat.rsplit_once(')').context("malformed /proc/pid/stat")?.1;
    Ok(rest.split_whitespace().map(str::to_string).collect())
}

fn ppid(pid: u32) -> anyhow::Result<u32> {
    Ok(stat_fields(pid)?.get(1).context("no ppid")?.parse()?)
}

/// Memory and threads of `pids` (processes that ended meanwhile are skipped).
pub fn usage(pids: &[u32]) -> anyhow::Result<Usage> {
    let mut u = Usage::default();
    for &pid in pids {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        let field = |key: &str| -> u64 {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        u.pss_kb += field("Pss");
        u.pss_anon_kb += field("Pss_Anon");
        u.pss_file_kb += field("Pss_File");
        u.private_kb += field("Private_Clean") + field("Private_Dirty");
        u.shared_kb += field("Shared_Clean") + field("Shared_Dirty");
        u.rss_kb += field("Rss");
        u.threads += std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        u.processes += 1;
    }
    if u.processes == 0 {
        bail!("none of the processes {pids:?} could be read");
    }
    Ok(u)
}

/// CPU time (user + system) `pid` has used, every thread included, in nanoseconds.
pub fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: plain calls with valid out-pointers; a pid that is gone gives an error, not UB.
    let ts = unsafe {
        if libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) != 0 {
            bail!("no CPU clock for pid {pid}");
        }
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clock, &mut ts) != 0 {
            bail!(
                "cannot read the CPU clock of pid {pid}: {}",
                std::io::Error::last_os_error()
            );
        }
        ts
    };
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// CPU time of every pid still there, summed; a pid missing from `before` counts from zero.
pub fn cpu_ns_all(pids: &[u32]) -> BTreeMap<u32, u64> {
    pids.iter()
        .filter_map(|&p| cpu_ns(p).ok().map(|ns| (p, ns)))
        .collect()
}

/// % of one core `pids` used between two readings `seconds` apart.
pub fn cpu_percent(before: &BTreeMap<u32, u64>, after: &BTreeMap<u32, u64>, seconds: f64) -> f64 {
    let used: u64 = after
        .iter()
        .map(|(pid, ns)| ns.saturating_sub(before.get(pid).copied().unwrap_or(0)))
        .sum();
    used as f64 / 1e9 / seconds * 100.0
}
