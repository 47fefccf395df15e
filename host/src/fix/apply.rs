//! Applying a proposal's edits to a project, safely: every edit is checked in memory first (paths
//! relative, without `..`, through no symlink, inside the root; a `replace` against the file's current
//! sha256 and matching exactly once; a `create` of something absent), and any failure rejects the
//! whole proposal before a byte is written. Writes go through a temp file in the same directory
//! (fsynced, then renamed over the target), keeping the file's mode. Runs no command and knows no
//! store: the caller backs up what `Plan::touched` names (`backup.rs`) before `Plan::write`.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::wire::Edit;

/// The largest file an edit may read or produce.
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// The most edits one proposal may carry.
pub const MAX_EDITS: usize = 64;

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Why a proposal was refused: which edit, and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("edits[{index}] ({path}): {reason}")]
pub struct Rejection {
    pub index: usize,
    pub path: String,
    pub reason: String,
}

/// A file as the plan leaves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChange {
    pub rel: String,
    /// The bytes and mode before (`None`: the file does not exist yet).
    pub before: Option<(Vec<u8>, u32)>,
    pub after: Vec<u8>,
    pub mode: u32,
}

/// What a checked proposal will do: directories to create (parents first), then files to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub dirs: Vec<String>,
    pub files: Vec<FileChange>,
}

impl Plan {
    /// The relative paths of the files the plan writes.
    pub fn touched(&self) -> Vec<String> {
        self.files.iter().map(|f| f.rel.clone()).collect()
    }

    /// Creates the directories, then writes each file through a temp file + rename (or only sets its
    /// mode when the bytes are unchanged). The paths are checked again just before, so a symlink
    /// planted since the check is still refused; the first failure stops the writes (the caller
    /// restores from its backup).
    pub fn write(&self, root: &Path) -> Result<(), String> {
        for dir in &self.dirs {
            let abs = resolve(root, dir)?;
            match fs::symlink_metadata(&abs) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(format!("{dir}: exists and is not a directory")),
                Err(_) => fs::create_dir(&abs).map_err(|e| format!("{dir}: cannot create: {e}"))?,
            }
        }
        for f in &self.files {
            let abs = resolve(root, &f.rel)?;
            match &f.before {
                Some((bytes, mode)) if *bytes == f.after => {
                    if *mode != f.mode {
                        fs::set_permissions(&abs, fs::Permissions::from_mode(f.mode))
                            .map_err(|e| format!("{}: cannot set its mode: {e}", f.rel))?;
                    }
                }
                _ => write_atomic(&abs, &f.after, f.mode).map_err(|e| format!("{}: {e}", f.rel))?,
            }
        }
        Ok(())
    }
}

/// `rel` under `root`, refused when it is empty, absolute, has `..` or a NUL, or passes through a
/// symlink (every existing component is `lstat`ed, the last one included).
pub fn resolve(root: &Path, rel: &str) -> Result<PathBuf, String> {
    if rel.is_empty() {
        return Err("the path is empty".into());
    }
    if rel.contains('\0') {
        return Err("the path contains a NUL byte".into());
    }
    let path = Path::new(rel);
    let mut abs = root.to_path_buf();
    let mut any = false;
    for c in path.components() {
        match c {
            Component::Normal(part) => {
                abs.push(part);
                any = true;
                match fs::symlink_metadata(&abs) {
                    Ok(m) if m.file_type().is_symlink() => {
                        return Err(format!(
                            "{} is a symlink; edits never go through one",
                            abs.strip_prefix(root).unwrap_or(&abs).display()
                        ));
                    }
                    Ok(_) => {}
                    // Missing from here on: nothing below can be a symlink yet.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("cannot inspect {}: {e}", abs.display())),
                }
            }
            Component::CurDir => {}
            Component::ParentDir => return Err("the path contains `..`".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("the path is absolute; it must be relative to the project root".into());
            }
        }
    }
    if !any {
        return Err("the path names the root itself".into());
    }
    // Paranoia: lexically inside the root.
    if !abs.starts_with(root) {
        return Err("the path leaves the project root".into());
    }
    Ok(abs)
}

