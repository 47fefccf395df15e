//! Read-only `/proc` access for the sampler: the per-process files of the processes it already knows
//! (`stat`, `schedstat`, `fd`, `io`, `task/*/children`) and the daemon's own children. It never lists `/proc` as a
//! whole (`process::Tree::scan` does, and is only the fallback when the kernel lacks `children` files);
//! it never signals or waits (that is `process`'s).

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

/// The fields of `/proc/<pid>/stat` the sampler uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    pub state: u8,
    pub ppid: u32,
    pub pgrp: i32,
    /// utime + stime, clock ticks.
    pub cpu_ticks: u64,
    pub threads: u64,
    /// Clock ticks since boot.
    pub start_ticks: u64,
    pub rss_pages: u64,
}

impl Stat {
    pub fn is_dead(&self) -> bool {
        matches!(self.state, b'Z' | b'X' | b'x')
    }
}

/// Reads `path` into `buf` (replacing its content); false when it cannot be read. These `/proc` files
/// are generated whole at the first read, so a read that does not fill the buffer is the end: this
/// saves the usual second read that confirms EOF, on the sampler's hottest path.
fn read_into(path: &str, buf: &mut Vec<u8>) -> bool {
    const CHUNK: usize = 4096;
    let Ok(mut f) = File::open(path) else {
        buf.clear();
        return false;
    };
    let mut n = 0;
    loop {
        if buf.len() < n + CHUNK {
            buf.resize(n + CHUNK, 0);
        }
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if n < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                buf.clear();
                return false;
            }
        }
    }
    buf.truncate(n);
    true
}

pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    // The command name is in parentheses and may contain anything: split after the last ')'.
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&text[close + 1..]).ok()?;
    let mut st = Stat::default();
    // Field numbers as in proc(5); `rest` starts at field 3 (state).
    for (i, f) in rest.split_ascii_whitespace().enumerate() {
        let n = |f: &str| f.parse::<u64>().ok();
        match i + 3 {
            3 => st.state = *f.as_bytes().first()?,
            4 => st.ppid = f.parse().ok()?,
            5 => st.pgrp = f.parse().ok()?,
            14 | 15 => st.cpu_ticks += n(f)?,
            20 => st.threads = n(f)?,
            22 => st.start_ticks = n(f)?,
            24 => {
                st.rss_pages = n(f)?;
                return Some(st);
            }
            _ => {}
        }
    }
    None
}

pub fn stat(pid: u32, buf: &mut Vec<u8>) -> Option<Stat> {
    if !read_into(&format!("/proc/{pid}/stat"), buf) {
        return None;
    }
    parse_stat(buf)
}

/// `/proc/<pid>/schedstat`: the main thread's time on a CPU (ns) and how often it was scheduled.
/// Exact (not sampled at clock ticks like `stat`'s CPU times), and it moves whenever the thread runs
/// at all, so two equal readings of a single-threaded process mean it did nothing in between.
pub fn schedstat(pid: u32, buf: &mut Vec<u8>) -> Option<(u64, u64)> {
    if !read_into(&format!("/proc/{pid}/schedstat"), buf) {
        return None;
    }
    parse_schedstat(buf)
}

fn parse_schedstat(text: &[u8]) -> Option<(u64, u64)> {
    let mut f = std::str::from_utf8(text).ok()?.split_ascii_whitespace();
    let run_ns = f.next()?.parse().ok()?;
    let _waited_ns = f.next()?;
    let slices = f.next()?.parse().ok()?;
    Some((run_ns, slices))
}

/// Whether this kernel has `/proc/<pid>/schedstat` (CONFIG_SCHED_INFO).
pub fn schedstat_supported() -> bool {
    schedstat(std::process::id(), &mut Vec::new()).is_some()
}

/// Open file descriptors. Since Linux 6.2 the size of `/proc/<pid>/fd` is the count; older kernels
/// say 0 there, and the directory is listed instead.
pub fn open_fds(pid: u32) -> u64 {
    let dir = format!("/proc/{pid}/fd");
    match std::fs::metadata(&dir) {
        Ok(m) if m.size() > 0 => m.size(),
        Ok(_) => std::fs::read_dir(&dir)
            .map(|d| d.count() as u64)
            .unwrap_or(0),
        Err(_) => 0,
    }
}

