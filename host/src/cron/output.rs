//! An execution's output: both pipes drained concurrently into the first and last 64 KiB of each
//! stream (what the store keeps) and, line by line in the service log format
//! (`<time> <stdout|stderr>[+] <text>`), into the execution's own log file, which keeps everything.
//! Knows nothing of processes beyond the pipe ends it is handed; it is the sink (`process::Output`)
//! of an execution's `process::Run`. The file is flushed after every read chunk, so
//! [`read_so_far`] shows a running execution's output from it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::task::JoinHandle;

use crate::logs::LineSplitter;
use crate::process::Output;
use crate::store::now_rfc3339;
use crate::wire::{CapturedOutput, Stream};

/// Bytes kept in the store from each end of a stream.
pub const KEEP: usize = 64 * 1024;
/// Longer lines are written to the file as pieces marked `+`, as in service logs.
const MAX_LINE: usize = 16 * 1024;
/// `read_so_far` reads at most this much from each end of a log file.
const SCAN: u64 = 1024 * 1024;

/// The first and last `KEEP` bytes of a stream and its total size.
#[derive(Debug, Default)]
pub struct HeadTail {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    bytes: u64,
}

impl HeadTail {
    pub fn push(&mut self, mut data: &[u8]) {
        self.bytes += data.len() as u64;
        if self.head.len() < KEEP {
            let n = (KEEP - self.head.len()).min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        if data.len() >= KEEP {
            self.tail.clear();
            self.tail.extend(&data[data.len() - KEEP..]);
        } else {
            self.tail.extend(data);
            let over = self.tail.len().saturating_sub(KEEP);
            self.tail.drain(..over);
        }
    }

    /// Like `finish`, for output of which a part is unknown (not read): marked truncated.
    fn finish_with_gap(&self) -> CapturedOutput {
        let (a, b) = self.tail.as_slices();
        let tail: Vec<u8> = a.iter().chain(b).copied().collect();
        CapturedOutput {
            text: String::from_utf8_lossy(&self.head).into_owned(),
            tail: String::from_utf8_lossy(&tail).into_owned(),
            bytes: self.bytes,
            truncated: true,
        }
    }

    pub fn finish(&self) -> CapturedOutput {
        let (a, b) = self.tail.as_slices();
        if self.bytes <= (2 * KEEP) as u64 {
            let mut all = self.head.clone();
            all.extend_from_slice(a);
            all.extend_from_slice(b);
            CapturedOutput {
                text: String::from_utf8_lossy(&all).into_owned(),
                tail: String::new(),
                bytes: self.bytes,
                truncated: false,
            }
        } else {
            let tail: Vec<u8> = a.iter().chain(b).copied().collect();
            CapturedOutput {
                text: String::from_utf8_lossy(&self.head).into_owned(),
                tail: String::from_utf8_lossy(&tail).into_owned(),
                bytes: self.bytes,
                truncated: true,
            }
        }
    }
}

/// The execution's log file; write errors are logged once and otherwise ignored.
struct LogFile {
    out: Option<BufWriter<File>>,
}

impl LogFile {
    fn open(path: Option<&Path>) -> LogFile {
        let out = path.and_then(|p| {
            let opened = p
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| File::create(p));
            match opened {
                Ok(f) => Some(BufWriter::with_capacity(64 * 1024, f)),
                Err(e) => {
                    tracing::error!(path = %p.display(), error = %e, "cannot create the execution log file");
                    None
                }
            }
        });
        LogFile { out }
    }

    fn write(&mut self, prefix: &[u8], text: &[u8], partial: bool) {
        let sep: &[u8] = if partial { b"+ " } else { b" " };
        if let Some(out) = &mut self.out {
            let result = [prefix, sep, text, b"\n"]
                .iter()
                .try_for_each(|part| out.write_all(part));
            if let Err(e) = result {
                tracing::error!(error = %e, "writing an execution log file failed; giving up on it");
                self.out = None;
            }
        }
    }

    fn flush(&mut self) {
        if let Some(out) = &mut self.out
            && let Err(e) = out.flush()
        {
            tracing::error!(error = %e, "flushing an execution log file failed; giving up on it");
            self.out = None;
        }
    }
}

