//! Which directory a request's `project` means, and the project's name: a bare name is
//! `<projects_root>/<name>`, an absolute path (or `~/...`) is taken as is. A bare name may not
//! leave the projects root, neither by what it says (`/`, `..`) nor through a symlink. Pure file
//! system lookups; knows no HTTP.

use std::path::{Component, Path, PathBuf};

use crate::failure::Failure;
use crate::spec::FieldError;

fn invalid(field: &str, message: impl Into<String>) -> Failure {
    Failure::Invalid(FieldError {
        field: field.into(),
        message: message.into(),
    })
}

/// The project's canonical root directory.
pub fn resolve(
    project: &str,
    projects_root: &Path,
    home: Option<&Path>,
) -> Result<PathBuf, Failure> {
    let project = project.trim();
    if project.is_empty() {
        return Err(invalid(
            "project",
            "a project name (under [onboard] projects_root) or an absolute path",
        ));
    }
    if project.contains('\0') || project.chars().any(char::is_control) {
        return Err(invalid("project", "must not contain control characters"));
    }
    let (path, bare) = if project == "~" || project.starts_with("~/") {
        let home = home.ok_or_else(|| {
            invalid(
                "project",
                "starts with `~` but the home directory is unknown",
            )
        })?;
        (
            home.join(project.trim_start_matches('~').trim_start_matches('/')),
            false,
        )
    } else if Path::new(project).is_absolute() {
        (PathBuf::from(project), false)
    } else {
        // A bare name: one path component, nothing that climbs.
        let one = Path::new(project).components().collect::<Vec<_>>();
        if project.contains('/')
            || project.contains('\\')
            || one.len() != 1
            || !matches!(one[0], Component::Normal(_))
        {
            return Err(invalid(
                "project",
                format!(
                    "{project:?} is neither a bare name under [onboard] projects_root nor an \
                     absolute path (names may not contain `/` or `..`)"
                ),
            ));
        }
        (projects_root.join(project), true)
    };
    let canonical = match std::fs::canonicalize(&path) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::NotFound(format!(
                "no project directory at {}",
                path.display()
            )));
        }
        Err(e) => {
            return Err(invalid(
                "project",
                format!("cannot read {}: {e}", path.display()),
            ));
        }
    };
    if bare {
        let root = std::fs::canonicalize(projects_root).unwrap_or_else(|_| projects_root.into());
        if !canonical.starts_with(&root) || canonical == root {
            return Err(invalid(
                "project",
                format!(
                    "{project:?} leads outside [onboard] projects_root ({}) to {}",
                    root.display(),
                    canonical.display()
                ),
            ));
        }
    }
    if !canonical.is_dir() {
        return Err(invalid(
            "project",
            format!("{} is not a directory", canonical.display()),
        ));
    }
    Ok(canonical)
}

/// The project's name: `given` (checked like a service name, field `name`), else the root's
/// directory name made into one (lowercase; other characters become `-`).
pub fn project_name(root: &Path, given: Option<&str>) -> Result<String, Failure> {
    if let Some(name) = given {
        crate::spec::validate_name(name).map_err(|e| invalid("name", e.message))?;
        return Ok(name.to_string());
    }
    let dir = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = dir
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = name.trim_start_matches(['-', '_']).len();
    name = name[name.len() - trimmed..].chars().take(40).collect();
    let name = name.trim_end_matches(['-', '_']).to_string();
    crate::spec::validate_name(&name).map_err(|_| {
        invalid(
            "name",
            format!("cannot make a name of the directory {dir:?}: give one with `name`"),
        )
    })?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Failure) -> String {
        match e {
            Failure::Invalid(f) => f.field,
            other => panic!("not invalid: {other}"),
        }
    }

    #[test]
    fn names_paths_home_and_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let root = base.join("Code");
        std::fs::create_dir_all(root.join("shop")).unwrap();
        std::fs::create_dir_all(base.join("elsewhere")).unwrap();
        std::fs::write(root.join("file"), "x").unwrap();
        std::os::unix::fs::symlink(base.join("elsewhere"), root.join("out")).unwrap();
        std::os::unix::fs::symlink(root.join("shop"), root.join("in")).unwrap();
        let home = Some(base.as_path());
        assert_eq!(resolve("shop", &root, home).unwrap(), root.join("shop"));
        // A symlink that stays inside the root is fine; one that leaves it is not.
        assert_eq!(resolve("in", &root, home).unwrap(), root.join("shop"));
        assert_eq!(field(resolve("out", &root, home).unwrap_err()), "project");
        for bad in ["..", ".", "shop/..", "a/b", "../elsewhere", "", " "] {
            assert_eq!(
                field(resolve(bad, &root, home).unwrap_err()),
                "project",
                "{bad}"
            );
        }
        // Absolute paths and `~/` are taken as they are, inside the root or not.
        let abs = base.join("elsewhere");
        assert_eq!(resolve(abs.to_str().unwrap(), &root, home).unwrap(), abs);
        assert_eq!(resolve("~/elsewhere", &root, home).unwrap(), abs);
        assert!(matches!(
            resolve("missing", &root, home).unwrap_err(),
            Failure::NotFound(m) if m.contains("missing")
        ));
        assert_eq!(field(resolve("file", &root, home).unwrap_err()), "project");
    }

    #[test]
    fn names_come_from_the_directory_or_the_request() {
        let p = Path::new("/x/My Shop.v2");
        assert_eq!(project_name(p, None).unwrap(), "my-shop-v2");
        assert_eq!(project_name(p, Some("shop")).unwrap(), "shop");
        assert_eq!(
            field(project_name(p, Some("Bad/Name")).unwrap_err()),
            "name"
        );
        assert_eq!(
            field(project_name(Path::new("/x/..."), None).unwrap_err()),
            "name"
        );
    }
}
