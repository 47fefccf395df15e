//! [`Host`]: the traits of this crate over the WIT imports `tend:plugin/project` and
//! `tend:plugin/log`. The imports are generated here from a world of their own; a plugin's world
//! imports the same interfaces, so the component imports them once.

use crate as m;

wit_bindgen::generate!({
    // The version names the package in `wit/`: bump it with the package.
    inline: "
        package tend:agent-kit;
        world imports {
            import tend:plugin/project@0.2.3;
            import tend:plugin/log@0.2.3;
        }
    ",
    path: "../../wit",
    world: "tend:agent-kit/imports",
    // The imported interfaces live in another package (`tend:plugin`): generate them here too.
    generate_all,
});

use tend::plugin::project as p;
use tend::plugin::types::Level;

/// The host as this crate's traits see it.
pub struct Host;

impl m::Log for Host {
    fn info(&self, message: &str) {
        tend::plugin::log::log(Level::Info, message);
    }
    fn warn(&self, message: &str) {
        tend::plugin::log::log(Level::Warn, message);
    }
}

impl m::Project for Host {
    fn list_dir(&self, dir: &str, depth: u32) -> Result<Vec<m::Entry>, m::ProjectError> {
        p::list_dir(dir, depth)
            .map(|v| {
                v.into_iter()
                    .map(|e| m::Entry {
                        path: e.path,
                        kind: match e.kind {
                            p::EntryKind::File => m::EntryKind::File,
                            p::EntryKind::Directory => m::EntryKind::Directory,
                            p::EntryKind::Symlink => m::EntryKind::Symlink,
                            p::EntryKind::Other => m::EntryKind::Other,
                        },
                        size: e.size,
                        executable: e.executable,
                    })
                    .collect()
            })
            .map_err(project_error)
    }

    fn read_file(&self, path: &str, max_bytes: u32) -> Result<m::File, m::ProjectError> {
        p::read_file(path, max_bytes)
            .map(|f| m::File {
                path: f.path,
                content: f.content,
                sha256: f.sha256,
                size: f.size,
                truncated: f.truncated,
                redacted: f.redacted,
                binary: f.binary,
                executable: f.executable,
            })
            .map_err(project_error)
    }

    fn grep(
        &self,
        pattern: &str,
        path: &str,
        max_matches: u32,
    ) -> Result<Vec<m::GrepMatch>, m::ProjectError> {
        p::grep(pattern, path, max_matches)
            .map(|v| {
                v.into_iter()
                    .map(|g| m::GrepMatch {
                        path: g.path,
                        line: g.line,
                        text: g.text,
                    })
                    .collect()
            })
            .map_err(project_error)
    }
}

fn project_error(e: p::Error) -> m::ProjectError {
    match e {
        p::Error::NotFound(s) => m::ProjectError::NotFound(s),
        p::Error::Denied(s) => m::ProjectError::Denied(s),
        p::Error::TooLarge(s) => m::ProjectError::TooLarge(s),
        p::Error::Invalid(s) => m::ProjectError::Invalid(s),
        p::Error::Io(s) => m::ProjectError::Io(s),
    }
}
