//! The free-space floor of the data dir's file system: below `min_free_mb`, service output is neither
//! written to the log files nor queued for the database (lines are counted and dropped), so the space
//! left stays for what the daemon must record (registrations, transitions, jobs). The database writer
//! checks it too, for lines queued before the floor was reached. Checked with `statvfs` every
//! `RECHECK` or `RECHECK_BYTES` of output, whichever comes first, so a burst costs few system calls
//! and cannot run far past the floor between two checks.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const RECHECK: Duration = Duration::from_millis(250);
const RECHECK_BYTES: u64 = 64 * 1024;

pub(super) struct DiskFloor {
    dir: PathBuf,
    min_free: u64,
    /// When the last check ran, whether free space was below the floor then, bytes seen since.
    last: Mutex<Option<(Instant, bool, u64)>>,
    /// Lines dropped in the current streak below the floor.
    dropped: AtomicU64,
}

impl DiskFloor {
    /// `min_free_mb` 0 disables the floor.
    pub(super) fn new(dir: PathBuf, min_free_mb: u64) -> DiskFloor {
        DiskFloor {
            dir,
            min_free: min_free_mb.saturating_mul(1024 * 1024),
            last: Mutex::new(None),
            dropped: AtomicU64::new(0),
        }
    }

    /// True when output must be dropped now: free space is below the floor, or would be after writing
    /// `bytes` (the size of the output about to be written; a large one is always checked afresh).
    pub(super) fn below(&self, bytes: usize) -> bool {
        if self.min_free == 0 {
            return false;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, below, seen)) = last.as_mut()
            && at.elapsed() < RECHECK
            && (*seen + bytes as u64) < RECHECK_BYTES
        {
            *seen += bytes as u64;
            return *below;
        }
        let free = free_bytes(&self.dir);
        // A failed check says nothing about the disk: keep writing (the writes report their own errors).
        // A write that would itself cross the floor counts as below it (a large queued batch).
        let below = free.is_some_and(|f| f < self.min_free.saturating_add(bytes as u64));
        let was = last.is_some_and(|(_, b, _)| b);
        *last = Some((Instant::now(), below, bytes as u64));
        drop(last);
        if below && !was {
            tracing::warn!(dir = %self.dir.display(), free_bytes = free, min_free_bytes = self.min_free,
                "free disk space is below the floor: service output is dropped, not logged, until space is freed");
        } else if was && !below {
            let dropped = self.dropped.swap(0, Ordering::Relaxed);
            tracing::info!(
                dropped_lines = dropped,
                "free disk space is above the floor again: logging resumes"
            );
        }
        below
    }

    pub(super) fn count_dropped(&self, lines: u64) {
        self.dropped.fetch_add(lines, Ordering::Relaxed);
    }
}

/// Bytes an unprivileged writer may still use on the file system holding `dir` (or its nearest
/// existing ancestor: the logs dir may not exist yet).
fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| d.exists())?;
    let st = nix::sys::statvfs::statvfs(existing).ok()?;
    Some((st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64))
}
