//! What the host tells the policy about itself with every question: the paths no command may touch
//! (tend's data dir: database, token, plugins, backups, logs), the daemon's pid, the names its
//! process is known by, its own working dir; and paths in canonical form (symlinks that exist
//! resolved), because the plugin is sandboxed and cannot see the file system: the working dir with
//! every question, and the paths a policy names in a `resolve` answer (`resolve_all`, bounded).
//! Facts are gathered once at start (`HostFacts::gather`). It decides nothing.

use std::path::{Component, Path, PathBuf};

/// Facts about the daemon, as strings the plugin compares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostFacts {
    pub protected: Vec<String>,
    pub pid: u32,
    pub names: Vec<String>,
    pub cwd: Option<String>,
}

impl HostFacts {
    /// The running daemon's facts; `data_dir` is protected.
    pub fn gather(data_dir: &Path) -> HostFacts {
        let mut names = Vec::new();
        if let Ok(exe) = std::env::current_exe() {
            names.push(exe.to_string_lossy().into_owned());
        }
        let args: Vec<String> = std::env::args().collect();
        if !args.is_empty() {
            names.push(args.join(" "));
        }
        HostFacts {
            protected: vec![canonical(data_dir)],
            pid: std::process::id(),
            names,
            cwd: std::env::current_dir().ok().map(|d| canonical(&d)),
        }
    }
}

/// `p` with every symlink of its longest existing prefix resolved, and the rest (which does not
/// exist yet) appended after `.`/`..` are folded; a relative `p` is returned as it is (the policy
/// refuses a relative working dir).
pub fn canonical(p: &Path) -> String {
    if !p.is_absolute() {
        return p.to_string_lossy().into_owned();
    }
    let mut existing = p.to_path_buf();
    let mut rest: Vec<PathBuf> = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            let mut out = real;
            for c in rest.iter().rev() {
                for comp in c.components() {
                    match comp {
                        Component::ParentDir => {
                            out.pop();
                        }
                        Component::Normal(n) => out.push(n),
                        _ => {}
                    }
                }
            }
            return out.to_string_lossy().into_owned();
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(PathBuf::from(name));
                existing = parent.to_path_buf();
            }
            // `..` at the end, or the root itself failing: keep the text.
            _ => return p.to_string_lossy().into_owned(),
        }
    }
}

/// Most paths resolved for one question, and the longest one.
const MAX_PATHS: usize = 512;
const MAX_PATH_LEN: usize = 4096;

/// The canonical form of each path a policy asked about, off the async runtime; `Err` (a deny
/// reason) when the request is out of bounds or names a relative path.
pub async fn resolve_all(paths: Vec<String>) -> Result<Vec<(String, String)>, String> {
    if paths.len() > MAX_PATHS {
        return Err(format!(
            "the policy asked to resolve {} paths (at most {MAX_PATHS}); the command is denied",
            paths.len()
        ));
    }
    if let Some(bad) = paths
        .iter()
        .find(|p| !p.starts_with('/') || p.len() > MAX_PATH_LEN || p.contains('\0'))
    {
        return Err(format!(
            "the policy asked to resolve {bad:?}, which is not an absolute path; the command is denied"
        ));
    }
    tokio::task::spawn_blocking(move || {
        paths
            .into_iter()
            .map(|p| {
                let real = canonical(Path::new(&p));
                (p, real)
            })
            .collect()
    })
    .await
    .map_err(|e| format!("resolving paths failed ({e}); the command is denied"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_resolves_existing_symlinks_and_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("tend-facts-{}", std::process::id()));
        let real = dir.join("real");
        std::fs::create_dir_all(&real).unwrap();
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let real_c = std::fs::canonicalize(&real).unwrap();
        assert_eq!(canonical(&link), real_c.to_string_lossy());
        assert_eq!(
            canonical(&link.join("new/sub")),
            real_c.join("new/sub").to_string_lossy()
        );
        assert_eq!(canonical(Path::new("rel/x")), "rel/x");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