/// `read_bytes` and `write_bytes` of `/proc/<pid>/io` (storage I/O the process caused).
pub fn io(pid: u32, buf: &mut Vec<u8>) -> (u64, u64) {
    if !read_into(&format!("/proc/{pid}/io"), buf) {
        return (0, 0);
    }
    parse_io(buf)
}

fn parse_io(text: &[u8]) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for line in text.split(|&b| b == b'\n') {
        let value = |prefix: &[u8]| {
            let v = line.strip_prefix(prefix)?;
            std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok()
        };
        if let Some(v) = value(b"read_bytes:") {
            read = v;
        } else if let Some(v) = value(b"write_bytes:") {
            write = v;
        }
    }
    (read, write)
}

fn push_pids(text: &[u8], out: &mut Vec<u32>) {
    out.extend(
        text.split(|b| b.is_ascii_whitespace())
            .filter_map(|p| std::str::from_utf8(p).ok()?.parse::<u32>().ok()),
    );
}

/// Appends the children of `pid` to `out`. A child is listed under the thread that forked it, so a
/// multi-threaded process has every thread's list read.
pub fn children(pid: u32, threads: u64, buf: &mut Vec<u8>, out: &mut Vec<u32>) {
    if threads <= 1 {
        if read_into(&format!("/proc/{pid}/task/{pid}/children"), buf) {
            push_pids(buf, out);
        }
        return;
    }
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let tid = task.file_name();
        let Some(tid) = tid.to_str() else { continue };
        if read_into(&format!("/proc/{pid}/task/{tid}/children"), buf) {
            push_pids(buf, out);
        }
    }
}

/// The daemon's own children: service and job leaders, and the orphans it adopted as subreaper.
pub fn own_children(buf: &mut Vec<u8>) -> Vec<u32> {
    let me = std::process::id();
    let mut out = Vec::new();
    children(me, u64::MAX, buf, &mut out);
    out
}

/// Whether this kernel has `/proc/<pid>/task/<tid>/children` (CONFIG_PROC_CHILDREN).
pub fn children_supported() -> bool {
    let me = std::process::id();
    std::path::Path::new(&format!("/proc/{me}/task/{me}/children")).exists()
}

/// The value of `TEND_INSTANCE` in a process's environment.
pub fn instance_of(pid: u32) -> Option<String> {
    // Read to EOF: an environment can span pages, and this is rare (once per adopted orphan).
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&b| b == 0)
        .find_map(|var| var.strip_prefix(b"TEND_INSTANCE="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Seconds since boot (`/proc/uptime`), in clock ticks: the clock of `Stat::start_ticks`.
pub fn uptime_ticks(ticks_per_second: u64) -> u64 {
    let text = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    let secs: f64 = text
        .split_ascii_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0);
    (secs * ticks_per_second as f64) as u64
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// CPU time the calling thread has used, in seconds: the sampler's own cost.
pub fn thread_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the timespec, which is valid for the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_hostile_command_name() {
        let line = b"1822 (evil) name) S 1815 1815 1024 0 -1 4194304 99 0 0 0 7 5 0 0 20 0 3 0 6923 3133440 389 18446744073709551615";
        let st = parse_stat(line).unwrap();
        assert_eq!(
            st,
            Stat {
                state: b'S',
                ppid: 1815,
                pgrp: 1815,
                cpu_ticks: 12,
                threads: 3,
                start_ticks: 6923,
                rss_pages: 389,
            }
        );
        assert_eq!(parse_stat(b"1 (x) S 0 1"), None);
    }

    #[test]
    fn parses_schedstat() {
        assert_eq!(parse_schedstat(b"1234567 890 42\n"), Some((1_234_567, 42)));
        assert_eq!(parse_schedstat(b"12 34"), None);
    }

    #[test]
    fn parses_io() {
        let text = b"rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_io(text), (4096, 8192));
    }

    #[test]
    fn reads_own_process() {
        let mut buf = Vec::new();
        let st = stat(std::process::id(), &mut buf).unwrap();
        assert!(
            st.threads >= 1 && st.rss_pages > 0 && st.start_ticks > 0,
            "{st:?}"
        );
        assert!(open_fds(std::process::id()) >= 3);
        assert!(schedstat_supported());
        assert!(uptime_ticks(100) >= st.start_ticks);
    }
}
