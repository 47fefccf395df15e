//! Read-only access to a project directory, jailed to its root: what the `project` plugin interface
//! serves (`plugins/imports/project.rs` is only the WIT glue), and reusable by anything else that
//! must look into a service's files on someone's behalf. No wasmtime here, no writes anywhere.
//!
//! Rules (each in one place): paths are relative to the root and `/`-separated; absolute paths,
//! `..` components, NUL bytes and anything that resolves (through symlinks) outside the root are
//! refused (`jail`); symlinks that stay inside the root are followed when named, never when
//! walking a tree (`list`, `grep`); `.git`, `node_modules`, `target`, `__pycache__` and virtualenvs
//! are listed but not descended into; values in `.env`-like files are redacted before anything is
//! returned or matched (`redact`); every answer is capped in size (`MAX_*`). All calls block on
//! the file system: run them off the async runtime.

mod grep;
mod jail;
mod list;
mod read;
mod redact;

use std::path::{Path, PathBuf};

pub use redact::redact;

/// Most entries `list_dir` returns; beyond it, `Error::TooLarge`.
pub const MAX_ENTRIES: usize = 2000;
/// Most bytes of a file `read_file` returns (its `max_bytes` is lowered to this).
pub const MAX_READ_BYTES: u32 = 256 * 1024;
/// Most matches `grep` returns (its `max_matches` is lowered to this).
pub const MAX_MATCHES: u32 = 500;
/// Longest line `grep` returns, in characters.
pub const MAX_LINE_CHARS: usize = 500;
/// Deepest `list_dir` goes, whatever it is asked.
pub const MAX_DEPTH: u32 = 32;

/// Why a request was refused or failed; each carries a sentence naming the path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    /// Outside the root: `..`, an absolute path, a NUL, a symlink escape; or no root at all.
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the root, `/`-separated.
    pub path: String,
    pub kind: EntryKind,
    /// Bytes (files), 0 otherwise.
    pub size: u64,
    /// The owner may execute it (files).
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub path: String,
    /// Up to the cap, lossy UTF-8, redacted.
    pub content: String,
    /// Hex SHA-256 of the whole file's bytes on disk.
    pub sha256: String,
    pub size: u64,
    pub truncated: bool,
    pub redacted: bool,
    /// The part read is not valid UTF-8.
    pub binary: bool,
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrepMatch {
    pub path: String,
    /// 1-based.
    pub line: u32,
    /// At most `MAX_LINE_CHARS` characters, redacted.
    pub text: String,
}

/// A project root. Cheap to clone; the root is resolved on every call, so a root created or
/// replaced after the `Project` was made is seen as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    pub fn new(root: &Path) -> Project {
        Project {
            root: root.to_path_buf(),
        }
    }

    /// Entries under `dir` (`""`/`"."`: the root), depth-first, sorted by path, `depth` levels deep
    /// (0 counts as 1).
    pub fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, Error> {
        // A path is refused for what it says before the root is looked at.
        jail::components(dir)?;
        let root = jail::root(&self.root)?;
        list::list(&root, dir, depth)
    }

    /// A file's first `max_bytes` (0, or more than `MAX_READ_BYTES`: `MAX_READ_BYTES`), with the
    /// hash of all of it.
    pub fn read_file(&self, path: &str, max_bytes: u32) -> Result<File, Error> {
        // A path is refused for what it says before the root is looked at.
        jail::components(path)?;
        let root = jail::root(&self.root)?;
        read::read(&root, path, max_bytes)
    }

    /// Lines matching `pattern` in the text files at or under `path`, at most `max_matches` (0, or
    /// more than `MAX_MATCHES`: `MAX_MATCHES`).
    pub fn grep(
        &self,
        pattern: &str,
        path: &str,
        max_matches: u32,
    ) -> Result<Vec<GrepMatch>, Error> {
        // A path is refused for what it says before the root is looked at.
        jail::components(path)?;
        let root = jail::root(&self.root)?;
        grep::grep(&root, pattern, path, max_matches)
    }
}

/// `io::Error` as a sentence about `path` (not-found kept apart).
fn io_error(path: &str, e: &std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound(format!("{path}: no such file or directory"))
        }
        _ => Error::Io(format!("{path}: {e}")),
    }
}

/// The owner may execute it.
fn executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.is_file() && meta.permissions().mode() & 0o100 != 0
}

#[cfg(test)]
mod tests;