struct StreamState {
    kept: HeadTail,
    splitter: LineSplitter,
    stream: Stream,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Feeds a chunk (`None`: end of stream) to the kept bytes and the file.
fn take(state: &Mutex<StreamState>, file: &Mutex<LogFile>, chunk: Option<&[u8]>) {
    let mut s = lock(state);
    let s = &mut *s;
    if let Some(chunk) = chunk {
        s.kept.push(chunk);
    }
    let mut prefix = now_rfc3339().into_bytes();
    prefix.push(b' ');
    prefix.extend_from_slice(s.stream.as_str().as_bytes());
    let mut f = lock(file);
    let mut emit = |text: &[u8], partial: bool| f.write(&prefix, text, partial);
    match chunk {
        Some(chunk) => s.splitter.feed(chunk, &mut emit),
        None => s.splitter.finish(&mut emit),
    }
    // One write per read chunk (not per line), and the file shows what the execution printed so far.
    f.flush();
}

/// A running execution's output as far as its log file has it, in the stored form (the first and
/// last `KEEP` bytes of each stream). A file larger than twice `SCAN` is read at both ends only; then
/// both streams are `truncated` and `bytes` counts what was read. A line still being written (no
/// newline yet) is left out.
pub fn read_so_far(path: &Path) -> std::io::Result<(CapturedOutput, CapturedOutput)> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut kept = [HeadTail::default(), HeadTail::default()];
    let mut read_part = |file: &mut File, from: u64, n: u64, skip_first: bool| {
        let mut buf = Vec::with_capacity(n as usize);
        file.seek(SeekFrom::Start(from))?;
        file.take(n).read_to_end(&mut buf)?;
        // Only whole records: the first may be cut by the seek, the last by the writer.
        let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut records = &buf[..end];
        if skip_first {
            let start = records
                .iter()
                .position(|&b| b == b'\n')
                .map_or(end, |i| i + 1);
            records = &records[start..];
        }
        for record in records.split(|&b| b == b'\n') {
            if let Some((stream, text, partial)) = parse_record(record) {
                let h = &mut kept[usize::from(stream == Stream::Stderr)];
                h.push(text);
                if !partial {
                    h.push(b"\n");
                }
            }
        }
        std::io::Result::Ok(())
    };
    let gap = len > 2 * SCAN;
    if gap {
        read_part(&mut file, 0, SCAN, false)?;
        read_part(&mut file, len - SCAN, SCAN, true)?;
    } else {
        read_part(&mut file, 0, len, false)?;
    }
    let [out, err] = kept.map(|h| if gap { h.finish_with_gap() } else { h.finish() });
    Ok((out, err))
}

/// One record of the file, `<time> <stdout|stderr>[+] <text>`: its stream, text and partial mark.
fn parse_record(record: &[u8]) -> Option<(Stream, &[u8], bool)> {
    let mut parts = record.splitn(3, |&b| b == b' ');
    let _time = parts.next()?;
    let (stream, partial) = match parts.next()? {
        b"stdout" => (Stream::Stdout, false),
        b"stdout+" => (Stream::Stdout, true),
        b"stderr" => (Stream::Stderr, false),
        b"stderr+" => (Stream::Stderr, true),
        _ => return None,
    };
    Some((stream, parts.next().unwrap_or_default(), partial))
}

/// The capture of one execution's stdout and stderr.
pub struct OutputCapture {
    streams: [Arc<Mutex<StreamState>>; 2],
    file: Arc<Mutex<LogFile>>,
    tasks: Vec<JoinHandle<()>>,
}

impl OutputCapture {
    pub fn start(stdout: OwnedFd, stderr: OwnedFd, log_file: Option<&Path>) -> OutputCapture {
        let file = Arc::new(Mutex::new(LogFile::open(log_file)));
        let state = |stream| {
            Arc::new(Mutex::new(StreamState {
                kept: HeadTail::default(),
                splitter: LineSplitter::new(MAX_LINE),
                stream,
            }))
        };
        let streams = [state(Stream::Stdout), state(Stream::Stderr)];
        let tasks = [stdout, stderr]
            .into_iter()
            .zip(&streams)
            .map(|(fd, state)| tokio::spawn(drain(fd, state.clone(), file.clone())))
            .collect();
        OutputCapture {
            streams,
            file,
            tasks,
        }
    }
}

