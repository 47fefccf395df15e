//! Without cgroups: who forked whom, as it happens, from the kernel's process-event connector (netlink
//! `NETLINK_CONNECTOR`, `CN_IDX_PROC`; needs CAP_NET_ADMIN). A process forked by a member of a run is a
//! member of that run, whatever it does next (`setsid`, a cleared environment, a double fork whose
//! middle process exits at once so that it is re-parented to the daemon): `Tree::scan` adds these to
//! the group, marker and ancestry it finds in `/proc`. Where the connector cannot be opened (no
//! privilege), the daemon does without it: ancestry and the sampler's walks are then all there is.
//!
//! One thread reads the events in order: a fork whose parent is known records the child under the
//! parent's run; an exit forgets the pid (so a reused pid is never taken for a member; each entry also
//! keeps the start time, checked by the reader). Reads and bookkeeping only: no signal is sent here.
//!
//! The connector reports every fork, exec, exit and more of every thread on the machine. A socket
//! filter (classic BPF, run by the kernel before an event is queued) lets through only process forks
//! and process exits, the two this module reads: a busy machine's threads, execs and renames no longer
//! wake the daemon.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// What is known of the runs' descendants.
#[derive(Default)]
struct Lineage {
    /// pid -> (start ticks, 0 when the process was gone before it could be read; the run's instance).
    known: HashMap<u32, (u64, String)>,
    /// The latest forks whose parent was not known (parent, child): a leader registered just after
    /// its spawn may already have forked.
    recent: VecDeque<(u32, u32)>,
}

const RECENT: usize = 4096;

static LINEAGE: OnceLock<Mutex<Lineage>> = OnceLock::new();

fn lineage() -> Option<std::sync::MutexGuard<'static, Lineage>> {
    Some(LINEAGE.get()?.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Records a run's leader, from which its descendants are followed.
pub(super) fn register(pid: u32, start_ticks: u64, instance: &str) {
    let Some(mut l) = lineage() else { return };
    l.known.insert(pid, (start_ticks, instance.to_string()));
    // Forks that happened before this registration, in order: children of the leader, theirs, ...
    let recent: Vec<(u32, u32)> = l.recent.iter().copied().collect();
    for (parent, child) in recent {
        if let Some((_, i)) = l.known.get(&parent)
            && i == instance
        {
            let start = super::stat(child).map_or(0, |s| s.start_ticks);
            l.known.insert(child, (start, instance.to_string()));
        }
    }
}

/// Processes followed as descendants of `instance`'s run, with their start time (those whose start
/// time could not be read are left out: they only served to attribute their children).
pub(super) fn members(instance: &str) -> Vec<(u32, u64)> {
    lineage()
        .map(|l| {
            l.known
                .iter()
                .filter(|(_, (start, i))| *start != 0 && i == instance)
                .map(|(&pid, &(start, _))| (pid, start))
                .collect()
        })
        .unwrap_or_default()
}

const NETLINK_CONNECTOR: libc::c_int = 11;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_EVENT_FORK: u32 = 0x0000_0001;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDR: usize = 16;
const CN_MSG: usize = 20;
/// `what`, `cpu`, `timestamp_ns` before the event's data.
const EVENT_HDR: usize = 16;
/// `SO_ATTACH_FILTER` (asm-generic/socket.h; the same on x86 and arm).
const SO_ATTACH_FILTER: libc::c_int = 26;

/// Events the thread has received (after the filter), for the tests.
static RECEIVED: AtomicU64 = AtomicU64::new(0);

#[cfg(test)]
pub(super) fn received() -> u64 {
    RECEIVED.load(Ordering::Relaxed)
}

/// The filter: accept a fork whose child is a process (`child_pid == child_tgid`) and an exit of a
/// process (`pid == tgid`), drop everything else. Classic BPF loads words big-endian and the connector
/// writes them in the machine's order, so the event codes are compared as such a load sees them; the
/// pid comparisons compare two loads of the same kind and need no conversion.
fn filter() -> [libc::sock_filter; 13] {
    const WHAT: u32 = (NLMSG_HDR + CN_MSG) as u32;
    const DATA: u32 = WHAT + EVENT_HDR as u32;
    let seen = |code: u32| u32::from_be_bytes(code.to_ne_bytes());
    let op = |code: u32, k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let load = |at: u32| op(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, at, 0, 0);
    let tax = op(libc::BPF_MISC | libc::BPF_TAX, 0, 0, 0);
    let eq_k = |k: u32, jt: u8, jf: u8| op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, k, jt, jf);
    let eq_x = |jt: u8, jf: u8| op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_X, 0, jt, jf);
    let ret = |k: u32| op(libc::BPF_RET | libc::BPF_K, k, 0, 0);
    // A jump's target is the next instruction plus its offset.
    [
        /* 0 */ load(WHAT),
        /* 1 */ eq_k(seen(PROC_EVENT_FORK), 0, 4), // fork: 2, else 6
        /* 2 */ load(DATA + 8), // child_pid
        /* 3 */ tax,
        /* 4 */ load(DATA + 12), // child_tgid
        /* 5 */ eq_x(5, 6), // a process: 11, a thread: 12
        /* 6 */ eq_k(seen(PROC_EVENT_EXIT), 0, 5), // exit: 7, else 12
        /* 7 */ load(DATA), // process_pid
        /* 8 */ tax,
        /* 9 */ load(DATA + 4), // process_tgid
        /* 10 */ eq_x(0, 1), // a process: 11, a thread: 12
        /* 11 */ ret(u32::MAX),
        /* 12 */ ret(0),
    ]
}

