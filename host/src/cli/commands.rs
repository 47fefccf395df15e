//! One method per client command: call the API, then print either the JSON as received (`--json`) or
//! the human rendering from `render`. Printing goes through `out` so a closed stdout ends quietly.

use std::io::Write;
use std::path::{Path, PathBuf};

use reqwest::Method;
use serde_json::Value;

use super::add::{self, AddArgs};
use super::client::{Answer, CliError, Client};
use super::edit::{self, Assignment};
use super::render;
use super::sse::SseEvent;
use crate::wire::{
    ActionResponse, Event, EventsPage, LogLine, LogsPage, ServiceView, StatusResponse,
};

#[derive(Clone, Debug, clap::Args)]
pub struct LogsArgs {
    /// Service name
    pub name: String,
    /// How many of the latest lines to print first [default: the daemon's, 100; 10 with -f]
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub lines: Option<u32>,
    /// Keep printing new lines as they arrive, until Ctrl-C
    #[arg(short, long)]
    pub follow: bool,
    /// Only this stream
    #[arg(long, value_name = "STREAM", value_parser = ["stdout", "stderr"])]
    pub stream: Option<String>,
    /// Print only the text of each line
    #[arg(long)]
    pub raw: bool,
    /// Only lines containing PATTERN (case-insensitive), searched by the daemon: the newest N matches
    /// (-n, default 100), oldest first
    #[arg(long, value_name = "PATTERN", conflicts_with = "follow")]
    pub grep: Option<String>,
    /// PATTERN is a regular expression
    #[arg(long, requires = "grep")]
    pub regex: bool,
    /// Match PATTERN case-sensitively
    #[arg(long, requires = "grep")]
    pub case_sensitive: bool,
}

/// The bus topics whose events are a service's own (`Event`): what `tend status --watch` prints.
const SERVICE_TOPICS: [&str; 4] = ["lifecycle", "health", "caddy", "job"];

/// How many transitions `tend status NAME` shows.
const RECENT_EVENTS: usize = 5;

pub struct Ctx {
    pub client: Client,
    pub json: bool,
}

/// Writes `text` to stdout (an error when stdout is gone, e.g. a closed pipe).
pub(super) fn out(text: &str) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// A JSON document as received, on its own line(s).
pub(super) fn out_raw(answer: &Answer) -> Result<(), CliError> {
    out(&format!("{}\n", answer.text.trim_end()))
}

/// One JSON value per line: SSE data is normally one line already; anything else is compacted.
fn out_json_line(data: &str) -> Result<(), CliError> {
    if data.contains('\n') {
        let v: Value = serde_json::from_str(data).map_err(|e| {
            CliError::Other(anyhow::anyhow!(
                "unexpected event data from the daemon: {e}"
            ))
        })?;
        out(&format!("{v}\n"))
    } else {
        out(&format!("{data}\n"))
    }
}

fn parse_event<T: serde::de::DeserializeOwned>(ev: &SseEvent) -> Result<T, CliError> {
    serde_json::from_str(&ev.data).map_err(|e| {
        CliError::Other(anyhow::anyhow!(
            "unexpected {} event from the daemon: {e}: {}",
            ev.event,
            ev.data
        ))
    })
}

impl Ctx {
    pub async fn ls(&self) -> Result<(), CliError> {
        let answer = self.client.get(&["api", "services"], &[]).await?;
        if self.json {
            return out_raw(&answer);
        }
        let services: Vec<ServiceView> = answer.parse()?;
        if services.is_empty() {
            out("no services\n")
        } else {
            out(&render::services_table(&services))
        }
    }

    pub async fn status(&self) -> Result<(), CliError> {
        let answer = self.client.get(&["api", "status"], &[]).await?;
        if self.json {
            return out_raw(&answer);
        }
        let status: StatusResponse = answer.parse()?;
        let services: Vec<ServiceView> =
            self.client.get(&["api", "services"], &[]).await?.parse()?;
        out(&render::status(&status, &services, chrono::Utc::now()))
    }

