//! Child processes. **Only this module forks, waits or sends signals.**
//!
//! - Every service runs as the leader of its own session (and so its own process group).
//! - The daemon is a child subreaper (`PR_SET_CHILD_SUBREAPER`): descendants that double-fork away from
//!   their parent are re-parented to us instead of init, so nothing escapes reaping.
//! - One task reaps every child on `SIGCHLD` with `waitpid(-1)` and hands exit statuses to whoever
//!   registered the pid; exits are events, never polled. Nothing else in the daemon may call `wait`.
//! - Every process of a run carries `TEND_INSTANCE=<id>` in its environment, so descendants that left the
//!   process group (setsid) are still found in `/proc` and killed with their tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use tokio::sync::oneshot;

mod posix_spawn;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }

    pub fn signal_name(self) -> Option<String> {
        match self {
            Exit::Signal(s) => Some(s.as_str().to_string()),
            Exit::Code(_) => None,
        }
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exited with code {c}"),
            Exit::Signal(s) => write!(f, "killed by {}", s.as_str()),
        }
    }
}

/// Resources a child used, as `wait4` reports them: its own and those of the descendants it waited for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rusage {
    pub user_us: u64,
    pub system_us: u64,
    /// Peak resident set size, in KiB.
    pub max_rss_kb: u64,
}

/// A reaped child: how it ended and what it used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ended {
    pub exit: Exit,
    pub usage: Rusage,
}

type Waiters = HashMap<i32, oneshot::Sender<Ended>>;

fn waiters() -> &'static Mutex<Waiters> {
    static WAITERS: OnceLock<Mutex<Waiters>> = OnceLock::new();
    WAITERS.get_or_init(Default::default)
}

/// Makes the daemon a subreaper and starts the reaper task. Call once, inside the tokio runtime, before
/// the first spawn.
pub fn init() -> io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integer arguments.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut sigchld = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::child())?;
    tokio::spawn(async move {
        loop {
            reap_all();
            if sigchld.recv().await.is_none() {
                break;
            }
        }
    });
    Ok(())
}

