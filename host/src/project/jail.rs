//! The jail: turns a plugin's relative path into a real path inside the root, or refuses it.
//! Lexical checks first (NUL, absolute, `..`), then the file system's word: the path is resolved
//! with every symlink followed and must still lie under the resolved root. A path that does not
//! exist is checked through its deepest existing ancestor, so "not found" is only ever said about
//! places inside the root. Files are opened through `open`, which checks again where the opened
//! file really is, so a path swapped for a symlink between the check and the open is caught too.

use std::path::{Path, PathBuf};

use super::{Error, io_error};

/// A path inside the root: where it really is, and how the plugin names it (normalised).
#[derive(Debug)]
pub struct Resolved {
    pub real: PathBuf,
    /// Relative, `/`-separated, without `.` or empty components; `""` for the root.
    pub rel: String,
}

/// The resolved root; it must exist and be a directory.
pub fn root(root: &Path) -> Result<PathBuf, Error> {
    let shown = root.display();
    let real = root.canonicalize().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound(format!("the project root {shown} does not exist"))
        }
        _ => Error::Io(format!("the project root {shown}: {e}")),
    })?;
    if !real.is_dir() {
        return Err(Error::NotFound(format!(
            "the project root {shown} is not a directory"
        )));
    }
    Ok(real)
}

/// The components of a relative path, or why it is refused.
pub fn components(path: &str) -> Result<Vec<&str>, Error> {
    if path.contains('\0') {
        return Err(Error::Denied(format!("{path:?} contains a NUL byte")));
    }
    if path.starts_with('/') {
        return Err(Error::Denied(format!(
            "{path} is absolute; paths are relative to the project root"
        )));
    }
    let mut out = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(Error::Denied(format!(
                    "{path} contains `..`; paths stay inside the project root"
                )));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `path` inside `root` (resolved), following symlinks, or why not.
pub fn resolve(root: &Path, path: &str) -> Result<Resolved, Error> {
    let parts = components(path)?;
    let rel = parts.join("/");
    let joined = parts.iter().fold(root.to_path_buf(), |p, c| p.join(c));
    let escape = || {
        Error::Denied(format!(
            "{path} leads outside the project root through a symlink"
        ))
    };
    match joined.canonicalize() {
        Ok(real) if real.starts_with(root) => Ok(Resolved { real, rel }),
        Ok(_) => Err(escape()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Missing: say so only if the part that exists is inside the root.
            for k in (0..parts.len()).rev() {
                let prefix = parts[..k].iter().fold(root.to_path_buf(), |p, c| p.join(c));
                if let Ok(real) = prefix.canonicalize() {
                    if !real.starts_with(root) {
                        return Err(escape());
                    }
                    break;
                }
            }
            Err(io_error(path, &e))
        }
        Err(e) => Err(io_error(path, &e)),
    }
}

/// Opens the file at `real` (a path `resolve` gave, or one found by walking the root) for reading,
/// and checks that what was opened lies inside `root`: between `resolve` and the open, a
/// component could have been replaced by a symlink. Where `/proc/self/fd` cannot tell (no procfs),
/// `resolve`'s check stands alone.
pub fn open(root: &Path, real: &Path, shown: &str) -> Result<std::fs::File, Error> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(real).map_err(|e| io_error(shown, &e))?;
    if let Ok(opened) = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
        && !opened.starts_with(root)
    {
        return Err(Error::Denied(format!(
            "{shown} leads outside the project root through a symlink"
        )));
    }
    Ok(file)
}