/// A path's normal form (`./a//b` -> `a/b`), the key files are tracked by.
fn normal(rel: &str) -> String {
    Path::new(rel)
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The file's bytes and mode as they are now, `None` when it does not exist. A directory, device or
/// oversized file is an error.
fn read_file(abs: &Path) -> Result<Option<(Vec<u8>, u32)>, String> {
    match fs::symlink_metadata(abs) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot inspect it: {e}")),
        Ok(m) if !m.is_file() => Err("it is not a regular file".into()),
        Ok(m) if m.len() > MAX_FILE_BYTES as u64 => {
            Err(format!("it is larger than {MAX_FILE_BYTES} bytes"))
        }
        Ok(m) => {
            let bytes = fs::read(abs).map_err(|e| format!("cannot read it: {e}"))?;
            Ok(Some((bytes, m.permissions().mode() & 0o7777)))
        }
    }
}

/// Checks every edit against the files as they are now, in memory, in order (a later edit of the
/// same file sees the earlier ones' result; every `base_sha256` is the file's hash on disk, the one
/// the fixer read). Writes nothing.
pub fn check(root: &Path, edits: &[Edit]) -> Result<Plan, Rejection> {
    if edits.len() > MAX_EDITS {
        return Err(Rejection {
            index: MAX_EDITS,
            path: String::new(),
            reason: format!("more than {MAX_EDITS} edits"),
        });
    }
    let mut files: BTreeMap<String, FileChange> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (index, edit) in edits.iter().enumerate() {
        let reject = |reason: String| Rejection {
            index,
            path: edit.path().to_string(),
            reason,
        };
        let abs = resolve(root, edit.path()).map_err(reject)?;
        let key = normal(edit.path());
        // Directories this edit needs that do not exist yet (and were not planned already).
        let mut missing_parents = Vec::new();
        let mut parent = abs.parent();
        while let Some(p) = parent {
            if p == root || !p.starts_with(root) {
                break;
            }
            let planned = p
                .strip_prefix(root)
                .map(|r| dirs.contains(&r.to_string_lossy().into_owned()))
                .unwrap_or(false);
            match fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => return Err(reject(format!("{} is not a directory", p.display()))),
                Err(_) if planned => break,
                Err(_) => missing_parents.push(p.strip_prefix(root).unwrap_or(p).to_path_buf()),
            }
            parent = p.parent();
        }
        let need_parents = |dirs: &mut Vec<String>| {
            for p in missing_parents.iter().rev() {
                let p = p.to_string_lossy().into_owned();
                if !dirs.contains(&p) {
                    dirs.push(p);
                }
            }
        };
        let current =
            |files: &BTreeMap<String, FileChange>| -> Result<Option<(Vec<u8>, u32)>, String> {
                match files.get(&key) {
                    Some(f) => Ok(Some((f.after.clone(), f.mode))),
                    None => read_file(&abs),
                }
            };
        let on_disk_hash =
            |files: &BTreeMap<String, FileChange>| -> Result<Option<String>, String> {
                match files.get(&key) {
                    Some(f) => Ok(f.before.as_ref().map(|(b, _)| sha256_hex(b))),
                    None => Ok(read_file(&abs)?.map(|(b, _)| sha256_hex(&b))),
                }
            };
        match edit {
            Edit::Replace {
                base_sha256,
                old,
                new,
                ..
            } => {
                let Some((bytes, mode)) = current(&files).map_err(reject)? else {
                    return Err(reject("the file does not exist".into()));
                };
                let base = on_disk_hash(&files).map_err(reject)?.unwrap_or_default();
                if !base.eq_ignore_ascii_case(base_sha256.trim()) {
                    return Err(reject(format!(
                        "stale: the file changed since the proposal was made (sha256 {base}, the proposal's base {base_sha256})"
                    )));
                }
                if old.is_empty() {
                    return Err(reject("`old` is empty".into()));
                }
                let found = find_all(&bytes, old.as_bytes());
                if found.len() != 1 {
                    let times = if found.is_empty() {
                        "0 times"
                    } else {
                        "more than once"
                    };
                    return Err(reject(format!(
                        "`old` must occur exactly once, it occurs {times}"
                    )));
                }
                let at = found[0];
                let mut after = Vec::with_capacity(bytes.len() + new.len());
                after.extend_from_slice(&bytes[..at]);
                after.extend_from_slice(new.as_bytes());
                after.extend_from_slice(&bytes[at + old.len()..]);
                if after.len() > MAX_FILE_BYTES {
                    return Err(reject(format!(
                        "the result is larger than {MAX_FILE_BYTES} bytes"
                    )));
                }
                let entry = files.entry(key.clone()).or_insert_with(|| {
                    order.push(key.clone());
                    FileChange {
                        rel: key.clone(),
                        before: Some((bytes.clone(), mode)),
                        after: Vec::new(),
                        mode,
                    }
                });
                entry.after = after;
            }
            Edit::Create {
                content,
                executable,
                ..
            } => {
                if files.contains_key(&key) || read_file(&abs).map_err(reject)?.is_some() {
                    return Err(reject(
                        "the file already exists; `create` only makes new files".into(),
                    ));
                }
                if fs::symlink_metadata(&abs).is_ok() {
                    return Err(reject("something already exists at this path".into()));
                }
                if content.len() > MAX_FILE_BYTES {
                    return Err(reject(format!(
                        "the content is larger than {MAX_FILE_BYTES} bytes"
                    )));
                }
                need_parents(&mut dirs);
                order.push(key.clone());
                files.insert(
                    key.clone(),
                    FileChange {
                        rel: key.clone(),
                        before: None,
                        after: content.as_bytes().to_vec(),
                        mode: if *executable { 0o755 } else { 0o644 },
                    },
                );
            }
            Edit::CreateDir { .. } => match fs::symlink_metadata(&abs) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(reject(
                        "something that is not a directory exists here".into(),
                    ));
                }
                Err(_) => {
                    if files.contains_key(&key) {
                        return Err(reject("an earlier edit creates a file here".into()));
                    }
                    need_parents(&mut dirs);
                    if !dirs.contains(&key) {
                        dirs.push(key.clone());
                    }
                }
            },
            Edit::SetExecutable {
                base_sha256,
                executable,
                ..
            } => {
                let Some((bytes, mode)) = current(&files).map_err(reject)? else {
                    return Err(reject("the file does not exist".into()));
                };
                let base = on_disk_hash(&files).map_err(reject)?.unwrap_or_default();
                if !base.eq_ignore_ascii_case(base_sha256.trim()) {
                    return Err(reject(format!(
                        "stale: the file changed since the proposal was made (sha256 {base}, the proposal's base {base_sha256})"
                    )));
                }
                // Execute bits where the matching read bits are set.
                let read = mode & 0o444;
                let new_mode = if *executable {
                    mode | (read >> 2)
                } else {
                    mode & !0o111
                };
                let entry = files.entry(key.clone()).or_insert_with(|| {
                    order.push(key.clone());
                    FileChange {
                        rel: key.clone(),
                        before: Some((bytes.clone(), mode)),
                        after: bytes.clone(),
                        mode,
                    }
                });
                entry.mode = new_mode;
            }
        }
    }
    let files = order.into_iter().filter_map(|k| files.remove(&k)).collect();
    Ok(Plan { dirs, files })
}

/// Every offset where `needle` starts in `hay` (overlapping matches count: `aa` in `aaa` is twice).
fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return Vec::new();
    }
    hay.windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .take(3)
        .collect()
}

/// Writes `bytes` to `path` through a temp file in the same directory: written, mode set, fsynced,
/// renamed over `path`, the directory fsynced. A reader sees the old file or the new one, never half.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let dir = path
        .parent()
        .ok_or_else(|| "the path has no directory".to_string())?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tend-fix.{}.tmp", rand::random::<u64>()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(format!("cannot write: {e}"));
    }
    Ok(())
}

/// A unified diff of one file's change (non-UTF-8 bytes shown lossily; the backup keeps them).
pub fn unified_diff(change: &FileChange) -> String {
    let before = change
        .before
        .as_ref()
        .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let after = String::from_utf8_lossy(&change.after).into_owned();
    let old_name = if change.before.is_some() {
        format!("a/{}", change.rel)
    } else {
        "/dev/null".to_string()
    };
    let mut out = similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&old_name, &format!("b/{}", change.rel))
        .to_string();
    if let Some((_, mode)) = &change.before
        && *mode != change.mode
    {
        out.push_str(&format!("mode {:o} -> {:o}\n", mode, change.mode));
    }
    out
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