    pub async fn service_status(&self, name: &str) -> Result<(), CliError> {
        let answer = self.client.get(&["api", "services", name], &[]).await?;
        if self.json {
            return out_raw(&answer);
        }
        let view: ServiceView = answer.parse()?;
        let query = [("limit", RECENT_EVENTS.to_string())];
        // The history is a nicety: the service itself was found, so a failure here is not worth an error.
        let events = match self
            .client
            .get(&["api", "services", name, "events"], &query)
            .await
        {
            Ok(a) => a
                .parse::<EventsPage>()
                .map(|p| p.events)
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let start = events.len().saturating_sub(RECENT_EVENTS);
        out(&render::service_details(
            &view,
            &events[start..],
            chrono::Utc::now(),
        ))
    }

    pub async fn watch(&self, name: Option<&str>) -> Result<(), CliError> {
        if let Some(name) = name {
            // Fail with "not found" now rather than wait silently for a service that does not exist.
            self.client.get(&["api", "services", name], &[]).await?;
        }
        // The service events (the daemon filters by service too).
        let mut query = vec![("topics", SERVICE_TOPICS.join(","))];
        if let Some(name) = name {
            query.push(("service", name.to_string()));
        }
        self.client
            .follow(&["api", "events"], &query, |ev| {
                if !SERVICE_TOPICS.contains(&ev.event.as_str()) {
                    return Ok(());
                }
                let event: Event = parse_event(&ev)?;
                if name.is_some_and(|n| n != event.service) {
                    return Ok(());
                }
                if self.json {
                    out_json_line(&ev.data)
                } else {
                    out(&format!("{}\n", render::event_line(&event)))
                }
            })
            .await
    }

    pub async fn logs(&self, args: &LogsArgs) -> Result<(), CliError> {
        let mut query: Vec<(&str, String)> = Vec::new();
        match (&args.grep, args.lines) {
            (Some(pattern), n) => {
                query.push(("q", pattern.clone()));
                if let Some(n) = n {
                    query.push(("limit", n.to_string()));
                }
                if args.regex {
                    query.push(("regex", "true".into()));
                }
                if args.case_sensitive {
                    query.push(("case_sensitive", "true".into()));
                }
            }
            (None, Some(n)) => query.push(("tail", n.to_string())),
            (None, None) => {}
        }
        if let Some(s) = &args.stream {
            query.push(("stream", s.clone()));
        }
        let name = args.name.as_str();
        if args.follow {
            // Filtered here as well, in case a daemon's follow route ignores `stream`.
            let wanted = args.stream.as_deref();
            return self
                .client
                .follow(&["api", "services", name, "logs", "follow"], &query, |ev| {
                    if ev.event != "log" && ev.event != "message" {
                        return Ok(());
                    }
                    let line: LogLine = parse_event(&ev)?;
                    if wanted.is_some_and(|s| s != line.stream.as_str()) {
                        return Ok(());
                    }
                    if self.json {
                        out_json_line(&ev.data)
                    } else {
                        out(&render::log_line(&line, args.raw))
                    }
                })
                .await;
        }
        let answer = self
            .client
            .get(&["api", "services", name, "logs"], &query)
            .await?;
        if self.json {
            let page: Value = answer.parse()?;
            let lines = page
                .get("lines")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            return out(&text);
        }
        let page: LogsPage = answer.parse()?;
        if page.truncated {
            eprintln!(
                "note: the search stopped after {} lines; older matches may exist",
                page.scanned.unwrap_or_default()
            );
        }
        let mut text: String = page
            .lines
            .iter()
            .map(|l| render::log_line(l, args.raw))
            .collect();
        if args.raw && page.lines.last().is_some_and(|l| l.partial) {
            text.push('\n');
        }
        out(&text)
    }

    pub async fn add(&self, args: &AddArgs) -> Result<(), CliError> {
        let base = match &args.file {
            Some(f) => add::read_spec_file(f)?,
            None => serde_json::Map::new(),
        };
        let cwd = std::env::current_dir().map_err(|e| {
            CliError::Other(anyhow::anyhow!("cannot read the current directory: {e}"))
        })?;
        let spec = add::build_spec(args, base, &cwd)?;
        let answer = self
            .client
            .send(Method::POST, &["api", "services"], Some(&spec))
            .await?;
        self.print_view(&answer, "added")
    }

    fn print_view(&self, answer: &Answer, verb: &str) -> Result<(), CliError> {
        if self.json {
            return out_raw(answer);
        }
        let view: ServiceView = answer.parse()?;
        out(&format!(
            "{verb} {} ({})\n",
            view.spec.name,
            view.state.status.as_str()
        ))
    }

    pub async fn remove(&self, name: &str) -> Result<(), CliError> {
        let answer = self
            .client
            .send(Method::DELETE, &["api", "services", name], None)
            .await?;
        self.print_action(&answer)
    }

    pub async fn action(&self, name: &str, action: &str) -> Result<(), CliError> {
        let answer = self
            .client
            .send(Method::POST, &["api", "services", name, action], None)
            .await?;
        self.print_action(&answer)
    }

    fn print_action(&self, answer: &Answer) -> Result<(), CliError> {
        if self.json {
            return out_raw(answer);
        }
        let r: ActionResponse = answer.parse()?;
        out(&format!("{}: {}\n", r.name, r.state.status.as_str()))
    }

    async fn current_spec(
        &self,
        name: &str,
    ) -> Result<(Value, serde_json::Map<String, Value>), CliError> {
        let view: Value = self
            .client
            .get(&["api", "services", name], &[])
            .await?
            .parse()?;
        let spec = edit::spec_of_view(view.clone())?;
        Ok((view, spec))
    }

    async fn put(&self, name: &str, spec: &Value) -> Result<Answer, CliError> {
        self.client
            .send(Method::PUT, &["api", "services", name], Some(spec))
            .await
    }

    pub async fn edit_set(&self, name: &str, sets: &[Assignment]) -> Result<(), CliError> {
        let (_, mut spec) = self.current_spec(name).await?;
        for a in sets {
            edit::apply(&mut spec, a)?;
        }
        let answer = self.put(name, &Value::Object(spec)).await?;
        self.print_view(&answer, "updated")
    }

    pub async fn edit_interactive(&self, name: &str) -> Result<(), CliError> {
        let (view, spec) = self.current_spec(name).await?;
        if view.get("source").and_then(Value::as_str) == Some("config") {
            return Err(CliError::Other(anyhow::anyhow!(
                "{name} is defined in the daemon's config file (tend.toml); edit it there"
            )));
        }
        let original = Value::Object(spec);
        let before = format!("{:#}\n", original);
        let file = TempFile::create(name, &before)?;
        edit::run_editor(file.path())?;
        let after = std::fs::read_to_string(file.path()).map_err(|e| {
            CliError::Other(anyhow::anyhow!(
                "cannot read back {}: {e}",
                file.path().display()
            ))
        })?;
        let edited: Value = match serde_json::from_str(&after) {
            Ok(v) => v,
            Err(e) => {
                let kept = file.keep();
                return Err(CliError::Other(anyhow::anyhow!(
                    "the edited spec is not valid JSON: {e}; nothing was changed (your edit is in {})",
                    kept.display()
                )));
            }
        };
        if after == before || edited == original {
            return if self.json {
                Ok(())
            } else {
                out("no changes\n")
            };
        }
        match self.put(name, &edited).await {
            Ok(answer) => self.print_view(&answer, "updated"),
            Err(e @ (CliError::Api { .. } | CliError::Unreachable { .. })) => {
                eprintln!("note: your edit is kept in {}", file.keep().display());
                Err(e)
            }
            Err(e) => Err(e),
        }
    }
}

/// A private file for the editor, removed on drop unless `keep` is called.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl TempFile {
    fn create(name: &str, contents: &str) -> Result<TempFile, CliError> {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::temp_dir();
        let mut last_err = None;
        for attempt in 0..100u32 {
            let path = dir.join(format!(
                "tend-edit-{name}-{}-{attempt}.json",
                std::process::id()
            ));
            let opened = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match opened {
                Ok(mut f) => {
                    let file = TempFile { path, keep: false };
                    f.write_all(contents.as_bytes()).map_err(|e| {
                        CliError::Other(anyhow::anyhow!(
                            "cannot write {}: {e}",
                            file.path.display()
                        ))
                    })?;
                    return Ok(file);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => {
                    return Err(CliError::Other(anyhow::anyhow!(
                        "cannot create a file in {}: {e}",
                        dir.display()
                    )));
                }
            }
        }
        Err(CliError::Other(anyhow::anyhow!(
            "cannot create a file in {}: {}",
            dir.display(),
            last_err.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_private_and_removed_unless_kept() {
        use std::os::unix::fs::PermissionsExt;
        let a = TempFile::create("t", "{}").unwrap();
        let b = TempFile::create("t", "{}").unwrap();
        assert_ne!(a.path(), b.path());
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let a_path = a.path().to_path_buf();
        drop(a);
        assert!(!a_path.exists());
        let kept = b.keep();
        assert!(kept.exists());
        std::fs::remove_file(kept).unwrap();
    }
}
