//! Disk usage of a service's `watch_dirs` (default: its `working_dir`): allocated bytes of everything
//! below them, like `du`, without following symlinks or leaving the directory's filesystem. Blocking;
//! run it in `spawn_blocking`. Every walk has a deadline: one cut short says so (`partial`) and reports
//! what it counted.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime};

#[derive(Clone, Debug, PartialEq)]
pub struct DiskUsage {
    pub bytes: u64,
    pub files: u64,
    /// The walk hit its deadline (or the daemon began to stop) before it saw everything.
    pub partial: bool,
    /// Entries that could not be read (permissions, removed meanwhile).
    pub errors: u64,
    pub at: SystemTime,
}

/// The directories to walk: each one once, and none below another one in the list.
pub fn roots(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = dirs
        .iter()
        .map(|d| d.canonicalize().unwrap_or_else(|_| d.clone()))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if !out.iter().any(|o| d.starts_with(o)) {
            out.push(d);
        }
    }
    out
}

/// Walks `dirs` until done, `deadline`, or `stop`.
pub fn walk(dirs: &[PathBuf], deadline: Instant, stop: &AtomicBool) -> DiskUsage {
    let mut usage = DiskUsage {
        bytes: 0,
        files: 0,
        partial: false,
        errors: 0,
        at: SystemTime::now(),
    };
    // Hard links are counted once, as `du` does.
    let mut linked: HashSet<(u64, u64)> = HashSet::new();
    for root in roots(dirs) {
        let Ok(meta) = std::fs::symlink_metadata(&root) else {
            usage.errors += 1;
            continue;
        };
        let dev = meta.dev();
        usage.bytes += meta.blocks() * 512;
        let mut stack: Vec<PathBuf> = vec![root];
        while let Some(dir) = stack.pop() {
            if Instant::now() >= deadline || stop.load(Ordering::Relaxed) {
                usage.partial = true;
                return usage;
            }
            walk_dir(&dir, dev, &mut stack, &mut linked, &mut usage);
        }
    }
    usage
}

fn walk_dir(
    dir: &Path,
    dev: u64,
    stack: &mut Vec<PathBuf>,
    linked: &mut HashSet<(u64, u64)>,
    usage: &mut DiskUsage,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        usage.errors += 1;
        return;
    };
    for entry in entries {
        let Ok(entry) = entry else {
            usage.errors += 1;
            continue;
        };
        let Ok(meta) = entry.metadata() else {
            usage.errors += 1;
            continue;
        };
        if meta.dev() != dev {
            continue;
        }
        if meta.nlink() > 1 && !meta.is_dir() && !linked.insert((meta.dev(), meta.ino())) {
            continue;
        }
        usage.files += 1;
        usage.bytes += meta.blocks() * 512;
        if meta.is_dir() {
            stack.push(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counts_files_once_and_honours_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("f"), vec![7u8; 1 << 20]).unwrap();
        std::fs::hard_link(sub.join("f"), dir.path().join("g")).unwrap();
        let stop = AtomicBool::new(false);
        let later = Instant::now() + Duration::from_secs(30);
        // The nested root is dropped: it is below the other.
        let u = walk(&[dir.path().to_path_buf(), sub.clone()], later, &stop);
        assert!(!u.partial);
        assert!(
            u.bytes >= 1 << 20 && u.bytes < 2 << 20,
            "the hard link counts once: {u:?}"
        );
        let cut = walk(&[dir.path().to_path_buf()], Instant::now(), &stop);
        assert!(cut.partial && cut.bytes < u.bytes, "{cut:?}");
    }
}
