//! cgroup v2 containment: where a writable `cgroup2` hierarchy exists (found in the mount table; a hybrid
//! layout's `/sys/fs/cgroup/unified`, or `/sys/fs/cgroup` under systemd with `Delegate=yes`), every run
//! gets a cgroup of its own, `<daemon's cgroup>/tend-<node>/<instance>`, that the kernel places the
//! child into when it is created (`clone3(CLONE_INTO_CGROUP)`, see `clone3.rs`), so nothing it forks,
//! however it detaches (`setsid`, a cleared environment, double forks), can be outside it. Stopping
//! writes `cgroup.kill` after the grace and is done when `cgroup.events` says `populated 0` (watched
//! with inotify), then the directory is removed. A daemon that died leaves its runs' directories
//! behind: the next one finds them under `tend-<node>` (the node id is the data dir's), whatever
//! became of the pids it recorded.
//!
//! The runs' cgroups are leaves and `tend-<node>` holds no process of its own, so the no-internal-process
//! rule holds whatever controllers a delegating manager enabled. The daemon stays where it was started
//! and enables no controller: containment needs none (`cgroup.kill`, `cgroup.events`, `cgroup.procs`
//! and `cpu.stat` exist in every cgroup), and the sampler's CPU time comes from `cpu.stat`.
//!
//! Reads and writes cgroup files only; signals and waits stay in `tree.rs`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::unix::AsyncFd;

/// The `[supervisor] containment` setting (`TEND_CONTAINMENT`, `--containment`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// cgroup v2 where a writable hierarchy exists, else process groups, markers and the subreaper.
    #[default]
    Auto,
    /// cgroup v2 or refuse to start.
    Cgroup,
    /// Process groups, markers and the subreaper, even where cgroups could be used.
    Process,
}

/// The containment in use, for `tend status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Containment {
    /// Every run in a cgroup of its own under `root`.
    Cgroup2 { root: PathBuf },
    /// Process group + `TEND_INSTANCE` marker + ancestry, the daemon a child subreaper.
    Process,
}

impl Containment {
    pub fn kind(&self) -> &'static str {
        match self {
            Containment::Cgroup2 { .. } => "cgroup2",
            Containment::Process => "process-group+marker+subreaper",
        }
    }

    pub fn root(&self) -> Option<&Path> {
        match self {
            Containment::Cgroup2 { root } => Some(root),
            Containment::Process => None,
        }
    }
}

static CONTAINMENT: OnceLock<Containment> = OnceLock::new();
/// This data dir's cgroup directory when it exists, whatever the containment now: a predecessor that
/// used cgroups may have left runs in it (swept at boot, `RunGroup::all`).
static SWEEP_ROOT: OnceLock<PathBuf> = OnceLock::new();

/// The containment chosen at start (`Process` before `contain` ran, e.g. in unit tests).
pub fn containment() -> &'static Containment {
    CONTAINMENT.get().unwrap_or(&Containment::Process)
}

/// The root under which runs get their cgroups, when cgroups are in use.
pub(super) fn root() -> Option<&'static Path> {
    containment().root()
}

/// Chooses the containment for this daemon (`node` names its directory). `Cgroup` fails when no
/// writable cgroup v2 hierarchy exists; `Auto` falls back with a warning. Call once, before the first
/// spawn.
pub fn contain(mode: Mode, node: &str) -> io::Result<&'static Containment> {
    let chosen = match mode {
        Mode::Process => Containment::Process,
        Mode::Auto | Mode::Cgroup => match prepare_root(node) {
            Ok(root) => Containment::Cgroup2 { root },
            Err(e) if mode == Mode::Cgroup => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("containment = \"cgroup\" but no writable cgroup v2 hierarchy: {e}"),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "no writable cgroup v2 hierarchy; runs are contained by process group, marker and subreaper");
                Containment::Process
            }
        },
    };
    let sweep = match &chosen {
        Containment::Cgroup2 { root } => Some(root.clone()),
        Containment::Process => existing_root(node),
    };
    if let Some(dir) = sweep {
        let _ = SWEEP_ROOT.set(dir);
    }
    if chosen == Containment::Process {
        match super::lineage::start() {
            Ok(()) => tracing::info!("following fork events (process-event connector)"),
            Err(e) => {
                tracing::warn!(error = %e, "cannot follow fork events; descendants are found through /proc only")
            }
        }
    }
    let _ = CONTAINMENT.set(chosen);
    let c = containment();
    tracing::info!(kind = c.kind(), root = ?c.root(), "process containment");
    Ok(c)
}

