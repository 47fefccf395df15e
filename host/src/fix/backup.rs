//! Backups of what a fix touches, and restoring them byte-exact. A backup is a directory
//! `<data_dir>/backups/<target>/<fix-id>/` holding `manifest.json` (each file's path, whether it
//! existed, its sha256, size and mode; each directory's path and whether it existed) and the files'
//! bytes under `files/<n>`. Restoring brings every recorded path back to its recorded state: a file
//! that existed gets its bytes and mode back, one that did not is deleted, a directory that did not
//! exist is removed (when empty). Paths are checked again on restore (`apply::resolve`): a restore
//! never follows a symlink either. Only the newest `keep` backups of a target are kept.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::apply::{resolve, sha256_hex, write_atomic};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub existed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Where the bytes are, relative to the backup directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirEntry {
    pub path: String,
    pub existed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub fix_id: String,
    pub target: String,
    /// The project root the paths are relative to.
    pub root: PathBuf,
    pub created_at: String,
    pub files: Vec<FileEntry>,
    /// Parents first.
    pub dirs: Vec<DirEntry>,
}

pub const MANIFEST: &str = "manifest.json";

/// `<backups>/<target>/<fix-id>`.
pub fn dir_of(backups: &Path, target: &str, fix_id: &str) -> PathBuf {
    backups.join(target).join(fix_id)
}

/// Records the current state of `files` and `dirs` (relative to `root`) in a new backup directory
/// `dir` (which must not exist). Fails without leaving a partial backup.
pub fn snapshot(
    dir: &Path,
    fix_id: &str,
    target: &str,
    root: &Path,
    files: &[String],
    dirs: &[String],
) -> Result<Manifest, String> {
    let result = (|| {
        fs::create_dir_all(dir.join("files"))
            .map_err(|e| format!("cannot create the backup directory {}: {e}", dir.display()))?;
        let mut manifest = Manifest {
            fix_id: fix_id.into(),
            target: target.into(),
            root: root.to_path_buf(),
            created_at: crate::store::now_rfc3339(),
            files: Vec::new(),
            dirs: Vec::new(),
        };
        for d in dirs {
            let abs = resolve(root, d)?;
            manifest.dirs.push(DirEntry {
                path: d.clone(),
                existed: fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()),
            });
        }
        for (n, rel) in files.iter().enumerate() {
            let abs = resolve(root, rel)?;
            match fs::symlink_metadata(&abs) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    manifest.files.push(FileEntry {
                        path: rel.clone(),
                        existed: false,
                        sha256: None,
                        size: None,
                        mode: None,
                        blob: None,
                    })
                }
                Err(e) => return Err(format!("{rel}: cannot inspect: {e}")),
                Ok(m) if !m.is_file() => return Err(format!("{rel}: not a regular file")),
                Ok(m) => {
                    let bytes = fs::read(&abs).map_err(|e| format!("{rel}: cannot read: {e}"))?;
                    let blob = format!("files/{n}");
                    write_atomic(&dir.join(&blob), &bytes, 0o600)
                        .map_err(|e| format!("{rel}: backup: {e}"))?;
                    manifest.files.push(FileEntry {
                        path: rel.clone(),
                        existed: true,
                        sha256: Some(sha256_hex(&bytes)),
                        size: Some(bytes.len() as u64),
                        mode: Some(m.permissions().mode() & 0o7777),
                        blob: Some(blob),
                    });
                }
            }
        }
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
        write_atomic(&dir.join(MANIFEST), &json, 0o600)?;
        Ok(manifest)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(dir);
    }
    result
}

pub fn load(dir: &Path) -> Result<Manifest, String> {
    let bytes = fs::read(dir.join(MANIFEST))
        .map_err(|e| format!("cannot read the backup manifest in {}: {e}", dir.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the backup manifest is damaged: {e}"))
}

/// Brings every path of `manifest` (backed up in `dir`) back to its recorded state. Every blob is
/// read and checked against its sha256 before anything is written.
pub fn restore(dir: &Path, manifest: &Manifest) -> Result<(), String> {
    let root = &manifest.root;
    let mut blobs = Vec::new();
    for f in &manifest.files {
        resolve(root, &f.path)?;
        if !f.existed {
            blobs.push(None);
            continue;
        }
        let blob = f
            .blob
            .as_deref()
            .ok_or_else(|| format!("{}: no blob", f.path))?;
        let bytes =
            fs::read(dir.join(blob)).map_err(|e| format!("{}: backup unreadable: {e}", f.path))?;
        if f.sha256.as_deref() != Some(sha256_hex(&bytes).as_str()) {
            return Err(format!(
                "{}: the backup's bytes do not match its sha256",
                f.path
            ));
        }
        blobs.push(Some(bytes));
    }
    for d in manifest.dirs.iter().filter(|d| d.existed) {
        let abs = resolve(root, &d.path)?;
        if fs::symlink_metadata(&abs).is_err() {
            fs::create_dir_all(&abs).map_err(|e| format!("{}: cannot create: {e}", d.path))?;
        }
    }
    for (f, bytes) in manifest.files.iter().zip(blobs) {
        let abs = resolve(root, &f.path)?;
        match bytes {
            Some(bytes) => {
                let mode = f.mode.unwrap_or(0o644);
                write_atomic(&abs, &bytes, mode).map_err(|e| format!("{}: {e}", f.path))?;
            }
            None => match fs::remove_file(&abs) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: cannot delete: {e}", f.path)),
            },
        }
    }
    // Deepest first: a created directory goes once its files went.
    for d in manifest.dirs.iter().rev().filter(|d| !d.existed) {
        let abs = resolve(root, &d.path)?;
        match fs::remove_dir(&abs) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Something else was put there since: left, the rest is restored.
            Err(e) => {
                tracing::warn!(dir = %d.path, error = %e, "a directory the fix created is not empty; left in place")
            }
        }
    }
    Ok(())
}

/// Deletes all but the newest `keep` backups of the target (by their fix id, numeric). Answers the
/// ids deleted.
pub fn prune(target_dir: &Path, keep: usize) -> Vec<String> {
    let Ok(entries) = fs::read_dir(target_dir) else {
        return Vec::new();
    };
    let mut ids: Vec<(u64, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.parse::<u64>().ok().map(|n| (n, name))
        })
        .collect();
    ids.sort();
    let excess = ids.len().saturating_sub(keep);
    let mut gone = Vec::new();
    for (_, name) in ids.into_iter().take(excess) {
        if fs::remove_dir_all(target_dir.join(&name)).is_ok() {
            gone.push(name);
        }
    }
    gone
}