impl Output for OutputCapture {
    /// What was kept of stdout and stderr; the file is flushed by then.
    type Kept = (CapturedOutput, CapturedOutput);

    async fn finish(self, within: Duration) -> (CapturedOutput, CapturedOutput) {
        let deadline = tokio::time::Instant::now() + within;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
        for state in &self.streams {
            take(state, &self.file, None);
        }
        lock(&self.file).flush();
        let [out, err] = &self.streams;
        let finished = |s: &Arc<Mutex<StreamState>>| lock(s).kept.finish();
        (finished(out), finished(err))
    }
}

async fn drain(fd: OwnedFd, state: Arc<Mutex<StreamState>>, file: Arc<Mutex<LogFile>>) {
    let mut pipe = match pipe::Receiver::from_owned_fd(fd) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "cannot read an execution's output");
            return;
        }
    };
    let mut buf = vec![0u8; KEEP];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) => return,
            Ok(n) => take(&state, &file, Some(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                tracing::error!(error = %e, "reading an execution's output failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut h = HeadTail::default();
        h.push(b"hello\n");
        h.push(&vec![b'x'; KEEP]);
        h.push(b"end");
        let out = h.finish();
        assert!(!out.truncated);
        assert_eq!(out.bytes, (6 + KEEP + 3) as u64);
        assert!(out.text.starts_with("hello\nxxx") && out.text.ends_with("xend"));
        assert!(out.tail.is_empty());
    }

    #[test]
    fn large_output_keeps_both_ends() {
        let mut h = HeadTail::default();
        h.push(b"first");
        for _ in 0..10 {
            h.push(&vec![b'm'; 50_000]);
        }
        h.push(b"last");
        let out = h.finish();
        assert!(out.truncated);
        assert_eq!(out.bytes, 5 + 500_000 + 4);
        assert_eq!(out.text.len(), KEEP);
        assert_eq!(out.tail.len(), KEEP);
        assert!(out.text.starts_with("firstmmm"));
        assert!(out.tail.ends_with("mmmlast"));
        // One push larger than KEEP replaces the whole tail.
        let mut h = HeadTail::default();
        h.push(&vec![b'a'; KEEP]);
        h.push(&vec![b'b'; 3 * KEEP]);
        let out = h.finish();
        assert!(out.text.bytes().all(|b| b == b'a') && out.tail.bytes().all(|b| b == b'b'));
    }

    #[test]
    fn read_so_far_splits_streams_and_skips_an_unfinished_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1.log");
        let t = "2026-01-01T00:00:00.000000Z";
        std::fs::write(
            &path,
            format!(
                "{t} stdout one\n{t} stderr oops\n{t} stdout+ tw\n{t} stdout o\n{t} stdout hal"
            ),
        )
        .unwrap();
        let (out, err) = read_so_far(&path).unwrap();
        assert_eq!(out.text, "one\ntwo\n");
        assert_eq!(out.bytes, 8);
        assert!(!out.truncated);
        assert_eq!(err.text, "oops\n");

        // Past twice `SCAN`: both ends are read, the rest is a gap.
        let mut big = format!("{t} stdout first\n");
        let filler = format!("{t} stdout {}\n", "m".repeat(100));
        while big.len() < 3 * SCAN as usize {
            big.push_str(&filler);
        }
        big.push_str(&format!("{t} stdout last\n"));
        std::fs::write(&path, big).unwrap();
        let (out, err) = read_so_far(&path).unwrap();
        assert!(out.truncated && err.truncated);
        assert!(out.text.starts_with("first\nmmm") && out.tail.ends_with("mmm\nlast\n"));
        assert_eq!((out.text.len(), out.tail.len()), (KEEP, KEEP));
    }
}