/// The mount point of the `cgroup2` file system and the part of the hierarchy it shows (field 4 of
/// mountinfo; `/` unless a cgroup namespace or a bind mount shows a subtree).
fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split_ascii_whitespace().next()?;
        if fstype != "cgroup2" {
            return None;
        }
        let f: Vec<&str> = left.split_ascii_whitespace().collect();
        let root = f.get(3)?.to_string();
        let point = unescape(f.get(4)?);
        Some((PathBuf::from(point), root))
    })
}

/// `tend-<node>` of an earlier daemon on this data dir, if there is one (looked up, never created).
fn existing_root(node: &str) -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let root = daemon_dir(&mountinfo, &own)
        .ok()?
        .join(format!("tend-{node}"));
    root.is_dir().then_some(root)
}

/// After the boot sweep without cgroup containment: the predecessor's directory goes too.
pub(super) fn swept() {
    if let (Some(dir), Containment::Process) = (SWEEP_ROOT.get(), containment()) {
        let _ = std::fs::remove_dir(dir);
    }
}

/// Removes this daemon's cgroup directory at a clean shutdown, once every run has ended (a run still
/// in it keeps it, and the next boot finds that run there).
pub fn release() {
    if let Some(root) = root()
        && let Err(e) = std::fs::remove_dir(root)
    {
        tracing::warn!(cgroup = %root.display(), error = %e, "cannot remove the daemon's cgroup directory");
    }
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let oct: String = chars.by_ref().take(3).collect();
            match u8::from_str_radix(&oct, 8) {
                Ok(b) => out.push(b as char),
                Err(_) => {
                    out.push('\\');
                    out.push_str(&oct);
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The daemon's own cgroup v2 path (`0::<path>` in `/proc/self/cgroup`).
fn own_cgroup(proc_cgroup: &str) -> Option<String> {
    proc_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim().to_string())
}

/// The daemon's cgroup directory: the mount point plus the daemon's path below the mount's root.
fn daemon_dir(mountinfo: &str, proc_cgroup: &str) -> io::Result<PathBuf> {
    let missing = |what: &str| io::Error::new(io::ErrorKind::NotFound, what.to_string());
    let (point, mount_root) = cgroup2_mount(mountinfo)
        .ok_or_else(|| missing("no cgroup2 mount in /proc/self/mountinfo"))?;
    let own = own_cgroup(proc_cgroup).ok_or_else(|| missing("no 0:: line in /proc/self/cgroup"))?;
    let below = if mount_root == "/" {
        own.as_str()
    } else {
        own.strip_prefix(mount_root.as_str())
            .filter(|r| r.is_empty() || r.starts_with('/'))
            .ok_or_else(|| {
                missing(&format!(
                    "the daemon's cgroup {own} is outside the mounted part {mount_root}"
                ))
            })?
    };
    let dir = point.join(below.trim_start_matches('/'));
    if !dir.join("cgroup.procs").exists() {
        return Err(missing(&format!("{} is not a cgroup", dir.display())));
    }
    Ok(dir)
}

/// Creates (or reuses) `<daemon's cgroup>/tend-<node>` and checks what stopping needs is there.
fn prepare_root(node: &str) -> io::Result<PathBuf> {
    if !super::clone3::available() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "clone3 is not available (a seccomp filter?)",
        ));
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    let own = std::fs::read_to_string("/proc/self/cgroup")?;
    let root = daemon_dir(&mountinfo, &own)?.join(format!("tend-{node}"));
    match std::fs::create_dir(&root) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", root.display()))),
    }
    // cgroup.kill (Linux 5.14) is what makes a stop certain; without it, use the process scheme.
    if !root.join("cgroup.kill").exists() {
        let _ = std::fs::remove_dir(&root);
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this kernel has no cgroup.kill (Linux 5.14+)",
        ));
    }
    // Writing cgroup.procs of the root itself proves the daemon may move processes there.
    std::fs::OpenOptions::new()
        .write(true)
        .open(root.join("cgroup.procs"))
        .map_err(|e| {
            let _ = std::fs::remove_dir(&root);
            io::Error::new(e.kind(), format!("{}/cgroup.procs: {e}", root.display()))
        })?;
    Ok(root)
}