fn attach_filter(fd: &OwnedFd) -> io::Result<()> {
    let mut program = filter();
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: setsockopt with a sock_fprog pointing at a live array of its stated length; the kernel
    // copies the program.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as u32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Starts following fork and exit events; an error means the connector is not available here.
pub(super) fn start() -> io::Result<()> {
    // SAFETY: socket with constant arguments; the descriptor is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            NETLINK_CONNECTOR,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just created and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // Before bind: no unfiltered event is ever queued.
    attach_filter(&fd)?;
    // SAFETY: an all-zero sockaddr_nl is valid; the fields are set below.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = CN_IDX_PROC;
    // SAFETY: bind with a valid sockaddr_nl of its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut msg = Vec::with_capacity(NLMSG_HDR + CN_MSG + 4);
    let total = (NLMSG_HDR + CN_MSG + 4) as u32;
    msg.extend_from_slice(&total.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&std::process::id().to_ne_bytes());
    msg.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    msg.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&4u16.to_ne_bytes());
    msg.extend_from_slice(&0u16.to_ne_bytes());
    msg.extend_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: sends a local buffer of the given length.
    let sent = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    if LINEAGE.set(Mutex::new(Lineage::default())).is_err() {
        return Ok(());
    }
    std::thread::Builder::new()
        .name("tend-lineage".into())
        .spawn(move || follow(fd))?;
    Ok(())
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn follow(fd: OwnedFd) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: receives into a local buffer of the given length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Events were dropped: some forks may be missed; the /proc rules still apply.
                Some(libc::ENOBUFS) => {
                    tracing::warn!("process events were lost (the daemon fell behind)");
                    continue;
                }
                _ => {
                    tracing::error!(error = %e, "process-event connector failed; fork tracking stops");
                    return;
                }
            }
        }
        let mut at = 0;
        let end = n as usize;
        while at + NLMSG_HDR <= end {
            let Some(len) = u32_at(&buf, at).map(|l| l as usize) else {
                break;
            };
            if len < NLMSG_HDR || at + len > end {
                break;
            }
            RECEIVED.fetch_add(1, Ordering::Relaxed);
            handle(&buf[at + NLMSG_HDR + CN_MSG..at + len]);
            at += (len + 3) & !3;
        }
    }
}

fn handle(event: &[u8]) {
    let Some(what) = u32_at(event, 0) else { return };
    let data = EVENT_HDR;
    match what {
        PROC_EVENT_FORK => {
            let (Some(parent), Some(child_pid), Some(child)) = (
                u32_at(event, data + 4),
                u32_at(event, data + 8),
                u32_at(event, data + 12),
            ) else {
                return;
            };
            // A new thread is not a new process.
            if child_pid != child {
                return;
            }
            let Some(mut l) = lineage() else { return };
            match l.known.get(&parent) {
                Some((_, instance)) => {
                    let instance = instance.clone();
                    // Read now, while the child most likely still runs (its start time guards pid reuse).
                    let start = super::stat(child).map_or(0, |s| s.start_ticks);
                    l.known.insert(child, (start, instance));
                }
                // Most forks on the machine are not ours: kept for a moment, not read.
                None => {
                    if l.recent.len() == RECENT {
                        l.recent.pop_front();
                    }
                    l.recent.push_back((parent, child));
                }
            }
        }
        PROC_EVENT_EXIT => {
            let (Some(pid), Some(tgid)) = (u32_at(event, data), u32_at(event, data + 4)) else {
                return;
            };
            if pid == tgid
                && let Some(mut l) = lineage()
            {
                l.known.remove(&pid);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs CAP_NET_ADMIN, as the daemon does for this connector (the test suite runs as root).
    #[test]
    fn only_process_forks_and_exits_get_past_the_filter() {
        start().expect("the process-event connector (run the tests as root)");
        let me = std::process::id();
        register(
            me,
            super::super::stat(me).map_or(0, |s| s.start_ticks),
            "lineage-test",
        );
        let before = received();
        // 200 threads started and ended: 400 events without the filter.
        for _ in 0..200 {
            std::thread::spawn(|| {}).join().unwrap();
        }
        // The fork of a child comes after the threads' events: once it is recorded, they would all
        // have been read.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !members("lineage-test")
            .iter()
            .any(|&(pid, _)| pid == child.id())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the child's fork never arrived"
            );
            std::thread::yield_now();
        }
        let got = received() - before;
        child.kill().unwrap();
        child.wait().unwrap();
        // Other processes on the machine may fork meanwhile; the threads alone would add 400.
        assert!(got < 100, "{got} events: thread events are not filtered");
    }
}
