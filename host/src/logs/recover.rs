//! Boot-time recovery of log lines that reached a service's log file but not the database: a daemon
//! killed with SIGKILL loses what its database writer still had queued, while the files (written first,
//! inline on the reader) keep it. At boot, before any capture starts, every `<logs_dir>/<svc>/<svc>.log`
//! (and its rotated `.log.N` files, oldest first) is read from the newest stored line of that service on,
//! and what the database lacks is inserted, so the API and the files agree again.
//!
//! Which records are missing: a read chunk's lines share one time stamp and are committed in one
//! transaction, so per (time, stream) a chunk is in the database whole or not at all. Records newer than
//! the service's newest stored time are missing; records at that time are missing only for a stream that
//! has no row at that time. Older records were stored (or pruned by retention, and are not brought back:
//! nothing older than the retention cutoff is re-ingested). A record cut short by the kill (a file not
//! ending in `\n`) is stored as far as it got, and the file is terminated so the next daemon's first
//! record starts on a line of its own.
//!
//! Recovery stops at the disk's free-space floor (`floor.rs`), like capture. It must not run while
//! captures write the files (the daemon calls it before `LogHub::start`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::LogSettings;
use super::floor::DiskFloor;
use crate::store::{NewLogLine, Store, StoreError};
use crate::wire::Stream;

/// Rows handed to one `insert_logs` call (one transaction).
const INSERT_CHUNK: usize = 2_000;

/// One parsed file record.
#[derive(Debug, PartialEq)]
pub(super) struct Record {
    pub(super) time: String,
    pub(super) stream: Stream,
    pub(super) partial: bool,
    pub(super) text: String,
}

