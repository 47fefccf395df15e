//! One service's log file: the record format `<time> <stdout|stderr>[+] <text>\n` on top of a
//! [`RotatingFile`], shared by both streams of every run of the service. Write errors are reported once
//! per failure streak and never reach the reader (the database path carries on regardless).
//!
//! Writes happen inline on the reader's task, under a short `std` mutex: an append to a local file is a
//! memcpy into the page cache, and a hop to a blocking thread per chunk would cost more than it saves.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use super::LogSettings;
use super::rotate::RotatingFile;
use crate::wire::Stream;

pub(super) type SharedFile = Arc<Mutex<ServiceFile>>;

pub(super) struct ServiceFile {
    /// None when the service name cannot be a file name: such lines go to the database only.
    file: Option<RotatingFile>,
    failing: bool,
}

/// `"<time> <stream>"`, built once per read chunk.
pub(super) fn record_prefix(buf: &mut Vec<u8>, time: &str, stream: Stream) {
    buf.clear();
    buf.extend_from_slice(time.as_bytes());
    buf.push(b' ');
    buf.extend_from_slice(stream.as_str().as_bytes());
}

/// Appends one record, `<prefix>[+] <text>\n`, to `buf`; `prefix` comes from [`record_prefix`].
pub(super) fn push_record(buf: &mut Vec<u8>, prefix: &[u8], text: &[u8], partial: bool) {
    buf.extend_from_slice(prefix);
    buf.extend_from_slice(if partial { b"+ " } else { b" " });
    buf.extend_from_slice(text);
    buf.push(b'\n');
}

impl ServiceFile {
    pub(super) fn new(logs_dir: &Path, service: &str, settings: &LogSettings) -> SharedFile {
        let usable = !service.is_empty()
            && service != "."
            && service != ".."
            && !service.contains(['/', '\0']);
        let file = if usable {
            let path = logs_dir.join(service).join(format!("{service}.log"));
            Some(RotatingFile::new(
                path,
                settings.max_bytes,
                settings.backup_count,
            ))
        } else {
            tracing::error!(
                service,
                "service name is not a valid file name; its output is kept in the database only"
            );
            None
        };
        Arc::new(Mutex::new(ServiceFile {
            file,
            failing: false,
        }))
    }

    pub(super) fn lock(shared: &SharedFile) -> MutexGuard<'_, ServiceFile> {
        shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends the records in `buf` (made with [`push_record`]); `ends` holds the end offset of each.
    pub(super) fn write_records(&mut self, buf: &[u8], ends: &[usize]) {
        if let Some(file) = &mut self.file {
            let result = file.write_records(buf, ends);
            self.note(result);
        }
    }

    pub(super) fn flush(&mut self) {
        if let Some(file) = &mut self.file {
            let result = file.flush();
            self.note(result);
        }
    }

    fn note(&mut self, result: std::io::Result<()>) {
        if result.is_err() == self.failing {
            return;
        }
        self.failing = result.is_err();
        let path = self.file.as_ref().map(|f| f.path().display().to_string());
        match result {
            Err(e) => {
                tracing::error!(error = %e, path, "writing the service log file failed; retrying on later lines")
            }
            Ok(()) => tracing::info!(path, "writing the service log file works again"),
        }
    }
}
