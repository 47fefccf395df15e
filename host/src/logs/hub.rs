//! [`LogHub`]: the pipeline's front door. Owns the background tasks (database writer, retention), the
//! per-service shared files and the live broadcast; hands out captures. Holds no lock across `.await`.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::LogSettings;
use super::capture::{Capture, PipeReader};
use super::db::{self, Queue};
use super::floor::DiskFloor;
use super::inflight::Inflight;
use super::retention;
use super::service_file::{ServiceFile, SharedFile};
use crate::store::{RetentionSettings, Store};
use crate::wire::{LogLine, Stream};

/// Live lines kept for slow subscribers before they see `RecvError::Lagged`.
const LIVE_CAPACITY: usize = 16 * 1024;

/// Handle to the log pipeline; cheap to clone.
#[derive(Clone)]
pub struct LogHub {
    inner: Arc<Inner>,
}

struct Inner {
    logs_dir: PathBuf,
    settings: LogSettings,
    queue: Queue,
    live: broadcast::Sender<Arc<LogLine>>,
    inflight: Arc<Inflight>,
    floor: Arc<DiskFloor>,
    /// Open files by service, so restarts and both streams share one writer; closed with the last capture.
    files: Mutex<HashMap<String, Weak<Mutex<ServiceFile>>>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl LogHub {
    /// Spawns the SQLite batch writer and the retention task (prunes database lines older than
    /// `retention_days`, 0 keeping them forever, and the audit, jobs and events tables per `history`;
    /// at start and every `history.interval_s`). Needs a tokio runtime.
    pub fn start(
        store: Store,
        logs_dir: PathBuf,
        settings: LogSettings,
        history: RetentionSettings,
    ) -> LogHub {
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let floor = Arc::new(DiskFloor::new(logs_dir.clone(), settings.min_free_mb));
        let (queue, writer) = db::start_writer(store.clone(), live.clone(), floor.clone());
        let (stop, stopped) = watch::channel(false);
        let retention = tokio::spawn(retention::run(
            store,
            settings.retention_days,
            history,
            stopped,
        ));
        LogHub {
            inner: Arc::new(Inner {
                floor,
                logs_dir,
                settings,
                queue,
                live,
                inflight: Arc::default(),
                files: Mutex::default(),
                stop,
                tasks: Mutex::new(vec![writer, retention]),
            }),
        }
    }

    /// Starts draining both pipes of one process (read ends, as `std::process` creates them).
    pub fn capture(&self, service: &str, stdout: OwnedFd, stderr: OwnedFd) -> Capture {
        let file = self.inner.file_for(service);
        let service: Arc<str> = service.into();
        let reader = |stream| PipeReader {
            service: service.clone(),
            stream,
            file: file.clone(),
            queue: self.inner.queue.clone(),
            inflight: self.inner.inflight.clone(),
            floor: self.inner.floor.clone(),
            max_line_bytes: self.inner.settings.max_line_bytes,
        };
        Capture::new(vec![
            reader(Stream::Stdout).spawn(stdout),
            reader(Stream::Stderr).spawn(stderr),
        ])
    }

    /// Live lines after they are stored (so they carry ids).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.inner.live.subscribe()
    }

    /// Resolves when every line read so far is flushed to its file and committed to SQLite.
    pub async fn flush(&self) {
        self.inner.inflight.wait_for_earlier().await;
        for file in self.inner.open_files() {
            ServiceFile::lock(&file).flush();
        }
        self.inner.queue.flush().await;
    }

    /// `flush`, then stops the background tasks (daemon shutdown). Lines captured afterwards reach
    /// the log files only.
    pub async fn shutdown(&self) {
        self.flush().await;
        let _ = self.inner.stop.send(true);
        self.inner.queue.stop();
        let tasks =
            std::mem::take(&mut *self.inner.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a log pipeline task failed");
            }
        }
    }
}

impl Inner {
    fn files(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<Mutex<ServiceFile>>>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn file_for(&self, service: &str) -> SharedFile {
        let mut files = self.files();
        files.retain(|_, f| f.strong_count() > 0);
        if let Some(file) = files.get(service).and_then(Weak::upgrade) {
            return file;
        }
        let file = ServiceFile::new(&self.logs_dir, service, &self.settings);
        files.insert(service.to_string(), Arc::downgrade(&file));
        file
    }

    fn open_files(&self) -> Vec<SharedFile> {
        self.files().values().filter_map(Weak::upgrade).collect()
    }
}
