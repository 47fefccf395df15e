//! Logs: capturing service output and the daemon's own log.
//!
//! Service output flows pipe -> [`capture`](LogHub::capture) task (64 KiB reads, line splitting) ->
//! `<logs_dir>/<service>/<service>.log` (size-rotated) and, in one batch per read, a bounded queue ->
//! one SQLite writer task -> live subscribers. A child never blocks on a full pipe unless the database
//! falls behind by the whole queue; then readers wait rather than drop lines.
//!
//! Below the disk's free-space floor (`floor.rs`) output is dropped rather than written, keeping room for
//! the daemon's state. At boot, lines a killed daemon had not stored yet are read back from the files
//! (`recover.rs`).
//!
//! This module owns the line rules, the file format, rotation, recovery and retention's schedule; it must
//! not speak SQL (the store does) nor know about processes beyond the pipe ends it is handed.

mod capture;
mod daemon_log;
mod db;
mod floor;
mod follow;
mod hub;
mod inflight;
mod recover;
mod retention;
mod rotate;
mod service_file;
mod split;
#[cfg(test)]
mod tests;

pub use capture::Capture;
pub use daemon_log::{init_daemon_log, read_daemon_log};
pub use follow::LogFollow;
pub use hub::LogHub;
pub use recover::recover_from_files;
pub(crate) use split::LineSplitter;

/// Limits for service logs (and rotation of `tend.log`).
#[derive(Clone, Debug, PartialEq)]
pub struct LogSettings {
    /// A log file is rotated before it would grow past this.
    pub max_bytes: u64,
    /// Rotated files kept (`.log.1` ... `.log.N`); 0 truncates in place.
    pub backup_count: u32,
    /// Database lines older than this are pruned; 0 keeps them forever.
    pub retention_days: u32,
    /// Longer lines are stored as pieces of this size, all but the last marked partial.
    pub max_line_bytes: usize,
    /// Below this much free space (MiB) on the logs' file system, service output is dropped rather
    /// than written to the files or the database, keeping room for state; 0 disables the floor.
    pub min_free_mb: u64,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            max_bytes: 10 * 1024 * 1024,
            backup_count: 5,
            retention_days: 7,
            max_line_bytes: 16 * 1024,
            min_free_mb: 32,
        }
    }
}
