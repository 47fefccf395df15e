//! The database side of the pipeline: the batch a reader builds from one read chunk, the bounded queue
//! to the single writer task, and that task, which commits everything queued in one transaction (one
//! `log_chunks` row per batch, not one per line) and then broadcasts the stored lines. Never drops a line for lack of room in the queue: a full queue makes
//! readers wait. Below the disk's free-space floor (`floor.rs`) queued lines are dropped, not stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, oneshot};

use super::floor::DiskFloor;
use crate::store::{NewLogChunk, Store};
use crate::wire::{LogLine, Stream};

/// Queue budget in bytes of line text plus a per-line overhead: enough to absorb a burst of a few
/// hundred thousand short lines while SQLite catches up, small enough to bound the daemon's memory.
const QUEUE_BUDGET: usize = 48 * 1024 * 1024;
const LINE_OVERHEAD: usize = 16;
/// Upper bound on lines per transaction, so other writers (events) get the lock between commits.
const MAX_LINES_PER_TX: usize = 50_000;
const INSERT_ATTEMPTS: u32 = 5;

/// The lines of one read chunk of one stream, stored compactly: the form the database keeps them in
/// (one text buffer with a `\n` after each line, and the positions of partial pieces).
pub(super) struct Batch {
    service: Arc<str>,
    stream: Stream,
    time: String,
    text: Vec<u8>,
    lines: u32,
    partials: Vec<u32>,
}

impl Batch {
    /// `capacity`: bytes of text expected (the chunk size), to avoid regrowing the buffer.
    pub(super) fn new(service: Arc<str>, stream: Stream, time: String, capacity: usize) -> Batch {
        Batch {
            service,
            stream,
            time,
            text: Vec::with_capacity(capacity),
            lines: 0,
            partials: Vec::new(),
        }
    }

    /// `line` never holds a `\n` (the splitter cut there).
    pub(super) fn push(&mut self, line: &[u8], partial: bool) {
        if partial {
            self.partials.push(self.lines);
        }
        self.text.extend_from_slice(line);
        self.text.push(b'\n');
        self.lines += 1;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lines == 0
    }

    fn len(&self) -> usize {
        self.lines as usize
    }

    fn weight(&self) -> u32 {
        let w = self.text.len() + LINE_OVERHEAD * self.len();
        w.clamp(1, QUEUE_BUDGET) as u32
    }

    /// The stored form. Invalid UTF-8 becomes U+FFFD here, once per chunk; that never makes a `\n`.
    fn into_chunk(self) -> NewLogChunk {
        let text = String::from_utf8(self.text)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        NewLogChunk {
            service: self.service.to_string(),
            stream: self.stream,
            time: self.time,
            text,
            lines: self.lines,
            partials: self.partials,
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
    let mut chunks: Vec<NewLogChunk> = Vec::new();
    let mut permits: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut waiters = Vec::new();
    let mut stop = false;
    while !stop {
        let Some(first) = rx.recv().await else { break };
        let mut next = Some(first);
        let mut lines = 0;
        while let Some(msg) = next.take() {
            match msg {
                Msg::Lines(batch, permit) => {
                    lines += batch.len();
                    chunks.push(batch.into_chunk());
                    permits.push(permit);
                }
                Msg::Flush(w) => waiters.push(w),
                Msg::Stop => stop = true,
            }
            if !stop && lines < MAX_LINES_PER_TX {
                next = rx.try_recv().ok();
            }
        }
        commit(&store, &chunks, &live, &floor).await;
        chunks.clear();
        permits.clear(); // releases the queue budget
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
    // Readers still waiting for room must not wait forever.
    budget.close();
}

async fn commit(
    store: &Store,
    chunks: &[NewLogChunk],
    live: &broadcast::Sender<Arc<LogLine>>,
    floor: &DiskFloor,
) {
    if chunks.is_empty() {
        return;
    }
    let lines: u64 = chunks.iter().map(|c| u64::from(c.lines)).sum();
    // A stored chunk costs about its text once in the table and once in the WAL.
    let bytes = chunks.iter().map(|c| 2 * c.text.len()).sum();
    let mut attempt = 1;
    let firsts = loop {
        // Checked before every attempt: lines queued before the floor was reached, or retried while
        // someone frees space, must not take the space kept for state.
        if floor.below(bytes) {
            floor.count_dropped(lines);
            return;
        }
        match store.insert_log_chunks(chunks).await {
            Ok(firsts) => break firsts,
            Err(e) if attempt < INSERT_ATTEMPTS => {
                tracing::warn!(error = %e, lines, attempt, "storing log lines failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, lines,
                    "storing log lines failed; they are only in the log files");
                return;
            }
        }
    };
    if live.receiver_count() > 0 {
        for (chunk, first) in chunks.iter().zip(firsts) {
            for (i, text) in chunk.text.split_terminator('\n').enumerate() {
                let _ = live.send(Arc::new(LogLine {
                    id: first + i as i64,
                    service: chunk.service.clone(),
                    stream: chunk.stream,
                    time: chunk.time.clone(),
                    line: text.to_string(),
                    partial: chunk.partials.binary_search(&(i as u32)).is_ok(),
                }));
            }
        }
    }
}