/// A directory name for `instance` (markers are `<node>.<name>.<n>` and similar; anything else is
/// replaced so that a name can never climb out or collide with an interface file).
fn dir_name(instance: &str) -> String {
    let clean: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("run-{clean}")
}

/// One run's cgroup.
#[derive(Debug)]
pub struct RunGroup {
    pub dir: PathBuf,
}

/// Run directories this daemon made (`RunGroup::create`): never a leftover of a dead one.
fn created() -> std::sync::MutexGuard<'static, std::collections::HashSet<PathBuf>> {
    static CREATED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<PathBuf>>> =
        std::sync::OnceLock::new();
    CREATED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// CPU time of a cgroup as a whole (every process that ever ran in it, exited ones included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupUsage {
    /// `usage_usec` of `cpu.stat`.
    pub cpu_usec: u64,
}

impl RunGroup {
    /// Creates the cgroup of the run `instance`; an empty one left by an earlier run of the same name is
    /// reused, a populated one is an error (it would mix two runs).
    pub(super) fn create(root: &Path, instance: &str) -> io::Result<RunGroup> {
        let dir = root.join(dir_name(instance));
        let mut made = std::fs::create_dir(&dir);
        if made
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        {
            // Someone removed the daemon's directory (it holds nothing of its own): make it again.
            let _ = std::fs::create_dir(root);
            made = std::fs::create_dir(&dir);
        }
        match made {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let group = RunGroup { dir: dir.clone() };
                if group.populated() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("{} still holds processes", dir.display()),
                    ));
                }
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
        }
        created().insert(dir.clone());
        Ok(RunGroup { dir })
    }

    /// The run's cgroup if its directory exists (a dead daemon's run).
    pub(super) fn existing(instance: &str) -> Option<RunGroup> {
        let dir = root()?.join(dir_name(instance));
        dir.is_dir().then_some(RunGroup { dir })
    }

    /// Every run directory under the root (what a dead daemon left, at boot).
    pub(super) fn all() -> Vec<RunGroup> {
        let Some(root) = SWEEP_ROOT.get() else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(root) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("run-"))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| RunGroup { dir: e.path() })
            // This daemon's own (a plugin compile child started while the boot sweeps) are not a
            // dead daemon's.
            .filter(|g| !created().contains(&g.dir))
            .collect()
    }

    /// A directory descriptor for `clone3(CLONE_INTO_CGROUP)`.
    pub(super) fn open(&self) -> io::Result<OwnedFd> {
        let path = std::ffi::CString::new(self.dir.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in cgroup path"))?;
        // SAFETY: open with a valid NUL-terminated path; the descriptor is owned below.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The processes in the cgroup (its `cgroup.procs`; exact, no `/proc` scan).
    pub fn procs(&self) -> Vec<u32> {
        std::fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// `populated 1` in `cgroup.events` (a missing directory is empty).
    pub fn populated(&self) -> bool {
        std::fs::read_to_string(self.dir.join("cgroup.events"))
            .map(|t| t.lines().any(|l| l.trim() == "populated 1"))
            .unwrap_or(false)
    }

    /// SIGKILL to every process in the cgroup at once, forks in flight included (`cgroup.kill`).
    pub(super) fn kill(&self) {
        if let Err(e) = std::fs::write(self.dir.join("cgroup.kill"), b"1")
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::error!(cgroup = %self.dir.display(), error = %e, "cannot write cgroup.kill");
        }
    }

    /// Waits until `cgroup.events` says `populated 0` or `until` passes; true when empty. Woken by
    /// inotify on `cgroup.events` (the kernel notifies each change of `populated`).
    pub(super) async fn wait_empty(&self, until: Instant) -> bool {
        let watch = EventsWatch::new(&self.dir.join("cgroup.events"));
        loop {
            if !self.populated() {
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            match &watch {
                Some(w) => w.changed(until).await,
                // No inotify (out of descriptors): a bounded poll of one small file.
                None => {
                    tokio::time::sleep(
                        until
                            .saturating_duration_since(now)
                            .min(Duration::from_millis(20)),
                    )
                    .await
                }
            }
        }
    }

    /// Removes the (empty) directory. Failure is logged: the next boot sweeps it.
    pub(super) fn remove(&self) {
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(cgroup = %self.dir.display(), error = %e, "cannot remove a run's cgroup")
            }
        }
    }

    /// CPU time of everything that ran in the cgroup (`cpu.stat`, present without any controller).
    pub fn usage(&self) -> Option<CgroupUsage> {
        let stat = std::fs::read_to_string(self.dir.join("cpu.stat")).ok()?;
        let cpu_usec = stat
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.trim().parse().ok())?;
        Some(CgroupUsage { cpu_usec })
    }
}

