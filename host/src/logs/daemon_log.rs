//! The daemon's own log: the global `tracing` subscriber (human-readable to stderr, JSON lines to
//! `<data_dir>/tend.log`, size-rotated like service logs, written off-thread) and reading its tail back
//! for the API. Nothing else here: service output never goes through `tracing`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Context;
use tracing_appender::non_blocking::{NonBlocking, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use super::LogSettings;
use super::rotate::RotatingFile;

pub const DAEMON_LOG_FILE: &str = "tend.log";
const BLOCK: u64 = 64 * 1024;

/// Keeps the log writer thread alive; dropping it flushes what is buffered.
#[must_use = "dropping the guard stops writing tend.log"]
pub struct DaemonLogGuard(#[allow(dead_code)] WorkerGuard);

/// Installs the global subscriber. `filter` uses `EnvFilter` syntax (`"info"`, `"tend=debug"`). Fails if
/// the filter is invalid, the data dir cannot be created, or a global subscriber is already installed.
pub fn init_daemon_log(
    data_dir: &Path,
    filter: &str,
    settings: &LogSettings,
) -> anyhow::Result<DaemonLogGuard> {
    let filter =
        EnvFilter::try_new(filter).with_context(|| format!("invalid log filter {filter:?}"))?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let (writer, guard) = file_writer(data_dir, settings);
    subscriber(filter, writer)
        .try_init()
        .context("cannot install the daemon's log subscriber (one is already installed)")?;
    Ok(DaemonLogGuard(guard))
}

fn file_writer(data_dir: &Path, settings: &LogSettings) -> (NonBlocking, WorkerGuard) {
    let file = RotatingFile::new(
        data_dir.join(DAEMON_LOG_FILE),
        settings.max_bytes,
        settings.backup_count,
    );
    NonBlockingBuilder::default()
        .thread_name("tend-log-writer")
        .finish(file)
}

fn subscriber(
    filter: EnvFilter,
    file: NonBlocking,
) -> impl tracing::Subscriber + Send + Sync + 'static {
    let ansi = io::IsTerminal::is_terminal(&io::stderr());
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(io::stderr).with_ansi(ansi))
        .with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_ansi(false)
                .with_writer(file),
        )
}

/// The last `tail` records of `tend.log`, continuing into `tend.log.1`, `.2`, ... while it has fewer;
/// oldest first. A line that is not a JSON object becomes `{"message": "<raw line>"}`.
pub fn read_daemon_log(data_dir: &Path, tail: usize) -> io::Result<Vec<serde_json::Value>> {
    let mut newest_first: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut found = 0;
    let mut n = 0;
    while found < tail {
        let path = numbered(&data_dir.join(DAEMON_LOG_FILE), n);
        match File::open(&path) {
            Ok(mut f) => {
                let lines = last_lines(&mut f, tail - found)?;
                found += lines.len();
                newest_first.push(lines);
            }
            // The live file may be missing for a moment while it rotates; a missing backup ends the chain.
            Err(e) if e.kind() == io::ErrorKind::NotFound && n > 0 => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        n += 1;
    }
    Ok(newest_first
        .into_iter()
        .rev()
        .flatten()
        .map(|l| to_record(&l))
        .collect())
}

fn numbered(base: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return base.to_path_buf();
    }
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn to_record(line: &[u8]) -> serde_json::Value {
    match serde_json::from_slice::<serde_json::Value>(line) {
        Ok(v) if v.is_object() => v,
        _ => serde_json::json!({ "message": String::from_utf8_lossy(line) }),
    }
}

/// The last `want` non-empty lines of `f`, oldest first. Scans backwards for line starts so only the
/// needed tail is read, however large the file.
fn last_lines(f: &mut File, want: usize) -> io::Result<Vec<Vec<u8>>> {
    let len = f.metadata()?.len();
    let mut start = 0;
    let mut pos = len;
    let mut newlines = 0;
    let mut block = Vec::new();
    // The file normally ends with '\n', so `want` lines begin after the (want+1)-th newline from the end.
    'scan: while pos > 0 {
        let n = BLOCK.min(pos);
        pos -= n;
        block.resize(n as usize, 0);
        f.seek(SeekFrom::Start(pos))?;
        f.read_exact(&mut block)?;
        for i in memchr::memrchr_iter(b'\n', &block) {
            newlines += 1;
            if newlines > want {
                start = pos + i as u64 + 1;
                break 'scan;
            }
        }
    }
    let mut text = Vec::new();
    f.seek(SeekFrom::Start(start))?;
    f.take(len - start).read_to_end(&mut text)?;
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let skip = lines.len().saturating_sub(want);
    Ok(lines[skip..].iter().map(|l| l.to_vec()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(values: &[serde_json::Value]) -> Vec<String> {
        values
            .iter()
            .map(|v| v["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn tail_continues_into_rotated_files_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("tend.log.2"), "{\"message\":\"a\"}\n").unwrap();
        std::fs::write(
            d.join("tend.log.1"),
            "{\"message\":\"b\"}\nnot json\n{\"message\":\"c\"}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("tend.log"),
            "{\"message\":\"d\"}\n{\"message\":\"e\"}\n",
        )
        .unwrap();
        assert_eq!(messages(&read_daemon_log(d, 1).unwrap()), ["e"]);
        assert_eq!(messages(&read_daemon_log(d, 2).unwrap()), ["d", "e"]);
        assert_eq!(
            messages(&read_daemon_log(d, 4).unwrap()),
            ["not json", "c", "d", "e"]
        );
        assert_eq!(
            messages(&read_daemon_log(d, 100).unwrap()),
            ["a", "b", "not json", "c", "d", "e"]
        );
        assert!(read_daemon_log(d, 0).unwrap().is_empty());
        assert!(
            read_daemon_log(&d.join("nothing-here"), 10)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn tail_of_a_large_file_without_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!(
                "{{\"message\":\"line {i}\",\"pad\":\"{}\"}}\n",
                "x".repeat(i % 50)
            ));
        }
        text.push_str("{\"message\":\"cut");
        std::fs::write(dir.path().join("tend.log"), &text).unwrap();
        let got = messages(&read_daemon_log(dir.path(), 3).unwrap());
        assert_eq!(got, ["line 19998", "line 19999", "{\"message\":\"cut"]);
    }

    #[test]
    fn records_are_json_with_top_level_message_and_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let settings = LogSettings {
            max_bytes: 2000,
            backup_count: 2,
            ..LogSettings::default()
        };
        let (writer, guard) = file_writer(dir.path(), &settings);
        let filter = EnvFilter::try_new("debug").unwrap();
        tracing::subscriber::with_default(subscriber(filter, writer), || {
            for i in 0..100 {
                tracing::info!(n = i, "event {i}");
            }
            tracing::trace!("filtered out");
        });
        drop(guard);
        let got = read_daemon_log(dir.path(), 1000).unwrap();
        assert!(dir.path().join("tend.log.2").exists());
        assert!(!dir.path().join("tend.log.3").exists());
        assert!(got.len() < 100, "older records rotated away");
        let last = got.last().unwrap();
        assert_eq!(last["message"], "event 99");
        assert_eq!(last["level"], "INFO");
        assert_eq!(last["n"], 99);
        let numbers: Vec<i64> = got.iter().map(|v| v["n"].as_i64().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    }
}
