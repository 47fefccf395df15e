//! What tend's agent plugins (worlds `fixer` and `onboarder`) share on the guest side: the host's
//! read-only `project` interface and `log` as plain types and traits, so that a plugin's logic names
//! no binding type and its unit tests implement the traits with fakes; and, in the wasm build,
//! [`Host`], their implementation over the WIT imports. Each plugin keeps its own world's bindings
//! for what it exports (and for `llm`, whose shape each plugin's logic wants differently).

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    pub path: String,
    pub content: String,
    pub sha256: String,
    pub size: u64,
    pub truncated: bool,
    pub redacted: bool,
    pub binary: bool,
    pub executable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrepMatch {
    pub path: String,
    pub line: u32,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectError {
    NotFound(String),
    Denied(String),
    TooLarge(String),
    Invalid(String),
    Io(String),
}

impl std::fmt::Display for ProjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProjectError::NotFound(m) => write!(f, "not found: {m}"),
            ProjectError::Denied(m) => write!(f, "denied: {m}"),
            ProjectError::TooLarge(m) => write!(f, "too large: {m}"),
            ProjectError::Invalid(m) => write!(f, "invalid: {m}"),
            ProjectError::Io(m) => write!(f, "i/o error: {m}"),
        }
    }
}

/// The host's `project` interface: read-only, jailed by the host to the root of the operation the
/// plugin was called for (an incident's working dir, the project being onboarded), `.env` values
/// redacted.
pub trait Project {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<Entry>, ProjectError>;
    fn read_file(&self, path: &str, max_bytes: u32) -> Result<File, ProjectError>;
    fn grep(
        &self,
        pattern: &str,
        path: &str,
        max_matches: u32,
    ) -> Result<Vec<GrepMatch>, ProjectError>;
}

/// The host's `log` interface.
pub trait Log {
    fn info(&self, message: &str);
    fn warn(&self, message: &str);
}

#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(target_arch = "wasm32")]
pub use wasm::Host;
