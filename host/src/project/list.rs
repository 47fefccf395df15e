//! `list_dir`, and the tree walk `grep` shares: entries sorted by name, depth-first, symlinks
//! reported as such and never followed, directories that hold dependencies, build output or
//! version-control data (`opaque`) listed but not entered.

use std::path::Path;

use super::jail::resolve;
use super::{Entry, EntryKind, Error, MAX_DEPTH, MAX_ENTRIES, executable, io_error};

/// Directories listed but not descended into: what a project's own code is not.
const OPAQUE: [&str; 7] = [
    ".git",
    "node_modules",
    "target",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
];

/// True for a directory the walk does not enter: a name in `OPAQUE`, or a virtualenv by any name
/// (it has a `pyvenv.cfg`).
pub fn opaque(name: &str, real: &Path) -> bool {
    OPAQUE.contains(&name) || real.join("pyvenv.cfg").is_file()
}

pub fn list(root: &Path, dir: &str, depth: u32) -> Result<Vec<Entry>, Error> {
    let r = resolve(root, dir)?;
    if !r.real.is_dir() {
        return Err(Error::Invalid(format!("{dir} is not a directory")));
    }
    let mut out = Vec::new();
    walk(&r.real, &r.rel, depth.clamp(1, MAX_DEPTH), &mut |e, _| {
        out.push(e);
        if out.len() > MAX_ENTRIES {
            return Err(Error::TooLarge(format!(
                "{} holds more than {MAX_ENTRIES} entries within {depth} levels; list fewer \
                 levels or a subdirectory",
                if r.rel.is_empty() {
                    "the project root"
                } else {
                    dir
                }
            )));
        }
        Ok(())
    })?;
    Ok(out)
}

/// Calls `visit` with every entry under `real` (named `rel` from the root), `depth` levels deep,
/// in path order, and the entry's real path. A subdirectory that cannot be read is listed but
/// not entered.
pub fn walk(
    real: &Path,
    rel: &str,
    depth: u32,
    visit: &mut dyn FnMut(Entry, &Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let shown = if rel.is_empty() { "." } else { rel };
    let dir = std::fs::read_dir(real).map_err(|e| io_error(shown, &e))?;
    walk_dir(dir, rel, depth, visit)
}

fn walk_dir(
    dir: std::fs::ReadDir,
    rel: &str,
    depth: u32,
    visit: &mut dyn FnMut(Entry, &Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut names: Vec<(String, std::path::PathBuf)> = dir
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    for (name, path) in names {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue; // vanished meanwhile
        };
        let kind = if meta.file_type().is_symlink() {
            EntryKind::Symlink
        } else if meta.is_dir() {
            EntryKind::Directory
        } else if meta.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        let child = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        visit(
            Entry {
                path: child.clone(),
                kind,
                size: if meta.is_file() { meta.len() } else { 0 },
                executable: executable(&meta),
            },
            &path,
        )?;
        if kind == EntryKind::Directory
            && depth > 1
            && !opaque(&name, &path)
            && let Ok(dir) = std::fs::read_dir(&path)
        {
            walk_dir(dir, &child, depth - 1, visit)?;
        }
    }
    Ok(())
}