/// An inotify watch of one `cgroup.events` file.
struct EventsWatch {
    fd: AsyncFd<OwnedFd>,
}

impl EventsWatch {
    fn new(path: &Path) -> Option<EventsWatch> {
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: inotify_init1 takes flags only; the descriptor is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: fd was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a valid descriptor and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), libc::IN_MODIFY) };
        if wd < 0 {
            return None;
        }
        // SAFETY: the OwnedFd keeps the descriptor open, and the same, for the AsyncFd's lifetime.
        let fd = unsafe { AsyncFd::register(fd) }.ok()?;
        Some(EventsWatch { fd })
    }

    /// Returns after a change notification or at `until`.
    async fn changed(&self, until: Instant) {
        let readable = async {
            if let Ok(mut guard) = self.fd.readable().await {
                let mut buf = [0u8; 1024];
                // SAFETY: reads into a local buffer of the given length.
                let _ =
                    unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                guard.clear_ready();
            }
        };
        let _ = tokio::time::timeout_at(until.into(), readable).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn the_boot_sweep_leaves_this_daemons_own_run_groups_alone() {
        let temp = tempfile::tempdir().unwrap();
        // The daemon's cgroup root where containment set one, else a plain directory will do.
        let root = SWEEP_ROOT.get_or_init(|| temp.path().to_path_buf()).clone();
        let tag = format!("{:08x}", rand::random::<u32>());
        let mine = RunGroup::create(&root, &format!("sweep-mine-{tag}")).unwrap();
        let dead = root.join(dir_name(&format!("sweep-dead-{tag}")));
        std::fs::create_dir(&dead).unwrap();
        let swept: Vec<PathBuf> = RunGroup::all().into_iter().map(|g| g.dir).collect();
        let _ = std::fs::remove_dir(&mine.dir);
        let _ = std::fs::remove_dir(&dead);
        assert!(
            swept.contains(&dead),
            "a dead daemon's group is swept: {swept:?}"
        );
        assert!(!swept.contains(&mine.dir), "our own is not: {swept:?}");
    }

    #[test]
    fn finds_the_cgroup2_mount_in_a_hybrid_layout() {
        assert_eq!(
            cgroup2_mount(HYBRID),
            Some((PathBuf::from("/sys/fs/cgroup/unified"), "/".into()))
        );
        assert_eq!(cgroup2_mount("1 0 0:1 / / rw - ext4 /dev/sda rw\n"), None);
        let spaced = "41 31 0:38 / /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(spaced).unwrap().0,
            PathBuf::from("/mnt/my cg")
        );
    }

    #[test]
    fn reads_the_daemons_own_cgroup() {
        assert_eq!(
            own_cgroup("4:memory:/x\n0::/system.slice/tend.service\n").as_deref(),
            Some("/system.slice/tend.service")
        );
        assert_eq!(own_cgroup("4:memory:/x\n"), None);
    }

    #[test]
    fn run_directories_cannot_climb_out() {
        assert_eq!(dir_name("ab12.web.3"), "run-ab12.web.3");
        assert_eq!(dir_name("../../x"), "run-.._.._x");
        assert_eq!(dir_name("cgroup.procs"), "run-cgroup.procs");
    }
}
