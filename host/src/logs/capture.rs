//! Draining a child's output pipes: one task per pipe reads as long as data is ready, splits each read
//! into lines, appends their records to the service's file in one write per read and queues them for
//! the database as one batch per read. It flushes the file whenever the pipe runs dry, before waiting
//! again, so `tail -f` sees lines at once without a syscall per line. Below the disk's free-space floor
//! (`floor.rs`) lines are counted and dropped instead.
//!
//! The read buffer exists only while data flows: it is allocated when the pipe becomes readable and
//! freed when it runs dry, so 100 quiet services hold no buffers. A pipe that fills a whole read is
//! busy: its capacity grows to `BUSY_PIPE_BYTES` (`process::grow_pipe`) and reads to `BUSY_READ`, so a
//! burst fits in the pipe and the child does not wait for us.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::unix::pipe;
use tokio::task::JoinHandle;

use super::db::{Batch, Queue};
use super::floor::DiskFloor;
use super::inflight::Inflight;
use super::service_file::{ServiceFile, SharedFile, push_record, record_prefix};
use super::split::LineSplitter;
use crate::process::{Output, grow_pipe};
use crate::store::now_rfc3339;
use crate::wire::Stream;

/// First read size: the default pipe capacity.
const READ_CHUNK: usize = 64 * 1024;
/// Read size once the pipe has filled a whole read.
const BUSY_READ: usize = 256 * 1024;
/// Pipe capacity asked for once the pipe has filled a whole read (the default `pipe-max-size`). The
/// kernel may refuse (a user's pipe budget); the capture then goes on with the pipe it has.
const BUSY_PIPE_BYTES: usize = 1024 * 1024;

/// The capture of one process's output; see [`Capture::finished`].
#[must_use = "dropping a Capture detaches it; await `finished` to know all output is stored"]
pub struct Capture {
    tasks: Vec<JoinHandle<()>>,
}

impl Capture {
    pub(super) fn new(tasks: Vec<JoinHandle<()>>) -> Capture {
        Capture { tasks }
    }

    /// Resolves when both pipes reached EOF and all their lines are written to the file and queued for
    /// the database.
    pub async fn finished(self) {
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a log capture task failed");
            }
        }
    }
}

/// A service's run hands its output here (`process::Run`). Waiting is bounded: a process that escaped
/// the tree may hold a pipe open, and its lines keep being captured after the run is over.
impl Output for Capture {
    type Kept = ();

    async fn finish(self, within: Duration) {
        let _ = tokio::time::timeout(within, self.finished()).await;
    }
}

/// Everything one pipe's task needs.
pub(super) struct PipeReader {
    pub(super) service: Arc<str>,
    pub(super) stream: Stream,
    pub(super) file: SharedFile,
    pub(super) queue: Queue,
    pub(super) inflight: Arc<Inflight>,
    pub(super) floor: Arc<DiskFloor>,
    pub(super) max_line_bytes: usize,
}

impl PipeReader {
    pub(super) fn spawn(self, fd: OwnedFd) -> JoinHandle<()> {
        tokio::spawn(self.run(fd))
    }

    async fn run(self, fd: OwnedFd) {
        let mut state = ReadState {
            splitter: LineSplitter::new(self.max_line_bytes),
            prefix: Vec::with_capacity(64),
            records: Vec::new(),
            ends: Vec::new(),
            queue_gone: false,
        };
        // `from_owned_fd` checks that this is a pipe and switches it to non-blocking mode.
        match pipe::Receiver::from_owned_fd(fd) {
            Ok(pipe) => self.drain(&pipe, &mut state).await,
            Err(e) => {
                tracing::error!(service = &*self.service, stream = self.stream.as_str(), error = %e,
                "cannot read the output of this process")
            }
        }
        self.process(&mut state, None).await;
        ServiceFile::lock(&self.file).flush();
    }

    async fn drain(&self, pipe: &pipe::Receiver, state: &mut ReadState) {
        let mut buf: Vec<u8> = Vec::new();
        // The size of the next buffer: `BUSY_READ` once the pipe has filled a read.
        let mut size = READ_CHUNK;
        let mut unflushed = false;
        loop {
            if buf.is_empty() {
                if let Err(e) = pipe.readable().await {
                    self.read_failed(e);
                    return;
                }
                buf = vec![0u8; size];
            }
            match pipe.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if n == buf.len() && buf.len() < BUSY_READ {
                        if let Err(e) = grow_pipe(pipe.as_fd(), BUSY_PIPE_BYTES) {
                            tracing::debug!(service = &*self.service, error = %e,
                                "cannot grow the output pipe; reading it as it is");
                        }
                        size = BUSY_READ;
                        buf.resize(size, 0);
                    }
                    self.process(state, Some(&buf[..n])).await;
                    unflushed = true;
                    // A pipe that is always ready must not keep this worker thread to itself.
                    tokio::task::consume_budget().await;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if unflushed {
                        ServiceFile::lock(&self.file).flush();
                        unflushed = false;
                    }
                    // Dry: give the buffer back until the next data (waited for above).
                    buf = Vec::new();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.read_failed(e);
                    return;
                }
            }
        }
    }

    fn read_failed(&self, e: io::Error) {
        tracing::error!(service = &*self.service, stream = self.stream.as_str(), error = %e,
            "reading process output failed; stopping this capture");
    }

    /// Splits one chunk (`None`: end of stream), writes its lines to the file and queues them.
    async fn process(&self, state: &mut ReadState, chunk: Option<&[u8]>) {
        // From here until the batch is queued, `LogHub::flush` counts these lines as read.
        let _ticket = self.inflight.enter();
        let time = now_rfc3339();
        record_prefix(&mut state.prefix, &time, self.stream);
        if self.floor.below(chunk.map_or(0, <[u8]>::len)) {
            // Keep the splitter's state (a line may span chunks) but store nothing.
            let mut lines = 0u64;
            let mut count = |_: &[u8], _: bool| lines += 1;
            match chunk {
                Some(chunk) => state.splitter.feed(chunk, &mut count),
                None => state.splitter.finish(&mut count),
            }
            self.floor.count_dropped(lines);
            return;
        }
        let capacity = chunk.map_or(0, <[u8]>::len);
        let mut batch = Batch::new(self.service.clone(), self.stream, time, capacity);
        // The chunk's records, built in one buffer and written with one call, so the file sees one
        // write per read rather than one per line.
        state.records.clear();
        state.ends.clear();
        {
            let (prefix, records, ends) = (&state.prefix, &mut state.records, &mut state.ends);
            let mut emit = |text: &[u8], partial: bool| {
                push_record(records, prefix, text, partial);
                ends.push(records.len());
                batch.push(text, partial);
            };
            match chunk {
                Some(chunk) => state.splitter.feed(chunk, &mut emit),
                None => state.splitter.finish(&mut emit),
            }
        }
        if !state.ends.is_empty() {
            ServiceFile::lock(&self.file).write_records(&state.records, &state.ends);
        }
        if !batch.is_empty() && !self.queue.send(batch).await && !state.queue_gone {
            state.queue_gone = true;
            tracing::warn!(
                service = &*self.service,
                stream = self.stream.as_str(),
                "log hub is shut down; further lines go to the log file only"
            );
        }
    }
}

struct ReadState {
    splitter: LineSplitter,
    prefix: Vec<u8>,
    /// One read's file records, and the end offset of each (rotation never splits a record).
    records: Vec<u8>,
    ends: Vec<usize>,
    queue_gone: bool,
}
