//! The database side of the pipeline: the batch a reader builds from one read chunk, the bounded queue
//! to the single writer task, and that task, which commits everything queued in one transaction and then
//! broadcasts the stored rows. Never drops a line for lack of room in the queue: a full queue makes
//! readers wait. Below the disk's free-space floor (`floor.rs`) queued lines are dropped, not stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot};

use super::floor::DiskFloor;
use crate::store::{NewLogLine, Store};
use crate::wire::{LogLine, Stream};

/// Queue budget in bytes of line text plus a per-line overhead: enough to absorb a burst of a few
/// hundred thousand short lines while SQLite catches up, small enough to bound the daemon's memory.
const QUEUE_BUDGET: usize = 48 * 1024 * 1024;
const LINE_OVERHEAD: usize = 16;
/// Upper bound on lines per transaction, so other writers (events) get the lock between commits.
const MAX_LINES_PER_TX: usize = 50_000;
const INSERT_ATTEMPTS: u32 = 5;

/// The lines of one read chunk of one stream, stored compactly: one text buffer, one entry per line.
pub(super) struct Batch {
    service: Arc<str>,
    stream: Stream,
    time: String,
    text: Vec<u8>,
    /// End offset in `text` and partial flag of each line.
    ends: Vec<(usize, bool)>,
}

impl Batch {
    /// `capacity`: bytes of text expected (the chunk size), to avoid regrowing the buffer.
    pub(super) fn new(service: Arc<str>, stream: Stream, time: String, capacity: usize) -> Batch {
        Batch {
            service,
            stream,
            time,
            text: Vec::with_capacity(capacity),
            ends: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, line: &[u8], partial: bool) {
        self.text.extend_from_slice(line);
        self.ends.push((self.text.len(), partial));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn weight(&self) -> u32 {
        let w = self.text.len() + LINE_OVERHEAD * self.ends.len();
        w.clamp(1, QUEUE_BUDGET) as u32
    }

    fn append_rows(&self, rows: &mut Vec<NewLogLine>) {
        let mut start = 0;
        for &(end, partial) in &self.ends {
            rows.push(NewLogLine {
                service: self.service.to_string(),
                stream: self.stream,
                time: self.time.clone(),
                line: String::from_utf8_lossy(&self.text[start..end]).into_owned(),
                partial,
            });
            start = end;
        }
    }
}

enum Msg {
    Lines(Batch, OwnedSemaphorePermit),
    /// Answered once every message before it is committed.
    Flush(oneshot::Sender<()>),
    Stop,
}

/// The sending side, cloned into every reader.
#[derive(Clone)]
pub(super) struct Queue {
    tx: mpsc::UnboundedSender<Msg>,
    budget: Arc<Semaphore>,
}

impl Queue {
    /// Queues a batch, waiting while the queue is full. False if the writer has stopped.
    pub(super) async fn send(&self, batch: Batch) -> bool {
        let Ok(permit) = self.budget.clone().acquire_many_owned(batch.weight()).await else {
            return false;
        };
        self.tx.send(Msg::Lines(batch, permit)).is_ok()
    }

    /// Resolves once everything queued before is committed (or the writer is gone).
    pub(super) async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Asks the writer to exit after committing what is queued before this.
    pub(super) fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }
}

/// Creates the queue and spawns its writer task.
pub(super) fn start_writer(
    store: Store,
    live: broadcast::Sender<Arc<LogLine>>,
    floor: Arc<DiskFloor>,
) -> (Queue, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let budget = Arc::new(Semaphore::new(QUEUE_BUDGET));
    let task = tokio::spawn(run_writer(store, rx, live, budget.clone(), floor));
    (Queue { tx, budget }, task)
}

async fn run_writer(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    live: broadcast::Sender<Arc<LogLine>>,
    budget: Arc<Semaphore>,
    floor: Arc<DiskFloor>,
) {
    let mut batches: Vec<(Batch, OwnedSemaphorePermit)> = Vec::new();
    let mut waiters = Vec::new();
    let mut rows = Vec::new();
    let mut stop = false;
    while !stop {
        let Some(first) = rx.recv().await else { break };
        let mut next = Some(first);
        let mut lines = 0;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Lines(batch, permit) => {
                    lines += batch.len();
                    batches.push((batch, permit));
                }
                Msg::Flush(w) => waiters.push(w),
                Msg::Stop => stop = true,
            }
            if !stop && lines < MAX_LINES_PER_TX {
                next = rx.try_recv().ok();
            }
        }
        for (batch, _) in &batches {
            batch.append_rows(&mut rows);
        }
        commit(&store, &rows, &live, &floor).await;
        rows.clear();
        batches.clear(); // releases the queue budget
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
    // Readers still waiting for room must not wait forever.
    budget.close();
}

async fn commit(
    store: &Store,
    rows: &[NewLogLine],
    live: &broadcast::Sender<Arc<LogLine>>,
    floor: &DiskFloor,
) {
    if rows.is_empty() {
        return;
    }
    // A stored line costs about four times its text (row, index, WAL frame).
    let bytes = rows.iter().map(|r| 4 * r.line.len()).sum();
    let mut attempt = 1;
    let stored = loop {
        // Checked before every attempt: lines queued before the floor was reached, or retried while
        // someone frees space, must not take the space kept for state.
        if floor.below(bytes) {
            floor.count_dropped(rows.len() as u64);
            return;
        }
        match store.insert_logs(rows).await {
            Ok(stored) => break stored,
            Err(e) if attempt < INSERT_ATTEMPTS => {
                tracing::warn!(error = %e, lines = rows.len(), attempt, "storing log lines failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, lines = rows.len(),
                    "storing log lines failed; they are only in the log files");
                return;
            }
        }
    };
    if live.receiver_count() > 0 {
        for line in stored {
            let _ = live.send(Arc::new(line));
        }
    }
}