/// Reaps every exited child. Children nobody registered (re-parented orphans) are simply reaped.
fn reap_all() {
    let mut waiters = waiters().lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes only into the two out-pointers, which are valid for the call.
        let pid = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut ru) };
        if pid == 0 {
            return;
        }
        if pid < 0 {
            match Errno::last() {
                Errno::EINTR => continue,
                Errno::ECHILD => return,
                e => {
                    tracing::error!(error = %e, "wait4 failed");
                    return;
                }
            }
        }
        let exit = match WaitStatus::from_raw(Pid::from_raw(pid), status) {
            Ok(WaitStatus::Exited(_, code)) => Exit::Code(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => Exit::Signal(sig),
            _ => continue,
        };
        let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
        let usage = Rusage {
            user_us: micros(ru.ru_utime),
            system_us: micros(ru.ru_stime),
            max_rss_kb: ru.ru_maxrss.max(0) as u64,
        };
        if let Some(tx) = waiters.remove(&pid) {
            let _ = tx.send(Ended { exit, usage });
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct SpawnSpec {
    pub argv: Vec<String>,
    pub cwd: Option<PathBuf>,
    /// Added to (and overriding) the daemon's own environment.
    pub env: BTreeMap<String, String>,
    /// Value of `TEND_INSTANCE`, the marker that finds this run's descendants.
    pub instance: String,
}

/// A started process.
#[derive(Debug)]
pub struct Child {
    pub pid: u32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22): with the pid, identifies the
    /// process across pid reuse.
    pub start_ticks: u64,
    pub exit: oneshot::Receiver<Ended>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Starts `spec` as the leader of a new session with stdin on /dev/null and stdout/stderr on pipes. The
/// environment is the daemon's, then `spec.env`, then `TEND_INSTANCE`.
pub fn spawn(spec: &SpawnSpec) -> io::Result<Child> {
    if spec.argv.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    }
    let mut env: BTreeMap<OsString, OsString> = std::env::vars_os().collect();
    env.extend(
        spec.env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
    env.insert("TEND_INSTANCE".into(), spec.instance.clone().into());
    let env: Vec<(OsString, OsString)> = env.into_iter().collect();
    // Hold the reaper's lock across the spawn so an immediate exit cannot be reaped before we registered it.
    let mut waiters = waiters().lock().unwrap_or_else(|e| e.into_inner());
    let started = posix_spawn::spawn_session(&spec.argv, spec.cwd.as_deref(), &env)?;
    let (tx, rx) = oneshot::channel();
    waiters.insert(started.pid as i32, tx);
    // Still under the lock: the child cannot have been reaped, so even an instant exit leaves its stat.
    let start_ticks = stat(started.pid).map(|s| s.start_ticks).unwrap_or(0);
    drop(waiters);
    Ok(Child {
        pid: started.pid,
        start_ticks,
        exit: rx,
        stdout: started.stdout,
        stderr: started.stderr,
    })
}

/// The fields of `/proc/<pid>/stat` we use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    pub start_ticks: u64,
}

pub fn stat(pid: u32) -> Option<ProcStat> {
    let text = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

fn parse_stat(text: &[u8]) -> Option<ProcStat> {
    // The command name is in parentheses and may contain anything, so split after the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    // rest starts at field 3 (state); starttime is field 22.
    Some(ProcStat {
        state: *fields.first()?.as_bytes().first()?,
        ppid: fields.get(1)?.parse().ok()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

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

    /// Current resource use of the live members (see `usage_of`).
    pub fn usage(&self) -> Usage {
        usage_of(&self.scan().members)
    }

    /// Sends `sig` to the process group and to every member. Returns the scan it acted on.
    pub fn signal(&self, sig: Signal) -> Scan {
        let _ = killpg(Pid::from_raw(self.leader as i32), sig);
        let scan = self.scan();
        for &pid in &scan.members {
            let _ = kill(Pid::from_raw(pid as i32), sig);
        }
        scan
    }
}

impl Tree {
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
    /// `deadline` passes. Returns whether SIGKILL was needed. Descendants that are not our children cannot
    /// be waited for, so this looks at `/proc` again, backing off from 1 ms to 20 ms.
    pub async fn drain(
        &self,
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
            let scan = self.scan();
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
                tracing::error!(instance = %self.instance, left = ?scan.members, "processes survive SIGKILL (uninterruptible sleep?)");
                return killed;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// Resource use of a set of live processes, summed, from `/proc`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub processes: u32,
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// User + system CPU time so far, in clock ticks (`ticks_per_second()` per second).
    pub cpu_ticks: u64,
    pub threads: u64,
    pub open_fds: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// Clock ticks per second of `/proc` CPU times.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Sums the use of `pids`; processes that vanish meanwhile are skipped.
pub fn usage_of(pids: &[u32]) -> Usage {
    let mut u = Usage::default();
    let page = page_size();
    for &pid in pids {
        let Ok(text) = std::fs::read(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = text.iter().rposition(|&b| b == b')') else {
            continue;
        };
        let Ok(rest) = std::str::from_utf8(&text[close + 1..]) else {
            continue;
        };
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        // Fields counted from 3 (state): utime 14, stime 15, num_threads 20, rss 24.
        let field = |n: usize| {
            f.get(n - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        u.processes += 1;
        u.cpu_ticks += field(14) + field(15);
        u.threads += field(20);
        u.rss_bytes += field(24) * page;
        u.open_fds += std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        if let Ok(io) = std::fs::read_to_string(format!("/proc/{pid}/io")) {
            for line in io.lines() {
                let mut parts = line.split(':');
                let (Some(k), Some(v)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let v = v.trim().parse::<u64>().unwrap_or(0);
                match k {
                    "read_bytes" => u.read_bytes += v,
                    "write_bytes" => u.write_bytes += v,
                    _ => {}
                }
            }
        }
    }
    u
}

/// Processes left by an earlier daemon on this data dir: they carry a marker starting with `prefix`.
pub fn marked_with_prefix(prefix: &str) -> Vec<u32> {
    let me = std::process::id();
    let needle = format!("TEND_INSTANCE={prefix}").into_bytes();
    all_pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|&pid| stat(pid).is_some_and(|s| s.state != b'Z'))
        .filter(|&pid| environ_has_prefix(pid, &needle))
        .collect()
}

/// Sends a signal to one process.
pub fn signal_pid(pid: u32, sig: Signal) {
    let _ = kill(Pid::from_raw(pid as i32), sig);
}

/// True while the process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|s| s.state != b'Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_hostile_command_names() {
        let line = b"1822 (evil) name) S 1815 1815 1024 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 6923 3133440 389";
        let st = parse_stat(line).unwrap();
        assert_eq!(
            st,
            ProcStat {
                state: b'S',
                ppid: 1815,
                pgrp: 1815,
                start_ticks: 6923
            }
        );
    }

    #[test]
    fn reads_own_stat() {
        let st = stat(std::process::id()).unwrap();
        assert!(st.start_ticks > 0);
    }

    #[test]
    fn usage_of_self_is_plausible() {
        let u = usage_of(&[std::process::id()]);
        assert_eq!(u.processes, 1);
        assert!(u.rss_bytes > 1024 * 1024, "{u:?}");
        assert!(u.threads >= 1 && u.open_fds >= 3, "{u:?}");
    }

    #[test]
    fn exit_display() {
        assert_eq!(Exit::Code(3).to_string(), "exited with code 3");
        assert_eq!(
            Exit::Signal(Signal::SIGKILL).to_string(),
            "killed by SIGKILL"
        );
    }
}
