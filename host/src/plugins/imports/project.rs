//! `tend:plugin/project`: the WIT glue over `crate::project` (where the jail, the caps and the
//! redaction live). The root is the one the call was started with (a fixer's incident working
//! dir); outside such a call, or without the `project` grant, every request is `denied`. The file
//! system is read off the plugin runtime's threads; refusals of an escape are recorded as the
//! call's denials, like an `http` call beyond the allowlist.

use crate::plugins::bindings::host::tend::plugin::project::{
    self, Entry, EntryKind, Error, File, GrepMatch,
};
use crate::plugins::sandbox::CallState;
use crate::project as fs;

impl CallState {
    /// The call's project, or why there is none.
    fn project(&self, op: &str) -> Result<fs::Project, Error> {
        let project = self
            .ctx
            .agent
            .as_ref()
            .and_then(|a| a.project.clone())
            .filter(|_| self.ctx.grants.project);
        project.ok_or_else(|| {
            let what = format!("project {op}: no project root outside a fixer call");
            self.deny(what.clone());
            Error::Denied(what)
        })
    }

    /// Runs `f` on a blocking thread; a refused escape is recorded as a denial.
    async fn project_call<T: Send + 'static>(
        &mut self,
        op: &str,
        f: impl FnOnce(fs::Project) -> Result<T, fs::Error> + Send + 'static,
    ) -> Result<T, Error> {
        let project = self.project(op)?;
        let result = tokio::task::spawn_blocking(move || f(project))
            .await
            .unwrap_or_else(|e| Err(fs::Error::Io(format!("the read failed: {e}"))));
        result.map_err(|e| {
            if let fs::Error::Denied(why) = &e {
                self.deny(format!("project {op}: {why}"));
            }
            match e {
                fs::Error::NotFound(m) => Error::NotFound(m),
                fs::Error::Denied(m) => Error::Denied(m),
                fs::Error::TooLarge(m) => Error::TooLarge(m),
                fs::Error::Invalid(m) => Error::Invalid(m),
                fs::Error::Io(m) => Error::Io(m),
            }
        })
    }
}

impl project::Host for CallState {
    async fn list_dir(&mut self, dir: String, depth: u32) -> Result<Vec<Entry>, Error> {
        let entries = self
            .project_call("list-dir", move |p| p.list_dir(&dir, depth))
            .await?;
        Ok(entries
            .into_iter()
            .map(|e| Entry {
                path: e.path,
                kind: match e.kind {
                    fs::EntryKind::File => EntryKind::File,
                    fs::EntryKind::Directory => EntryKind::Directory,
                    fs::EntryKind::Symlink => EntryKind::Symlink,
                    fs::EntryKind::Other => EntryKind::Other,
                },
                size: e.size,
                executable: e.executable,
            })
            .collect())
    }

    async fn read_file(&mut self, path: String, max_bytes: u32) -> Result<File, Error> {
        let f = self
            .project_call("read-file", move |p| p.read_file(&path, max_bytes))
            .await?;
        Ok(File {
            path: f.path,
            content: f.content,
            sha256: f.sha256,
            size: f.size,
            truncated: f.truncated,
            redacted: f.redacted,
            binary: f.binary,
            executable: f.executable,
        })
    }

    async fn grep(
        &mut self,
        pattern: String,
        path: String,
        max_matches: u32,
    ) -> Result<Vec<GrepMatch>, Error> {
        let matches = self
            .project_call("grep", move |p| p.grep(&pattern, &path, max_matches))
            .await?;
        Ok(matches
            .into_iter()
            .map(|m| GrepMatch {
                path: m.path,
                line: m.line,
                text: m.text,
            })
            .collect())
    }
}