/// `<time> <stdout|stderr>[+] <text>` (without the newline) -> a record; None if it is not one.
pub(super) fn parse_record(line: &[u8]) -> Option<Record> {
    let space = line.iter().position(|&b| b == b' ')?;
    let time = std::str::from_utf8(&line[..space]).ok()?;
    chrono::DateTime::parse_from_rfc3339(time).ok()?;
    let rest = &line[space + 1..];
    let stream = match rest.get(..6)? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let (partial, text) = match rest.get(6..)? {
        [b'+', b' ', text @ ..] => (true, text),
        [b' ', text @ ..] => (false, text),
        _ => return None,
    };
    Some(Record {
        time: time.to_string(),
        stream,
        partial,
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

/// Re-ingests every service's missing lines; returns how many lines were stored. Errors of one service
/// are logged and do not stop the others; only a failing database write is returned.
pub async fn recover_from_files(
    store: &Store,
    logs_dir: &Path,
    settings: &LogSettings,
) -> Result<u64, StoreError> {
    let retention_days = settings.retention_days;
    // The space kept for state is not for recovered lines either.
    let floor = DiskFloor::new(logs_dir.to_path_buf(), settings.min_free_mb);
    let cutoff = (retention_days > 0)
        .then(|| {
            chrono::TimeDelta::try_days(i64::from(retention_days))
                .and_then(|age| chrono::Utc::now().checked_sub_signed(age))
        })
        .flatten()
        .map(crate::store::fmt_time);
    let Ok(dirs) = fs::read_dir(logs_dir) else {
        return Ok(0);
    };
    let mut total = 0;
    for entry in dirs.flatten() {
        let Ok(service) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path().join(format!("{service}.log"));
        if !entry.path().is_dir() || !path.is_file() {
            continue;
        }
        let n = recover_service(store, &service, &path, cutoff.as_deref(), &floor).await?;
        if n > 0 {
            tracing::info!(
                service,
                lines = n,
                "re-ingested log lines the database lacked from the log file"
            );
        }
        total += n;
    }
    Ok(total)
}

async fn recover_service(
    store: &Store,
    service: &str,
    path: &Path,
    cutoff: Option<&str>,
    floor: &DiskFloor,
) -> Result<u64, StoreError> {
    let (newest, streams_at_newest) = match store.newest_log_time(service).await? {
        Some((time, streams)) => (Some(time), streams),
        None => (None, Vec::new()),
    };
    let from = match (&newest, cutoff) {
        (Some(t), Some(c)) => Some(t.as_str().max(c).to_string()),
        (Some(t), None) => Some(t.clone()),
        (None, c) => c.map(str::to_string),
    };
    let missing = |r: &Record| match &from {
        None => true,
        Some(from) => {
            r.time.as_str() > from.as_str()
                || (r.time == *from
                    && newest.as_deref() == Some(from.as_str())
                    && !streams_at_newest.contains(&r.stream))
        }
    };
    if let Err(e) = terminate_last_record(path) {
        tracing::warn!(error = %e, path = %path.display(), "cannot terminate the log file's last record");
    }
    let mut rows = Vec::new();
    let mut stored = 0;
    for file in files_from(path, from.as_deref()) {
        let reader = match File::open(&file) {
            Ok(f) => BufReader::with_capacity(256 * 1024, f),
            Err(e) => {
                tracing::warn!(error = %e, path = %file.display(), "cannot read a log file to recover lines");
                continue;
            }
        };
        for line in reader.split(b'\n') {
            let Ok(line) = line else { break };
            let Some(record) = parse_record(&line) else {
                continue;
            };
            if !missing(&record) {
                continue;
            }
            rows.push(NewLogLine {
                service: service.to_string(),
                stream: record.stream,
                time: record.time,
                line: record.text,
                partial: record.partial,
            });
            if rows.len() >= INSERT_CHUNK {
                let bytes = rows.iter().map(|r| r.line.len()).sum();
                if floor.below(bytes) {
                    return Ok(stored);
                }
                stored += store.insert_logs(&rows).await?.len() as u64;
                rows.clear();
            }
        }
    }
    let bytes = rows.iter().map(|r| r.line.len()).sum();
    if !floor.below(bytes) {
        stored += store.insert_logs(&rows).await?.len() as u64;
    }
    Ok(stored)
}

/// The files of one service log oldest first, starting with the newest file whose first record is not
/// newer than `from` (earlier files hold only older records); all of them without `from`.
fn files_from(path: &Path, from: Option<&str>) -> Vec<PathBuf> {
    let numbered = |n: u32| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    let mut files = vec![path.to_path_buf()];
    let mut n = 1;
    loop {
        let Some(from) = from else {
            // Keep going back while rotated files exist.
            let older = numbered(n);
            if !older.is_file() {
                break;
            }
            files.push(older);
            n += 1;
            continue;
        };
        let newest_kept = files.last().expect("at least the current file");
        if first_time(newest_kept).is_some_and(|t| t.as_str() <= from) {
            break;
        }
        let older = numbered(n);
        if !older.is_file() {
            break;
        }
        files.push(older);
        n += 1;
    }
    files.reverse();
    files
}

/// The time of a file's first parsable record.
fn first_time(path: &Path) -> Option<String> {
    let reader = BufReader::new(File::open(path).ok()?);
    reader
        .split(b'\n')
        .map_while(Result::ok)
        .take(16)
        .find_map(|l| parse_record(&l))
        .map(|r| r.time)
}

/// A record cut by the kill leaves the file without a final newline; append one so the fragment stays
/// a line of its own (it is read as a record if its prefix survived) and the next record starts clean.
fn terminate_last_record(path: &Path) -> io::Result<()> {
    let mut file = OpenOptions::new().read(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LogQuery;

    fn line(time: &str, stream: Stream, text: &str) -> NewLogLine {
        NewLogLine {
            service: "svc".into(),
            stream,
            time: time.into(),
            line: text.into(),
            partial: false,
        }
    }

    #[test]
    fn records_parse_and_junk_does_not() {
        let r = parse_record(b"2026-01-01T00:00:00.000001Z stderr+ a b ").unwrap();
        assert_eq!(
            (r.stream, r.partial, r.text.as_str()),
            (Stream::Stderr, true, "a b ")
        );
        assert_eq!(
            parse_record(b"2026-01-01T00:00:00.000001Z stdout ")
                .unwrap()
                .text,
            ""
        );
        for junk in [
            &b"2026-01-01T00:0"[..],
            b"x stdout a",
            b"2026-01-01T00:00:00Z stdin a",
            b"",
        ] {
            assert!(parse_record(junk).is_none(), "{junk:?}");
        }
    }

    #[tokio::test]
    async fn only_what_the_store_lacks_is_ingested_once_and_a_cut_record_is_terminated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tend.db")).await.unwrap();
        let (t0, t1, t2, t3) = (
            "2099-01-01T00:00:00.000000Z",
            "2099-01-01T00:00:01.000000Z",
            "2099-01-01T00:00:02.000000Z",
            "2099-01-01T00:00:03.000000Z",
        );
        store
            .insert_logs(&[line(t0, Stream::Stdout, "a"), line(t1, Stream::Stdout, "b")])
            .await
            .unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(logs.join("svc")).unwrap();
        let file = logs.join("svc/svc.log");
        // The oldest record is in a rotated file.
        std::fs::write(logs.join("svc/svc.log.1"), format!("{t0} stdout a\n")).unwrap();
        std::fs::write(
            &file,
            format!("{t1} stdout b\n{t1} stderr c\n{t2} stdout d\n{t3} stdout e-cut"),
        )
        .unwrap();
        let settings = LogSettings {
            retention_days: 0,
            min_free_mb: 0,
            ..LogSettings::default()
        };
        assert_eq!(
            recover_from_files(&store, &logs, &settings).await.unwrap(),
            3
        );
        assert!(std::fs::read_to_string(&file).unwrap().ends_with("e-cut\n"));
        assert_eq!(
            recover_from_files(&store, &logs, &settings).await.unwrap(),
            0
        );
        let texts: Vec<String> = store
            .query_logs(&LogQuery::new("svc"))
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.line)
            .collect();
        assert_eq!(texts, ["a", "b", "c", "d", "e-cut"]);
    }
}
