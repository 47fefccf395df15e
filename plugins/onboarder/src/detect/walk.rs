//! Which directories the detectors look at: the root and, for monorepos, the directories that hold
//! projects of their own (at most two levels down). A few `list_dir` calls, never a walk of the
//! whole tree: a preview must stay fast on a project of thousands of files.

use super::Dir;
use crate::model::{Entry, EntryKind, Project, ProjectError};

/// Files that make a directory a project of its own.
const MANIFESTS: &[&str] = &[
    "package.json",
    "pyproject.toml",
    "requirements.txt",
    "setup.py",
    "Pipfile",
    "manage.py",
    "Cargo.toml",
    "go.mod",
    "Gemfile",
    "config.ru",
    "Procfile",
];

/// First-level directories that hold one project each, by convention.
const PROJECT_DIRS: &[&str] = &[
    "backend", "frontend", "api", "server", "web", "client", "worker",
];

/// First-level directories whose subdirectories are projects (`apps/*`).
const CONTAINERS: &[&str] = &["apps", "services", "packages"];

/// Most subdirectories of a container listed one by one when it is too wide to list at once.
const MAX_PROBES: usize = 16;

/// Directories that are never a project: dependencies, build output, tooling.
const SKIP: &[&str] = &[
    "node_modules",
    "target",
    "__pycache__",
    "venv",
    "dist",
    "build",
    "vendor",
];

/// The root first, then the project directories in path order, each with its entries.
pub fn project_dirs(project: &dyn Project) -> Vec<Dir<'_>> {
    let (tree, deep) = list(project, "", 2);
    let root = dir_of(project, "", &tree, true);
    // Conventional names (`backend/`) count only when the root is no project itself: otherwise
    // `web/` is more likely a package of the root's app than a project of its own.
    let conventional = !is_project(&root);
    let mut dirs = vec![root];
    for e in &tree {
        if e.kind != EntryKind::Directory || e.path.contains('/') || skipped(&e.path) {
            continue;
        }
        if CONTAINERS.contains(&e.path.as_str()) {
            let (inner, inner_deep) = list(project, &e.path, 2);
            // Too wide for one listing: each subdirectory costs one, so only the first few.
            let mut budget = if inner_deep { usize::MAX } else { MAX_PROBES };
            for c in &inner {
                let name = c.path.rsplit('/').next().unwrap_or("");
                if c.kind == EntryKind::Directory
                    && c.path.matches('/').count() == 1
                    && !skipped(name)
                    && budget > 0
                {
                    budget -= 1;
                    let d = dir_of(project, &c.path, &inner, inner_deep);
                    if is_project(&d) {
                        dirs.push(d);
                    }
                }
            }
        }
        // A root too large to list two levels deep: only the conventional names are looked
        // into, one listing each, rather than one listing per directory.
        if !deep && !PROJECT_DIRS.contains(&e.path.as_str()) {
            continue;
        }
        let sub = dir_of(project, &e.path, &tree, deep);
        if is_project(&sub) || (conventional && PROJECT_DIRS.contains(&e.path.as_str())) {
            dirs.push(sub);
        }
    }
    dirs.sort_by(|a, b| a.path.cmp(&b.path));
    dirs
}

fn skipped(name: &str) -> bool {
    name.starts_with('.') || SKIP.contains(&name)
}

fn is_project(d: &Dir) -> bool {
    MANIFESTS.iter().any(|m| d.has(m))
}

/// `dir`'s entries `depth` levels deep, and whether they reach that deep: a listing too large for
/// the cap (2,000 entries) falls back to one level; a directory that cannot be listed is empty.
fn list(project: &dyn Project, dir: &str, depth: u32) -> (Vec<Entry>, bool) {
    match project.list_dir(dir, depth) {
        Ok(v) => (v, true),
        Err(ProjectError::TooLarge(_)) if depth > 1 => (list(project, dir, 1).0, false),
        Err(_) => (Vec::new(), false),
    }
}

/// The `Dir` for `path`: its own entries taken from `tree` when `reaches` says the listing went
/// that deep, else listed.
fn dir_of<'a>(project: &'a dyn Project, path: &str, tree: &[Entry], reaches: bool) -> Dir<'a> {
    let entries = if reaches {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        tree.iter()
            .filter(|e| {
                e.path
                    .strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains('/'))
            })
            .cloned()
            .collect()
    } else {
        list(project, path, 1).0
    };
    Dir {
        project,
        path: path.to_string(),
        entries,
    }
}
