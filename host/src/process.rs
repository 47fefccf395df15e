//! Child processes. **Only this module forks, waits, sends signals or touches cgroups.**
//!
//! - Every service runs as the leader of its own session (and so its own process group).
//! - Where a writable cgroup v2 hierarchy exists (`containment = "auto"` or `"cgroup"`), every run is
//!   created inside a cgroup of its own (`cgroup.rs`, `clone3.rs`): nothing it starts can leave it, and
//!   stopping it ends with `cgroup.kill` and an empty cgroup.
//! - The daemon is a child subreaper (`PR_SET_CHILD_SUBREAPER`): descendants that double-fork away from
//!   their parent are re-parented to us instead of init, so nothing escapes reaping.
//! - One task reaps every child on `SIGCHLD` with `waitpid(-1)` and hands exit statuses to whoever
//!   registered the pid; exits are events, never polled. Nothing else in the daemon may call `wait`.
//! - Every process of a run carries `TEND_INSTANCE=<id>` in its environment; without cgroups, that, the
//!   group, ancestry and the fork events followed by `lineage.rs` find a run's descendants (`tree.rs`).
//! - Everything the daemon runs (a service's run, a cron execution, a job's command) is a `Run`
//!   (`run.rs`): spawn, output sink, timeout or stop request, stop of the whole tree, end record. Trees,
//!   and the loops that stop them, are in `tree.rs`; `posix_spawn.rs` and `clone3.rs` start a program;
//!   `grow_pipe` lets an output sink enlarge a busy pipe.
//! - `node.rs` evaluates a PM2 `.config.js` for `tend import` (the CLI's process, not the daemon's).
//! - `helper.rs` runs the daemon's own short-lived helpers (`tend __compile-plugin`) to their end.
//! - `port.rs` says who listens on a TCP port (from `/proc`; the auto-fix incident's port holder).
//! - At start the soft `RLIMIT_NOFILE` is raised to the hard limit (`raise_nofile_limit`), so the API
//!   can keep its connections below it with room to spare for spawning.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use nix::unistd::Pid;
use tokio::sync::oneshot;

mod cgroup;
mod clone3;
mod helper;
mod lineage;
mod node;
mod port;
mod posix_spawn;
mod run;
mod tree;

pub use cgroup::{Mode as ContainmentMode, contain, containment, release as release_containment};
pub use helper::run_helper;
pub use node::eval_js_config;
pub use port::port_holder;
pub use posix_spawn::grow_pipe;
pub use run::{Ending, Finished, Output, Run, Stopping};
pub use tree::{Leftovers, Tree};

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

/// Raises the soft limit on open descriptors to the hard limit and returns the limit now in force.
/// The API caps its connections below it (`api::ApiSettings::connection_cap`), so a spawn never fails
/// because connections hold every descriptor. Children inherit the raised limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(getrlimit(Resource::RLIMIT_NOFILE)?.0)
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
    /// The run's cgroup, when cgroups contain runs (the child was created inside it).
    pub cgroup: Option<cgroup::RunGroup>,
}

/// Starts `spec` as the leader of a new session with stdin on /dev/null and stdout/stderr on pipes. The
/// environment is the daemon's, then `spec.env`, then `TEND_INSTANCE`. Where cgroups contain runs, the
/// child is created inside a new cgroup of its own (`clone3.rs`); otherwise `posix_spawn` starts it.
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
    let group = match cgroup::root() {
        Some(root) => Some(cgroup::RunGroup::create(root, &spec.instance)?),
        None => None,
    };
    let dir = match &group {
        Some(g) => Some(g.open()?),
        None => None,
    };
    let prepared = posix_spawn::Prepared::new(&spec.argv, spec.cwd.as_deref(), &env);
    // Hold the reaper's lock across the spawn so an immediate exit cannot be reaped before we registered it.
    let mut waiters = waiters().lock().unwrap_or_else(|e| e.into_inner());
    let started = match (&dir, prepared) {
        (Some(dir), Ok(p)) => clone3::spawn_in_cgroup(p, dir),
        (None, Ok(p)) => posix_spawn::spawn_session(p, &spec.argv[0]),
        (_, Err(e)) => Err(e),
    };
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            drop(waiters);
            if let Some(g) = &group {
                g.remove();
            }
            return Err(e);
        }
    };
    let (tx, rx) = oneshot::channel();
    waiters.insert(started.pid as i32, tx);
    // Still under the lock: the child cannot have been reaped, so even an instant exit leaves its stat.
    let start_ticks = stat(started.pid).map(|s| s.start_ticks).unwrap_or(0);
    drop(waiters);
    if group.is_none() {
        lineage::register(started.pid, start_ticks, &spec.instance);
    }
    Ok(Child {
        pid: started.pid,
        start_ticks,
        exit: rx,
        stdout: started.stdout,
        stderr: started.stderr,
        cgroup: group,
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

/// Clock ticks per second of `/proc` CPU times.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
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
    fn exit_display() {
        assert_eq!(Exit::Code(3).to_string(), "exited with code 3");
        assert_eq!(
            Exit::Signal(Signal::SIGKILL).to_string(),
            "killed by SIGKILL"
        );
    }
}
